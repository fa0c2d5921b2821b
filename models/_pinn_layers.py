"""The Keras classes of the physics-informed networks (mlphys.models.pinn; MLMM 15.1-15.3,
Raissi, Perdikaris, Karniadakis 2019): the random-Fourier-feature input layer
`RandomFourierFeatures` (Rahimi & Recht 2007; Keras 2's layer, which Keras 3 dropped) and
the model `PhysicsInformedNetwork`, trained on the residual of its equation with nested
`tf.GradientTape`s.

This module imports Keras at its top: the zoo module imports it inside its builder only,
and `mlphys.registry.define_keras_objects` imports it before a saved run is reopened, so
`mlphys list` and `mlphys info` never load TensorFlow. The classes keep the registered
names "mlphys>RandomFourierFeatures" and "mlphys>PhysicsInformedNetwork" of earlier
releases, so their run folders reopen.
"""

import math

import keras
import tensorflow as tf

from mlphys.data.pdes import CONDITION  # the role of boundary/initial rows in the data


@keras.saving.register_keras_serializable(package="mlphys")
class RandomFourierFeatures(keras.layers.Layer):
    """phi(x) = sqrt(2/D) cos(x W / scale + b): random Fourier features (Rahimi & Recht
    2007) with Keras 2's conventions, W ~ N(0, 1) of shape (d, D) and b ~ U(0, 2 pi)
    fixed at build time (non-trainable weights, drawn from `seed` or the global seed),
    the scale trainable. Input (N, d), output (N, D = output_dim)."""

    def __init__(self, output_dim, scale=1.0, trainable_scale=True, seed=None,
                 **kwargs):
        super().__init__(**kwargs)
        self.output_dim, self.scale = int(output_dim), float(scale)
        self.trainable_scale, self.seed = bool(trainable_scale), seed

    def build(self, input_shape):
        seed = self.seed
        self.unscaled_kernel = self.add_weight(
            name="unscaled_kernel", shape=(input_shape[-1], self.output_dim),
            initializer=keras.initializers.RandomNormal(0.0, 1.0, seed=seed),
            trainable=False)
        self.bias = self.add_weight(
            name="bias", shape=(self.output_dim,),
            initializer=keras.initializers.RandomUniform(
                0.0, 2 * math.pi, seed=None if seed is None else seed + 1),
            trainable=False)
        self.kernel_scale = self.add_weight(
            name="kernel_scale", shape=(1,),
            initializer=keras.initializers.Constant(self.scale),
            constraint=keras.constraints.NonNeg(), trainable=self.trainable_scale)

    def call(self, inputs):
        kernel = self.unscaled_kernel / self.kernel_scale
        phases = keras.ops.matmul(inputs, kernel) + self.bias
        return math.sqrt(2.0 / self.output_dim) * keras.ops.cos(phases)

    def compute_output_shape(self, input_shape):
        return (*input_shape[:-1], self.output_dim)

    def get_config(self):
        return {**super().get_config(), "output_dim": self.output_dim,
                "scale": self.scale, "trainable_scale": self.trainable_scale,
                "seed": self.seed}


@keras.saving.register_keras_serializable(package="mlphys")
class PhysicsInformedNetwork(keras.Model):
    """A network u(x, t) trained on the residual of its equation.

    Inputs are rows of the PDE datasets (x, t, role, c_t, c_uux, c_ux, c_uxx, c_1);
    `network` sees (x, t) only. loss = mean R^2 over the collocation rows (role 0)
    + condition_weight * mean (u - y)^2 over the boundary/initial rows (role 1).
    Calling the model returns u, shape (N, 1).
    """

    def __init__(self, network, condition_weight=1.0, **kwargs):
        super().__init__(**kwargs)
        self.network = network
        self.condition_weight = float(condition_weight)
        self.loss_tracker = keras.metrics.Mean(name="loss")
        self.residual_tracker = keras.metrics.Mean(name="residual_loss")
        self.condition_tracker = keras.metrics.Mean(name="condition_loss")

    def call(self, inputs, training=False):
        return self.network(inputs[:, :2], training=training)

    def build(self, input_shape=None):
        self.built = True

    def fields(self, rows):
        """u and the residual R at `rows` (N, 8), each (N,) (tensors).

        u_x and u_t come from an inner tape, u_xx from an outer one; (x, t) enter the
        network as x e_1 + t e_2 rather than by slicing or concatenating, whose
        second derivatives XLA cannot take."""
        rows = tf.convert_to_tensor(rows, tf.float32)
        xs, ts, c = rows[:, 0:1], rows[:, 1:2], rows[:, 3:]
        with tf.GradientTape() as outer:
            outer.watch(xs)
            with tf.GradientTape() as inner:
                inner.watch([xs, ts])
                u = self.network(xs * [[1.0, 0.0]] + ts * [[0.0, 1.0]], training=True)
            u_x, u_t = inner.gradient(u, [xs, ts], unconnected_gradients="zero")
        u_xx = outer.gradient(u_x, xs, unconnected_gradients="zero")
        residual = (c[:, 0:1] * u_t + c[:, 1:2] * u * u_x + c[:, 2:3] * u_x
                    + c[:, 3:4] * u_xx + c[:, 4:5])
        return tf.reshape(u, [-1]), tf.reshape(residual, [-1])

    def equation_losses(self, data):
        x, y, _ = keras.utils.unpack_x_y_sample_weight(data)
        x = tf.convert_to_tensor(x, tf.float32)
        u, residual = self.fields(x)
        condition = tf.cast(tf.equal(x[:, 2], CONDITION), tf.float32)
        collocation = 1.0 - condition
        residual_loss = (tf.reduce_sum(collocation * residual ** 2)
                         / tf.maximum(tf.reduce_sum(collocation), 1.0))
        misfit = u - tf.reshape(tf.cast(y, tf.float32), [-1])
        condition_loss = (tf.reduce_sum(condition * misfit ** 2)
                          / tf.maximum(tf.reduce_sum(condition), 1.0))
        return residual_loss, condition_loss

    def compute_loss(self, x=None, y=None, y_pred=None, sample_weight=None,
                     training=True):
        """The training loss of (x, y) as one scalar: what the L-BFGS phase of the fit
        core minimises (mlphys.lbfgs). `y_pred` and `sample_weight` are not used."""
        residual_loss, condition_loss = self.equation_losses((x, y))
        return residual_loss + self.condition_weight * condition_loss

    def _track(self, residual_loss, condition_loss):
        loss = residual_loss + self.condition_weight * condition_loss
        self.loss_tracker.update_state(loss)
        self.residual_tracker.update_state(residual_loss)
        self.condition_tracker.update_state(condition_loss)
        return {m.name: m.result() for m in self.metrics}

    def train_step(self, data):
        with tf.GradientTape() as tape:
            residual_loss, condition_loss = self.equation_losses(data)
            loss = residual_loss + self.condition_weight * condition_loss
        gradients = tape.gradient(loss, self.trainable_weights)
        self.optimizer.apply(gradients, self.trainable_weights)
        return self._track(residual_loss, condition_loss)

    def test_step(self, data):
        return self._track(*self.equation_losses(data))

    @property
    def metrics(self):
        return [self.loss_tracker, self.residual_tracker, self.condition_tracker]

    def get_config(self):
        return {**super().get_config(),
                "network": keras.saving.serialize_keras_object(self.network),
                "condition_weight": self.condition_weight}

    @classmethod
    def from_config(cls, config):
        network = keras.saving.deserialize_keras_object(config.pop("network"))
        return cls(network, **config)
