"""Squares and 45-degree rotated squares: the images of the MLP4P homework 6 autoencoder
(the Grand Autoencoder Challenge's t-SNE of a 9-neuron bottleneck)."""

import numpy as np

from mlphys.data._checks import check_sizes
from mlphys.datasets import Dataset, infer_spec, register_dataset
from mlphys.errors import UserError


@register_dataset("rotated_squares", cache=True, task="classification", kind="image", shape="27x27x1",
                  source="MLP4P homework 6", licence="generated",
                  formula="""
                  pixels on linspace(-1, 1, size)^2, dx = x - x0, dy = y - y0
                  square (class 0):          |dx| < R  and  |dy| < R
                  rotated by 45 deg (class 1): |dx| + |dy| < sqrt(2) R   (same area)
                  R ~ U(0.3, 0.7), centre (x0, y0) ~ U(-0.4, 0.4)^2, classes 50/50
                  """)
def rotated_squares(n_train: int = 4000, n_test: int = 4000, size: int = 27, seed: int = 0):
    """Filled squares (0) and squares rotated by 45 degrees (1), binary images.

    The labels are the classes; an autoencoder (`tsne_latent`) trains on the images alone
    and the labels colour its latent space (`mlphys embed`).
    """
    check_sizes(n_train, n_test)
    if size < 3:
        raise UserError(f"--option size={size}: give an image size >= 3")
    rng = np.random.default_rng(seed)
    n = n_train + n_test
    grid = np.linspace(-1, 1, size)
    gx, gy = np.meshgrid(grid, grid)
    radius = rng.uniform(0.3, 0.7, (n, 1, 1))
    x0 = rng.uniform(-0.4, 0.4, (n, 1, 1))
    y0 = rng.uniform(-0.4, 0.4, (n, 1, 1))
    label = rng.integers(0, 2, n)
    dx, dy = np.abs(gx[None] - x0), np.abs(gy[None] - y0)
    square = (dx < radius) & (dy < radius)
    diamond = dx + dy < np.sqrt(2) * radius
    images = np.where(label[:, None, None] == 0, square, diamond).astype(np.float32)
    images = images[..., np.newaxis]
    spec = infer_spec(images, label, "classification", class_names=("square", "rotated"))
    return Dataset("rotated_squares", spec, images[:n_train], label[:n_train],
                   images[n_train:], label[n_train:],
                   provenance={"generator": "rotated_squares", "seed": seed, "size": size})
