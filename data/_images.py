"""Small image helpers shared by the loaders (NumPy only)."""

import numpy as np


def interpolation_matrix(n_in, n_out):
    """The (n_out, n_in) matrix of linear interpolation with pixel centres aligned
    (`half_pixel_centers`, as in PIL and `tf.image.resize(method="bilinear")`)."""
    centres = (np.arange(n_out) + 0.5) * n_in / n_out - 0.5
    centres = np.clip(centres, 0, n_in - 1)
    left = np.floor(centres).astype(int)
    right = np.minimum(left + 1, n_in - 1)
    frac = centres - left
    matrix = np.zeros((n_out, n_in))
    matrix[np.arange(n_out), left] += 1 - frac
    matrix[np.arange(n_out), right] += frac
    return matrix


def resize_bilinear(images, height, width):
    """Resize images (N, H, W) or (N, H, W, C) bilinearly to (height, width)."""
    rows = interpolation_matrix(images.shape[1], height)
    cols = interpolation_matrix(images.shape[2], width)
    if images.ndim == 3:
        return np.einsum("ih,nhw,jw->nij", rows, images, cols).astype(np.float32)
    return np.einsum("ih,nhwc,jw->nijc", rows, images, cols).astype(np.float32)


def as_unit_images(images):
    """uint8 pixels (N, H, W[, C]) as float32 in [0, 1] with a channel axis."""
    images = np.asarray(images)
    scaled = images.astype(np.float32)
    if images.dtype == np.uint8:
        scaled /= 255.0
    if scaled.ndim == 3:
        scaled = scaled[..., np.newaxis]
    return scaled
