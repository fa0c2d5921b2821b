"""`mlphys embed RUN --layer NAME`: a 2-D map (t-SNE or PCA) of a layer's activations."""

import click

from mlphys.cli import options, output


@click.command()
@click.argument("run", metavar="RUN_OR_FILE", type=click.Path())
@click.option("--layer", "-l", required=True,
              help="The layer whose activations are embedded (e.g. bottleneck).")
@click.option("--method", "-m", type=click.Choice(["tsne", "pca"]), default="tsne",
              show_default=True, help="t-SNE or PCA (scikit-learn).")
@click.option("--perplexity", type=click.FloatRange(min=0, min_open=True), default=20.0,
              show_default=True, help="t-SNE: about the number of close neighbours.")
@click.option("--n", "n", type=click.IntRange(min=3), default=1000, show_default=True,
              help="How many samples of the split to embed (the first N).")
@click.option("--split", type=click.Choice(["test", "val", "train"]), default="test",
              show_default=True, help="Which part of the dataset the samples come from.")
@click.option("--checkpoint", type=click.Choice(["model", "best"]), default="model",
              show_default=True, help="The final model or the best epoch's (run folders).")
@options.dataset
@options.option
@click.option("--seed", type=int, default=0, show_default=True,
              help="Seed of t-SNE's optimisation.")
@click.option("--out", type=click.Path(file_okay=False),
              help="Folder for the figure and points [default: a new folder in "
                   "RUN/embedding/].")
@options.data_dir
@options.models_from
@options.figure_format
@options.json_output
def embed(run, layer, method, perplexity, n, split, checkpoint, dataset, options, seed, out,
          data_dir, models_from, figure_formats, as_json):
    """Embed a layer's activations for N samples in 2-D and plot them coloured by class.

    Writes embedding.png and embedding.npz (points, labels, activations) and prints how
    well the classes separate in the map: the accuracy of a 10-nearest-neighbour vote
    and the silhouette score.

    \b
      mlphys embed saved_models/tsne_latent-rotated_squares-20261121-101500 --layer bottleneck
      mlphys embed RUN --layer dense --method pca --n 500
      mlphys embed RUN --layer bottleneck --perplexity 30 --out maps/
    """
    from mlphys import figures
    from mlphys.embedding import embed as run_embedding
    from mlphys.hparams import parse_assignments

    with figures.formats(figure_formats):
        result = run_embedding(run, layer, method=method, perplexity=perplexity, n=n,
                               split=split, seed=seed, out=out, checkpoint=checkpoint,
                               dataset=dataset,
                               options=parse_assignments(options, "--option"),
                               data_dir=data_dir, models_from=models_from)
    if as_json:
        output.as_json(result)
        return
    click.echo(f"{result['method']} of layer '{result['layer']}' ({result['features']} "
               f"values) for {result['samples']} {result['dataset']} {result['split']} "
               "samples")
    scores = result["separation"]
    if scores:
        click.echo(f"class separation in 2-D: {scores['k']}-NN accuracy "
                   f"{scores['knn_accuracy']:.3f} (chance {scores['chance']:.3f}), "
                   f"silhouette {scores['silhouette']:.3f}")
    for path in result["figures"]:
        click.echo(f"figure: {path}")
    click.echo(f"points: {result['points']}")
