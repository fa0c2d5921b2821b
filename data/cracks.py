"""Synthetic concrete surfaces with and without cracks, for `crack_cnn` (MLMM 7.15).

The course's assignment classifies 256x256 photographs of concrete (the "Positive" and
"Negative" folders of the METU concrete-crack set) read with `flow_from_directory`.
mlphys cannot ship those photographs, so it draws look-alikes: grey, grainy, blotchy RGB
textures with pores, half of them crossed by a dark, thin random-walk crack. They are
written once as PNG files into an image folder of the same layout,

    <data dir>/cracks-<hash of the options>/
        train/Negative/00001.png  train/Positive/00000.png  ...
        test/Negative/...         test/Positive/...
        masks.npz                 one boolean (size, size) crack mask per Positive file,
                                  keyed by its path in the folder ("test/Positive/00000.png")

and read back through the image-folder loader of `mlphys.data.files`, as a user's own
photographs would be. The images are 64x64 by default (the course's 256x256 costs 16
times the CPU time per epoch, and a crack is still a thin line at 64 pixels).
"""

import hashlib
import json
import os
import shutil
from dataclasses import replace

import numpy as np

from mlphys.data._images import resize_bilinear
from mlphys.datasets import data_dirs, register_dataset
from mlphys.errors import UserError

GENERATOR_VERSION = 2  # part of the folder's hash: a change of the drawing makes a new folder
CLASSES = ("Negative", "Positive")
STEP = 0.5  # pixels between the points of a random walk


def concrete_textures(rng, n, size):
    """(n, size, size, 3) grey concrete in [0, 1]: a base tone, blotches, grain and pores.

    tone ~ U(0.45, 0.7) with a small warm tint; blotches: three octaves of Gaussian noise on
    coarse grids (4, 8, 16 cells) resized bilinearly, amplitudes (0.08, 0.05, 0.03) x
    U(0.5, 1.5); grain N(0, 0.035) per pixel (+ N(0, 0.01) per channel); pores: pixels
    with probability 0.003 darkened by U(0.15, 0.4), spread over 2x2 pixels.
    """
    tone = rng.uniform(0.45, 0.7, (n, 1, 1, 1))
    tint = 1 + np.array([0.02, 0.0, -0.03]) + rng.uniform(-0.02, 0.02, (n, 1, 1, 3))
    blotchiness = rng.uniform(0.5, 1.5, (n, 1, 1))
    relief = np.zeros((n, size, size))
    for cells, amplitude in ((4, 0.08), (8, 0.05), (16, 0.03)):
        coarse = rng.normal(0, 1, (n, cells + 1, cells + 1))
        relief += amplitude * resize_bilinear(coarse, size, size)
    relief *= blotchiness
    grain = rng.normal(0, 0.035, (n, size, size, 1)) + rng.normal(0, 0.01, (n, size, size, 3))
    pores = (rng.random((n, size, size)) < 0.003) * rng.uniform(0.15, 0.4, (n, size, size))
    pores = np.maximum.reduce([pores, np.roll(pores, 1, 1), np.roll(pores, 1, 2),
                               np.roll(np.roll(pores, 1, 1), 1, 2)])
    surface = (tone + relief[..., None]) * tint + grain
    return np.clip(surface * (1 - pores[..., None]), 0, 1)


def _walk(rng, start, heading, n_points, wander):
    """Points (n, n_points, 2) of random walks of STEP pixels from `start` (n, 2), the
    heading (n,) turning by N(0, wander^2) radians at each step."""
    turns = rng.normal(0, wander, (len(start), n_points))
    turns[:, 0] = 0
    angle = heading[:, None] + np.cumsum(turns, axis=1)
    steps = STEP * np.stack([np.sin(angle), np.cos(angle)], axis=-1)  # (row, column)
    steps[:, 0] = 0
    return start[:, None, :] + np.cumsum(steps, axis=1)


def crack_masks(rng, n, size, max_width=2.0):
    """(n, size, size) boolean masks of random-walk cracks.

    A crack runs both ways from a point in the central half of the image, heading
    U(0, 2 pi), each way 0.75 size long (points leaving the image are dropped), turning
    by N(0, 0.1^2) rad per 0.5-pixel step; with probability 1/2 a branch of 0.35 size
    leaves a random point of it at +-U(0.4, 1.2) rad. A pixel belongs to the crack if a
    walk point lies in it or within width/2 of its centre, width ~ U(1, max_width) pixels
    (the branch 0.7 of it).
    """
    length = int(0.75 * size / STEP)
    start = rng.uniform(0.25 * size, 0.75 * size, (n, 2))
    heading = rng.uniform(0, 2 * np.pi, n)
    forward = _walk(rng, start, heading, length, 0.1)
    backward = _walk(rng, start, heading + np.pi, length, 0.1)
    fork = forward[np.arange(n), rng.integers(0, length, n)]
    side = rng.choice([-1.0, 1.0], n) * rng.uniform(0.4, 1.2, n)
    branch = _walk(rng, fork, heading + side, int(0.35 * size / STEP), 0.15)
    width = rng.uniform(1.0, max(max_width, 1.0), n)
    has_branch = rng.random(n) < 0.5
    points = np.concatenate([forward, backward, branch], axis=1)
    radius = np.concatenate([np.repeat(width[:, None] / 2, 2 * length, 1),
                             np.repeat(0.7 * width[:, None] / 2, branch.shape[1], 1)], 1)
    used = np.concatenate([np.ones((n, 2 * length), bool),
                           np.repeat(has_branch[:, None], branch.shape[1], 1)], 1)
    reach = int(np.ceil(max(max_width, 1.0) / 2))
    offsets = np.arange(-reach, reach + 1)
    masks = np.zeros((n, size, size), bool)
    cell = np.floor(points).astype(int)  # the pixel each point lies in
    image = np.repeat(np.arange(n)[:, None], points.shape[1], 1)
    for dr in offsets:
        for dc in offsets:
            row, col = cell[..., 0] + dr, cell[..., 1] + dc
            distance = np.hypot(row + 0.5 - points[..., 0], col + 0.5 - points[..., 1])
            inside = (row >= 0) & (row < size) & (col >= 0) & (col < size)
            hit = used & inside & (((dr == 0) & (dc == 0)) | (distance <= radius))
            masks[image[hit], row[hit], col[hit]] = True
    return masks


def draw_cracks(rng, surfaces, masks, contrast):
    """Surfaces darkened along the masks: a crack pixel keeps 1 - c of its brightness,
    c = contrast x U(0.7, 1) per image x U(0.8, 1) per pixel; its neighbours (3x3) are
    shaded by a quarter of that."""
    n = len(surfaces)
    depth = contrast * rng.uniform(0.7, 1.0, (n, 1, 1)) * rng.uniform(0.8, 1.0, masks.shape)
    m = masks.astype(float)
    padded = np.pad(m, ((0, 0), (1, 1), (1, 1)))
    size = m.shape[1]
    halo = sum(padded[:, 1 + dr:1 + dr + size, 1 + dc:1 + dc + size]
               for dr in (-1, 0, 1) for dc in (-1, 0, 1)) / 9
    shade = np.maximum(m, 0.25 * np.minimum(3 * halo, 1)) * depth
    return np.clip(surfaces * (1 - shade[..., None]), 0, 1)


def generate(n, size, max_width, contrast, rng):
    """(images uint8 (n, size, size, 3), labels (n,), masks (n, size, size)): half of the
    images (labels 1, in random order) cracked."""
    labels = rng.permutation(np.arange(n) % 2)
    surfaces = concrete_textures(rng, n, size)
    masks = np.zeros((n, size, size), bool)
    cracked = np.flatnonzero(labels == 1)
    masks[cracked] = crack_masks(rng, len(cracked), size, max_width)
    images = surfaces.copy()
    images[cracked] = draw_cracks(rng, surfaces[cracked], masks[cracked], contrast)
    return np.round(images * 255).astype(np.uint8), labels, masks


def write_folder(root, splits):
    """Write {split: (images, labels, masks)} as PNG files in class subfolders of `root`
    and the Positive files' masks into root/masks.npz."""
    from PIL import Image

    stored = {}
    for split, (images, labels, masks) in splits.items():
        for name in CLASSES:
            (root / split / name).mkdir(parents=True)
        for i, (image, label) in enumerate(zip(images, labels)):
            relative = f"{split}/{CLASSES[label]}/{i:05d}.png"
            Image.fromarray(image).save(root / relative, compress_level=1)
            if label == 1:
                stored[relative] = masks[i]
    np.savez_compressed(root / "masks.npz", **stored)


def load_masks(root):
    """{path in the folder: boolean crack mask (size, size)} of the Positive images."""
    with np.load(os.path.join(root, "masks.npz")) as stored:
        return {key: stored[key] for key in stored.files}


def folder_for(options, data_dir=None):
    """The image folder of these generator options (written or not)."""
    key = hashlib.sha256(json.dumps([GENERATOR_VERSION, options], sort_keys=True)
                         .encode()).hexdigest()[:16]
    return data_dirs(data_dir)[0] / f"cracks-{key}"


@register_dataset("cracks", task="classification", kind="image", shape="64x64x3",
                  source="MLMM 7.15 (assignment; synthetic stand-in for the photos)",
                  licence="generated",
                  formula="""
                  concrete: grey tone U(0.45,0.7) x warm tint + blotches (Gaussian noise on
                    4, 8, 16-cell grids, bilinear, amplitudes 0.08, 0.05, 0.03 x U(0.5,1.5))
                    + grain N(0,0.035) + 2x2 pores (p = 0.003, darkened U(0.15,0.4))
                  crack (label Positive, 50%): random walk of 0.5 px steps both ways from a
                    point in the central half, 0.75 size each way, heading turning by
                    N(0,0.1^2) rad per step; branch (p = 1/2) of 0.35 size; width
                    U(1, crack_width) px; pixel *= 1 - contrast x U(0.7,1) x U(0.8,1)
                  written once as PNGs in train|test/Negative|Positive, masks in masks.npz
                  """)
def cracks(size: int = 64, n_train: int = 2000, n_test: int = 400, crack_width: float = 2.0,
           contrast: float = 0.7, seed: int = 0, data_dir: str | None = None):
    """Concrete textures with (Positive) and without (Negative) thin dark cracks.

    An image folder written once into the data directory (cracks-<hash>/), read back by
    the image-folder loader; the crack masks lie beside it in masks.npz. size: image side
    in pixels; crack_width: the widest crack in pixels; contrast: how much darker a crack
    is than its surroundings (0..1).
    """
    if size < 16:
        raise UserError(f"--option size={size}: give images of at least 16 pixels")
    if n_train < 2 or n_test < 2:
        raise UserError(f"n_train={n_train}, n_test={n_test}: give at least 2 of each "
                        "(half of them are cracked)")
    if not 1.0 <= crack_width <= size / 4:
        raise UserError(f"--option crack_width={crack_width}: give a width in pixels "
                        f"between 1 and size/4 = {size / 4:g}")
    if not 0 < contrast <= 1:
        raise UserError(f"--option contrast={contrast}: give a darkening in (0, 1]")
    options = {"size": size, "n_train": n_train, "n_test": n_test,
               "crack_width": crack_width, "contrast": contrast, "seed": seed}
    root = folder_for(options, data_dir)
    if not root.is_dir():
        rng = np.random.default_rng(seed)
        splits = {"train": generate(n_train, size, crack_width, contrast, rng),
                  "test": generate(n_test, size, crack_width, contrast, rng)}
        partial = root.with_name(f".{root.name}-{os.getpid()}")
        shutil.rmtree(partial, ignore_errors=True)
        try:
            write_folder(partial, splits)
            os.replace(partial, root)  # the folder appears whole, or not at all
        except OSError as error:
            shutil.rmtree(partial, ignore_errors=True)
            if not root.is_dir():  # (a concurrent run may have written it first)
                raise UserError(f"cannot write the cracks image folder into {root.parent} "
                                f"({error}); give a writable --data-dir") from None
    from mlphys.data.files import image_folder

    dataset = image_folder(root, color="rgb", stream=False)
    return replace(dataset, name="cracks",
                   provenance={"generator": "cracks", **options, "folder": str(root),
                               "masks": str(root / "masks.npz"),
                               "classes": list(dataset.spec.class_names)})
