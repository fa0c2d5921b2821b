"""TensorFlow imported without its start-up log on the terminal.

    from mlphys import quiet
    quiet.install()               # the first `import tensorflow` from now on is quiet
    tf = quiet.import_tensorflow()   # or import it now, quietly

Importing TensorFlow and its first device query print half a dozen lines of C++ logging
on a machine without a GPU (absl's "All log messages before absl::InitializeLog()",
oneDNN, "Could not find cuda drivers", "failed call to cuInit"). `TF_CPP_MIN_LOG_LEVEL`
stops only some of them, so both steps run with file descriptor 2 pointed at a temporary
file, and only what a user needs comes back, as one line each:

- TensorFlow cannot be imported: `UserError` (also an `ImportError`) with the reason;
- a GPU is installed but TensorFlow cannot use it: a warning with TensorFlow's reason;
- the GPUs it found are kept for `devices_used()`: the training commands name them in
  one line when they have finished (not before: a user error stays the only line).

`install()` hooks the import instead of doing it, so that commands which end before they
need TensorFlow (a misspelt name, `list`, `info`) stay as fast as before.
`mlphys --verbose ...` or `MLPHYS_VERBOSE=1` turns all of this off and shows everything.

Once imported, TensorFlow's objects (about 460,000, nearly all the process holds) are
moved out of the garbage collector's sight with `gc.freeze()`: they live as long as the
process anyway, and every full collection (`keras.backend.clear_session()` runs one
between tuner trials and `reproduce` checks) walked them all, 0.4-0.7 s each here.
"""

import contextlib
import gc
import importlib.abc
import importlib.util
import io
import logging
import os
import sys
import tempfile
import warnings
from pathlib import Path

from mlphys.errors import UserError

_state = {"done": False, "gpus": ""}
# Python warnings of a normal run that tell a user nothing they can act on
_HARMLESS_WARNINGS = (
    # tune's best run reloads a trial's weights into a model whose optimizer never stepped
    "Skipping variable loading for optimizer",
)
# absl (Python logging) warnings of a normal run, likewise
_HARMLESS_LOGS = (
    # a legacy .h5 model reopened for evaluation: evaluating builds the metrics
    "Compiled the loaded model, but the compiled metrics have yet to be built",
)
_GPU_REASONS = ("Cannot dlopen", "cuInit", "CUDA_ERROR", "Could not find cuda",
                "Skipping registering GPU", "cudnn", "driver")


class TensorFlowUnavailable(UserError, ImportError):
    """TensorFlow cannot be imported; an `ImportError` too, for code that probes for it."""


def verbose():
    """True when `--verbose` or `MLPHYS_VERBOSE` (anything but 0/false/no) asks for the
    full log."""
    return os.environ.get("MLPHYS_VERBOSE", "").strip().lower() not in ("", "0", "false",
                                                                       "no")


def install():
    """Make the first `import tensorflow` of this process quiet (see the module docstring)."""
    if verbose():
        return
    for message in _HARMLESS_WARNINGS:
        warnings.filterwarnings("ignore", message=message)
    absl = logging.getLogger("absl")
    if not any(isinstance(f, _DropHarmless) for f in absl.filters):
        absl.addFilter(_DropHarmless())
    if _state["done"]:
        return
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")  # runtime INFO/WARNING lines too
    if "tensorflow" in sys.modules:  # imported already: only the device query is left
        import_tensorflow()
    elif not any(isinstance(f, _Finder) for f in sys.meta_path):
        sys.meta_path.insert(0, _Finder())


class _DropHarmless(logging.Filter):
    def filter(self, record):
        return not any(text in record.getMessage() for text in _HARMLESS_LOGS)


def import_tensorflow():
    """The `tensorflow` module, imported and its devices listed with the log captured."""
    if verbose():
        import tensorflow

        _freeze_imported()
        return tensorflow
    if not _state["done"]:
        _uninstall()
        os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
        _quietly(lambda: importlib.import_module("tensorflow"))
    return sys.modules["tensorflow"]


class _Finder(importlib.abc.MetaPathFinder):
    """Finds `tensorflow` as usual, with a loader that executes it quietly."""

    def find_spec(self, name, path=None, target=None):
        if name != "tensorflow":
            return None
        _uninstall()
        spec = importlib.util.find_spec(name)
        if spec is None:
            raise TensorFlowUnavailable("TensorFlow is not installed in this Python "
                                        f"({sys.executable}): pip install tensorflow")
        if spec.loader is not None:
            spec.loader = _QuietLoader(spec.loader)
        return spec


class _QuietLoader(importlib.abc.Loader):
    def __init__(self, loader):
        self.loader = loader

    def __getattr__(self, name):  # resource readers and the like: the real loader's
        return getattr(self.loader, name)

    def create_module(self, spec):
        return self.loader.create_module(spec)

    def exec_module(self, module):
        module.__loader__ = module.__spec__.loader = self.loader  # leave no trace

        def run():
            self.loader.exec_module(module)
            return module

        _quietly(run)


def _uninstall():
    sys.meta_path[:] = [f for f in sys.meta_path if not isinstance(f, _Finder)]


@contextlib.contextmanager
def _captured_stderr():
    """Everything written to fd 2 and to `sys.stderr` inside, as a list of lines at exit."""
    lines = []
    python_side = io.StringIO()
    with tempfile.TemporaryFile(mode="w+b") as capture:
        with contextlib.suppress(Exception):  # sys.stderr may be None (pythonw) or closed
            sys.stderr.flush()
        saved = os.dup(2)
        os.dup2(capture.fileno(), 2)
        try:
            with contextlib.redirect_stderr(python_side):
                yield lines
        finally:
            with contextlib.suppress(Exception):
                sys.stderr.flush()
            os.dup2(saved, 2)
            os.close(saved)
            capture.seek(0)
            text = capture.read().decode(errors="replace") + python_side.getvalue()
            lines.extend(line.strip() for line in text.splitlines() if line.strip())


def _quietly(load):
    """Run `load()` (which returns the tensorflow module) and the first device query with
    the log captured; then say, in one line, only what matters."""
    failure, gpus, tf = None, [], None
    with _captured_stderr() as lines:
        try:
            tf = load()
            gpus = tf.config.list_physical_devices("GPU")
        except Exception as error:  # noqa: BLE001 - reported in one line below
            failure = error
    _state["done"] = True
    _freeze_imported()
    if failure is not None:
        reason = str(failure).strip().splitlines()[0] if str(failure).strip() else (
            lines[-1] if lines else "no message")
        raise TensorFlowUnavailable(
            f"TensorFlow cannot be imported ({type(failure).__name__}: {reason}); "
            "reinstall it (pip install tensorflow), or run with MLPHYS_VERBOSE=1 to see "
            "its whole log") from None
    if gpus:
        _state["gpus"] = _describe(tf, gpus)
    elif _gpu_installed():
        print(f"warning: a GPU is installed but TensorFlow cannot use it "
              f"({_gpu_reason(tf, lines)}); running on the CPU (MLPHYS_VERBOSE=1 shows "
              "TensorFlow's log)", file=sys.stderr, flush=True)


def _freeze_imported():
    """Move every object alive now (TensorFlow's, once it is imported) to the collector's
    permanent generation: a full collection then costs milliseconds, not the 0.4-0.7 s of
    walking TensorFlow's objects. What a run creates later is collected as before."""
    if gc.get_freeze_count() == 0:  # once a process
        gc.freeze()


def devices_used():
    """'GPU:0 (NVIDIA H200), ...' if TensorFlow was imported here and found GPUs, else ''."""
    return _state["gpus"]


def _describe(tf, gpus):
    names = []
    for gpu in gpus:
        try:
            detail = tf.config.experimental.get_device_details(gpu).get("device_name")
        except Exception:  # noqa: BLE001 - the name is a nicety
            detail = None
        short = gpu.name.replace("/physical_device:", "")
        names.append(f"{short} ({detail})" if detail else short)
    return ", ".join(names)


def _gpu_installed():
    """An NVIDIA GPU is present and not hidden on purpose (CUDA_VISIBLE_DEVICES="" or -1)."""
    if os.environ.get("CUDA_VISIBLE_DEVICES", None) in ("", "-1"):
        return False
    gpus = Path("/proc/driver/nvidia/gpus")
    return (gpus.is_dir() and any(gpus.iterdir())) or Path("/dev/nvidia0").exists()


def _gpu_reason(tf, lines):
    if not tf.test.is_built_with_cuda():
        return "this TensorFlow is built without CUDA; pip install 'tensorflow[and-cuda]'"
    for line in lines:
        if any(word in line for word in _GPU_REASONS):
            return line.split("] ", 1)[-1]  # without absl's time and file prefix
    return "no reason logged"


@contextlib.contextmanager
def silenced():
    """Within the block, what converters print to fd 2 (TFLite's and tf2onnx's C++ logs)
    and Python warnings are dropped, unless `verbose()`; errors still propagate."""
    if verbose():
        yield
        return
    with _captured_stderr(), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        yield
