"""One trial of a search: build the model from the trial's hyperparameters, train it once
per seed, keep the best checkpoint and report the objective.

`mlphys tune` runs a trial inside its own process, or, with `--isolate`, as

    python -m mlphys.trial TRIAL_DIR/settings.json

so that whatever TensorFlow keeps in memory after a fit dies with the process. Either way
the trial folder ends up with `result.json`, one `history_<k>.csv` per seed, the weights of
the best seed at its best epoch (`checkpoint.weights.h5`) and TensorBoard logs with the
trial's hyperparameters (HParams dashboard).

A trial fails (and the search goes on) when the loss becomes NaN or when building or
training raises; an objective that the model never logs stops the whole search, since
every other trial would fail the same way.
"""

import json
import math
import os
import sys
import time
from pathlib import Path

from mlphys.rundir import write_json

CHECKPOINT = "checkpoint.weights.h5"


def trial_seeds(seed, repeats):
    """The seeds of the repeats: the same for every configuration (common random numbers,
    so that two configurations differ by their hyperparameters, not by their luck)."""
    return [seed + k for k in range(repeats)]


def _stop_on_nan_callback():
    import keras

    class StopOnNaN(keras.callbacks.Callback):
        """Keras' TerminateOnNaN, remembering where: a stopped epoch logs nothing."""

        epoch = loss = None

        def on_epoch_begin(self, epoch, logs=None):
            self.current = epoch + 1

        def on_train_batch_end(self, batch, logs=None):
            loss = (logs or {}).get("loss")
            if loss is not None and not math.isfinite(float(loss)):
                self.epoch, self.loss = self.current, float(loss)
                self.model.stop_training = True

    return StopOnNaN()


def _fit_once(settings, data, seed, k, trial_dir):
    import keras
    import keras_tuner
    from tensorboard.plugins.hparams import api as hparams_api

    from mlphys.building import build_model

    keras.backend.clear_session()  # also runs gc.collect() (free_memory=True)
    keras.utils.set_random_seed(seed)
    hp = keras_tuner.HyperParameters.from_config(settings["hyperparameters"])
    model, hp = build_model(settings["model"], data.spec, hp=hp,
                            dataset_name=settings["dataset"])
    if settings.get("warm_start"):  # Hyperband: continue the trial it was promoted from
        model.load_weights(settings["warm_start"])
    objective, direction = settings["objective"], settings["direction"]
    log_dir = Path(settings["log_dir"]) / f"seed_{seed}"
    stopper = _stop_on_nan_callback()
    values = {name: value for name, value in hp.values.items()
              if not name.startswith("tuner/")}
    callbacks = [
        keras.callbacks.ModelCheckpoint(trial_dir / f"repeat_{k}.weights.h5",
                                        monitor=objective, mode=direction,
                                        save_best_only=True, save_weights_only=True),
        keras.callbacks.CSVLogger(str(trial_dir / f"history_{k}.csv")),
        stopper,
        keras.callbacks.TensorBoard(log_dir=str(log_dir), write_graph=False,
                                    profile_batch=0),
        hparams_api.KerasCallback(str(log_dir), values,
                                  trial_id=f"trial_{settings['trial_id']}/seed_{seed}"),
    ]
    has_val = len(data.y_val) > 0
    started = time.perf_counter()
    history = model.fit(
        data.x_train, data.y_train, epochs=settings["epochs"],
        initial_epoch=settings.get("initial_epoch", 0), batch_size=settings["batch_size"],
        validation_data=(data.x_val, data.y_val) if has_val else None,
        callbacks=callbacks, verbose=0)
    seconds = time.perf_counter() - started
    if stopper.epoch is not None:
        return {"status": "failed",
                "reason": f"loss became {stopper.loss} at epoch {stopper.epoch}"}
    logged = history.history
    if objective not in logged:
        return {"status": "fatal", "reason": (
            f"the objective '{objective}' is never logged by '{settings['model']}' on this "
            f"data; it logs {', '.join(sorted(logged))}: choose one with --objective")}
    losses = logged.get("loss", [])
    for epoch, loss in enumerate(losses, start=settings.get("initial_epoch", 0) + 1):
        if not math.isfinite(loss):
            return {"status": "failed", "reason": f"loss became {loss} at epoch {epoch}"}
    curve = [v for v in logged[objective] if math.isfinite(v)]
    if not curve:
        return {"status": "failed", "reason": f"{objective} was never finite"}
    best = min(curve) if direction == "min" else max(curve)
    return {"status": "completed", "seed": seed, "objective": best,
            "epochs": settings.get("initial_epoch", 0) + len(history.epoch),
            "seconds": round(seconds, 3), "hyperparameters": dict(hp.values)}


def run_trial(settings, data=None):
    """Train the configuration of one trial with each of its seeds; return and write the
    result (`trial_dir/result.json`).

    settings: what `mlphys.tuning` hands over (model, dataset, hyperparameters as
        `HyperParameters.get_config()`, epochs, initial_epoch, batch_size, seeds,
        objective, direction, trial_dir, log_dir, warm_start, trial_id, worker).
    data: the loaded `Dataset`; None loads it here (a trial in its own process).
    """
    from mlphys.registry import load_plugin

    trial_dir = Path(settings["trial_dir"])
    if data is None:
        from mlphys.datasets import load_dataset

        load_plugin(settings.get("models_from"))
        data = load_dataset(settings["dataset"], settings.get("dataset_options"),
                            val_split=settings["val_split"], data_dir=settings.get("data_dir"))
    repeats = []
    result = {"status": "completed", "worker": settings.get("worker")}
    for k, seed in enumerate(settings["seeds"]):
        outcome = _fit_once(settings, data, seed, k, trial_dir)
        if outcome["status"] != "completed":
            result.update(outcome)
            break
        repeats.append(outcome)
    if result["status"] == "completed":
        sign = 1 if settings["direction"] == "min" else -1
        best = min(range(len(repeats)), key=lambda k: sign * repeats[k]["objective"])
        os.replace(trial_dir / f"repeat_{best}.weights.h5", trial_dir / CHECKPOINT)
        values = [r["objective"] for r in repeats]
        mean = sum(values) / len(values)
        std = math.sqrt(sum((v - mean) ** 2 for v in values) / (len(values) - 1)) \
            if len(values) > 1 else 0.0
        result.update(objective=mean, std=std, best_repeat=best,
                      seed=repeats[best]["seed"], epochs=repeats[best]["epochs"],
                      seconds=round(sum(r["seconds"] for r in repeats), 3),
                      hyperparameters=repeats[best]["hyperparameters"],
                      repeats=[{k: r[k] for k in ("seed", "objective", "epochs", "seconds")}
                               for r in repeats])
    for leftover in trial_dir.glob("repeat_*.weights.h5"):
        leftover.unlink()
    write_json(trial_dir / "result.json", result)
    return result


def main(argv):
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    from mlphys import quiet  # issue 13: the trial's stderr without TensorFlow's log

    quiet.install()
    settings = json.loads(Path(argv[1]).read_text())
    run_trial(settings)


if __name__ == "__main__":
    main(sys.argv)
