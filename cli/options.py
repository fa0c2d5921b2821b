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
                       help="Registered dataset name, or a .npz/.csv file or image folder.")
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
