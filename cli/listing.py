"""`mlphys list models|datasets [PATTERN]`."""

import click

from mlphys.cli import options, output


@click.command("list")
@click.argument("what", type=click.Choice(["models", "datasets"]))
@click.argument("pattern", required=False)
@options.models_from
@options.json_output
@click.option("--markdown", "as_markdown", is_flag=True, help="Print a Markdown table.")
def list_command(what, pattern, models_from, as_json, as_markdown):
    """List registered models or datasets; PATTERN may use wildcards ('shape*', 'c?n').

    \b
      mlphys list models
      mlphys list datasets 'shape*'
    """
    if what == "models":
        from mlphys.registry import get_model, list_models, load_plugin

        load_plugin(models_from)
        headers = ["name", "task", "inputs", "dataset", "backends", "source", "summary"]
        rows = [(e.name, e.task, e.inputs, e.dataset, ", ".join(e.backends), e.source,
                 e.summary) for e in map(get_model, list_models(pattern))]
    else:
        from mlphys.datasets import get_dataset, list_datasets

        headers = ["name", "task", "kind", "shape", "source", "summary"]
        rows = [(e.name, e.task, e.kind, e.shape, e.source, e.summary)
                for e in map(get_dataset, list_datasets(pattern))]
    if as_json:
        output.as_json([dict(zip(headers, row)) for row in rows])
    elif as_markdown:
        output.markdown(rows, headers)
    elif rows:
        output.table([r[:-1] for r in rows], headers[:-1])
    else:
        click.echo(f"no {what} match '{pattern}'")
