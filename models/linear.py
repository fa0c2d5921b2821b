"""Linear models: softmax (multinomial logistic) regression."""

from mlphys.registry import register_model
from mlphys.reproduce import at_least, register_check
from mlphys.models._heads import output_layer


@register_model("logreg", task="classification", inputs="any", dataset="digits",
                source="MLMM 5.9, 6.4", epochs=20)
def logreg(hp, spec):
    """Softmax regression: one Dense(K, softmax) layer on the flattened input.

    The linear classifier of MLMM 5.9 and 6.4, p(k | x) = softmax(W x + b)_k; with two
    classes it is logistic regression with one sigmoid output.
    """
    import keras
    from keras import layers

    hp.Float("learning_rate", 1e-4, 1.0, sampling="log", default=1e-2)
    inputs = keras.Input(shape=spec.input_shape, name="input")
    x = layers.Flatten(name="flatten")(inputs)
    outputs = output_layer(spec)(x)
    return keras.Model(inputs, outputs, name="logreg")


@register_check("logreg", "digits test accuracy after 3 epochs (chance 0.10)",
                expected=">= 0.80", quick=True)
def _logreg_digits(ctx):
    return at_least(ctx.train("logreg", "digits", epochs=3).metrics["accuracy"], 0.80)
