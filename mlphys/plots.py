"""Figures written into run folders (matplotlib's object API: no pyplot, no display)."""

import numpy as np


def _figure(width, height):
    """A figure drawn by Agg. Margins are fixed by the callers: matplotlib's automatic
    layouts cost more than the whole drawing (measured with bench/train_overhead.py)."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    figure = Figure(figsize=(width, height))
    FigureCanvasAgg(figure)
    return figure


def plot_curves(history, path, title=""):
    """Learning curves: one panel per quantity (loss first), training and validation."""
    names = [k for k in history if not k.startswith("val_") and k not in ("epoch",
                                                                          "learning_rate")]
    names.sort(key=lambda k: k != "loss")
    if not names:
        return
    figure = _figure(4.2 * len(names), 3.4)
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
    figure.savefig(path, dpi=100)


def plot_confusion_matrix(matrix, class_names, path, title=""):
    """Confusion matrix, rows true class, columns predicted class, counts in the cells."""
    k = len(matrix)
    size = min(3 + 0.45 * k, 16)
    figure = _figure(size + 1, size)
    margin = 1.3 / size
    figure.subplots_adjust(left=margin, bottom=margin, right=0.92, top=1 - 0.6 / size)
    ax = figure.subplots()
    image = ax.imshow(matrix, cmap="viridis")
    figure.colorbar(image, ax=ax, label="count")
    if k <= 30:
        ax.set_xticks(range(k), class_names, rotation=90 if k > 10 else 0)
        ax.set_yticks(range(k), class_names)
    if k <= 20:  # counts in the non-empty cells
        threshold = matrix.max() / 2
        for i, j in zip(*np.nonzero(matrix)):
            ax.text(j, i, int(matrix[i, j]), ha="center", va="center", fontsize=8,
                    color="black" if matrix[i, j] > threshold else "white")
    ax.set_xlabel("predicted class")
    ax.set_ylabel("true class")
    ax.set_title(title or "confusion matrix (test set)")
    figure.savefig(path, dpi=100)
