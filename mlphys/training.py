"""Training a registry model on a registry dataset, into a run folder.

    run = mlphys.train("cnn", "digits", epochs=5, seed=1)
    run.metrics["accuracy"], run.path, run.history, run.model

is what `mlphys train cnn -d digits --epochs 5 --seed 1` runs. The keywords are the
fields of `mlphys.runconfig.RunConfig` (and `out`, `quiet`, `run_name`); the result is a
`mlphys.run.Run`. The run folder holds the final and best models, `config.json`
(everything needed to rerun), `history.csv`, `metrics.json`, `curves.png`, the confusion
matrix of a classifier (and ROC curve of a binary one), predicted against true values of
a regressor, and TensorBoard logs; figures in each of `figure_formats` (png, pdf, svg).
"""

import json
import math
import shutil
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from mlphys.errors import Interrupted, UserError
from mlphys.runconfig import RunConfig


def train(model=None, dataset=None, params=None, *, config=None, out=None, quiet=False,
          run_name=None, **settings):
    """Train `model` on `dataset` and write a run folder; return its `Run`.

    dataset: registry name or path of a user's file; None means the model's default.
    params: hyperparameter values by name (`{"units": 256}`); the rest keep their defaults.
    settings: any other field of `RunConfig` (epochs, batch_size, seed, dataset_options,
        patience, augment, replicas, lr_schedule, ...); or give a whole `config`.
    out: parent folder of the run folder (default `saved_models/`).
    run_name: the run folder's name instead of `<model>-<dataset>-<time>`.
    """
    if config is None:
        if model is None:
            raise UserError("give the model to train (see 'mlphys list models')")
        config = RunConfig(model=model, dataset=dataset, params=dict(params or {}),
                           **_known_settings(settings))
    return train_config(config.resolved(), out=out, quiet=quiet, run_name=run_name)


def _known_settings(settings):
    from dataclasses import fields

    known = {f.name for f in fields(RunConfig)} - {"model", "dataset", "params", "state"}
    unknown = sorted(set(settings) - known)
    if unknown:
        raise TypeError(f"train() got unknown settings {', '.join(unknown)}; the settings "
                        f"are {', '.join(sorted(known))}")
    return {k: v for k, v in settings.items() if v is not None}


def train_config(config, *, out=None, quiet=False, run_name=None):
    """Train the resolved `config` into a new run folder under `out`; return its `Run`.

    The data are loaded and checked and the model built before the folder is made, so a
    refused dataset or hyperparameter leaves nothing behind."""
    from mlphys.datasets import load_dataset
    from mlphys.distribute import process_placement
    from mlphys.fitting import prepare_model
    from mlphys.rundir import check_writable, environment, new_run_dir

    placement = process_placement(config)  # first: a data-parallel cluster forms
    if placement.writes:
        check_writable(out)
    data = load_dataset(config.dataset, config.dataset_options, val_split=config.val_split,
                        data_dir=config.data_dir)
    model, augmentation = prepare_model(config, data, quiet=quiet)
    if not placement.writes:  # another process of a data-parallel run: it writes nothing
        return take_part(model, data, config, augmentation=augmentation)
    run_dir = new_run_dir(out, config.model, config.label, name=run_name)
    config.dataset_options = data.options
    config.state.data = {"spec": data.spec.to_dict(), "sizes": data.sizes(),
                         "provenance": data.provenance}
    config.state.parameters = int(model.count_params())
    config.state.versions = environment()
    config.state.started = time.strftime("%Y-%m-%dT%H:%M:%S")
    config.write(run_dir)
    return fit_and_report(model, data, config, run_dir, quiet=quiet,
                          augmentation=augmentation)


def fit_and_report(model, data, config, run_dir, *, quiet, augmentation=None,
                   resumed_from=None):
    """Fit (or continue fitting) through the fit core, then write the model, metrics,
    figures and final config; return the `Run`."""
    from mlphys import figures
    from mlphys.callbacks import run_folder_recorders
    from mlphys.distribute import process_placement, saving_locally, shared_model_done
    from mlphys.fitting import fit

    placement = process_placement(config)
    best_so_far = None
    if resumed_from is not None:
        done = read_history(run_dir).get(config.state.monitor, [])
        best_so_far = min(done) if done else None
    # Figures are drawn by one background thread (matplotlib's import included, ~0.5 s)
    # while TensorFlow trains and scores, so they add little to the wall time of a run
    # (bench/train_overhead.py measures mlphys against a bare `fit`).
    # (figures drawn during the fit, e.g. a GAN's samples each epoch, get the run's formats)
    with figures.formats(config.figure_formats), \
            ThreadPoolExecutor(max_workers=1, thread_name_prefix="mlphys-plots") as plotter:
        plotter.submit(_import_matplotlib)
        started = time.perf_counter()
        try:
            recorders = run_folder_recorders(run_dir, config.state.monitor, best_so_far)
            _, nan_stop = fit(model, data, config,
                              recorders=saving_locally(recorders, placement),
                              callback_dir=run_dir, augmentation=augmentation,
                              initial_epoch=resumed_from or 0, quiet=quiet)
        except KeyboardInterrupt:
            done = len(read_history(run_dir).get("epoch", []))
            config.mark("interrupted", epochs_run=done)
            config.write(run_dir)
            raise Interrupted(f"interrupted after {done} complete epoch(s); continue "
                              f"with: mlphys train --resume {run_dir}") from None
        seconds = time.perf_counter() - started
        with shared_model_done(model, placement):  # the others wait while process 0 reports
            metrics = report(model, data, config, run_dir, plotter)
    history = read_history(run_dir)
    epochs_run = len(history.get("epoch", []))
    if resumed_from is not None:
        config.state.resumed.append({"from_epoch": resumed_from,
                                     "at": time.strftime("%Y-%m-%dT%H:%M:%S")})
    losses = history.get("loss", [])
    diverged = nan_stop.epoch is not None or (bool(losses) and not math.isfinite(losses[-1]))
    config.mark(f"diverged (NaN loss in epoch {epochs_run})" if diverged else "finished",
                epochs_run=epochs_run,
                train_seconds=round(config.state.train_seconds + seconds, 2))
    config.write(run_dir)
    from mlphys.run import Run

    return Run(run_dir, config, run_dir / "model.keras", model=model, metrics=metrics)


def take_part(model, data, config, *, augmentation=None, run_dir=None,
              resumed_from=None):
    """The fit of a data-parallel process other than process 0: the same steps on its
    slice of every batch, restoring `run_dir`'s backup on a resume, and writing nothing;
    it then waits while process 0 writes the run folder. Returns None."""
    from mlphys.distribute import read_only_recorders, wait_for_process_0
    from mlphys.fitting import fit

    try:
        fit(model, data, config, recorders=read_only_recorders(run_dir),
            callback_dir=run_dir, augmentation=augmentation, initial_epoch=resumed_from or 0)
    except KeyboardInterrupt:
        raise Interrupted("interrupted; process 0 recorded the run's last complete epoch "
                          "(continue with mlphys train --resume RUN in every process)") from None
    wait_for_process_0()
    return None


def report(model, data, config, run_dir, plotter=None, title_suffix=""):
    """What every finished run folder holds besides the fit's own records: model.keras,
    the test metrics by the entry's own score, curves, the figures of the test scores
    (`mlphys.plots.plot_evaluation`) and the entry's figures, in the formats of
    `config.figure_formats`. Returns the metrics."""
    from mlphys import figures

    with figures.formats(config.figure_formats):
        return _report(model, data, config, run_dir, plotter, title_suffix)


def _report(model, data, config, run_dir, plotter, title_suffix):
    from mlphys.evaluation import score_entry
    from mlphys.plots import plot_curves, plot_evaluation
    from mlphys.registry import get_model
    from mlphys.rundir import write_json

    submit = plotter.submit if plotter else (lambda f, *a: _Done(f(*a)))
    title = f"{config.model} on {config.label}{title_suffix}"
    history = read_history(run_dir)
    curves = submit(plot_curves, history, run_dir / "curves.png", title)
    if _last_epoch_is_best(history.get(config.state.monitor), run_dir / "best.keras"):
        # best.keras was saved at the end of the last epoch: the same model, and a copy
        # is ten times faster than saving it again
        shutil.copyfile(run_dir / "best.keras", run_dir / "model.keras")
    else:
        model.save(run_dir / "model.keras")
    scores = score_entry(model, data, "test", config.model)
    write_json(run_dir / "metrics.json", {"split": "test", **scores.metrics})
    submit(plot_evaluation, scores, data.spec.class_names, run_dir,
           f"{title}: test set").result()
    curves.result()
    entry = get_model(config.model)
    if entry.figures is not None:
        entry.figures(model, data, run_dir)
    return scores.metrics


def _last_epoch_is_best(monitored, best_file):
    """Whether ModelCheckpoint(save_best_only) wrote `best_file` after the last epoch:
    the last value is strictly below every earlier one (it saves on strict improvement)."""
    if not monitored or not best_file.exists() or not math.isfinite(monitored[-1]):
        return False
    return all(monitored[-1] < value for value in monitored[:-1])


class _Done:
    def __init__(self, value):
        self.value = value

    def result(self):
        return self.value


def resume(run_dir, *, quiet=False, data_dir=None, coordinator=None, num_processes=None,
           process_id=None):
    """Continue an interrupted or killed run from its last completed epoch.

    Rebuilds the model and data from the run's config.json (same seed, hyperparameters,
    dataset options and training options), restores the weights and optimizer state that
    `keras.callbacks.BackupAndRestore` saved after the last completed epoch, and trains the
    remaining epochs into the same folder through the same fit core, on the backend it
    trained on. A data-parallel run is resumed by the same command in every process
    (`coordinator`, `num_processes`, `process_id`: as for `train`); only process 0
    writes, the others read the backup.
    """
    from mlphys.backend import use_backend
    from mlphys.datasets import load_dataset
    from mlphys.distribute import placement_of
    from mlphys.fitting import prepare_model
    from mlphys.registry import load_plugin

    run_dir = Path(run_dir)
    config, completed = resume_point(run_dir)
    use_backend(config.backend)  # before anything imports Keras
    load_plugin(config.models_from)
    if data_dir is not None:
        config.data_dir = data_dir
    config.coordinator, config.num_processes, config.process_id = (coordinator,
                                                                   num_processes, process_id)
    recorded = config.state.global_batch_size
    placement = placement_of(config)
    if placement.replicas * config.batch_size != recorded:
        raise UserError(f"run {run_dir} trained on {config.state.devices['replicas']} "
                        f"replicas but {placement.replicas} are available "
                        "now: resume it where it ran")
    if placement.writes:
        _drop_history_after(run_dir, completed)
    data = load_dataset(config.dataset, config.dataset_options, val_split=config.val_split,
                        data_dir=config.data_dir)
    model, augmentation = prepare_model(config, data, quiet=quiet)
    if not placement.writes:
        return take_part(model, data, config, augmentation=augmentation,
                         run_dir=run_dir, resumed_from=completed)
    config.mark("running")
    config.write(run_dir)
    return fit_and_report(model, data, config, run_dir, quiet=quiet,
                          augmentation=augmentation, resumed_from=completed)


def resume_point(run_dir):
    """(RunConfig, completed epochs) of a run that can be resumed; a UserError otherwise."""
    run_dir = Path(run_dir)
    if not run_dir.is_dir():
        raise UserError(f"--resume {run_dir}: no such run folder")
    config = RunConfig.read(run_dir)
    if config.state.status == "finished":
        raise UserError(f"run {run_dir} finished all its epochs: nothing to resume "
                        "(train a new run, e.g. with more --epochs)")
    metadata = run_dir / "backup" / "training_metadata.json"
    if not metadata.exists():
        raise UserError(f"run {run_dir} has no backup to resume from (it stopped before its "
                        f"first epoch ended); start it again with: {config.command}")
    return config, json.loads(metadata.read_text())["epoch"]


def read_history(run_dir, name="history.csv"):
    """A run's CSV log as {column: [values]} (the csv module: pandas costs half a second)."""
    import csv

    path = Path(run_dir) / name
    if not path.exists():
        return {}
    with open(path, newline="") as f:
        rows = list(csv.DictReader(f))
    # Keras' CSVLogger adds val_* columns filled with "NA" when there is no validation
    # split (a full-batch fit on every point): those columns are left out
    return {key: [float(row[key]) if row[key] != "NA" else math.nan for row in rows]
            for key in (rows[0] if rows else {}) if any(row[key] != "NA" for row in rows)}


def _drop_history_after(run_dir, completed):
    """Keep only the rows of history.csv for the `completed` epochs in the backup."""
    path = run_dir / "history.csv"
    if not path.exists():
        return
    lines = path.read_text().splitlines(keepends=True)
    path.write_text("".join(lines[:1 + completed]))


def _import_matplotlib():
    import matplotlib.backends.backend_agg  # noqa: F401
