"""The Keras model of replica ensembles (`mlphys train MODEL --replicas N`; see
mlphys.ensembles for the method, ML4PA tutorial 3).

`Ensemble(x, training=True)` returns every member's output stacked on axis 1, so Keras'
own `train_step` fits member k to replica k; outside training the ensemble returns the
members' mean and scores like any model.

This module imports Keras at its top; mlphys.ensembles imports it when an ensemble is
built and `mlphys.registry.define_keras_objects` before a saved run is reopened, so
importing mlphys loads no Keras. The class keeps the registered name "mlphys>Ensemble"
of earlier releases, so their run folders reopen.
"""

import keras


@keras.saving.register_keras_serializable(package="mlphys")
class Ensemble(keras.Model):
    """The mean of N member models; `training=True` returns all of them (N on axis 1)."""

    def __init__(self, members, **kwargs):
        super().__init__(**kwargs)
        self.members = list(members)

    def member_outputs(self, inputs, training=False):
        return keras.ops.stack([m(inputs, training=training) for m in self.members],
                               axis=1)

    def call(self, inputs, training=False):
        outputs = self.member_outputs(inputs, training)
        return outputs if training else keras.ops.mean(outputs, axis=1)

    def build(self, input_shape):
        for member in self.members:
            if not member.built:
                member.build(input_shape)
        self.built = True

    def compute_output_shape(self, input_shape):
        return self.members[0].compute_output_shape(input_shape)

    @property
    def input_shape(self):
        return self.members[0].input_shape

    @property
    def output_shape(self):
        return self.members[0].output_shape

    def get_config(self):
        return {**super().get_config(),
                "members": [keras.saving.serialize_keras_object(m)
                            for m in self.members]}

    @classmethod
    def from_config(cls, config):
        members = [keras.saving.deserialize_keras_object(m)
                   for m in config.pop("members")]
        return cls(members, **config)

