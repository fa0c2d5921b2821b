"""Applying a saved run to new inputs, with uncertainties: `mlphys predict` and
`mlphys.predict`.

    table = mlphys.predict(run, x)                   # x: an array (N, ...) or file path(s)
    table = mlphys.predict("saved_models/cnn-digits-...", "images/",
                           settings=PredictSettings(top=3))
    table = mlphys.predict(run, split="test")         # the run's dataset, one split
    table = mlphys.predict(run, "x.csv", settings=PredictSettings(mc_dropout=50))

The result is a pandas DataFrame, one row per sample: `id` (row number, or the image's
file name), then for classifiers `class`, `class_name`, `probability` and every class's
probability `p_<name>` (or the `--top K` classes); for regressors one column per output,
named after the target (a CSV file's target column), in the target's units. Per-pixel
outputs (segmentation masks, target images) come as `PixelPredictions` arrays instead.

Runs with members add each output's standard deviation over them (`<column>_std`,
sample standard deviation, ddof = 1, as `--repeats` reports): a replica ensemble
(`train --replicas N`), a repeats folder (`train --repeats N`), or `mc_dropout=N`
stochastic passes with the dropout layers left on (Gal and Ghahramani 2016). Inputs are
read and predicted a chunk at a time, so an image folder of any size predicts in flat
memory.
"""

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from mlphys.errors import UserError
from mlphys.prediction_files import PixelPredictions  # noqa: F401 (a result of predict)

CHUNK_BATCHES = 32  # inputs are read (and images decoded) this many batches at a time


@dataclass(frozen=True)
class PredictSettings:
    """How to predict. batch_size: samples per forward pass; top: report the K most
    probable classes instead of every class's probability; mc_dropout: number of Monte
    Carlo dropout passes (0: off); checkpoint: "model" (final) or "best"."""

    batch_size: int = 256
    top: int | None = None
    mc_dropout: int = 0
    checkpoint: str = "model"


def open_members(run, checkpoint="model", models_from=None):
    """The `Run`s whose models are averaged: the repeats of a `--repeats` folder, else the
    one run (a `Run`, a run or tuning folder, or a .keras file)."""
    from mlphys.backend import prefer_run_backend
    from mlphys.run import Run, is_repeats_folder

    if isinstance(run, Run):
        return [run]
    if is_repeats_folder(run):
        folders = sorted(Path(run).glob("repeat-*"), key=lambda p: int(p.name[7:]))
        return prefer_run_backend([Run.open(f, checkpoint=checkpoint, models_from=models_from)
                                   for f in folders if (f / "config.json").exists()])
    return prefer_run_backend([Run.open(run, checkpoint=checkpoint, models_from=models_from)])


def run_spec(run):
    """(DataSpec, provenance) of the data `run` trained on; for a bare .keras file, a
    spec of the model's input shape whose outputs are reported as plain values."""
    from mlphys.dataspec import DataSpec

    data = run.config.state.data if run.config else {}
    if data.get("spec"):
        return DataSpec.from_dict(data["spec"]), data.get("provenance") or {}
    shape = tuple(run.model.input_shape[1:])
    kind = {1: "vector", 3: "image"}.get(len(shape), "sequence")
    return DataSpec(shape, "regression", int(run.model.output_shape[-1]), kind), {}


def predict(run, inputs=None, *, dataset=None, options=None, split=None, settings=None,
            data_dir=None, models_from=None, progress=None):
    """Predict `inputs` with the saved `run`; a DataFrame (or `PixelPredictions`).

    run: a `Run`, a run/tuning/repeats folder, or a .keras file.
    inputs: an array (N, *input_shape), a path or a list of paths (.npz, .csv, an image
        folder, image files); None: the `split` of `dataset` (default the run's own).
    progress: progress(done, total) after each chunk of samples, for a progress bar.
    """
    settings = settings or PredictSettings()
    runs = open_members(run, settings.checkpoint, models_from)
    return _predict(runs, inputs, dataset=dataset, options=options, split=split,
                    settings=settings, data_dir=data_dir, progress=progress)[0]


def predict_to_file(run, inputs=None, *, out=None, fmt=None, settings=None,
                    models_from=None, **keywords):
    """`predict`, then write the result into `out` (default: the run's folder) as a new
    predictions file; returns (path, result). The keywords are `predict`'s."""
    from mlphys.prediction_files import FORMATS, check_output_folder, write_predictions

    if fmt is not None and fmt not in FORMATS:
        raise UserError(f"--format {fmt}: choose {', '.join(FORMATS)}")
    settings = settings or PredictSettings()
    runs = open_members(run, settings.checkpoint, models_from)
    folder = Path(run) if len(runs) > 1 else runs[0].path
    out = Path(out) if out is not None else folder
    check_output_folder(out)
    result, name = _predict(runs, inputs, settings=settings, **keywords)
    return write_predictions(result, out, name, fmt), result


def _predict(runs, inputs, *, dataset=None, options=None, split=None, settings,
             data_dir=None, progress=None):
    spec, provenance = run_spec(runs[0])
    _check_top(settings.top, spec)
    samples = read_samples(runs[0], inputs, spec, provenance, dataset=dataset,
                           options=options, split=split, data_dir=data_dir)
    outputs = apply_members(member_function(runs, settings), samples, settings.batch_size,
                            progress)
    return tabulate(outputs, spec, provenance, samples, settings.top), samples.name


def _check_top(top, spec):
    if top is None:
        return
    if spec.task == "regression":
        raise UserError(f"--top {top}: the model is a regressor; it has no classes")
    classes = 2 if spec.task == "binary" else spec.num_outputs
    if top > classes:
        raise UserError(f"--top {top}: the model has {classes} classes; give 1 to {classes}")


def read_samples(run, inputs, spec, provenance, *, dataset=None, options=None, split=None,
                 data_dir=None):
    """The `Inputs` to predict: an array, files, or a split of a (registered) dataset."""
    from mlphys.data.inputs import array_inputs
    from mlphys.inputs import Inputs, check_shape, read_inputs

    if inputs is None:
        data = run.load_data(dataset, options, data_dir=data_dir)
        x, y = data.split(split or "test")
        check_shape(data.name, x.shape[1:], spec.input_shape)
        return Inputs.of_array(f"{data.name}-{split or 'test'}", x, truth=y)
    if dataset is not None or split is not None:
        raise UserError("give either input files or --dataset/--split, not both")
    if isinstance(inputs, (str, Path)) or (isinstance(inputs, (list, tuple)) and inputs
                                           and isinstance(inputs[0], (str, Path))):
        paths = [inputs] if isinstance(inputs, (str, Path)) else list(inputs)
        return read_inputs(paths, spec, provenance, options)
    return array_inputs("inputs", inputs, spec)


def member_function(runs, settings):
    """f(x) -> (M, B, ...): the M members' outputs for a batch x of B samples."""
    batch = settings.batch_size
    if settings.mc_dropout:
        if len(runs) > 1 or getattr(runs[0].model, "members", None):
            raise UserError("--mc-dropout samples one model; this run has members (replicas "
                            "or repeats) whose spread is already its uncertainty")
        return _mc_dropout(runs[0].model, settings.mc_dropout, batch)
    if len(runs) == 1 and getattr(runs[0].model, "members", None):
        from mlphys.ensembles import member_predictions

        return lambda x: member_predictions(runs[0].model, x, batch)
    models = [r.model for r in runs]
    return lambda x: np.stack([predict_batches(m, x, batch) for m in models])


def predict_batches(model, x, batch):
    """`model`'s outputs for the array x, `batch` samples per `predict_on_batch` (no
    `tf.data` pipeline built per chunk, so memory stays flat over many chunks)."""
    return np.concatenate([np.asarray(model.predict_on_batch(x[i:i + batch]))
                           for i in range(0, len(x), batch)])


def _mc_dropout(model, passes, batch):
    from mlphys.mc_dropout import dropout_layers, dropout_on

    if passes < 2:
        raise UserError(f"--mc-dropout {passes}: give at least 2 passes (50 is usual)")
    if not dropout_layers(model):
        raise UserError(f"--mc-dropout: model '{model.name}' has no dropout layer, so its "
                        "passes would all agree; train it with dropout (e.g. -p dropout=0.2)"
                        " or use --replicas/--repeats")

    def passes_of(x):
        with dropout_on(model):
            return np.stack([predict_batches(model, x, batch) for _ in range(passes)])

    return passes_of


def apply_members(function, samples, batch_size, progress=None):
    """(M, N, ...) outputs of `function` over `samples`, a chunk of batches at a time."""
    parts, total = [], len(samples)
    for start, x in samples.batches(batch_size * CHUNK_BATCHES):
        parts.append(np.asarray(function(x), dtype=np.float32))
        if progress:
            progress(start + len(x), total)
    return np.concatenate(parts, axis=1)


def tabulate(outputs, spec, provenance, samples, top=None):
    """The table (or `PixelPredictions`) of outputs (M, N, ...) for `samples`."""
    members = outputs.shape[0]
    mean = outputs.mean(axis=0)
    std = outputs.std(axis=0, ddof=1) if members > 1 else None
    if mean.ndim > 2:  # an output per pixel
        classes = np.argmax(mean, axis=-1) if spec.task == "classification" else None
        return PixelPredictions(samples.ids, mean, std, classes, members)
    import pandas as pd

    table = pd.DataFrame({"id": samples.ids})
    if spec.task == "regression":
        columns = _value_columns(mean, std, output_names(spec, provenance, mean.shape[1]))
        truth = _truth_columns(samples.truth, output_names(spec, provenance, mean.shape[1]))
    else:
        if spec.task == "binary":  # P(class 1) -> both classes' probabilities
            mean = np.concatenate([1 - mean, mean], axis=1)
            std = None if std is None else np.concatenate([std, std], axis=1)
        names = list(spec.class_names or range(mean.shape[1]))
        columns = _class_columns(mean, std, [str(n) for n in names], top)
        truth = {} if samples.truth is None else {
            "true_class_name": np.asarray(names, dtype=object)[_class_indices(samples.truth,
                                                                              spec)]}
    return pd.concat([table, pd.DataFrame({**truth, **columns})], axis=1)


def output_names(spec, provenance, count):
    """Column names of regression outputs: the CSV target's name, else y (y_0, y_1...)."""
    base = str(provenance.get("target") or "y")
    return [base] if count == 1 else [f"{base}_{k}" for k in range(count)]


def _value_columns(mean, std, names):
    columns = {}
    for k, name in enumerate(names):
        columns[name] = mean[:, k]
        if std is not None:
            columns[f"{name}_std"] = std[:, k]
    return columns


def _truth_columns(truth, names):
    if truth is None:
        return {}
    truth = np.asarray(truth, dtype=np.float32).reshape(len(truth), -1)
    return {f"true_{name}": truth[:, k] for k, name in enumerate(names)}


def _class_indices(truth, spec):
    truth = np.asarray(truth)
    if spec.label_format == "onehot" and truth.ndim == 2:
        return np.argmax(truth, axis=1)
    return np.ravel(truth).astype(int)


def _class_columns(mean, std, names, top):
    """The predicted class, its name and probability, then every class's probability
    (`p_<name>`) or the `top` most probable classes (`top<k>_name`, `top<k>_probability`)."""
    order = np.argsort(-mean, axis=1, kind="stable")
    rows = np.arange(len(mean))
    best = order[:, 0]
    columns = {"class": best, "class_name": np.asarray(names, dtype=object)[best],
               "probability": mean[rows, best]}
    if std is not None:
        columns["probability_std"] = std[rows, best]
    if top is not None:
        for k in range(top):
            chosen = order[:, k]
            columns[f"top{k + 1}_name"] = np.asarray(names, dtype=object)[chosen]
            columns[f"top{k + 1}_probability"] = mean[rows, chosen]
            if std is not None:
                columns[f"top{k + 1}_probability_std"] = std[rows, chosen]
        return columns
    for k, name in enumerate(names):
        columns[f"p_{name}"] = mean[:, k]
        if std is not None:
            columns[f"p_{name}_std"] = std[:, k]
    return columns
