"""Image-to-image, segmentation and residual entries (ZOO.md section C): autoencoder,
circles_to_squares, unet (with the segshapes generator and its losses) and toy_resnet."""

import json
import subprocess
import sys

import numpy as np
import pytest

from conftest import assert_user_error

ENTRIES = ["autoencoder", "circles_to_squares", "unet", "toy_resnet"]


@pytest.fixture
def data_dir(tmp_path, monkeypatch):
    folder = tmp_path / "data"
    monkeypatch.setenv("MLPHYS_DATA_DIR", str(folder))
    return folder


# --- generators -----------------------------------------------------------------------

def test_circles_are_their_own_targets_and_deterministic():
    from mlphys.data.images import circles

    data = circles(n_train=50, n_val=10, n_test=20, seed=3)
    assert data.x_train.shape == (50, 27, 27, 1) and data.x_val.shape == (10, 27, 27, 1)
    assert data.x_test.shape == (20, 27, 27, 1) and data.x_train.dtype == np.float32
    assert set(np.unique(data.x_train)) <= {0.0, 1.0}
    np.testing.assert_array_equal(data.x_train, data.y_train)
    assert data.spec.target_shape == (27, 27, 1) and data.spec.task == "regression"
    np.testing.assert_array_equal(circles(n_train=50, n_val=10, n_test=20, seed=3).x_test,
                                  data.x_test)
    assert not np.array_equal(circles(n_train=50, n_val=10, n_test=20, seed=4).x_test,
                              data.x_test)


def test_squares_cover_their_circles():
    """Each circle is inscribed in its square: the target is >= the input at every pixel,
    and their areas differ by about (4 - pi) R^2 per shape."""
    from mlphys.data.images import circles_to_squares

    data = circles_to_squares(n_train=200, n_val=0, n_test=1, size=50)
    x, y = data.x_train, data.y_train
    assert x.shape == y.shape == (200, 50, 50, 1)
    assert np.all(y >= x) and x.max() >= 2  # overlapping circles add up
    cell = (2 / 49) ** 2
    area_gap = (y - x).sum(axis=(1, 2, 3)).mean() * cell
    expected = 5 * (4 - np.pi) * 0.25 / 3  # 5 shapes, E[R^2] = 0.25/3 for R ~ 0.5 U(0,1)
    assert abs(area_gap - expected) < 0.25 * expected


def test_segshapes_masks_match_the_scenes():
    from mlphys.data.images import segshapes

    data = segshapes(n_train=40, n_val=5, n_test=5, size=32, noise=0.0)
    x, y = data.x_train, data.y_train
    assert x.shape == (40, 32, 32, 3) and y.shape == (40, 32, 32) and x.dtype == np.float32
    assert 0 <= x.min() and x.max() <= 1 and set(np.unique(y)) == {0, 1}
    assert data.spec.num_outputs == 2 and data.spec.target_shape == (32, 32)
    assert 0.05 < y.mean() < 0.5
    # without noise the background is a plane in every channel: fit it on the pixels
    # labelled background and find the shape pixels far from it
    grid = np.linspace(-1, 1, 32)
    gx, gy = np.meshgrid(grid, grid)
    design = np.stack([np.ones(32 * 32), gx.ravel(), gy.ravel()], axis=1)
    for image, label in zip(x[:10], y[:10]):
        pixels = image.reshape(-1, 3)
        unclipped = np.all((pixels > 0) & (pixels < 1), axis=1)
        background = (label.ravel() == 0) & unclipped
        coef, *_ = np.linalg.lstsq(design[background], pixels[background], rcond=None)
        distance = np.abs(pixels - design @ coef).max(axis=1)
        assert distance[background].max() < 1e-4
        assert distance[label.ravel() > 0].min() > 0.05

    typed = segshapes(n_train=40, n_val=0, n_test=5, size=32, classes="shape")
    assert typed.spec.num_outputs == 4 and set(np.unique(typed.y_train)) == {0, 1, 2, 3}
    np.testing.assert_array_equal(typed.y_train > 0, segshapes(
        n_train=40, n_val=0, n_test=5, size=32).y_train > 0)


# --- losses ---------------------------------------------------------------------------

def test_segmentation_losses_on_hand_made_masks():
    import keras

    from mlphys.models._losses import SEGMENTATION_LOSSES as losses

    labels = np.array([[[0, 1], [1, 1]]])                     # (1, 2, 2), 3 foreground
    perfect = np.eye(2, dtype="float32")[labels]
    for name in ("dice", "iou"):
        assert float(losses[name]()(labels, perfect)) == pytest.approx(0.0, abs=1e-6)
    half = np.full((1, 2, 2, 2), 0.5, dtype="float32")
    # Dice per class: background (2*0.5 + 1)/(1 + 2 + 1) = 0.5, foreground (3 + 1)/(3 + 2 + 1)
    dice = 1 - (0.5 + 4 / 6) / 2
    assert float(losses["dice"]()(labels, half)) == pytest.approx(dice, rel=1e-5)
    # IoU: background (0.5 + 1)/(3 - 0.5 + 1), foreground (1.5 + 1)/(5 - 1.5 + 1)
    iou = 1 - (1.5 / 3.5 + 2.5 / 4.5) / 2
    assert float(losses["iou"]()(labels, half)) == pytest.approx(iou, rel=1e-5)
    # focal with gamma = 0 and alpha = 1/2 is half the cross-entropy
    probs = np.array([[[[0.9, 0.1], [0.3, 0.7]], [[0.2, 0.8], [0.6, 0.4]]]], "float32")
    crossentropy = keras.losses.SparseCategoricalCrossentropy()(labels, probs)
    focal = losses["focal"](alpha=0.5, gamma=0.0)(labels, probs)
    assert float(focal) == pytest.approx(0.5 * float(crossentropy), rel=1e-5)
    # gamma > 0 shrinks the well-classified pixels' share; one-hot labels give the same
    sharp = losses["focal"](alpha=0.5, gamma=2.0)
    assert float(sharp(labels, probs)) < float(focal)
    assert float(sharp(np.eye(2)[labels], probs)) == pytest.approx(float(sharp(labels, probs)))
    again = keras.losses.deserialize(keras.losses.serialize(losses["focal"](0.3, 1.5)))
    assert (again.alpha, again.gamma) == (0.3, 1.5)


# --- command line ---------------------------------------------------------------------

def test_unet_with_dice_loss_reopens_in_a_fresh_process(tmp_path, data_dir):
    """A new interpreter has never built a U-Net: the Dice loss must come from the zoo.
    The model is built and saved, not trained: training with the Dice loss (and tune's
    trial of it) is unet's case in tests/test_one_pipeline.py."""
    import mlphys
    from mlphys.datasets import load_dataset

    options = ["size=16", "n_train=8", "n_val=8", "n_test=8"]
    spec = load_dataset("segshapes", dict(o.split("=") for o in options)).spec
    model, _ = mlphys.build_model("unet", spec, {"loss": "dice"})
    model.save(tmp_path / "unet.keras")
    evaluated = subprocess.run(
        [sys.executable, "-m", "mlphys", "evaluate", str(tmp_path / "unet.keras"), "-d",
         "segshapes", *(a for o in options for a in ("-o", o)), "--json"],
        capture_output=True, text=True, timeout=300)
    assert evaluated.returncode == 0, evaluated.stderr[-2000:]
    assert {"accuracy", "mean_iou"} <= set(json.loads(evaluated.stdout)["metrics"])


@pytest.mark.parametrize("args, fragment", [
    (["autoencoder", "-o", "size=9", "-o", "n_train=10"], "larger than the 1x1 code map"),
    (["autoencoder", "-o", "size=20", "-o", "n_train=10"], "multiples of 9"),
    (["unet", "-o", "size=40", "-o", "n_train=10"], "multiples of 16"),
    (["unet", "-d", "digits"], "per-pixel labels"),
    (["unet", "-o", "classes=colour"], "choose foreground"),
])
def test_user_errors(run_cli, tmp_path, data_dir, args, fragment):
    result = run_cli("train", *args, "--epochs", 1, "--out", tmp_path)
    assert_user_error(result, fragment)
