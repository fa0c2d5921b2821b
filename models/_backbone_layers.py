"""The Keras pieces in front of a pretrained backbone (mlphys.models.backbones): grey
images to three channels and the backbone's own `preprocess_input`.

    x = GreyToRGB(name="to_rgb")(images)                  # (N, H, W, 1) -> (N, H, W, 3)
    x = layers.Resizing(224, 224, name="resize")(x)
    x = BackbonePreprocess("mobilenet_v2", name="preprocess")(x)   # [0, 1] -> [-1, 1]

Both live inside the saved model, so `evaluate`, `predict` and `saliency` give a run
the dataset's images as they are (float32 in [0, 1]). This module imports Keras at its
top: the zoo module imports it inside its builders only, and
`mlphys.registry.define_keras_objects` imports it before a saved run is reopened.
"""

import importlib

import keras
from keras import ops


@keras.saving.register_keras_serializable(package="mlphys")
class GreyToRGB(keras.layers.Layer):
    """(N, H, W, 1) -> (N, H, W, 3): a grey image repeated into the three colour channels
    an ImageNet backbone reads; images that have three channels pass unchanged."""

    def call(self, images):
        if images.shape[-1] == 1:
            return ops.repeat(images, 3, axis=-1)
        return images

    def compute_output_shape(self, input_shape):
        return (*input_shape[:-1], 3)


@keras.saving.register_keras_serializable(package="mlphys")
class BackbonePreprocess(keras.layers.Layer):
    """Images in [0, 1] (N, H, W, 3) -> what the backbone was trained on: scaled to
    [0, 255], then `keras.applications.<application>.preprocess_input` ("tf" mode of
    MobileNetV2: [-1, 1]; "caffe" mode of ResNet50: BGR minus the ImageNet mean; the
    EfficientNets rescale inside the backbone, so theirs is the identity).

    application: the module of `keras.applications` (e.g. "mobilenet_v2", "resnet50").
    """

    def __init__(self, application, **kwargs):
        super().__init__(**kwargs)
        self.application = application
        self._preprocess = importlib.import_module(
            f"keras.applications.{application}").preprocess_input

    def call(self, images):
        return self._preprocess(images * 255.0)

    def compute_output_shape(self, input_shape):
        return input_shape

    def get_config(self):
        return {**super().get_config(), "application": self.application}
