"""The Keras class of the convolutional autoencoder whose bottleneck `tsne_latent` maps
(mlphys.models.tsne_latent; MLP4P homework 6): `Autoencoder`, a functional model that
trains on its inputs alone.

This module imports Keras at its top: the zoo module imports it inside its builder only,
and `mlphys.registry.define_keras_objects` imports it before a saved run is reopened, so
`mlphys list` and `mlphys info` never load TensorFlow. The class keeps the registered
name "mlphys>Autoencoder" of earlier releases, so their run folders reopen.
"""

import keras


@keras.saving.register_keras_serializable(package="mlphys")
class Autoencoder(keras.Model):
    """A functional model trained to reproduce its inputs: any labels in the data are
    ignored by `fit` and `evaluate` (they stay available to colour latent maps)."""

    def train_step(self, data):
        x = data[0] if isinstance(data, (tuple, list)) else data
        return super().train_step((x, x))

    def test_step(self, data):
        x = data[0] if isinstance(data, (tuple, list)) else data
        return super().test_step((x, x))
