"""The Keras classes of the chain of masses on springs (mlphys.models.chain; 3EL lesson
1): `ChainHeights`, the heights y_1..y_N as the weights of one layer, and `SpringChain`,
the model whose own `train_step` minimises the chain's energy with `tf.GradientTape`.

This module imports Keras at its top: the zoo module imports it inside its builder only,
and `mlphys.registry.define_keras_objects` imports it before a saved run is reopened, so
`mlphys list` and `mlphys info` never load TensorFlow. The classes keep the registered
names "mlphys>ChainHeights" and "mlphys>SpringChain" of earlier releases, so their run
folders reopen.
"""

import keras
import tensorflow as tf
from keras import ops


@keras.saving.register_keras_serializable(package="mlphys")
class ChainHeights(keras.layers.Layer):
    """The heights y_1..y_N (N = n_masses) as trainable weights, drawn from U(-0.5, 0.5)
    (the global seed). Any input (batch, ...) gives the heights, shape (batch, N)."""

    def __init__(self, n_masses, **kwargs):
        super().__init__(**kwargs)
        self.n_masses = int(n_masses)

    def build(self, input_shape):
        self.heights = self.add_weight(
            name="heights", shape=(self.n_masses,),
            initializer=keras.initializers.RandomUniform(-0.5, 0.5))

    def call(self, inputs):
        return ops.zeros_like(inputs[:, :1]) + self.heights

    def get_config(self):
        return {**super().get_config(), "n_masses": self.n_masses}


@keras.saving.register_keras_serializable(package="mlphys")
class SpringChain(keras.Model):
    """N masses on springs: predicts their heights; trains by minimising the energy.

    `train_step` ignores its (x, y) batch: energy E(y) under a `tf.GradientTape`,
    gradient dE/dy, one optimizer step. Logs `loss` (the energy before the step) and
    `max_gradient` (max_j |dE/dy_j|) of the epoch's last step.
    """

    def __init__(self, n_masses, spring_constant=5.0, rest_length=0.8, weight=0.1,
                 **kwargs):
        super().__init__(**kwargs)
        self.spring_constant = float(spring_constant)
        self.rest_length = float(rest_length)
        self.weight = float(weight)
        self.chain = ChainHeights(n_masses, name="heights")

    def build(self, input_shape):
        self.chain.build(input_shape)
        self.built = True

    def call(self, inputs):
        return self.chain(inputs)

    @property
    def heights(self):
        return self.chain.heights

    def energy(self):
        y = ops.pad(self.heights, [[1, 1]])  # the fixed ends y_0 = y_{N+1} = 0
        stretch = ops.sqrt(ops.square(y[1:] - y[:-1]) + 1.0) - self.rest_length
        return (self.spring_constant / 2 * ops.sum(ops.square(stretch))
                + self.weight * ops.sum(self.heights))

    def energy_and_gradient(self):
        with tf.GradientTape() as tape:
            energy = self.energy()
        return energy, tape.gradient(energy, self.heights)

    def train_step(self, data):
        energy, gradient = self.energy_and_gradient()
        self.optimizer.apply([gradient], [self.heights])
        return {"loss": energy, "max_gradient": ops.max(ops.abs(gradient))}

    def test_step(self, data):
        energy, gradient = self.energy_and_gradient()
        return {"loss": energy, "max_gradient": ops.max(ops.abs(gradient))}

    def get_config(self):
        return {**super().get_config(), "n_masses": self.chain.n_masses,
                "spring_constant": self.spring_constant,
                "rest_length": self.rest_length, "weight": self.weight}
