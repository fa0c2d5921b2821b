"""Monte Carlo dropout (Gal and Ghahramani 2016): the dropout layers of a trained model
left on at prediction, so that N passes over the same inputs sample the model's
uncertainty. Only the dropout layers change: batch normalisation and every other layer
keep their inference behaviour (calling the model with `training=True` would not).

    with dropout_on(model):
        passes = [model.predict(x) for _ in range(50)]   # each with fresh dropout masks

Imports Keras at its top; `mlphys.prediction` imports it only for `--mc-dropout`.
"""

import contextlib

import keras

DROPOUT_CLASSES = (keras.layers.Dropout, keras.layers.SpatialDropout1D,
                   keras.layers.SpatialDropout2D, keras.layers.SpatialDropout3D,
                   keras.layers.GaussianDropout, keras.layers.AlphaDropout)


def dropout_layers(model):
    """The dropout layers of `model` with a rate above 0, nested models included."""
    layers = model._flatten_layers(include_self=False, recursive=True)
    return [layer for layer in layers
            if isinstance(layer, DROPOUT_CLASSES) and getattr(layer, "rate", 0) > 0]


@contextlib.contextmanager
def dropout_on(model):
    """Within the block, `model`'s dropout layers drop at inference too."""
    layers = dropout_layers(model)
    for layer in layers:
        call = type(layer).call.__get__(layer)
        object.__setattr__(layer, "call",
                           lambda inputs, training=None, _call=call: _call(inputs,
                                                                           training=True))
    model.predict_function = None  # traced again, with the layers on
    try:
        yield model
    finally:
        for layer in layers:
            object.__delattr__(layer, "call")
        model.predict_function = None
