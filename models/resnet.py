"""The toy residual network of MLMM 15.3.2 (Keras functional API with skip connections)."""

from mlphys.registry import register_model
from mlphys.reproduce import at_least, equal, register_check
from mlphys.models._heads import output_layer


@register_model("toy_resnet", task="any", inputs="vector", dataset="iris",
                source="MLMM 15.3.2", epochs=100, batch_size=16)
def toy_resnet(hp, spec):
    """Toy ResNet: dense layers with two additive skip connections (MLMM 15.3.2).

    The course's functional-API example:
      Input(3) -> Dense(8) -> Dense(16) = b1 -> Dense(32) -> Dense(16) + b1 = b2
      -> Dense(32) -> Dense(16) + b2 -> Dense(10)
    2,490 parameters with 3 inputs and 10 outputs. Here the input and output sizes come
    from the dataset (the default, iris, has 4 features and 3 classes: 2,355 parameters)
    and the output layer follows the task (softmax for classes, linear for regression).
    The hidden activation is a hyperparameter (it changes no parameter count).
    """
    import keras
    from keras import layers

    activation = hp.Choice("activation", ["relu", "tanh", "elu", "sigmoid", "swish"],
                           default="relu")

    def dense(units, name):
        return layers.Dense(units, activation=activation, name=name)

    inputs = keras.Input(shape=spec.input_shape, name="input")
    x = layers.Flatten(name="flatten")(inputs) if len(spec.input_shape) > 1 else inputs
    x = dense(8, "dense_8")(x)
    block_1 = dense(16, "block_1")(x)
    x = dense(32, "block_2_expand")(block_1)
    x = dense(16, "block_2_project")(x)
    block_2 = layers.add([x, block_1], name="block_2")
    x = dense(32, "block_3_expand")(block_2)
    x = dense(16, "block_3_project")(x)
    block_3 = layers.add([x, block_2], name="block_3")
    outputs = output_layer(spec)(block_3)
    return keras.Model(inputs, outputs, name="toy_resnet")


@register_check("toy_resnet", "parameters with 3 inputs, 10 outputs", expected="2,490",
                quick=True)
def _toy_resnet_parameters(ctx):
    return equal(ctx.build_for("toy_resnet", (3,), 10).count_params(), 2_490)


@register_check("toy_resnet", "iris test accuracy after 40 epochs (learning rate 0.01)",
                expected=">= 0.9", quick=True)
def _toy_resnet_iris(ctx):
    run = ctx.train("toy_resnet", "iris", params={"learning_rate": 0.01}, epochs=40)
    return at_least(run.metrics["accuracy"], 0.9)
