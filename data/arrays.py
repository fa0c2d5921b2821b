"""Arrays into a `Dataset`: the task found from the labels, labels encoded as class
indices, a test split held out where a file has none. Every file reader ends here.

    task = infer_task(y)                    # "classification" or "regression"
    data = dataset_from_arrays("runs", x, y, task, None, None, 0.2, 0, provenance)
"""

import numpy as np

from mlphys.datasets import Dataset, infer_spec, split_indices
from mlphys.errors import UserError

MAX_CLASSES = 20  # integer labels with at most this many values are classes


def infer_task(y, task="auto"):
    """"classification" or "regression" for labels `y`, unless `task` is given."""
    if task not in ("auto", "classification", "regression"):
        raise UserError(f"--option task={task}: choose auto, classification or regression")
    if task != "auto":
        return task
    y = np.asarray(y)
    if y.ndim == 2 and y.shape[1] > 1 and np.all((y == 0) | (y == 1)) and np.all(y.sum(1) == 1):
        return "classification"  # one-hot
    if y.dtype.kind in "OUSb":
        return "classification"
    if y.dtype.kind == "f" and not np.all(np.mod(y[:1000], 1) == 0):
        return "regression"  # a fraction among the first values: no need to sort them all
    values = np.unique(y)
    integral = y.dtype.kind in "iu" or bool(np.all(np.mod(values, 1) == 0))
    return "classification" if integral and len(values) <= MAX_CLASSES else "regression"


def encode_labels(y):
    """Class indices 0..K-1 and the class names, for labels of any type."""
    names, indices = np.unique(np.asarray(y), return_inverse=True)
    return indices.astype(np.int64), [str(n) for n in names]


def dataset_from_arrays(name, x, y, task, x_test, y_test, test_split, split_seed, provenance,
            x_val=None, y_val=None, kind=None, class_names=None):
    """A `Dataset` from arrays: labels encoded as class indices (unless `class_names` says
    they already are), regression targets as float32, a test split held out if missing."""
    onehot = y.ndim == 2 and y.shape[1] > 1
    if task == "classification" and class_names is None and not onehot:
        labels = np.concatenate([np.ravel(a) for a in (y, y_test, y_val) if a is not None])
        indices, class_names = encode_labels(labels)
        n_train, n_test = len(y), (len(y_test) if y_test is not None else 0)
        y = indices[:n_train]
        if y_test is not None:
            y_test = indices[n_train:n_train + n_test]
        if y_val is not None:
            y_val = indices[n_train + n_test:]
    elif task == "regression":
        y = y.astype(np.float32)
        y_test = None if y_test is None else y_test.astype(np.float32)
        y_val = None if y_val is None else y_val.astype(np.float32)
    if x_test is None:
        if not 0 < test_split < 1:
            raise UserError(f"--option test_split={test_split}: give a fraction in (0, 1)")
        keep, test = split_indices(y, test_split, split_seed,
                                   stratify=task == "classification")
        x, y, x_test, y_test = x[keep], y[keep], x[test], y[test]
    spec = infer_spec(x, y, task, class_names=class_names, kind=kind)
    return Dataset(name, spec, x, y, x_test, y_test, x_val, y_val, provenance=provenance)
