"""Image-to-image convolutional networks of MLP4P: the autoencoder challenge (tutorial 4)
and circles to squares (homework 5)."""

from mlphys.errors import UserError
from mlphys.registry import register_model
from mlphys.reproduce import Outcome, at_most, equal, register_check


def cost_score(model, dataset, split):
    """The standard regression metrics, led by `cost`: the mean squared error per pixel on
    the split's (fresh) images, the number the MLP4P challenges score."""
    from mlphys.evaluation import score

    metrics, _ = score(model, dataset, split)
    return {"cost": metrics["mse"], **metrics}


# --- the Grand Autoencoder Challenge (MLP4P tutorial 4) --------------------------------

@register_model("autoencoder", task="regression", inputs="image", dataset="circles",
                source="MLP4P tutorial 4", epochs=1, batch_size=30, score=cost_score,
                search=("bottleneck", "channels", "activation", "learning_rate"))
def autoencoder(hp, spec):
    """Convolutional autoencoder through a 9-neuron bottleneck (MLP4P tutorial 4).

    The course's baseline for the "Grand Autoencoder Challenge", on 27x27 images:
      Conv2D(4, 5, sigmoid, same) -> AvgPool(3) -> Conv2D(4, 5, sigmoid, same) -> AvgPool(3)
      -> Conv2D(1, 3, sigmoid, same)                 [bottleneck: 3x3x1 = 9 neurons]
      -> UpSampling(3) -> Conv2D(4, 5, sigmoid, same) -> UpSampling(3)
      -> Conv2D(4, 5, sigmoid, same) -> Conv2D(1, 3, linear, same)
    1,090 parameters; MSE, Adam. Images must be a multiple of 9 pixels a side; the code
    map is (size/9)^2 neurons (9 at 27x27).

    `bottleneck` is the challenge's difficulty: 9 (medium) is the baseline itself; 3
    (hard) and 1 (hardest) squeeze the flattened 3x3x1 code map through Dense(b) and
    expand it back with Dense(9) before the decoder (both with the network's activation),
    so everything the decoder sees passes through b numbers (66 and 30 more parameters).
    `channels` (course 4) and `activation` (course sigmoid) are the knobs the challenge
    invites one to turn; the final layer stays linear.
    """
    import keras
    from keras import layers

    bottleneck = hp.Choice("bottleneck", [9, 3, 1], default=9)
    channels = hp.Int("channels", 1, 64, default=4)
    activation = hp.Choice("activation", ["sigmoid", "relu", "elu", "tanh", "swish"],
                           default="sigmoid")

    height, width, depth = spec.input_shape
    if height % 9 or width % 9:
        raise UserError(f"autoencoder: images of {height}x{width} pixels do not fit; the two "
                        "3x3 poolings and upsamplings need sides that are multiples of 9 "
                        "(e.g. --option size=27)")
    code_map = (height // 9) * (width // 9)
    if bottleneck > code_map:
        raise UserError(f"autoencoder: a bottleneck of {bottleneck} neurons is larger than "
                        f"the {height // 9}x{width // 9} code map of {height}x{width} images; "
                        f"choose -p bottleneck <= {code_map} or larger images")

    def conv(filters, size, name, act=activation):
        return layers.Conv2D(filters, size, activation=act, padding="same", name=name)

    inputs = keras.Input(shape=spec.input_shape, name="image")
    x = conv(channels, 5, "encoder_conv_1")(inputs)
    x = layers.AveragePooling2D(3, padding="same", name="encoder_pool_1")(x)
    x = conv(channels, 5, "encoder_conv_2")(x)
    x = layers.AveragePooling2D(3, padding="same", name="encoder_pool_2")(x)
    x = conv(1, 3, "code_map")(x)
    if bottleneck < code_map:
        x = layers.Flatten(name="flatten_code")(x)
        x = layers.Dense(bottleneck, activation=activation, name="bottleneck")(x)
        x = layers.Dense(code_map, activation=activation, name="expand_code")(x)
        x = layers.Reshape((height // 9, width // 9, 1), name="code_map_again")(x)
    x = layers.UpSampling2D(3, name="decoder_upsample_1")(x)
    x = conv(channels, 5, "decoder_conv_1")(x)
    x = layers.UpSampling2D(3, name="decoder_upsample_2")(x)
    x = conv(channels, 5, "decoder_conv_2")(x)
    outputs = conv(spec.num_outputs, 3, "reconstruction", act="linear")(x)
    return keras.Model(inputs, outputs, name="autoencoder")


# --- circles to squares (MLP4P homework 5) ---------------------------------------------

@register_model("circles_to_squares", task="regression", inputs="image",
                dataset="circles_to_squares", source="MLP4P homework 5", epochs=1,
                batch_size=10, score=cost_score)
def circles_to_squares(hp, spec):
    """Fully convolutional image-to-image net turning circles into squares (MLP4P hw 5).

    4 x Conv2D(20, 5, relu, same) -> Conv2D(1, 5, linear, same): the output image has the
    input's size (any size); 31,081 parameters on one-channel images. MSE, Adam, batch 10.
    `layers`, `filters`, `kernel_size` and `activation` keep the course's values by
    default.
    """
    import keras
    from keras import layers

    depth = hp.Int("layers", 1, 8, default=4)
    filters = hp.Int("filters", 4, 64, default=20)
    kernel_size = hp.Choice("kernel_size", [3, 5, 7], default=5)
    activation = hp.Choice("activation", ["relu", "elu", "tanh", "sigmoid"], default="relu")

    inputs = keras.Input(shape=spec.input_shape, name="image")
    x = inputs
    for i in range(depth):
        x = layers.Conv2D(filters, kernel_size, activation=activation, padding="same",
                          name=f"conv_{i + 1}")(x)
    outputs = layers.Conv2D(spec.num_outputs, kernel_size, padding="same",
                            name="output_image", dtype="float32")(x)
    return keras.Model(inputs, outputs, name="circles_to_squares")


# --- reproduction checks (ZOO.md section C) --------------------------------------------

@register_check("autoencoder", "parameters of the baseline at 27x27x1", expected="1,090",
                quick=True)
def _autoencoder_parameters(ctx):
    model = ctx.build_for("autoencoder", (27, 27, 1), 1, task="regression",
                          target_shape=(27, 27, 1))
    return equal(model.count_params(), 1_090)


@register_check("autoencoder", "relu variant: cost after 100 batches of 30 (quick)",
                expected="<= 0.09", quick=True)
def _autoencoder_quick(ctx):
    run = ctx.train("autoencoder", params={"activation": "relu"},
                    options={"n_train": 3000, "n_val": 0, "n_test": 500})
    return at_most(run.metrics["cost"], 0.09)


@register_check("autoencoder", "baseline cost after 500 batches of 30, seeds 0, 1, 2 "
                "(median; course 0.053)", expected="0.053 +- 0.015")
def _autoencoder_baseline(ctx):
    import numpy as np

    costs = [ctx.train("autoencoder", seed=seed).metrics["cost"] for seed in (0, 1, 2)]
    median = float(np.median(costs))
    stuck = sum(cost > 0.12 for cost in costs)
    note = (f"{stuck} of 3 seeds still on the plateau of predicting the mean image (cost = "
            "the pixel variance, 0.147) after 500 batches" if stuck else "")
    return Outcome(f"{median:.4g} (seeds: {', '.join(f'{c:.4g}' for c in costs)})",
                   abs(median - 0.053) <= 0.015, note)


@register_check("autoencoder", "medium challenge (bottleneck 9): 20 channels, relu, "
                "cost after 30,000 images (class record 0.0039)", expected="< 0.02")
def _autoencoder_challenge(ctx):
    run = ctx.train("autoencoder", params={"bottleneck": 9, "channels": 20,
                                           "activation": "relu"},
                    options={"n_train": 30000})
    return at_most(run.metrics["cost"], 0.02)


@register_check("circles_to_squares", "parameters at 50x50x1", expected="31,081 (from the spec)",
                quick=True)
def _circles_to_squares_parameters(ctx):
    model = ctx.build_for("circles_to_squares", (50, 50, 1), 1, task="regression",
                          target_shape=(50, 50, 1))
    return equal(model.count_params(), 31_081)


@register_check("circles_to_squares", "test cost after 2,000 batches of 10 (the course "
                "quotes 0.0046 after 100 batches; mlphys reaches 0.022 there)",
                expected="<= 0.005 (course 0.0046)")
def _circles_to_squares_cost(ctx):
    # Measured with seed 0 (validation cost): 0.023 after 100 batches, 0.0070 after
    # 1,000, 0.0047 after 2,000 (test cost 0.0048). The course's 0.0046 "after 100
    # batches" is reached here only after ~2,000 batches; we could not find what in the
    # course's setup differs.
    cost = ctx.train("circles_to_squares", epochs=20).metrics["cost"]
    return at_most(cost, 0.005)
