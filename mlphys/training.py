"""Training a registry model on a registry dataset, into a run folder.

    mlphys.train("cnn", "digits", epochs=5, seed=1)

is what `mlphys train cnn -d digits --epochs 5 --seed 1` runs. The run folder holds the
final and best models, `config.json` (everything needed to rerun), `history.csv`,
`metrics.json`, `curves.png`, the confusion matrix of a classifier and TensorBoard logs.
"""

import csv
import json
import math
import secrets
import signal
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from pathlib import Path

import numpy as np

from mlphys.errors import Interrupted, UserError

MONITOR = "val_loss"


def _callbacks(run_dir, monitor, patience, best_so_far=None):
    """Checkpoints, logs and the backup that `--resume` continues from.

    best_so_far: on a resumed run, the best monitored value of the epochs already done, so
        that best.keras is only replaced by a better epoch.
    """
    import keras

    callbacks = [
        keras.callbacks.ModelCheckpoint(run_dir / "best.keras", monitor=monitor,
                                        save_best_only=True,
                                        initial_value_threshold=best_so_far),
        keras.callbacks.CSVLogger(str(run_dir / "history.csv"), append=best_so_far is not None),
        # after the CSV row: a kill between the two repeats that epoch, and resume()
        # drops its row first, so history.csv ends with every epoch exactly once
        keras.callbacks.BackupAndRestore(str(run_dir / "backup"), double_checkpoint=True),
        # scalars per epoch; the graph is left out: writing it took ~0.25 s of every run
        # (cnn on digits) and shows little that `mlphys info --shape` does not
        keras.callbacks.TensorBoard(log_dir=str(run_dir / "logs"), write_graph=False),
        keras.callbacks.TerminateOnNaN(),
    ]
    if patience is not None:
        callbacks.append(keras.callbacks.EarlyStopping(monitor=monitor, patience=patience,
                                                       restore_best_weights=True))
    return callbacks


@contextmanager
def _ctrl_c_stops_after_batch():
    """Yield a callback that ends `fit` at the end of the batch during which Ctrl-C was
    pressed (a second Ctrl-C stops at once). The backup of the last completed epoch stays."""
    import keras

    pressed = threading.Event()

    class StopAfterBatch(keras.callbacks.Callback):
        def on_train_batch_end(self, batch, logs=None):
            if pressed.is_set():
                raise KeyboardInterrupt

    if threading.current_thread() is not threading.main_thread():
        yield StopAfterBatch()
        return

    def handler(signum, frame):
        pressed.set()
        signal.signal(signal.SIGINT, previous)

    previous = signal.signal(signal.SIGINT, handler)
    try:
        yield StopAfterBatch()
    finally:
        signal.signal(signal.SIGINT, previous)


PRECISIONS = ("float32", "mixed_float16", "mixed_bfloat16")


@contextmanager
def _dtype_policy(precision):
    """Build layers under Keras' dtype policy `precision` (compute in float16/bfloat16,
    variables in float32), restoring the previous policy afterwards."""
    import keras

    if precision not in PRECISIONS:
        raise UserError(f"--precision {precision}: choose one of {', '.join(PRECISIONS)}")
    previous = keras.config.dtype_policy()
    keras.config.set_dtype_policy(precision)
    try:
        yield
    finally:
        keras.config.set_dtype_policy(previous)


def _read_history(run_dir):
    """history.csv as {column: [values]} (the csv module: pandas costs half a second)."""
    path = run_dir / "history.csv"
    if not path.exists():
        return {}
    with open(path, newline="") as f:
        rows = list(csv.DictReader(f))
    # Keras' CSVLogger adds val_* columns filled with "NA" when there is no validation
    # split (a full-batch fit on every point): those columns are left out
    return {key: [float(row[key]) if row[key] != "NA" else math.nan for row in rows]
            for key in (rows[0] if rows else {}) if any(row[key] != "NA" for row in rows)}


def _import_matplotlib():
    import matplotlib.backends.backend_agg  # noqa: F401


def _verbosity(quiet):
    """Keras' progress bar in a terminal, one line per epoch in a log file, or nothing."""
    if quiet:
        return 0
    return 1 if sys.stdout.isatty() else 2


def train(model_name, dataset=None, params=None, *, dataset_options=None, epochs=None,
          batch_size=None, seed=None, out=None, val_split=0.1, patience=None, quiet=False,
          data_dir=None, models_from=None, command=None, precision="float32",
          distribute="none", augment=None, augment_engine="generator", replicas=1,
          run_name=None):
    """Train `model_name` on `dataset` and write a run folder; return a summary dict.

    dataset: registry name or path of a user's file; None means the model's default.
    params: hyperparameter values by name (`{"units": 256}`); the rest keep their defaults.
    dataset_options: the dataset loader's options (`{"size": 8}`).
    epochs, batch_size: None means the model's defaults.
    seed: seeds Python, NumPy and TensorFlow; None draws one, recorded in config.json.
    out: parent folder of the run folder (default `saved_models/`).
    val_split: fraction of the training data held out for validation when the dataset
        has no validation split.
    patience: early stopping on the validation loss after this many epochs without
        improvement (the best weights are kept); None trains all epochs.
    precision: "float32", or "mixed_float16" / "mixed_bfloat16" (Keras mixed precision:
        faster on GPUs with tensor cores; the output layer stays float32).
    distribute: "none" or "mirrored" (all local GPUs); the batch size is per replica
        (see mlphys.distribute).
    augment: a preset name, a JSON/YAML file or a dict of ImageDataGenerator arguments:
        training batches are randomly transformed by `augment_engine` ("generator" or
        "layers"); standardisations become the model's first layers (mlphys.augmentation).
    replicas: train an ensemble of this many copies, each on its own Monte Carlo replica
        of the targets (mlphys.ensembles); the saved model predicts their mean.
    run_name: the run folder's name instead of `<model>-<dataset>-<time>`.
    """
    from mlphys.building import build_model, check_compatible
    from mlphys.datasets import dataset_label, get_dataset, looks_like_path
    from mlphys.hparams import resolve_params
    from mlphys.registry import get_model, load_plugin
    from mlphys.rundir import check_writable, environment, new_run_dir, write_json

    load_plugin(models_from)
    entry = get_model(model_name)
    dataset = dataset or entry.dataset
    if dataset is None:
        raise UserError(f"model '{model_name}' has no default dataset: give one with "
                        f"--dataset (see 'mlphys info {model_name}')")
    if looks_like_path(dataset):  # recorded absolute, so that evaluate works from anywhere
        dataset = str(Path(dataset).resolve()) if Path(dataset).exists() else dataset
    else:  # refuse a misfit before loading any data
        registered = get_dataset(dataset)
        check_compatible(entry, registered.task, registered.kind, registered.shape, dataset)
    typed_params = resolve_params(entry, params)
    epochs = entry.epochs if epochs is None else epochs
    batch_size = entry.batch_size if batch_size is None else batch_size
    if epochs < 1 or batch_size < 1:
        raise UserError(f"--epochs {epochs} --batch-size {batch_size}: both must be >= 1")
    from mlphys.ensembles import check_replicas

    check_replicas(replicas, entry)
    check_writable(out)
    seed = secrets.randbelow(2**31) if seed is None else seed

    import keras

    from mlphys.datasets import load_dataset

    from mlphys.distribute import place

    placement = place(distribute)
    keras.utils.set_random_seed(seed)
    data = load_dataset(dataset, dataset_options, val_split=val_split, data_dir=data_dir)
    augmentation = _augmentation(augment, augment_engine, data, dataset)
    with placement.scope(), _dtype_policy(precision):
        model, hp = build_model(model_name, data.spec, typed_params, dataset_name=dataset)
        if replicas > 1:  # the model above was built only to fill `hp`
            model = _ensemble(entry, hp, data.spec, replicas)
        model = _standardised(model, augmentation, data)

    run_dir = new_run_dir(out, model_name, dataset_label(dataset), name=run_name)
    has_val = len(data.y_val) > 0
    monitor = MONITOR if has_val else "loss"
    config = {
        "model": model_name,
        "dataset": dataset,
        "dataset_options": data.options,
        "hyperparameters": dict(hp.values),
        "training": {"epochs": epochs, "batch_size": batch_size, "val_split": val_split,
                     "patience": patience, "monitor": monitor, "precision": precision,
                     "distribute": placement.describe(), "replicas": replicas,
                     "steps_per_epoch": entry.steps_per_epoch,
                     "global_batch_size": batch_size * placement.replicas},
        "seed": seed,
        "command": command,
        "models_from": str(Path(models_from).resolve()) if models_from and
        Path(models_from).exists() else models_from,
        "data": {"spec": data.spec.to_dict(), "sizes": data.sizes(),
                 "provenance": data.provenance},
        "augmentation": augmentation and {"engine": augmentation["engine"],
                                           "arguments": augmentation["arguments"]},
        "parameters": int(model.count_params()),
        "versions": environment(),
        "started": time.strftime("%Y-%m-%dT%H:%M:%S"),
        "status": "running",
    }
    write_json(run_dir / "config.json", config)
    return _fit_and_report(model, data, run_dir, config, quiet, augmentation)


def _fit_and_report(model, data, run_dir, config, quiet, augmentation=None,
                    resumed_from=None):
    """Fit (or continue fitting) and write the model, metrics, figures and final config."""
    from mlphys.datasets import dataset_label
    from mlphys.evaluation import score_entry
    from mlphys.plots import plot_confusion_matrix, plot_curves
    from mlphys.registry import get_model
    from mlphys.rundir import write_json
    from mlphys.streams import keras_inputs

    training = config["training"]
    has_val = len(data.y_val) > 0
    best_so_far = None
    if resumed_from is not None:
        done = _read_history(run_dir).get(training["monitor"], [])
        best_so_far = min(done) if done else None
    # Figures are drawn by one background thread (matplotlib's import included, ~0.5 s)
    # while TensorFlow trains and scores, so they add little to the wall time of a run
    # (bench/train_overhead.py measures mlphys against a bare `fit`).
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="mlphys-plots") as plotter:
        plotter.submit(_import_matplotlib)
        started = time.perf_counter()
        with _ctrl_c_stops_after_batch() as stop_after_batch:
            batch_size = training.get("global_batch_size", training["batch_size"])
            x, y, batch = keras_inputs(data.x_train, data.y_train, batch_size, config["seed"])
            if augmentation:
                from mlphys.augmentation import augmented_batches, transforms_only

                x = augmented_batches(transforms_only(augmentation["config"]), data.x_train,
                                      data.y_train, batch_size, augmentation["engine"],
                                      config["seed"])
                y = batch = None
            weight = data.sample_weight("train") if y is not None else None
            val_x, val_y, _ = keras_inputs(data.x_val, data.y_val, batch_size)
            validation = (val_x if val_y is None else (val_x, val_y)) if has_val else None
            if has_val and val_y is not None and data.sample_weight("val") is not None:
                validation = (val_x, val_y, data.sample_weight("val"))  # chi^2 / N
            if training.get("replicas", 1) > 1:
                from mlphys.ensembles import replica_targets

                y = replica_targets(data, training["replicas"], config["seed"])
                if weight is not None:  # one weight per sample and member
                    weight = np.repeat(weight[:, None], training["replicas"], axis=1)
            steps = training.get("steps_per_epoch")
            if steps and y is not None:
                x, y, weight, batch = _repeating(x, y, weight, batch, config["seed"]), \
                    None, None, None
            try:
                model.fit(
                    x, y, epochs=training["epochs"], batch_size=batch, sample_weight=weight,
                    steps_per_epoch=steps,
                    shuffle=y is not None,  # a stream shuffles its own file names
                    validation_data=validation,
                    callbacks=[*_callbacks(run_dir, training["monitor"],
                                           training["patience"], best_so_far),
                               *_entry_callbacks(config["model"], run_dir),
                               stop_after_batch],
                    verbose=_verbosity(quiet))
            except KeyboardInterrupt:
                done = len(_read_history(run_dir).get("epoch", []))
                config.update(status="interrupted", epochs_run=done)
                write_json(run_dir / "config.json", config)
                raise Interrupted(f"interrupted after {done} complete epoch(s); continue "
                                  f"with: mlphys train --resume {run_dir}") from None
        train_seconds = time.perf_counter() - started
        history = _read_history(run_dir)
        title = f"{config['model']} on {dataset_label(config['dataset'])}"
        curves = plotter.submit(plot_curves, history, run_dir / "curves.png", title)
        model.save(run_dir / "model.keras")
        metrics, confusion = score_entry(model, data, "test", config["model"])
        write_json(run_dir / "metrics.json", {"split": "test", **metrics})
        if confusion is not None:
            matrix = plotter.submit(plot_confusion_matrix, confusion, data.spec.class_names,
                                    run_dir / "confusion_matrix.png", f"{title}: test set")
            matrix.result()
        curves.result()
        entry = get_model(config["model"])
        if entry.figures is not None:
            entry.figures(model, data, run_dir)
    losses = history.get("loss", [])
    diverged = bool(losses) and not math.isfinite(losses[-1])  # TerminateOnNaN stopped it
    epochs_run = len(history.get("epoch", []))
    if resumed_from is not None:
        config.setdefault("resumed", []).append(
            {"from_epoch": resumed_from, "at": time.strftime("%Y-%m-%dT%H:%M:%S")})
    status = f"diverged (NaN loss in epoch {epochs_run})" if diverged else "finished"
    config.update(status=status,
                  epochs_run=epochs_run,
                  train_seconds=round(config.get("train_seconds", 0) + train_seconds, 2),
                  finished=time.strftime("%Y-%m-%dT%H:%M:%S"))
    write_json(run_dir / "config.json", config)
    return {"run_dir": str(run_dir), "metrics": metrics, "epochs_run": epochs_run,
            "seed": config["seed"], "status": config["status"]}


def resume(run_dir, *, quiet=False, data_dir=None):
    """Continue an interrupted or killed run from its last completed epoch.

    Rebuilds the model and data from the run's config.json (same seed, hyperparameters and
    dataset options), restores the weights and optimizer state that
    `keras.callbacks.BackupAndRestore` saved after the last completed epoch, and trains the
    remaining epochs into the same folder.
    """
    import keras

    from mlphys.building import build_model
    from mlphys.datasets import load_dataset
    from mlphys.registry import get_model, load_plugin
    from mlphys.rundir import write_json

    run_dir = Path(run_dir)
    config, completed = resume_point(run_dir)
    _drop_history_after(run_dir, completed)
    load_plugin(config.get("models_from"))
    keras.utils.set_random_seed(config["seed"])
    training = config["training"]
    data = load_dataset(config["dataset"], config.get("dataset_options"),
                        val_split=training["val_split"], data_dir=data_dir)
    from mlphys.distribute import place

    placement = place(training.get("distribute", {}).get("strategy", "none"))
    if placement.replicas * training["batch_size"] != training.get(
            "global_batch_size", training["batch_size"]):
        raise UserError(f"run {run_dir} trained on {training['distribute']['replicas']} "
                        f"replicas but {placement.replicas} are available now: resume it "
                        "where it ran")
    saved = config.get("augmentation")
    augmentation = saved and _augmentation(saved["arguments"], saved["engine"], data,
                                           config["dataset"])
    with placement.scope(), _dtype_policy(training.get("precision", "float32")):
        model, hp = build_model(config["model"], data.spec, config["hyperparameters"],
                                dataset_name=config["dataset"])
        if training.get("replicas", 1) > 1:
            model = _ensemble(get_model(config["model"]), hp, data.spec,
                              training["replicas"])
        model = _standardised(model, augmentation, data)
    config.update(status="running")
    write_json(run_dir / "config.json", config)
    return _fit_and_report(model, data, run_dir, config, quiet, augmentation,
                           resumed_from=completed)


def _entry_callbacks(model_name, run_dir):
    """The model entry's own callbacks for this run (`register_model(callbacks=...)`)."""
    from mlphys.registry import get_model

    make = get_model(model_name).callbacks
    return list(make(run_dir)) if make is not None else []


def _repeating(x, y, weight, batch_size, seed):
    """Shuffled batches of (x, y[, weight]) without end, for epochs of a fixed number of
    steps (`steps_per_epoch`): full-batch problems take thousands of optimisation steps,
    and checkpoints and logs then come once per epoch, not once per step."""
    import tensorflow as tf

    items = (x, y) if weight is None else (x, y, weight)
    pipeline = tf.data.Dataset.from_tensor_slices(items)
    if batch_size < len(x):
        pipeline = pipeline.shuffle(len(x), seed=seed, reshuffle_each_iteration=True)
    return pipeline.batch(min(batch_size, len(x))).repeat().prefetch(tf.data.AUTOTUNE)


def _ensemble(entry, hp, spec, replicas):
    """`replicas` copies of the model (fresh initial weights each), compiled as one.

    The members are built afresh, uncompiled: a compiled member would carry an optimizer
    of its own into the saved ensemble."""
    from mlphys.building import compile_for_task
    from mlphys.ensembles import ensemble_of

    members = [entry.builder(hp, spec) for _ in range(replicas)]
    model = ensemble_of(members)
    compile_for_task(model, hp, spec)
    return model


def _augmentation(augment, engine, data, dataset):
    """The resolved augmentation of a run ({engine, arguments, config}), or None."""
    if not augment:
        return None
    from mlphys.augmentation import changed, resolve
    from mlphys.streams import ImageStream

    if data.spec.kind != "image":
        raise UserError(f"--augment transforms images, but '{dataset}' holds "
                        f"{data.spec.kind} data")
    if isinstance(data.x_train, ImageStream):
        raise UserError("--augment does not work with --stream yet: train the folder in "
                        "memory (without --stream) to augment it")
    if engine not in ("generator", "layers"):
        raise UserError(f"--augment-engine {engine}: choose generator or layers")
    config = resolve(None, augment) if isinstance(augment, dict) else resolve(augment)
    return {"engine": engine, "arguments": changed(config), "config": config}


def _standardised(model, augmentation, data):
    """The model with the augmentation's standardisations in front (see augmentation)."""
    if not augmentation:
        return model
    from mlphys.augmentation import with_standardisation

    return with_standardisation(model, augmentation["config"], data.x_train)


def resume_point(run_dir):
    """(config, completed epochs) of a run that can be resumed; a UserError otherwise."""
    from mlphys.rundir import read_config

    run_dir = Path(run_dir)
    if not run_dir.is_dir():
        raise UserError(f"--resume {run_dir}: no such run folder")
    config = read_config(run_dir)
    if config.get("status") == "finished":
        raise UserError(f"run {run_dir} finished all its epochs: nothing to resume "
                        "(train a new run, e.g. with more --epochs)")
    metadata = run_dir / "backup" / "training_metadata.json"
    if not metadata.exists():
        raise UserError(f"run {run_dir} has no backup to resume from (it stopped before its "
                        f"first epoch ended); start it again with: {config.get('command')}")
    return config, json.loads(metadata.read_text())["epoch"]


def _drop_history_after(run_dir, completed):
    """Keep only the rows of history.csv for the `completed` epochs in the backup."""
    path = run_dir / "history.csv"
    if not path.exists():
        return
    lines = path.read_text().splitlines(keepends=True)
    path.write_text("".join(lines[:1 + completed]))
