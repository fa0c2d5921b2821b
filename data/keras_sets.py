"""Keras' standard image datasets, usable offline from a data directory.

Each loader first looks for the upstream files in the data directories (`--data-dir`,
`$MLPHYS_DATA_DIR`, the Keras cache; see `mlphys.datasets.data_dirs`) and parses them
itself. Only when there is no local copy does it ask `keras.datasets` to download them
into the Keras cache, once. Offline with no copy, the error says which file to put where.
"""

import gzip
import pickle
import tarfile
import zipfile
from contextlib import contextmanager
from pathlib import Path

import numpy as np

from mlphys.datasets import Dataset, data_dirs, infer_spec, register_dataset
from mlphys.errors import UserError
from mlphys.data._images import as_unit_images

FASHION_CLASSES = ("T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal",
                   "Shirt", "Sneaker", "Bag", "Ankle boot")
CIFAR10_CLASSES = ("airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse",
                   "ship", "truck")
FASHION_FILES = ("train-images-idx3-ubyte.gz", "train-labels-idx1-ubyte.gz",
                 "t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz")


def _find(data_dir, candidates):
    """The first existing path among `candidates` (relative) in the data directories."""
    for folder in data_dirs(data_dir):
        for candidate in candidates:
            if (folder / candidate).exists():
                return folder / candidate
    return None


@contextmanager
def _reading(path):
    """Turn a damaged or half-downloaded upstream file into one clear error."""
    try:
        yield
    except (OSError, EOFError, ValueError, KeyError, tarfile.TarError, zipfile.BadZipFile,
            pickle.UnpicklingError) as error:
        raise UserError(f"cannot read {path} ({type(error).__name__}: {error}); the file is "
                        "damaged or incomplete: delete it (it is downloaded again when "
                        "online) or replace it with the upstream file") from None


def _download(name, upstream_file, data_dir, **load_options):
    """Ask Keras to download `name`; offline, say which file to place where."""
    import keras

    try:
        return getattr(keras.datasets, name).load_data(**load_options)
    except Exception as error:  # Keras raises a bare Exception on a failed fetch
        where = Path(data_dir).expanduser() if data_dir else data_dirs()[-2]
        raise UserError(
            f"dataset '{name}' is not on this machine and could not be downloaded "
            f"({(str(error).splitlines() or [type(error).__name__])[0][:160]}); "
            f"put {upstream_file} in {where} "
            "(or in the folder given by --data-dir or $MLPHYS_DATA_DIR) and run again"
        ) from None


def _dataset(name, x_train, y_train, x_test, y_test, class_names, provenance):
    x_train, x_test = as_unit_images(x_train), as_unit_images(x_test)
    y_train = np.asarray(y_train, dtype=np.int64).ravel()
    y_test = np.asarray(y_test, dtype=np.int64).ravel()
    spec = infer_spec(x_train, y_train, "classification", class_names=class_names)
    return Dataset(name, spec, x_train, y_train, x_test, y_test, provenance=provenance)


@register_dataset("mnist", task="classification", kind="image", shape="28x28x1",
                  source="Keras (Y. LeCun, C. Cortes, C. Burges)", licence="CC BY-SA 3.0")
def mnist(data_dir=None):
    """70,000 handwritten digits 0-9, 28x28 grey (60,000 train, 10,000 test).

    Read from mnist.npz (keys x_train, y_train, x_test, y_test).
    """
    path = _find(data_dir, ["mnist.npz"])
    if path is None:
        arrays = _download("mnist", "mnist.npz", data_dir)
        path = "downloaded by keras.datasets.mnist"
    else:
        with _reading(path), np.load(path, allow_pickle=False) as f:
            arrays = (f["x_train"], f["y_train"]), (f["x_test"], f["y_test"])
    (x_train, y_train), (x_test, y_test) = arrays
    return _dataset("mnist", x_train, y_train, x_test, y_test, range(10),
                    {"source": str(path)})


def _read_idx(path, offset):
    """The bytes after the header of a gzipped idx file (LeCun's MNIST format)."""
    with _reading(path), gzip.open(path, "rb") as f:
        return np.frombuffer(f.read(), np.uint8, offset=offset)


@register_dataset("fashion_mnist", task="classification", kind="image", shape="28x28x1",
                  source="Keras (Zalando Research)", licence="MIT")
def fashion_mnist(data_dir=None):
    """70,000 Zalando article images in 10 classes, 28x28 grey (60,000 train, 10,000 test).

    Read from the four idx .gz files, in the data directory or its subfolder fashion-mnist/.
    """
    folder = None
    for base in data_dirs(data_dir):
        for candidate in (base / "fashion-mnist", base):
            if all((candidate / f).exists() for f in FASHION_FILES):
                folder = candidate
                break
        if folder:
            break
    if folder is None:
        (x_train, y_train), (x_test, y_test) = _download(
            "fashion_mnist", "the four files " + ", ".join(FASHION_FILES) +
            " (in a subfolder fashion-mnist/)", data_dir)
        source = "downloaded by keras.datasets.fashion_mnist"
    else:
        with _reading(folder):
            y_train = _read_idx(folder / FASHION_FILES[1], 8)
            x_train = _read_idx(folder / FASHION_FILES[0], 16).reshape(len(y_train), 28, 28)
            y_test = _read_idx(folder / FASHION_FILES[3], 8)
            x_test = _read_idx(folder / FASHION_FILES[2], 16).reshape(len(y_test), 28, 28)
        source = str(folder)
    return _dataset("fashion_mnist", x_train, y_train, x_test, y_test, FASHION_CLASSES,
                    {"source": source})


class _CifarArchive:
    """The pickled batches of a CIFAR release, from its .tar.gz or an extracted folder."""

    def __init__(self, path, inner):
        self.path, self.inner = Path(path), inner
        self._tar = tarfile.open(self.path, "r:gz") if self.path.is_file() else None

    def load(self, member):
        if self._tar is not None:
            raw = self._tar.extractfile(f"{self.inner}/{member}").read()
            return pickle.loads(raw, encoding="bytes")
        with open(self.path / member, "rb") as f:
            return pickle.load(f, encoding="bytes")

    def close(self):
        if self._tar is not None:
            self._tar.close()


def _cifar_images(batch):
    data = np.asarray(batch[b"data"], dtype=np.uint8)
    return data.reshape(-1, 3, 32, 32).transpose(0, 2, 3, 1)


def _open_cifar(data_dir, archive, inner):
    path = _find(data_dir, [archive, inner, f"{inner}-target/{inner}",
                            f"{inner}-target_archive"])
    if path is None:
        return None
    with _reading(path):
        return _CifarArchive(path, inner)


@register_dataset("cifar10", task="classification", kind="image", shape="32x32x3",
                  source="Keras (A. Krizhevsky, 2009)", licence="unspecified (research use)")
def cifar10(data_dir=None):
    """60,000 colour images 32x32 in 10 classes (50,000 train, 10,000 test).

    Read from cifar-10-python.tar.gz or its extracted folder cifar-10-batches-py/.
    """
    archive = _open_cifar(data_dir, "cifar-10-python.tar.gz", "cifar-10-batches-py")
    if archive is None:
        (x_train, y_train), (x_test, y_test) = _download(
            "cifar10", "cifar-10-python.tar.gz", data_dir)
        source = "downloaded by keras.datasets.cifar10"
    else:
        with _reading(archive.path):
            try:
                batches = [archive.load(f"data_batch_{i}") for i in range(1, 6)]
                test = archive.load("test_batch")
            finally:
                archive.close()
            x_train = np.concatenate([_cifar_images(b) for b in batches])
            y_train = np.concatenate([b[b"labels"] for b in batches])
            x_test, y_test = _cifar_images(test), test[b"labels"]
        source = str(archive.path)
    return _dataset("cifar10", x_train, y_train, x_test, y_test, CIFAR10_CLASSES,
                    {"source": source})


@register_dataset("cifar100", task="classification", kind="image", shape="32x32x3",
                  source="Keras (A. Krizhevsky, 2009)", licence="unspecified (research use)")
def cifar100(label_mode: str = "fine", data_dir=None):
    """60,000 colour images 32x32 in 100 fine (or 20 coarse) classes.

    Read from cifar-100-python.tar.gz or its extracted folder cifar-100-python/;
    `label_mode=coarse` gives the 20 superclasses.
    """
    if label_mode not in ("fine", "coarse"):
        raise UserError(f"--option label_mode={label_mode}: choose fine or coarse")
    archive = _open_cifar(data_dir, "cifar-100-python.tar.gz", "cifar-100-python")
    if archive is None:
        (x_train, y_train), (x_test, y_test) = _download(
            "cifar100", "cifar-100-python.tar.gz", data_dir, label_mode=label_mode)
        source, names = "downloaded by keras.datasets.cifar100", None
    else:
        key = f"{label_mode}_labels".encode()
        names_key = f"{label_mode}_label_names".encode()
        with _reading(archive.path):
            try:
                train, test = archive.load("train"), archive.load("test")
                meta = archive.load("meta")
            finally:
                archive.close()
            x_train, y_train = _cifar_images(train), train[key]
            x_test, y_test = _cifar_images(test), test[key]
            names = [n.decode() for n in meta[names_key]]
        source = str(archive.path)
    names = names or range(100 if label_mode == "fine" else 20)
    return _dataset("cifar100", x_train, y_train, x_test, y_test, names,
                    {"source": source, "label_mode": label_mode})
