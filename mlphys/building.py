"""From a registry name, a `DataSpec` and hyperparameters to a compiled Keras model.

    from mlphys.building import build_model
    model, hp = build_model("cnn", spec, {"filters": 16})

A value Keras itself refuses while building (a builder whose declarations cannot be read
from its source gets no range check) is a `UserError` naming the values.
"""

from mlphys.errors import UserError
from mlphys.hparams import declare_training_hyperparameters, fixed_hyperparameters, resolve_params
from mlphys.registry import get_model


def check_compatible(entry, task, kind, shape, dataset_name):
    """Refuse data the model cannot take, saying which registered datasets fit it."""
    if entry.accepts(task, kind):
        return
    from mlphys.datasets import get_dataset, list_datasets

    fitting = [d for d in list_datasets() if entry.accepts(get_dataset(d).task,
                                                          get_dataset(d).kind)]
    if not isinstance(shape, str):
        shape = "x".join(str(s) for s in shape)
    raise UserError(
        f"model '{entry.name}' needs {entry.requirement()}, but '{dataset_name}' is "
        f"{task} on {kind} data of shape {shape}; datasets that fit: "
        f"{', '.join(fitting) or 'none registered'}")


def compile_for_task(model, hp, spec):
    """Compile with the task's loss and metrics and the optimizer declared in `hp`.

    classification: (sparse) categorical cross-entropy, whichever matches the label format,
    so one-hot labels are never converted; binary: binary cross-entropy; regression: MSE
    with MAE as metric.
    """
    import keras

    name, learning_rate = declare_training_hyperparameters(hp)
    optimizer = keras.optimizers.get({"class_name": name,
                                      "config": {"learning_rate": learning_rate}})
    if spec.task == "classification":
        loss = ("categorical_crossentropy" if spec.label_format == "onehot"
                else "sparse_categorical_crossentropy")
        metrics = ["accuracy"]
    elif spec.task == "binary":
        loss, metrics = "binary_crossentropy", ["accuracy"]
    else:
        loss, metrics = "mse", ["mae"]
    model.compile(optimizer=optimizer, loss=loss, metrics=metrics)


def build_model(name, spec, params=None, *, hp=None, dataset_name="this dataset"):
    """Build (and compile) model `name` for data described by `spec`.

    params: the user's hyperparameter values by name (strings from the command line are
        typed by the model's declarations); they are fixed before the builder runs.
    hp: a `keras_tuner.HyperParameters` to use instead (KerasTuner passes its own).
    Returns (model, hp), hp holding every value used.
    """
    entry = get_model(name)
    check_compatible(entry, spec.task, spec.kind, spec.input_shape, dataset_name)
    given = resolve_params(entry, params) if hp is None else None
    if hp is None:
        hp = fixed_hyperparameters(given)
    try:
        model = entry.builder(hp, spec)
        if not entry.compiles:
            compile_for_task(model, hp, spec)
    except (ValueError, TypeError) as error:
        if not _raised_by_keras(error):
            raise  # a builder's own failure is a bug to see, with its traceback
        values = given if given is not None else {
            k: v for k, v in hp.values.items() if not k.startswith("tuner/")}
        shown = ", ".join(f"{k}={v}" for k, v in values.items()) or "its defaults"
        message = str(error).strip().splitlines()[0] if str(error).strip() else ""
        raise UserError(f"Keras cannot build '{name}' with {shown} ({type(error).__name__}: "
                        f"{message}); 'mlphys info {name}' lists the hyperparameters "
                        "and their ranges") from None
    return model, hp


def _raised_by_keras(error):
    """True when the innermost frame of `error`'s traceback is inside Keras: a layer or
    optimizer refusing a value (`Dropout(rate=5)`), as opposed to a builder's own bug."""
    import os

    tb = error.__traceback__
    while tb.tb_next is not None:
        tb = tb.tb_next
    return f"{os.sep}keras{os.sep}" in tb.tb_frame.f_code.co_filename
