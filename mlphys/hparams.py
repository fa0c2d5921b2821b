"""Hyperparameters: what a builder declares, what the user fixes, what the engine adds.

Builders declare every tunable choice through KerasTuner's `HyperParameters`
(`hp.Int("filters", 16, 128, step=16, default=32)`). `mlphys info` must show those
declarations without importing TensorFlow (KerasTuner imports it), so this module reads
them from the builder's source: each `hp.Int/Float/Choice/Boolean/Fixed` call with literal
arguments. A test checks that this reading agrees with what a real `HyperParameters`
records when the builder runs.
"""

import ast
import inspect
import math
import textwrap
from dataclasses import dataclass

from mlphys.errors import UserError, unknown_name


def declare_training_hyperparameters(hp):
    """The optimizer and learning rate, declared by the engine for models it compiles.

    A builder that declares either itself keeps its own declaration (KerasTuner returns the
    value already registered under a name).
    """
    optimizer = hp.Choice("optimizer", ["adam", "sgd", "rmsprop"], default="adam")
    learning_rate = hp.Float("learning_rate", 1e-5, 1.0, sampling="log", default=1e-3)
    return optimizer, learning_rate


@dataclass(frozen=True)
class Declared:
    """One hyperparameter as declared in a builder's source."""

    name: str
    type: str  # "int", "float", "choice", "bool" or "fixed"
    default: object
    values: tuple | None = None  # the choices, for "choice"
    low: object = None
    high: object = None
    step: object = None
    sampling: str = "linear"

    @property
    def range(self):
        if self.type == "choice":
            return ", ".join(str(v) for v in self.values)
        if self.type == "bool":
            return "true, false"
        if self.type == "fixed":
            return "fixed"
        text = f"{self.low} .. {self.high}"
        if self.step is not None:  # with log sampling the step is a factor (KerasTuner)
            text += f" x{self.step}" if self.sampling == "log" else f" step {self.step}"
        if self.sampling != "linear":
            text += f" ({self.sampling})"
        return text

    def type_words(self):
        return {"int": "an integer", "float": "a number", "bool": "true or false",
                "choice": f"one of {self.range}", "fixed": "a value"}[self.type]


_SIGNATURES = {  # KerasTuner 1.4 argument order after `name`
    "Int": ("min_value", "max_value", "step", "sampling", "default"),
    "Float": ("min_value", "max_value", "step", "sampling", "default"),
    "Choice": ("values", "ordered", "default"),
    "Boolean": ("default",),
    "Fixed": ("value",),
}


def _literal(node):
    try:
        return ast.literal_eval(node)
    except ValueError:
        return f"<{ast.unparse(node)}>"


def _declared_in(function):
    source = textwrap.dedent(inspect.getsource(function))
    tree = ast.parse(source)
    func = tree.body[0]
    hp_name = func.args.args[0].arg
    found = []
    for node in ast.walk(tree):
        if not (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)
                and isinstance(node.func.value, ast.Name) and node.func.value.id == hp_name
                and node.func.attr in _SIGNATURES and node.args):
            continue
        method = node.func.attr
        args = dict(zip(_SIGNATURES[method], (_literal(a) for a in node.args[1:])))
        args.update({k.arg: _literal(k.value) for k in node.keywords if k.arg})
        name = _literal(node.args[0])
        if method == "Choice":
            values = tuple(args["values"])
            default = args.get("default")
            found.append(Declared(name, "choice", values[0] if default is None else default,
                                  values=values))
        elif method == "Boolean":
            found.append(Declared(name, "bool", bool(args.get("default", False))))
        elif method == "Fixed":
            found.append(Declared(name, "fixed", args["value"]))
        else:
            default = args.get("default")
            found.append(Declared(
                name, method.lower(), args["min_value"] if default is None else default,
                low=args["min_value"], high=args["max_value"], step=args.get("step"),
                sampling=args.get("sampling") or "linear"))
    return found


def declared_hyperparameters(entry):
    """The hyperparameters of a registered model, in declaration order, engine's last."""
    declared = {}
    sources = [entry.builder]
    if not entry.compiles:
        sources.append(declare_training_hyperparameters)
    for source in sources:
        for decl in _declared_in(source):
            declared.setdefault(decl.name, decl)
    return list(declared.values())


def parse_assignments(items, flag):
    """`["units=256", "dropout=0.2"]` -> `{"units": "256", "dropout": "0.2"}`."""
    parsed = {}
    for item in items or ():
        name, sep, value = item.partition("=")
        name = name.strip()
        if not sep or not name or not value.strip():
            raise UserError(f"{flag} '{item}' is not of the form NAME=VALUE; "
                            f"write e.g. {flag} units=64")
        parsed[name] = value.strip()
    return parsed


# the words a boolean is written with, in -p and -o alike
TRUE_WORDS, FALSE_WORDS = ("true", "yes", "on"), ("false", "no", "off")


def parse_bool(text):
    """`true/yes/on` or `false/no/off` (any case) as a bool; ValueError otherwise."""
    low = text.strip().lower()
    if low in TRUE_WORDS or low in FALSE_WORDS:
        return low in TRUE_WORDS
    raise ValueError(f"not a boolean: {text!r}")


def parse_scalar(text):
    """A command-line value as int, float, bool or string, whichever it reads as."""
    if not isinstance(text, str):
        return text
    if text.strip().lower() in TRUE_WORDS + FALSE_WORDS:
        return parse_bool(text)
    for kind in (int, float):
        try:
            return kind(text)
        except ValueError:
            pass
    return text


def _coerce(decl, text, model=None):
    """`text` typed as `decl` declares it, refused outside its declared range or choices.

    model: the model's name, for the message.
    """
    value = parse_scalar(text)
    bad = UserError(f"--param {decl.name}={text}: expected {decl.type_words()}")
    if decl.type == "int":
        if isinstance(value, bool) or not isinstance(value, (int, float)) or (
                isinstance(value, float) and not value.is_integer()):
            raise bad
        return check_declared_range(decl, int(value), f"--param {decl.name}={text}", model)
    if decl.type == "float":
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
            raise bad
        return check_declared_range(decl, float(value), f"--param {decl.name}={text}", model)
    if decl.type == "bool":
        if not isinstance(value, bool):
            raise bad
        return value
    if decl.type == "choice":
        for choice in decl.values:
            if value == choice or str(choice) == str(text):
                return choice
        raise UserError(f"--param {decl.name}={text}: {model or 'the model'} declares "
                        f"{decl.name} as one of {decl.range}; choose one of those")
    return value


def has_numeric_range(decl):
    """True when the source gave literal numbers for both bounds (else nothing to check)."""
    return all(isinstance(b, (int, float)) and not isinstance(b, bool)
               for b in (decl.low, decl.high))


def check_declared_range(decl, value, where, model=None):
    """`value`, or a `UserError` quoting the declared range when it lies outside."""
    if has_numeric_range(decl) and not decl.low <= value <= decl.high:
        raise UserError(f"{where}: {model or 'the model'} declares {decl.name} in "
                        f"{decl.range}")
    return value


def resolve_params(entry, raw):
    """Check the user's `--param` values against the model's declarations and type them."""
    declared = {d.name: d for d in declared_hyperparameters(entry)}
    dynamic = any(isinstance(name, str) and name.startswith("<") for name in declared)
    typed = {}
    for name, text in (raw or {}).items():
        if name in declared:
            typed[name] = _coerce(declared[name], text, entry.name)
        elif dynamic:
            typed[name] = parse_scalar(text)
        else:
            raise unknown_name(f"hyperparameter of '{entry.name}'", name, declared,
                               f"'mlphys info {entry.name}' lists them")
    return typed


def fixed_hyperparameters(params):
    """A fresh `HyperParameters` with the user's values pre-registered as `hp.Fixed`."""
    import keras_tuner

    hp = keras_tuner.HyperParameters()
    for name, value in (params or {}).items():
        hp.Fixed(name, value)
    return hp
