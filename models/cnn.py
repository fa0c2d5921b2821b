"""Convolutional classifiers."""

import numpy as np

from mlphys.errors import UserError
from mlphys.registry import register_model
from mlphys.reproduce import Outcome, at_least, close_to, equal, register_check
from mlphys.models._heads import output_layer


# The README's main job, `mlphys train cnn --dataset digits`: the course's augmentation
# (MLMM 7.14.5) at a digit's scale, the `digits` preset (Keras layers: a third of the
# generator's CPU time), and a cosine learning rate over 30 epochs (from the cnn's 3e-3)
DIGITS_TRAINING = {"augment": "digits", "augment_engine": "layers", "epochs": 30,
                   "lr_schedule": "cosine"}


@register_model("cnn", task="classification", inputs="image", dataset="digits",
                source="MLMM 7.14.5", epochs=20,
                dataset_defaults={"digits": DIGITS_TRAINING})
def cnn(hp, spec):
    """Two conv blocks and a dense head: the augmentation example of MLMM 7.14.5.

    Conv2D(32, 3, relu) -> MaxPool(2) -> Conv2D(64, 3, relu) -> MaxPool(2) -> Dropout(0.25)
    -> Flatten -> Dense(128, relu) -> Dropout(0.5) -> Dense(K, softmax): 225,034 parameters
    on 28x28x1 images with 10 classes. Any image shape large enough for two 3x3
    convolutions and two poolings (at least 10x10) works. On `digits` it trains, unless
    told otherwise, with the `digits` augmentation preset (standardised pixels,
    rotations of 10 degrees, shifts and zooms of 10 %, no flips; Keras layers) and a
    cosine learning rate from Adam's 3e-3 over 30 epochs; `--augment none --lr-schedule
    constant --epochs 20 -p learning_rate=1e-3` is the course's plain training.
    """
    import keras
    from keras import layers

    filters = hp.Int("filters", 8, 128, step=8, default=32)
    kernel_size = hp.Choice("kernel_size", [3, 5], default=3)
    dense_units = hp.Int("dense_units", 16, 512, step=16, default=128)
    conv_dropout = hp.Float("conv_dropout", 0.0, 0.7, default=0.25)
    dense_dropout = hp.Float("dense_dropout", 0.0, 0.7, default=0.5)
    # Adam's rate (compiled by the engine): 3e-3, with the cosine decay on digits; the
    # course's Keras default 1e-3 is `-p learning_rate=1e-3`
    hp.Float("learning_rate", 1e-5, 1.0, sampling="log", default=3e-3)

    side = min(spec.input_shape[:2])
    if ((side - kernel_size + 1) // 2 - kernel_size + 1) // 2 < 1:
        raise UserError(f"cnn: images of {side} pixels are too small for two {kernel_size}x"
                        f"{kernel_size} convolutions and two 2x2 poolings; use larger images "
                        "(e.g. --option size=28 for digits)")

    inputs = keras.Input(shape=spec.input_shape, name="image")
    x = layers.Conv2D(filters, kernel_size, activation="relu", name="conv_1")(inputs)
    x = layers.MaxPooling2D(2, name="pool_1")(x)
    x = layers.Conv2D(2 * filters, kernel_size, activation="relu", name="conv_2")(x)
    x = layers.MaxPooling2D(2, name="pool_2")(x)
    x = layers.Dropout(conv_dropout, name="conv_dropout")(x)
    x = layers.Flatten(name="flatten")(x)
    x = layers.Dense(dense_units, activation="relu", name="dense")(x)
    x = layers.Dropout(dense_dropout, name="dense_dropout")(x)
    outputs = output_layer(spec)(x)
    return keras.Model(inputs, outputs, name="cnn")


@register_check("cnn", "parameters at 28x28x1, K = 10", expected="225,034", quick=True)
def _cnn_parameters(ctx):
    return equal(ctx.build_for("cnn", (28, 28, 1), 10).count_params(), 225_034)


COURSE_TRAINING = {"augment": "none", "lr_schedule": "constant", "epochs": 20,
                   "params": {"learning_rate": 1e-3}}


@register_check("cnn", "digits test accuracy (20 epochs, seed 2)", expected=">= 0.97")
def _cnn_digits(ctx):
    return at_least(ctx.train("cnn", "digits", seed=2, **COURSE_TRAINING)
                    .metrics["accuracy"], 0.97)


def svc_accuracies(ctx):
    """(accuracy, seconds) of scikit-learn's `SVC()` (its defaults: RBF kernel, C = 1,
    gamma "scale") on the digits' test split, trained on the whole training split
    (1,438 images), on the cnn's 28x28 inputs and on the 8x8 originals."""
    import time

    from sklearn.svm import SVC

    results = {}
    for size in (28, 8):
        data = ctx.load("digits", {"size": size}, val_split=0.0)
        started = time.perf_counter()
        svc = SVC().fit(data.x_train.reshape(len(data.x_train), -1), data.y_train)
        accuracy = float(np.mean(svc.predict(data.x_test.reshape(len(data.x_test), -1))
                                 == data.y_test))
        results[size] = (accuracy, time.perf_counter() - started)
    return results


@register_check("cnn", "scikit-learn SVC() on the digits split: 28x28 / 8x8 inputs (what "
                "the main job is compared with)", expected="0.9777 / 0.9805", quick=True)
def _cnn_svc(ctx):
    results = svc_accuracies(ctx)
    return close_to([results[28][0], results[8][0]], [351 / 359, 352 / 359], atol=1e-9,
                    digits=4)


@register_check("cnn", "the README's main job, mlphys train cnn --dataset digits "
                "(digits augmentation, cosine lr from 3e-3, 30 epochs), seeds 1, 2, 3, vs "
                "SVC()",
                expected=">= 0.983 and >= the SVC's, every seed")
def _cnn_main_job(ctx):
    best_svc = max(accuracy for accuracy, _ in svc_accuracies(ctx).values())
    texts, passed = [], True
    for seed in (1, 2, 3):
        run = ctx.train("cnn", "digits", seed=seed)
        accuracy = run.metrics["accuracy"]
        passed = passed and accuracy >= max(0.983, best_svc)
        texts.append(f"{accuracy:.4f} ({run.result.config.state.train_seconds:.0f} s)")
    return Outcome(f"{', '.join(texts)}; SVC {best_svc:.4f}", passed)
