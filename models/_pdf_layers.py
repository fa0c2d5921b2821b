"""The Keras layers of the gluon PDF fit (mlphys.models.pdf_fit; ML4PA tutorial 3): `LogX`,
the network's input variable ln x, and `Preprocessing`, the fixed factor
x^alpha (1-x)^beta in front of the network's output.

This module imports Keras at its top: the zoo module imports it inside its builder only,
and `mlphys.registry.define_keras_objects` imports it before a saved run is reopened, so
`mlphys list` and `mlphys info` never load TensorFlow. The layers keep the registered
names "mlphys>LogX" and "mlphys>Preprocessing" of earlier releases, so their run folders
reopen.
"""

import keras
from keras import ops


@keras.saving.register_keras_serializable(package="mlphys")
class LogX(keras.layers.Layer):
    """ln x, elementwise: the network's input variable (x spans three decades)."""

    def call(self, inputs):
        return ops.log(inputs)


@keras.saving.register_keras_serializable(package="mlphys")
class Preprocessing(keras.layers.Layer):
    """f(x) = x^alpha (1 - x)^beta NN(x) with fixed exponents; inputs [x, NN(x)],
    both (batch, 1)."""

    def __init__(self, small_x_exponent=0.0, large_x_exponent=0.0, **kwargs):
        super().__init__(**kwargs)
        self.small_x_exponent = float(small_x_exponent)
        self.large_x_exponent = float(large_x_exponent)

    def call(self, inputs):
        x, network = inputs
        return (ops.power(x, self.small_x_exponent)
                * ops.power(1.0 - x, self.large_x_exponent) * network)

    def get_config(self):
        return {**super().get_config(), "small_x_exponent": self.small_x_exponent,
                "large_x_exponent": self.large_x_exponent}
