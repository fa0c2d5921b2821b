"""Segmentation losses of MLMM 7.16: soft Dice, soft IoU (Jaccard) and focal loss.

Keras losses on per-pixel class probabilities y_pred (N, H, W, K) (a softmax output) and
labels y_true either integer (N, H, W) / (N, H, W, 1) or one-hot (N, H, W, K). Each
returns one value per image, so Keras' sample weights and reductions apply as usual:

- Dice:  1 - mean_k (2 sum_pix p_k t_k + s) / (sum_pix p_k + sum_pix t_k + s)
- IoU:   1 - mean_k (sum_pix p_k t_k + s) / (sum_pix (p_k + t_k - p_k t_k) + s)
  (the "soft" Jaccard index, with products of probabilities for the intersection)
- focal: mean_pix -alpha_t (1 - p_t)^gamma log p_t (Lin et al. 2017), with p_t the
  probability of the true class and alpha_t = alpha for foreground pixels (class > 0),
  1 - alpha for background (class 0); gamma = 0, alpha = 0.5 is half the cross-entropy.

s is a smoothing count (1 pixel) that keeps empty classes finite. `SEGMENTATION_LOSSES`
maps the names of unet's `loss` hyperparameter to the classes.

This module imports Keras at its top: mlphys.models.unet imports it inside its builder
only, and declares it with `register_keras_objects` so that
`mlphys.registry.define_keras_objects` imports it before a saved run is reopened. The
losses keep the registered names "mlphys>DiceLoss", "mlphys>IoULoss" and
"mlphys>FocalLoss" of earlier releases, so their run folders reopen.
"""

import keras
from keras import ops


def one_hot_labels(y_true, y_pred):
    """Labels as one-hot (N, H, W, K) float, whatever form they come in."""
    classes = y_pred.shape[-1]
    if len(y_true.shape) == len(y_pred.shape) and y_true.shape[-1] == classes \
            and classes != 1:
        return ops.cast(y_true, y_pred.dtype)
    if len(y_true.shape) == len(y_pred.shape):  # (N, H, W, 1) integer labels
        y_true = ops.squeeze(y_true, axis=-1)
    return ops.one_hot(ops.cast(y_true, "int32"), classes, dtype=y_pred.dtype)


def pixel_axes(y_pred):
    return tuple(range(1, len(y_pred.shape) - 1))


class _OverlapLoss(keras.losses.Loss):
    """1 - the mean over classes of a soft overlap score, one value per image."""

    def __init__(self, smooth=1.0, name=None, reduction="sum_over_batch_size",
                 dtype=None):
        super().__init__(name=name, reduction=reduction, dtype=dtype)
        self.smooth = float(smooth)

    def call(self, y_true, y_pred):
        y_pred = ops.convert_to_tensor(y_pred)
        truth = one_hot_labels(y_true, y_pred)
        axes = pixel_axes(y_pred)
        overlap = ops.sum(truth * y_pred, axis=axes)                  # (N, K)
        total = ops.sum(truth, axis=axes) + ops.sum(y_pred, axis=axes)
        return 1.0 - ops.mean(self.score(overlap, total), axis=-1)

    def get_config(self):
        return {**super().get_config(), "smooth": self.smooth}


@keras.saving.register_keras_serializable(package="mlphys")
class DiceLoss(_OverlapLoss):
    """Soft Dice loss 1 - mean_k (2|P.T| + s) / (|P| + |T| + s) (MLMM 7.16)."""

    def __init__(self, smooth=1.0, name="dice", **kwargs):
        super().__init__(smooth, name=name, **kwargs)

    def score(self, overlap, total):
        return (2.0 * overlap + self.smooth) / (total + self.smooth)


@keras.saving.register_keras_serializable(package="mlphys")
class IoULoss(_OverlapLoss):
    """Soft IoU (Jaccard) loss 1 - mean_k (|P.T| + s) / (|P| + |T| - |P.T| + s)."""

    def __init__(self, smooth=1.0, name="iou", **kwargs):
        super().__init__(smooth, name=name, **kwargs)

    def score(self, overlap, total):
        return (overlap + self.smooth) / (total - overlap + self.smooth)


@keras.saving.register_keras_serializable(package="mlphys")
class FocalLoss(keras.losses.Loss):
    """Focal loss -alpha_t (1 - p_t)^gamma log p_t, averaged over the pixels of an
    image (Lin et al. 2017; MLMM 7.16); alpha weighs the foreground (class > 0)."""

    def __init__(self, alpha=0.25, gamma=2.0, name="focal",
                 reduction="sum_over_batch_size", dtype=None):
        super().__init__(name=name, reduction=reduction, dtype=dtype)
        self.alpha, self.gamma = float(alpha), float(gamma)

    def call(self, y_true, y_pred):
        y_pred = ops.convert_to_tensor(y_pred)
        truth = one_hot_labels(y_true, y_pred)
        p_true = ops.clip(ops.sum(truth * y_pred, axis=-1), 1e-7, 1.0)  # (N, H, W)
        background = truth[..., 0]
        alpha = self.alpha * (1.0 - background) + (1.0 - self.alpha) * background
        focal = -alpha * ops.power(1.0 - p_true, self.gamma) * ops.log(p_true)
        return ops.mean(focal, axis=pixel_axes(y_pred))

    def get_config(self):
        return {**super().get_config(), "alpha": self.alpha, "gamma": self.gamma}


SEGMENTATION_LOSSES = {"dice": DiceLoss, "iou": IoULoss, "focal": FocalLoss}
