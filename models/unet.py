"""The U-Net of MLMM 7.16 for image segmentation, with selectable losses."""

from mlphys.errors import UserError
from mlphys.registry import register_keras_objects, register_model
from mlphys.reproduce import all_of, at_least, equal, register_check

# the Dice, IoU and focal losses, imported by the builder (importing the zoo loads no Keras)
register_keras_objects("mlphys.models._losses")


def _segmentation_loss(name, alpha, gamma):
    if name == "crossentropy":
        return "sparse_categorical_crossentropy"
    from mlphys.models._losses import SEGMENTATION_LOSSES

    loss = SEGMENTATION_LOSSES[name]
    return loss(alpha=alpha, gamma=gamma) if name == "focal" else loss()


@register_model("unet", task="classification", inputs="image", dataset="segshapes",
                source="MLMM 7.16", epochs=15, batch_size=16, compiles=True,
                search=("activation", "loss", "learning_rate"))
def unet(hp, spec):
    """Xception-style U-Net with additive residual shortcuts (MLMM 7.16).

    The keras-io example "Image segmentation with a U-Net-like architecture" the course
    uses, layer for layer:
      entry:   Conv2D(32, 3, strides 2, same) -> BN -> act
      encoder: for 64, 128, 256 filters: (act -> SeparableConv2D(f, 3, same) -> BN) x 2
               -> MaxPool(3, strides 2, same), + Conv2D(f, 1, strides 2) of the block's input
      decoder: for 256, 128, 64, 32 filters: (act -> Conv2DTranspose(f, 3, same) -> BN) x 2
               -> UpSampling(2), + Conv2D(f, 1) of the upsampled block input
      head:    Conv2D(K, 3, softmax, same): class probabilities per pixel
    2,058,690 parameters (3,776 non-trainable, the BN statistics) at 256x256x3 with K = 2;
    the count does not depend on the image size. Height and width must be multiples of 16
    (one strided entry, three poolings, four upsamplings). The activation is a
    hyperparameter (course: selu; keras-io: relu). `loss` chooses the training loss:
    sparse categorical cross-entropy, soft Dice, soft IoU (Jaccard) or focal (with `alpha`
    weighing the foreground classes and `gamma` the focusing exponent; both used by focal
    only). `bn_momentum` is the momentum of the batch-normalisation statistics used at
    inference (Keras' 0.99 by default; 0.9 lets a short training of a few hundred steps
    predict well). Metrics: pixel accuracy and the mean IoU of the classes (`iou`).
    """
    import keras
    from keras import layers

    activation = hp.Choice("activation", ["selu", "relu", "elu", "gelu", "swish"],
                           default="selu")
    loss = hp.Choice("loss", ["crossentropy", "dice", "iou", "focal"], default="crossentropy")
    alpha = hp.Float("alpha", 0.0, 1.0, default=0.25)
    gamma = hp.Float("gamma", 0.0, 5.0, default=2.0)
    momentum = hp.Float("bn_momentum", 0.0, 0.999, default=0.99)  # Keras' default
    optimizer = hp.Choice("optimizer", ["adam", "rmsprop", "sgd"], default="adam")
    learning_rate = hp.Float("learning_rate", 1e-5, 1.0, sampling="log", default=1e-3)

    if len(spec.target_shape) < 2:
        raise UserError("unet predicts a class for every pixel: it needs a dataset with "
                        "per-pixel labels (N, H, W), e.g. segshapes")
    height, width = spec.input_shape[:2]
    if height % 16 or width % 16:
        raise UserError(f"unet: images of {height}x{width} pixels do not fit; height and "
                        "width must be multiples of 16 (e.g. --option size=64 for segshapes)")
    classes = spec.num_outputs

    inputs = keras.Input(shape=spec.input_shape, name="image")
    x = layers.Conv2D(32, 3, strides=2, padding="same", name="entry_conv")(inputs)
    x = layers.BatchNormalization(momentum=momentum, name="entry_bn")(x)
    x = layers.Activation(activation, name="entry_act")(x)
    previous = x  # the input of the block, for its residual shortcut

    for filters in (64, 128, 256):  # encoder: halve the size, more features
        block = f"down_{filters}"
        for i in (1, 2):
            x = layers.Activation(activation, name=f"{block}_act_{i}")(x)
            x = layers.SeparableConv2D(filters, 3, padding="same", name=f"{block}_conv_{i}")(x)
            x = layers.BatchNormalization(momentum=momentum, name=f"{block}_bn_{i}")(x)
        x = layers.MaxPooling2D(3, strides=2, padding="same", name=f"{block}_pool")(x)
        residual = layers.Conv2D(filters, 1, strides=2, padding="same",
                                 name=f"{block}_residual")(previous)
        x = layers.add([x, residual], name=f"{block}_add")
        previous = x

    for filters in (256, 128, 64, 32):  # decoder: double the size, fewer features
        block = f"up_{filters}"
        for i in (1, 2):
            x = layers.Activation(activation, name=f"{block}_act_{i}")(x)
            x = layers.Conv2DTranspose(filters, 3, padding="same", name=f"{block}_conv_{i}")(x)
            x = layers.BatchNormalization(momentum=momentum, name=f"{block}_bn_{i}")(x)
        x = layers.UpSampling2D(2, name=f"{block}_upsample")(x)
        residual = layers.UpSampling2D(2, name=f"{block}_residual_upsample")(previous)
        residual = layers.Conv2D(filters, 1, padding="same", name=f"{block}_residual")(residual)
        x = layers.add([x, residual], name=f"{block}_add")
        previous = x

    outputs = layers.Conv2D(classes, 3, activation="softmax", padding="same",
                            name="class_probabilities", dtype="float32")(x)
    model = keras.Model(inputs, outputs, name="unet")
    model.compile(
        optimizer=keras.optimizers.get({"class_name": optimizer,
                                        "config": {"learning_rate": learning_rate}}),
        loss=_segmentation_loss(loss, alpha, gamma),
        metrics=["accuracy", keras.metrics.MeanIoU(classes, sparse_y_pred=False, name="iou")])
    return model


# --- reproduction checks (ZOO.md section C) --------------------------------------------

@register_check("unet", "parameters at 256x256x3, K = 2 (total; non-trainable)",
                expected="2,058,690; 3,776", quick=True)
def _unet_parameters(ctx):
    import numpy as np

    model = ctx.build_for("unet", (256, 256, 3), 2, target_shape=(256, 256))
    frozen = int(sum(np.prod(w.shape) for w in model.non_trainable_weights))
    return all_of(equal(model.count_params(), 2_058_690), equal(frozen, 3_776))


@register_check("unet", "segshapes 32x32, 2 epochs of 400 scenes (BN momentum 0.9): "
                "mean IoU (all-background: 0.45)", expected=">= 0.5", quick=True)
def _unet_quick(ctx):
    run = ctx.train("unet", "segshapes", params={"bn_momentum": 0.9}, epochs=2, batch_size=8,
                    options={"size": 32, "n_train": 400, "n_val": 50, "n_test": 100})
    return at_least(run.metrics["mean_iou"], 0.5)


@register_check("unet", "segshapes 64x64, 12 epochs of 1,000 scenes (BN momentum 0.9): "
                "mean IoU", expected=">= 0.8")
def _unet_segshapes(ctx):
    run = ctx.train("unet", "segshapes", params={"bn_momentum": 0.9}, epochs=12,
                    batch_size=16,
                    options={"size": 64, "n_train": 1000, "n_val": 100, "n_test": 200})
    return at_least(run.metrics["mean_iou"], 0.8)
