"""Hyperparameter search on any registry model, with KerasTuner as the search engine.

    tune(RunConfig(model="mlp", dataset="digits", epochs=3), tuner="grid",
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
import subprocess
import sys
import time
from dataclasses import replace
from pathlib import Path

import keras_tuner

from mlphys.errors import UserError
from mlphys.search_config import SearchConfig, check_direction, search_config
from mlphys.trial import CHECKPOINT, TrialPlan, run_trial

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

    def __init__(self, search, spec):
        super().__init__()
        self.search_config, self.spec = search, spec

    def build(self, hp):
        from mlphys.building import build_model

        model, _ = build_model(self.search_config.run.model, self.spec, hp=hp,
                               dataset_name=self.search_config.run.dataset)
        return model


class _MissingObjective(keras_tuner.errors.FatalError):
    """The objective is not among the logged metrics: every trial would fail alike."""


class SearchTuner(keras_tuner.engine.base_tuner.BaseTuner):
    """Runs each trial with `mlphys.trial`, in this process or in a fresh one (isolate)."""

    def __init__(self, oracle, hypermodel, search, data, **kwargs):
        self.search_config, self.data = search, data
        super().__init__(oracle, hypermodel, **kwargs)

    def run_trial(self, trial, *args, **kwargs):
        plan = self._plan(trial)
        # every trial records what it trains (the run's options included), and an
        # isolated trial's process reads it from there
        settings_file = Path(plan.trial_dir) / "settings.json"
        settings_file.write_text(json.dumps(plan.to_dict(), indent=1))
        if self.search_config.isolate:
            result = self._run_isolated(settings_file)
        else:
            result = run_trial(plan, self.data)
        if result["status"] == "fatal":
            raise _MissingObjective(result["reason"])
        if result["status"] == "failed":
            raise keras_tuner.errors.FailedTrialError(result["reason"])
        objective = self.search_config.objective
        self._report(trial, result)
        return {objective: result["objective"], f"{objective}_std": result["std"],
                "epochs": result["epochs"], "seconds": result["seconds"]}

    def _plan(self, trial):
        """The trial's `TrialPlan`: the search's run with this trial's values and budget."""
        hp = trial.hyperparameters
        run, initial_epoch, warm_start = self.search_config.run, 0, None
        if "tuner/epochs" in hp.values:  # Hyperband's budget for this trial
            run = replace(run, epochs=hp.values["tuner/epochs"])
            initial_epoch = hp.values["tuner/initial_epoch"]
            if hp.values.get("tuner/trial_id"):
                warm_start = str(Path(self.get_trial_dir(hp.values["tuner/trial_id"]))
                                 / CHECKPOINT)
        return TrialPlan(
            run=run, hyperparameters=hp.get_config(), seeds=self.search_config.seeds,
            objective=self.search_config.objective, direction=self.search_config.direction,
            trial_id=trial.trial_id, trial_dir=self.get_trial_dir(trial.trial_id),
            log_dir=str(Path(self.directory) / "logs" / f"trial_{trial.trial_id}"),
            initial_epoch=initial_epoch, warm_start=warm_start, worker=self.tuner_id)

    def _run_isolated(self, settings_file):
        """The trial in a fresh Python process; a crash or a kill is a failed trial."""
        trial_dir = settings_file.parent
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
        if self.search_config.quiet:
            return
        values = " ".join(f"{k}={v}" for k, v in trial.hyperparameters.values.items()
                          if k in self.search_config.searched)
        spread = f" ± {result['std']:.4f}" if self.search_config.repeats > 1 else ""
        print(f"trial {trial.trial_id}: {values}  {self.search_config.objective} "
              f"{result['objective']:.4f}{spread}  ({result['epochs']} epochs, "
              f"{result['seconds']:.1f} s)", flush=True)

    def on_trial_end(self, trial):
        if trial.status != "COMPLETED" and not self.search_config.quiet:
            from mlphys.tuning_report import failure_reason

            print(f"trial {trial.trial_id} failed: {failure_reason(trial.message)}",
                  flush=True)
        super().on_trial_end(trial)


def _oracle(search, hyperparameters):
    common = dict(objective=keras_tuner.Objective(search.objective, search.direction),
                  hyperparameters=hyperparameters, tune_new_entries=False,
                  seed=search.run.seed, max_consecutive_failed_trials=MAX_FAILURES_IN_A_ROW)
    if search.tuner == "grid":
        return _ResumableGridOracle(max_trials=search.max_trials, **common)
    if search.tuner == "random":
        return keras_tuner.oracles.RandomSearchOracle(max_trials=search.max_trials, **common)
    if search.tuner == "bayesian":
        return keras_tuner.oracles.BayesianOptimizationOracle(max_trials=search.max_trials,
                                                              **common)
    return keras_tuner.oracles.HyperbandOracle(max_epochs=search.max_epochs, factor=3,
                                               **common)


def _logged_metrics(spec, has_val):
    """The metrics the engine compiles a model with, as `fit` logs them."""
    names = ["loss", "mae" if spec.task == "regression" else "accuracy"]
    return names + ([f"val_{n}" for n in names] if has_val else [])


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


def tune(run, *, out=None, chief=None, worker=None, worker_id=None, quiet=False,
         **search_options):
    """Search hyperparameters for the `RunConfig` `run`; return a summary dict.

    search_options: those of `mlphys.search_config.search_config` (tuner, spaces,
        max_trials, max_epochs, objective, direction, repeats, isolate).
    out: parent of the tuning folder (default `saved_models/`).
    chief / worker: "HOST:PORT" of KerasTuner's chief oracle for a distributed search;
        the chief serves the trials, each worker (`worker_id` 0, 1, ...) runs them. They
        share the tuning folder `<out>/tune-<model>-<dataset>-<PORT>/`.
    """
    from mlphys.rundir import check_writable, new_run_dir, write_json

    address = _check_distribution(chief, worker, worker_id)
    search = search_config(run, quiet=quiet, **search_options)
    model, label = search.run.model, search.run.label
    if address is None:
        tuning_dir = new_run_dir(out, model, label, prefix="tune-")
    else:
        tuning_dir = check_writable(out) / f"tune-{model}-{label}-{address[1]}"
        tuning_dir.mkdir(exist_ok=True)
        os.environ.update(KERASTUNER_ORACLE_IP=address[0], KERASTUNER_ORACLE_PORT=address[1],
                          KERASTUNER_TUNER_ID="chief" if chief else f"tuner{worker_id}")
    settings_file = tuning_dir / "tune.json"
    if address is not None and settings_file.exists():
        previous = SearchConfig.from_json(json.loads(settings_file.read_text()))
        if not search.same_search(previous):
            raise UserError(f"'{tuning_dir}' holds a search with other settings; give "
                            "another --out or port")
        search.run.seed = previous.run.seed
    if chief or address is None:
        write_json(settings_file, search.to_json())
    from mlphys.cleanup import discarded_unless_started

    # a user error before the search starts (bad data, objective) leaves no tuning folder
    with discarded_unless_started(tuning_dir if address is None else None, "search"):
        return _search(search, tuning_dir, role="chief" if chief else
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
    search = SearchConfig.from_json(json.loads(settings_file.read_text()))
    search.quiet = quiet
    if isolate is not None:
        search.isolate = isolate
    from mlphys.registry import load_plugin

    load_plugin(search.run.models_from)
    return _search(search, tuning_dir, role=None)


def _search(search, tuning_dir, *, role):
    import keras

    from mlphys.datasets import load_dataset
    from mlphys.registry import get_model
    from mlphys.search_space import build_space

    run = search.run
    data = load_dataset(run.dataset, run.dataset_options, val_split=run.val_split,
                        data_dir=run.data_dir)
    has_val = len(data.y_val) > 0
    if search.objective is None:  # what train's best.keras follows on these data
        search.objective = "val_loss" if has_val else "loss"
    search.direction = check_direction(search.objective, search.direction)
    logged = _logged_metrics(data.spec, has_val)
    entry = get_model(run.model)
    if not entry.compiles and search.objective not in logged:
        raise UserError(f"the objective '{search.objective}' is never logged: "
                        f"'{run.model}' on this data logs {', '.join(logged)}")
    space = build_space(entry, search.spaces, run.params)
    if not search.quiet and role != "worker":
        print(f"tuning folder: {tuning_dir}", flush=True)
        print(f"{search.tuner} search over {space.describe_grid()}; objective "
              f"{search.objective} ({search.direction})", flush=True)
    tuner = SearchTuner(_oracle(search, space.hyperparameters()), _Builder(search, data.spec),
                        search, data, directory=str(tuning_dir), project_name="search",
                        overwrite=False)
    keras.backend.clear_session()
    _run_search(tuner, search, tuning_dir, role)
    if role == "worker":
        ran = sorted(p.parent.name.removeprefix("trial_") for p in
                     (tuning_dir / "search").glob("trial_*/result.json")
                     if json.loads(p.read_text()).get("worker") == tuner.tuner_id)
        return {"tuning_dir": str(tuning_dir), "worker": tuner.tuner_id, "trials": ran}
    return _finish(tuner, search, tuning_dir, data)


def _run_search(tuner, search, tuning_dir, role):
    """`tuner.search()`, with its ways of stopping early turned into one-line errors."""
    from mlphys.tuning_report import failure_reason, write_results

    try:
        tuner.search(verbose=0)
    except _MissingObjective as error:
        raise UserError(str(error)) from None
    except KeyboardInterrupt:
        if role is None:
            write_results(tuner, search, tuning_dir)
        raise UserError(f"search interrupted; completed trials are kept: continue it with "
                        f"'mlphys tune --resume {tuning_dir}'") from None
    except RuntimeError as error:
        if "consecutive failures" not in str(error):
            raise
        if role is None:
            write_results(tuner, search, tuning_dir)
        raise UserError(f"{MAX_FAILURES_IN_A_ROW} trials in a row failed, the last with: "
                        f"{failure_reason(str(error))}; see {tuning_dir / 'trials.csv'}"
                        ) from None


def _finish(tuner, search, tuning_dir, data):
    """The trials table and plot, the best run folder and the final tune.json."""
    from mlphys.rundir import write_json
    from mlphys.tuning_report import save_best_run, trials_table, write_results

    table = write_results(tuner, search, tuning_dir)
    best = trials_table(tuner, search, tuning_dir, completed_only=True)
    summary = {"tuning_dir": str(tuning_dir), "trials": len(table),
               "completed": len(best), "best": None, "best_run": None}
    if len(best):
        best_row = best.iloc[0]
        if search.best_trial != best_row["trial"] or not search.best_run:
            search.best_run = str(save_best_run(search, tuning_dir, best_row["trial"], data))
            search.best_trial = best_row["trial"]
        summary.update(best={k: best_row[k] for k in best.columns if k != "rank"},
                       best_run=search.best_run)
    search.status, search.finished = "finished", time.strftime("%Y-%m-%dT%H:%M:%S")
    write_json(tuning_dir / "tune.json", search.to_json())
    summary["table"] = table
    return summary
