"""`mlphys train MODEL --dataset D`."""

import shlex
import sys

import click

from mlphys.cli import options, output


@click.command()
@click.argument("model", required=False, shell_complete=options.complete_models)
@options.dataset
@options.option
@options.param
@options.epochs
@options.batch_size
@options.seed
@options.out
@click.option("--val-split", type=float, default=0.1, show_default=True,
              help="Fraction of the training data held out for validation (when the "
              "dataset has no validation split).")
@click.option("--patience", type=click.IntRange(min=1),
              help="Stop after this many epochs without a better validation loss.")
@click.option("--target", metavar="COLUMN", help="Label column of a CSV file "
              "[default: the last].")
@options.data_dir
@options.models_from
@click.option("--augment", metavar="PRESET_OR_FILE", help="Augment the training images: "
              "mlmm, dihedral, periodic, or a .json/.yaml file of ImageDataGenerator "
              "arguments (see 'mlphys augment').")
@click.option("--augment-engine", type=click.Choice(["generator", "layers"]),
              default="generator", show_default=True,
              help="ImageDataGenerator.flow, or Keras preprocessing layers in tf.data.")
@click.option("--stream", is_flag=True, help="Read an image folder batch by batch from "
              "disk instead of loading it into memory (automatic above 2 GiB of pixels).")
@click.option("--precision", type=click.Choice(["float32", "mixed_float16", "mixed_bfloat16"]),
              default="float32", show_default=True,
              help="Keras dtype policy; mixed precision speeds up GPUs with tensor cores.")
@click.option("--distribute", type=click.Choice(["none", "mirrored", "multiworker"]),
              default="none", show_default=True,
              help="tf.distribute strategy: mirrored uses all local GPUs (--batch-size is per "
              "replica); multiworker is refused until Keras 3 supports it.")
@click.option("--replicas", type=int, default=1, show_default=True,
              help="Train an ensemble of N copies, each on its own Monte Carlo replica of "
              "the targets (fluctuated within the dataset's uncertainties); the model "
              "predicts their mean and the spread is the fit's uncertainty.")
@click.option("--repeats", type=int, default=1, show_default=True,
              help="Train N times with seeds SEED, SEED+1, ... and report every test metric "
              "as mean +- standard deviation.")
@click.option("--resume", "resume_run", metavar="RUN", type=click.Path(),
              help="Continue the interrupted or killed run folder RUN from its last "
              "completed epoch (all settings come from RUN/config.json).")
@click.option("--quiet", "-q", is_flag=True, help="No progress bar.")
@options.json_output
def train(model, dataset, options, params, epochs, batch_size, seed, out, val_split,
          patience, target, data_dir, models_from, augment, augment_engine, stream, precision,
          distribute, replicas, repeats, resume_run, quiet, as_json):
    """Train MODEL and write a run folder (model, best checkpoint, config, history,
    metrics, plots, TensorBoard logs).

    \b
      mlphys train cnn --dataset digits --epochs 5 --seed 1
      mlphys train mlp -d fashion_mnist -p units=256 -p dropout=0.2 --batch-size 64
      mlphys train mlp -d table.csv --target energy
      mlphys train mynet -d digits --models-from my_models.py
      mlphys train pdf_fit --replicas 10
      mlphys train cnn -d digits --repeats 5 --seed 1
      mlphys train --resume saved_models/cnn-digits-20261121-101500

    Ctrl-C stops at the end of the current batch; --resume continues from the last
    completed epoch (also after the process was killed).
    """
    from mlphys.errors import UserError
    from mlphys.hparams import parse_assignments

    if resume_run:
        given = [name for name, value in [("MODEL", model), ("--dataset", dataset),
                                          ("--option", options), ("--param", params),
                                          ("--epochs", epochs), ("--seed", seed)] if value]
        if given:
            raise UserError(f"--resume takes every setting from the run's config.json; "
                            f"leave out {', '.join(given)}")
        from mlphys.training import resume, resume_point

        config, completed = resume_point(resume_run)
        if not as_json:
            click.echo(f"resuming {resume_run} after epoch {completed} of "
                       f"{config['training']['epochs']}")
        _report(resume(resume_run, quiet=quiet or as_json, data_dir=data_dir), as_json)
        return
    if not model:
        raise UserError("give the MODEL to train (see 'mlphys list models'), or --resume RUN")

    dataset_options = parse_assignments(options, "--option")
    if target:
        dataset_options["target"] = target
    if stream:
        from pathlib import Path

        if not dataset or not Path(dataset).is_dir():
            raise UserError(f"--stream reads image folders from disk; '{dataset or model}' "
                            "is not one (registered datasets and .npz/.csv files are loaded "
                            "into memory)")
        dataset_options["stream"] = "true"
    from mlphys.training import train as run_training

    settings = dict(
        params=parse_assignments(params, "--param"),
        dataset_options=dataset_options, epochs=epochs, batch_size=batch_size,
        out=out, val_split=val_split, patience=patience, quiet=quiet or as_json,
        data_dir=data_dir, models_from=models_from, precision=precision, distribute=distribute,
        augment=augment, augment_engine=augment_engine, replicas=replicas,
        command=shlex.join(["mlphys", *sys.argv[1:]]))
    if repeats != 1:
        from mlphys.repeats import train_repeated

        _report_repeats(train_repeated(model, dataset, repeats=repeats, seed=seed, **settings),
                        as_json)
        return
    _report(run_training(model, dataset, seed=seed, **settings), as_json)


def _report_repeats(result, as_json):
    if as_json:
        output.as_json(result)
        return
    from mlphys.repeats import format_mean_std

    click.echo(f"\nrun folder: {result['run_dir']}  ({result['repeats']} seeds: "
               f"{', '.join(str(s) for s in result['seeds'])})")
    click.echo("test metrics over the seeds (mean +- standard deviation):")
    output.table([(k, format_mean_std(v, result["std"][k]))
                  for k, v in result["mean"].items()], ["metric", "value"])


def _report(result, as_json):
    if as_json:
        output.as_json(result)
        return
    click.echo(f"\nrun folder: {result['run_dir']}  (seed {result['seed']}, "
               f"{result['epochs_run']} epochs)")
    if result["status"] != "finished":
        click.echo(f"warning: training {result['status']}: lower the learning rate "
                   "(-p learning_rate=...) or check the data for NaN or huge values", err=True)
    click.echo("test metrics:")
    output.metrics_table(result["metrics"])
