"""Opening a saved Keras model, with every kind of wrong file answered in one line.

    from mlphys.model_files import load_keras_model
    model = load_keras_model("saved_models/cnn-digits-20261121-101500/model.keras")

A file is recognised by its first bytes, not its name: a `.keras` archive is a zip file
with a `config.json`, a legacy Keras 2 model is an HDF5 file with a `model_config`
attribute (a `.weights.h5` file has none). Keras' own messages for the other cases are
misleading ("File not found" for a file that exists but is not a zip archive), so each
case gets its own `UserError`: not a model file, a damaged or truncated archive, a zip
that is no Keras model, weights without a model, a name Keras will not open, a layer
whose class is not registered (a plugin's model without `--models-from`).
"""

import re
import zipfile
from pathlib import Path

from mlphys.errors import UserError

ZIP_MAGIC = b"PK\x03\x04"
HDF5_MAGIC = b"\x89HDF\r\n\x1a\n"
FIX_ARCHIVE = "copy it again, or train again (every run folder has model.keras and best.keras)"


def file_kind(path):
    """"keras" (a zip archive), "hdf5" or None, from the first bytes of the file."""
    with open(path, "rb") as f:
        head = f.read(8)
    if head.startswith(ZIP_MAGIC) or head.startswith(b"PK\x05\x06"):  # (an empty zip)
        return "keras"
    if head == HDF5_MAGIC:
        return "hdf5"
    return None


def load_keras_model(path):
    """`keras.models.load_model(path)`, with a damaged or foreign file reported in one line."""
    path = Path(path)
    if not path.is_file():
        raise UserError(f"no model file '{path}'")
    kind = file_kind(path)
    if kind is None:
        raise UserError(f"cannot read '{path}': it is not a Keras model file (neither a .keras archive nor "
                        "a legacy .h5 model): give a run folder or its model.keras")
    if kind == "keras":
        _check_archive(path)
    else:
        _check_hdf5(path)
    return _load(path, kind)


def _check_archive(path):
    try:
        with zipfile.ZipFile(path) as archive:
            names = set(archive.namelist())
    except (zipfile.BadZipFile, OSError, EOFError) as error:
        raise UserError(f"cannot read '{path}': it is a damaged .keras archive, truncated or corrupted "
                        f"({error}): {FIX_ARCHIVE}") from None
    if "config.json" not in names:
        raise UserError(f"cannot read '{path}': it is a zip archive but not a Keras model (it has no "
                        "config.json): give a model.keras saved by Keras 3 or mlphys")
    if path.suffix != ".keras":
        raise UserError(f"cannot read '{path}': it is a Keras archive whose name does not end in .keras, "
                        "which Keras requires: rename it to end in .keras")


def _check_hdf5(path):
    try:
        import h5py

        with h5py.File(path, "r") as f:
            has_model = "model_config" in f.attrs
    except ImportError:
        return  # Keras reports it when it tries
    except OSError as error:
        raise UserError(f"cannot read '{path}': it is a damaged HDF5 file ({error}): {FIX_ARCHIVE}") from None
    if not has_model:
        raise UserError(f"cannot read '{path}': it holds weights only, not a model: give the run folder it "
                        "belongs to, or its model.keras")
    if path.suffix not in (".h5", ".hdf5"):
        raise UserError(f"cannot read '{path}': it is a legacy HDF5 model whose name does not end in .h5, "
                        "which Keras requires: rename it to end in .h5")


def _load(path, kind):
    import keras

    from mlphys.registry import define_keras_objects

    define_keras_objects()  # the zoo's custom classes, so that a fresh process finds them
    try:
        return keras.models.load_model(path)
    except (TypeError, ValueError, KeyError, AttributeError) as error:
        text = str(error)
        if "Could not locate" in text or "Unknown layer" in text or "custom" in text.lower():
            unknown = re.search(r"(?:Could not locate (?:class|function)|Unknown "
                                r"[a-z ]+:) '([^']+)'", text)
            what = f"class '{unknown.group(1)}'" if unknown else "a layer or model class"
            legacy = (" or, for a Keras 2 layer, re-save the model as .keras with the Keras "
                      "that wrote it") if kind == "hdf5" else ""
            raise UserError(
                f"cannot read '{path}': it {'is a legacy HDF5 model that ' if legacy else ''}"
                f"uses {what}, which is not registered in this process: pass --models-from "
                f"with the Python file or module that defines it{legacy}") from None
        raise _unreadable(path, kind, error) from None
    except (zipfile.BadZipFile, OSError, EOFError, UnicodeDecodeError) as error:
        raise _unreadable(path, kind, error) from None


def _unreadable(path, kind, error):
    what = ("a damaged .keras archive" if kind == "keras" and not _archive_intact(path)
            else "a legacy HDF5 model (Keras 2) that this Keras cannot rebuild"
            if kind == "hdf5" else "a .keras archive this Keras cannot rebuild")
    fix = (FIX_ARCHIVE if "damaged" in what else "re-save it as .keras with the Keras that "
           "wrote it (model.save('model.keras')), or train again")
    return UserError(f"cannot read '{path}': it is {what} ({type(error).__name__}: "
                     f"{_first_line(str(error))}): {fix}")


def _archive_intact(path):
    try:
        with zipfile.ZipFile(path) as archive:
            return archive.testzip() is None
    except (zipfile.BadZipFile, OSError, EOFError):
        return False


def _first_line(text):
    text = text.strip()
    return text.splitlines()[0] if text else "no message"
