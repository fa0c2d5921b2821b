"""Figures of `mlphys saliency`: inputs with their maps, activation maximisation, and the
sanity check (drawn and saved through `mlphys.figures`)."""

import numpy as np

from mlphys import figures

COLORMAP = figures.OVERLAY   # perceptually uniform, readable over a grey image


def _row_title(row):
    """'true 3, pred 3 (0.98)' for the first panel of a row."""
    parts = [row["input"]]
    if "true" in row:
        parts.append(f"true {_short(row['true'])}")
    label = f"pred {_short(row['predicted'])}"
    if "probability" in row:
        label += f" ({row['probability']:.2f})"
    parts.append(label)
    return "\n".join(parts)


def _short(value):
    if isinstance(value, list):
        return ", ".join(f"{v:.3g}" for v in value)
    return str(value)


def _image(sample):
    """(H, W, C) in [0, 1] as what imshow draws: (H, W) for one channel."""
    sample = np.clip(sample, 0, 1)
    return sample[..., 0] if sample.shape[-1] == 1 else sample


@figures.styled
def plot_maps(x, maps, rows, path, title=""):
    """One row per input: the input, then each method's map over it with a colour bar.
    Curves (N, L) are drawn with the map as the colour of the points along x."""
    methods = list(maps)
    curves = x.ndim == 2 or (x.ndim == 3 and x.shape[-1] == 1 and
                             np.ndim(maps[methods[0]]) == 2)
    n, columns = len(x), len(methods) + 1
    width, height = (3.4, 2.2) if curves else (2.5, 2.3)
    # constrained layout keeps the colour bars' tick labels inside the figure
    figure = figures.new_figure(width * columns, height * n + 0.75, layout="constrained")
    axes = figure.subplots(n, columns, squeeze=False)
    for i in range(n):
        first = axes[i, 0]
        if curves:
            first.plot(np.ravel(x[i]), color="black", lw=1)
        else:
            figures.show_image(first, _image(x[i]))
        first.set_title(_row_title(rows[i]), fontsize=7)
        for j, method in enumerate(methods, start=1):
            ax, single = axes[i, j], maps[method][i]
            if curves:
                ax.plot(np.ravel(x[i]), color="0.7", lw=1)
                drawn = ax.scatter(np.arange(len(single)), np.ravel(x[i]), c=single, s=6,
                                   cmap=COLORMAP, vmin=0, vmax=1)
            else:
                figures.show_image(ax, _image(x[i]))
                drawn = ax.imshow(single, cmap=COLORMAP, alpha=0.55, vmin=0, vmax=1)
            figure.colorbar(drawn, ax=ax, fraction=0.046, pad=0.03, ticks=[0, 0.5, 1])
            if i == 0:
                ax.set_title(f"{method}\nexplains {rows[i]['explained']}", fontsize=8)
            else:
                ax.set_title(f"explains {rows[i]['explained']}", fontsize=7)
    if title:
        figure.suptitle(title, fontsize=9)
    return figures.save(figure, path)


@figures.styled
def plot_actmax(generated, classes, names, probabilities, kind, path, title=""):
    """The inputs found by activation maximisation, one panel per class."""
    n = len(generated)
    columns = min(n, 5)
    lines = -(-n // columns)
    figure = figures.new_figure(2.4 * columns, 2.5 * lines + 0.5, layout="constrained")
    axes = figure.subplots(lines, columns, squeeze=False).ravel()
    for k, ax in enumerate(axes):
        if k >= n:
            ax.set_axis_off()
            continue
        sample = generated[k]
        if sample.ndim == 3:
            figures.show_image(ax, _image(sample))
        else:
            ax.plot(np.ravel(sample), color="black", lw=1)
        p = probabilities[k]
        if kind == "binary":
            score = f"p(class 1) = {float(p[0]):.2f}"
        elif kind == "regression":
            score = f"output = {float(np.ravel(p)[0]):.3g}"
        else:
            score = f"p = {float(p[classes[k]]):.2f}"
        ax.set_title(f"class {names[k]}\n{score}", fontsize=8)
    if title:
        figure.suptitle(title, fontsize=9)
    return figures.save(figure, path)


@figures.styled
def plot_sanity(check, path):
    """Rank correlation of each method's maps with the originals as the layers are
    re-initialised from the top down (Adebayo et al. 2018, Fig. 2)."""
    stages = check["stages"]
    figure = figures.new_figure(1.6 + 0.9 * max(len(stages), 4), 3.6, layout="constrained")
    ax = figure.subplots()
    steps = np.arange(len(stages))
    methods = list(stages[0]["spearman"]) if stages else []
    for method in methods:
        ax.plot(steps, [s["spearman"][method] for s in stages], "o-", ms=4, label=method)
    ax.axhline(check["threshold"], color="0.5", ls="--", lw=1)
    ax.set_xticks(steps, [f"+{s['randomised']}" for s in stages], rotation=30, fontsize=7)
    ax.set_ylim(-0.2, 1.05)
    ax.set_xlabel("layers re-initialised (cascading from the output)")
    ax.set_ylabel("Spearman rank correlation")
    ax.set_title("sanity check: maps of a randomised model")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=7)
    return figures.save(figure, path)
