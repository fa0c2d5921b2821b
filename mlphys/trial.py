"""One trial of a search: the run's `RunConfig` with the trial's hyperparameters, trained
once per seed through the same fit core as `mlphys train`; keep the best checkpoint and
report the objective.

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
from dataclasses import asdict, dataclass, replace
from pathlib import Path

from mlphys.rundir import write_json
from mlphys.runconfig import RunConfig, RunState

CHECKPOINT = "checkpoint.weights.h5"


@dataclass
class TrialPlan:
    """What one trial trains: the search's run with this trial's hyperparameters."""

    run: RunConfig  # what `mlphys train` would train; its epochs are this trial's budget
    hyperparameters: dict  # `keras_tuner.HyperParameters.get_config()` of the trial
    seeds: list
    objective: str
    direction: str
    trial_id: str
    trial_dir: str
    log_dir: str
    initial_epoch: int = 0  # Hyperband: where a promoted trial continues
    warm_start: str | None = None  # Hyperband: the checkpoint it continues from
    worker: str | None = None

    def to_dict(self):
        return {**asdict(self), "run": self.run.to_dict()}

    @classmethod
    def from_dict(cls, values):
        return cls(**{**values, "run": RunConfig.from_dict(values["run"])})


def _recorders(plan, trial_dir, k, seed, values):
    """What a trial keeps of a fit: the weights at the best objective, the CSV log and
    TensorBoard with the trial's hyperparameters (HParams)."""
    import keras
    from tensorboard.plugins.hparams import api as hparams_api

    from mlphys.callbacks import EpochScalars

    log_dir = Path(plan.log_dir) / f"seed_{seed}"
    return [
        keras.callbacks.ModelCheckpoint(trial_dir / f"repeat_{k}.weights.h5",
                                        monitor=plan.objective, mode=plan.direction,
                                        save_best_only=True, save_weights_only=True),
        keras.callbacks.CSVLogger(str(trial_dir / f"history_{k}.csv")),
        EpochScalars(log_dir=str(log_dir), write_graph=False, profile_batch=0),
        hparams_api.KerasCallback(str(log_dir), values,
                                  trial_id=f"trial_{plan.trial_id}/seed_{seed}"),
    ]


def _fit_once(plan, data, seed, k):
    import keras
    import keras_tuner

    from mlphys.fitting import fit, prepare_model

    keras.backend.clear_session()  # also runs gc.collect(): nothing of the last trial stays
    trial_dir = Path(plan.trial_dir)
    config = replace(plan.run, seed=seed, state=RunState())
    hp = keras_tuner.HyperParameters.from_config(plan.hyperparameters)
    model, augmentation = prepare_model(config, data, hp=hp, quiet=True)
    if plan.warm_start:  # Hyperband: continue the trial it was promoted from
        model.load_weights(plan.warm_start)
    started = time.perf_counter()
    history, nan_stop = fit(model, data, config,
                            recorders=_recorders(plan, trial_dir, k, seed,
                                                 config.hyperparameters),
                            callback_dir=trial_dir, augmentation=augmentation,
                            initial_epoch=plan.initial_epoch)
    seconds = time.perf_counter() - started
    if nan_stop.epoch is not None:
        return {"status": "failed",
                "reason": f"loss became {nan_stop.loss} at epoch {nan_stop.epoch}"}
    return _outcome(plan, history, seed, seconds, dict(hp.values))  # tuner/ values too


def _outcome(plan, history, seed, seconds, values):
    logged, objective = history.history, plan.objective
    if objective not in logged:
        return {"status": "fatal", "reason": (
            f"the objective '{objective}' is never logged by '{plan.run.model}' on this "
            f"data; it logs {', '.join(sorted(logged))}: choose one with --objective")}
    for epoch, loss in enumerate(logged.get("loss", []), start=plan.initial_epoch + 1):
        if not math.isfinite(loss):
            return {"status": "failed", "reason": f"loss became {loss} at epoch {epoch}"}
    curve = [v for v in logged[objective] if math.isfinite(v)]
    if not curve:
        return {"status": "failed", "reason": f"{objective} was never finite"}
    best = min(curve) if plan.direction == "min" else max(curve)
    return {"status": "completed", "seed": seed, "objective": best,
            "epochs": plan.initial_epoch + len(history.epoch),
            "seconds": round(seconds, 3), "hyperparameters": values}


def run_trial(plan, data=None):
    """Train the configuration of one trial with each of its seeds; return and write the
    result (`trial_dir/result.json`).

    data: the loaded `Dataset`; None loads it here (a trial in its own process).
    """
    trial_dir = Path(plan.trial_dir)
    if data is None:
        from mlphys.datasets import load_dataset
        from mlphys.registry import load_plugin

        load_plugin(plan.run.models_from)
        data = load_dataset(plan.run.dataset, plan.run.dataset_options,
                            val_split=plan.run.val_split, data_dir=plan.run.data_dir)
    repeats = []
    result = {"status": "completed", "worker": plan.worker}
    for k, seed in enumerate(plan.seeds):
        outcome = _fit_once(plan, data, seed, k)
        if outcome["status"] != "completed":
            result.update(outcome)
            break
        repeats.append(outcome)
    if result["status"] == "completed":
        result.update(_summary(plan, repeats, trial_dir))
    for leftover in trial_dir.glob("repeat_*.weights.h5"):
        leftover.unlink()
    write_json(trial_dir / "result.json", result)
    return result


def _summary(plan, repeats, trial_dir):
    """Mean and spread of the objective over the seeds; the best seed's checkpoint."""
    sign = 1 if plan.direction == "min" else -1
    best = min(range(len(repeats)), key=lambda k: sign * repeats[k]["objective"])
    os.replace(trial_dir / f"repeat_{best}.weights.h5", trial_dir / CHECKPOINT)
    values = [r["objective"] for r in repeats]
    mean = sum(values) / len(values)
    std = math.sqrt(sum((v - mean) ** 2 for v in values) / (len(values) - 1)) \
        if len(values) > 1 else 0.0
    return dict(objective=mean, std=std, best_repeat=best, seed=repeats[best]["seed"],
                epochs=repeats[best]["epochs"],
                seconds=round(sum(r["seconds"] for r in repeats), 3),
                hyperparameters=repeats[best]["hyperparameters"],
                repeats=[{k: r[k] for k in ("seed", "objective", "epochs", "seconds")}
                         for r in repeats])


def main(argv):
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    import mlphys.quiet as quiet  # the trial's stderr without TensorFlow's start-up log

    quiet.install()
    plan = TrialPlan.from_dict(json.loads(Path(argv[1]).read_text()))
    run_trial(plan)


if __name__ == "__main__":
    main(sys.argv)
