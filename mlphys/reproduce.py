"""`mlphys reproduce`: the zoo checked against the courses' own numbers (ZOO.md).

Every zoo entry declares its checks beside its builder, by decorator:

    @register_check("xor", "hand-set outputs on (0,0),(0,1),(1,0),(1,1)",
                    expected="0.442752, 0.551575, 0.551575, 0.471572", quick=True)
    def xor_hand_set(ctx):
        model, _ = ctx.build("xor", params={"weights": "hand_set"})
        return close_to(model.predict(INPUTS).ravel(), [0.44275197, ...], atol=1e-6)

A check receives a `Context` (which trains, builds and loads through the same engine as
the command line, in a scratch folder) and returns an `Outcome`: what it obtained and
whether that passes. `quick=True` marks the checks `mlphys reproduce --quick` runs
(parameter counts, hand-set weights, short trainings); the full run does every check. A
check that cannot run here (a course figure that needs a download) raises `Unreachable`
with the reason: its row says so and it is not counted as passed.
"""

import math
import shutil
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import numpy as np

from mlphys.errors import UserError

RESULTS = ("pass", "fail", "offline", "error")


@dataclass(frozen=True)
class Check:
    model: str
    name: str
    expected: str
    func: Callable
    quick: bool


@dataclass(frozen=True)
class Outcome:
    """What a check obtained (as text) and whether it passes."""

    obtained: str
    passed: bool
    note: str = ""


class Unreachable(Exception):
    """Raised by a check that cannot be run here; the message says why."""


_CHECKS = {}


def register_check(model, name, *, expected, quick=False):
    """Declare the decorated `fn(ctx) -> Outcome` as a check of `model` (see above)."""

    def decorate(func):
        checks = _CHECKS.setdefault(model, [])
        checks[:] = [c for c in checks if c.name != name]  # a module imported twice
        checks.append(Check(model, name, expected, func, quick))
        return func

    return decorate


def checks_of(model, quick=False):
    from mlphys.registry import load_zoo

    load_zoo()
    return [c for c in _CHECKS.get(model, []) if c.quick or not quick]


def models_with_checks():
    from mlphys.registry import list_models

    return [m for m in list_models() if _CHECKS.get(m)]


# --- outcomes -------------------------------------------------------------------------

def _fmt(value, digits=6):
    return ", ".join(f"{v:.{digits}g}" for v in np.ravel(np.asarray(value, dtype=float)))


def close_to(obtained, expected, atol=0.0, rtol=0.0, digits=6):
    """Passes when every obtained value is within atol + rtol*|expected| of its target."""
    obtained = np.asarray(obtained, dtype=float)
    expected = np.asarray(expected, dtype=float)
    ok = obtained.shape == expected.shape or obtained.size == expected.size
    ok = ok and bool(np.all(np.abs(obtained.ravel() - expected.ravel())
                            <= atol + rtol * np.abs(expected.ravel())))
    return Outcome(_fmt(obtained, digits), ok)


def at_least(value, threshold, digits=4):
    value = float(value)
    return Outcome(f"{value:.{digits}g}", math.isfinite(value) and value >= threshold)


def at_most(value, threshold, digits=4):
    value = float(value)
    return Outcome(f"{value:.{digits}g}", math.isfinite(value) and value <= threshold)


def equal(value, expected):
    return Outcome(f"{value:,}" if isinstance(value, int) else str(value), value == expected)


def all_of(*outcomes, joiner="; "):
    """One outcome from several: passes when each does."""
    return Outcome(joiner.join(o.obtained for o in outcomes), all(o.passed for o in outcomes),
                   joiner.join(o.note for o in outcomes if o.note))


# --- what a check can do --------------------------------------------------------------

class TrainedRun:
    """A finished `mlphys.train` run (`result`, a `Run`): its folder, test metrics, the
    model reopened from model.keras and its data."""

    def __init__(self, result, context, dataset, options):
        self.result = result
        self.run_dir = Path(result.path)
        self.metrics = result.metrics
        self._context, self._dataset, self._options = context, dataset, options
        self._model = self._data = None

    @property
    def model(self):
        """The saved `model.keras`, reopened with keras.models.load_model."""
        if self._model is None:
            from mlphys.evaluation import load_keras_model

            self._model = load_keras_model(self.run_dir / "model.keras")
        return self._model

    @property
    def data(self):
        if self._data is None:
            config = self.result.config
            self._data = self._context.load(config.dataset, config.dataset_options)
        return self._data

    def history(self):
        import csv

        with open(self.run_dir / "history.csv", newline="") as f:
            rows = list(csv.DictReader(f))
        return {k: np.array([float(r[k]) if r[k] != "NA" else np.nan for r in rows])
                for k in (rows[0] if rows else {}) if any(r[k] != "NA" for r in rows)}


class Context:
    """What a check works with: the engine's train/build/load, in a scratch folder."""

    def __init__(self, workdir, quick=False, data_dir=None):
        self.workdir = Path(workdir)
        self.quick = quick
        self.data_dir = data_dir

    def load(self, dataset, options=None, val_split=0.1):
        from mlphys.datasets import load_dataset

        return load_dataset(dataset, options, val_split=val_split, data_dir=self.data_dir)

    def train(self, model, dataset=None, *, params=None, options=None, epochs=None,
              batch_size=None, seed=0, **train_options):
        """`mlphys train` with these settings (quietly, into the scratch folder)."""
        from mlphys.training import train

        result = train(model, dataset, params, dataset_options=options, epochs=epochs,
                       batch_size=batch_size, seed=seed, out=self.workdir / model, quiet=True,
                       data_dir=self.data_dir, **train_options)
        return TrainedRun(result, self, dataset, options)

    def build(self, model, dataset=None, *, params=None, options=None, seed=0):
        """(keras model, Dataset): the entry built for a dataset (its default if None)."""
        import keras

        from mlphys.building import build_model
        from mlphys.registry import get_model

        dataset = dataset or get_model(model).dataset
        data = self.load(dataset, options)
        keras.utils.set_random_seed(seed)
        built, _ = build_model(model, data.spec, params, dataset_name=dataset)
        return built, data

    def build_for(self, model, input_shape, num_outputs, *, task="classification",
                  kind=None, target_shape=(), params=None, seed=0):
        """The entry built for data of this shape, without loading any (parameter counts)."""
        import keras

        from mlphys.building import build_model
        from mlphys.datasets import DataSpec

        kind = kind or {3: "image", 1: "vector"}.get(len(input_shape), "sequence")
        names = tuple(str(i) for i in range(num_outputs)) if task != "regression" else None
        spec = DataSpec(tuple(input_shape), task, num_outputs, kind, names,
                        "value" if task == "regression" else "integer", tuple(target_shape))
        keras.utils.set_random_seed(seed)
        built, _ = build_model(model, spec, params)
        return built


# --- running them ---------------------------------------------------------------------

def select(names=(), run_all=False):
    """The model names to check: NAMEs (wildcards allowed) or every entry with checks."""
    from mlphys.errors import unknown_name
    from mlphys.patterns import matching
    from mlphys.registry import list_models

    available = models_with_checks()
    if run_all:
        if names:
            raise UserError("give model names or --all, not both")
        return available
    if not names:
        raise UserError("give the models to check (e.g. 'mlphys reproduce xor') or --all; "
                        "'mlphys reproduce --list' shows what each checks")
    chosen = []
    for name in names:
        # an entry's own name is that entry ('cnn' is not also crack_cnn); else a pattern
        found = [name] if name in available else matching(dict.fromkeys(available), name)
        if not found:
            if name in list_models():
                raise UserError(f"model '{name}' declares no reproduction checks; models "
                                f"with checks: {', '.join(available)}")
            raise unknown_name("model", name, available, "'mlphys reproduce --list' shows "
                               "the models with checks")
        chosen += [f for f in found if f not in chosen]
    return chosen


def run_checks(models, *, quick=False, data_dir=None, keep=None, on_row=None):
    """Run the checks of `models` and return one row (a dict) per check.

    keep: a folder to keep the runs in; by default they go into a temporary folder that is
        removed at the end. on_row: called with each row as soon as it is done.
    """
    scratch = Path(keep) if keep else Path(tempfile.mkdtemp(prefix="mlphys-reproduce-"))
    scratch.mkdir(parents=True, exist_ok=True)
    rows = []
    try:
        for model in models:
            for check in checks_of(model, quick):
                row = _run_one(check, Context(scratch, quick, data_dir))
                rows.append(row)
                if on_row:
                    on_row(row)
    finally:
        if not keep:
            shutil.rmtree(scratch, ignore_errors=True)
    return rows


def _run_one(check, context):
    import sys
    import traceback

    if "keras" in sys.modules:  # each check starts from an empty graph and fresh names
        sys.modules["keras"].backend.clear_session()
    started = time.perf_counter()
    note = ""
    try:
        outcome = check.func(context)
        result = "pass" if outcome.passed else "fail"
        obtained, note = outcome.obtained, outcome.note
    except Unreachable as reason:
        result, obtained, note = "offline", "not run", str(reason)
    except UserError as error:
        result, obtained, note = "error", "error", str(error)
    except Exception as error:  # a broken check must not hide the others' results
        result, obtained, note = "error", "error", f"{type(error).__name__}: {error}"
        traceback.print_exc()
    return {"entry": check.model, "check": check.name, "expected": check.expected,
            "obtained": obtained, "result": result,
            "seconds": round(time.perf_counter() - started, 2), "note": note}


def totals(rows):
    return {r: sum(row["result"] == r for row in rows) for r in RESULTS}
