"""Standardisation of vector inputs and regression targets inside the saved model.

    mlphys train mlp -d events.parquet --target mass                  # on (a table file)
    mlphys train mlp -d events.parquet --target mass --normalize none # raw units in
    model = with_normalization(model, data)   # what the fit core does when it is on

Physical data come in their units (energies ~50 GeV with spreads of 40, positions in mm):
the model then starts with a Keras `Normalization` layer whose mean and variance are
those of the training split's features, and, for regression, ends with the inverse
standardisation of the targets (a `Normalization(invert=True)` of the training targets'
mean and variance). The network in between sees and predicts numbers of order one; the
saved model takes and returns raw units, so `evaluate` and `predict` need nothing else.

`--normalize auto` (the default) turns it on for vector data read from a table file
(CSV, Parquet, Feather, ROOT, HDF5 and FITS tables: datasets whose provenance names their
feature columns), streamed (`--stream`) or not; `on` for any vector data; `none` never.
A stream's means and variances take one pass over its training rows on disk. The resolved value ("on" or
"none") is what config.json records.
"""

import numpy as np

from mlphys.errors import UserError

NORMALIZE = ("auto", "on", "none")


def resolve_normalize(choice, data, dataset_name):
    """"on" or "none" for `--normalize choice` on `data` (see the module docstring)."""
    if choice not in NORMALIZE:
        raise UserError(f"--normalize {choice}: choose one of {', '.join(NORMALIZE)}")
    from mlphys.streams import ArrayStream

    vector = data.spec.kind == "vector" and isinstance(data.x_train,
                                                       (np.ndarray, ArrayStream))
    if choice == "on" and not vector:
        raise UserError(f"--normalize on standardises vector inputs, but '{dataset_name}' "
                        f"holds {data.spec.kind} data; leave it out")
    if choice == "auto":
        return "on" if vector and data.provenance.get("features") else "none"
    return choice


def _moments(values):
    """(mean, variance) per column of (N, ...) `values`, in float64 then float32; a
    stream's (`--stream`) in one pass over its rows on disk."""
    if hasattr(values, "moments"):
        mean, variance = values.moments()
    else:
        flat = np.asarray(values, dtype=np.float64).reshape(len(values), -1)
        mean, variance = flat.mean(axis=0), flat.var(axis=0)
    return mean.astype(np.float32), variance.astype(np.float32)


def with_normalization(model, data, targets=True):
    """`model` (compiled) between a standardisation of the features and, for regression
    when `targets`, a de-standardisation of its outputs, both from the training split;
    compiled as `model` was."""
    before, after = _standardisations(data, targets)
    return wrapped_model(model, before, after, f"normalized_{model.name}")


def normalized(model, data):
    """The same as `with_normalization`, for an uncompiled model (a replica ensemble's
    member, so that each member takes and returns raw units and `member_outputs` are
    in the targets' units)."""
    before, after = _standardisations(data, targets=True)
    return _around(model, before, after, f"normalized_{model.name}")


def _standardisations(data, targets):
    """([feature standardisation], [target de-standardisation] or []) layers."""
    import keras

    mean, variance = _moments(data.x_train)
    before = [keras.layers.Normalization(mean=mean, variance=variance, dtype="float32",
                                         name="standardise_features")]
    after = []
    if targets and data.spec.task == "regression" and data.y_train.ndim <= 2:
        mean, variance = _moments(data.y_train)
        after = [keras.layers.Normalization(mean=mean, variance=variance, invert=True,
                                            dtype="float32", name="raw_units_targets")]
    return before, after


def _around(model, before, after, name):
    """A functional model: raw input -> `before` layers -> `model` -> `after` layers."""
    import keras

    inputs = keras.Input(shape=model.input_shape[1:], name="raw_input")
    x = inputs
    for step in before:
        x = step(x)
    x = model(x)
    for step in after:
        x = step(x)
    return keras.Model(inputs, x, name=name)


def wrapped_model(model, before, after=(), name=None):
    """`model` with the layers `before` applied to its inputs and `after` to its
    outputs, compiled as `model` was (its optimizer moves to the outer model)."""
    compiled_with = model.get_compile_config()
    optimizer = model.optimizer
    model.optimizer, model.compiled = None, False  # the outer model trains and saves it
    wrapped = _around(model, before, after, name or f"standardised_{model.name}")
    wrapped.compile(optimizer=optimizer, loss=compiled_with.get("loss"),
                    metrics=compiled_with.get("metrics"))
    return wrapped
