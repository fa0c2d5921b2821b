"""Figures written into run folders and by `mlphys evaluate` (matplotlib's object API
through `mlphys.figures`: no pyplot, no display).

    plot_curves(history, run_dir / "curves.png", title)
    plot_evaluation(scores, class_names, folder, title)   # what the scores call for

`plot_evaluation` draws, from one `mlphys.evaluation.Scores`: for a classifier the
confusion matrix (counts beside the rows normalised to 1), for a binary task also the ROC
curve with its AUC, for a regressor predicted against true values and the residuals.
"""

import numpy as np

from mlphys import figures


@figures.styled
def plot_curves(history, path, title=""):
    """Learning curves: one panel per quantity (loss first), training and validation.

    history: {name: [value per epoch]} as read from history.csv."""
    names = [k for k in history if not k.startswith("val_") and k not in ("epoch",
                                                                          "learning_rate")]
    names.sort(key=lambda k: k != "loss")
    if not names:
        return []
    # margins fixed here: matplotlib's automatic layouts cost more than the whole drawing
    # of a figure drawn after every run (measured with bench/train_overhead.py)
    figure = figures.new_figure(4.2 * len(names), 3.4)
    figure.subplots_adjust(left=0.9 / (4.2 * len(names)), right=0.97, bottom=0.15,
                           top=0.86 if title else 0.95, wspace=0.3)
    axes = figure.subplots(1, len(names), squeeze=False)[0]
    for ax, name in zip(axes, names):
        epochs = np.arange(1, len(history[name]) + 1)
        marker = 3 if len(epochs) <= 100 else 0  # thousands of full-batch epochs: lines
        ax.plot(epochs, history[name], "o-", ms=marker, label="training")
        if f"val_{name}" in history:
            ax.plot(epochs, history[f"val_{name}"], "s-", ms=marker, label="validation")
        ax.set_xlabel("epoch")
        ax.set_ylabel(name)
        ax.grid(alpha=0.3)
        ax.legend()
    if title:
        figure.suptitle(title)
    return figures.save(figure, path)


@figures.styled
def plot_confusion_matrix(matrix, class_names, path, title=""):
    """Confusion matrix (K, K), rows true class, columns predicted class: the counts, and
    beside them each row divided by its sum (the fraction of a true class predicted as
    each class; the diagonal is the recall)."""
    matrix = np.asarray(matrix)
    k = len(matrix)
    totals = matrix.sum(axis=1, keepdims=True)
    fractions = np.divide(matrix, totals, out=np.zeros(matrix.shape), where=totals > 0)
    names = [str(n) for n in (class_names or range(k))]
    size = min(2.2 + 0.4 * k, 9)  # inches of one matrix
    # margins fixed here (in inches, for the longest class name): drawn after every run of
    # a classifier, where a constrained layout of the cells' texts would triple the cost
    label = 0.7 + (0.065 * max(map(len, names)) if k <= 30 else 0)
    below = label if k > 6 else 0.75  # names under the columns are upright up to 6
    width, height = 2 * size + 2 * label + 2.0, size + below + 0.75
    figure = figures.new_figure(width, height)
    figure.subplots_adjust(left=label / width, right=1 - 0.75 / width, wspace=(label + 0.5)
                           / size, bottom=below / height, top=1 - 0.75 / height)
    axes = figure.subplots(1, 2)
    for ax, values, bar, fmt in ((axes[0], matrix, "count", "d"),
                                 (axes[1], fractions, "fraction of the true class", ".2f")):
        image = ax.imshow(values, cmap=figures.MAP, vmin=0,
                          vmax=1 if fmt != "d" else max(int(values.max()), 1))
        figure.colorbar(image, ax=ax, label=bar, fraction=0.046, pad=0.04)
        if k <= 30:
            ax.set_xticks(range(k), names, rotation=90 if k > 6 else 0)
            ax.set_yticks(range(k), names)
        if k <= 15:  # the values in the non-empty cells
            threshold = (values.max() or 1) / 2
            for i, j in zip(*np.nonzero(matrix)):
                ax.text(j, i, format(values[i, j], fmt), ha="center", va="center",
                        fontsize=7 if k > 8 else 8, in_layout=False,  # inside the axes
                        color="black" if values[i, j] > threshold else "white")
        ax.set_xlabel("predicted class")
        ax.set_ylabel("true class")
    axes[0].set_title("counts")
    axes[1].set_title("normalised by rows (recall on the diagonal)")
    figure.suptitle(title or "confusion matrix (test set)")
    return figures.save(figure, path)


@figures.styled
def plot_roc(truth, probability, path, title=""):
    """ROC curve of a binary classifier: true positive rate (signal efficiency) against
    false positive rate (background efficiency) as the threshold on `probability` (N,)
    of class 1 moves, with its AUC. truth: (N,) labels 0/1."""
    from sklearn.metrics import auc, roc_curve

    fpr, tpr, _ = roc_curve(truth, probability)
    figure = figures.new_figure(4.4, 4.2, layout="constrained")
    ax = figure.subplots()
    ax.plot(fpr, tpr, color="C0", label=f"model (AUC = {auc(fpr, tpr):.3f})")
    ax.plot([0, 1], [0, 1], color="0.5", ls="--", lw=1, label="chance (AUC = 0.5)")
    ax.set(xlim=(0, 1), ylim=(0, 1.01), aspect="equal",
           xlabel="false positive rate (background efficiency)",
           ylabel="true positive rate (signal efficiency)", title=title or "ROC curve")
    ax.grid(alpha=0.3)
    ax.legend(loc="lower right")
    return figures.save(figure, path)


@figures.styled
def plot_regression(truth, predicted, path, title="", target_names=None):
    """Predicted against true values with the identity line (top) and the residuals
    predicted - true against the true value (bottom), one column per target (at most
    six; more targets are drawn together). truth, predicted: (N,) or (N, T)."""
    truth = np.asarray(truth, dtype=float).reshape(len(truth), -1)
    predicted = np.asarray(predicted, dtype=float).reshape(len(predicted), -1)
    if truth.shape[1] > 6:
        truth, predicted, target_names = truth.reshape(-1, 1), predicted.reshape(-1, 1), None
    if len(truth) > 5000:  # a readable scatter: a fixed random subset of the points
        chosen = np.random.default_rng(0).choice(len(truth), 5000, replace=False)
        truth, predicted = truth[chosen], predicted[chosen]
    columns = truth.shape[1]
    names = list(target_names or [])[:columns]
    names += [f"target {j}" if columns > 1 else "target" for j in range(len(names), columns)]
    figure = figures.new_figure(3.3 * columns + 0.4, 5.6, layout="constrained")
    axes = figure.subplots(2, columns, squeeze=False, sharex="col",
                           gridspec_kw={"height_ratios": (2, 1)})
    size = 10 if len(truth) <= 2000 else 3
    for j, name in enumerate(names):
        top, bottom = axes[0, j], axes[1, j]
        t, p = truth[:, j], predicted[:, j]
        low, high = float(min(t.min(), p.min())), float(max(t.max(), p.max()))
        top.scatter(t, p, s=size, alpha=0.6, color="C0", lw=0)
        top.plot([low, high], [low, high], color="k", ls="--", lw=1, label="predicted = true")
        top.set(ylabel=f"predicted {name}", title=name if columns > 1 else None)
        top.legend(loc="upper left")
        bottom.scatter(t, p - t, s=size, alpha=0.6, color="C0", lw=0)
        bottom.axhline(0.0, color="k", ls="--", lw=1)
        rms = float(np.sqrt(np.mean((p - t) ** 2)))
        bottom.set(xlabel=f"true {name}", ylabel="predicted - true")
        bottom.set_title(f"residuals (RMS {rms:.3g})", fontsize=8)
        for ax in (top, bottom):
            ax.grid(alpha=0.3)
    figure.suptitle(title or "predicted against true values")
    return figures.save(figure, path)


def plot_evaluation(scores, class_names, folder, title=""):
    """The figures `scores` (a `mlphys.evaluation.Scores`) call for, written into
    `folder`: confusion_matrix, roc (binary) or regression (predicted vs true). Returns
    the paths written."""
    written = []
    if scores.confusion is not None:
        written += plot_confusion_matrix(scores.confusion, class_names,
                                         folder / "confusion_matrix.png", title)
    if scores.probability is not None:
        written += plot_roc(scores.truth, scores.probability, folder / "roc.png",
                            f"{title}: ROC" if title else "")
    elif scores.confusion is None and scores.predictions is not None:
        written += plot_regression(scores.truth, scores.predictions,
                                   folder / "regression.png", title)
    return written
