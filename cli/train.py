"""`mlphys train MODEL --dataset D`."""

import click

from mlphys.cli import options, output


@click.command()
@click.argument("model", required=False, shell_complete=options.complete_models)
@options.training_options
@options.out
@click.option("--repeats", type=int, default=1, show_default=True,
              help="Train N times with seeds SEED, SEED+1, ... and report every test metric "
              "as mean +- standard deviation.")
@click.option("--resume", "resume_run", metavar="RUN", type=click.Path(),
              help="Continue the interrupted or killed run folder RUN from its last "
              "completed epoch (all settings come from RUN/config.json).")
@click.option("--quiet", "-q", is_flag=True, help="No progress bar.")
@options.json_output
def train(model, out, repeats, resume_run, quiet, as_json, **values):
    """Train MODEL and write a run folder (model, best checkpoint, config, history,
    metrics, plots, TensorBoard logs).

    \b
      mlphys train cnn --dataset digits --epochs 5 --seed 1
      mlphys train mlp -d fashion_mnist -p units=256 -p dropout=0.2 --batch-size 64
      mlphys train mlp -d table.csv --target energy
      mlphys train mynet -d digits --models-from my_models.py
      mlphys train pdf_fit --replicas 10
      mlphys train cnn -d digits --repeats 5 --seed 1
      mlphys train cnn -d digits --lr-schedule cosine
      mlphys train cnn -d digits --backend jax
      mlphys train cnn -d digits --backend jax --distribute data-parallel \\
          --coordinator node0:1234 --num-processes 2 --process-id 0
      mlphys train --resume saved_models/cnn-digits-20261121-101500

    Ctrl-C stops at the end of the current batch; --resume continues from the last
    completed epoch (also after the process was killed).
    """
    from mlphys.errors import UserError

    if resume_run:
        _resume(resume_run, model, values, quiet, as_json)
        return
    if not model:
        raise UserError("give the MODEL to train (see 'mlphys list models'), or --resume RUN")
    config = options.run_config(model, values).resolved()
    if repeats != 1 and config.distribute == "data-parallel":
        from mlphys.distribute import cluster_of

        if cluster_of(config).processes > 1:
            raise UserError("--repeats trains in one process: on several, give each seed "
                            "its own run (--seed)")
    if repeats != 1:
        from mlphys.repeats import train_repeated

        _report_repeats(train_repeated(config, repeats=repeats, out=out,
                                       quiet=quiet or as_json), as_json)
        return
    from mlphys.training import train_config

    _report(train_config(config, out=out, quiet=quiet or as_json), as_json)


def _resume(resume_run, model, values, quiet, as_json):
    from mlphys.errors import UserError
    from mlphys.training import resume, resume_point

    given = [name for name, value in [("MODEL", model), ("--dataset", values["dataset"]),
                                      ("--option", values["options"]),
                                      ("--param", values["params"]),
                                      ("--epochs", values["epochs"]),
                                      ("--seed", values["seed"])] if value]
    if given:
        raise UserError(f"--resume takes every setting from the run's config.json; "
                        f"leave out {', '.join(given)}")
    config, completed = resume_point(resume_run)
    if not as_json:
        click.echo(f"resuming {resume_run} after epoch {completed} of {config.epochs}")
    _report(resume(resume_run, quiet=quiet or as_json, data_dir=values["data_dir"],
                   coordinator=values["coordinator"], num_processes=values["num_processes"],
                   process_id=values["process_id"]), as_json)


def _report_repeats(result, as_json):
    if as_json:
        output.as_json(result)
        return
    from mlphys.spread import format_mean_std

    click.echo(f"\nrun folder: {result['run_dir']}  ({result['repeats']} seeds: "
               f"{', '.join(str(s) for s in result['seeds'])})")
    click.echo("test metrics over the seeds (mean +- standard deviation):")
    output.table([(k, format_mean_std(v, result["std"][k]))
                  for k, v in result["mean"].items()], ["metric", "value"])


def _report(run, as_json):
    if run is None:  # a data-parallel process other than process 0: it wrote nothing
        if as_json:
            output.as_json({"run_dir": None})
        else:
            click.echo("done: this process trained its share; process 0 wrote the run folder")
        return
    if as_json:
        output.as_json(run.summary())
        return
    state = run.config.state
    click.echo(f"\nrun folder: {run.path}  (seed {run.config.seed}, "
               f"{state.epochs_run} epochs)")
    if state.status != "finished":
        click.echo(f"warning: training {state.status}: lower the learning rate "
                   "(-p learning_rate=...) or check the data for NaN or huge values", err=True)
    click.echo("test metrics:")
    output.metrics_table(run.metrics)
