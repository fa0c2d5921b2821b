"""Readers of new, unlabelled inputs for `mlphys predict`: .npz, .csv, image folders and
image files, checked against the data the run was trained on.

    mlphys predict RUN new_events.csv   # the training's feature columns (any order; its
                                        # target column, if present, is ignored)
    mlphys predict RUN x.npz            # an array x (or x_test, x_train, or the only one)
    mlphys predict RUN images/          # every image under the folder, any size, resized
    mlphys predict RUN a.png b.jpg      # as in training (bilinear, grey or RGB by the model)

They reuse the training readers' pieces (`mlphys.data.files`): the same pixel scaling,
resizing, NaN check and one-line errors.
"""

import zipfile
from pathlib import Path

import numpy as np

from mlphys.data._images import as_unit_images
from mlphys.data.files import (IMAGE_SUFFIXES, _image_or_vector, _read_images,
                               check_columns, read_table)
from mlphys.data_checks import check_finite
from mlphys.errors import UserError
from mlphys.inputs import Inputs, check_shape, register_input_format

NPZ_KEYS = ("x", "x_test", "x_train")  # the array predicted, the first one present


@register_input_format(".npz")
def npz_inputs(path, spec, provenance):
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
def csv_inputs(path, spec, provenance):
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
def folder_inputs(path, spec, provenance):
    """Every image under a folder (subfolders included; the ids are relative paths)."""
    return image_inputs([Path(path)], spec, provenance)


def image_inputs(paths, spec, provenance):
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
