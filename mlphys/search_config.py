"""`SearchConfig`: the settings of a hyperparameter search, one typed object (`tune.json`).

A search is a `RunConfig` (what every trial trains, exactly as `mlphys train` would) plus
what the search itself needs: the tuner, the space, the objective, the repeats. It is
checked here, without TensorFlow, before a tuning folder is made.
"""

import time
from dataclasses import dataclass, field, replace

from mlphys.errors import UserError
from mlphys.runconfig import RunConfig

TUNERS = ("grid", "random", "bayesian", "hyperband")
MAX_GRID = 200  # larger grids need an explicit --max-trials
DEFAULT_TRIALS = 10  # random and Bayesian search, as KerasTuner


@dataclass
class SearchConfig:
    """A search: the run every trial trains, and how the search chooses among them."""

    run: RunConfig  # resolved; its params are the hyperparameters fixed in the search
    tuner: str = "random"
    spaces: dict = field(default_factory=dict)  # --space NAME=SPEC as given
    searched: list = field(default_factory=list)  # names of the searched hyperparameters
    max_trials: int | None = None
    max_epochs: int | None = None  # hyperband's longest trial
    objective: str | None = None  # None: val_loss, or loss for data without a val split
    direction: str | None = None  # None: from the objective's name
    repeats: int = 1  # seeds per configuration
    isolate: bool = False  # each trial in its own process
    quiet: bool = False  # not recorded: how this process prints
    status: str = "running"
    started: str | None = None
    finished: str | None = None
    best_trial: str | None = None
    best_run: str | None = None

    def to_json(self):
        return {"run": self.run.to_json(),
                **{name: getattr(self, name) for name in self._RECORDED}}

    _RECORDED = ("tuner", "spaces", "searched", "max_trials", "max_epochs", "objective",
                 "direction", "repeats", "isolate", "status", "started", "finished",
                 "best_trial", "best_run")

    @classmethod
    def from_json(cls, content):
        if "run" not in content:
            raise UserError("this tune.json was written by an older mlphys (before "
                            "2026-12-01) and cannot be resumed; start the search again")
        return cls(run=RunConfig.from_json(content["run"]),
                   **{k: content[k] for k in cls._RECORDED if k in content})

    @property
    def seeds(self):
        """The seeds of the repeats: the same for every configuration (common random
        numbers, so that two configurations differ by their hyperparameters, not by
        their luck)."""
        return [self.run.seed + k for k in range(self.repeats)]

    def same_search(self, other):
        """Whether `other` (a chief's tune.json) is this search, for a worker joining."""
        keys = ("tuner", "spaces", "objective")
        run_keys = ("model", "dataset", "params", "epochs")
        return all(getattr(self, k) == getattr(other, k) for k in keys) and all(
            getattr(self.run, k) == getattr(other.run, k) for k in run_keys)


def search_config(run, *, tuner="random", spaces=None, max_trials=None, max_epochs=None,
                  objective=None, direction=None, repeats=1, isolate=False, quiet=False):
    """Check a search's options (no TensorFlow) and return its `SearchConfig`.

    run: the unresolved `RunConfig` every trial trains (its `epochs` is each trial's,
        except under hyperband, which sets them itself)."""
    from mlphys.registry import get_model
    from mlphys.search_space import build_space

    if tuner not in TUNERS:
        raise UserError(f"unknown tuner '{tuner}': choose one of {', '.join(TUNERS)}")
    if tuner == "hyperband" and run.epochs is not None:
        raise UserError("hyperband sets each trial's epochs itself: give --max-epochs, "
                        "not --epochs")
    run = run.resolved()
    entry = get_model(run.model)
    space = build_space(entry, spaces, run.params)
    if not space.searched:
        raise UserError(f"nothing to search: every hyperparameter of '{run.model}' is "
                        "fixed; name one with --space NAME=a,b")
    if max_trials is not None and max_trials < 1:
        raise UserError(f"--max-trials {max_trials}: give at least 1")
    if repeats < 1:
        raise UserError(f"--repeats {repeats}: give at least 1")
    max_epochs = _check_budget(tuner, max_trials, max_epochs, entry)
    if tuner == "grid":
        max_trials = check_grid(space, max_trials)
    elif tuner in ("random", "bayesian") and max_trials is None:
        max_trials = DEFAULT_TRIALS
    if objective is not None:
        direction = check_direction(objective, direction)
    return SearchConfig(run=replace(run, params=space.fixed), tuner=tuner,
                        spaces=dict(spaces or {}),
                        searched=[d.name for d in space.searched], max_trials=max_trials,
                        max_epochs=max_epochs, objective=objective, direction=direction,
                        repeats=repeats, isolate=isolate, quiet=quiet,
                        started=time.strftime("%Y-%m-%dT%H:%M:%S"))


def check_direction(objective, direction):
    """The direction given, or the one the objective's name implies."""
    from mlphys.search_space import infer_direction

    direction = direction or infer_direction(objective)
    if direction not in ("min", "max"):
        raise UserError(f"cannot tell whether '{objective}' is to be minimised or "
                        "maximised: give --direction min or --direction max")
    return direction


def _check_budget(tuner, max_trials, max_epochs, entry):
    if tuner == "hyperband":
        if max_trials is not None:
            raise UserError("hyperband decides the number of trials from --max-epochs: "
                            "drop --max-trials")
        max_epochs = entry.epochs if max_epochs is None else max_epochs
        if max_epochs < 2:
            raise UserError(f"--max-epochs {max_epochs}: hyperband needs at least 2")
    elif max_epochs is not None:
        raise UserError(f"--max-epochs is for --tuner hyperband; the {tuner} tuner trains "
                        "every trial for --epochs")
    return max_epochs


def check_grid(space, max_trials):
    """The number of grid points; a UserError for continuous ranges or too many points."""
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
