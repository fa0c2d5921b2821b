"""Options shared by several commands, with one spelling everywhere."""

import click


def complete_models(ctx, param, incomplete):
    from mlphys.registry import list_models

    return [m for m in list_models() if m.startswith(incomplete)]


def _complete_datasets(ctx, param, incomplete):
    from mlphys.datasets import list_datasets

    return [d for d in list_datasets() if d.startswith(incomplete)]


model_argument = click.argument("model", shell_complete=complete_models)
dataset = click.option("--dataset", "-d", shell_complete=_complete_datasets,
                       help="Registered dataset name, or a data file (.npz, .csv, .parquet, "
                       ".feather, .root, .h5, .fits) or image folder.")
option = click.option("--option", "-o", "options", multiple=True, metavar="NAME=VALUE",
                      help="Dataset option, e.g. -o size=8 (repeatable).")
param = click.option("--param", "-p", "params", multiple=True, metavar="NAME=VALUE",
                     help="Fix a hyperparameter, e.g. -p units=256 (repeatable).")
epochs = click.option("--epochs", type=click.IntRange(min=1),
                      help="Training epochs [default: the model's].")
batch_size = click.option("--batch-size", type=click.IntRange(min=1),
                          help="Batch size [default: the model's].")
seed = click.option("--seed", type=int, help="Random seed [default: drawn and recorded].")
out = click.option("--out", type=click.Path(file_okay=False),
                   help="Folder for the results [default: saved_models/].")
json_output = click.option("--json", "as_json", is_flag=True,
                           help="Print machine-readable JSON.")
data_dir = click.option("--data-dir", type=click.Path(file_okay=False),
                        envvar="MLPHYS_DATA_DIR", show_envvar=True,
                        help="Where downloadable datasets are looked for first.")
models_from = click.option("--models-from", metavar="FILE_OR_MODULE",
                           help="Python file or module that registers more models.")


def _figure_formats(ctx, param, value):
    from mlphys.figures import parse_formats

    return None if value is None else parse_formats(value)


figure_format = click.option("--figure-format", "figure_formats", metavar="png|pdf|svg",
                             callback=_figure_formats,
                             help="File format(s) of the figures, several separated by "
                             "commas (e.g. png,pdf) [default: png].")


# --- the training options of `train` and `tune`: one flag per RunConfig field ----------

def _default_backend():
    from mlphys.backend import default_backend

    return default_backend()


def training_options(command):
    """Add the options every training command takes (`train`, `tune`), with one spelling
    and meaning; `run_config` turns their values into a `RunConfig`."""
    from mlphys.backend import BACKENDS
    from mlphys.normalization import NORMALIZE
    from mlphys.runconfig import AUGMENT_ENGINES, LR_SCHEDULES, PRECISIONS, STRATEGIES

    flags = [
        dataset, option, param, epochs, batch_size, seed,
        click.option("--val-split", type=float, default=0.1, show_default=True,
                     help="Fraction of the training data held out for validation (when "
                     "the dataset has no validation split)."),
        click.option("--patience", type=click.IntRange(min=1),
                     help="Stop after this many epochs without a better validation loss."),
        click.option("--target", metavar="COLUMN",
                     help="Label column of a table (CSV, Parquet, ROOT tree, HDF5 or "
                     "FITS table) [default: the last]."),
        click.option("--augment", metavar="PRESET_OR_FILE", help="Augment the training "
                     "images: mlmm, digits, dihedral, periodic, or a .json/.yaml file "
                     "of ImageDataGenerator arguments (see 'mlphys augment'); none: "
                     "not the model's default (cnn on digits: digits)."),
        click.option("--augment-engine", type=click.Choice(AUGMENT_ENGINES),
                     help="ImageDataGenerator.flow, or Keras preprocessing layers in "
                     "tf.data [default: the model's; generator but for cnn on digits]."),
        click.option("--stream", is_flag=True, help="Read an image folder, an HDF5 or a "
                     "Parquet file batch by batch from disk instead of loading it into "
                     "memory (automatic above 2 GiB of float32 values)."),
        click.option("--precision", type=click.Choice(PRECISIONS), default="float32",
                     show_default=True, help="Keras dtype policy; mixed precision speeds "
                     "up GPUs with tensor cores."),
        click.option("--backend", type=click.Choice(BACKENDS), default=_default_backend,
                     show_default="KERAS_BACKEND, else tensorflow", help="Keras backend "
                     "the model trains on (jax: pip install 'mlphys[jax]'); recorded, and "
                     "reapplied by --resume, evaluate and predict."),
        click.option("--distribute", type=click.Choice(STRATEGIES), default="none",
                     show_default=True, help="Several devices: mirrored (TensorFlow) uses "
                     "all local GPUs; data-parallel (--backend jax) all devices of all "
                     "processes; --batch-size is per device. multiworker is refused until "
                     "Keras 3 supports it."),
        click.option("--coordinator", metavar="HOST:PORT", help="data-parallel: address of "
                     "process 0 [default: KERAS_DISTRIBUTION_JOB_ADDRESSES, else SLURM's "
                     "first node]."),
        click.option("--num-processes", type=click.IntRange(min=1), help="data-parallel: "
                     "number of processes [default: KERAS_DISTRIBUTION_NUM_PROCESSES, else "
                     "SLURM_NTASKS, else 1]."),
        click.option("--process-id", type=click.IntRange(min=0), help="data-parallel: this "
                     "process, 0 to N-1; 0 writes the run folder [default: "
                     "KERAS_DISTRIBUTION_PROCESS_ID, else SLURM_PROCID, else 0]."),
        click.option("--replicas", type=int, default=1, show_default=True,
                     help="Train an ensemble of N copies, each on its own Monte Carlo "
                     "replica of the targets (fluctuated within the dataset's "
                     "uncertainties); the model predicts their mean."),
        click.option("--lr-schedule", type=click.Choice(LR_SCHEDULES),
                     help="Learning rate over the run: constant, cosine "
                     "decay to 0 over the epochs, or halved after 2 epochs without a "
                     "better validation loss (plateau) [default: the model's; constant "
                     "but for cnn on digits]."),
        click.option("--normalize", type=click.Choice(NORMALIZE), default="auto",
                     show_default=True, help="Standardise vector features (and regression "
                     "targets) inside the model, from the training split: auto does it for "
                     "tables read from files (CSV, Parquet, ROOT, HDF5, FITS)."),
        click.option("--init-from", metavar="RUN", help="Start from the weights of "
                     "another run (folder or .keras file), layer by layer where names and "
                     "shapes match; a head of another shape starts fresh."),
        click.option("--freeze", metavar="PATTERN", help="Keep the layers whose names "
                     "match PATTERN fixed (wildcards, comma-separated: 'conv*')."),
        data_dir, models_from, figure_format,
    ]
    for flag in reversed(flags):
        command = flag(command)
    return command


def run_config(model, values):
    """The `RunConfig` of a training command's option values (click's keyword arguments):
    every value whose name is a field of `RunConfig` goes to that field, so a new
    training option is one field there plus one flag above."""
    import shlex
    import sys
    from dataclasses import fields
    from pathlib import Path

    from mlphys.errors import UserError
    from mlphys.hparams import parse_assignments
    from mlphys.runconfig import RunConfig

    dataset_options = parse_assignments(values["options"], "--option")
    if values.get("target"):
        dataset_options["target"] = values["target"]
    if values.get("stream"):
        dataset = values["dataset"]
        if not dataset or not (Path(dataset).is_dir() or Path(dataset).suffix.lower() in
                               (".h5", ".hdf5", ".hdf", ".parquet", ".pq")):
            raise UserError(f"--stream reads image folders, HDF5 and Parquet files from "
                            f"disk; '{dataset or model}' is none of these (registered "
                            "datasets and other files are loaded into memory)")
        dataset_options["stream"] = "true"
    chosen = {f.name for f in fields(RunConfig)} - {"model", "dataset_options", "params",
                                                   "command", "state"}
    return RunConfig(model=model, dataset_options=dataset_options,
                     params=parse_assignments(values["params"], "--param"),
                     command=shlex.join(["mlphys", *sys.argv[1:]]),
                     **{k: v for k, v in values.items() if k in chosen})
