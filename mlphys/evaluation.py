"""Scoring a model on a dataset split, and `mlphys evaluate` on a saved run or file."""

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from mlphys.errors import UserError


def confusion_matrix(true, predicted, num_classes):
    """counts[i, j] = number of samples of true class i predicted as class j."""
    counts = np.zeros((num_classes, num_classes), dtype=np.int64)
    np.add.at(counts, (true, predicted), 1)
    return counts


def classification_metrics(counts):
    """Accuracy and macro-averaged precision, recall and F1 from a confusion matrix.

    Macro averages weigh every class equally; a class never predicted has precision 0
    (scikit-learn's `zero_division=0`).
    """
    tp = np.diag(counts).astype(float)
    predicted = counts.sum(axis=0)
    actual = counts.sum(axis=1)
    precision = np.divide(tp, predicted, out=np.zeros_like(tp), where=predicted > 0)
    recall = np.divide(tp, actual, out=np.zeros_like(tp), where=actual > 0)
    f1 = np.divide(2 * precision * recall, precision + recall, out=np.zeros_like(tp),
                   where=precision + recall > 0)
    present = actual > 0
    return {"accuracy": float(tp.sum() / max(counts.sum(), 1)),
            "precision": float(precision[present].mean()),
            "recall": float(recall[present].mean()),
            "f1": float(f1[present].mean())}


def regression_metrics(y_true, y_pred):
    """MSE, MAE and R^2 (the coefficient of determination, averaged over targets)."""
    y_true = np.asarray(y_true, dtype=float).reshape(len(y_true), -1)
    y_pred = np.asarray(y_pred, dtype=float).reshape(len(y_pred), -1)
    residual = y_true - y_pred
    ss_res = (residual ** 2).sum(axis=0)
    ss_tot = ((y_true - y_true.mean(axis=0)) ** 2).sum(axis=0)
    r2 = 1 - ss_res / np.where(ss_tot > 0, ss_tot, np.nan)
    return {"mse": float((residual ** 2).mean()), "mae": float(np.abs(residual).mean()),
            "r2": float(np.nanmean(r2)) if np.isfinite(r2).any() else float("nan")}


def check_model_fits_data(model, spec, dataset_name, outputs_are_classes=True):
    """Refuse a dataset whose sample shape or number of outputs the model does not have.

    outputs_are_classes: False for models scored by their own entry `score` (an
    autoencoder's outputs are images, whatever classes the dataset has)."""
    try:
        expected, outputs = tuple(model.input_shape[1:]), model.output_shape[-1]
    except (AttributeError, ValueError, TypeError, IndexError):
        return  # a subclassed model without fixed shapes: its own `score` reads the data
    if not all(isinstance(e, (int, type(None))) for e in expected):
        return  # several inputs
    given = tuple(spec.input_shape)
    if len(expected) != len(given) or any(e is not None and e != g
                                          for e, g in zip(expected, given)):
        raise UserError(f"the model takes inputs of shape {expected} but '{dataset_name}' "
                        f"has samples of shape {given}; evaluate on the dataset it was "
                        "trained on (or give its --option values)")
    if outputs_are_classes and spec.task != "regression" and outputs != spec.num_outputs:
        raise UserError(f"the model has {outputs} outputs but '{dataset_name}' has "
                        f"{spec.num_outputs} classes; evaluate on a dataset with the same "
                        "classes")


@dataclass
class Scores:
    """What scoring a split gives: the metrics, and what the figures of
    `mlphys.plots.plot_evaluation` are drawn from (None where they do not apply).

    confusion: (K, K) counts, rows true class; truth: (N,) class labels or (N, ...)
    regression targets; predictions: the model's outputs (N, ...); probability: (N,)
    p(class 1) of a binary task (with `truth` its labels)."""

    metrics: dict
    confusion: np.ndarray | None = None
    truth: np.ndarray | None = None
    predictions: np.ndarray | None = None
    probability: np.ndarray | None = None


def score(model, dataset, split="test", batch_size=256):
    """Metrics of `model` on one split of `dataset`: loss and the task's metrics.

    The loss is weighted by 1/sigma^2 when the dataset gives uncertainties (chi^2 / N).
    Per-pixel labels (segmentation) are scored pixel by pixel, with the mean
    intersection-over-union of the classes added; a binary task (or two classes) adds the
    area under its ROC curve (`auc`). Returns (metrics, confusion), confusion None for
    regression.
    """
    scores = score_predictions(model, dataset, split, batch_size)
    return scores.metrics, scores.confusion


def score_predictions(model, dataset, split="test", batch_size=256):
    """`score`, as a `Scores` that keeps the labels and predictions for the figures."""
    x, y = dataset.split(split)
    if len(y) == 0:
        raise UserError(f"the {split} split of '{dataset.name}' is empty")
    from mlphys.streams import in_order

    spec = dataset.spec
    weight = dataset.sample_weight(split)
    loss = model.evaluate(in_order(x, y, weight, batch_size), verbose=0,
                          return_dict=True)["loss"]
    predictions = model.predict(in_order(x, batch_size=batch_size), verbose=0)
    metrics = {"loss": float(loss)}
    if spec.task == "regression":
        metrics.update(regression_metrics(y, predictions))
        return Scores(metrics, truth=np.asarray(y), predictions=predictions)
    probability = None
    if spec.task == "binary":
        probability = np.ravel(predictions)
        predicted = (probability > 0.5).astype(int)
        true, classes = np.ravel(y).astype(int), 2
    else:
        predicted = np.ravel(np.argmax(predictions, axis=-1))
        true = np.argmax(y, axis=-1) if spec.label_format == "onehot" else y
        true, classes = np.ravel(true), spec.num_outputs
        if classes == 2 and np.shape(predictions)[-1] == 2:  # two softmax outputs
            probability = np.ravel(np.asarray(predictions)[..., 1])
    counts = confusion_matrix(true.astype(int), predicted, classes)
    metrics.update(classification_metrics(counts))
    if len(spec.target_shape) >= 2:  # per-pixel classes: a segmentation
        metrics["mean_iou"] = mean_iou(counts)
    true = true.astype(int)
    if probability is not None and len(np.unique(true)) == 2:
        from sklearn.metrics import roc_auc_score

        metrics["auc"] = float(roc_auc_score(true, probability))
    else:
        probability = None  # one class only: no ROC curve
    return Scores(metrics, counts, truth=true, predictions=predictions,
                  probability=probability)


def mean_iou(counts):
    """Mean over the classes present of |true & predicted| / |true | predicted|."""
    tp = np.diag(counts).astype(float)
    union = counts.sum(axis=0) + counts.sum(axis=1) - tp
    present = counts.sum(axis=1) > 0
    return float(np.mean(tp[present] / union[present]))


def score_entry(model, dataset, split="test", model_name=None, batch_size=256):
    """`Scores` by the model entry's own `score` when it declares one (a PINN's error
    against the exact solution: metrics only), else by `score_predictions`."""
    from mlphys.registry import get_model, list_models

    if model_name and model_name in list_models():
        custom = get_model(model_name).score
        if custom is not None:
            return Scores(custom(model, dataset, split))
    return score_predictions(model, dataset, split, batch_size)


def load_keras_model(path):
    """`keras.models.load_model`, with a damaged or foreign file reported in one line."""
    from mlphys.model_files import load_keras_model as load  # issue 13: every wrong file

    return load(path)


def evaluate(run_or_file, dataset=None, options=None, *, split="test", checkpoint="model",
             data_dir=None, models_from=None, batch_size=256, out=None, draw=True):
    """Score a saved run folder (or a `.keras` file, or a search's best run) on a dataset.

    The dataset and its options default to the run's `config.json`. Returns a dict with
    the model file, dataset, split, number of samples, the metrics and the figures. The
    figures of `mlphys.plots.plot_evaluation` and a metrics.json go into `out`, or a new
    folder `<run>/evaluation/<dataset>-<split>-<time>/` (`draw=False`: none). A
    `--repeats` folder is scored seed by seed and reported as the mean and standard
    deviation (no figures).
    """
    from mlphys.datasets import dataset_label
    from mlphys.registry import get_model, list_models
    from mlphys.run import Run, is_repeats_folder

    if is_repeats_folder(run_or_file):
        return _evaluate_repeats(Path(run_or_file), dataset, options, split=split,
                                 checkpoint=checkpoint, data_dir=data_dir,
                                 models_from=models_from, batch_size=batch_size, draw=False)
    from mlphys.backend import prefer_run_backend

    run, = prefer_run_backend([Run.open(run_or_file, checkpoint=checkpoint,
                                        models_from=models_from)])
    model_name = run.config.model if run.config else None
    data = run.load_data(dataset, options, data_dir=data_dir)
    model = run.model
    own_score = model_name in list_models() and get_model(model_name).score
    check_model_fits_data(model, data.spec, data.name, outputs_are_classes=not own_score)
    scores = score_entry(model, data, split, model_name, batch_size)
    result = {"model_file": str(run.model_file), "dataset": dataset or run.config.dataset,
              "dataset_options": data.options, "split": split,
              "samples": int(len(data.split(split)[1])), "metrics": scores.metrics}
    if draw:
        name = model_name or Path(run.model_file).stem
        result.update(_draw(scores, data, split, Path(run.model_file).parent, out,
                            f"{name} on {dataset_label(data.name)}, {split} split"))
    return result


def _draw(scores, data, split, run_dir, out, title):
    """{figures: [paths], folder} of the evaluation figures and metrics.json."""
    from mlphys import figures
    from mlphys.datasets import dataset_label
    from mlphys.plots import plot_evaluation
    from mlphys.rundir import check_writable, new_run_dir, write_json

    if out is None:
        folder = new_run_dir(run_dir / "evaluation", dataset_label(data.name), split)
    else:
        folder = check_writable(out)
        names = ("confusion_matrix.png", "roc.png", "regression.png")
        taken = [p.name for n in names for p in figures.paths(folder / n) if p.exists()]
        taken += ["metrics.json"] if (folder / "metrics.json").exists() else []
        if taken:
            raise UserError(f"'{folder}' already has {', '.join(taken)}; choose another "
                            "--out (earlier results are never overwritten)")
    written = plot_evaluation(scores, data.spec.class_names, folder, title)
    write_json(folder / "metrics.json", {"split": split, **scores.metrics})
    return {"folder": str(folder), "figures": [str(p) for p in written]}


def _evaluate_repeats(folder, dataset, options, **settings):
    """Every seed's run of a `--repeats` folder, then mean +- std of each metric."""
    from mlphys.spread import summarise

    runs = [evaluate(run, dataset, options, **settings)
            for run in sorted(folder.glob("repeat-*"), key=lambda p: int(p.name[7:]))]
    summary = summarise([r["metrics"] for r in runs])
    return {**runs[0], "model_file": f"{folder}/repeat-*/{settings['checkpoint']}.keras",
            "repeats": len(runs), "metrics": summary["mean"], "std": summary["std"]}
