"""Fully connected networks (multi-layer perceptrons)."""

from mlphys.registry import register_model
from mlphys.reproduce import Unreachable, at_least, equal, register_check
from mlphys.models._heads import output_layer


@register_model("mlp", task="any", inputs="any", dataset="digits",
                source="IDAML; MLMM 9.7, 7.12", epochs=10,
                search=("hidden_layers", "units", "learning_rate", "activation"))
def mlp(hp, spec):
    """Multi-layer perceptron: Dense(512, relu) -> Dense(512, relu) -> Dense(K, softmax).

    The MNIST classifier of IDAML (test accuracy 0.98); the hidden layers, their width and
    activation, dropout after each hidden layer and an L2 weight penalty are
    hyperparameters whose ranges also cover the MLMM 7.12 search space (1-3 layers of 5-50
    neurons, learning rate 10^k for k = -4..0, relu, tanh or linear); `mlphys tune` searches
    hidden_layers, units, learning_rate and activation, the others stay fixed. `units` sets every hidden
    layer's width unless `units_2` or `units_3` set the second or third one (the MLMM 9.7
    net 784-400-256-10 is `-p units=400 -p units_2=256`). The input is flattened, so it
    runs on vectors and images alike; the output follows the task (softmax, sigmoid or
    linear).
    """
    import keras
    from keras import layers, regularizers

    hidden_layers = hp.Int("hidden_layers", 1, 3, default=2)
    units = hp.Int("units", 5, 1024, sampling="log", default=512)
    units_2 = hp.Int("units_2", 0, 1024, default=0)  # width of layer 2; 0: same as units
    units_3 = hp.Int("units_3", 0, 1024, default=0)  # width of layer 3; 0: same as units
    activation = hp.Choice("activation", ["relu", "tanh", "linear", "sigmoid", "elu"],
                           default="relu")
    dropout = hp.Float("dropout", 0.0, 0.8, default=0.0)
    l2 = hp.Float("l2", 0.0, 0.1, default=0.0)
    hp.Float("learning_rate", 1e-4, 1.0, step=10, sampling="log", default=1e-3)  # 10^k

    inputs = keras.Input(shape=spec.input_shape, name="input")
    x = layers.Flatten(name="flatten")(inputs)
    widths = [units, units_2 or units, units_3 or units][:hidden_layers]
    for i, width in enumerate(widths):
        x = layers.Dense(width, activation=activation, name=f"hidden_{i + 1}",
                         kernel_regularizer=regularizers.L2(l2) if l2 > 0 else None)(x)
        if dropout > 0:
            x = layers.Dropout(dropout, name=f"dropout_{i + 1}")(x)
    outputs = output_layer(spec)(x)
    return keras.Model(inputs, outputs, name="mlp")


@register_check("mlp", "parameters of 784-400-256-10 (MLMM 9.7)", expected="419,226",
                quick=True)
def _mlp_parameters(ctx):
    model = ctx.build_for("mlp", (784,), 10, params={"units": 400, "units_2": 256})
    return equal(model.count_params(), 419_226)


@register_check("mlp", "digits test accuracy after 3 epochs", expected=">= 0.90", quick=True)
def _mlp_digits_quick(ctx):
    return at_least(ctx.train("mlp", "digits", epochs=3).metrics["accuracy"], 0.90)


@register_check("mlp", "MNIST test accuracy (IDAML, 10 epochs)", expected=">= 0.98")
def _mlp_mnist(ctx):
    from mlphys.datasets import data_dirs

    # offline by design: reproduce never downloads, it uses a copy already on the machine
    if not any((folder / "mnist.npz").exists() for folder in data_dirs(ctx.data_dir)):
        raise Unreachable("needs mnist.npz (11 MB, not downloaded by reproduce): place it in "
                          "the data directory or run 'mlphys train mlp -d mnist' once")
    return at_least(ctx.train("mlp", "mnist").metrics["accuracy"], 0.98)
