"""Training a registry model on a registry dataset, into a run folder.

    mlphys.train("cnn", "digits", epochs=5, seed=1)

is what `mlphys train cnn -d digits --epochs 5 --seed 1` runs. The run folder holds the
final and best models, `config.json` (everything needed to rerun), `history.csv`,
`metrics.json`, `curves.png`, the confusion matrix of a classifier and TensorBoard logs.
"""

import math
import secrets
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from mlphys.errors import UserError

MONITOR = "val_loss"


def _callbacks(run_dir, monitor, patience):
    import keras

    callbacks = [
        keras.callbacks.ModelCheckpoint(run_dir / "best.keras", monitor=monitor,
                                        save_best_only=True),
        keras.callbacks.CSVLogger(str(run_dir / "history.csv")),
        # scalars per epoch; the graph is left out: writing it took ~0.25 s of every run
        # (cnn on digits) and shows little that `mlphys info --shape` does not
        keras.callbacks.TensorBoard(log_dir=str(run_dir / "logs"), write_graph=False),
        keras.callbacks.TerminateOnNaN(),
    ]
    if patience is not None:
        callbacks.append(keras.callbacks.EarlyStopping(monitor=monitor, patience=patience,
                                                       restore_best_weights=True))
    return callbacks


def _import_matplotlib():
    import matplotlib.backends.backend_agg  # noqa: F401


def _verbosity(quiet):
    """Keras' progress bar in a terminal, one line per epoch in a log file, or nothing."""
    if quiet:
        return 0
    return 1 if sys.stdout.isatty() else 2


def train(model_name, dataset=None, params=None, *, dataset_options=None, epochs=None,
          batch_size=None, seed=None, out=None, val_split=0.1, patience=None, quiet=False,
          data_dir=None, models_from=None, command=None):
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
    check_writable(out)
    seed = secrets.randbelow(2**31) if seed is None else seed

    import keras

    from mlphys.datasets import load_dataset
    from mlphys.evaluation import score
    from mlphys.plots import plot_confusion_matrix, plot_curves

    keras.utils.set_random_seed(seed)
    data = load_dataset(dataset, dataset_options, val_split=val_split, data_dir=data_dir)
    model, hp = build_model(model_name, data.spec, typed_params, dataset_name=dataset)

    run_dir = new_run_dir(out, model_name, dataset_label(dataset))
    has_val = len(data.y_val) > 0
    monitor = MONITOR if has_val else "loss"
    config = {
        "model": model_name,
        "dataset": dataset,
        "dataset_options": data.options,
        "hyperparameters": dict(hp.values),
        "training": {"epochs": epochs, "batch_size": batch_size, "val_split": val_split,
                     "patience": patience, "monitor": monitor},
        "seed": seed,
        "command": command,
        "models_from": str(Path(models_from).resolve()) if models_from and
        Path(models_from).exists() else models_from,
        "data": {"spec": data.spec.to_dict(), "sizes": data.sizes(),
                 "provenance": data.provenance},
        "parameters": int(model.count_params()),
        "versions": environment(),
        "started": time.strftime("%Y-%m-%dT%H:%M:%S"),
        "status": "running",
    }
    write_json(run_dir / "config.json", config)

    # Figures are drawn by one background thread (matplotlib's import included, ~0.5 s)
    # while TensorFlow trains and scores, so they add little to the wall time of a run
    # (bench/train_overhead.py measures mlphys against a bare `fit`).
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="mlphys-plots") as plotter:
        plotter.submit(_import_matplotlib)
        started = time.perf_counter()
        history = model.fit(
            data.x_train, data.y_train, epochs=epochs, batch_size=batch_size,
            validation_data=(data.x_val, data.y_val) if has_val else None,
            callbacks=_callbacks(run_dir, monitor, patience), verbose=_verbosity(quiet))
        train_seconds = time.perf_counter() - started
        title = f"{model_name} on {dataset_label(dataset)}"
        curves = plotter.submit(plot_curves, history.history, run_dir / "curves.png", title)
        model.save(run_dir / "model.keras")
        metrics, confusion = score(model, data, "test")
        write_json(run_dir / "metrics.json", {"split": "test", **metrics})
        if confusion is not None:
            matrix = plotter.submit(plot_confusion_matrix, confusion, data.spec.class_names,
                                    run_dir / "confusion_matrix.png", f"{title}: test set")
            matrix.result()
        curves.result()
    losses = history.history.get("loss", [])
    diverged = bool(losses) and not math.isfinite(losses[-1])  # TerminateOnNaN stopped it
    config.update(status="diverged (NaN loss)" if diverged else "finished",
                  epochs_run=len(history.epoch),
                  train_seconds=round(train_seconds, 2),
                  finished=time.strftime("%Y-%m-%dT%H:%M:%S"))
    write_json(run_dir / "config.json", config)
    return {"run_dir": str(run_dir), "metrics": metrics, "epochs_run": len(history.epoch),
            "seed": seed, "status": config["status"]}
