"""Run directories: `<out>/<model>-<dataset>-<YYYYmmdd-HHMMSS>/`, never overwritten."""

import json
import os
import platform
import re
import subprocess
import sys
import time
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path

import numpy as np

from mlphys.errors import UserError

DEFAULT_OUT = "saved_models"


def check_writable(out):
    """Create the output folder if needed and make sure a run can be written into it."""
    out = Path(out or DEFAULT_OUT)
    try:
        out.mkdir(parents=True, exist_ok=True)
    except FileExistsError:
        raise UserError(f"--out '{out}' is a file, not a folder: give a folder") from None
    except OSError as error:
        raise UserError(f"cannot create the output folder '{out}' ({error.strerror}); "
                        "choose another with --out") from None
    if not out.is_dir():
        raise UserError(f"--out '{out}' is not a folder: give a folder")
    if not os.access(out, os.W_OK | os.X_OK):
        raise UserError(f"cannot write into '{out}' (permission denied); choose another "
                        "folder with --out")
    return out


def new_run_dir(out, model, dataset, prefix="", name=None):
    """Make and return a fresh run folder; an existing one gets a suffix, never reused.

    name: the folder's name instead of `<prefix><model>-<dataset>-<YYYYmmdd-HHMMSS>`.
    """
    out = check_writable(out)
    stem = name or f"{prefix}{model}-{re.sub(r'[^A-Za-z0-9_.]+', '_', dataset)}-" \
                   f"{time.strftime('%Y%m%d-%H%M%S')}"
    for n in range(1, 1000):
        path = out / (stem if n == 1 else f"{stem}-{n}")
        try:
            path.mkdir()
            return path
        except FileExistsError:
            continue
    raise UserError(f"too many runs named {stem} in '{out}'")


def _package_version(name):
    try:
        return version(name)
    except PackageNotFoundError:
        return None


def git_commit():
    """The commit of the mlphys source tree, with '+dirty' for local changes, or None."""
    here = Path(__file__).resolve().parent
    try:
        commit = subprocess.run(["git", "-C", str(here), "rev-parse", "HEAD"],
                                capture_output=True, text=True, timeout=5)
        if commit.returncode != 0:
            return None
        dirty = subprocess.run(["git", "-C", str(here), "status", "--porcelain",
                                "--untracked-files=no"], capture_output=True, text=True,
                               timeout=5)
        return commit.stdout.strip() + ("+dirty" if dirty.stdout.strip() else "")
    except (OSError, subprocess.TimeoutExpired):
        return None


def environment():
    """Versions of everything that decides a result, for `config.json`."""
    return {
        "mlphys": _package_version("mlphys"),
        "tensorflow": _package_version("tensorflow"),
        "keras": _package_version("keras"),
        "keras_tuner": _package_version("keras-tuner"),
        **({"jax": _package_version("jax")} if "jax" in sys.modules else {}),
        "numpy": np.__version__,
        "python": sys.version.split()[0],
        "platform": platform.platform(),
        "git_commit": git_commit(),
    }


def _jsonable(value):
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_jsonable(v) for v in value]
    if isinstance(value, Path):
        return str(value)
    if isinstance(value, np.generic):
        return value.item()
    return value


def write_json(path, content):
    """Write `content` as indented JSON, atomically (a reader never sees half a file)."""
    path = Path(path)
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(json.dumps(_jsonable(content), indent=2) + "\n")
    tmp.replace(path)


def read_config(run_dir):
    """The `config.json` of a run folder."""
    path = Path(run_dir) / "config.json"
    try:
        return json.loads(path.read_text())
    except FileNotFoundError:
        raise UserError(f"'{run_dir}' has no config.json: give a run folder made by "
                        "'mlphys train', or a .keras file with --dataset") from None
    except (json.JSONDecodeError, UnicodeDecodeError, OSError) as error:
        raise UserError(f"cannot read {path} ({error}); the run folder is damaged") from None
