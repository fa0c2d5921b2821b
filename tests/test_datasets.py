"""Tests of the dataset registry and its loaders, offline and without TensorFlow.

Keras' datasets are written here in their upstream formats into a temporary folder; the
user's real caches are never read (`isolated` redirects every data directory), and any
attempt to download goes to a fake `keras` module that fails like an offline machine.
"""

import gzip
import json
import pickle
import struct
import sys
import tarfile
import types
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner

from mlphys.datasets import data_dirs, load_dataset, split_indices
from mlphys.errors import UserError

import mlphys.data.keras_sets as keras_sets

ALL_DATASETS = ["blobs", "cifar10", "cifar100", "digits", "fashion_mnist", "gauss_lorentz",
                "iris", "mnist", "shapes"]
SMALL = {"n_train": 400, "n_test": 100}


# --------------------------------------------------------------------------- fixtures

class _Offline:
    """A stand-in for the `keras` package whose dataset downloads fail as when offline."""

    def __init__(self):
        self.calls = []
        self.module = types.ModuleType("keras")
        self.module.datasets = types.SimpleNamespace(**{
            name: types.SimpleNamespace(load_data=self._failing(name))
            for name in ("mnist", "fashion_mnist", "cifar10", "cifar100")})

    def _failing(self, name):
        def load_data(**kwargs):
            self.calls.append(name)
            raise Exception("URL fetch failure on https://storage.googleapis.com: None "
                            "-- [Errno -3] Temporary failure in name resolution")
        return load_data


@pytest.fixture(autouse=True)
def isolated(tmp_path_factory, monkeypatch):
    """Every data directory points at an empty temporary folder; downloads fail."""
    base = tmp_path_factory.mktemp("isolated")
    home, keras_home = base / "home", base / "keras_home"
    home.mkdir()
    keras_home.mkdir()
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.setenv("KERAS_HOME", str(keras_home))
    monkeypatch.delenv("MLPHYS_DATA_DIR", raising=False)
    # data_dirs() always ends with /tmp/.keras/datasets, which this test cannot own:
    # the loaders see an empty private folder in its place.
    fake_tmp_cache = base / "tmp-keras" / "datasets"

    def private_data_dirs(data_dir=None):
        return [fake_tmp_cache if d == Path("/tmp/.keras/datasets") else d
                for d in data_dirs(data_dir)]

    monkeypatch.setattr(keras_sets, "data_dirs", private_data_dirs)
    offline = _Offline()
    monkeypatch.setitem(sys.modules, "keras", offline.module)
    return types.SimpleNamespace(home=home, keras_home=keras_home, offline=offline)


# ------------------------------------------------------------ upstream-format writers

def _mnist_arrays(n, seed):
    """uint8 images whose pixel (0, 0) encodes the label (label * 20) and (1, 1) is 255."""
    rng = np.random.default_rng(seed)
    y = np.arange(n, dtype=np.uint8) % 10
    x = rng.integers(0, 200, (n, 28, 28), dtype=np.uint8)
    x[:, 0, 0] = y * 20
    x[:, 1, 1] = 255
    x[:, 2, 2] = 0
    return x, y


def write_mnist(folder, n_train=60, n_test=10):
    folder.mkdir(parents=True, exist_ok=True)
    x_train, y_train = _mnist_arrays(n_train, 1)
    x_test, y_test = _mnist_arrays(n_test, 2)
    np.savez(folder / "mnist.npz", x_train=x_train, y_train=y_train, x_test=x_test,
             y_test=y_test)
    return x_train, y_train, x_test, y_test


def _idx_images(x):
    return struct.pack(">IIII", 2051, len(x), 28, 28) + x.tobytes()


def _idx_labels(y):
    return struct.pack(">II", 2049, len(y)) + y.tobytes()


def write_fashion(folder, n_train=60, n_test=10):
    folder.mkdir(parents=True, exist_ok=True)
    x_train, y_train = _mnist_arrays(n_train, 3)
    x_test, y_test = _mnist_arrays(n_test, 4)
    for name, payload in [("train-images-idx3-ubyte.gz", _idx_images(x_train)),
                          ("train-labels-idx1-ubyte.gz", _idx_labels(y_train)),
                          ("t10k-images-idx3-ubyte.gz", _idx_images(x_test)),
                          ("t10k-labels-idx1-ubyte.gz", _idx_labels(y_test))]:
        with gzip.open(folder / name, "wb") as f:
            f.write(payload)
    return x_train, y_train, x_test, y_test


def _pattern_image():
    """One CIFAR row (3072,): R = 8 * row, G = 8 * column, B = 255 (channel-first)."""
    rows, cols = np.meshgrid(np.arange(32), np.arange(32), indexing="ij")
    planes = [rows * 8, cols * 8, np.full((32, 32), 255)]
    return np.concatenate([p.ravel() for p in planes]).astype(np.uint8)


def _red_image():
    return np.concatenate([np.full(1024, 255), np.zeros(2048)]).astype(np.uint8)


def _pickle(obj, path):
    with open(path, "wb") as f:
        pickle.dump(obj, f, protocol=2)


def _tar_folder(folder, archive):
    with tarfile.open(archive, "w:gz") as tar:
        tar.add(folder, arcname=folder.name)


def write_cifar10(folder, per_batch=4, n_test=6, archive=True):
    """CIFAR-10 in `folder` as cifar-10-python.tar.gz (or the extracted folder).

    Training image 9 (batch 3, index 1) is pure red, training image 0 the pattern image.
    """
    inner = folder / "cifar-10-batches-py"
    inner.mkdir(parents=True)
    rng = np.random.default_rng(10)
    labels = []
    for i in range(1, 6):
        data = rng.integers(0, 256, (per_batch, 3072), dtype=np.uint8)
        batch_labels = [int(v) for v in (np.arange(per_batch) + i) % 10]
        if i == 1:
            data[0] = _pattern_image()
        if i == 3:
            data[1] = _red_image()
        labels += batch_labels
        _pickle({b"batch_label": f"training batch {i} of 5".encode(), b"data": data,
                 b"labels": batch_labels, b"filenames": [b"x.png"] * per_batch},
                inner / f"data_batch_{i}")
    test_labels = [int(v) for v in np.arange(n_test) % 8 + 1]  # classes the training has
    _pickle({b"batch_label": b"testing batch 1 of 1",
             b"data": rng.integers(0, 256, (n_test, 3072), dtype=np.uint8),
             b"labels": test_labels, b"filenames": [b"x.png"] * n_test},
            inner / "test_batch")
    _pickle({b"label_names": [n.encode() for n in keras_sets.CIFAR10_CLASSES],
             b"num_cases_per_batch": per_batch, b"num_vis": 3072},
            inner / "batches.meta")
    if archive:
        _tar_folder(inner, folder / "cifar-10-python.tar.gz")
        for f in inner.iterdir():
            f.unlink()
        inner.rmdir()
    return np.array(labels), np.array(test_labels)


def write_cifar100(folder, n_train=20, n_test=10, archive=True):
    inner = folder / "cifar-100-python"
    inner.mkdir(parents=True)
    rng = np.random.default_rng(11)
    out = {}
    for split, n in (("train", n_train), ("test", n_test)):
        fine = [int(v) for v in rng.integers(0, 100, n)] if split == "train" else [
            int(v) for v in rng.choice(out["train"][0], n)]  # classes the training has
        coarse = [f // 5 for f in fine]
        data = rng.integers(0, 256, (n, 3072), dtype=np.uint8)
        if split == "test":
            data[0] = _red_image()
        _pickle({b"filenames": [b"x.png"] * n, b"batch_label": split.encode(),
                 b"fine_labels": fine, b"coarse_labels": coarse, b"data": data},
                inner / split)
        out[split] = (np.array(fine), np.array(coarse))
    _pickle({b"fine_label_names": [f"fine{i}".encode() for i in range(100)],
             b"coarse_label_names": [f"coarse{i}".encode() for i in range(20)]},
            inner / "meta")
    if archive:
        _tar_folder(inner, folder / "cifar-100-python.tar.gz")
        for f in inner.iterdir():
            f.unlink()
        inner.rmdir()
    return out


def _all_labels(ds):
    return np.concatenate([ds.y_train, ds.y_val])


# ------------------------------------------------------------------------ Keras sets

def test_mnist_npz_is_scaled_to_unit_images_with_labels_kept(tmp_path):
    x_train, y_train, x_test, y_test = write_mnist(tmp_path)
    ds = load_dataset("mnist", data_dir=tmp_path)

    assert ds.provenance["source"] == str(tmp_path / "mnist.npz")
    sizes = ds.sizes()
    assert sizes["train"] + sizes["val"] == 60 and sizes["test"] == 10
    assert 1 <= sizes["val"] <= 10
    for x in (ds.x_train, ds.x_val, ds.x_test):
        assert x.dtype == np.float32 and x.shape[1:] == (28, 28, 1)
        assert x.min() >= 0.0 and x.max() <= 1.0
    np.testing.assert_allclose(ds.x_test[..., 0], x_test / 255.0, rtol=1e-6)
    assert np.all(ds.x_train[:, 1, 1, 0] == 1.0) and np.all(ds.x_train[:, 2, 2, 0] == 0.0)
    # every image still sits next to its own label after the validation split
    for x, y in ((ds.x_train, ds.y_train), (ds.x_val, ds.y_val), (ds.x_test, ds.y_test)):
        np.testing.assert_array_equal(np.round(x[:, 0, 0, 0] * 255 / 20), y)
    np.testing.assert_array_equal(ds.y_test, y_test)
    assert sorted(_all_labels(ds).tolist()) == sorted(y_train.tolist())
    assert ds.y_train.dtype == np.int64
    assert ds.spec.input_shape == (28, 28, 1) and ds.spec.num_outputs == 10
    assert ds.spec.task == "classification" and ds.spec.kind == "image"
    assert ds.spec.class_names == tuple(str(i) for i in range(10))


def test_mnist_found_through_env_var_and_data_dir_comes_first(tmp_path, monkeypatch):
    env_dir, cli_dir = tmp_path / "env", tmp_path / "cli"
    write_mnist(env_dir, n_train=20, n_test=5)
    monkeypatch.setenv("MLPHYS_DATA_DIR", str(env_dir))
    assert load_dataset("mnist").provenance["source"] == str(env_dir / "mnist.npz")

    write_mnist(cli_dir, n_train=60, n_test=10)
    ds = load_dataset("mnist", data_dir=cli_dir)
    assert ds.provenance["source"] == str(cli_dir / "mnist.npz")
    assert ds.sizes()["test"] == 10


@pytest.mark.parametrize("subfolder", ["", "fashion-mnist"])
def test_fashion_mnist_idx_files(tmp_path, subfolder):
    x_train, y_train, x_test, y_test = write_fashion(tmp_path / subfolder)
    ds = load_dataset("fashion_mnist", data_dir=tmp_path)

    assert Path(ds.provenance["source"]) == tmp_path / subfolder
    assert ds.x_train.shape[1:] == (28, 28, 1) and ds.x_train.dtype == np.float32
    assert ds.sizes()["train"] + ds.sizes()["val"] == 60 and ds.sizes()["test"] == 10
    np.testing.assert_allclose(ds.x_test[..., 0], x_test / 255.0, rtol=1e-6)
    np.testing.assert_array_equal(ds.y_test, y_test)
    np.testing.assert_array_equal(np.round(ds.x_train[:, 0, 0, 0] * 255 / 20), ds.y_train)
    assert ds.spec.num_outputs == 10
    assert "Ankle boot" in ds.spec.class_names and ds.spec.class_names[9] == "Ankle boot"
    assert ds.spec.class_names[0] == "T-shirt/top"


@pytest.mark.parametrize("archive", [True, False], ids=["tar.gz", "extracted"])
def test_cifar10_batches_are_transposed_to_channels_last(tmp_path, archive):
    y_train, y_test = write_cifar10(tmp_path, archive=archive)
    ds = load_dataset("cifar10", data_dir=tmp_path, val_split=0.0)

    assert ds.x_train.shape == (20, 32, 32, 3) and ds.x_test.shape == (6, 32, 32, 3)
    assert ds.x_train.dtype == np.float32 and ds.x_val.shape == (0, 32, 32, 3)
    assert 0.0 <= ds.x_train.min() and ds.x_train.max() <= 1.0
    red = ds.x_train[9]
    assert np.all(red[..., 0] == 1.0) and np.all(red[..., 1] == 0.0)
    assert np.all(red[..., 2] == 0.0)
    pattern = ds.x_train[0] * 255  # R = 8 * row, G = 8 * column, B = 255
    rows, cols = np.meshgrid(np.arange(32), np.arange(32), indexing="ij")
    np.testing.assert_allclose(pattern[..., 0], rows * 8, atol=1e-3)
    np.testing.assert_allclose(pattern[..., 1], cols * 8, atol=1e-3)
    np.testing.assert_allclose(pattern[..., 2], 255, atol=1e-3)
    np.testing.assert_array_equal(ds.y_train, y_train)
    np.testing.assert_array_equal(ds.y_test, y_test)
    assert ds.spec.class_names == keras_sets.CIFAR10_CLASSES
    assert ds.spec.input_shape == (32, 32, 3)


@pytest.mark.parametrize("archive", [True, False], ids=["tar.gz", "extracted"])
def test_cifar100_fine_and_coarse_labels_with_names_from_meta(tmp_path, archive):
    labels = write_cifar100(tmp_path, archive=archive)
    fine = load_dataset("cifar100", data_dir=tmp_path, val_split=0.0)
    coarse = load_dataset("cifar100", {"label_mode": "coarse"}, data_dir=tmp_path,
                          val_split=0.0)

    assert fine.x_train.shape == (20, 32, 32, 3) and fine.x_test.shape == (10, 32, 32, 3)
    assert np.all(fine.x_test[0, ..., 0] == 1.0) and np.all(fine.x_test[0, ..., 1:] == 0.0)
    np.testing.assert_array_equal(fine.y_train, labels["train"][0])
    np.testing.assert_array_equal(fine.y_test, labels["test"][0])
    np.testing.assert_array_equal(coarse.y_train, labels["train"][1])
    np.testing.assert_array_equal(coarse.y_test, labels["test"][1])
    assert fine.spec.num_outputs == 100 and coarse.spec.num_outputs == 20
    assert fine.spec.class_names == tuple(f"fine{i}" for i in range(100))
    assert coarse.spec.class_names == tuple(f"coarse{i}" for i in range(20))
    assert coarse.provenance["label_mode"] == "coarse"
    np.testing.assert_array_equal(fine.x_train, coarse.x_train)


def test_cifar100_rejects_unknown_label_mode(tmp_path):
    write_cifar100(tmp_path)
    with pytest.raises(UserError, match="label_mode=medium"):
        load_dataset("cifar100", {"label_mode": "medium"}, data_dir=tmp_path)


def test_offline_without_files_says_which_file_to_put_where(isolated):
    with pytest.raises(UserError) as caught:
        load_dataset("mnist")
    message = str(caught.value)
    assert isolated.offline.calls == ["mnist"]  # it asked Keras, which could not fetch
    assert "mnist.npz" in message
    assert str(isolated.home / ".keras" / "datasets") in message
    assert "\n" not in message


def test_offline_with_data_dir_names_that_folder(tmp_path, isolated):
    with pytest.raises(UserError) as caught:
        load_dataset("mnist", data_dir=tmp_path / "mydata")
    assert "mnist.npz" in str(caught.value)
    assert str(tmp_path / "mydata") in str(caught.value)


@pytest.mark.parametrize("name, upstream", [
    ("fashion_mnist", "train-images-idx3-ubyte.gz"),
    ("cifar10", "cifar-10-python.tar.gz"),
    ("cifar100", "cifar-100-python.tar.gz"),
])
def test_offline_other_keras_sets_name_their_files(tmp_path, isolated, name, upstream):
    with pytest.raises(UserError, match=upstream.replace(".", r"\.")):
        load_dataset(name, data_dir=tmp_path)
    assert isolated.offline.calls == [name]


def test_corrupt_cifar_archive_is_a_user_error(tmp_path, isolated):
    (tmp_path / "cifar-10-python.tar.gz").write_bytes(
        np.random.default_rng(0).integers(0, 256, 5000, dtype=np.uint8).tobytes())
    with pytest.raises(UserError, match="cifar-10-python.tar.gz"):
        load_dataset("cifar10", data_dir=tmp_path)
    assert isolated.offline.calls == []  # a bad local file is reported, not re-downloaded


def test_truncated_cifar_archive_is_a_user_error(tmp_path):
    """An interrupted download: the start of a valid archive, cut off."""
    write_cifar10(tmp_path)
    archive = tmp_path / "cifar-10-python.tar.gz"
    archive.write_bytes(archive.read_bytes()[: archive.stat().st_size // 2])
    with pytest.raises(UserError, match="cifar-10-python.tar.gz"):
        load_dataset("cifar10", data_dir=tmp_path)


def test_truncated_fashion_mnist_file_is_a_user_error(tmp_path):
    """An interrupted download of one of the four idx files."""
    write_fashion(tmp_path)
    images = tmp_path / "train-images-idx3-ubyte.gz"
    images.write_bytes(images.read_bytes()[: images.stat().st_size // 2])
    with pytest.raises(UserError, match="train-images-idx3-ubyte.gz"):
        load_dataset("fashion_mnist", data_dir=tmp_path)


def test_corrupt_mnist_npz_is_a_user_error(tmp_path):
    (tmp_path / "mnist.npz").write_bytes(b"<html>404 Not Found</html>" * 20)
    with pytest.raises(UserError, match="mnist.npz"):
        load_dataset("mnist", data_dir=tmp_path)


# --------------------------------------------------------------------------- bundled

def test_digits_default_is_28x28_unit_images_with_stratified_splits():
    ds = load_dataset("digits")
    sizes = ds.sizes()
    assert sum(sizes.values()) == 1797
    assert sizes["test"] == pytest.approx(0.2 * 1797, abs=10)
    assert sizes["val"] == pytest.approx(0.1 * (sizes["train"] + sizes["val"]), abs=10)
    for x, y in (ds.split("train"), ds.split("val"), ds.split("test")):
        assert x.dtype == np.float32 and x.shape[1:] == (28, 28, 1)
        assert x.min() >= 0.0 and x.max() <= 1.0
        assert set(np.unique(y)) == set(range(10))  # every class in every split
    assert ds.x_train.max() > 0.9  # really scaled to [0, 1], not [0, 1/16]
    assert ds.spec.num_outputs == 10 and len(ds.spec.class_names) == 10
    assert ds.spec.input_shape == (28, 28, 1)
    # stratified: each class keeps about the same share in the test split
    shares = np.bincount(ds.y_test, minlength=10) / np.bincount(
        np.concatenate([ds.y_train, ds.y_val, ds.y_test]), minlength=10)
    assert np.all(np.abs(shares - 0.2) < 0.02)


def test_digits_size_option_from_the_command_line_gives_8x8_originals():
    ds = load_dataset("digits", {"size": "8"})
    assert ds.options == {"size": 8}
    assert ds.x_train.shape[1:] == (8, 8, 1)
    assert sum(ds.sizes().values()) == 1797
    # the originals have 17 grey levels, k/16
    levels = np.unique(np.round(np.concatenate([ds.x_train, ds.x_val, ds.x_test]) * 16, 4))
    assert len(levels) == 17 and levels.min() == 0 and levels.max() == 16
    np.testing.assert_allclose(levels, np.arange(17))


def test_digits_test_split_and_seed_options():
    a = load_dataset("digits", {"size": "8", "test_split": "0.5"}, val_split=0.0)
    assert a.sizes()["test"] == pytest.approx(1797 / 2, abs=10)
    assert a.sizes()["val"] == 0
    b = load_dataset("digits", {"size": "8", "test_split": "0.5", "split_seed": "1"},
                     val_split=0.0)
    assert not np.array_equal(a.x_test, b.x_test)
    again = load_dataset("digits", {"size": "8", "test_split": "0.5"}, val_split=0.0)
    np.testing.assert_array_equal(a.x_test, again.x_test)


def test_iris():
    ds = load_dataset("iris")
    assert sum(ds.sizes().values()) == 150
    assert ds.x_train.shape[1:] == (4,) and ds.x_train.dtype == np.float32
    assert ds.spec.class_names == ("setosa", "versicolor", "virginica")
    assert ds.spec.kind == "vector" and ds.spec.num_outputs == 3
    assert set(np.unique(ds.y_test)) == {0, 1, 2}
    # lengths in cm: petal length (column 2) is between 1 and 7
    assert 0.9 <= ds.x_train[:, 2].min() and ds.x_train[:, 2].max() <= 7.0


def test_validation_split_is_disjoint_and_sized():
    ds = load_dataset("blobs", {"n_train": "500", "n_test": "50"}, val_split=0.2)
    assert ds.sizes() == {"train": 400, "val": 100, "test": 50}
    train_rows = {tuple(r) for r in ds.x_train.tolist()}
    val_rows = {tuple(r) for r in ds.x_val.tolist()}
    assert len(train_rows) == 400 and len(val_rows) == 100
    assert not train_rows & val_rows
    none = load_dataset("blobs", {"n_train": "500", "n_test": "50"}, val_split=0.0)
    assert none.sizes() == {"train": 500, "val": 0, "test": 50}
    with pytest.raises(UserError, match="val-split"):
        load_dataset("blobs", val_split=1.0)


def test_split_indices_disjoint_complete_stratified_and_seeded():
    y = np.repeat(np.arange(4), [10, 20, 30, 40])
    kept, held = split_indices(y, 0.1, seed=3)
    assert not set(kept) & set(held)
    assert sorted(np.concatenate([kept, held])) == list(range(100))
    np.testing.assert_array_equal(np.bincount(y[held]), [1, 2, 3, 4])
    again = split_indices(y, 0.1, seed=3)
    np.testing.assert_array_equal(held, again[1])
    assert not np.array_equal(held, split_indices(y, 0.1, seed=4)[1])
    onehot = np.eye(4)[y]
    np.testing.assert_array_equal(split_indices(onehot, 0.1, seed=3)[1], held)


# ------------------------------------------------------------------------ generators

@pytest.mark.parametrize("name", ["blobs", "gauss_lorentz", "shapes"])
def test_generators_are_deterministic_per_seed(name):
    first = load_dataset(name, {**SMALL, "seed": "5"})
    again = load_dataset(name, {**SMALL, "seed": "5"})
    other = load_dataset(name, {**SMALL, "seed": "6"})
    for split in ("train", "val", "test"):
        np.testing.assert_array_equal(first.split(split)[0], again.split(split)[0])
        np.testing.assert_array_equal(first.split(split)[1], again.split(split)[1])
    assert not np.array_equal(first.x_train, other.x_train)
    assert first.sizes()["train"] + first.sizes()["val"] == 400
    assert first.sizes()["test"] == 100
    assert set(np.unique(first.y_train)) == {0, 1}
    assert first.x_train.dtype == np.float32


def test_blobs_are_binary_2d_around_plus_minus_one():
    ds = load_dataset("blobs", SMALL)
    assert ds.spec.task == "binary" and ds.spec.num_outputs == 1
    assert ds.x_train.shape[1:] == (2,) and ds.spec.kind == "vector"
    x, y = ds.x_train, ds.y_train
    np.testing.assert_allclose(x[y == 1].mean(0), [1, 1], atol=0.25)
    np.testing.assert_allclose(x[y == 0].mean(0), [-1, -1], atol=0.25)
    bayes = np.mean((ds.x_test.sum(1) > 0) == ds.y_test)
    assert 0.82 < bayes <= 1.0  # Bayes accuracy 0.921


def test_gauss_lorentz_curves_and_heavier_lorentzian_tails():
    ds = load_dataset("gauss_lorentz", SMALL)
    assert ds.x_train.shape[1:] == (100,) and ds.spec.input_shape == (100,)
    assert ds.spec.class_names == ("gaussian", "lorentzian")
    assert load_dataset("gauss_lorentz", {**SMALL, "points": "30"}).x_test.shape == (100, 30)
    assert ds.x_train.min() >= 0.0 and ds.x_train.max() <= 1.0

    def tail_ratio(curves):
        """Width at 10% of the peak over width at half the peak, in grid points: about
        1.8 for a Gaussian and 3 for a Lorentzian, whatever the width R."""
        scaled = curves / (curves.max(1, keepdims=True) + 1e-12)
        return (scaled > 0.1).sum(1) / np.maximum((scaled > 0.5).sum(1), 1)

    f_train, f_test = tail_ratio(ds.x_train), tail_ratio(ds.x_test)
    assert np.median(f_train[ds.y_train == 1]) > np.median(f_train[ds.y_train == 0]) + 0.3
    threshold = max(np.unique(f_train),
                    key=lambda t: np.mean((f_train > t) == ds.y_train))
    accuracy = np.mean((f_test > threshold) == ds.y_test)
    assert accuracy > 0.7, accuracy  # chance is 0.5


def test_shapes_are_binary_and_squares_have_more_pixels_than_circles():
    ds = load_dataset("shapes", {**SMALL, "noise": "0"})
    assert ds.x_train.shape[1:] == (20, 20, 1) and ds.spec.input_shape == (20, 20, 1)
    assert ds.spec.class_names == ("circle", "square")
    assert set(np.unique(ds.x_train)) <= {0.0, 1.0}
    x = np.concatenate([ds.x_train, ds.x_val, ds.x_test])
    y = np.concatenate([ds.y_train, ds.y_val, ds.y_test])
    pixels = x.sum(axis=(1, 2, 3))
    assert np.all(pixels > 0)
    assert pixels[y == 1].mean() > 1.1 * pixels[y == 0].mean()  # 4 R^2 vs pi R^2
    assert load_dataset("shapes", {**SMALL, "size": "12"}).x_test.shape == (100, 12, 12, 1)

    noisy = load_dataset("shapes", {**SMALL, "noise": "0.1"})
    assert len(np.unique(noisy.x_train)) > 2
    with pytest.raises(UserError, match="noise"):
        load_dataset("shapes", {**SMALL, "noise": "-1"})
    with pytest.raises(UserError, match="n_train"):
        load_dataset("shapes", {"n_train": "1"})


# ------------------------------------------------------------------------ user files

def _vectors(n, seed=0, classes=3):
    rng = np.random.default_rng(seed)
    return rng.normal(size=(n, 5)).astype(np.float64), np.arange(n) % classes


def test_npz_with_only_training_data_gets_a_test_split(tmp_path):
    x, y = _vectors(100)
    np.savez(tmp_path / "runs.npz", x_train=x, y_train=y)
    ds = load_dataset(str(tmp_path / "runs.npz"))
    assert ds.name == "runs"
    assert ds.sizes()["test"] == pytest.approx(20, abs=2)
    assert sum(ds.sizes().values()) == 100
    assert ds.x_train.dtype == np.float32 and ds.x_train.shape[1:] == (5,)
    assert ds.spec.task == "classification" and ds.spec.kind == "vector"
    assert ds.spec.num_outputs == 3 and ds.spec.label_format == "integer"
    for split in ("train", "val", "test"):
        assert set(np.unique(ds.split(split)[1])) == {0, 1, 2}
    # rows keep their labels
    lookup = {tuple(np.float32(r)): int(label) for r, label in zip(x, y)}
    for xs, ys in (ds.split("train"), ds.split("test")):
        assert [lookup[tuple(r)] for r in xs] == ys.tolist()


def test_npz_with_test_split_keeps_it(tmp_path):
    x, y = _vectors(50)
    x_test, y_test = _vectors(7, seed=1)
    np.savez(tmp_path / "d.npz", x_train=x, y_train=y, x_test=x_test, y_test=y_test)
    ds = load_dataset(str(tmp_path / "d.npz"), val_split=0.0)
    assert ds.sizes() == {"train": 50, "val": 0, "test": 7}
    np.testing.assert_allclose(ds.x_test, x_test.astype(np.float32))
    np.testing.assert_array_equal(ds.y_test, y_test)


def test_npz_string_labels_become_named_classes(tmp_path):
    x, y = _vectors(30)
    names = np.array(["alpha", "beta", "gamma"])[y]
    np.savez(tmp_path / "d.npz", x_train=x, y_train=names, x_test=x[:6], y_test=names[:6])
    ds = load_dataset(str(tmp_path / "d.npz"))
    assert ds.spec.class_names == ("alpha", "beta", "gamma")
    np.testing.assert_array_equal(ds.y_test, y[:6])


def test_npz_onehot_labels_stay_onehot(tmp_path):
    x, y = _vectors(60, classes=4)
    onehot = np.eye(4, dtype=np.float32)[y]
    np.savez(tmp_path / "d.npz", x_train=x, y_train=onehot)
    ds = load_dataset(str(tmp_path / "d.npz"))
    assert ds.spec.label_format == "onehot" and ds.spec.task == "classification"
    assert ds.spec.num_outputs == 4
    assert ds.y_train.shape[1:] == (4,) and ds.y_test.shape[1:] == (4,)
    assert np.all(ds.y_train.sum(1) == 1)
    assert set(np.argmax(ds.y_test, 1)) == {0, 1, 2, 3}


def test_npz_uint8_images_get_a_channel_and_unit_range(tmp_path):
    rng = np.random.default_rng(0)
    x = rng.integers(0, 256, (40, 9, 7), dtype=np.uint8)
    x[0] = 255
    y = np.arange(40) % 2
    np.savez(tmp_path / "img.npz", x_train=x, y_train=y, x_test=x[:5], y_test=y[:5])
    ds = load_dataset(str(tmp_path / "img.npz"))
    assert ds.spec.kind == "image" and ds.spec.input_shape == (9, 7, 1)
    assert ds.x_train.dtype == np.float32
    assert ds.x_train.min() >= 0 and ds.x_train.max() == 1.0
    np.testing.assert_allclose(ds.x_test[..., 0], x[:5] / 255.0, rtol=1e-6)


def test_npz_float_targets_are_regression(tmp_path):
    x, _ = _vectors(80)
    target = (x[:, 0] * 2.5 + 0.1).astype(np.float64)
    np.savez(tmp_path / "reg.npz", x_train=x, y_train=target)
    ds = load_dataset(str(tmp_path / "reg.npz"))
    assert ds.spec.task == "regression" and ds.spec.label_format == "value"
    assert ds.spec.num_outputs == 1 and ds.spec.class_names is None
    assert ds.y_train.dtype == np.float32
    np.testing.assert_allclose(ds.y_train, ds.x_train[:, 0] * 2.5 + 0.1, rtol=1e-5)
    assert ds.sizes()["test"] == 16
    # two float values: regression by inference, classification when asked (every
    # class has samples in each split; 80 one-sample classes would be refused)
    np.savez(tmp_path / "two.npz", x_train=x, y_train=np.where(x[:, 0] > 0, 1.5, -0.5))
    assert load_dataset(str(tmp_path / "two.npz")).spec.task == "regression"
    forced = load_dataset(str(tmp_path / "two.npz"), {"task": "classification"})
    assert forced.spec.task == "classification"


def test_npz_errors_are_user_errors(tmp_path):
    x, y = _vectors(10)
    np.savez(tmp_path / "noy.npz", x_train=x)
    with pytest.raises(UserError, match="y_train"):
        load_dataset(str(tmp_path / "noy.npz"))

    (tmp_path / "text.npz").write_text("x,y\n1,2\n")
    with pytest.raises(UserError, match="text.npz"):
        load_dataset(str(tmp_path / "text.npz"))

    np.savez(tmp_path / "short.npz", x_train=x, y_train=y[:7])
    with pytest.raises(UserError, match="10 samples.*7"):
        load_dataset(str(tmp_path / "short.npz"))

    np.savez(tmp_path / "half.npz", x_train=x, y_train=y, x_test=x)
    with pytest.raises(UserError, match="y_test"):
        load_dataset(str(tmp_path / "half.npz"))


def _write_csv(path, header, rows):
    path.write_text(",".join(header) + "\n" +
                    "".join(",".join(str(v) for v in row) + "\n" for row in rows))


def test_csv_last_column_is_the_default_target(tmp_path):
    rows = [(i * 0.5, i % 7, ["low", "mid", "high"][i % 3]) for i in range(60)]
    _write_csv(tmp_path / "table.csv", ["a", "b", "grade"], rows)
    ds = load_dataset(str(tmp_path / "table.csv"))
    assert ds.spec.task == "classification" and ds.spec.kind == "vector"
    assert ds.spec.class_names == ("high", "low", "mid")
    assert ds.x_train.shape[1:] == (2,) and ds.x_train.dtype == np.float32
    assert ds.provenance["target"] == "grade" and ds.provenance["features"] == ["a", "b"]
    assert sum(ds.sizes().values()) == 60
    names = np.array(ds.spec.class_names)
    # row i has a = i/2 and grade ['low','mid','high'][i % 3]
    for xs, ys in (ds.split("train"), ds.split("test")):
        i = np.round(xs[:, 0] * 2).astype(int)
        assert names[ys].tolist() == [["low", "mid", "high"][k % 3] for k in i]


def test_csv_target_option_and_regression(tmp_path):
    rows = [(i * 0.37, np.sin(i) * 3.1, i % 2) for i in range(50)]
    _write_csv(tmp_path / "meas.csv", ["x", "energy", "flag"], rows)
    ds = load_dataset(str(tmp_path / "meas.csv"), {"target": "energy"})
    assert ds.spec.task == "regression" and ds.spec.num_outputs == 1
    assert ds.provenance["features"] == ["x", "flag"]
    assert ds.y_train.dtype == np.float32
    assert ds.x_train.shape[1:] == (2,)
    flag = load_dataset(str(tmp_path / "meas.csv"))
    assert flag.spec.task == "classification" and flag.spec.num_outputs == 2


def test_csv_errors_are_user_errors(tmp_path):
    _write_csv(tmp_path / "t.csv", ["x", "y"], [(1, 2), (3, 4), (5, 6)])
    with pytest.raises(UserError) as caught:
        load_dataset(str(tmp_path / "t.csv"), {"target": "energy"})
    assert "energy" in str(caught.value) and "x, y" in str(caught.value)

    _write_csv(tmp_path / "text.csv", ["name", "x", "y"],
               [("a", 1, 0), ("b", 2, 1), ("c", 3, 0), ("d", 4, 1)])
    with pytest.raises(UserError, match="name"):
        load_dataset(str(tmp_path / "text.csv"))

    _write_csv(tmp_path / "gap.csv", ["x", "y"], [(1, 0), ("", 1), (3, 0)])
    with pytest.raises(UserError, match="missing"):
        load_dataset(str(tmp_path / "gap.csv"))


def _write_images(folder, n, size=(10, 12), mode="RGB", seed=0):
    from PIL import Image

    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    width, height = size
    for i in range(n):
        shape = (height, width, 3) if mode == "RGB" else (height, width)
        pixels = rng.integers(0, 256, shape, dtype=np.uint8)
        Image.fromarray(pixels, mode).save(folder / f"{i}.png")


def test_image_folder_classes_from_subfolders(tmp_path):
    root = tmp_path / "pets"
    _write_images(root / "cat", 6, seed=1)
    _write_images(root / "dog", 6, seed=2)
    ds = load_dataset(str(root))
    assert ds.name == "pets"
    assert ds.spec.kind == "image" and ds.spec.input_shape == (12, 10, 3)
    assert ds.spec.class_names == ("cat", "dog")
    assert sum(ds.sizes().values()) == 12
    assert set(ds.y_test) == {0, 1}
    assert ds.x_train.dtype == np.float32
    assert 0 <= ds.x_train.min() and ds.x_train.max() <= 1.0 and ds.x_train.max() > 0.9

    resized = load_dataset(str(root), {"size": "8,8"})
    assert resized.spec.input_shape == (8, 8, 3) and resized.x_test.shape[1:] == (8, 8, 3)


def test_image_folder_of_grayscale_images_has_one_channel(tmp_path):
    root = tmp_path / "grey"
    _write_images(root / "a", 5, mode="L")
    _write_images(root / "b", 5, mode="L", seed=3)
    ds = load_dataset(str(root))
    assert ds.spec.input_shape == (12, 10, 1)
    as_rgb = load_dataset(str(root), {"color": "rgb"})
    assert as_rgb.spec.input_shape == (12, 10, 3)


def test_image_folder_with_train_and_test_folders_uses_that_test_split(tmp_path):
    root = tmp_path / "split"
    _write_images(root / "train" / "cat", 6)
    _write_images(root / "train" / "dog", 6, seed=1)
    _write_images(root / "test" / "cat", 2, seed=2)
    _write_images(root / "test" / "dog", 3, seed=3)
    ds = load_dataset(str(root), val_split=0.0)
    assert ds.sizes() == {"train": 12, "val": 0, "test": 5}
    assert ds.y_test.tolist() == [0, 0, 1, 1, 1]
    assert ds.spec.class_names == ("cat", "dog")


def test_image_folder_errors_name_the_problem(tmp_path):
    root = tmp_path / "pets"
    _write_images(root / "cat", 3)
    _write_images(root / "dog", 3, seed=1)
    (root / "cat" / "broken.png").write_bytes(b"\x00not an image\xff" * 10)
    with pytest.raises(UserError, match="broken.png"):
        load_dataset(str(root))

    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(UserError, match="no images"):
        load_dataset(str(empty))
    (empty / "cat").mkdir()
    (empty / "cat" / "notes.txt").write_text("no pictures here")
    with pytest.raises(UserError, match="no images"):
        load_dataset(str(empty))

    one = tmp_path / "one"
    _write_images(one / "cat", 3)
    with pytest.raises(UserError, match="one class"):
        load_dataset(str(one))

    mixed = tmp_path / "mixed"
    _write_images(mixed / "cat", 3)
    _write_images(mixed / "dog", 3, size=(5, 5))
    with pytest.raises(UserError, match="size"):
        load_dataset(str(mixed))
    assert load_dataset(str(mixed), {"size": "6x6"}).spec.input_shape == (6, 6, 3)


# --------------------------------------------------------------- names and options

def test_unknown_dataset_name_suggests_the_closest():
    with pytest.raises(UserError, match="did you mean 'digits'"):
        load_dataset("digit")


def test_unknown_option_is_a_user_error():
    with pytest.raises(UserError, match="colour"):
        load_dataset("digits", {"colour": "red"})


def test_bad_option_value_is_a_user_error():
    with pytest.raises(UserError, match="size=abc.*int"):
        load_dataset("digits", {"size": "abc"})
    with pytest.raises(UserError, match="size"):
        load_dataset("digits", {"size": "0"})


def test_missing_file_is_a_user_error(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    with pytest.raises(UserError, match="nope.npz"):
        load_dataset("nope.npz")
    (tmp_path / "data.txt").write_text("1 2 3\n")
    with pytest.raises(UserError, match="cannot read"):
        load_dataset(str(tmp_path / "data.txt"))


# ------------------------------------------------------------------------------ CLI

@pytest.fixture
def cli():
    from mlphys.cli.main import cli

    return cli


def test_cli_info_dataset_lists_its_options(cli):
    result = CliRunner().invoke(cli, ["info", "digits"])
    assert result.exit_code == 0, result.output
    assert "size" in result.output and "test_split" in result.output
    assert "scikit-learn" in result.output


def test_cli_list_datasets_with_pattern(cli):
    result = CliRunner().invoke(cli, ["list", "datasets", "shape*"])
    assert result.exit_code == 0, result.output
    names = [line.split()[0] for line in result.output.splitlines()[2:] if line.strip()]
    assert names == ["shapes"]


def test_cli_list_datasets_json(cli):
    result = CliRunner().invoke(cli, ["list", "datasets", "--json"])
    assert result.exit_code == 0, result.output
    rows = json.loads(result.output)
    from mlphys.datasets import list_datasets

    names = sorted(r["name"] for r in rows)
    assert names == list_datasets() and set(ALL_DATASETS) <= set(names)
    by_name = {r["name"]: r for r in rows}
    assert by_name["blobs"]["task"] == "binary"
    assert by_name["digits"]["kind"] == "image"


@pytest.mark.parametrize("args, words", [
    (["info", "digit"], ["digits"]),
    (["info", "digits", "--shape", "28,28,1"], ["--shape", "models"]),
    (["list", "datasets", "--nope"], ["--nope"]),
])
def test_cli_errors_are_one_line_with_exit_code_2(cli, args, words):
    result = CliRunner().invoke(cli, args)
    assert result.exit_code == 2
    assert isinstance(result.exception, SystemExit)  # not a traceback
    lines = [line for line in result.output.splitlines() if line.strip()]
    errors = [line for line in lines if line.startswith("Error: ")]
    assert len(errors) == 1, result.output
    assert all(w in errors[0] for w in words)
    if args[0] == "info":
        assert lines == errors  # a UserError is a single line, no usage, no traceback
