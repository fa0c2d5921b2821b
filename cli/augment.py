"""`mlphys augment`: see what data augmentation does to a dataset's images."""

import click

from mlphys.cli import options, output
from mlphys.runconfig import AUGMENT_ENGINES

# every ImageDataGenerator argument (and noise, rot90) as an option: --rotation-range 20 ...
_FLAGS = ("horizontal_flip", "vertical_flip", "featurewise_center",
          "featurewise_std_normalization", "samplewise_center", "samplewise_std_normalization",
          "zca_whitening", "rot90")
_PAIRS = ("zoom_range", "brightness_range")  # one number or LOW,HIGH
_NUMBERS = ("rotation_range", "width_shift_range", "height_shift_range", "shear_range",
            "channel_shift_range", "cval", "rescale", "zca_epsilon", "noise")


def _augmentation_options(command):
    for name in reversed(_FLAGS + _PAIRS + _NUMBERS + ("fill_mode",)):
        flag = "--" + name.replace("_", "-")
        if name in _FLAGS:
            command = click.option(flag, name, is_flag=True, default=None)(command)
        elif name == "fill_mode":
            command = click.option(flag, name, type=click.Choice(
                ["nearest", "constant", "reflect", "wrap"]))(command)
        elif name in _PAIRS:
            command = click.option(flag, name, metavar="X|LOW,HIGH")(command)
        else:
            command = click.option(flag, name, type=float)(command)
    return command


def _pair(name, text):
    from mlphys.errors import UserError

    if text is None:
        return None
    try:
        values = [float(v) for v in text.split(",")]
    except ValueError:
        raise UserError(f"--{name.replace('_', '-')} {text}: give a number or LOW,HIGH") from None
    if len(values) == 1 and name == "zoom_range":
        return values[0]
    return values


@click.command()
@options.dataset
@options.option
@click.option("--preset", metavar="NAME_OR_FILE",
              help="mlmm, dihedral, periodic, or a .json/.yaml file of arguments.")
@click.option("--config", "config_file", type=click.Path(), help="A .json/.yaml file of "
              "ImageDataGenerator arguments (the same as --preset FILE).")
@_augmentation_options
@click.option("--n", "n_images", type=click.IntRange(1, 64), default=8, show_default=True,
              help="Images (rows of the grid).")
@click.option("--epochs", "versions", type=click.IntRange(1, 16), default=4,
              show_default=True, help="Augmented passes (columns after the original).")
@click.option("--engine", type=click.Choice(AUGMENT_ENGINES), default="generator",
              show_default=True, help="ImageDataGenerator or Keras preprocessing layers.")
@options.seed
@options.out
@options.data_dir
@options.figure_format
@options.json_output
def augment(dataset, options, preset, config_file, n_images, versions, engine, seed, out,
            data_dir, figure_formats, as_json, **arguments):
    """Show data augmentation on a dataset: a grid (PNG, or --figure-format) with the
    original images in the first column and augmented versions beside them, one per
    pass. Prints the config.

    \b
      mlphys augment -d digits --rotation-range 20 --zoom-range 0.4 --horizontal-flip
      mlphys augment -d shapes --preset mlmm
      mlphys augment -d digits --config aug.json
      mlphys augment -d my_images/ --brightness-range 0.3,1 --noise 10 --n 16 --epochs 2

    Train with the same arguments: mlphys train cnn -d digits --augment aug.json
    """
    from pathlib import Path

    from mlphys import figures
    from mlphys.augmentation import changed, preview, resolve
    from mlphys.datasets import dataset_label, load_dataset
    from mlphys.errors import UserError
    from mlphys.hparams import parse_assignments
    from mlphys.rundir import check_writable

    if preset and config_file:
        raise UserError("give --preset or --config, not both")
    if not dataset:
        raise UserError("give the images to augment with --dataset (a name or an image folder)")
    for name in _PAIRS:
        arguments[name] = _pair(name, arguments[name])
    config = resolve(preset or config_file, arguments)
    folder = check_writable(out or "previews")
    data = load_dataset(dataset, parse_assignments(options, "--option"), data_dir=data_dir)
    if data.spec.kind != "image":
        raise UserError(f"augmentation transforms images, but '{dataset}' holds "
                        f"{data.spec.kind} data")
    images = data.x_train[:n_images]
    import keras

    keras.utils.set_random_seed(seed or 0)
    stem = f"augment-{dataset_label(dataset)}"
    path = folder / f"{stem}.png"
    suffix = 2
    while any(p.exists() for p in figures.paths(path, figure_formats)):  # never overwrite
        path = folder / f"{stem}-{suffix}.png"
        suffix += 1
    with figures.formats(figure_formats):
        rows, columns = preview(config, images, path, versions, engine, seed or 0,
                                title=f"{dataset_label(dataset)}: {engine}")
    path = figures.paths(path, figure_formats)[0]
    if as_json:
        output.as_json({"preview": str(path), "rows": rows, "columns": columns,
                        "engine": engine, "config": changed(config)})
        return
    click.echo("augmentation (arguments that differ from ImageDataGenerator's defaults):")
    output.table(sorted(changed(config).items()) or [("(none)", "")], ["argument", "value"])
    click.echo(f"\npreview: {Path(path)}  ({rows} images x {columns - 1} passes)")
