"""`mlphys predict RUN [INPUTS]...`: a saved run applied to new data, into a new file."""

import sys

import click

from mlphys.cli import options, output


class _Progress:
    """A progress bar on stderr, drawn from the first chunk on (`predict`'s progress)."""

    def __init__(self):
        self.bar, self.done = None, 0

    def __call__(self, done, total):
        if not sys.stderr.isatty():
            return
        if self.bar is None:
            self.bar = click.progressbar(length=total, label="predicting", file=sys.stderr)
            self.bar.__enter__()
        self.bar.update(done - self.done)
        self.done = done

    def close(self):
        if self.bar is not None:
            self.bar.__exit__(None, None, None)


@click.command()
@click.argument("run", metavar="RUN_OR_FILE", type=click.Path())
@click.argument("inputs", nargs=-1, type=click.Path())
@options.dataset
@options.option
@click.option("--split", type=click.Choice(["test", "val", "train"]),
              help="Predict this split of --dataset (default: the run's dataset).")
@click.option("--top", type=click.IntRange(min=1), help="Report the K most probable "
              "classes [default: every class's probability].")
@click.option("--mc-dropout", type=click.IntRange(min=0), default=0, metavar="N",
              help="Monte Carlo dropout: mean and standard deviation over N passes with "
              "the dropout layers on.")
@click.option("--format", "fmt", type=click.Choice(["csv", "parquet", "npz"]),
              help="File format [default: csv; npz for per-pixel outputs].")
@click.option("--out", type=click.Path(file_okay=False),
              help="Folder for the predictions file [default: the run's folder].")
@click.option("--batch-size", type=click.IntRange(min=1), default=256, show_default=True)
@click.option("--checkpoint", type=click.Choice(["model", "best"]), default="model",
              show_default=True, help="The final model or the best epoch's (run folders).")
@options.data_dir
@options.models_from
@options.json_output
def predict(run, inputs, dataset, options, split, top, mc_dropout, fmt, out, batch_size,
            checkpoint, data_dir, models_from, as_json):
    """Predict new inputs with a saved run and write a new predictions file (never over
    an existing one): one row per sample with its id, the predicted class, its name and
    probability (classifiers) or one column per target (regressors); runs with members
    (--replicas, --repeats) or --mc-dropout add each output's standard deviation.
    With an input file, -o options are its format's (tree, cut, pad, x, table, hdu,
    features), by default the training's.

    \b
      mlphys predict RUN new_events.csv
      mlphys predict RUN events.root -o tree=Events -o cut='nMuon == 2'
      mlphys predict RUN showers.h5 -o x=/calo/images
      mlphys predict RUN images/ --out preds/ --top 3
      mlphys predict RUN -d digits --split test --format parquet
      mlphys predict RUN x.npz --mc-dropout 50
    """
    from mlphys.errors import UserError
    from mlphys.hparams import parse_assignments
    from mlphys.prediction import PredictSettings, predict_to_file

    if not inputs and dataset is None and split is None:
        raise UserError("give the inputs to predict (a .csv, .npz, .root, .h5, .fits, "
                        ".parquet or .feather file, an image folder or image files), or "
                        "--dataset/--split for a dataset's split")
    settings = PredictSettings(batch_size=batch_size, top=top, mc_dropout=mc_dropout,
                               checkpoint=checkpoint)
    progress = _Progress()
    try:
        path, result = predict_to_file(
            run, list(inputs) or None, out=out, fmt=fmt, settings=settings,
            models_from=models_from, dataset=dataset, split=split, data_dir=data_dir,
            options=parse_assignments(options, "--option"), progress=progress)
    finally:
        progress.close()
    samples = len(result.ids) if hasattr(result, "ids") else len(result)
    if as_json:
        output.as_json({"predictions": str(path), "samples": samples})
        return
    click.echo(f"{samples} predictions: {path}")
    if hasattr(result, "head"):
        preview = result.head(5).iloc[:, :7]  # the first columns of 5 rows
        output.table([[_short(v) for v in row] for row in preview.itertuples(index=False)],
                     list(preview.columns))


def _short(value):
    return f"{value:.4g}" if isinstance(value, float) else value
