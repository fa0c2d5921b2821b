"""Unlabelled inputs for `mlphys predict`: `Inputs`, the readers' registry and `read_inputs`.

    inputs = read_inputs(["new_events.csv"], spec, provenance)   # or an .npz, an image
    for batch in inputs.batches(256):                            # folder, image files
        ...                               # float32 (B, *spec.input_shape)
    inputs.ids                            # (N,) row numbers, or image file names

The readers themselves live in the dataset package (`mlphys.data.inputs`, registered with
`register_input_format`), beside the readers of labelled training files, and share their
checks: NaN, shapes, channels and (for CSV tables) the training's feature columns. An
image folder is decoded one batch at a time, so memory stays flat for any number of files.
"""

from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import numpy as np

from mlphys.errors import UserError


@dataclass
class Inputs:
    """Samples to predict, read batch by batch.

    name: a short label for the predictions file (the input file's stem).
    ids: (N,) sample ids: row numbers for arrays and tables, file names for images.
    read: read(start, stop) -> float32 array (stop - start, *input_shape).
    truth: (N, ...) the labels when they are known (a registered dataset's split).
    """

    name: str
    ids: np.ndarray
    read: Callable
    truth: np.ndarray | None = None

    def __len__(self):
        return len(self.ids)

    def batches(self, batch_size):
        """Yield (start, float32 batch) over the samples, in order."""
        for start in range(0, len(self), batch_size):
            yield start, self.read(start, min(start + batch_size, len(self)))

    @classmethod
    def of_array(cls, name, x, truth=None):
        """Inputs of an in-memory array (N, ...), ids 0..N-1."""
        return cls(name, np.arange(len(x)), lambda a, b: x[a:b], truth)


_INPUT_FORMATS = {}


def register_input_format(suffix, options=None):
    """Register the decorated reader `fn(path, spec, provenance, options) -> Inputs` for
    inputs whose suffix is `suffix` (`"/"` for a folder, `"image"` for image files).

    spec: the run's `DataSpec` (input shape, kind; for a bare .keras file, the model's
        input shape); provenance: the training data's (its CSV feature and target
        columns); options: the names of the `-o NAME=VALUE` the reader takes (default
        none); `read_inputs` refuses any other and passes the user's ({name: text}) only
        when given, so a reader of (path, spec, provenance) alone keeps working."""

    def decorate(reader):
        if options is not None:
            reader.options = tuple(options)
        _INPUT_FORMATS[suffix] = reader
        return reader

    return decorate


def read_inputs(paths, spec, provenance=None, options=None):
    """`Inputs` of the files `paths` (one .npz, .csv, .root, .h5, .fits, .parquet or
    .feather file, or a folder, or several image files); `options` ({name: text}, `-o`)
    are the format's (a ROOT file's tree, an HDF5 dataset's path)."""
    from mlphys.datasets import load_data_modules

    load_data_modules()
    paths = [Path(p) for p in paths]
    missing = [str(p) for p in paths if not p.exists()]
    if missing:
        raise UserError(f"no such file or folder '{missing[0]}': give an existing .npz, "
                        ".csv, image folder or image files")
    suffixes = {"/" if p.is_dir() else p.suffix.lower() for p in paths}
    images = _INPUT_FORMATS.get("image")
    if images and suffixes <= set(images.suffixes):
        return _read(images, paths, paths[0], spec, provenance, options)
    if len(paths) > 1:
        raise UserError("give one file (.npz, .csv, .root, .h5, .fits, .parquet ...) or "
                        "folder, or several image files "
                        f"({', '.join(sorted(images.suffixes))})")
    suffix = suffixes.pop()
    if suffix not in _INPUT_FORMATS:
        known = ", ".join(s for s in sorted(_INPUT_FORMATS) if s not in ("/", "image"))
        raise UserError(f"cannot read '{paths[0]}' for prediction: give a {known} file, "
                        "a folder of images or image files")
    return _read(_INPUT_FORMATS[suffix], paths[0], paths[0], spec, provenance, options)


def _read(reader, where, path, spec, provenance, options):
    """`reader(where, ...)`, after refusing an option it does not take; the options are
    passed only when given (a reader of (path, spec, provenance) alone keeps working)."""
    allowed = getattr(reader, "options", ())
    unknown = [k for k in options or {} if k not in allowed]
    if unknown:
        takes = f"it takes {', '.join(allowed)}" if allowed else "it takes none"
        raise UserError(f"--option {unknown[0]}: reading '{path.name}' for prediction has "
                        f"no such option ({takes})")
    return reader(where, spec, provenance or {}, *([options] if options else []))


def check_shape(name, shape, expected):
    """Refuse samples of `shape` for a model that takes `expected` (None: any size)."""
    shape, expected = tuple(shape), tuple(expected)
    fits = len(shape) == len(expected) and all(e is None or e == s
                                               for s, e in zip(shape, expected))
    if fits:
        return
    what = "x".join(str(s) for s in shape)
    wanted = "x".join("?" if e is None else str(e) for e in expected)
    hint = "; give the inputs the run was trained on"
    if len(shape) == len(expected) == 3 and shape[:2] == expected[:2]:
        hint = (f": the model takes {expected[2]} channel(s), '{name}' has {shape[2]}"
                "; convert the images")
    elif len(shape) == len(expected) == 1:
        hint = (f": the model takes {expected[0]} features, '{name}' has {shape[0]}")
    raise UserError(f"'{name}' has samples of shape {what} but the model takes {wanted}"
                    f"{hint}")
