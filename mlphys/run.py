"""`Run`: one way to open what `mlphys train` (or `tune`) saved.

    run = Run.open("saved_models/cnn-digits-20261201-101500")   # a run folder
    run = Run.open("saved_models/tune-mlp-digits-.../")          # a search: its best run
    run = Run.open("elsewhere/model.keras")                      # a bare model file
    run.config        # RunConfig (None for a .keras file with no config.json beside it)
    run.model         # the chosen checkpoint, reopened with keras.models.load_model
    run.metrics       # metrics.json
    run.history       # history.csv as a pandas DataFrame
    run.load_data()   # the run's dataset, with its options and split

`evaluate`, `saliency`, `sample`, `embed` and every later command open runs through it;
`mlphys.train` returns one.
"""

import json
from pathlib import Path

from mlphys.errors import UserError
from mlphys.runconfig import RunConfig

CHECKPOINTS = ("model", "best")


class Run:
    """A saved run: its folder, `RunConfig`, model file and (lazily) model and data."""

    def __init__(self, path, config, model_file, *, model=None, metrics=None):
        self.path = Path(path)
        self.config = config
        self.model_file = Path(model_file)
        self._model, self._metrics = model, metrics

    @classmethod
    def open(cls, path, *, checkpoint="model", models_from=None):
        """Open a run folder, a tuning folder (its best run) or a `.keras` file."""
        path = Path(path)
        if not path.exists():
            raise UserError(f"no run folder or model file '{path}': give a folder made by "
                            "'mlphys train' (see saved_models/) or a .keras file")
        if checkpoint not in CHECKPOINTS:
            raise UserError(f"--checkpoint {checkpoint}: choose model or best")
        if path.is_dir() and (path / "tune.json").exists():
            path = _best_run_of_search(path)
        if path.is_dir():
            if not (path / "config.json").exists():
                raise UserError(f"'{path}' has no config.json: give a run folder made by "
                                "'mlphys train', or a .keras file with --dataset")
            model_file = path / f"{checkpoint}.keras"
            if not model_file.is_file():
                raise UserError(f"'{path}' has no {checkpoint}.keras: give a run folder "
                                "whose training finished (or --resume it)")
            config = RunConfig.read(path)
        else:
            model_file = path
            folder = path.parent
            config = RunConfig.read(folder) if (folder / "config.json").exists() else None
            path = folder
        from mlphys.registry import load_plugin

        for plugin in filter(None, [config and config.models_from, models_from]):
            load_plugin(plugin)
        return cls(path, config, model_file)

    @property
    def model(self):
        """The Keras model of the chosen checkpoint."""
        if self._model is None:
            from mlphys.model_files import load_keras_model

            self._model = load_keras_model(self.model_file)
        return self._model

    @property
    def metrics(self):
        """The test metrics of metrics.json ({} if the run has none)."""
        if self._metrics is None:
            path = self.path / "metrics.json"
            content = json.loads(path.read_text()) if path.exists() else {}
            self._metrics = {k: v for k, v in content.items() if k != "split"}
        return self._metrics

    @property
    def history(self):
        """history.csv as a pandas DataFrame, one row per epoch."""
        import pandas as pd

        path = self.path / "history.csv"
        return pd.read_csv(path) if path.exists() else pd.DataFrame()

    @property
    def name(self):
        return self.config.model if self.config else self.model_file.stem

    def load_data(self, dataset=None, options=None, *, data_dir=None):
        """The dataset to use with this run: `dataset` (with `options`) if given, else
        the run's own, with the options and validation split it trained with."""
        from mlphys.datasets import load_dataset

        if dataset is None:
            if self.config is None:
                raise UserError(f"'{self.model_file}' has no config.json beside it to say "
                                "its dataset: give --dataset")
            dataset = self.config.dataset
            options = options or self.config.dataset_options
        val_split = self.config.val_split if self.config else 0.1
        return load_dataset(dataset, options, val_split=val_split,
                            data_dir=data_dir or (self.config and self.config.data_dir))

    # the summary dictionary `mlphys.train` returned before it returned a Run; kept for
    # one release so that scripts written against it keep working
    _LEGACY = {"run_dir": lambda r: str(r.path), "metrics": lambda r: r.metrics,
               "epochs_run": lambda r: r.config.state.epochs_run,
               "seed": lambda r: r.config.seed, "status": lambda r: r.config.state.status}

    def __getitem__(self, key):
        if key not in self._LEGACY:
            raise KeyError(key)
        return self._LEGACY[key](self)

    def summary(self):
        """The legacy summary as a plain dict (for --json)."""
        return {key: get(self) for key, get in self._LEGACY.items()}

    def _repr_html_(self):
        """Jupyter's view of a run: its name and status, the test metrics as a table and
        the learning curves (curves.png) inline."""
        import base64
        import html

        rows = "".join(f"<tr><td>{html.escape(str(k))}</td><td>{_shown(v)}</td></tr>"
                       for k, v in self.metrics.items() if not isinstance(v, (dict, list)))
        table = (f"<table><tr><th>test metric</th><th>value</th></tr>{rows}</table>"
                 if rows else "<p>no test metrics (metrics.json) yet</p>")
        curves = self.path / "curves.png"
        image = ""
        if self.config is not None and curves.is_file():
            data = base64.b64encode(curves.read_bytes()).decode("ascii")
            image = (f'<img src="data:image/png;base64,{data}" alt="learning curves" '
                     'style="max-width: 640px">')
        return f"<div><p><code>{html.escape(repr(self))}</code></p>{table}{image}</div>"

    def __repr__(self):
        status = self.config.state.status if self.config else "model file"
        return f"Run('{self.path}', {self.name}, {status})"


def _shown(value):
    """A metric's value as HTML text."""
    import html

    return f"{value:.4f}" if isinstance(value, float) else html.escape(str(value))


def _best_run_of_search(tuning_dir):
    content = json.loads((tuning_dir / "tune.json").read_text())
    best = content.get("best_run")
    if not best or not Path(best).is_dir():
        raise UserError(f"the search in '{tuning_dir}' has no best run yet (no trial "
                        "completed); continue it with 'mlphys tune --resume'")
    return Path(best)


def is_repeats_folder(path):
    """Whether `path` is a `train --repeats N` folder (repeat-1/ ... beside a config)."""
    path = Path(path)
    return path.is_dir() and (path / "repeat-1").is_dir() and (path / "config.json").exists()
