"""Small classifiers of generated curves and images: MLP4P homework 4.

`gauss_lorentz` tells a Gaussian from a Lorentzian curve, `shapes` a circle from a square
in a 20x20 image (an MLP on the 400 pixels, or a small CNN with `-p variant=cnn`).
"""

import numpy as np

from mlphys.errors import UserError
from mlphys.registry import register_model
from mlphys.reproduce import Outcome, all_of, at_least, equal, register_check
from mlphys.models._heads import output_layer


def _hidden_layers(x, units_1, units_2, activation):
    """Flatten -> Dense(units_1) -> Dense(units_2): the homework's hidden layers (30, 20,
    relu)."""
    from keras import layers

    x = layers.Flatten(name="flatten")(x)
    x = layers.Dense(units_1, activation=activation, name="hidden_1")(x)
    return layers.Dense(units_2, activation=activation, name="hidden_2")(x)


@register_model("gauss_lorentz", task="classification", inputs="vector",
                dataset="gauss_lorentz", source="MLP4P homework 4", epochs=1, batch_size=20)
def gauss_lorentz(hp, spec):
    """Gaussian or Lorentzian? An MLP on the 100 samples of a curve (MLP4P homework 4).

    Dense(30, relu) -> Dense(20, relu) -> Dense(2, softmax), categorical cross-entropy,
    Adam, batch 20: 3,692 parameters on 100 inputs. The homework trains on 1000 fresh
    batches; one epoch of the `gauss_lorentz` dataset (20,000 curves, 10% of them held out
    for validation) is 900 such batches, each curve seen once. Adam's learning rate is
    1e-2 by default: with Keras' 1e-3 the net reaches only 0.82-0.90 after 1000 batches
    (training seeds 0-3), with 1e-2 0.88-0.93 (seeds 0-4, median 0.93).
    """
    import keras

    units_1 = hp.Int("units_1", 2, 512, sampling="log", default=30)
    units_2 = hp.Int("units_2", 2, 512, sampling="log", default=20)
    activation = hp.Choice("activation", ["relu", "tanh", "sigmoid", "elu"], default="relu")
    hp.Float("learning_rate", 1e-5, 1.0, sampling="log", default=1e-2)

    inputs = keras.Input(shape=spec.input_shape, name="curve")
    x = _hidden_layers(inputs, units_1, units_2, activation)
    return keras.Model(inputs, output_layer(spec)(x), name="gauss_lorentz")


@register_model("shapes", task="classification", inputs="image", dataset="shapes",
                source="MLP4P homework 4", epochs=5, batch_size=20)
def shapes(hp, spec):
    """Circle or square? The homework's MLP on the 400 pixels, or a small CNN.

    variant=mlp (MLP4P homework 4): Flatten -> Dense(30, relu) -> Dense(20, relu) ->
    Dense(2, softmax), 12,692 parameters on 20x20x1 images.
    variant=cnn (mlphys' own, the homework asks for one): Conv2D(8, 3, relu, same) ->
    MaxPool(2) -> Conv2D(16, 3, relu, same) -> MaxPool(2) -> Flatten -> Dense(20, relu) ->
    Dense(2, softmax), 9,310 parameters on 20x20x1 (the 3x3 kernels see the corners
    that tell a square from a circle wherever the shape sits). Images of at least 4x4.
    Categorical cross-entropy, Adam, batch 20.
    """
    import keras
    from keras import layers

    variant = hp.Choice("variant", ["mlp", "cnn"], default="mlp")
    units_1 = hp.Int("units_1", 2, 512, sampling="log", default=30)  # mlp
    units_2 = hp.Int("units_2", 2, 512, sampling="log", default=20)  # mlp
    activation = hp.Choice("activation", ["relu", "tanh", "sigmoid", "elu"], default="relu")
    filters = hp.Int("filters", 4, 64, step=4, default=8)  # cnn, doubled in the 2nd conv
    dense_units = hp.Int("dense_units", 4, 256, default=20)  # cnn

    inputs = keras.Input(shape=spec.input_shape, name="image")
    if variant == "mlp":
        x = _hidden_layers(inputs, units_1, units_2, activation)
        return keras.Model(inputs, output_layer(spec)(x), name="shapes_mlp")
    if min(spec.input_shape[:2]) < 4:
        raise UserError(f"shapes variant=cnn: images of {min(spec.input_shape[:2])} pixels "
                        "are too small for two 2x2 poolings; use at least 4x4")
    x = layers.Conv2D(filters, 3, padding="same", activation=activation, name="conv_1")(inputs)
    x = layers.MaxPooling2D(2, name="pool_1")(x)
    x = layers.Conv2D(2 * filters, 3, padding="same", activation=activation, name="conv_2")(x)
    x = layers.MaxPooling2D(2, name="pool_2")(x)
    x = layers.Flatten(name="flatten")(x)
    x = layers.Dense(dense_units, activation=activation, name="dense")(x)
    return keras.Model(inputs, output_layer(spec)(x), name="shapes_cnn")


# --- reproduction checks (ZOO.md section B) ----------------------------------------------

@register_check("gauss_lorentz", "parameters of 100-30-20-2", expected="3,692", quick=True)
def _gauss_lorentz_parameters(ctx):
    return equal(ctx.build_for("gauss_lorentz", (100,), 2).count_params(), 3_692)


@register_check("gauss_lorentz", "accuracy on fresh curves after 500 batches of 20",
                expected=">= 0.80", quick=True)
def _gauss_lorentz_quick(ctx):
    run = ctx.train("gauss_lorentz", options={"n_train": 11_112, "n_test": 1000}, epochs=1)
    return at_least(run.metrics["accuracy"], 0.80)


@register_check("gauss_lorentz", "median accuracy on 2,000 fresh curves after 1000 batches "
                "of 20 (training seeds 0, 1, 2)", expected=">= 0.90")
def _gauss_lorentz_full(ctx):
    # 22,223 curves, 10% held out for validation: 20,000 train = 1000 batches of 20; the
    # test curves come from the same generator after them, never seen in training. One
    # run's accuracy varies by a few per cent with the training seed: the median of three.
    options = {"n_train": 22_223, "n_test": 2000}
    found = [ctx.train("gauss_lorentz", options=options, epochs=1, seed=seed)
             .metrics["accuracy"] for seed in (0, 1, 2)]
    outcome = at_least(float(np.median(found)), 0.90)
    return Outcome(f"{outcome.obtained} (runs: {', '.join(f'{a:.4f}' for a in found)})",
                   outcome.passed)


@register_check("shapes", "parameters: mlp 12,692, cnn 9,310 (20x20x1)",
                expected="12,692; 9,310", quick=True)
def _shapes_parameters(ctx):
    mlp = ctx.build_for("shapes", (20, 20, 1), 2)
    cnn = ctx.build_for("shapes", (20, 20, 1), 2, params={"variant": "cnn"})
    return all_of(equal(mlp.count_params(), 12_692), equal(cnn.count_params(), 9_310))


@register_check("shapes", "cnn accuracy without noise after 2 epochs of 2,000 images",
                expected=">= 0.85", quick=True)
def _shapes_quick(ctx):
    run = ctx.train("shapes", params={"variant": "cnn"},
                    options={"n_train": 2000, "n_test": 1000}, epochs=2)
    return at_least(run.metrics["accuracy"], 0.85)


# The homework's MLP has to learn the corners of a square at every position from the
# pixels: on the dataset's 20,000 images it overfits at about 0.88 (5-10 epochs), so the
# full checks give it 100,000 fresh images (4 epochs of 4,500 batches); the CNN reaches
# 0.99 on the default 20,000 images in 5 epochs.
MANY_SHAPES = {"n_train": 100_000, "n_test": 2000}


@register_check("shapes", "mlp accuracy without noise (100,000 images, 4 epochs)",
                expected=">= 0.95")
def _shapes_mlp(ctx):
    run = ctx.train("shapes", options=MANY_SHAPES, epochs=4)
    return at_least(run.metrics["accuracy"], 0.95)


@register_check("shapes", "cnn accuracy without noise (20,000 images, 5 epochs)",
                expected=">= 0.95")
def _shapes_cnn(ctx):
    return at_least(ctx.train("shapes", params={"variant": "cnn"}).metrics["accuracy"], 0.95)


@register_check("shapes", "accuracy with pixel noise sigma = 0.3: mlp (100,000 images, "
                "4 epochs); cnn (20,000, 5 epochs)",
                expected="mlp >= 0.80; cnn >= 0.90 (ZOO.md asks to report them)")
def _shapes_noise(ctx):
    mlp = ctx.train("shapes", options={**MANY_SHAPES, "noise": 0.3}, epochs=4)
    cnn = ctx.train("shapes", params={"variant": "cnn"}, options={"noise": 0.3})
    return all_of(at_least(mlp.metrics["accuracy"], 0.80),
                  at_least(cnn.metrics["accuracy"], 0.90))
