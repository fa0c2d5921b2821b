"""Readers of new, unlabelled inputs for `mlphys predict`: .npz, .csv, ROOT, HDF5, FITS,
Parquet and Feather files, image folders and image files, checked against the data the
run was trained on.

    mlphys predict RUN new_events.csv   # the training's feature columns (any order; its
                                        # target column, if present, is ignored)
    mlphys predict RUN x.npz            # an array x (or x_test, x_train, or the only one)
    mlphys predict RUN images/          # every image under the folder, any size, resized
    mlphys predict RUN a.png b.jpg      # as in training (bilinear, grey or RGB by the model)
    mlphys predict RUN new.root [-o tree=Events] [-o cut='nMuon == 2']   # entry numbers
    mlphys predict RUN new.parquet      # or .feather: the training's feature columns
    mlphys predict RUN new.h5 [-o x=/calo/images | -o table=/events]  # read in batches
    mlphys predict RUN new.fits [-o hdu=CAT]            # a table HDU or an image HDU

Tables (CSV aside) are read by the training readers' own column selection: the
training's feature columns by name (its target column, or any other, may be there too),
or `-o features=` names or wildcards. The options of a format default to the training's
(tree, pad, HDF5 dataset or table, FITS HDU).

They reuse the training readers' pieces (`mlphys.data.files`): the same pixel scaling,
resizing, NaN check and one-line errors.
"""

import re
import zipfile
from pathlib import Path

import numpy as np

from mlphys.data._images import as_unit_images
from mlphys.data.files import (IMAGE_SUFFIXES, _image_or_vector, _read_images,
                               check_columns, read_table)
from mlphys.data.tables import feature_matrix, match_columns
from mlphys.data_checks import check_finite
from mlphys.datasets import _coerce_option
from mlphys.errors import UserError
from mlphys.inputs import Inputs, check_shape, register_input_format

NPZ_KEYS = ("x", "x_test", "x_train")  # the array predicted, the first one present


@register_input_format(".npz")
def npz_inputs(path, spec, provenance, options=None):
    """The array `x` (else x_test, x_train, or the file's only array) of an .npz file."""
    try:
        with np.load(path, allow_pickle=False) as f:
            keys = list(f.files)
            key = next((k for k in NPZ_KEYS if k in keys), keys[0] if len(keys) == 1 else None)
            if key is None:
                raise UserError(f"'{path}' has no array x (it has: {', '.join(keys) or 'none'}"
                                "); save the inputs with numpy.savez(path, x=...)")
            x = f[key]
    except (OSError, ValueError, zipfile.BadZipFile, EOFError) as error:
        raise UserError(f"cannot read '{path}' as a NumPy .npz file ({error}); save the "
                        "inputs with numpy.savez(path, x=...)") from None
    return array_inputs(Path(path).stem, x, spec, key=key)


def array_inputs(name, x, spec, key="x"):
    """`Inputs` of an array (N, ...): uint8 images scaled to [0, 1], a channel axis added
    to (N, H, W) images, its shape checked against the model's and its values finite."""
    x = np.asarray(x)
    if x.ndim < 2:
        raise UserError(f"'{name}': array {key} has shape {x.shape}; give (N, ...) samples")
    x, _ = _image_or_vector(x, spec.kind)
    check_shape(name, x.shape[1:], spec.input_shape)
    check_finite(name, {key: x})
    return Inputs.of_array(name, x)


@register_input_format(".csv")
def csv_inputs(path, spec, provenance, options=None):
    """The training's feature columns of a CSV table (by name when the run trained on a
    CSV file; else every column, as many as the model's features)."""
    table = read_table(path)
    features, target = provenance.get("features"), provenance.get("target")
    name = Path(path).name
    if features:
        missing = [c for c in features if c not in table.columns]
        extra = [str(c) for c in table.columns if c not in features and c != target]
        if missing:
            raise UserError(f"'{name}' has no column(s) {', '.join(missing)}: the model "
                            f"reads the columns {', '.join(features)}")
        if extra:
            raise UserError(f"'{name}' has column(s) {', '.join(extra)} the model was not "
                            f"trained on: drop them (it reads {', '.join(features)})")
        columns = table[features]
    else:
        columns = table
    check_columns(path, columns, columns)
    x = columns.to_numpy(dtype=np.float32)
    check_shape(name, x.shape[1:], spec.input_shape)

    def where(key, index):  # line 1 of the file is the header
        return f"column '{columns.columns[index[1]]}', line {index[0] + 2} of the file"

    check_finite(Path(path).stem, {"its feature columns": x}, where)
    return Inputs.of_array(Path(path).stem, x)


def _image_files(paths):
    files = []
    for path in paths:
        if path.is_dir():
            files += sorted(f for f in path.rglob("*") if f.suffix.lower() in IMAGE_SUFFIXES
                            and not any(p.startswith(".") for p in f.relative_to(path).parts))
        else:
            files.append(path)
    return files


@register_input_format("/")
def folder_inputs(path, spec, provenance, options=None):
    """Every image under a folder (subfolders included; the ids are relative paths)."""
    return image_inputs([Path(path)], spec, provenance, options)


def image_inputs(paths, spec, provenance, options=None):
    """Images resized to the model's height x width (bilinear, as training's `size`),
    grey or RGB by its channels; decoded one batch at a time."""
    files = _image_files(paths)
    if not files:
        raise UserError(f"no images in '{paths[0]}' ({', '.join(sorted(IMAGE_SUFFIXES))})")
    shape = tuple(spec.input_shape)
    if len(shape) != 3 or None in shape:
        raise UserError(f"the model does not take images of a fixed size (it takes {shape})"
                        "; give an .npz file of arrays instead")
    height, width, channels = shape
    if channels not in (1, 3):
        raise UserError(f"the model takes images of {channels} channels; image files give "
                        "1 (grey) or 3 (RGB): give an .npz file instead")
    color = "grayscale" if channels == 1 else "rgb"
    root = paths[0] if len(paths) == 1 and paths[0].is_dir() else None
    ids = np.array([str(f.relative_to(root)) if root else str(f) for f in files])

    def read(start, stop):
        images, bad = _read_images(files[start:stop], (height, width), color)
        if bad:
            raise UserError(f"'{bad[0]}' could not be read as an image: remove or "
                            "replace it")
        return as_unit_images(np.stack(images))

    return Inputs(root.name if root else files[0].stem, ids, read)


image_inputs.suffixes = tuple(IMAGE_SUFFIXES)
register_input_format("image")(image_inputs)


def _wanted_columns(path, available, provenance, features):
    """The feature columns to read: `features` (names or wildcards) if given, else the
    training's feature columns by name (all of them must be there), else every column
    but the training's target."""
    if features:
        return match_columns(path, list(available), features)
    trained = provenance.get("features")
    if trained:
        missing = [c for c in trained if c not in available]
        if missing:
            raise UserError(f"'{Path(path).name}' has no column(s) {', '.join(missing)}: "
                            f"the model reads the columns {', '.join(trained)}")
        return list(trained)
    return [c for c in available if c != provenance.get("target")]


def table_inputs(path, columns, spec, ids=None, row_label=None):
    """`Inputs` of the feature columns {name: 1-D array} (text refused, as in training),
    shape and NaN checked; `ids` the rows' numbers in the file (default 0..N-1)."""
    name = Path(path).stem
    x = feature_matrix(path, columns)
    check_shape(Path(path).name, x.shape[1:], spec.input_shape)
    names, row_label = list(columns), row_label or (lambda i: f"row {i}")
    ids = np.arange(len(x)) if ids is None else np.asarray(ids)
    check_finite(name, {"its feature columns": x}, lambda key, index: (
        f"column '{names[index[1]]}', {row_label(int(ids[index[0]]))}"))
    return Inputs(name, ids, lambda a, b: x[a:b])


@register_input_format(".root", options=("tree", "cut", "pad", "features"))
def root_inputs(path, spec, provenance, options=None):
    """The training's feature branches of a TTree (options: `tree`, default the
    training's or the only one; `cut`, a selection, the ids being entry numbers; `pad`,
    default the training's; `features`)."""
    from mlphys.data.root_files import open_tree, read_branches

    options = options or {}
    found, _ = open_tree(path, options.get("tree", provenance.get("tree")))
    pad = options.get("pad", provenance.get("pad"))
    pad = None if pad is None else _coerce_option("pad", pad, int, Path(path).name)
    trained = [re.sub(r"\[\d+\]$", "", c) for c in provenance.get("features") or ()]
    branches = list(dict.fromkeys(trained))  # a padded branch's columns: one branch
    wanted = _wanted_columns(path, found.keys(), {**provenance, "features": branches},
                             options.get("features"))
    cut = options.get("cut")
    columns = read_branches(path, found, wanted, None, cut, pad)
    if provenance.get("features") and not options.get("features"):
        columns = {c: columns[c] for c in provenance["features"] if c in columns}
    ids = None
    if cut:
        passed = found.arrays(["passed"], aliases={"passed": cut}, library="np")["passed"]
        ids = np.flatnonzero(passed)
    return table_inputs(path, columns, spec, ids, lambda i: f"entry {i}")


@register_input_format(".parquet", options=("features",))
def parquet_inputs(path, spec, provenance, options=None):
    """The training's feature columns of a Parquet or Feather table (option: `features`)."""
    from mlphys.data.parquet_files import _reader, read_columns

    options = options or {}
    _, schema = _reader(path)
    wanted = _wanted_columns(path, schema.names, provenance, options.get("features"))
    return table_inputs(path, read_columns(path, wanted), spec)


for _suffix in (".pq", ".feather", ".arrow"):
    register_input_format(_suffix)(parquet_inputs)


@register_input_format(".h5", options=("x", "table", "features"))
def hdf5_inputs(path, spec, provenance, options=None):
    """An HDF5 file's array `x` (default: the training's x dataset path, else x, x_test,
    x_train or the only dataset), read a batch at a time; or with `table` (default the
    training's) a group of columns, the training's feature columns by name."""
    from mlphys.data.hdf5_files import _datasets, _item, _read, _table_columns, open_file

    options = options or {}
    if "x" in options and "table" in options:
        raise UserError("--option x= reads an array, table= a group of columns: give one")
    table = options.get("table", None if "x" in options else provenance.get("table"))
    with open_file(path) as handle:
        if table:
            columns = _table_columns(handle, table)
            wanted = _wanted_columns(path, list(columns), provenance,
                                     options.get("features"))
            return table_inputs(path, {n: columns[n] if isinstance(columns[n], np.ndarray)
                                       else _read(columns[n]) for n in wanted}, spec)
        found = _datasets(handle)
        trained = (provenance.get("datasets") or {}).get("x_train")
        where = options.get("x") or next(
            (k for k in (trained, "/x", "/x_test", "/x_train") if k and k in found),
            next(iter(found)) if len(found) == 1 else None)
        if where is None:
            raise UserError(f"'{path}' has no dataset x: choose the inputs with -o x=PATH "
                            f"(it has: {', '.join(found) or 'none'})")
        item = _item(handle, where, "x")
        shape, n, kind = item.shape, len(item), spec.kind
    sample = (*shape[1:], 1) if len(shape) == 3 and kind == "image" else shape[1:]
    check_shape(Path(path).name, sample, spec.input_shape)
    from mlphys.data.hdf5_files import HDF5Rows

    rows = HDF5Rows(path, where, n, "image" if kind == "image" else "vector")

    def read(start, stop):
        with rows.reader() as block:
            x = block(start, stop)
        check_finite(Path(path).stem, {where: x}, lambda key, index: (
            f"{where}[{', '.join(map(str, (start + index[0], *index[1:])))}]"))
        return x

    return Inputs(Path(path).stem, np.arange(n), read)


for _suffix in (".hdf5", ".hdf"):
    register_input_format(_suffix)(hdf5_inputs)


@register_input_format(".fits", options=("hdu", "features"))
def fits_inputs(path, spec, provenance, options=None):
    """A FITS table HDU's feature columns, or an image HDU (option `hdu`: default the
    training's, else the first with data; `features`)."""
    from mlphys.data.fits_files import _hdu, _is_table, _native, _table_columns, open_fits

    options = options or {}
    with open_fits(path) as hdus:
        which = options.get("hdu")
        if which is None and provenance.get("hdu") in [h.name for h in hdus]:
            which = provenance["hdu"]
        found = _hdu(path, hdus, which)
        if not _is_table(found):
            return array_inputs(Path(path).stem, _native(found.data), spec, key=found.name)
        columns, _ = _table_columns(path, found)
        wanted = _wanted_columns(path, list(columns), provenance, options.get("features"))
        return table_inputs(path, {n: columns[n] for n in wanted}, spec)


for _suffix in (".fit", ".fts"):
    register_input_format(_suffix)(fits_inputs)
