"""Image generators for the image-to-image and segmentation entries (ZOO.md section C).

- `circles`: one filled circle per image, the input and target of the autoencoder of
  MLP4P tutorial 4 ("Grand Autoencoder Challenge");
- `circles_to_squares`: five summed circles as input, the squares of the same size and
  place as target (MLP4P homework 5);
- `segshapes`: RGB scenes of random circles, squares and triangles on a noisy, shaded
  background with a per-pixel class mask, for the U-Net of MLMM 7.16.

All are vectorised NumPy, deterministic for a given seed, pixels on the grid
linspace(-1, 1, size) in both directions, and each gives its own validation split of
fresh images (`n_val`), so that training sees exactly `n_train` images.
"""

import numpy as np

from mlphys.data._checks import check_noise
from mlphys.datasets import Dataset, infer_spec, register_dataset
from mlphys.errors import UserError


def _check_sizes(n_train, n_val, n_test, size, smallest=4):
    if n_train < 1 or n_val < 0 or n_test < 1:
        raise UserError(f"n_train={n_train}, n_val={n_val}, n_test={n_test}: give "
                        "n_train >= 1, n_val >= 0 and n_test >= 1")
    if size < smallest:
        raise UserError(f"--option size={size}: images need at least {smallest} pixels a side")


def _grid(size):
    """Pixel coordinates (X, Y), each (size, size), on linspace(-1, 1, size); X varies
    along the columns, Y along the rows."""
    axis = np.linspace(-1.0, 1.0, size, dtype=np.float32)
    return np.meshgrid(axis, axis)


def _splits(name, spec, x, y, n_train, n_val, provenance):
    """A Dataset of the first n_train samples, the next n_val (validation) and the rest."""
    val = slice(n_train, n_train + n_val)
    test = slice(n_train + n_val, None)
    return Dataset(name, spec, x[:n_train], y[:n_train], x[test], y[test],
                   x_val=x[val], y_val=y[val], provenance=provenance)


# --- one circle: the autoencoder challenge ---------------------------------------------

@register_dataset("circles", cache=True, task="regression", kind="image", shape="27x27x1",
                  source="MLP4P tutorial 4", licence="generated",
                  formula="""
                  image(x, y) = 1 if (x - x0)^2 + (y - y0)^2 < R^2 else 0
                  x, y on linspace(-1, 1, size) (size 27), R ~ U(0, 1), x0, y0 ~ U(-1, 1)
                  target = input (an autoencoder reproduces its input)
                  """)
def circles(n_train: int = 15000, n_val: int = 1000, n_test: int = 1000, size: int = 27,
            seed: int = 0):
    """Images of one filled circle, target = input (the autoencoder of MLP4P tutorial 4).

    Binary pixels on linspace(-1, 1, size)^2; radius R ~ U(0, 1) and centre ~ U(-1, 1)^2,
    so circles are often cut by the border. Shapes (N, size, size, 1) float32, targets
    the same images. The default 15,000 training images are the course's 500 batches of
    30 fresh images.
    """
    _check_sizes(n_train, n_val, n_test, size)
    rng = np.random.default_rng(seed)
    n = n_train + n_val + n_test
    radius = rng.uniform(0, 1, n).astype(np.float32)
    x0, y0 = rng.uniform(-1, 1, (2, n)).astype(np.float32)
    gx, gy = _grid(size)
    inside = ((gx - x0[:, None, None]) ** 2 + (gy - y0[:, None, None]) ** 2
              < radius[:, None, None] ** 2)
    images = inside.astype(np.float32)[..., np.newaxis]
    spec = infer_spec(images, images, "regression")
    return _splits("circles", spec, images, images, n_train, n_val,
                   {"generator": "circles", "seed": seed, "size": size,
                    "grid": f"linspace(-1, 1, {size})"})


# --- circles to squares (MLP4P homework 5) ---------------------------------------------

@register_dataset("circles_to_squares", cache=True, task="regression", kind="image", shape="50x50x1",
                  source="MLP4P homework 5", licence="generated",
                  formula="""
                  input(x, y)  = sum_k [ (x - xk)^2 + (y - yk)^2 < Rk^2 ]
                  target(x, y) = sum_k [ |x - xk| < Rk and |y - yk| < Rk ]
                  k = 1..shapes (5), Rk ~ 0.5 U(0, 1), xk, yk ~ U(-1, 1),
                  x, y on linspace(-1, 1, size) (size 50); overlaps add up
                  """)
def circles_to_squares(n_train: int = 1000, n_val: int = 100, n_test: int = 500,
                       size: int = 50, shapes: int = 5, seed: int = 0):
    """Images of summed circles and, as target, the squares of the same size and place.

    MLP4P homework 5: `shapes` circles with R ~ 0.5 U(0, 1) and centres ~ U(-1, 1)^2 on
    linspace(-1, 1, size)^2; the target has a square |x - xk| < Rk, |y - yk| < Rk for each
    circle. Overlapping shapes add (pixels can exceed 1). Shapes (N, size, size, 1)
    float32 for both. The default 1,000 training images are the course's 100 batches of 10.
    """
    _check_sizes(n_train, n_val, n_test, size)
    if shapes < 1:
        raise UserError(f"--option shapes={shapes}: give at least one circle per image")
    rng = np.random.default_rng(seed)
    n = n_train + n_val + n_test
    radius = 0.5 * rng.uniform(0, 1, (n, shapes, 1, 1)).astype(np.float32)
    x0, y0 = rng.uniform(-1, 1, (2, n, shapes, 1, 1)).astype(np.float32)
    gx, gy = _grid(size)
    dx, dy = gx - x0, gy - y0                                     # (n, shapes, size, size)
    circle_images = (dx ** 2 + dy ** 2 < radius ** 2).sum(axis=1, dtype=np.float32)
    square_images = ((np.abs(dx) < radius) & (np.abs(dy) < radius)).sum(axis=1,
                                                                        dtype=np.float32)
    x, y = circle_images[..., np.newaxis], square_images[..., np.newaxis]
    spec = infer_spec(x, y, "regression")
    return _splits("circles_to_squares", spec, x, y, n_train, n_val,
                   {"generator": "circles_to_squares", "seed": seed, "size": size,
                    "shapes": shapes})


# --- segmentation scenes (MLMM 7.16) ---------------------------------------------------

SHAPE_TYPES = ("circle", "square", "triangle")
SEGSHAPES_CLASSES = ("foreground", "shape")


def _shape_mask(kind, cx, cy, radius, angle, gx, gy):
    """Masks (n, size, size) of one shape type per scene (kind 0 circle, 1 square,
    2 triangle); cx, cy, radius, angle are arrays of length n, gx, gy the pixel grid."""
    dx = gx - cx[:, None, None]
    dy = gy - cy[:, None, None]
    r = radius[:, None, None]
    if kind == 0:
        return dx * dx + dy * dy < r * r
    cos, sin = np.cos(angle)[:, None, None], np.sin(angle)[:, None, None]
    u, v = cos * dx + sin * dy, cos * dy - sin * dx                # rotated coordinates
    if kind == 1:  # half-side 0.8 r: about the area of the circle of radius r
        return (np.abs(u) < 0.8 * r) & (np.abs(v) < 0.8 * r)
    mask = np.ones(dx.shape, dtype=bool)  # equilateral: three edges at distance 0.65 r
    for edge in range(3):
        phi = np.pi / 3 + 2 * np.pi * edge / 3
        mask &= np.float32(np.cos(phi)) * u + np.float32(np.sin(phi)) * v < 0.65 * r
    return mask


def _scenes(rng, n, size, max_shapes, noise, per_type):
    """(images (n, size, size, 3) float32 in [0, 1], labels (n, size, size) uint8)."""
    gx, gy = _grid(size)
    colour = rng.uniform(0, 1, (n, 3)).astype(np.float32)            # background colour
    slope = rng.uniform(-0.1, 0.1, (n, 2, 3)).astype(np.float32)   # its shading
    count = rng.integers(1, max_shapes + 1, n)
    kind = rng.integers(0, len(SHAPE_TYPES), (max_shapes, n))
    cx, cy = rng.uniform(-0.7, 0.7, (2, max_shapes, n)).astype(np.float32)
    radius = rng.uniform(0.15, 0.4, (max_shapes, n)).astype(np.float32)
    angle = rng.uniform(0, 2 * np.pi, (max_shapes, n)).astype(np.float32)
    # every channel differs from the background by 0.3 to 0.7 (mod 1): always visible
    fill = np.mod(colour + rng.uniform(0.3, 0.7, (max_shapes, n, 3)), 1).astype(np.float32)
    owner = np.zeros((n, size, size), dtype=np.int8)  # 1 + the shape on top, 0 background
    for slot in range(max_shapes):  # loops over shapes and shape types, never over scenes
        for k in range(len(SHAPE_TYPES)):
            scenes = np.flatnonzero((kind[slot] == k) & (slot < count))
            if scenes.size:
                mask = _shape_mask(k, cx[slot, scenes], cy[slot, scenes],
                                   radius[slot, scenes], angle[slot, scenes], gx, gy)
                owner[scenes] = np.where(mask, np.int8(slot + 1), owner[scenes])
    on_top = np.maximum(owner.astype(np.intp) - 1, 0)
    scene = np.arange(n)[:, None, None]
    plane = np.stack([np.ones_like(gx), gx, gy], axis=-1)            # (size, size, 3)
    background = plane @ np.concatenate([colour[:, None], slope], axis=1)[:, None]
    images = np.where((owner > 0)[..., None], fill[on_top, scene], background)
    if noise > 0:
        images += np.float32(noise) * rng.standard_normal(images.shape, dtype=np.float32)
    labels = (owner > 0).astype(np.uint8)
    if per_type:
        labels *= (kind.T[scene, on_top] + 1).astype(np.uint8)
    return np.clip(images, 0, 1, out=images), labels


@register_dataset("segshapes", task="classification", kind="image", shape="128x128x3",
                  source="MLMM 7.16 (synthetic stand-in for its segmentation data)",
                  licence="generated", cache=True,
                  formula="""
                  scene: background colour c ~ U(0,1)^3 + linear shading (slopes ~ U(-0.1,0.1))
                  1..max_shapes shapes, each a circle, square or triangle (1/3 each),
                    centre ~ U(-0.7,0.7)^2, size r ~ U(0.15,0.4), angle ~ U(0,2 pi)
                    circle |p - c| < r; square |u|,|v| < 0.8 r (rotated);
                    equilateral triangle with inradius 0.65 r (rotated)
                    colour = (c + U(0.3,0.7)^3) mod 1; later shapes cover earlier ones
                  pixels + N(0, noise^2), clipped to [0,1]; grid linspace(-1,1,size)^2
                  label per pixel: 0 background, 1 shape (classes=foreground)
                    or 1 circle, 2 square, 3 triangle (classes=shape)
                  """)
def segshapes(n_train: int = 1000, n_val: int = 100, n_test: int = 200, size: int = 128,
              max_shapes: int = 4, noise: float = 0.1, classes: str = "foreground",
              seed: int = 0):
    """RGB scenes of random shapes on a noisy background, with a per-pixel class mask.

    The segmentation data for the U-Net of MLMM 7.16 (the course segments photographs;
    these scenes have an exact ground truth). Each scene has 1 to `max_shapes` circles,
    squares and triangles of random size, place, rotation and colour on a shaded
    background; `noise` is the standard deviation of the Gaussian pixel noise. Images
    (N, size, size, 3) float32 in [0, 1]; labels (N, size, size) integers: with
    `classes=foreground` 0 background / 1 shape (K = 2), with `classes=shape`
    0 background / 1 circle / 2 square / 3 triangle (K = 4).
    """
    _check_sizes(n_train, n_val, n_test, size, smallest=8)
    if classes not in SEGSHAPES_CLASSES:
        raise UserError(f"--option classes={classes}: choose foreground (K = 2) or shape "
                        "(K = 4: background, circle, square, triangle)")
    if max_shapes < 1:
        raise UserError(f"--option max_shapes={max_shapes}: give at least 1 shape a scene")
    check_noise(noise)
    rng = np.random.default_rng(seed)
    n = n_train + n_val + n_test
    chunk = max(1, 2 ** 22 // (size * size))  # bounded memory: ~4M pixels at a time
    parts = [_scenes(rng, min(chunk, n - start), size, max_shapes, noise,
                     classes == "shape") for start in range(0, n, chunk)]
    images = np.concatenate([p[0] for p in parts])
    labels = np.concatenate([p[1] for p in parts])
    names = ("background", "shape") if classes == "foreground" else (
        ("background",) + SHAPE_TYPES)
    spec = infer_spec(images, labels, "classification", class_names=names)
    return _splits("segshapes", spec, images, labels, n_train, n_val,
                   {"generator": "segshapes", "seed": seed, "size": size,
                    "max_shapes": max_shapes, "noise": noise, "classes": classes})
