"""The dataset registry: `DataSpec`, `Dataset`, `register_dataset` and `load_dataset`.

A loader is a plain function registered by name; its keyword arguments are the dataset's
options (`--option size=8` on the command line), typed by their annotations:

    @register_dataset("digits", task="classification", kind="image", shape="28x28x1",
                      source="scikit-learn", licence="CC BY 4.0")
    def digits(size: int = 28, test_split: float = 0.2, split_seed: int = 0) -> Dataset:
        ...

Loaders return a `Dataset` whose validation split may be empty: `load_dataset` then
takes it from the training data (`val_split`). The loaders themselves live in the package
`mlphys.data`; a user's files (`.npz`, `.csv`, a folder of images) are read by loaders
registered with `register_file_format`.
"""

import inspect
import os
import types
import typing
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Callable

import numpy as np

# the data contract lives in mlphys.dataspec (which the dataset cache imports too)
from mlphys.dataspec import KINDS, TASKS, DataSpec, Dataset, data_dirs  # noqa: F401
from mlphys.errors import UserError, unknown_name
from mlphys.hparams import parse_bool
from mlphys.patterns import matching
from mlphys.plugins import import_with_plugins


@dataclass(frozen=True)
class DatasetEntry:
    """What the registry knows about a dataset without loading it."""

    name: str
    loader: Callable
    task: str
    kind: str
    shape: str
    source: str
    licence: str
    formula: str = ""  # the generator's equations, shown by `mlphys info`
    cache: bool = False  # generated arrays are kept in the data directory, keyed by options

    @property
    def doc(self):
        return inspect.cleandoc(self.loader.__doc__ or "")

    @property
    def summary(self):
        return self.doc.splitlines()[0] if self.doc else ""

    def options(self):
        """The loader's options: name -> (type, default)."""
        hints = typing.get_type_hints(self.loader)
        return {name: (hints.get(name, str), p.default)
                for name, p in inspect.signature(self.loader).parameters.items()
                if name != "data_dir"}


def infer_spec(x, y, task, class_names=None, kind=None):
    """The `DataSpec` of arrays `x` (N, ...) and `y`, for a known `task`."""
    if kind is None:
        kind = "image" if x.ndim == 4 else "vector" if x.ndim == 2 else "sequence"
    if task == "regression":
        outputs, label_format = (1 if y.ndim == 1 else int(y.shape[1])), "value"
    elif task == "binary":
        outputs, label_format = 1, "integer"
    else:
        onehot = y.ndim == 2 and y.shape[1] > 1
        label_format = "onehot" if onehot else "integer"
        outputs = int(y.shape[1]) if onehot else (
            len(class_names) if class_names else int(np.max(y)) + 1)
    if task == "regression" and y.ndim > 2:  # target images: one output per channel
        outputs = int(y.shape[-1])
    if task == "classification" and y.ndim > 2 and not class_names:  # per-pixel classes
        outputs, label_format = int(np.max(y)) + 1, "integer"
    names = tuple(str(c) for c in class_names) if class_names is not None else None
    if task != "regression" and names is None:
        names = tuple(str(i) for i in range(outputs if task == "classification" else 2))
    return DataSpec(tuple(int(s) for s in x.shape[1:]), task, outputs, kind, names,
                    label_format, tuple(int(s) for s in y.shape[1:]))


_DATASETS = {}
_FILE_FORMATS = {}
_FILE_DESCRIBERS = {}


def register_dataset(name, *, task, kind, shape="", source="", licence="", formula="",
                     cache=False):
    """Register the decorated loader under `name` (see the module docstring).

    formula: the generator's equations in plain text, shown by `mlphys info`.
    cache: keep what the loader returns in the data directory (`mlphys-cache/`), keyed by
        the dataset's name and options, so that a slow generator runs once per setting.
    """
    if task not in TASKS:
        raise ValueError(f"task must be one of {TASKS}, not {task!r}")
    if kind not in KINDS:
        raise ValueError(f"kind must be one of {KINDS}, not {kind!r}")

    def decorate(loader):
        old = _DATASETS.get(name)
        if old is not None and old.loader.__qualname__ != loader.__qualname__:
            raise ValueError(f"dataset '{name}' is registered twice: by "
                             f"{old.loader.__module__} and {loader.__module__}")
        _DATASETS[name] = DatasetEntry(name, loader, task, kind, shape, source, licence,
                                       inspect.cleandoc(formula), cache)
        return loader

    return decorate


def register_file_format(*suffixes, describe=None):
    """Register the decorated loader `fn(path, **options)` for files ending in any of
    `suffixes` (`"/"` for folders).

    describe(path, **options) -> FileContents: what is in such a file, for
        `mlphys info FILE` (trees, datasets, columns), without loading it.
    """

    def decorate(loader):
        for suffix in suffixes:
            _FILE_FORMATS[suffix] = loader
            if describe is not None:
                _FILE_DESCRIBERS[suffix] = describe
        return loader

    return decorate


@dataclass
class FileContents:
    """What `mlphys info FILE` prints: a title line and a table of what the file holds.

    rows: one tuple per item (a branch, a dataset, a column, an HDU), under `headers`.
    """

    title: str
    headers: tuple
    rows: list
    notes: list = field(default_factory=list)


def file_format(path):
    """(loader, describe or None) for the file or folder `path`; UserError if none."""
    path = Path(path)
    suffix = "/" if path.is_dir() else path.suffix.lower()
    if suffix not in _FILE_FORMATS:
        raise UserError(f"cannot read '{path}': supported files are "
                        f"{', '.join(s for s in sorted(_FILE_FORMATS) if s != '/')} "
                        "and folders of images in class subfolders")
    return _FILE_FORMATS[suffix], _FILE_DESCRIBERS.get(suffix)


def describe_file(name, options=None):
    """The `FileContents` of a user's file (`mlphys info FILE -o tree=Events`)."""
    load_data_modules()
    path = Path(name)
    if not path.exists():
        raise UserError(f"no such file or folder '{name}'")
    _, describe = file_format(path)
    if describe is None:
        raise UserError(f"'mlphys info' describes .root, .h5, .fits, .parquet and .feather "
                        f"files, not '{path.suffix or path.name}'")
    return describe(path, **dict(options or {}))


def load_data_modules():
    """Import the dataset package and installed plugins (entry-point group `mlphys.datasets`)."""
    import_with_plugins("mlphys.data", "mlphys.datasets")


def list_datasets(pattern=None):
    """Names of the registered datasets matching the wildcard `pattern`, sorted."""
    load_data_modules()
    return matching(_DATASETS, pattern)


def looks_like_path(name):
    return os.sep in name or name.endswith(tuple(_FILE_FORMATS)) or Path(name).exists()


def get_dataset(name):
    """The `DatasetEntry` called `name`; an unknown name gets the closest matches."""
    load_data_modules()
    if name not in _DATASETS:
        raise unknown_name("dataset", name, _DATASETS, "'mlphys list datasets' shows them "
                           "all; a file (.npz, .csv) or an image folder can be given by path")
    return _DATASETS[name]


def dataset_label(name):
    """A short name for run folders: the registry name, or a file's stem."""
    if name in _DATASETS or not looks_like_path(name):
        return name
    return Path(name.rstrip("/")).stem or "data"


def _coerce_option(name, text, kind, dataset):
    if not isinstance(text, str):
        return text
    origin = typing.get_origin(kind)
    try:
        if kind is bool:
            return parse_bool(text)
        if origin is tuple or kind is tuple:
            return tuple(int(v) for v in text.replace("x", ",").split(",") if v.strip())
        if origin in (typing.Union, types.UnionType):
            kind = next(a for a in typing.get_args(kind) if a is not type(None))
            return _coerce_option(name, text, kind, dataset)
        return kind(text)
    except (ValueError, TypeError):
        raise UserError(f"--option {name}={text}: '{dataset}' expects "
                        f"{getattr(kind, '__name__', kind)} for {name}") from None


def load_dataset(name, options=None, *, val_split=0.1, data_dir=None):
    """Load a registered dataset or a user's file and return a `Dataset`.

    name: a registry name ("digits") or a path (".npz", ".csv", a folder of images).
    options: the loader's options, as values or as strings from the command line.
    val_split: fraction of the training data held out for validation when the dataset has
        no validation split of its own.
    data_dir: where downloadable datasets look for their files before asking Keras.
    """
    import mlphys.quiet as quiet

    quiet.install()  # Keras' sets import TensorFlow: without its start-up log
    load_data_modules()
    options = dict(options or {})
    if name in _DATASETS or not looks_like_path(name):
        entry = get_dataset(name)
        loader, accepted, label = entry.loader, entry.options(), name
    else:
        path = Path(name)
        if not path.exists():
            raise UserError(f"no such file or folder '{name}': give an existing .npz, .csv "
                            "or image folder, or a dataset name from 'mlphys list datasets'")
        loader = _bind_path(file_format(path)[0], path)
        hints = typing.get_type_hints(loader.func)
        accepted = {n: (hints.get(n, str), p.default) for n, p in
                    inspect.signature(loader.func).parameters.items() if n != "path"}
        label = dataset_label(name)
    for key in options:
        if key not in accepted:
            raise unknown_name(f"option of dataset '{label}'", key, accepted,
                               f"'mlphys info {label}' lists its options"
                               if name in _DATASETS else
                               f"options for this file: {', '.join(accepted) or 'none'}")
    typed = {k: _coerce_option(k, v, accepted[k][0], label) for k, v in options.items()}
    if not 0.0 <= val_split < 1.0:
        raise UserError(f"--val-split {val_split}: give a fraction in [0, 1)")
    kwargs = dict(typed)
    if "data_dir" in inspect.signature(getattr(loader, "func", loader)).parameters:
        kwargs["data_dir"] = data_dir
    cached = name in _DATASETS and _DATASETS[name].cache
    if cached:
        from mlphys.dataset_cache import load_cached

        dataset = load_cached(name, loader, kwargs, accepted, data_dir)
    else:
        dataset = loader(**kwargs)
    dataset.options = typed
    if dataset.x_val is None:
        split_seed = typed.get("split_seed", accepted.get("split_seed", (int, 0))[1])
        dataset = with_validation_split(dataset, val_split, split_seed)
    from mlphys.data_checks import check_dataset

    # one place, so that every loader and file format gets it; constant columns are
    # by design in some generators (a PINN's coefficients), a user's file is warned
    check_dataset(dataset, warn_constant=name not in _DATASETS)
    return dataset


class _bind_path:
    """A file loader with its path filled in (functools.partial keeps no `__name__`)."""

    def __init__(self, func, path):
        self.func, self.path = func, path

    def __call__(self, **options):
        return self.func(self.path, **options)


def with_validation_split(dataset, fraction, seed=0):
    """Hold out `fraction` of the training data for validation (stratified for classes)."""
    if fraction <= 0:
        empty = dataset.x_train[:0], dataset.y_train[:0]
        return replace(dataset, x_val=empty[0], y_val=empty[1])
    per_pixel = dataset.y_train.ndim > 2
    keep, held = split_indices(dataset.y_train, fraction, seed,
                               stratify=dataset.spec.task != "regression" and not per_pixel)
    sigma = dataset.sigma_train
    return replace(dataset, x_train=dataset.x_train[keep], y_train=dataset.y_train[keep],
                   x_val=dataset.x_train[held], y_val=dataset.y_train[held],
                   sigma_train=None if sigma is None else sigma[keep],
                   sigma_val=None if sigma is None else sigma[held])


def split_indices(y, fraction, seed=0, stratify=True):
    """Indices (kept, held out) with `fraction` of the samples held out.

    Stratified by class when `stratify` (each class loses the same share), shuffled with
    `seed`, so a dataset's splits are the same on every run whatever the training seed.
    """
    rng = np.random.default_rng(seed)
    n = len(y)
    if not stratify:
        order = rng.permutation(n)
        return _sorted_split(n, order[:int(round(fraction * n))])
    labels = np.argmax(y, axis=1) if y.ndim == 2 and y.shape[1] > 1 else np.ravel(y)
    classes, counts = np.unique(labels, return_counts=True)
    # each class gives its share, rounded so that the total is round(fraction * n)
    # (largest remainders first): small datasets keep an exact, non-empty split
    exact = fraction * counts
    share = np.floor(exact).astype(int)
    missing = int(round(fraction * n)) - share.sum()
    share[np.argsort(share - exact)[:max(missing, 0)]] += 1
    held = [rng.permutation(np.flatnonzero(labels == cls))[:k]
            for cls, k in zip(classes, share)]
    return _sorted_split(n, np.concatenate(held) if held else np.array([], dtype=int))


def _sorted_split(n, held):
    """(kept, held) indices of 0..n-1, both sorted: a mask, not a sort (1M rows: 2 ms)."""
    mask = np.zeros(n, dtype=bool)
    mask[held] = True
    return np.flatnonzero(~mask), np.flatnonzero(mask)
