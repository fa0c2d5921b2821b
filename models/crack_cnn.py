"""Crack or no crack? The concrete-crack classifier of the MLMM 7.15 assignment."""

import numpy as np

from mlphys.errors import UserError
from mlphys.registry import register_model
from mlphys.reproduce import Outcome, all_of, at_least, equal, register_check
from mlphys.models._heads import output_layer


@register_model("crack_cnn", task="classification", inputs="image", dataset="cracks",
                source="MLMM 7.15 (assignment)", epochs=10, batch_size=32)
def crack_cnn(hp, spec):
    """Three conv blocks and a dense head that tell cracked concrete from sound (MLMM 7.15).

    Conv2D(32, 3, relu) -> MaxPool(2) -> Conv2D(64, 3, relu) -> MaxPool(2) ->
    Conv2D(128, 3, relu) -> MaxPool(2) -> Flatten -> Dense(64, relu) -> Dropout(0.5) ->
    Dense(2, softmax): 388,354 parameters on 64x64x3 images (the `cracks` default; the
    course's 256x256 photos give 7,466,242, most of them in the first dense layer).
    Categorical cross-entropy, Adam; `mlphys train`/`evaluate` report accuracy and the
    macro precision, recall and F1. Images of at least 22x22 pixels (three valid 3x3
    convolutions and 2x2 poolings).
    """
    import keras
    from keras import layers

    filters = hp.Int("filters", 8, 64, step=8, default=32)  # doubled in each block
    dense_units = hp.Int("dense_units", 16, 512, step=16, default=64)
    dropout = hp.Float("dropout", 0.0, 0.8, default=0.5)

    side = min(spec.input_shape[:2])
    if (((side - 2) // 2 - 2) // 2 - 2) // 2 < 1:
        raise UserError(f"crack_cnn: images of {side} pixels are too small for three 3x3 "
                        "convolutions and 2x2 poolings; use at least 22x22 (e.g. "
                        "--option size=64 for cracks)")

    inputs = keras.Input(shape=spec.input_shape, name="image")
    x = inputs
    for block, width in enumerate((filters, 2 * filters, 4 * filters), start=1):
        x = layers.Conv2D(width, 3, activation="relu", name=f"conv_{block}")(x)
        x = layers.MaxPooling2D(2, name=f"pool_{block}")(x)
    x = layers.Flatten(name="flatten")(x)
    x = layers.Dense(dense_units, activation="relu", name="dense")(x)
    x = layers.Dropout(dropout, name="dropout")(x)
    outputs = output_layer(spec)(x)
    return keras.Model(inputs, outputs, name="crack_cnn")


# --- reproduction checks (ZOO.md section B) ----------------------------------------------

QUICK_CRACKS = {"size": 32, "n_train": 1000, "n_test": 200}


@register_check("crack_cnn", "parameters at 64x64x3, K = 2", expected="388,354", quick=True)
def _crack_cnn_parameters(ctx):
    return equal(ctx.build_for("crack_cnn", (64, 64, 3), 2).count_params(), 388_354)


@register_check("crack_cnn", "accuracy on 32x32 synthetic cracks after 4 epochs of 900",
                expected=">= 0.85", quick=True)
def _crack_cnn_quick(ctx):
    run = ctx.train("crack_cnn", options=QUICK_CRACKS, epochs=4)
    return at_least(run.metrics["accuracy"], 0.85)


_FULL_RUNS = {}  # scratch folder -> the full training both full checks look at


def _full_run(ctx):
    """The default training (64x64, 2,000 images, 10 epochs, seed 0), done once per
    `mlphys reproduce` for the accuracy and the saliency checks."""
    run = _FULL_RUNS.get(ctx.workdir)
    if run is None or not run.run_dir.is_dir():
        run = _FULL_RUNS[ctx.workdir] = ctx.train("crack_cnn")
    return run


@register_check("crack_cnn", "test accuracy and F1 on 64x64 synthetic cracks (10 epochs)",
                expected=">= 0.95; F1 >= 0.95")
def _crack_cnn_accuracy(ctx):
    run = _full_run(ctx)
    return all_of(at_least(run.metrics["accuracy"], 0.95), at_least(run.metrics["f1"], 0.95))


def mass_inside(maps, masks):
    """Share of each map's mass (N, H, W) that lies on its crack mask (N, H, W)."""
    maps = np.asarray(maps, dtype=float)
    total = maps.reshape(len(maps), -1).sum(axis=1)
    inside = (maps * masks).reshape(len(maps), -1).sum(axis=1)
    return np.divide(inside, total, out=np.zeros_like(total), where=total > 0)


def crack_test_images(data, n):
    """(images (n, H, W, 3), masks (n, H, W)) of the first n cracked test images, read
    from the dataset's image folder as the loader reads them."""
    from mlphys.data.cracks import load_masks
    from mlphys.data._images import as_unit_images
    from PIL import Image

    masks = load_masks(data.provenance["folder"])
    names = sorted(k for k in masks if k.startswith("test/"))[:n]
    folder = data.provenance["folder"]
    images = [np.asarray(Image.open(f"{folder}/{name}").convert("RGB")) for name in names]
    return as_unit_images(np.stack(images)), np.stack([masks[k] for k in names])


def saliency_concentration(model, data, n=8, methods=("saliency", "scorecam")):
    """{method: (mean mass share inside the crack, mean mask area share)} on n cracked
    test images, with the maps of `mlphys.saliency` explaining the Positive class."""
    import mlphys.saliency as saliency

    x, masks = crack_test_images(data, n)
    linear = saliency.linear_model(model)
    positive = list(data.spec.class_names).index("Positive")
    targets = np.full(len(x), positive)
    weights = saliency.score_weights("classification", targets, model.output_shape[-1])
    found = {}
    for method in methods:
        maps = saliency.compute_map(method, linear, x, kind="classification",
                                    targets=targets, weights=weights,
                                    layer=saliency.cam_layer(model))
        found[method] = (float(mass_inside(maps, masks).mean()), float(masks.mean()))
    return found


def _concentrated(found):
    return all_of(*[Outcome(f"{method} {inside:.3f} inside vs {area:.3f} area",
                            inside > area) for method, (inside, area) in found.items()])


@register_check("crack_cnn", "saliency and Score-CAM mass on the crack (8 cracked test "
                "images, 64x64, 10 epochs)", expected="mass inside the mask > its area share")
def _crack_cnn_saliency(ctx):
    run = _full_run(ctx)
    return _concentrated(saliency_concentration(run.model, run.data))
