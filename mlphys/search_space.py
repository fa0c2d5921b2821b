"""What `mlphys tune` searches: the model's declared space, narrowed from the command line.

A builder declares every hyperparameter with its range (`hp.Int("units", 5, 1024, ...)`).
The search space of a tuning run is made of

- the hyperparameters the model searches by default (`register_model(..., search=...)`,
  all declared ones if the model names none), with their declared ranges;
- those named by `--space NAME=SPEC`, which replaces the range:
      a,b,c               these values (a grid enumerates them in this order)
      int:LO:HI[:STEP]    integers LO..HI (inclusive), every STEP-th
      float:LO:HI[:STEP]  numbers LO..HI, continuous unless STEP is given
      log:LO:HI[:FACTOR]  LO..HI on a log scale, continuous unless FACTOR is given
                          (log:1e-4:1:10 is 1e-4, 1e-3, ..., 1)
- every other hyperparameter stays fixed at its default (or at `--param NAME=VALUE`), so it
  does not multiply a grid.

This module imports no TensorFlow: the command line checks a space (and the size of its
grid) before loading anything heavy.
"""

import math
from dataclasses import dataclass

from mlphys.errors import UserError, unknown_name
from mlphys.hparams import (Declared, _coerce, check_declared_range, declared_hyperparameters,
                            parse_scalar, resolve_params)

SPACE_FORMS = ("a list a,b,c, int:LO:HI[:STEP], float:LO:HI[:STEP] or log:LO:HI[:FACTOR]")

# Direction of an objective from its name, as KerasTuner and Keras name their metrics.
_MINIMISED = ("loss", "error", "mse", "mae", "mape", "msle", "crossentropy", "hinge")
_MAXIMISED = ("acc", "auc", "precision", "recall", "f1", "r2")


def infer_direction(objective):
    """"min" for loss- and error-like names, "max" for accuracy-like ones, else None."""
    name = objective.lower().removeprefix("val_")
    if any(word in name for word in _MINIMISED):
        return "min"
    if any(word in name for word in _MAXIMISED):
        return "max"
    return None


@dataclass
class SearchSpace:
    """The hyperparameters searched (as `Declared`, in declaration order) and the fixed ones."""

    model: str
    searched: list
    fixed: dict

    def grid_counts(self):
        """[(name, number of grid points or None for a continuous range)]."""
        return [(d.name, grid_points(d)) for d in self.searched]

    def grid_size(self):
        """Number of points of the full grid, or None if a range is continuous."""
        size = 1
        for _, count in self.grid_counts():
            if count is None:
                return None
            size *= count
        return size

    def describe_grid(self):
        """'hidden_layers 2 x units 3 x ...' with 'continuous' for unenumerable ranges."""
        return " x ".join(f"{name} {'continuous' if count is None else count}"
                          for name, count in self.grid_counts())

    def hyperparameters(self):
        """A `keras_tuner.HyperParameters` with the searched and the fixed ones registered.

        Hyperparameters the builder declares besides these are not tuned (the oracle is
        made with `tune_new_entries=False`), so they keep their defaults.
        """
        import keras_tuner

        hp = keras_tuner.HyperParameters()
        for name, value in self.fixed.items():
            hp.Fixed(name, value)
        for d in self.searched:
            if d.type == "choice":
                hp.Choice(d.name, list(d.values), default=d.default)
            elif d.type == "bool":
                hp.Boolean(d.name, default=d.default)
            elif d.type == "int":
                hp.Int(d.name, d.low, d.high, step=d.step, sampling=d.sampling,
                       default=d.default)
            elif d.type == "float":
                hp.Float(d.name, d.low, d.high, step=d.step, sampling=d.sampling,
                         default=d.default)
        return hp


def grid_points(decl):
    """How many values a grid takes for one hyperparameter (None: continuous)."""
    if decl.type == "choice":
        return len(decl.values)
    if decl.type == "bool":
        return 2
    if decl.type == "fixed":
        return 1
    step = decl.step
    if step is None:
        if decl.type == "int" and decl.sampling == "linear":
            step = 1
        else:
            return None
    if decl.sampling == "log":
        return int(math.log(decl.high / decl.low, step) + 1e-8) + 1
    return int((decl.high - decl.low) // step) + 1


def _number(text, integer, where):
    value = parse_scalar(text)
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(
            value) or (integer and not float(value).is_integer()):
        raise UserError(f"{where}: '{text}' is not {'an integer' if integer else 'a number'}; "
                        f"write {SPACE_FORMS}")
    return int(value) if integer else float(value)


def parse_space(decl, text, model=None):
    """The `Declared` range that `--space NAME=TEXT` gives to hyperparameter `decl`,
    refused where it leaves the range the model (named `model`) declares."""
    where = f"--space {decl.name}={text}"
    kind, sep, rest = text.partition(":")
    if sep and kind in ("int", "float", "log"):
        parts = rest.split(":")
        if len(parts) not in (2, 3) or not all(p.strip() for p in parts):
            raise UserError(f"{where}: malformed range; write {SPACE_FORMS}")
        integer = kind == "int" or (kind == "log" and decl.type == "int")
        if decl.type in ("choice", "bool"):
            raise UserError(f"{where}: '{decl.name}' is a choice ({decl.range}); give a "
                            f"list of values, e.g. --space {decl.name}="
                            f"{','.join(str(v) for v in (decl.values or (True, False))[:2])}")
        if decl.type == "int" and kind == "float":
            raise UserError(f"{where}: '{decl.name}' is an integer; write "
                            f"int:LO:HI[:STEP] or log:LO:HI[:FACTOR]")
        if decl.type == "float" and kind == "int":
            raise UserError(f"{where}: '{decl.name}' is a number, not an integer; write "
                            f"float:LO:HI[:STEP] or log:LO:HI[:FACTOR]")
        low, high = (_number(p, integer, where) for p in parts[:2])
        step = _number(parts[2], integer, where) if len(parts) == 3 else None
        sampling = "log" if kind == "log" else "linear"
        if not low < high:
            raise UserError(f"{where}: the range needs LO < HI")
        if sampling == "log" and low <= 0:
            raise UserError(f"{where}: a log range needs LO > 0")
        if step is not None and (step <= 0 or (sampling == "log" and step <= 1)):
            raise UserError(f"{where}: the {'factor' if sampling == 'log' else 'step'} must "
                            f"be {'> 1' if sampling == 'log' else '> 0'}")
        for bound in (low, high):
            check_declared_range(decl, bound, where, model)
        default = decl.default if isinstance(decl.default, (int, float)) and (
            low <= decl.default <= high) else low
        return Declared(decl.name, "int" if integer else "float", default, low=low,
                        high=high, step=step, sampling=sampling)
    items = [item.strip() for item in text.split(",")]
    if not all(items):
        raise UserError(f"{where}: malformed list; write {SPACE_FORMS}")
    values = []
    for item in items:
        try:
            value = _typed(decl, item, model)
        except UserError as error:
            raise UserError(f"{where}: {str(error).split(': ', 1)[-1]}") from None
        if value not in values:
            values.append(value)
    default = decl.default if decl.default in values else values[0]
    return Declared(decl.name, "choice", default, values=tuple(values))


def _typed(decl, text, model=None):
    if decl.type == "fixed" or decl.name.startswith("<"):
        return parse_scalar(text)
    return _coerce(decl, text, model)


def build_space(entry, spaces=None, params=None):
    """The `SearchSpace` of model `entry` given `--space` and `--param` strings by name."""
    declared = {d.name: d for d in declared_hyperparameters(entry)}
    dynamic = any(name.startswith("<") for name in declared)
    hint = f"'{entry.name}' declares {', '.join(declared)}"
    spaces, params = dict(spaces or {}), dict(params or {})
    for name in spaces:
        if name not in declared and not dynamic:
            raise unknown_name(f"hyperparameter of '{entry.name}' in --space", name,
                               declared, hint)
        if name in params:
            raise UserError(f"'{name}' is given both with --space and --param: search it "
                            "(--space) or fix it (--param), not both")
    fixed = resolve_params(entry, params)
    default_search = entry.search if entry.search is not None else tuple(declared)
    searched = []
    for name, decl in declared.items():
        if name in fixed or name.startswith("<"):
            continue
        if name in spaces:
            searched.append(parse_space(decl, spaces[name], entry.name))
        elif name in default_search and decl.type != "fixed":
            searched.append(decl)
    for name, text in spaces.items():  # names the reader of the source could not see
        if name not in declared:
            values = tuple(dict.fromkeys(parse_scalar(v.strip()) for v in text.split(",")))
            searched.append(Declared(name, "choice", values[0], values=values))
    return SearchSpace(entry.name, searched, fixed)
