"""Checks of a loaded `Dataset` before anything trains on it, for every loader and format.

    from mlphys.data_checks import check_dataset
    check_dataset(dataset)    # raises UserError, or prints warnings and returns

`mlphys.datasets.load_dataset` calls it on every dataset it returns, so a registered
generator, a Keras set, an .npz, a CSV table and an image folder get the same checks:

- NaN or infinite values in the inputs or targets of any split: refused, with the split,
  the count and the first offending sample (and the CSV column or feature index);
- a classification target with fewer than two classes in the training split: refused;
- integer labels outside 0..K-1, or classes in the validation or test split that the
  training split never has: refused (user files with arbitrary integer labels never get
  here: `.npz` and CSV readers map them to 0..K-1, keeping the values as class names);
- constant input features of a user's vector data: a warning naming them (not for
  images, whose border pixels are often constant on purpose, nor for generators whose
  constant columns are by design, like the coefficients of a PINN's equation).

Streamed splits (image folders read from disk) are checked by their labels only: their
pixels are decoded during training, and decoded images are finite by construction.
"""

import sys

import numpy as np

from mlphys.errors import UserError

SPLITS = ("train", "val", "test")
_SPLIT_WORDS = {"train": "training", "val": "validation", "test": "test"}


def check_dataset(dataset, warn_constant=True):
    """Refuse data no model can learn from; warn about constant features (see module).

    warn_constant: False for generators whose constant columns are by design.
    """
    for split in SPLITS:
        for axis in ("x", "y"):
            _check_finite(dataset, split, axis)
    if dataset.spec.task in ("classification", "binary"):
        _check_classes(dataset)
    if warn_constant and dataset.spec.kind == "vector":
        _warn_constant_features(dataset)


def _array(dataset, split, axis, kinds="fc"):
    """The split's array if it is an in-memory one of a dtype kind in `kinds`, else None."""
    values = getattr(dataset, f"{axis}_{split}", None)
    if not isinstance(values, np.ndarray) or values.dtype.kind not in kinds or values.size == 0:
        return None
    return values


def check_finite(name, arrays, where=None):
    """Refuse NaN or infinite values in `arrays` ({"x_train": array, ...}) of dataset `name`.

    where(key, index) -> text: where the first bad value of `arrays[key]` is, for its
    multi-index; by default "x_train[3, 1]", as the arrays were given.
    """
    for key, values in arrays.items():
        if not isinstance(values, np.ndarray) or values.dtype.kind not in "fc" or (
                values.size == 0 or _all_finite(values)):
            continue
        bad = ~np.isfinite(values)
        first = tuple(int(i) for i in np.unravel_index(int(np.argmax(bad)), values.shape))
        at = where(key, first) if where else f"{key}[{', '.join(map(str, first))}]"
        raise UserError(f"'{name}' has {int(bad.sum()):,} NaN or infinite value(s) in "
                        f"{key}, the first at {at}; remove or replace them before training")


def _all_finite(values, chunk=4096):
    """np.isfinite(values).all(), a chunk of samples at a time (no image-sized mask)."""
    return all(np.isfinite(values[start:start + chunk]).all()
               for start in range(0, len(values), chunk))


def _check_finite(dataset, split, axis):
    def where(key, first):
        text = f"sample {first[0]} of the {_SPLIT_WORDS.get(split, split)} split"
        if len(first) > 1:
            text += f", {_column(dataset, axis, first[1])}"
        elif axis == "y" and dataset.provenance.get("target"):
            text += f", column '{dataset.provenance['target']}'"
        return text

    values = _array(dataset, split, axis)
    check_finite(dataset.name, {f"{axis}_{split}": values}, where)


def _column(dataset, axis, index):
    """'column NAME' for a CSV table's features, else 'feature INDEX'."""
    names = dataset.provenance.get("features") if axis == "x" else None
    if names and dataset.x_train.ndim == 2 and index < len(names):
        return f"column '{names[index]}'"
    return f"{'feature' if axis == 'x' else 'target'} {index}"


def _labels(y, spec):
    """Class indices of labels `y` (integer, per-pixel or one-hot), flattened."""
    y = np.asarray(y)
    if spec.label_format == "onehot" and y.ndim == 2:
        return np.argmax(y, axis=1)
    return np.ravel(y)


def _class_name(spec, index):
    names = spec.class_names or ()
    return names[index] if 0 <= index < len(names) else str(index)


def _check_classes(dataset):
    spec = dataset.spec
    classes = 2 if spec.task == "binary" else spec.num_outputs
    seen = {}
    for split in SPLITS:
        y = getattr(dataset, f"y_{split}", None)
        if y is None or len(y) == 0:
            continue
        labels = _labels(y, spec)
        values = np.unique(labels)
        outside = [v for v in values if not (float(v).is_integer() and 0 <= v < classes)]
        if outside:
            shown = ", ".join(str(v) for v in outside[:5])
            raise UserError(
                f"'{dataset.name}': y_{split} has labels {shown} outside 0..{classes - 1} "
                f"(the dataset declares {classes} classes); give class indices 0..K-1")
        seen[split] = set(int(v) for v in values)
    train = seen.get("train", set())
    if len(train) < 2:
        only = ", ".join(_class_name(spec, c) for c in sorted(train)) or "none"
        raise UserError(
            f"'{dataset.name}': the training split has one class only ({only}); a "
            "classifier needs samples of at least two classes")
    for split in ("val", "test"):
        unseen = sorted(seen.get(split, set()) - train)
        if unseen:
            names = ", ".join(_class_name(spec, c) for c in unseen[:5])
            raise UserError(
                f"'{dataset.name}': the {_SPLIT_WORDS[split]} split has class(es) {names} "
                "that the training split never has; give training samples of every class")


def _warn_constant_features(dataset):
    x = _array(dataset, "train", "x", kinds="iufb")
    if x is None or x.ndim != 2 or len(x) < 2:
        return
    # only the columns whose first two values agree can be constant: one cheap row test
    # first, then those columns alone (not a comparison of the whole matrix)
    maybe = np.flatnonzero(x[1] == x[0])
    constant = maybe[np.all(x[:, maybe] == x[:1, maybe], axis=0)]
    if len(constant) == 0:
        return
    shown = ", ".join(_column(dataset, "x", int(j)).split(" ", 1)[1] for j in constant[:8])
    more = f" and {len(constant) - 8} more" if len(constant) > 8 else ""
    kind = "column(s)" if dataset.provenance.get("features") else "feature(s)"
    print(f"warning: '{dataset.name}': input {kind} {shown}{more} are constant in the "
          "training split and carry no information", file=sys.stderr)
