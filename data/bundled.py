"""Real datasets shipped inside scikit-learn: handwritten digits and Fisher's iris.

The files are read straight from scikit-learn's installed data folder: importing
`sklearn.datasets` alone takes about two seconds, longer than reading the data.
"""

import gzip
import importlib.util
from pathlib import Path

import numpy as np

from mlphys.datasets import Dataset, infer_spec, register_dataset, split_indices
from mlphys.errors import UserError
from mlphys.data._images import resize_bilinear


def _sklearn_data_file(name):
    spec = importlib.util.find_spec("sklearn")
    if spec is None or not spec.submodule_search_locations:
        raise UserError("scikit-learn is not installed: run 'pip install scikit-learn'")
    path = Path(list(spec.submodule_search_locations)[0]) / "datasets" / "data" / name
    if not path.exists():
        raise UserError(f"scikit-learn has no data file {path}: reinstall scikit-learn")
    return path


def _with_test_split(name, x, y, spec, test_split, split_seed, provenance):
    train, test = split_indices(y, test_split, split_seed, stratify=True)
    return Dataset(name, spec, x[train], y[train], x[test], y[test], provenance=provenance)


@register_dataset("digits", task="classification", kind="image", shape="28x28x1",
                  source="scikit-learn (UCI ML hand-written digits)", licence="CC BY 4.0")
def digits(size: int = 28, test_split: float = 0.2, split_seed: int = 0):
    """1,797 handwritten digits 0-9, upsampled bilinearly from 8x8 to size x size.

    The originals are 8x8 images with 17 grey levels (UCI, E. Alpaydin and C. Kaynak);
    the default 28x28 makes MNIST-shaped models run unchanged, `size=8` gives the
    originals. Pixels scaled to [0, 1]; a stratified test split of `test_split`.
    """
    if size < 1:
        raise UserError(f"--option size={size}: give a positive image size")
    with gzip.open(_sklearn_data_file("digits.csv.gz"), "rt") as f:
        table = np.loadtxt(f, delimiter=",")
    images = (table[:, :-1] / 16.0).reshape(-1, 8, 8).astype(np.float32)
    labels = table[:, -1].astype(np.int64)
    if size != 8:
        images = resize_bilinear(images, size, size)
    x = images[..., np.newaxis]
    spec = infer_spec(x, labels, "classification", class_names=range(10))
    return _with_test_split("digits", x, labels, spec, test_split, split_seed,
                            {"source": "scikit-learn digits.csv.gz", "size": size})


@register_dataset("iris", task="classification", kind="vector", shape="4",
                  source="scikit-learn (R. A. Fisher, 1936)", licence="CC BY 4.0")
def iris(test_split: float = 0.2, split_seed: int = 0):
    """150 iris flowers, 4 measurements in cm (sepal and petal length and width), 3 species."""
    path = _sklearn_data_file("iris.csv")
    with open(path) as f:
        header = f.readline().strip().split(",")
    table = np.loadtxt(path, delimiter=",", skiprows=1)
    x = table[:, :4].astype(np.float32)
    y = table[:, 4].astype(np.int64)
    spec = infer_spec(x, y, "classification", class_names=header[2:5])
    return _with_test_split("iris", x, y, spec, test_split, split_seed,
                            {"source": "scikit-learn iris.csv"})
