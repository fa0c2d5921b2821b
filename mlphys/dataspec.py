"""The data contract: `DataSpec` (what a model needs to know of the data), `Dataset` (the
splits, their uncertainties and provenance) and where data files are looked for.

A module of its own so that the dataset registry (`mlphys.datasets`, which re-exports
these names) and the cache of generated datasets (`mlphys.dataset_cache`) both import it
without importing each other.
"""

import contextvars
import os
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from mlphys.errors import UserError

TASKS = ("classification", "binary", "regression")
KINDS = ("image", "vector", "sequence")


@dataclass(frozen=True)
class DataSpec:
    """What a model needs to know to size itself for a dataset.

    input_shape: shape of one sample, e.g. (28, 28, 1) for an image, (4,) for a vector.
    task: "classification" (integer or one-hot labels, softmax), "binary" (labels 0/1, one
        sigmoid output) or "regression".
    num_outputs: number of classes, 1 for binary, number of targets for regression.
    kind: "image", "vector" or "sequence".
    class_names: names of the classes, for classification.
    label_format: "integer", "onehot" or "value" (regression targets).
    target_shape: shape of one label: () for integer labels, (K,) for one-hot or T
        regression targets, (H, W) for per-pixel classes, (H, W, C) for target images.
    """

    input_shape: tuple
    task: str
    num_outputs: int
    kind: str
    class_names: tuple | None = None
    label_format: str = "integer"
    target_shape: tuple = ()

    def to_dict(self):
        return {"input_shape": list(self.input_shape), "task": self.task,
                "num_outputs": self.num_outputs, "kind": self.kind,
                "class_names": list(self.class_names) if self.class_names else None,
                "label_format": self.label_format, "target_shape": list(self.target_shape)}

    @classmethod
    def from_dict(cls, d):
        """The inverse of `to_dict` (config.json and dataset caches store specs as JSON)."""
        return cls(tuple(d["input_shape"]), d["task"], d["num_outputs"], d["kind"],
                   tuple(d["class_names"]) if d.get("class_names") else None,
                   d.get("label_format", "integer"), tuple(d.get("target_shape", ())))

    def describe(self):
        shape = "x".join(str(s) for s in self.input_shape)
        if self.task == "regression":
            return f"{self.kind} {shape} -> {self.num_outputs} target(s)"
        classes = 2 if self.task == "binary" else self.num_outputs
        return f"{self.kind} {shape} -> {classes} classes"


@dataclass
class Dataset:
    """Train, validation and test arrays with their `DataSpec` and provenance.

    Images are float32 in [0, 1] with shape (N, H, W, C); labels are integers (N,), one-hot
    (N, K), per-pixel classes (N, H, W) or regression targets (N, T) or (N, H, W, C).

    sigma_train/val/test: the targets' standard uncertainties (same shape as y), for
        measured or pseudo-data; when given, regression trains on chi^2 / N (each sample
        weighted by 1/sigma^2) and `train --replicas` fluctuates the targets within them.
    """

    name: str
    spec: DataSpec
    x_train: np.ndarray
    y_train: np.ndarray
    x_test: np.ndarray
    y_test: np.ndarray
    x_val: np.ndarray | None = None
    y_val: np.ndarray | None = None
    provenance: dict = field(default_factory=dict)
    options: dict = field(default_factory=dict)
    sigma_train: np.ndarray | None = None
    sigma_val: np.ndarray | None = None
    sigma_test: np.ndarray | None = None

    def split(self, which):
        if which not in ("train", "val", "test"):
            raise UserError(f"unknown split '{which}': choose train, val or test")
        return getattr(self, f"x_{which}"), getattr(self, f"y_{which}")

    def sizes(self):
        return {s: int(len(getattr(self, f"y_{s}"))) for s in ("train", "val", "test")}

    def sample_weight(self, which):
        """1/sigma^2 per sample of split `which` (so that MSE becomes chi^2 / N), or None."""
        sigma = getattr(self, f"sigma_{which}")
        if sigma is None:
            return None
        sigma = np.asarray(sigma, dtype=np.float64).reshape(len(sigma), -1)
        return (1.0 / np.mean(sigma ** 2, axis=1)).astype(np.float32)


def data_dirs(data_dir=None, keras_subdir="datasets"):
    """Where downloadable files are looked for, in order: `--data-dir`,
    `$MLPHYS_DATA_DIR`, then the Keras cache (`$KERAS_HOME/datasets`, `~/.keras/datasets`;
    `keras_subdir="models"` for pretrained weights)."""
    dirs = []
    if data_dir:
        dirs.append(Path(data_dir).expanduser())
    if os.environ.get("MLPHYS_DATA_DIR"):
        dirs.append(Path(os.environ["MLPHYS_DATA_DIR"]).expanduser())
    keras_home = os.environ.get("KERAS_HOME")
    if keras_home:
        dirs.append(Path(keras_home).expanduser() / keras_subdir)
    dirs += [Path(f"~/.keras/{keras_subdir}").expanduser(), Path(f"/tmp/.keras/{keras_subdir}")]
    return dirs


_DATA_DIR = contextvars.ContextVar("mlphys_data_dir", default=None)


@contextmanager
def looking_in(data_dir):
    """While a run's model is built, `current_data_dir()` is the run's `--data-dir`, so a
    builder that reads files (a backbone's weights) looks where the run's data are."""
    token = _DATA_DIR.set(data_dir)
    try:
        yield
    finally:
        _DATA_DIR.reset(token)


def current_data_dir():
    """The `--data-dir` of the run whose model is being built (None outside a build)."""
    return _DATA_DIR.get()
