"""FITS files, read with astropy (`pip install 'mlphys[fits]'`): a table HDU, or an image
cube HDU with its labels.

    mlphys train mlp -d sky.fits -o hdu=1 --target class      # a table: one row a sample
    mlphys train cnn -d sky.fits -o hdu=IMAGES -o labels=LABELS --target label
    mlphys info sky.fits                                      # the HDUs, their shapes

`hdu` is an index or an extension name (default: the first HDU holding data). A table's
columns are chosen as in any table (`features`, `--target`); its TUNITn units go into the
run's provenance. An image cube (N, H, W) or (N, H, W, C) (FITS axes reversed, as NumPy
reads them) is an image dataset; `labels` is the HDU of its labels: a 1-D image, or a
table whose `target` column (default: its last) holds them. The cube's BUNIT is recorded.
"""

import numpy as np

from mlphys.data._optional import optional
from mlphys.data.files import arrays_dataset
from mlphys.data.tables import choose_columns, table_dataset
from mlphys.datasets import FileContents, register_file_format
from mlphys.errors import UserError


def _fits():
    return optional("astropy.io.fits", "fits", "FITS files")


def open_fits(path):
    """The astropy HDUList of `path`, read lazily; a damaged file is a UserError."""
    import warnings

    fits = _fits()
    try:
        with warnings.catch_warnings(record=True) as caught:  # astropy's own lines: ours
            warnings.simplefilter("always")
            hdus = fits.open(path, memmap=True)
            len(hdus)  # reads every header: a truncated file fails here, not half-way
        truncated = [str(w.message) for w in caught if "truncated" in str(w.message)]
        if truncated:
            raise ValueError(truncated[0])
        return hdus
    except (OSError, ValueError, fits.VerifyError) as error:
        raise UserError(f"cannot read '{path}' as a FITS file ({error}); write it with "
                        "astropy (astropy.io.fits.HDUList([...]).writeto(path))") from None


def _hdu(path, hdus, which, option="hdu"):
    """The HDU `which` (an index or EXTNAME) of `hdus`; by default the first with data."""
    listing = ", ".join(f"{i} {h.name}" for i, h in enumerate(hdus))
    if which is None:
        with_data = [h for h in hdus if h.data is not None]
        if not with_data:
            raise UserError(f"'{path}' has no HDU with data (it has: {listing})")
        return with_data[0]
    key = int(which) if str(which).lstrip("-").isdigit() else str(which)
    try:
        found = hdus[key]
    except (KeyError, IndexError):
        raise UserError(f"--option {option}={which}: '{path}' has no such HDU (it has: "
                        f"{listing})") from None
    if found.data is None:
        raise UserError(f"--option {option}={which}: HDU {which} of '{path}' holds no data")
    return found


def _native(values):
    """A FITS column or image in the machine's byte order (FITS is big-endian)."""
    values = np.asarray(values)
    if values.dtype.kind in "SU":
        return np.char.strip(values.astype(str))
    return values.astype(values.dtype.newbyteorder("="))


def _is_table(hdu):
    return hasattr(hdu, "columns")


def _table_columns(path, hdu):
    """{name: 1-D array} and {name: unit} of a table HDU's columns."""
    columns, units = {}, {}
    for column in hdu.columns:
        values = hdu.data[column.name]
        if np.ndim(values) != 1:
            continue  # array-valued cells are not one feature; listed by `mlphys info`
        columns[column.name] = _native(values)
        if column.unit:
            units[column.name] = str(column.unit)
    return columns, units


def describe(path, **options):
    """The HDUs: index, name, kind, shape (images) or rows and columns (tables)."""
    if options:
        raise UserError(f"'mlphys info {path}' takes no options (got {', '.join(options)})")
    with open_fits(path) as hdus:
        rows = []
        for index, hdu in enumerate(hdus):
            if _is_table(hdu):
                content = ", ".join(f"{c.name} [{c.unit}]" if c.unit else c.name
                                    for c in hdu.columns)
                shape = f"{hdu.header.get('NAXIS2', 0)} rows"
            else:
                shape = "x".join(map(str, hdu.shape)) if hdu.data is not None else "-"
                content = hdu.header.get("BUNIT", "")
            rows.append((index, hdu.name, type(hdu).__name__, shape, content))
    return FileContents(f"{path}: FITS, {len(rows)} HDU(s)",
                        ("hdu", "name", "type", "shape", "columns / units"), rows)


@register_file_format(".fits", ".fit", ".fts", describe=describe)
def fits_file(path, hdu: str | None = None, labels: str | None = None,
              target: str | None = None, features: str | None = None, task: str = "auto",
              test_split: float = 0.2, split_seed: int = 0):
    """A table HDU (`target` column, `features`), or an image cube HDU with the HDU of its
    `labels`; `hdu` is an index or a name (default: the first with data)."""
    with open_fits(path) as hdus:
        found = _hdu(path, hdus, hdu)
        if _is_table(found):
            if labels is not None:
                raise UserError("--option labels= goes with an image HDU; a table's labels "
                                "are its --target column")
            columns, units = _table_columns(path, found)
            names, target = choose_columns(path, list(columns), target, features)
            return table_dataset(path, {n: columns[n] for n in [*names, target]}, target,
                                 task, test_split, split_seed,
                                 {"hdu": found.name, "units": units})
        if labels is None:
            raise UserError(f"HDU {found.name} of '{path}' is an image of shape "
                            f"{found.shape}: give the HDU of its labels with -o labels=HDU")
        images = _native(found.data)
        if images.ndim not in (3, 4):
            raise UserError(f"HDU {found.name} of '{path}' has shape {images.shape}: an "
                            "image cube is (N, H, W) or (N, H, W, C) as NumPy reads it")
        y, provenance = _labels(path, _hdu(path, hdus, labels, "labels"), target)
        unit = found.header.get("BUNIT")
        provenance = {"hdu": found.name, **provenance,
                      **({"units": {found.name: str(unit)}} if unit else {})}
        return arrays_dataset(path, {"x_train": images, "y_train": y}, task, "image",
                              test_split, split_seed, "astropy: an ImageHDU of the images "
                              "and one of their labels", provenance)


def _labels(path, hdu, target):
    """(labels, provenance) from a 1-D image HDU or a table HDU's `target` column."""
    if not _is_table(hdu):
        return _native(hdu.data), {"labels": hdu.name}
    columns, _ = _table_columns(path, hdu)
    if not columns:
        raise UserError(f"HDU {hdu.name} of '{path}' has no column of one value per row")
    target = target or list(columns)[-1]
    if target not in columns:
        raise UserError(f"HDU {hdu.name} of '{path}' has no column '{target}': choose "
                        f"--target from {', '.join(columns)}")
    return columns[target], {"labels": hdu.name, "target": target}
