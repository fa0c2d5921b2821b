"""Pretrained ImageNet backbones of `keras.applications` with a new head (MLMM 7.6).

    mlphys list models 'backbone*'
    mlphys train mobilenet_v2 -d cracks -p weights=imagenet
    mlphys train efficientnet_b0 -d photos/ -p fine_tune=20 -p fine_tune_epochs=5
    mlphys train resnet50 -d photos/ -p weights=path/to/resnet50_weights_notop.h5

Each entry is the keras-io transfer-learning recipe: any image dataset in, grey images
made three channels, resized to `input_size` and preprocessed as the backbone's
`preprocess_input` does, all inside the model (so a saved run takes the dataset's images
as they are); the backbone without its ImageNet classifier; global average pooling,
dropout and a new output layer sized from the dataset. With pretrained weights the
fit core trains the head with the backbone frozen for `--epochs`, then unfreezes the top
`fine_tune` layers (BatchNormalization layers stay frozen, so they keep running in
inference mode) and trains `fine_tune_epochs` more at `fine_tune_learning_rate`
(`register_model(fine_tune=...)`); `weights=none` trains every layer from scratch in one
phase. The backbone's layers sit in the model itself (not as one nested model), so
`saliency` finds its last convolution and `--freeze`/`--init-from` see its layer names.

ImageNet weights (`weights=imagenet`) are looked for under Keras' own file names in
`--data-dir`, `$MLPHYS_DATA_DIR`, `$KERAS_HOME/models` and `~/.keras/models`; only when
none holds them does Keras download them (once, into its cache).
"""

import os
from dataclasses import dataclass
from pathlib import Path

from mlphys.errors import UserError
from mlphys.registry import FineTuning, register_keras_objects, register_model
from mlphys.reproduce import equal, register_check
from mlphys.models._heads import output_layer

register_keras_objects("mlphys.models._backbone_layers")

PREPROCESSING = ("image", "to_rgb", "resize", "preprocess")  # the layers before it
HEAD = ("head_pool", "head_dropout", "output")  # the layers after it


@dataclass(frozen=True)
class Backbone:
    """One `keras.applications` network as mlphys wraps it."""

    application: str  # its class in keras.applications, e.g. "MobileNetV2"
    module: str  # its module there, whose `preprocess_input` the model applies
    weights_file: str  # Keras' file name of its ImageNet weights without the top

    def file_name(self, size):
        """Keras' file name of the no-top ImageNet weights at input side `size`
        (MobileNetV2 has one file per size in 96, 128, 160, 192, 224; else 224's)."""
        rows = size if size in (96, 128, 160, 192, 224) else 224
        return self.weights_file.format(rows=rows)


MOBILENET_V2 = Backbone(
    "MobileNetV2", "mobilenet_v2",
    "mobilenet_v2_weights_tf_dim_ordering_tf_kernels_1.0_{rows}_no_top.h5")
EFFICIENTNET_B0 = Backbone("EfficientNetB0", "efficientnet", "efficientnetb0_notop.h5")
RESNET50 = Backbone("ResNet50", "resnet50",
                    "resnet50_weights_tf_dim_ordering_tf_kernels_notop.h5")
EFFICIENTNET_V2_B0 = Backbone("EfficientNetV2B0", "efficientnet_v2",
                              "efficientnetv2-b0_notop.h5")


def weight_dirs(data_dir=None):
    """Where ImageNet weights are looked for, in order: `--data-dir`, `$MLPHYS_DATA_DIR`,
    then Keras' cache of models (`$KERAS_HOME/models`, `~/.keras/models`)."""
    from mlphys.dataspec import data_dirs

    return data_dirs(data_dir, keras_subdir="models")


def resolve_weights(backbone, weights, size):
    """What to pass as `weights=` to the Keras application: None, a file path, or
    "imagenet" (Keras downloads) when no data directory or cache holds the file."""
    from mlphys.dataspec import current_data_dir

    if str(weights).lower() in ("none", "", "null", "random"):
        return None
    if str(weights).lower() != "imagenet":
        if not Path(weights).is_file():
            raise UserError(f"-p weights={weights}: no such file; give imagenet, none or "
                            f"the path of a {backbone.application} weights file (Keras "
                            f"names it {backbone.file_name(size)})")
        return str(Path(weights).resolve())
    name = backbone.file_name(size)
    for folder in weight_dirs(current_data_dir()):
        if (folder / name).is_file():
            return str(folder / name)
    return "imagenet"


def _application(backbone, weights, x, size):
    """The Keras application without its top, on the preprocessed tensor `x`, with
    `weights` loaded; a file that does not fit (or offline with no copy) is a UserError."""
    import keras

    build = getattr(keras.applications, backbone.application)
    try:
        base = build(include_top=False, weights=weights, input_tensor=x)
    except ValueError as error:
        if weights in (None, "imagenet"):
            raise
        raise UserError(
            f"-p weights={weights} does not fit {backbone.application} without its "
            f"classifier top ({str(error).splitlines()[0][:160]}); give Keras' no-top file "
            f"{backbone.file_name(size)} (not the one with the top, not another "
            "network's)") from None
    except Exception as error:  # Keras raises a bare Exception on a failed download
        if weights != "imagenet":
            raise
        where = Path(os.environ.get("KERAS_HOME", "~/.keras")).expanduser() / "models"
        raise UserError(
            f"the ImageNet weights of {backbone.application} are not on this machine and "
            f"could not be downloaded ({(str(error).splitlines() or ['?'])[0][:120]}); put "
            f"{backbone.file_name(size)} in {where} (or in --data-dir / $MLPHYS_DATA_DIR), "
            "or train from scratch with -p weights=none") from None
    if weights not in (None, "imagenet") and backbone.module == "efficientnet":
        _match_keras_imagenet_normalisation(base)
    return base


def _match_keras_imagenet_normalisation(base):
    """EfficientNet(B0-B7) built by Keras with weights="imagenet" divides its normalised
    input by sqrt(ImageNet stddev) in an extra Rescaling layer, which it leaves out for
    weights given as a file: the same factor is folded into the Normalization layer's
    variance, (x - mean) / sqrt(variance * stddev), so both give the same features."""
    import numpy as np
    from keras import layers

    stddev = np.array([0.229, 0.224, 0.225], dtype="float32")
    for layer in base.layers:
        if isinstance(layer, layers.Normalization):
            mean, variance, count = layer.get_weights()
            layer.set_weights([mean, variance * stddev, count])
            layer.finalize_state()  # the layer normalises with copies of its variables
            return


def backbone_layers(model):
    """The layers of the backbone inside `model` (a backbone entry, possibly wrapped in
    an ensemble or the standardisation of `--augment`), first to last."""
    import keras

    if "head_pool" in {layer.name for layer in model.layers}:
        return [layer for layer in model.layers if layer.name not in PREPROCESSING + HEAD]
    found = []
    for layer in model.layers:
        if isinstance(layer, keras.Model):
            found += backbone_layers(layer)
    return found


def transfer_classifier(backbone, spec, *, weights, input_size, dropout, name):
    """Images (N, H, W, C) in [0, 1] -> class probabilities (N, K): grey to RGB, resize to
    input_size x input_size, the backbone's preprocessing, the backbone (frozen when
    pretrained), global average pooling, dropout and a new output layer."""
    import keras
    from keras import layers

    from mlphys.models._backbone_layers import BackbonePreprocess, GreyToRGB

    channels = spec.input_shape[-1]
    if channels not in (1, 3):
        raise UserError(f"{name} reads grey or RGB images; '{spec.describe()}' has "
                        f"{channels} channels")
    resolved = resolve_weights(backbone, weights, input_size)
    inputs = keras.Input(shape=spec.input_shape, name="image")
    x = GreyToRGB(name="to_rgb")(inputs)
    x = layers.Resizing(input_size, input_size, name="resize")(x)
    x = BackbonePreprocess(backbone.module, name="preprocess")(x)
    base = _application(backbone, resolved, x, input_size)
    x = layers.GlobalAveragePooling2D(name="head_pool")(base.output)
    x = layers.Dropout(dropout, name="head_dropout")(x)
    model = keras.Model(inputs, output_layer(spec)(x), name=name)
    for layer in backbone_layers(model):
        layer.trainable = resolved is None  # pretrained: the head trains first
    return model


def fine_tuning(hyperparameters):
    """The second phase of a pretrained backbone's fit: the top `fine_tune` layers
    unfrozen at `fine_tune_learning_rate` for `fine_tune_epochs` (none from scratch)."""
    weights = str(hyperparameters.get("weights", "none")).lower()
    layers_ = int(hyperparameters.get("fine_tune", 0))
    epochs = int(hyperparameters.get("fine_tune_epochs", 0))
    if weights in ("none", "", "null", "random") or layers_ < 1 or epochs < 1:
        return None
    return FineTuning(epochs=epochs,
                      learning_rate=float(hyperparameters["fine_tune_learning_rate"]),
                      prepare=lambda model: unfreeze_top(model, layers_))


def unfreeze_top(model, count):
    """Make the top `count` backbone layers trainable, BatchNormalization layers
    excepted (frozen, they keep normalising with their ImageNet statistics); returns
    what was done, in words."""
    from keras import layers

    top = backbone_layers(model)[-count:]
    for layer in top:
        layer.trainable = not isinstance(layer, layers.BatchNormalization)
    return (f"top {len(top)} backbone layers unfrozen (from {top[0].name}; "
            "BatchNormalization kept frozen)")


_SOURCE = "MLMM 7.6; keras.applications"
_SEARCHED = ("fine_tune", "dropout", "learning_rate", "fine_tune_learning_rate")


@register_model("mobilenet_v2", task="classification", inputs="image", dataset="cracks",
                source=_SOURCE, epochs=5, family="backbone", search=_SEARCHED,
                fine_tune=fine_tuning)
def mobilenet_v2(hp, spec):
    """MobileNetV2 (Sandler et al. 2018) pretrained on ImageNet, with a new head (MLMM 7.6).

    Input: grey or RGB images in [0, 1] of any size, resized inside the model to
    input_size x input_size (default 224, at least 32); preprocessing: MobileNetV2's
    preprocess_input (pixels to [-1, 1]). At 224x224x3 with 2 classes: 2,260,546
    parameters; the head phase trains 2,562, fine-tuning the top 20 layers 1,197,442.
    ImageNet weights: Keras'
    mobilenet_v2_weights_tf_dim_ordering_tf_kernels_1.0_224_no_top.h5 (one file per
    input size 96, 128, 160, 192, 224; other sizes take 224's), looked for in
    --data-dir, $MLPHYS_DATA_DIR, $KERAS_HOME/models, ~/.keras/models, then downloaded.
    """
    hp.Int("fine_tune", 0, 150, step=10, default=20)
    hp.Int("fine_tune_epochs", 0, 50, default=5)
    hp.Float("fine_tune_learning_rate", 1e-6, 1e-2, sampling="log", default=1e-5)
    return transfer_classifier(MOBILENET_V2, spec, name="mobilenet_v2",
                               weights=hp.Fixed("weights", "imagenet"),
                               input_size=hp.Int("input_size", 32, 1024, step=32,
                                                 default=224),
                               dropout=hp.Float("dropout", 0.0, 0.8, default=0.2))


@register_model("efficientnet_b0", task="classification", inputs="image", dataset="cracks",
                source=_SOURCE, epochs=5, family="backbone", search=_SEARCHED,
                fine_tune=fine_tuning)
def efficientnet_b0(hp, spec):
    """EfficientNetB0 (Tan and Le 2019) pretrained on ImageNet, with a new head (MLMM 7.6).

    Input: grey or RGB images in [0, 1] of any size, resized inside the model to
    input_size x input_size (default 224, at least 32); preprocessing: scaled to
    [0, 255], the network rescales and normalises inside (its preprocess_input is the
    identity). The keras-io fine-tuning example: dropout 0.2, top 20 layers unfrozen at
    1e-5. At 224x224x3 with 2 classes: 4,052,133 parameters; the head phase trains
    2,562, fine-tuning the top 20 layers 1,345,330.
    ImageNet weights: Keras' efficientnetb0_notop.h5, looked for in --data-dir,
    $MLPHYS_DATA_DIR, $KERAS_HOME/models, ~/.keras/models, then downloaded.
    """
    hp.Int("fine_tune", 0, 230, step=10, default=20)
    hp.Int("fine_tune_epochs", 0, 50, default=5)
    hp.Float("fine_tune_learning_rate", 1e-6, 1e-2, sampling="log", default=1e-5)
    return transfer_classifier(EFFICIENTNET_B0, spec, name="efficientnet_b0",
                               weights=hp.Fixed("weights", "imagenet"),
                               input_size=hp.Int("input_size", 32, 1024, step=32,
                                                 default=224),
                               dropout=hp.Float("dropout", 0.0, 0.8, default=0.2))


@register_model("resnet50", task="classification", inputs="image", dataset="cracks",
                source=_SOURCE, epochs=5, family="backbone", search=_SEARCHED,
                fine_tune=fine_tuning)
def resnet50(hp, spec):
    """ResNet50 (He et al. 2015) pretrained on ImageNet, with a new head (MLMM 7.6).

    Input: grey or RGB images in [0, 1] of any size, resized inside the model to
    input_size x input_size (default 224, at least 32); preprocessing: ResNet50's
    preprocess_input ("caffe": RGB to BGR, minus the ImageNet mean pixel). At 224x224x3
    with 2 classes: 23,591,810 parameters; the head phase trains 4,098, fine-tuning the
    top 20 layers 8,923,138.
    ImageNet weights: Keras' resnet50_weights_tf_dim_ordering_tf_kernels_notop.h5, looked
    for in --data-dir, $MLPHYS_DATA_DIR, $KERAS_HOME/models, ~/.keras/models, then
    downloaded.
    """
    hp.Int("fine_tune", 0, 170, step=10, default=20)
    hp.Int("fine_tune_epochs", 0, 50, default=5)
    hp.Float("fine_tune_learning_rate", 1e-6, 1e-2, sampling="log", default=1e-5)
    return transfer_classifier(RESNET50, spec, name="resnet50",
                               weights=hp.Fixed("weights", "imagenet"),
                               input_size=hp.Int("input_size", 32, 1024, step=32,
                                                 default=224),
                               dropout=hp.Float("dropout", 0.0, 0.8, default=0.2))


@register_model("efficientnet_v2_b0", task="classification", inputs="image",
                dataset="cracks", source=_SOURCE, epochs=5, family="backbone",
                search=_SEARCHED, fine_tune=fine_tuning)
def efficientnet_v2_b0(hp, spec):
    """EfficientNetV2-B0 (Tan and Le 2021) pretrained on ImageNet, a new head (MLMM 7.6).

    Input: grey or RGB images in [0, 1] of any size, resized inside the model to
    input_size x input_size (default 224, at least 32); preprocessing: scaled to
    [0, 255], the network rescales and normalises inside (its preprocess_input is the
    identity). At 224x224x3 with 2 classes: 5,921,874 parameters; the head phase
    trains 2,562, fine-tuning the top 20 layers 812,850.
    ImageNet weights: Keras' efficientnetv2-b0_notop.h5, looked for in --data-dir,
    $MLPHYS_DATA_DIR, $KERAS_HOME/models, ~/.keras/models, then downloaded.
    """
    hp.Int("fine_tune", 0, 270, step=10, default=20)
    hp.Int("fine_tune_epochs", 0, 50, default=5)
    hp.Float("fine_tune_learning_rate", 1e-6, 1e-2, sampling="log", default=1e-5)
    return transfer_classifier(EFFICIENTNET_V2_B0, spec, name="efficientnet_v2_b0",
                               weights=hp.Fixed("weights", "imagenet"),
                               input_size=hp.Int("input_size", 32, 1024, step=32,
                                                 default=224),
                               dropout=hp.Float("dropout", 0.0, 0.8, default=0.2))


# --- reproduction checks: the parameter counts above -------------------------------------

FROM_SCRATCH = {"weights": "none"}  # the same count as pretrained, nothing to download


@register_check("mobilenet_v2", "parameters at 224x224x3, K = 2", expected="2,260,546",
                quick=True)
def _mobilenet_v2_parameters(ctx):
    model = ctx.build_for("mobilenet_v2", (224, 224, 3), 2, params=FROM_SCRATCH)
    return equal(model.count_params(), 2_260_546)


@register_check("efficientnet_b0", "parameters at 224x224x3, K = 2", expected="4,052,133",
                quick=True)
def _efficientnet_b0_parameters(ctx):
    model = ctx.build_for("efficientnet_b0", (224, 224, 3), 2, params=FROM_SCRATCH)
    return equal(model.count_params(), 4_052_133)


@register_check("resnet50", "parameters at 224x224x3, K = 2", expected="23,591,810",
                quick=True)
def _resnet50_parameters(ctx):
    model = ctx.build_for("resnet50", (224, 224, 3), 2, params=FROM_SCRATCH)
    return equal(model.count_params(), 23_591_810)


@register_check("efficientnet_v2_b0", "parameters at 224x224x3, K = 2",
                expected="5,921,874", quick=True)
def _efficientnet_v2_b0_parameters(ctx):
    model = ctx.build_for("efficientnet_v2_b0", (224, 224, 3), 2, params=FROM_SCRATCH)
    return equal(model.count_params(), 5_921_874)
