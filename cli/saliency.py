"""`mlphys saliency RUN`: saliency maps of a trained model (tf-keras-vis)."""

import click

from mlphys.cli import options, output

METHOD_NAMES = ("saliency", "smoothgrad", "gradcam", "gradcam++", "scorecam", "layercam",
                "actmax", "all")   # the engine checks them too; kept here to spare the import


@click.command()
@click.argument("run", metavar="RUN_OR_FILE", type=click.Path())
@click.argument("files", nargs=-1, type=click.Path(), metavar="[IMAGE_FILES]...")
@click.option("--method", "-m", default="smoothgrad", show_default=True,
              metavar="|".join(METHOD_NAMES),
              help="Which map: vanilla gradient, SmoothGrad, Grad-CAM, Grad-CAM++, Score-CAM, "
                   "LayerCAM, activation maximisation, or all attribution methods.")
@click.option("--images", is_flag=True,
              help="Explain the IMAGE_FILES given after RUN (resized to the model's input).")
@click.option("--n", "n", type=click.IntRange(min=1), default=8, show_default=True,
              help="How many samples of the dataset to explain.")
@click.option("--split", type=click.Choice(["test", "val", "train"]), default="test",
              show_default=True, help="Which part of the dataset the samples come from.")
@click.option("--indices", metavar="I,J,...", help="Explain these samples of the split.")
@click.option("--class", "class_index", type=int,
              help="Explain this class [default: the predicted class].")
@click.option("--output-index", type=int,
              help="For a regressor: the output to explain [default: 0].")
@click.option("--layer", help="Layer for the CAM methods [default: the last convolution].")
@click.option("--samples", type=click.IntRange(min=1), default=20, show_default=True,
              help="SmoothGrad: noisy copies per input.")
@click.option("--noise", type=click.FloatRange(min=0), default=0.2, show_default=True,
              help="SmoothGrad: noise level, a fraction of the input's value range.")
@click.option("--max-n", type=click.IntRange(min=1),
              help="Score-CAM: keep the N most varied feature maps (Faster-Score-CAM).")
@click.option("--steps", type=click.IntRange(min=1), default=200, show_default=True,
              help="Activation maximisation: optimisation steps.")
@click.option("--sanity", is_flag=True,
              help="Also re-initialise the layers from the top down and report how much "
                   "the maps change (Adebayo et al. 2018).")
@click.option("--checkpoint", type=click.Choice(["model", "best"]), default="model",
              show_default=True, help="The final model or the best epoch's (run folders).")
@options.dataset
@options.option
@options.seed
@click.option("--out", type=click.Path(file_okay=False),
              help="Folder for the figure and maps [default: a new folder in RUN/saliency/].")
@options.data_dir
@options.models_from
@options.figure_format
@options.json_output
def saliency(run, files, method, images, n, split, indices, class_index, output_index, layer,
             samples, noise, max_n, steps, sanity, checkpoint, dataset, options, seed, out,
             data_dir, models_from, figure_formats, as_json):
    """Saliency maps of a saved run: which parts of the input decide its prediction.

    Writes saliency.png (each input, then each map over it) and maps.npz (one array per
    method, in the order of the inputs).

    \b
      mlphys saliency saved_models/cnn-digits-20261121-101500
      mlphys saliency RUN --method gradcam --n 16 --out maps/
      mlphys saliency RUN --method scorecam --max-n 10 --class 3
      mlphys saliency RUN --method all --images img1.png img2.png
      mlphys saliency RUN --method layercam --layer conv_1
      mlphys saliency RUN --method actmax --class 0 --steps 256
      mlphys saliency RUN --sanity
      mlphys saliency RUN --method saliency -d gauss_lorentz --n 4
    """
    from mlphys.errors import UserError
    from mlphys.hparams import parse_assignments
    from mlphys.saliency import explain, parse_indices

    if files and not images:
        raise UserError(f"unexpected argument '{files[0]}' after RUN: to explain image files "
                        "put --images before them")
    if images and not files:
        raise UserError("--images needs image files after it, e.g. --images a.png b.png")
    if images and (indices or dataset):
        raise UserError("--images explains files; leave out --indices and --dataset")
    from mlphys import figures

    with figures.formats(figure_formats):
        result = explain(run, method, images=list(files) or None, dataset=dataset,
                         options=parse_assignments(options, "--option"), split=split, n=n,
                         indices=parse_indices(indices) if indices else None,
                         class_index=class_index, output_index=output_index, layer=layer,
                         samples=samples, noise=noise, max_n=max_n, steps=steps, sanity=sanity,
                         checkpoint=checkpoint, out=out, seed=seed, data_dir=data_dir,
                         models_from=models_from)
    if as_json:
        output.as_json(result)
        return
    _print(result)


def _print(result):
    click.echo(f"{', '.join(result['methods'])} maps of {result['model_file']}"
               + (f" on {result['inputs']}" if result.get("inputs") else "")
               + (f", CAM layer {result['layer']}" if result.get("layer") else ""))
    for method, reason in result.get("skipped", {}).items():
        click.echo(f"skipped {method}: {reason}")
    if "images" in result:
        rows = []
        for row in result["images"]:
            probability = f" ({row['probability']:.2f})" if "probability" in row else ""
            rows.append([row["input"], _short(row.get("true", "")),
                         _short(row["predicted"]) + probability, row["explained"]]
                        + [f"{row['maps'][m]['top10_mass']:.2f}" for m in result["methods"]])
        output.table(rows, ["input", "true", "predicted", "explained"]
                     + [f"{m} top10%" for m in result["methods"]])
    if "sanity" in result:
        click.echo("\nsanity check: Spearman correlation with the original maps as layers "
                   "are re-initialised from the top")
        methods = result["methods"]
        output.table([[f"+{s['randomised']}"] + [f"{s['spearman'][m]:.2f}" for m in methods]
                      for s in result["sanity"]["stages"]], ["randomised"] + methods)
        for method in result["sanity"]["flagged"]:
            click.echo(f"WARNING: {method} maps barely change when every layer is random "
                       f"(rho > {result['sanity']['threshold']}): they do not explain the "
                       "model")
    click.echo(f"figure: {result['figure']}")
    click.echo(f"maps:   {result['maps']}")
    for path in result.get("sanity_files", []):
        click.echo(f"sanity: {path}")


def _short(value):
    if isinstance(value, list):
        return ", ".join(f"{v:.3g}" for v in value)
    return str(value)
