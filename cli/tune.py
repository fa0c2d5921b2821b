"""`mlphys tune MODEL --dataset D --tuner grid|random|bayesian|hyperband`."""

import click

from mlphys.cli import options, output
from mlphys.search_config import TUNERS


@click.command()
@click.argument("model", required=False, shell_complete=options.complete_models)
@options.training_options
@click.option("--tuner", "-t", default="random", show_default=True, metavar="NAME",
              help=f"Search strategy: {', '.join(TUNERS)}.")
@click.option("--space", "-s", "spaces", multiple=True, metavar="NAME=SPEC",
              help="Search NAME over a list a,b,c or a range int:LO:HI[:STEP], "
              "float:LO:HI[:STEP], log:LO:HI[:FACTOR] (repeatable).")
@click.option("--max-trials", type=int, help="Number of configurations to try "
              "[default: 10; grid: all of its points].")
@click.option("--max-epochs", type=int, help="Hyperband: epochs of the longest trial "
              "[default: the model's epochs].")
@click.option("--objective", metavar="METRIC", help="Logged metric to optimise, e.g. "
              "val_accuracy [default: val_loss].")
@click.option("--direction", type=click.Choice(["min", "max"]),
              help="Minimise or maximise the objective [default: from its name].")
@click.option("--repeats", "--executions", "repeats", type=int, default=1,
              show_default=True, help="Train each configuration with this many seeds; the "
              "table shows their mean and standard deviation.")
@click.option("--isolate", is_flag=True, help="Run each trial in its own process (memory "
              "cannot grow across trials; costs a TensorFlow import per trial).")
@click.option("--resume", "resume_dir", type=click.Path(file_okay=False),
              help="Continue the interrupted search in this tuning folder.")
@click.option("--chief", metavar="HOST:PORT", help="Serve a distributed search's trials "
              "(KerasTuner's chief oracle) on this address.")
@click.option("--worker", metavar="HOST:PORT", help="Run trials for the chief at this "
              "address.")
@click.option("--worker-id", type=int, metavar="N", help="Number of this worker (0, 1, ...).")
@options.out
@click.option("--quiet", "-q", is_flag=True, help="No line per trial.")
@options.json_output
def tune(model, tuner, spaces, max_trials, max_epochs, objective, direction, repeats,
         isolate, resume_dir, chief, worker, worker_id, out, quiet, as_json, **values):
    """Search the hyperparameters of MODEL: a table of all trials (trials.csv, trials.png),
    TensorBoard HParams logs and the best configuration as a run folder.

    The model's declared hyperparameters are the space; those it does not search by
    default stay fixed unless --space names them. Every trial trains exactly what
    'mlphys train' trains with the same options (augmentation, streams, uncertainties,
    steps per epoch, replicas, schedules, early stopping).

    \b
      mlphys tune mlp -d digits --tuner grid --epochs 3 --space hidden_layers=1,2 \\
          --space units=10,20,30 --space learning_rate=1e-3,1e-2,1e-1 \\
          --space activation=relu,tanh
      mlphys tune mlp -d digits --tuner random --max-trials 36 --epochs 3 \\
          --space learning_rate=log:1e-4:1e-1 --space units=int:8:256:8
      mlphys tune mlp -d digits --tuner bayesian --objective val_accuracy --repeats 3
      mlphys tune cnn -d fashion_mnist --tuner hyperband --max-epochs 20
      mlphys tune cnn -d digits --augment mlmm --space filters=16,32 --epochs 5
      mlphys tune --resume saved_models/tune-mlp-digits-20261121-101500
    """
    from mlphys.errors import UserError
    from mlphys.hparams import parse_assignments

    if resume_dir:
        given = [flag for flag, value in (("MODEL", model), ("--dataset", values["dataset"]),
                                          ("--space", spaces), ("--param", values["params"]),
                                          ("--max-trials", max_trials),
                                          ("--epochs", values["epochs"]),
                                          ("--chief", chief), ("--worker", worker))
                 if value]
        if given:
            raise UserError(f"--resume continues a search with its own settings: drop "
                            f"{', '.join(given)}")
        from mlphys.tuning import resume

        result = resume(resume_dir, quiet=quiet or as_json, isolate=isolate or None)
    else:
        if not model:
            raise UserError("give the MODEL to tune (see 'mlphys list models'), or "
                            "--resume DIR")
        from mlphys.tuning import tune as run_search

        result = run_search(
            options.run_config(model, values), tuner=tuner,
            spaces=parse_assignments(spaces, "--space"), max_trials=max_trials,
            max_epochs=max_epochs, objective=objective, direction=direction,
            repeats=repeats, isolate=isolate, out=out, chief=chief, worker=worker,
            worker_id=worker_id, quiet=quiet or as_json)
    if "worker" in result:
        if as_json:
            output.as_json(result)
        else:
            click.echo(f"{result['worker']} ran trials {', '.join(result['trials']) or 'none'}"
                       f" of {result['tuning_dir']}")
        return
    _show(result, as_json)


def _show(result, as_json):
    import json

    from mlphys.tuning_report import fixed_values, printed_columns

    table = result.pop("table")
    from pathlib import Path

    from mlphys.search_config import SearchConfig

    settings = SearchConfig.from_json(json.loads(
        (Path(result["tuning_dir"]) / "tune.json").read_text()))
    if as_json:
        result["trials_table"] = json.loads(table.to_json(orient="records"))
        output.as_json(result)
        return
    if table.empty:
        click.echo("no trials were run")
        return
    fixed = fixed_values(table, settings)
    click.echo("")
    click.echo(table[printed_columns(table, settings)].to_string(
        index=False, na_rep="", float_format=lambda v: f"{v:.4g}"))
    if fixed:
        click.echo("fixed: " + ", ".join(f"{k}={v}" for k, v in fixed.items()))
    click.echo(f"\ntuning folder: {result['tuning_dir']}  ({result['completed']} of "
               f"{result['trials']} trials completed; trials.csv, trials.png, logs/)")
    if result["best_run"]:
        click.echo(f"best configuration (trial {result['best']['trial']}) as a run folder: "
                   f"{result['best_run']}")
