"""`mlphys sample RUN`: new images from a trained generative model (VAE, GAN)."""

import click

from mlphys.cli import options, output


@click.command()
@click.argument("run", metavar="RUN_OR_FILE", type=click.Path())
@click.option("--n", "n", type=int, default=64, show_default=True,
              help="How many samples to draw.")
@click.option("--class", "class_index", metavar="K",
              help="Conditional models: draw class K only (a number or a class name) "
              "[default: every class in turn].")
@click.option("--seed", type=int, default=0, show_default=True,
              help="Seed of the latent vectors z ~ N(0, 1).")
@click.option("--out", type=click.Path(file_okay=False),
              help="Folder for the PNG grid and the .npz [default: the run folder].")
@options.models_from
@options.figure_format
@options.json_output
def sample(run, n, class_index, seed, out, models_from, figure_formats, as_json):
    """Draw N new images from a saved VAE (its decoder) or GAN (its generator): a PNG grid
    and an .npz with the images (N, H, W, C) in [0, 1], their z and labels.

    \b
      mlphys sample saved_models/dcgan-digits-20261121-101500 --n 64
      mlphys sample RUN --n 16 --class 3 --seed 1
    """
    from mlphys import figures
    from mlphys.sampling import sample as draw_samples

    with figures.formats(figure_formats):
        result = draw_samples(run, n=n, class_index=class_index, out=out, seed=seed,
                              models_from=models_from)
    if as_json:
        output.as_json(result)
        return
    what = "" if result["class"] is None else f" of class {result['class']}"
    click.echo(f"{result['samples']} samples{what} ({'x'.join(map(str, result['shape']))}):")
    for path in result["figures"]:
        click.echo(f"  {path}")
    click.echo(f"  {result['npz']}")
