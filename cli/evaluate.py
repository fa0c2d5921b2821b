"""`mlphys evaluate RUN_OR_FILE`."""

import click

from mlphys.cli import options, output


@click.command()
@click.argument("run", metavar="RUN_OR_FILE", type=click.Path())
@options.dataset
@options.option
@click.option("--split", type=click.Choice(["test", "val", "train"]), default="test",
              show_default=True, help="Which part of the dataset to score.")
@click.option("--checkpoint", type=click.Choice(["model", "best"]), default="model",
              show_default=True, help="The final model or the best epoch's (run folders).")
@click.option("--batch-size", type=click.IntRange(min=1), default=256, show_default=True)
@click.option("--out", type=click.Path(file_okay=False),
              help="Folder for the figures and metrics.json [default: a new folder in "
                   "RUN/evaluation/].")
@options.data_dir
@options.models_from
@options.figure_format
@options.json_output
def evaluate(run, dataset, options, split, checkpoint, batch_size, out, data_dir,
             models_from, figure_formats, as_json):
    """Score a saved run folder or .keras file: loss and accuracy, precision, recall, F1
    (macro) for classifiers, and the area under the ROC curve (AUC) for binary ones;
    MSE, MAE, R^2 for regression. Draws the confusion matrix (counts and normalised by
    rows), the ROC curve of a binary classifier, or predicted against true values and the
    residuals of a regressor, and writes them with metrics.json into --out.

    \b
      mlphys evaluate saved_models/cnn-digits-20261121-101500
      mlphys evaluate RUN --dataset digits --json
      mlphys evaluate model.keras --dataset mnist --figure-format png,pdf
    """
    from mlphys import figures
    from mlphys.evaluation import evaluate as run_evaluation
    from mlphys.hparams import parse_assignments

    with figures.formats(figure_formats):
        result = run_evaluation(run, dataset, parse_assignments(options, "--option"),
                                split=split, checkpoint=checkpoint, data_dir=data_dir,
                                models_from=models_from, batch_size=batch_size, out=out)
    if as_json:
        output.as_json(result)
        return
    click.echo(f"{result['model_file']} on {result['dataset']} ({result['split']} split, "
               f"{result['samples']} samples)")
    if "std" in result:
        from mlphys.spread import format_mean_std

        click.echo(f"mean +- standard deviation over {result['repeats']} seeds:")
        output.table([(k, format_mean_std(v, result["std"][k]))
                      for k, v in result["metrics"].items()], ["metric", "value"])
        return
    output.metrics_table(result["metrics"])
    for path in result.get("figures", []):
        click.echo(f"figure: {path}")
