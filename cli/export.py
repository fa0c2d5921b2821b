"""`mlphys export RUN --format savedmodel|onnx|litert`: a deployable artefact, checked."""

import click

from mlphys.cli import output


@click.command()
@click.argument("run", metavar="RUN_OR_FILE", type=click.Path())
@click.option("--format", "fmt", type=click.Choice(["savedmodel", "onnx", "litert"]),
              required=True, help="TensorFlow SavedModel, ONNX (onnxruntime) or LiteRT "
              "(TFLite).")
@click.option("--out", type=click.Path(file_okay=False),
              help="Folder of the new export-FORMAT/ folder [default: the run's folder].")
@click.option("--samples", type=click.IntRange(min=1), default=64, show_default=True,
              help="Test samples the export is checked on against the Keras model.")
@click.option("--checkpoint", type=click.Choice(["model", "best"]), default="model",
              show_default=True, help="The final model or the best epoch's (run folders).")
@click.option("--models-from", metavar="FILE_OR_MODULE",
              help="Python file or module that registers more models.")
@click.option("--json", "as_json", is_flag=True, help="Print machine-readable JSON.")
def export(run, fmt, out, samples, checkpoint, models_from, as_json):
    """Export a run's model with Keras' model.export, reload it in its own runtime and
    compare its outputs with the Keras model's on test samples: exit status 1 if they
    differ by more than 1e-4. Writes export-FORMAT/ with the model and export.json
    (input shape and dtype, class names, preprocessing, versions).

    \b
      mlphys export saved_models/cnn-digits-20261121-101500 --format onnx
      mlphys export RUN --format savedmodel --out deploy/
      mlphys export model.keras --format litert
    """
    from mlphys.export import TOLERANCE, export as run_export

    result = run_export(run, fmt, out=out, samples=samples, checkpoint=checkpoint,
                        models_from=models_from)
    if as_json:
        output.as_json({"path": str(result.path), "sidecar": str(result.sidecar),
                        "format": fmt, "max_abs_difference": result.max_abs_diff,
                        "samples": result.samples, "passed": result.passed})
    else:
        click.echo(f"{fmt}: {result.path}")
        click.echo(f"checked on {result.samples} samples: largest |{fmt} - keras| = "
                   f"{result.max_abs_diff:.3g} ({'ok' if result.passed else 'above'} "
                   f"{TOLERANCE:g})")
        click.echo(f"description: {result.sidecar}")
    if not result.passed:
        raise SystemExit(1)
