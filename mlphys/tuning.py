"""Hyperparameter search on any registry model, with KerasTuner as the search engine.

    mlphys.tune("mlp", "digits", tuner="grid", epochs=3,
                spaces={"hidden_layers": "1,2", "units": "10,20,30",
                        "learning_rate": "1e-3,1e-2,1e-1", "activation": "relu,tanh"})

is what `mlphys tune mlp -d digits --tuner grid --epochs 3 --space ...` runs: the course's
grid of 36 candidates (MLMM 7.12). KerasTuner's oracles propose the configurations
(`GridSearch`, `RandomSearch`, `BayesianOptimization`, `Hyperband`); mlphys builds the space
from the model's declarations (`mlphys.search_space`), trains each trial
(`mlphys.trial`, optionally in its own process), records failed trials and goes on, and
writes results a user can read (`mlphys.tuning_report`).

The tuning folder `<out>/tune-<model>-<dataset>-<timestamp>/` holds `tune.json` (the
settings, enough to resume), `search/` (KerasTuner's oracle and one folder per trial),
`logs/` (TensorBoard, with HParams), `trials.csv`, `trials.png` and `best-.../`, the best
configuration as a normal run folder.
"""

import json
import os
import secrets
import subprocess
import sys
import time
from pathlib import Path

import keras_tuner

from mlphys.errors import UserError
from mlphys.trial import CHECKPOINT, run_trial, trial_seeds

TUNERS = ("grid", "random", "bayesian", "hyperband")
MAX_GRID = 200  # larger grids need an explicit --max-trials
DEFAULT_TRIALS = 10  # random and Bayesian search, as KerasTuner
MAX_FAILURES_IN_A_ROW = 5  # a search whose trials all fail stops early


class _ResumableGridOracle(keras_tuner.oracles.GridSearchOracle):
    """KerasTuner's grid oracle, able to continue a reloaded search.

    `GridSearchOracle` keeps the order of the tried points only in memory: reloaded, it
    would stop at once. After a reload the tried points are put back in grid order, each
    queued to propose its successor; points already tried are skipped as in a live search.
    """

    def set_state(self, state):
        super().set_state(state)
        from functools import cmp_to_key

        values = {i: t.hyperparameters.values for i, t in self.trials.items()}
        ordered = sorted(values, key=cmp_to_key(lambda a, b: self._compare(values[a],
                                                                           values[b])))
        for trial_id in ordered:
            self._ordered_ids.insert(trial_id)
        self._populate_next = list(ordered)


class _Builder(keras_tuner.HyperModel):
    """The registry builder as a KerasTuner hypermodel (compiled like `mlphys train`)."""

    def __init__(self, model_name, spec, dataset_name):
        super().__init__()
        self.model_name, self.spec, self.dataset_name = model_name, spec, dataset_name

    def build(self, hp):
        from mlphys.building import build_model

        model, _ = build_model(self.model_name, self.spec, hp=hp,
                               dataset_name=self.dataset_name)
        return model


class _MissingObjective(keras_tuner.errors.FatalError):
    """The objective is not among the logged metrics: every trial would fail alike."""


class SearchTuner(keras_tuner.engine.base_tuner.BaseTuner):
    """Runs each trial with `mlphys.trial`, in this process or in a fresh one (isolate)."""

    def __init__(self, oracle, hypermodel, settings, data, **kwargs):
        self.settings, self.data = settings, data
        super().__init__(oracle, hypermodel, **kwargs)

    def run_trial(self, trial, *args, **kwargs):
        settings = self._trial_settings(trial)
        trial_dir = Path(settings["trial_dir"])
        if self.settings["isolate"]:
            result = self._run_isolated(settings, trial_dir)
        else:
            result = run_trial(settings, self.data)
        if result["status"] == "fatal":
            raise _MissingObjective(result["reason"])
        if result["status"] == "failed":
            raise keras_tuner.errors.FailedTrialError(result["reason"])
        objective = self.settings["objective"]
        self._report(trial, result)
        return {objective: result["objective"], f"{objective}_std": result["std"],
                "epochs": result["epochs"], "seconds": result["seconds"]}

    def _trial_settings(self, trial):
        s = self.settings
        hp = trial.hyperparameters
        epochs, initial_epoch, warm_start = s["epochs"], 0, None
        if "tuner/epochs" in hp.values:  # Hyperband's budget for this trial
            epochs, initial_epoch = hp.values["tuner/epochs"], hp.values["tuner/initial_epoch"]
            if hp.values.get("tuner/trial_id"):
                warm_start = str(Path(self.get_trial_dir(hp.values["tuner/trial_id"]))
                                 / CHECKPOINT)
        return {
            "model": s["model"], "models_from": s["models_from"], "dataset": s["dataset"],
            "dataset_options": s["dataset_options"], "val_split": s["val_split"],
            "data_dir": s["data_dir"], "hyperparameters": hp.get_config(),
            "epochs": epochs, "initial_epoch": initial_epoch, "warm_start": warm_start,
            "batch_size": s["batch_size"], "seeds": trial_seeds(s["seed"], s["repeats"]),
            "objective": s["objective"], "direction": s["direction"],
            "trial_id": trial.trial_id, "trial_dir": self.get_trial_dir(trial.trial_id),
            "log_dir": str(Path(self.directory) / "logs" / f"trial_{trial.trial_id}"),
            "worker": self.tuner_id,
        }

    def _run_isolated(self, settings, trial_dir):
        """The trial in a fresh Python process; a crash or a kill is a failed trial."""
        settings_file = trial_dir / "settings.json"
        settings_file.write_text(json.dumps(settings))
        (trial_dir / "result.json").unlink(missing_ok=True)
        env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="2")
        done = subprocess.run([sys.executable, "-m", "mlphys.trial", str(settings_file)],
                              stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
                              env=env)
        if done.returncode != 0:
            if done.returncode < 0:
                import signal

                name = signal.Signals(-done.returncode).name
                reason = f"trial process killed by {name}" + (
                    " (out of memory?)" if name == "SIGKILL" else "")
            else:
                lines = [line for line in done.stderr.splitlines() if line.strip()]
                reason = lines[-1] if lines else f"exit status {done.returncode}"
            return {"status": "failed", "reason": reason}
        return json.loads((trial_dir / "result.json").read_text())

    def _report(self, trial, result):
        if self.settings["quiet"]:
            return
        searched = self.settings["searched"]
        values = " ".join(f"{k}={v}" for k, v in trial.hyperparameters.values.items()
                          if k in searched)
        spread = f" ± {result['std']:.4f}" if self.settings["repeats"] > 1 else ""
        print(f"trial {trial.trial_id}: {values}  {self.settings['objective']} "
              f"{result['objective']:.4f}{spread}  ({result['epochs']} epochs, "
              f"{result['seconds']:.1f} s)", flush=True)

    def on_trial_end(self, trial):
        if trial.status != "COMPLETED" and not self.settings["quiet"]:
            from mlphys.tuning_report import failure_reason

            print(f"trial {trial.trial_id} failed: {failure_reason(trial.message)}",
                  flush=True)
        super().on_trial_end(trial)


def _oracle(settings, hyperparameters):
    common = dict(objective=keras_tuner.Objective(settings["objective"],
                                                  settings["direction"]),
                  hyperparameters=hyperparameters, tune_new_entries=False,
                  seed=settings["seed"], max_consecutive_failed_trials=MAX_FAILURES_IN_A_ROW)
    kind = settings["tuner"]
    if kind == "grid":
        return _ResumableGridOracle(max_trials=settings["max_trials"], **common)
    if kind == "random":
        return keras_tuner.oracles.RandomSearchOracle(max_trials=settings["max_trials"],
                                                      **common)
    if kind == "bayesian":
        return keras_tuner.oracles.BayesianOptimizationOracle(
            max_trials=settings["max_trials"], **common)
    return keras_tuner.oracles.HyperbandOracle(max_epochs=settings["max_epochs"], factor=3,
                                               **common)


def _logged_metrics(spec, has_val):
    """The metrics the engine compiles a model with, as `fit` logs them."""
    names = ["loss", "mae" if spec.task == "regression" else "accuracy"]
    return names + ([f"val_{n}" for n in names] if has_val else [])


def _check_grid(space, max_trials):
    size = space.grid_size()
    shape = space.describe_grid()
    if size is None:
        continuous = [n for n, c in space.grid_counts() if c is None]
        raise UserError(
            f"a grid cannot enumerate continuous ranges ({shape}); give their values, e.g. "
            f"--space {continuous[0]}=a,b,c (or int:LO:HI:STEP, log:LO:HI:FACTOR)")
    if max_trials is not None and size > max_trials:
        raise UserError(f"the grid has {size} points ({shape}), more than --max-trials "
                        f"{max_trials}; narrow it with --space NAME=a,b or raise --max-trials")
    if max_trials is None and size > MAX_GRID:
        raise UserError(f"the grid has {size} points ({shape}), more than {MAX_GRID}; "
                        "narrow it with --space NAME=a,b (e.g. --space units=10,20,30) or "
                        f"allow it with --max-trials {size}")
    return size


def _check_distribution(chief, worker, worker_id):
    if chief and worker:
        raise UserError("give --chief or --worker, not both")
    address = chief or worker
    if worker and worker_id is None:
        raise UserError("--worker needs --worker-id N (a different N for each worker)")
    if worker_id is not None and not worker:
        raise UserError("--worker-id goes with --worker HOST:PORT")
    if not address:
        return None
    host, sep, port = address.rpartition(":")
    if not sep or not host or not port.isdigit():
        raise UserError(f"'{address}' is not HOST:PORT; write e.g. 127.0.0.1:8000")
    return host, port


def settings_for(model_name, dataset=None, *, tuner="random", spaces=None, params=None,
                 dataset_options=None, max_trials=None, epochs=None, max_epochs=None,
                 batch_size=None, objective=None, direction=None, repeats=1, seed=None,
                 isolate=False, val_split=0.1, data_dir=None, models_from=None,
                 command=None):
    """Check a search's options (no TensorFlow) and return its settings (`tune.json`)."""
    from mlphys.building import check_compatible
    from mlphys.datasets import get_dataset, looks_like_path
    from mlphys.registry import get_model, load_plugin
    from mlphys.search_space import build_space, infer_direction

    if tuner not in TUNERS:
        raise UserError(f"unknown tuner '{tuner}': choose one of {', '.join(TUNERS)}")
    load_plugin(models_from)
    entry = get_model(model_name)
    dataset = dataset or entry.dataset
    if dataset is None:
        raise UserError(f"model '{model_name}' has no default dataset: give one with "
                        "--dataset")
    if looks_like_path(dataset):
        dataset = str(Path(dataset).resolve()) if Path(dataset).exists() else dataset
    else:
        registered = get_dataset(dataset)
        check_compatible(entry, registered.task, registered.kind, registered.shape, dataset)
    space = build_space(entry, spaces, params)
    if not space.searched:
        raise UserError(f"nothing to search: every hyperparameter of '{model_name}' is "
                        "fixed; name one with --space NAME=a,b")
    if max_trials is not None and max_trials < 1:
        raise UserError(f"--max-trials {max_trials}: give at least 1")
    if repeats < 1:
        raise UserError(f"--repeats {repeats}: give at least 1")
    if tuner == "hyperband":
        if epochs is not None:
            raise UserError("hyperband sets each trial's epochs itself: give --max-epochs, "
                            "not --epochs")
        if max_trials is not None:
            raise UserError("hyperband decides the number of trials from --max-epochs: "
                            "drop --max-trials")
        max_epochs = entry.epochs if max_epochs is None else max_epochs
        if max_epochs < 2:
            raise UserError(f"--max-epochs {max_epochs}: hyperband needs at least 2")
    elif max_epochs is not None:
        raise UserError(f"--max-epochs is for --tuner hyperband; the {tuner} tuner trains "
                        "every trial for --epochs")
    if tuner == "grid":
        max_trials = _check_grid(space, max_trials)
    elif tuner in ("random", "bayesian") and max_trials is None:
        max_trials = DEFAULT_TRIALS
    epochs = entry.epochs if epochs is None else epochs
    batch_size = entry.batch_size if batch_size is None else batch_size
    if epochs < 1 or batch_size < 1:
        raise UserError(f"--epochs {epochs} --batch-size {batch_size}: both must be >= 1")
    objective = objective or ("val_loss" if val_split > 0 else "loss")
    direction = direction or infer_direction(objective)
    if direction not in ("min", "max"):
        raise UserError(f"cannot tell whether '{objective}' is to be minimised or "
                        "maximised: give --direction min or --direction max")
    return {
        "model": model_name, "dataset": dataset, "dataset_options": dataset_options or {},
        "tuner": tuner, "spaces": dict(spaces or {}), "params": space.fixed,
        "searched": [d.name for d in space.searched], "max_trials": max_trials,
        "epochs": epochs, "max_epochs": max_epochs, "batch_size": batch_size,
        "objective": objective, "direction": direction, "repeats": repeats,
        "seed": secrets.randbelow(2**31) if seed is None else seed, "isolate": isolate,
        "val_split": val_split, "data_dir": data_dir,
        "models_from": str(Path(models_from).resolve()) if models_from and
        Path(models_from).exists() else models_from,
        "command": command,
    }


def tune(model_name, dataset=None, *, out=None, chief=None, worker=None, worker_id=None,
         quiet=False, **options):
    """Search hyperparameters of `model_name` on `dataset`; return a summary dict.

    options: those of `settings_for` (tuner, spaces, params, max_trials, epochs, ...).
    out: parent of the tuning folder (default `saved_models/`).
    chief / worker: "HOST:PORT" of KerasTuner's chief oracle for a distributed search;
        the chief serves the trials, each worker (`worker_id` 0, 1, ...) runs them. They
        share the tuning folder `<out>/tune-<model>-<dataset>-<PORT>/`.
    """
    from mlphys.datasets import dataset_label
    from mlphys.rundir import check_writable, new_run_dir, write_json

    address = _check_distribution(chief, worker, worker_id)
    settings = settings_for(model_name, dataset, **options)
    label = dataset_label(settings["dataset"])
    if address is None:
        tuning_dir = new_run_dir(out, model_name, label, prefix="tune-")
    else:
        tuning_dir = check_writable(out) / f"tune-{model_name}-{label}-{address[1]}"
        tuning_dir.mkdir(exist_ok=True)
        os.environ.update(KERASTUNER_ORACLE_IP=address[0], KERASTUNER_ORACLE_PORT=address[1],
                          KERASTUNER_TUNER_ID="chief" if chief else f"tuner{worker_id}")
    settings_file = tuning_dir / "tune.json"
    if address is not None and settings_file.exists():
        previous = json.loads(settings_file.read_text())
        same = ("model", "dataset", "tuner", "spaces", "params", "objective", "epochs")
        if any(previous.get(k) != settings.get(k) for k in same):
            raise UserError(f"'{tuning_dir}' holds a search with other settings; give "
                            "another --out or port")
        settings["seed"] = previous["seed"]
    if chief or address is None:
        write_json(settings_file, {**settings, "status": "running",
                                   "started": time.strftime("%Y-%m-%dT%H:%M:%S")})
    from mlphys.cleanup import discarded_unless_started  # issue 13: no half-written folder

    with discarded_unless_started(tuning_dir if address is None else None, "search"):
        return _search(settings, tuning_dir, quiet=quiet, role="chief" if chief else
                       "worker" if worker else None)


def resume(tuning_dir, *, quiet=False, isolate=None):
    """Continue the search in `tuning_dir`: completed trials are kept, the interrupted one
    is run again, and the search goes on to its end."""
    tuning_dir = Path(tuning_dir)
    settings_file = tuning_dir / "tune.json"
    if not (tuning_dir / "search" / "oracle.json").exists() or not settings_file.exists():
        raise UserError(f"'{tuning_dir}' is not a tuning folder made by 'mlphys tune' "
                        "(no tune.json and search/oracle.json): give the folder the search "
                        "printed")
    settings = json.loads(settings_file.read_text())
    if isolate is not None:
        settings["isolate"] = isolate
    from mlphys.registry import load_plugin

    load_plugin(settings.get("models_from"))
    return _search(settings, tuning_dir, quiet=quiet, role=None)


def _search(settings, tuning_dir, *, quiet, role):
    import keras

    from mlphys.datasets import load_dataset
    from mlphys.rundir import write_json
    from mlphys.search_space import build_space
    from mlphys.registry import get_model
    from mlphys.tuning_report import failure_reason, save_best_run, trials_table, write_results

    data = load_dataset(settings["dataset"], settings["dataset_options"],
                        val_split=settings["val_split"], data_dir=settings["data_dir"])
    logged = _logged_metrics(data.spec, len(data.y_val) > 0)
    if not get_model(settings["model"]).compiles and settings["objective"] not in logged:
        raise UserError(f"the objective '{settings['objective']}' is never logged: "
                        f"'{settings['model']}' on this data logs {', '.join(logged)}")
    entry = get_model(settings["model"])
    spaces = settings["spaces"]
    space = build_space(entry, spaces, {k: str(v) for k, v in settings["params"].items()})
    settings = {**settings, "quiet": quiet}
    if not quiet and role != "worker":
        print(f"tuning folder: {tuning_dir}", flush=True)
        print(f"{settings['tuner']} search over {space.describe_grid()}; objective "
              f"{settings['objective']} ({settings['direction']})", flush=True)
    tuner = SearchTuner(_oracle(settings, space.hyperparameters()),
                        _Builder(settings["model"], data.spec, settings["dataset"]),
                        settings, data, directory=str(tuning_dir), project_name="search",
                        overwrite=False)
    keras.backend.clear_session()
    try:
        tuner.search(verbose=0)
    except _MissingObjective as error:
        raise UserError(str(error)) from None
    except KeyboardInterrupt:
        if role is None:
            write_results(tuner, settings, tuning_dir)
        raise UserError(f"search interrupted; completed trials are kept: continue it with "
                        f"'mlphys tune --resume {tuning_dir}'") from None
    except RuntimeError as error:
        if "consecutive failures" not in str(error):
            raise
        if role is None:
            write_results(tuner, settings, tuning_dir)
        raise UserError(f"{MAX_FAILURES_IN_A_ROW} trials in a row failed, the last with: "
                        f"{failure_reason(str(error))}; see {tuning_dir / 'trials.csv'}"
                        ) from None
    if role == "worker":
        ran = sorted(p.parent.name.removeprefix("trial_") for p in
                     (tuning_dir / "search").glob("trial_*/result.json")
                     if json.loads(p.read_text()).get("worker") == tuner.tuner_id)
        return {"tuning_dir": str(tuning_dir), "worker": tuner.tuner_id, "trials": ran}
    table = write_results(tuner, settings, tuning_dir)
    best = trials_table(tuner, settings, tuning_dir, completed_only=True)
    summary = {"tuning_dir": str(tuning_dir), "trials": len(table),
               "completed": len(best), "best": None, "best_run": None}
    if len(best):
        best_row = best.iloc[0]
        previous = json.loads((tuning_dir / "tune.json").read_text())
        best_run = previous.get("best_run")
        if previous.get("best_trial") != best_row["trial"] or not best_run:
            best_run = str(save_best_run(settings, tuning_dir, best_row["trial"], data))
        summary.update(best={k: best_row[k] for k in best.columns if k != "rank"},
                       best_run=best_run)
        write_json(tuning_dir / "tune.json",
                   {**previous, "status": "finished", "best_trial": best_row["trial"],
                    "best_run": best_run, "finished": time.strftime("%Y-%m-%dT%H:%M:%S")})
    summary["table"] = table
    return summary
