"""The `mlphys` command group, with subcommands imported only when they run.

`mlphys --help`, `mlphys list` and `mlphys info NAME` never import TensorFlow: each
subcommand lives in its own module, loaded on demand (Click's "lazily loading
subcommands" pattern), and those modules import the engine inside their functions.
The group hooks the first import of TensorFlow (`mlphys.quiet`) so that its start-up log
stays off the terminal; `mlphys --verbose ...` shows it.
"""

import os
import sys

import click

from mlphys.errors import Interrupted, UserError

COMMANDS = {  # name -> (module, function); later features add their command here
    "list": ("mlphys.cli.listing", "list_command"),
    "info": ("mlphys.cli.info", "info"),
    "train": ("mlphys.cli.train", "train"),
    "evaluate": ("mlphys.cli.evaluate", "evaluate"),
    "augment": ("mlphys.cli.augment", "augment"),
    "saliency": ("mlphys.cli.saliency", "saliency"),
    "tune": ("mlphys.cli.tune", "tune"),
    "reproduce": ("mlphys.cli.reproduce", "reproduce"),
    "sample": ("mlphys.cli.sample", "sample"),
    "embed": ("mlphys.cli.embed", "embed"),
    "predict": ("mlphys.cli.predict", "predict"),
    "export": ("mlphys.cli.export", "export"),
}


TRAINING_COMMANDS = ("train", "tune", "reproduce")  # say which GPUs they trained on


class UserMistake(click.ClickException):
    """A `UserError` shown as one line, 'Error: ...', with exit status 2."""

    exit_code = 2


class LazyGroup(click.Group):
    def list_commands(self, ctx):
        return sorted(COMMANDS)

    def get_command(self, ctx, name):
        if name not in COMMANDS:
            return None
        from importlib import import_module

        module, function = COMMANDS[name]
        return getattr(import_module(module), function)

    def resolve_command(self, ctx, args):
        try:
            return super().resolve_command(ctx, args)
        except click.UsageError as error:
            import difflib

            close = difflib.get_close_matches(args[0], COMMANDS, n=2) if args else []
            if close and "No such command" in str(error):
                error.message += f" Did you mean {' or '.join(close)}?"
            raise

    def invoke(self, ctx):
        import mlphys.quiet as quiet

        try:
            result = super().invoke(ctx)
        except UserError as error:
            raise UserMistake(str(error)) from None
        except Interrupted as stop:
            click.echo(f"\n{stop}", err=True)
            ctx.exit(130)
        # after the work, so that a user error is the only line even on a GPU machine
        if ctx.invoked_subcommand in TRAINING_COMMANDS and quiet.devices_used():
            click.echo(f"mlphys: trained on {quiet.devices_used()}", err=True)
        return result

    def main(self, args=None, prog_name=None, complete_var=None, standalone_mode=True,
             **extra):
        """Click's main, but a usage mistake is one line too (Click prints three)."""
        if not standalone_mode:
            return super().main(args, prog_name, complete_var, standalone_mode, **extra)
        try:
            code = super().main(args, prog_name, complete_var, False, **extra)
        except click.UsageError as error:
            hint = f" (see '{error.ctx.command_path} --help')" if error.ctx else ""
            click.echo(f"Error: {error.format_message()}{hint}", err=True)
            sys.exit(2)
        except click.ClickException as error:
            error.show()
            sys.exit(error.exit_code)
        except click.Abort:
            click.echo("Aborted!", err=True)
            sys.exit(1)
        sys.exit(code if isinstance(code, int) else 0)


@click.group(cls=LazyGroup, context_settings={"help_option_names": ["-h", "--help"],
                                              "max_content_width": 100})
@click.version_option(package_name="mlphys", prog_name="mlphys")
@click.option("--verbose", is_flag=True, help="Show TensorFlow's start-up log and every "
              "warning (also MLPHYS_VERBOSE=1).")
@click.pass_context
def cli(ctx, verbose):
    """mlphys: the canonical examples of machine learning for physicists, as a Keras model
    zoo you train, tune, explain and evaluate from the shell.

    \b
    Examples:
      mlphys list models
      mlphys info cnn
      mlphys train cnn --dataset digits --epochs 5 --seed 1
      mlphys evaluate saved_models/cnn-digits-20261121-101500

    Shell completion (bash): eval "$(_MLPHYS_COMPLETE=bash_source mlphys)"
    """
    import mlphys.quiet as quiet

    if verbose:  # the environment carries it into `tune --isolate`'s trial processes
        os.environ["MLPHYS_VERBOSE"] = "1"
    # a hook, not an import: a command that fails before it needs TensorFlow stays fast
    quiet.install()


def main():
    cli(prog_name="mlphys")
