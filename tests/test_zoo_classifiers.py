"""The classifiers `gauss_lorentz`, `shapes` (MLP4P homework 4) and `crack_cnn` (MLMM 7.15)
with their generators."""

import os

import numpy as np
import pytest

from conftest import assert_user_error

TINY_CRACKS = ("-o", "size=32", "-o", "n_train=40", "-o", "n_test=10")


def test_crack_cnn_refuses_vector_data_naming_the_datasets_that_fit(run_cli, tmp_path):
    result = run_cli("train", "crack_cnn", "-d", "iris", "--out", tmp_path)
    assert_user_error(result, "crack_cnn", "iris", "datasets that fit:", "cracks")


@pytest.mark.parametrize("dataset, option, fragment", [
    ("shapes", "noise=-0.3", "noise=-0.3"),
    ("cracks", "contrast=1.5", "contrast=1.5"),
    ("cracks", "crack_width=0.5", "crack_width=0.5"),
])
def test_generator_options_out_of_range(run_cli, tmp_path, dataset, option, fragment):
    model = "crack_cnn" if dataset == "cracks" else "shapes"
    result = run_cli("train", model, "-d", dataset, "-o", option, "--out", tmp_path,
                     "--data-dir", tmp_path)
    assert_user_error(result, fragment)


def test_crack_cnn_refuses_images_too_small(run_cli, tmp_path):
    result = run_cli("train", "crack_cnn", "-d", "shapes", "--out", tmp_path)
    assert_user_error(result, "too small", "22x22")


# --- the generators ----------------------------------------------------------------------

def test_gauss_lorentz_curves_have_their_tails():
    from mlphys.data.generators import gauss_lorentz

    data = gauss_lorentz(n_train=400, n_test=100, points=2001)
    curves, labels = data.x_train, data.y_train
    assert curves.shape == (400, 2001) and set(np.unique(labels)) == {0, 1}
    assert curves.min() >= 0 and curves.max() <= 1
    # half maximum at |x - x0| = R sqrt(ln 2) (Gaussian) or R (Lorentzian): a Lorentzian
    # of the same half width has more area in its tails
    peak = curves.max(axis=1, keepdims=True)
    tails = (curves < 0.1 * peak).mean(axis=1)
    assert tails[labels == 0].mean() > tails[labels == 1].mean()
    np.testing.assert_array_equal(gauss_lorentz(n_train=400, n_test=100, points=2001).x_test,
                                  data.x_test)


def test_shapes_circles_fill_pi_over_four_of_their_square():
    from mlphys.data.generators import shapes

    data = shapes(n_train=1000, n_test=10, size=100)
    filled = data.x_train.reshape(1000, -1).sum(axis=1)
    labels = data.y_train
    # the same R ~ U(0.2, 1) for both: mean areas pi R^2 vs 4 R^2 (cut at the border alike)
    ratio = filled[labels == 0].mean() / filled[labels == 1].mean()
    assert ratio == pytest.approx(np.pi / 4, rel=0.06)
    noisy = shapes(n_train=2, n_test=1000, noise=0.3)
    clean = shapes(n_train=2, n_test=1000)
    assert np.std(noisy.x_test - clean.x_test) == pytest.approx(0.3, rel=0.02)


def test_crack_masks_are_thin_connected_lines():
    from mlphys.data.cracks import crack_masks, generate

    rng = np.random.default_rng(0)
    masks = crack_masks(rng, 200, 64, max_width=2.0)
    area = masks.reshape(200, -1).mean(axis=1)
    assert area.min() > 0.004 and area.max() < 0.12  # a line, not a blob
    images, labels, masks = generate(100, 48, 2.0, 0.5, np.random.default_rng(1))
    assert images.dtype == np.uint8 and images.shape == (100, 48, 48, 3)
    assert labels.sum() == 50
    assert not masks[labels == 0].any() and all(m.any() for m in masks[labels == 1])
    grey = images.mean(axis=-1)
    cracked = labels == 1
    assert grey[cracked][masks[cracked]].mean() < 0.8 * grey[cracked][~masks[cracked]].mean()
    again = generate(100, 48, 2.0, 0.5, np.random.default_rng(1))
    np.testing.assert_array_equal(again[0], images)


def test_cracks_are_written_once_as_an_image_folder(tmp_path):
    from PIL import Image

    from mlphys.data.cracks import load_masks
    from mlphys.datasets import load_dataset

    options = {"size": 32, "n_train": 20, "n_test": 6}
    data = load_dataset("cracks", options, data_dir=tmp_path)
    root = data.provenance["folder"]
    assert os.path.dirname(root) == str(tmp_path)
    assert sorted(os.listdir(f"{root}/train")) == ["Negative", "Positive"]
    assert data.spec.class_names == ("Negative", "Positive")
    assert data.x_train.shape[1:] == (32, 32, 3) and data.sizes() == {"train": 18, "val": 2,
                                                                      "test": 6}
    masks = load_masks(root)
    assert len(masks) == 13 and all(k.split("/")[1] == "Positive" for k in masks)
    # the test split is read in the folder's order: Negative files, then Positive files
    positives = sorted(k for k in masks if k.startswith("test/"))
    first = np.asarray(Image.open(f"{root}/{positives[0]}"), dtype=np.float32) / 255
    np.testing.assert_allclose(data.x_test[data.y_test == 1][0], first)
    stamp = os.path.getmtime(f"{root}/masks.npz")
    again = load_dataset("cracks", options, data_dir=tmp_path)  # read, not drawn again
    assert os.path.getmtime(f"{root}/masks.npz") == stamp
    np.testing.assert_array_equal(again.x_test, data.x_test)


def test_saliency_mass_inside_a_mask():
    from mlphys.models.crack_cnn import mass_inside

    masks = np.zeros((2, 4, 4), bool)
    masks[:, 0] = True
    maps = np.ones((2, 4, 4))
    maps[1, 0] = 7.0
    np.testing.assert_allclose(mass_inside(maps, masks), [0.25, 28 / 40])
