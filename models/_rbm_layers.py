"""The Keras class of the restricted Boltzmann machine (mlphys.models.rbm; MLP4P lecture
9): `RBM`, binary visible and hidden units, trained by contrastive divergence (CD-k) in
its own `train_step`.

This module imports Keras at its top: the zoo module imports it inside its builder only,
and `mlphys.registry.define_keras_objects` imports it before a saved run is reopened, so
`mlphys list` and `mlphys info` never load TensorFlow. The class keeps the registered
name "mlphys>RBM" of earlier releases, so their run folders reopen.
"""

import keras
import numpy as np
import tensorflow as tf


@keras.saving.register_keras_serializable(package="mlphys")
class RBM(keras.Model):
    """Binary-binary RBM on images of `image_shape`; calling it reconstructs them.

    image_shape: (H, W, C) of the inputs, flattened to V = H*W*C visible units.
    hidden: number of hidden units; cd_steps: k of CD-k; threshold: pixels above it
    are 1, the others 0.
    """

    def __init__(self, image_shape, hidden=60, cd_steps=1, threshold=0.7, **kwargs):
        super().__init__(**kwargs)
        self.image_shape = tuple(int(s) for s in image_shape)
        self.hidden, self.cd_steps = int(hidden), int(cd_steps)
        self.threshold = float(threshold)
        visible = int(np.prod(self.image_shape))
        self.weights_vh = self.add_weight(
            shape=(visible, self.hidden), name="weights",
            initializer=keras.initializers.RandomNormal(stddev=0.01))
        self.visible_bias = self.add_weight(shape=(visible,), name="visible_bias",
                                            initializer="zeros")
        self.hidden_bias = self.add_weight(shape=(self.hidden,), name="hidden_bias",
                                           initializer="zeros")
        self.dice = keras.random.SeedGenerator()
        self.error_tracker = keras.metrics.Mean(name="loss")
        self.built = True

    @property
    def metrics(self):
        return [self.error_tracker]

    def binarise(self, images):
        flat = tf.reshape(tf.cast(images, tf.float32), (tf.shape(images)[0], -1))
        return tf.cast(flat > self.threshold, tf.float32)

    def hidden_given(self, v):
        return tf.sigmoid(tf.matmul(v, self.weights_vh) + self.hidden_bias)

    def visible_given(self, h):
        return tf.sigmoid(tf.matmul(h, self.weights_vh, transpose_b=True)
                          + self.visible_bias)

    def sample(self, probabilities):
        dice = keras.random.uniform(tf.shape(probabilities), seed=self.dice)
        return tf.cast(dice < probabilities, tf.float32)

    def call(self, images, training=False):
        """p(v | p(h | v)) for binarised images, in the images' shape."""
        reconstruction = self.visible_given(self.hidden_given(self.binarise(images)))
        return tf.reshape(reconstruction, tf.shape(images))

    def reconstruction_error(self, v0):
        return tf.reduce_mean(tf.square(v0 - self.visible_given(self.hidden_given(v0))),
                              axis=1)

    def train_step(self, data):
        images = data[0] if isinstance(data, (tuple, list)) else data
        v0 = self.binarise(images)
        ph0 = self.hidden_given(v0)
        ph, h = ph0, self.sample(ph0)
        for _ in range(self.cd_steps):               # block Gibbs sampling, k steps
            v = self.sample(self.visible_given(h))
            ph = self.hidden_given(v)
            h = self.sample(ph)
        batch = tf.cast(tf.shape(v0)[0], tf.float32)
        positive = tf.matmul(v0, ph0, transpose_a=True)
        negative = tf.matmul(v, ph, transpose_a=True)
        steps = [-(positive - negative) / batch,
                 -tf.reduce_mean(v0 - v, axis=0),
                 -tf.reduce_mean(ph0 - ph, axis=0)]
        self.optimizer.apply_gradients(zip(
            steps, [self.weights_vh, self.visible_bias, self.hidden_bias]))
        self.error_tracker.update_state(self.reconstruction_error(v0))
        return {"loss": self.error_tracker.result()}

    def test_step(self, data):
        images = data[0] if isinstance(data, (tuple, list)) else data
        self.error_tracker.update_state(self.reconstruction_error(self.binarise(images)))
        return {"loss": self.error_tracker.result()}

    def get_config(self):
        return {**super().get_config(), "image_shape": list(self.image_shape),
                "hidden": self.hidden, "cd_steps": self.cd_steps,
                "threshold": self.threshold}
