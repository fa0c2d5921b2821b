"""The model registry: every zoo entry is declared once, by a decorator on its builder.

    @register_model("cnn", task="classification", inputs="image", dataset="digits",
                    source="MLMM 7.14.5")
    def cnn(hp, spec):
        ...

A builder takes a `keras_tuner.HyperParameters` (`hp`) and the dataset's `DataSpec`
(`spec`) and returns a Keras model. Registering imports nothing heavy: builders import
Keras inside their body, so `mlphys list` and `mlphys info` never load TensorFlow.

The zoo is found through this registry only: the package `mlphys.models` imports its
modules, plugins come from `--models-from FILE_OR_MODULE` and from installed packages that
expose the entry-point group `mlphys.models`.

Custom Keras classes (layers, models with their own `train_step`, losses) live at module
level in modules that import Keras at their top (`models/_pinn_layers.py`); the zoo module
declares them, `register_keras_objects("mlphys.models._pinn_layers")`, and its builders
import them in their body. `define_keras_objects` imports every declared module before a
saved model is reopened.
"""

import importlib
import importlib.util
import inspect
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

from mlphys.backend import BACKENDS
from mlphys.errors import UserError, unknown_name
from mlphys.patterns import matching
from mlphys.plugins import import_with_plugins

TASKS = ("classification", "regression", "any")
INPUTS = ("image", "vector", "sequence", "any")
DATASET_DEFAULTS = ("epochs", "augment", "augment_engine", "lr_schedule")  # per dataset

_MODELS = {}


@dataclass(frozen=True)
class ModelEntry:
    """What the registry knows about one model, without building it."""

    name: str
    builder: Callable
    task: str  # what it predicts: "classification" (incl. binary), "regression" or "any"
    inputs: str  # what it reads: "image" (H, W, C), "vector", "sequence" or "any"
    dataset: str | None  # default dataset, used when none is given
    source: str  # course and section, e.g. "MLMM 7.14.5"
    epochs: int  # default number of epochs
    batch_size: int  # default batch size
    compiles: bool  # True if the builder compiles the model itself (custom training steps)
    search: tuple | None = None  # hyperparameters `tune` searches by default; None: all
    score: Callable | None = None  # score(model, dataset, split) -> metrics; None: the task's
    figures: Callable | None = None  # figures(model, dataset, run_dir): extra plots of a run
    steps_per_epoch: int | None = None  # epochs of this many batches (full-batch problems)
    callbacks: Callable | None = None  # callbacks(run_dir) -> [keras Callback] added to fit
    family: str | None = None  # a group `list models` also matches ("backbone")
    fine_tune: Callable | None = None  # fine_tune(hyperparameters) -> FineTuning | None
    # {dataset: {RunConfig field: value}}: the entry's defaults on that dataset
    dataset_defaults: dict | None = field(default=None, hash=False)
    backends: tuple = BACKENDS  # the Keras backends its training step runs on

    @property
    def doc(self):
        return inspect.cleandoc(self.builder.__doc__ or "")

    @property
    def summary(self):
        return self.doc.splitlines()[0] if self.doc else ""

    def accepts(self, task, kind):
        """Whether data of this `task` and input `kind` fits the model."""
        task_ok = self.task == "any" or self.task == task or (
            self.task == "classification" and task == "binary")
        kind_ok = self.inputs == "any" or self.inputs == kind
        return task_ok and kind_ok

    def defaults_for(self, dataset):
        """The training settings this entry defaults to on `dataset` (a registry name):
        {RunConfig field: value} of DATASET_DEFAULTS; {} elsewhere."""
        return dict((self.dataset_defaults or {}).get(dataset, {}))

    def requirement(self):
        """The kind of data the model needs, in words."""
        inputs = {"image": "images (height, width, channels)", "vector": "feature vectors",
                  "sequence": "sequences (time, features)", "any": "any inputs"}[self.inputs]
        if self.task == "any":
            return inputs
        return f"{self.task} on {inputs}"


@dataclass(frozen=True)
class FineTuning:
    """A second phase the fit core runs after an entry's `--epochs` (a pretrained
    backbone's fine-tuning): `prepare(model)` changes which layers train and says what it
    did, in words; the model is then recompiled at `learning_rate` and fitted `epochs`
    more epochs into the same history."""

    epochs: int
    learning_rate: float
    prepare: Callable


def register_model(name, *, task, inputs="any", dataset=None, source="", epochs=10,
                   batch_size=32, compiles=False, search=None, score=None, figures=None,
                   steps_per_epoch=None, callbacks=None, family=None, fine_tune=None,
                   dataset_defaults=None, backends=BACKENDS):
    """Register the decorated builder `fn(hp, spec) -> keras.Model` under `name`.

    dataset: the default dataset (`mlphys train NAME` with no --dataset).
    compiles: the builder compiles the model itself (custom losses or `train_step`s);
        otherwise the engine compiles it with the task's loss and the declared optimizer.
    search: names of the hyperparameters `mlphys tune` searches by default; the others stay
        at their defaults unless `--space` names them. None: every declared one.
    score: `fn(model, dataset, split) -> {metric: float}` replacing the task's standard
        metrics in `train` and `evaluate` (a PINN's error against the exact solution, a
        policy's return); mlphys.evaluation.score is the default and can be called from it.
    figures: `fn(model, dataset, run_dir)` drawing the entry's own plots into a finished
        run folder (an equilibrium shape, a replica band, a latent map).
    steps_per_epoch: make an epoch this many batches (the training data cycled), for
        full-batch problems that take thousands of steps: checkpoints, logs and the
        progress line then come once per epoch of steps, not after every step.
    callbacks: `fn(run_dir) -> [keras.callbacks.Callback]`, added to the entry's `fit`
        (a GAN's sample grid drawn after every epoch).
    family: a group name that `list_models` patterns also match (`'backbone*'`).
    fine_tune: `fn(hyperparameters) -> FineTuning | None`, a second phase of the fit
        after `--epochs` (the unfrozen top of a pretrained backbone); None: none.
    dataset_defaults: `{dataset: {setting: value}}`, what a run of the entry on that
        registered dataset gets unless the user says otherwise: `epochs`, `augment` (a
        preset; `--augment none` turns it off), `augment_engine` and `lr_schedule`
        (the cnn on digits). Hyperparameters keep one default, the builder's.
    backends: the Keras backends the entry trains on: ("tensorflow", "jax") for models
        made of Keras layers and ops; ("tensorflow",) for a training step written with
        TensorFlow itself (`tf.GradientTape`, tf ops, a stateful `train_step`), which
        `--backend jax` then refuses in one line.
    """
    unknown = {k for d in (dataset_defaults or {}).values() for k in d} - set(
        DATASET_DEFAULTS)
    if unknown:
        raise ValueError(f"dataset_defaults set {sorted(unknown)}; they may set "
                         f"{', '.join(DATASET_DEFAULTS)}")
    if task not in TASKS:
        raise ValueError(f"task must be one of {TASKS}, not {task!r}")
    if inputs not in INPUTS:
        raise ValueError(f"inputs must be one of {INPUTS}, not {inputs!r}")
    if not backends or set(backends) - set(BACKENDS):
        raise ValueError(f"backends must be some of {BACKENDS}, not {backends!r}")

    def decorate(builder):
        old = _MODELS.get(name)
        if old is not None and old.builder.__qualname__ != builder.__qualname__:
            raise ValueError(f"model '{name}' is registered twice: by "
                             f"{old.builder.__module__} and {builder.__module__}")
        _MODELS[name] = ModelEntry(name, builder, task, inputs, dataset, source, epochs,
                                   batch_size, compiles,
                                   tuple(search) if search is not None else None,
                                   score, figures, steps_per_epoch, callbacks, family,
                                   fine_tune, dataset_defaults, tuple(backends))
        return builder

    return decorate


def load_zoo():
    """Import the zoo package and the installed plugins (entry-point group `mlphys.models`)."""
    import_with_plugins("mlphys.models", "mlphys.models")


_KERAS_MODULES = ["mlphys.ensemble_model"]  # the engine's own: replica ensembles


def register_keras_objects(*modules):
    """Declare the modules that define the custom Keras classes (layers, models, losses,
    metrics) that saved models of the zoo use, registered at their module level with
    `keras.saving.register_keras_serializable`:

        register_keras_objects("mlphys.models._pinn_layers")   # at the zoo module's top

    Such a module imports Keras at its top, so only the zoo module's builders import it
    (in their body) and `define_keras_objects` imports every declared one before a saved
    model is reopened: importing the zoo loads no Keras. Declaring a module twice is
    harmless.
    """
    for module in modules:
        if not isinstance(module, str):
            raise TypeError("register_keras_objects takes the names of the modules that "
                            f"define the classes, not a {type(module).__name__}")
        if module not in _KERAS_MODULES:
            _KERAS_MODULES.append(module)


def define_keras_objects():
    """Import every module declared with `register_keras_objects` (imports Keras): after
    it, every custom class of the engine, the zoo and the loaded plugins is registered
    with Keras, so `keras.models.load_model` reopens their saved runs."""
    load_zoo()
    for module in list(_KERAS_MODULES):
        importlib.import_module(module)


def load_plugin(file_or_module):
    """Import a user's models: a Python file (`my_models.py`) or an importable module name."""
    if not file_or_module:
        return
    load_zoo()
    path = Path(file_or_module)
    if path.suffix == ".py" or path.exists():
        if not path.is_file():
            raise UserError(f"--models-from: no such file '{file_or_module}'; "
                            "give the path of a Python file that registers models")
        module_name = f"mlphys_user_models_{abs(hash(str(path.resolve())))}"
        if module_name in sys.modules:
            return
        spec = importlib.util.spec_from_file_location(module_name, path)
        module = importlib.util.module_from_spec(spec)
        sys.modules[module_name] = module
        try:
            spec.loader.exec_module(module)
        except BaseException:
            del sys.modules[module_name]
            raise
        return
    try:
        importlib.import_module(file_or_module)
    except ModuleNotFoundError as e:
        if e.name and file_or_module.startswith(e.name):
            raise UserError(f"--models-from: no file or module '{file_or_module}'; give a "
                            "path to a .py file or the name of an importable module") from None
        raise


def list_models(pattern=None):
    """Names of the registered models matching the wildcard `pattern` (by name or by
    family), sorted."""
    load_zoo()
    in_family = matching({e.family for e in _MODELS.values() if e.family}, pattern)
    return sorted(set(matching(_MODELS, pattern))
                  | {n for n, e in _MODELS.items() if e.family in in_family})


def get_model(name):
    """The `ModelEntry` called `name`; an unknown name gets the closest matches."""
    load_zoo()
    if name not in _MODELS:
        raise unknown_name("model", name, _MODELS,
                           "'mlphys list models' shows them all")
    return _MODELS[name]
