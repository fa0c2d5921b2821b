"""HDF5 files, read with h5py: arrays by dataset path, or a table of columns.

    mlphys train cnn -d showers.h5 -o x=/calo/images -o y=/calo/energy
    mlphys train cnn -d showers.h5             # datasets x_train, y_train [, x_test, ...]
    mlphys train mlp -d events.h5 -o table=/events --target mass   # a group of columns
    mlphys info showers.h5                     # every dataset: path, type, shape, units

`x` of shape (N, H, W[, C]) is an image dataset, (N, F) a vector one. A table is a group
of 1-D datasets of one length (one column each) or a compound dataset; its columns are
chosen as in any table (`features`, `--target`). A dataset's `units` (or `unit`)
attribute goes into the run's provenance.
"""

from contextlib import contextmanager
from pathlib import Path

import numpy as np

from mlphys.data._images import as_unit_images
from mlphys.data.arrays import dataset_from_arrays, infer_task
from mlphys.data.files import STREAM_ABOVE_BYTES, arrays_dataset
from mlphys.data.tables import choose_columns, table_dataset
from mlphys.datasets import FileContents, register_file_format
from mlphys.errors import UserError

SPLITS = ("x_train", "y_train", "x_val", "y_val", "x_test", "y_test")


def open_file(path):
    """The h5py.File of `path`, open for reading; a damaged file is a UserError."""
    import h5py

    try:
        return h5py.File(path, "r")
    except OSError as error:
        raise UserError(f"cannot read '{path}' as an HDF5 file ({error}); write it with "
                        "h5py (h5py.File(path, 'w').create_dataset(...))") from None


def _datasets(handle):
    """{path: h5py.Dataset} of every dataset in the file, in the file's order."""
    import h5py

    found = {}

    def visit(name, item):  # returns None: visititems stops at the first other value
        if isinstance(item, h5py.Dataset):
            found["/" + name] = item

    handle.visititems(visit)
    return found


def _units(item):
    for key in ("units", "unit"):
        if key in item.attrs:
            value = item.attrs[key]
            return value.decode() if isinstance(value, bytes) else str(value)
    return None


def _read(dataset, samples=False):
    """A dataset's values as NumPy (text decoded to str); `samples`: model inputs, so
    floating point is converted to float32 by HDF5 while it reads (one pass, no float64
    copy in memory), integers (uint8 pixels) kept for their scaling."""
    import h5py

    if h5py.check_string_dtype(dataset.dtype) is not None:
        return np.asarray(dataset.asstr()[()], dtype=str)
    if samples and dataset.dtype.kind == "f":
        return dataset.astype(np.float32)[()]
    values = dataset[()]
    return values.astype(str) if values.dtype.kind == "S" else values


def _item(handle, path, option):
    import h5py

    listing = ", ".join(_datasets(handle)) or "no datasets"
    if path not in handle:
        raise UserError(f"--option {option}={path}: '{handle.filename}' has no such dataset "
                        f"(it has: {listing})")
    item = handle[path]
    if option != "table" and not isinstance(item, h5py.Dataset):
        raise UserError(f"--option {option}={path} is a group, not a dataset (there are: "
                        f"{listing})")
    return item


def _table_columns(handle, path):
    """{column: dataset or array} of a group of 1-D datasets or a compound dataset."""
    import h5py

    item = _item(handle, path, "table")
    if isinstance(item, h5py.Dataset):
        if item.dtype.names is None:
            raise UserError(f"--option table={path} is a plain array; give a group of "
                            "columns or a compound dataset, or use -o x=... -o y=...")
        values = item[()]
        return {name: values[name] for name in item.dtype.names}
    columns = {name: d for name, d in item.items()
               if isinstance(d, h5py.Dataset) and d.ndim == 1}
    if len({len(c) for c in columns.values()}) > 1:
        lengths = ", ".join(f"{n} ({len(c)})" for n, c in columns.items())
        raise UserError(f"the columns of {path} in '{handle.filename}' have different "
                        f"lengths: {lengths}")
    return columns


class HDF5Rows:
    """The rows of the HDF5 dataset `name` in `file` as float32 samples (uint8 images
    scaled to [0, 1], (H, W) images given a channel axis): an `ArrayStream`'s source."""

    def __init__(self, file, name, n_rows, kind):
        self.file, self.name, self.n_rows, self.kind = str(file), name, n_rows, kind

    def blocks(self, size):
        return [(start, min(start + size, self.n_rows))
                for start in range(0, self.n_rows, size)]

    @contextmanager
    def reader(self):
        import h5py

        with h5py.File(self.file, "r") as handle:
            dataset = handle[self.name]
            if self.kind == "image":
                yield lambda start, stop: as_unit_images(dataset[start:stop])
            elif dataset.dtype.kind == "f":  # converted by HDF5 while it reads
                converted = dataset.astype(np.float32)
                yield lambda start, stop: converted[start:stop]
            else:
                yield lambda start, stop: dataset[start:stop].astype(np.float32)


def _streamed(path, items, paths, kind, task, test_split, split_seed, provenance):
    """A `Dataset` whose x splits are `ArrayStream`s of the file's rows (labels in memory:
    they are small); the samples are checked for NaN once, a block at a time, here."""
    from mlphys.streams import ArrayStream

    x = items["x_train"]
    if kind == "auto":
        kind = {2: "vector", 3: "image", 4: "image"}.get(x.ndim)
    if kind not in ("vector", "image") or x.ndim not in (2, 3, 4):
        raise UserError(f"--stream reads vectors (N, F) or images (N, H, W[, C]); "
                        f"{paths['x_train']} has shape {x.shape}")
    shape = (*x.shape[1:], 1) if x.ndim == 3 else x.shape[1:]
    splits = {}
    for split in ("train", "val", "test"):
        if f"x_{split}" in items:
            source, labels = items[f"x_{split}"], _read(items[f"y_{split}"])
            if len(source) != len(labels):
                raise UserError(f"'{path}': x_{split} has {len(source)} samples but "
                                f"y_{split} has {len(labels)}")
            stream = ArrayStream(HDF5Rows(path, source.name, len(source), kind),
                                 np.arange(len(source)), shape, kind)
            if source.dtype.kind == "f":  # integers (pixels) are finite
                stream.check_finite(Path(path).stem, lambda row, at, name=source.name: (
                    f"{name}[{', '.join(map(str, (row, *at)))}]"))
            splits[split] = (stream, labels)
    y = splits["train"][1]
    task = infer_task(y, task)
    return dataset_from_arrays(Path(path).stem, *splits["train"], task,
                   *splits.get("test", (None, None)), test_split, split_seed, provenance,
                   *splits.get("val", (None, None)), kind=kind)


def describe(path, **options):
    """Every dataset of the file: its path, type, shape and units."""
    if options:
        raise UserError(f"'mlphys info {path}' takes no options (got {', '.join(options)})")
    with open_file(path) as handle:
        rows = [(name, str(d.dtype), "x".join(map(str, d.shape)) or "scalar",
                 _units(d) or "") for name, d in _datasets(handle).items()]
    return FileContents(f"{path}: HDF5, {len(rows)} dataset(s)",
                        ("dataset", "type", "shape", "units"), rows)


@register_file_format(".h5", ".hdf5", ".hdf", describe=describe)
def hdf5_file(path, x: str | None = None, y: str | None = None, x_test: str | None = None,
              y_test: str | None = None, table: str | None = None,
              target: str | None = None, features: str | None = None, task: str = "auto",
              kind: str = "auto", test_split: float = 0.2, split_seed: int = 0,
              stream: bool | None = None):
    """Arrays by dataset path (`x`, `y`, optionally `x_test`, `y_test`), the datasets
    x_train, y_train [, x_val, y_val, x_test, y_test] at the top, or a `table` (a group of
    columns or a compound dataset) with a `target` column and `features`. `stream=true`
    reads the x arrays in chunks during training (the default above 2 GiB as float32)."""
    if table and (x or y):
        raise UserError("--option table= reads a table of columns; x= and y= read arrays: "
                        "give one or the other")
    if (x is None) != (y is None) or (x_test is None) != (y_test is None):
        raise UserError("give both --option x=PATH and --option y=PATH (and both or neither "
                        "of x_test and y_test)")
    with open_file(path) as handle:
        if table:
            columns = _table_columns(handle, table)
            names, target = choose_columns(path, list(columns), target, features)
            units = {n: _units(columns[n]) for n in [*names, target]
                     if not isinstance(columns[n], np.ndarray) and _units(columns[n])}
            values = {n: columns[n] if isinstance(columns[n], np.ndarray)
                      else _read(columns[n]) for n in [*names, target]}
            return table_dataset(path, values, target, task, test_split, split_seed,
                                 {"table": table, "units": units})
        if x is None and "x_train" not in handle:
            listing = ", ".join(f"{n} ({'x'.join(map(str, d.shape))})"
                                for n, d in _datasets(handle).items())
            raise UserError(f"'{path}' has no dataset x_train: give -o x=PATH -o y=PATH, or "
                            f"-o table=GROUP --target COLUMN (it has: {listing or 'none'})")
        paths = ({k: k for k in SPLITS if k in handle} if x is None else
                 {k: v for k, v in (("x_train", x), ("y_train", y), ("x_test", x_test),
                                    ("y_test", y_test)) if v})
        items = {key: _item(handle, where, key.replace("_train", ""))
                 for key, where in paths.items()}
        units = {paths[k]: _units(i) for k, i in items.items() if _units(i)}
        if stream is None:  # as image folders: stream what would not comfortably fit
            stream = sum(i.size for k, i in items.items() if k[0] == "x") * 4 > \
                STREAM_ABOVE_BYTES
        if stream:
            return _streamed(path, items, paths, kind, task, test_split, split_seed,
                             {"datasets": paths, "units": units, "stream": True})
        arrays = {key: _read(item, samples=key[0] == "x") for key, item in items.items()}
    return arrays_dataset(path, arrays, task, kind, test_split, split_seed,
                          "h5py: f.create_dataset('x_train', data=...), and 'y_train'",
                          {"datasets": paths, "units": units})
