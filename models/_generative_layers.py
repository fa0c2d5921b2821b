"""The Keras classes of the generative models (mlphys.models.generative): the variational
autoencoder `VAE` (MLMM 12.4-12.5) and the deep convolutional `GAN` with its conditional
variant (MLMM 12.2), each a Keras model with its own `train_step`/`test_step`
(TensorFlow backend).

This module imports Keras at its top: the zoo module imports it inside its builders only,
and `mlphys.registry.define_keras_objects` imports it before a saved run is reopened, so
`mlphys list` and `mlphys info` never load TensorFlow. The classes are registered as
"mlphys>VAE" and "mlphys>GAN", the names the run folders of earlier releases carry.
"""

import keras
import numpy as np
import tensorflow as tf
from keras import ops


def in_batches(network, inputs, batch_size=256):
    """network(inputs) called eagerly in batches, as NumPy (no tf.function to trace:
    these are small, one-off calls)."""
    inputs = inputs if isinstance(inputs, list) else [inputs]
    parts = [network([a[i:i + batch_size] for a in inputs] if len(inputs) > 1
                     else inputs[0][i:i + batch_size], training=False)
             for i in range(0, len(inputs[0]), batch_size)]
    if isinstance(parts[0], (list, tuple)):
        return [np.concatenate([ops.convert_to_numpy(p[j]) for p in parts])
                for j in range(len(parts[0]))]
    return np.concatenate([ops.convert_to_numpy(p) for p in parts])


def images_of(data):
    x, y, _ = keras.utils.unpack_x_y_sample_weight(data)
    return ops.convert_to_tensor(x, "float32"), y


@keras.saving.register_keras_serializable(package="mlphys")
class VAE(keras.Model):
    """Encoder x -> (mu, log sigma^2), z = mu + sigma * eps, decoder z -> x'.

    loss = reconstruction + KL per image (nats): reconstruction = sum over pixels of
    the binary cross-entropy ("bce", images in [0, 1]) or of the squared error
    ("mse"); KL = -1/2 sum_j (1 + log sigma_j^2 - mu_j^2 - sigma_j^2).
    """

    def __init__(self, encoder, decoder, reconstruction="bce", **kwargs):
        super().__init__(**kwargs)
        self.encoder, self.decoder = encoder, decoder
        self.reconstruction = reconstruction
        self.latent_dim = int(decoder.input_shape[-1])
        self.num_classes = 0
        self.seed_generator = keras.random.SeedGenerator()
        self.loss_tracker = keras.metrics.Mean(name="loss")
        self.reconstruction_tracker = keras.metrics.Mean(name="reconstruction")
        self.kl_tracker = keras.metrics.Mean(name="kl")
        self.built = True  # encoder and decoder are built functional models

    @property
    def metrics(self):
        return [self.loss_tracker, self.reconstruction_tracker, self.kl_tracker]

    def call(self, x, training=False):
        """The reconstruction of x through the latent mean, (N, H, W, C)."""
        z_mean, _ = self.encoder(x, training=training)
        return self.decoder(z_mean, training=training)

    def losses_of(self, x, training=False):
        """(reconstruction, KL), each averaged over the batch, summed over pixels and
        latent dimensions."""
        z_mean, z_log_var = self.encoder(x, training=training)
        epsilon = keras.random.normal(ops.shape(z_mean), seed=self.seed_generator)
        z = z_mean + ops.exp(0.5 * z_log_var) * epsilon
        decoded = self.decoder(z, training=training)
        if self.reconstruction == "bce":
            per_pixel = ops.binary_crossentropy(x, decoded)
        else:
            per_pixel = ops.square(x - decoded)
        reconstruction = ops.mean(ops.sum(per_pixel, axis=(1, 2, 3)))
        kl = -0.5 * (1 + z_log_var - ops.square(z_mean) - ops.exp(z_log_var))
        return reconstruction, ops.mean(ops.sum(kl, axis=1))

    def _report(self, reconstruction, kl):
        self.loss_tracker.update_state(reconstruction + kl)
        self.reconstruction_tracker.update_state(reconstruction)
        self.kl_tracker.update_state(kl)
        return {m.name: m.result() for m in self.metrics}

    def train_step(self, data):
        x, _ = images_of(data)
        with tf.GradientTape() as tape:
            reconstruction, kl = self.losses_of(x, training=True)
            loss = reconstruction + kl
        gradients = tape.gradient(loss, self.trainable_weights)
        self.optimizer.apply_gradients(zip(gradients, self.trainable_weights))
        return self._report(reconstruction, kl)

    def test_step(self, data):
        x, _ = images_of(data)
        return self._report(*self.losses_of(x))

    def encode(self, x, batch_size=256):
        """Latent means mu of images x, (N, latent_dim)."""
        return in_batches(self.encoder, np.asarray(x, "float32"), batch_size)[0]

    def generate_images(self, z, labels=None):
        """Decoded images (N, H, W, C) of latent vectors z (N, latent_dim)."""
        return in_batches(self.decoder, np.asarray(z, "float32"))

    def get_config(self):
        return {**super().get_config(),
                "encoder": keras.saving.serialize_keras_object(self.encoder),
                "decoder": keras.saving.serialize_keras_object(self.decoder),
                "reconstruction": self.reconstruction}

    @classmethod
    def from_config(cls, config):
        encoder = keras.saving.deserialize_keras_object(config.pop("encoder"))
        decoder = keras.saving.deserialize_keras_object(config.pop("decoder"))
        return cls(encoder, decoder, **config)


@keras.saving.register_keras_serializable(package="mlphys")
class GAN(keras.Model):
    """A generator G(z[, label]) -> image in [-1, 1] and a discriminator
    D(image[, label]) -> P(real), trained in turns (MLMM 12.2).

    Discriminator step: d_loss = BCE(0.9, D(x)) + BCE(0, D(G(z))) (real labels
    smoothed to 0.9). Generator step, non-saturating: g_loss = BCE(1, D(G(z))).
    Each player has its own Adam; the generator's is the model's compiled optimizer.
    `loss` = d_loss + g_loss (what the engine watches for NaN and checkpoints on).
    d_accuracy: the fraction of real (D > 0.5) and generated (D < 0.5) images the
    discriminator gets right, over the two halves of a batch.
    """

    def __init__(self, generator, discriminator, num_classes=0, real_label=0.9,
                 learning_rate=2e-4, beta_1=0.5, **kwargs):
        super().__init__(**kwargs)
        self.generator, self.discriminator = generator, discriminator
        self.num_classes = int(num_classes)
        self.real_label = float(real_label)
        self.learning_rate, self.beta_1 = float(learning_rate), float(beta_1)
        self.latent_dim = int((generator.inputs[0]).shape[-1])
        self.discriminator_optimizer = keras.optimizers.Adam(learning_rate, beta_1=beta_1,
                                                             name="discriminator_adam")
        self.discriminator_optimizer.build(discriminator.trainable_variables)
        self.seed_generator = keras.random.SeedGenerator()
        self.loss_tracker = keras.metrics.Mean(name="loss")
        self.d_loss_tracker = keras.metrics.Mean(name="d_loss")
        self.g_loss_tracker = keras.metrics.Mean(name="g_loss")
        self.d_accuracy_tracker = keras.metrics.Mean(name="d_accuracy")
        self.built = True  # generator and discriminator are built functional models

    @property
    def metrics(self):
        return [self.loss_tracker, self.d_loss_tracker, self.g_loss_tracker,
                self.d_accuracy_tracker]

    def _g(self, z, labels, training):
        return self.generator([z, labels] if self.num_classes else z, training=training)

    def _d(self, images, labels, training):
        inputs = [images, labels] if self.num_classes else images
        return self.discriminator(inputs, training=training)

    def _labels(self, y):
        if not self.num_classes:
            return None
        if len(y.shape) >= 2 and y.shape[-1] not in (None, 1):  # one-hot labels
            y = ops.argmax(y, axis=-1)
        return ops.reshape(ops.cast(y, "int32"), (-1,))

    def call(self, inputs, training=False):
        """Generated images in [0, 1] from z (N, latent_dim) or [z, labels]."""
        if self.num_classes:
            z, labels = inputs
            return (self._g(z, labels, training) + 1) / 2
        return (self._g(inputs, None, training) + 1) / 2

    def losses_of(self, real, labels, training):
        """(d_loss, g_loss, d_accuracy, generated images) for one batch of real images
        in [-1, 1]."""
        n = ops.shape(real)[0]
        z = keras.random.normal((n, self.latent_dim), seed=self.seed_generator)
        fake = self._g(z, labels, training)
        p_real = self._d(real, labels, training)
        p_fake = self._d(fake, labels, training)
        d_loss = (ops.mean(keras.losses.binary_crossentropy(
            ops.full_like(p_real, self.real_label), p_real))
            + ops.mean(keras.losses.binary_crossentropy(ops.zeros_like(p_fake), p_fake)))
        g_loss = ops.mean(keras.losses.binary_crossentropy(ops.ones_like(p_fake), p_fake))
        accuracy = 0.5 * (ops.mean(ops.cast(p_real > 0.5, "float32"))
                          + ops.mean(ops.cast(p_fake < 0.5, "float32")))
        return d_loss, g_loss, accuracy

    def _report(self, d_loss, g_loss, accuracy):
        self.loss_tracker.update_state(d_loss + g_loss)
        self.d_loss_tracker.update_state(d_loss)
        self.g_loss_tracker.update_state(g_loss)
        self.d_accuracy_tracker.update_state(accuracy)
        return {m.name: m.result() for m in self.metrics}

    def train_step(self, data):
        x, y = images_of(data)
        real, labels = 2 * x - 1, self._labels(y)
        discriminator_weights = self.discriminator.trainable_weights
        with tf.GradientTape() as tape:  # discriminator step
            d_loss, _, accuracy = self.losses_of(real, labels, training=True)
        gradients = tape.gradient(d_loss, discriminator_weights)
        self.discriminator_optimizer.apply_gradients(zip(gradients,
                                                         discriminator_weights))
        generator_weights = self.generator.trainable_weights
        with tf.GradientTape() as tape:  # generator step, fresh z
            _, g_loss, _ = self.losses_of(real, labels, training=True)
        gradients = tape.gradient(g_loss, generator_weights)
        self.optimizer.apply_gradients(zip(gradients, generator_weights))
        return self._report(d_loss, g_loss, accuracy)

    def test_step(self, data):
        x, y = images_of(data)
        return self._report(*self.losses_of(2 * x - 1, self._labels(y), training=False))

    def generate_images(self, z, labels=None):
        """Images (N, H, W, C) in [0, 1] from latent vectors z (N, latent_dim) and, for
        the conditional variant, integer labels (N,)."""
        z = np.asarray(z, "float32")
        inputs = [z, np.asarray(labels, "int32")] if self.num_classes else z
        generated = in_batches(self.generator, inputs)
        return np.clip((generated + 1) / 2, 0, 1)

    def discriminate(self, images, labels=None):
        """P(real) (N,) of images in [0, 1]."""
        x = 2 * np.asarray(images, "float32") - 1
        inputs = [x, np.asarray(labels, "int32")] if self.num_classes else x
        return in_batches(self.discriminator, inputs).ravel()

    def compile_from_config(self, config):
        """Reopening a saved run: the generator's Adam covers the generator's weights
        only, as in training (the discriminator has its own)."""
        self.compile(**keras.saving.deserialize_keras_object(config))
        self.optimizer.build(self.generator.trainable_variables)

    def get_config(self):
        return {**super().get_config(),
                "generator": keras.saving.serialize_keras_object(self.generator),
                "discriminator": keras.saving.serialize_keras_object(self.discriminator),
                "num_classes": self.num_classes, "real_label": self.real_label,
                "learning_rate": self.learning_rate, "beta_1": self.beta_1}

    @classmethod
    def from_config(cls, config):
        generator = keras.saving.deserialize_keras_object(config.pop("generator"))
        discriminator = keras.saving.deserialize_keras_object(config.pop("discriminator"))
        return cls(generator, discriminator, **config)
