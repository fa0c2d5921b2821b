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
@options.data_dir
@options.models_from
@options.json_output
def evaluate(run, dataset, options, split, checkpoint, batch_size, data_dir, models_from,
             as_json):
    """Score a saved run folder or .keras file: loss and accuracy, precision, recall, F1
    (macro) for classifiers; MSE, MAE, R^2 for regression.

    \b
      mlphys evaluate saved_models/cnn-digits-20261121-101500
      mlphys evaluate RUN --dataset digits --json
      mlphys evaluate model.keras --dataset mnist
    """
    from mlphys.evaluation import evaluate as run_evaluation
    from mlphys.hparams import parse_assignments

    result = run_evaluation(run, dataset, parse_assignments(options, "--option"),
                            split=split, checkpoint=checkpoint, data_dir=data_dir,
                            models_from=models_from, batch_size=batch_size)
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
