"""Generators with known ground truth from the courses: deterministic for a given seed.

Each draws `n_train + n_test` samples from one `numpy.random.default_rng(seed)`.
"""

import numpy as np

from mlphys.data._checks import check_noise, check_sizes
from mlphys.datasets import Dataset, infer_spec, register_dataset


def _dataset(name, x, y, n_train, spec, provenance):
    return Dataset(name, spec, x[:n_train], y[:n_train], x[n_train:], y[n_train:],
                   provenance=provenance)


@register_dataset("blobs", cache=True, task="binary", kind="vector", shape="2",
                  source="IDAML (two Gaussian blobs)", licence="generated",
                  formula="""
                  y ~ Bernoulli(1/2); x = mu_y + N(0, 1) per coordinate,
                  mu_0 = (-1, -1), mu_1 = (1, 1); Bayes boundary x1 + x2 = 0 (accuracy 0.921)
                  """)
def blobs(n_train: int = 1000, n_test: int = 500, seed: int = 0):
    """Two 2-D Gaussians of unit width around (-1, -1) (label 0) and (1, 1) (label 1).

    x ~ N(mu_y, 1) per coordinate, y ~ Bernoulli(1/2). The Bayes-optimal boundary is the
    line x1 + x2 = 0, with accuracy Phi(sqrt 2) = 0.921.
    """
    check_sizes(n_train, n_test)
    rng = np.random.default_rng(seed)
    n = n_train + n_test
    y = rng.integers(0, 2, n)
    means = np.where(y[:, None] == 1, 1.0, -1.0)
    x = (means + rng.normal(size=(n, 2))).astype(np.float32)
    spec = infer_spec(x, y, "binary", class_names=("blob (-1,-1)", "blob (1,1)"))
    return _dataset("blobs", x, y, n_train, spec, {"generator": "blobs", "seed": seed})


@register_dataset("gauss_lorentz", cache=True, task="classification", kind="vector", shape="100",
                  source="MLP4P homework 4", licence="generated",
                  formula="""
                  x = linspace(-1, 1, points); R ~ U(0,1), A ~ U(0,1), x0 ~ U(-1,1)
                  Gaussian (label 0, p = 1/2):   f(x) = A exp(-((x - x0)/R)^2)
                  Lorentzian (label 1, p = 1/2): f(x) = A / (((x - x0)/R)^2 + 1)
                  """)
def gauss_lorentz(n_train: int = 20000, n_test: int = 2000, points: int = 100,
                  seed: int = 0):
    """Noiseless curves on x = linspace(-1, 1, points): a Gaussian (0) or a Lorentzian (1).

    Gaussian A exp(-((x - x0)/R)^2), Lorentzian A / (((x - x0)/R)^2 + 1), 50/50, with
    width R ~ U(0, 1), amplitude A ~ U(0, 1) and centre x0 ~ U(-1, 1).
    """
    check_sizes(n_train, n_test)
    rng = np.random.default_rng(seed)
    n = n_train + n_test
    x = np.linspace(-1, 1, points)
    width = rng.uniform(0, 1, (n, 1))
    amplitude = rng.uniform(0, 1, (n, 1))
    centre = rng.uniform(-1, 1, (n, 1))
    y = rng.integers(0, 2, n)
    u = ((x[None, :] - centre) / width) ** 2
    curves = np.where(y[:, None] == 0, amplitude * np.exp(-u), amplitude / (u + 1))
    curves = curves.astype(np.float32)
    spec = infer_spec(curves, y, "classification", class_names=("gaussian", "lorentzian"))
    return _dataset("gauss_lorentz", curves, y, n_train, spec,
                    {"generator": "gauss_lorentz", "seed": seed, "x": "linspace(-1, 1, %d)" % points})


@register_dataset("shapes", cache=True, task="classification", kind="image", shape="20x20x1",
                  source="MLP4P homework 4", licence="generated",
                  formula="""
                  pixels (x, y) on linspace(-1, 1, size)^2; R ~ U(0.2,1), x0, y0 ~ U(-0.8,0.8)
                  circle (label 0, p = 1/2): 1 where (x - x0)^2 + (y - y0)^2 < R^2, else 0
                  square (label 1, p = 1/2): 1 where |x - x0| < R and |y - y0| < R, else 0
                  + N(0, noise^2) on every pixel
                  """)
def shapes(n_train: int = 20000, n_test: int = 2000, size: int = 20, noise: float = 0.0,
           seed: int = 0):
    """Binary images of one filled circle (0) or square (1) on linspace(-1, 1, size)^2.

    Circle (x-x0)^2 + (y-y0)^2 < R^2, square |x-x0| < R and |y-y0| < R, 50/50, with
    R ~ U(0.2, 1) and centre ~ U(-0.8, 0.8); `noise` adds N(0, noise^2) to every pixel.
    """
    check_sizes(n_train, n_test)
    check_noise(noise)
    rng = np.random.default_rng(seed)
    n = n_train + n_test
    grid = np.linspace(-1, 1, size)
    gx, gy = np.meshgrid(grid, grid)
    radius = rng.uniform(0.2, 1, (n, 1, 1))
    x0 = rng.uniform(-0.8, 0.8, (n, 1, 1))
    y0 = rng.uniform(-0.8, 0.8, (n, 1, 1))
    label = rng.integers(0, 2, n)
    dx, dy = gx[None] - x0, gy[None] - y0
    circle = dx ** 2 + dy ** 2 < radius ** 2
    square = (np.abs(dx) < radius) & (np.abs(dy) < radius)
    images = np.where(label[:, None, None] == 0, circle, square).astype(np.float32)
    if noise > 0:
        images += rng.normal(0, noise, images.shape).astype(np.float32)
    images = images[..., np.newaxis]
    spec = infer_spec(images, label, "classification", class_names=("circle", "square"))
    return _dataset("shapes", images, label, n_train, spec,
                    {"generator": "shapes", "seed": seed, "noise": noise})
