"""Two preprocessing layers Keras lacks, serialisable so that saved models reopen."""

import keras
from keras import ops


@keras.saving.register_keras_serializable(package="mlphys")
class RandomRot90(keras.layers.Layer):
    """Rotate each batch by a random multiple of 90 degrees (square images), in training."""

    def __init__(self, seed=None, **kwargs):
        super().__init__(**kwargs)
        self.seed = seed
        self.generator = keras.random.SeedGenerator(seed)

    def call(self, images, training=True):
        if not training:
            return images
        import tensorflow as tf

        turns = keras.random.randint((), 0, 4, seed=self.generator)
        return tf.image.rot90(images, k=turns)

    def get_config(self):
        return {**super().get_config(), "seed": self.seed}


@keras.saving.register_keras_serializable(package="mlphys")
class SamplewiseStandardization(keras.layers.Layer):
    """Subtract each image's mean and/or divide by its standard deviation
    (ImageDataGenerator's samplewise_center / samplewise_std_normalization)."""

    def __init__(self, center=True, scale=True, **kwargs):
        super().__init__(**kwargs)
        self.center, self.scale = center, scale

    def call(self, images):
        if self.center:
            images = images - ops.mean(images, axis=(1, 2, 3), keepdims=True)
        if self.scale:
            images = images / (ops.std(images, axis=(1, 2, 3), keepdims=True) + 1e-6)
        return images

    def get_config(self):
        return {**super().get_config(), "center": self.center, "scale": self.scale}
