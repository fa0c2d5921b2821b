"""Convolutional classifiers."""

from mlphys.errors import UserError
from mlphys.registry import register_model
from mlphys.reproduce import at_least, equal, register_check
from mlphys.models._heads import output_layer


@register_model("cnn", task="classification", inputs="image", dataset="digits",
                source="MLMM 7.14.5", epochs=20)
def cnn(hp, spec):
    """Two conv blocks and a dense head: the augmentation example of MLMM 7.14.5.

    Conv2D(32, 3, relu) -> MaxPool(2) -> Conv2D(64, 3, relu) -> MaxPool(2) -> Dropout(0.25)
    -> Flatten -> Dense(128, relu) -> Dropout(0.5) -> Dense(K, softmax): 225,034 parameters
    on 28x28x1 images with 10 classes. Any image shape large enough for two 3x3
    convolutions and two poolings (at least 10x10) works.
    """
    import keras
    from keras import layers

    filters = hp.Int("filters", 8, 128, step=8, default=32)
    kernel_size = hp.Choice("kernel_size", [3, 5], default=3)
    dense_units = hp.Int("dense_units", 16, 512, step=16, default=128)
    conv_dropout = hp.Float("conv_dropout", 0.0, 0.7, default=0.25)
    dense_dropout = hp.Float("dense_dropout", 0.0, 0.7, default=0.5)

    side = min(spec.input_shape[:2])
    if ((side - kernel_size + 1) // 2 - kernel_size + 1) // 2 < 1:
        raise UserError(f"cnn: images of {side} pixels are too small for two {kernel_size}x"
                        f"{kernel_size} convolutions and two 2x2 poolings; use larger images "
                        "(e.g. --option size=28 for digits)")

    inputs = keras.Input(shape=spec.input_shape, name="image")
    x = layers.Conv2D(filters, kernel_size, activation="relu", name="conv_1")(inputs)
    x = layers.MaxPooling2D(2, name="pool_1")(x)
    x = layers.Conv2D(2 * filters, kernel_size, activation="relu", name="conv_2")(x)
    x = layers.MaxPooling2D(2, name="pool_2")(x)
    x = layers.Dropout(conv_dropout, name="conv_dropout")(x)
    x = layers.Flatten(name="flatten")(x)
    x = layers.Dense(dense_units, activation="relu", name="dense")(x)
    x = layers.Dropout(dense_dropout, name="dense_dropout")(x)
    outputs = output_layer(spec)(x)
    return keras.Model(inputs, outputs, name="cnn")


@register_check("cnn", "parameters at 28x28x1, K = 10", expected="225,034", quick=True)
def _cnn_parameters(ctx):
    return equal(ctx.build_for("cnn", (28, 28, 1), 10).count_params(), 225_034)


@register_check("cnn", "digits test accuracy (20 epochs, seed 2)", expected=">= 0.97")
def _cnn_digits(ctx):
    return at_least(ctx.train("cnn", "digits", seed=2).metrics["accuracy"], 0.97)
