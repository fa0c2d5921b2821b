"""Drawing new samples from a saved generative model: `mlphys sample RUN --n 64`.

A model can sample when it has

    latent_dim                     size of its latent vector z ~ N(0, 1)
    num_classes                    0 for an unconditional model, else K (labels 0..K-1)
    generate_images(z, labels)     z (n, latent_dim) float32, labels (n,) int or None
                                   -> images (n, H, W, C) float32 in [0, 1]

(a VAE's decoder, a GAN's generator; see models/generative.py). The engine knows nothing
else about them: it draws z from a seeded normal distribution, asks for the images and
writes them as a PNG grid and an .npz of the arrays.
"""

from pathlib import Path

import numpy as np

from mlphys import figures
from mlphys.errors import UserError


def can_sample(model):
    """Whether `model` follows the sampling protocol above."""
    return callable(getattr(model, "generate_images", None)) and hasattr(model, "latent_dim")


def draw(model, n, class_index=None, seed=0):
    """(images, labels, z): `n` samples from `model`, reproducible for a given `seed`.

    class_index: for a conditional model, the class of every sample; None cycles through
        the classes (0, 1, ..., K-1, 0, ...). Refused for an unconditional model.
    """
    if n < 1:
        raise UserError(f"--n {n}: ask for at least one sample")
    classes = int(getattr(model, "num_classes", 0) or 0)
    if class_index is not None and classes == 0:
        raise UserError(f"--class {class_index}: this model is unconditional (it was not "
                        "trained with class labels): leave out --class, or sample a "
                        "conditional model")
    if class_index is not None and not 0 <= class_index < classes:
        raise UserError(f"--class {class_index}: the model knows classes 0 to {classes - 1}")
    rng = np.random.default_rng(seed)
    z = rng.standard_normal((n, int(model.latent_dim))).astype(np.float32)
    labels = None
    if classes:
        labels = (np.full(n, class_index) if class_index is not None
                  else np.arange(n) % classes).astype(np.int32)
    images = np.asarray(model.generate_images(z, labels), dtype=np.float32)
    return images, labels, z


@figures.styled
def save_grid(images, path, *, columns=8, title="", row_names=None):
    """Write `images` (n, H, W, C) in [0, 1] as one mosaic, `columns` per row, drawn as
    every image of mlphys is (`figures.show_image`: grey scale white on black), tiles
    apart by a grey line. Returns the paths written (one per figure format).

    row_names: a label for every row of the mosaic (a conditional model's classes).
    """
    images = np.clip(np.asarray(images, dtype=np.float32), 0, 1)
    n, height, width, channels = images.shape
    columns = max(1, min(columns, n))
    rows = -(-n // columns)
    gap = 1
    background = 0.5  # grey lines between the tiles, on black and on white images
    mosaic = np.full((rows * (height + gap) - gap, columns * (width + gap) - gap, channels),
                     background, dtype=np.float32)
    for i, image in enumerate(images):  # at most a few hundred tiles: a loop is clearer
        r, c = divmod(i, columns)
        mosaic[r * (height + gap):r * (height + gap) + height,
               c * (width + gap):c * (width + gap) + width] = image
    scale = min(0.9, 8.0 / columns, 8.0 / rows) / max(height, width)  # at most 8 x 8 inches
    figure = figures.new_figure(columns * scale * width + (1.2 if row_names else 0.3),
                                rows * scale * height + (0.6 if title else 0.3))
    ax = figure.add_axes([(1.0 if row_names else 0.15) / figure.get_figwidth(),
                          0.15 / figure.get_figheight(),
                          1 - ((1.15 if row_names else 0.3) / figure.get_figwidth()),
                          1 - ((0.6 if title else 0.3) / figure.get_figheight())])
    figures.show_image(ax, mosaic)
    if row_names:
        ax.set_yticks([r * (height + gap) + height / 2 for r in range(rows)],
                      [str(name) for name in row_names][:rows])
    if title:
        ax.set_title(title)
    return figures.save(figure, path)


def grid_each_epoch(run_dir, filename="samples.png", n=64, seed=0):
    """A Keras callback that draws a grid of samples from the model after every epoch into
    `run_dir/filename` (overwritten: the run folder keeps the last). The same latent
    vectors every epoch (`seed`), so successive grids show the same samples improving."""
    import keras

    class GridEachEpoch(keras.callbacks.Callback):
        def on_epoch_end(self, epoch, logs=None):
            if can_sample(self.model):
                write_grid(self.model, Path(run_dir) / filename, n=n, seed=seed,
                           title=f"epoch {epoch + 1}")

    return GridEachEpoch()


def write_grid(model, path, *, n=64, seed=0, class_index=None, title="", class_names=None):
    """Draw `n` samples and write their grid; a conditional model without `class_index`
    gets one row per class. Returns (images, labels, z)."""
    if n < 1:
        raise UserError(f"--n {n}: ask for at least one sample")
    classes = int(getattr(model, "num_classes", 0) or 0)
    if classes and class_index is None:  # one row per class, columns = samples per class
        per_class = max(1, n // classes)
        images, labels, z = draw(model, per_class * classes, None, seed)
        order = np.argsort(labels, kind="stable")
        names = list(class_names) if class_names else list(range(classes))
        save_grid(images[order], path, columns=per_class, title=title, row_names=names)
        return images[order], labels[order], z[order]
    images, labels, z = draw(model, n, class_index, seed)
    save_grid(images, path, columns=int(np.ceil(np.sqrt(n))), title=title)
    return images, labels, z


def sample(run_or_file, n=64, class_index=None, out=None, seed=0, models_from=None):
    """Load a run's model (a run folder or a .keras file), draw `n` samples and write
    `samples-seed{S}[-class{K}].png` and `.npz` (images, z, labels) into `out` (default:
    the run folder), the figure in each of the formats of `figures.formats(...)`.
    `class_index` may also be a class name; `models_from` a plugin that defines the
    model. Returns the paths written."""
    from mlphys.run import Run

    run = Run.open(run_or_file, models_from=models_from)
    model, config = run.model, run.config
    if not can_sample(model):
        what = f"a '{config.model}' model" if config else "a model"
        raise UserError(f"'{run_or_file}' holds {what}, which cannot draw samples: "
                        "'mlphys sample' needs a generative model (a VAE or a GAN)")
    names = (config.state.data.get("spec", {}).get("class_names") if config else None) or None
    folder = run.path
    if isinstance(class_index, str):
        class_index = _class_index(class_index, names)
    out = Path(out) if out else folder
    out.mkdir(parents=True, exist_ok=True)
    stem = f"samples-seed{seed}" + (f"-class{class_index}" if class_index is not None else "")
    title = f"{run.name}: samples, seed {seed}"
    if class_index is not None:
        named = names and 0 <= class_index < len(names)
        title += f", class {names[class_index] if named else class_index}"
    images, labels, z = write_grid(model, out / f"{stem}.png", n=n, seed=seed,
                                   class_index=class_index, title=title, class_names=names)
    arrays = {"images": images, "z": z}
    if labels is not None:
        arrays["labels"] = labels
    np.savez_compressed(out / f"{stem}.npz", **arrays)
    drawn = [str(p) for p in figures.paths(out / f"{stem}.png")]
    return {"png": next((p for p in drawn if p.endswith(".png")), None), "figures": drawn,
            "npz": str(out / f"{stem}.npz"),
            "samples": int(len(images)), "shape": list(images.shape[1:]),
            "class": class_index}


def _class_index(given, names):
    """A class given by number or by name, as its index."""
    if given.lstrip("-").isdigit():
        return int(given)
    if names and given in [str(name) for name in names]:
        return [str(name) for name in names].index(given)
    known = f" (classes: {', '.join(str(x) for x in names)})" if names else ""
    raise UserError(f"--class {given}: give a class number{known}")
