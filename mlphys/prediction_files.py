"""Writing predictions: one writer per format, never over an existing file.

    path = write_predictions(table, "saved_models/cnn-digits-.../", "new_events", "csv")
    # -> .../predictions-new_events.csv, or predictions-new_events-2.csv if that exists

csv (pandas, no index), parquet (pandas with pyarrow) or npz (NumPy: one array per
column, text as unicode arrays, so `numpy.load(path)` reads it without pickle). Per-pixel
predictions (`PixelPredictions`) are npz only: ids, mean (N, H, W, C), std, classes.
The file is written under a temporary name and linked to its final name only if that
name is free, so a failed write leaves nothing and an existing file is never replaced.
"""

import os
import tempfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from mlphys.errors import UserError


@dataclass
class PixelPredictions:
    """Per-pixel outputs. ids: (N,); mean: (N, H, W, C) the model's output (class
    probabilities or target values); std: the same shape, over the members (None for a
    single model); classes: (N, H, W) the most probable class of each pixel, or None."""

    ids: np.ndarray
    mean: np.ndarray
    std: np.ndarray | None
    classes: np.ndarray | None
    members: int


FORMATS = ("csv", "parquet", "npz")


def check_output_folder(out):
    """Refuse an output folder that cannot be created or written, before any work (the
    folder itself is made only when the file is written)."""
    out = Path(out)
    if out.exists() and not out.is_dir():
        raise UserError(f"--out '{out}' is a file, not a folder: give a folder")
    existing = next(p for p in [out, *out.parents] if p.exists() or p == Path(p.anchor))
    if not existing.is_dir() or not os.access(existing, os.W_OK | os.X_OK):
        raise UserError(f"cannot write into '{existing}' (permission denied); choose "
                        "another folder with --out")


def choose_format(result, fmt):
    """The format to write `result` in: `fmt`, or csv for tables and npz per pixel."""
    pixels = isinstance(result, PixelPredictions)
    if fmt is None:
        return "npz" if pixels else "csv"
    if fmt not in FORMATS:
        raise UserError(f"--format {fmt}: choose {', '.join(FORMATS)}")
    if pixels and fmt != "npz":
        raise UserError(f"--format {fmt}: this model predicts an output per pixel, which "
                        "is written as arrays; use --format npz")
    if fmt == "parquet":
        try:
            import pyarrow  # noqa: F401
        except ImportError:
            raise UserError("--format parquet needs pyarrow: pip install "
                            "'mlphys[parquet]' (or use --format csv)") from None
    return fmt


def write_predictions(result, out, stem, fmt=None):
    """Write `result` (a DataFrame or `PixelPredictions`) into the folder `out` as
    predictions-<stem>.<fmt>; return the path of the new file."""
    from mlphys.rundir import check_writable

    fmt = choose_format(result, fmt)
    out = check_writable(out)
    handle, tmp = tempfile.mkstemp(prefix=".predictions-", suffix=f".{fmt}", dir=out)
    os.close(handle)
    tmp = Path(tmp)
    try:
        _WRITERS[fmt](result, tmp)
        return _link_to_free_name(tmp, out / f"predictions-{stem}", fmt)
    finally:
        tmp.unlink(missing_ok=True)


def _link_to_free_name(tmp, base, fmt):
    for n in range(1, 10000):
        path = Path(f"{base}.{fmt}" if n == 1 else f"{base}-{n}.{fmt}")
        try:
            os.link(tmp, path)  # fails if the name is taken: never replaces a file
            return path
        except FileExistsError:
            continue
    raise UserError(f"too many predictions files named {base.name} in '{base.parent}'")


def _write_csv(table, path):
    table.to_csv(path, index=False)


def _write_parquet(table, path):
    table.to_parquet(path, index=False)


def _plain(values):
    """An array NumPy saves without pickle: text as unicode."""
    values = np.asarray(values)
    return values.astype(str) if values.dtype.kind == "O" else values


def _write_npz(result, path):
    if isinstance(result, PixelPredictions):
        arrays = {"ids": result.ids, "mean": result.mean, "std": result.std,
                  "classes": result.classes}
    else:
        arrays = {str(c): result[c].to_numpy() for c in result.columns}
    with open(path, "wb") as f:
        np.savez(f, **{k: _plain(v) for k, v in arrays.items() if v is not None})


_WRITERS = {"csv": _write_csv, "parquet": _write_parquet, "npz": _write_npz}
