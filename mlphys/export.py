"""`mlphys export RUN --format savedmodel|onnx|litert`: a deployable copy of a run's model,
checked in its own runtime.

    result = export("saved_models/cnn-digits-...", "onnx")
    result.path              # .../export-onnx/model.onnx
    result.max_abs_diff      # largest |runtime - Keras| over the test samples

Keras 3's own `model.export` writes the artefact (`tf_saved_model`; `onnx` through
tf2onnx; `litert` through TensorFlow's TFLite converter). The artefact is then reloaded in
the runtime that will serve it (TensorFlow's `tf.saved_model.load`, onnxruntime, the
TFLite interpreter TensorFlow ships) and its outputs compared with the Keras model's on
the run's test samples (random inputs of the model's shape for a bare .keras file).
`export.json` beside it says the input shape and dtype, the class names, the
preprocessing the model expects, the difference measured and the versions used.
Everything is written into a temporary folder renamed into place at the end, so a failed
export leaves nothing, and an existing export is never replaced (`export-onnx-2/` ...).
"""

import os
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from mlphys.errors import UserError
from mlphys.quiet import silenced

KERAS_FORMATS = {"savedmodel": "tf_saved_model", "onnx": "onnx", "litert": "litert"}
ARTEFACTS = {"savedmodel": "saved_model", "onnx": "model.onnx", "litert": "model.tflite"}
RUNTIME_PACKAGES = {"onnx": ("onnx", "tf2onnx", "onnxruntime")}
TOLERANCE = 1e-4  # largest |runtime - Keras| accepted for float32 outputs


@dataclass(frozen=True)
class ExportResult:
    """path: the artefact; sidecar: export.json; max_abs_diff: the largest absolute
    difference between the runtime's and Keras' outputs over `samples` inputs."""

    path: Path
    sidecar: Path
    format: str
    max_abs_diff: float
    samples: int

    @property
    def passed(self):
        return self.max_abs_diff <= TOLERANCE


def export(run, fmt, *, out=None, samples=64, checkpoint="model", models_from=None):
    """Export the model of `run` (a run or tuning folder, a .keras file) to `fmt`, check
    it in its runtime and return an `ExportResult` (see the module docstring)."""
    from mlphys.prediction_files import check_output_folder
    from mlphys.run import Run, is_repeats_folder

    if fmt not in KERAS_FORMATS:
        raise UserError(f"--format {fmt}: choose {', '.join(KERAS_FORMATS)}")
    if is_repeats_folder(run):
        raise UserError(f"'{run}' holds one run per seed: export one of them "
                        f"({Path(run) / 'repeat-1'})")
    _check_runtime(fmt)
    run = Run.open(run, checkpoint=checkpoint, models_from=models_from)
    out = Path(out) if out is not None else run.path
    check_output_folder(out)
    x, source = sample_inputs(run, samples)
    expected = np.asarray(run.model.predict(x, verbose=0))
    out.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".export-{fmt}-", dir=out))
    try:
        artefact = staging / ARTEFACTS[fmt]
        with silenced():
            _keras_export(run.model, artefact, fmt)
            got = RUNTIMES[fmt](artefact, x)
        diff = float(np.max(np.abs(got.reshape(expected.shape) - expected)))
        from mlphys.rundir import write_json

        write_json(staging / "export.json", sidecar(run, fmt, x, diff, source))
        final = _free_name(out / f"export-{fmt}")
        os.rename(staging, final)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return ExportResult(final / ARTEFACTS[fmt], final / "export.json", fmt, diff, len(x))


def _check_runtime(fmt):
    import importlib.util

    missing = [p for p in RUNTIME_PACKAGES.get(fmt, ()) if importlib.util.find_spec(p) is None]
    if missing:
        raise UserError(f"--format {fmt} needs {', '.join(missing)}: pip install "
                        "'mlphys[export]'")


def _keras_export(model, path, fmt):
    """`model.export`, a failure of the converter reported in one line naming it."""
    import keras

    try:
        model.export(str(path), format=KERAS_FORMATS[fmt], verbose=False)
    except Exception as error:  # a converter's own error: an op or a model it cannot do
        reason = (str(error).strip().splitlines() or [""])[0][:300]
        raise UserError(f"cannot export model '{model.name}' to {fmt} with Keras "
                        f"{keras.__version__}: {type(error).__name__}: {reason}") from None


def _free_name(base):
    for n in range(1, 1000):
        path = Path(base if n == 1 else f"{base}-{n}")
        if not path.exists():
            return path
    raise UserError(f"too many exports named {base.name} in '{base.parent}'")


def sample_inputs(run, samples):
    """(x, description): the first `samples` test inputs of the run's dataset, or
    uniform random inputs of the model's input shape for a bare .keras file."""
    if run.config is not None:
        data = run.load_data()
        x = data.x_test[:samples]
        if isinstance(x, np.ndarray):
            return x.astype(np.float32), f"{len(x)} test samples of {data.name}"
    shape = tuple(run.model.input_shape[1:])
    x = np.random.default_rng(0).uniform(0, 1, (samples, *shape)).astype(np.float32)
    return x, f"{samples} uniform random inputs in [0, 1)"


def _run_savedmodel(path, x):
    import tensorflow as tf

    loaded = tf.saved_model.load(str(path))  # kept: its variables live as long as it does
    return np.asarray(loaded.serve(tf.constant(x)))


def _run_onnx(path, x):
    import onnxruntime

    session = onnxruntime.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    return np.asarray(session.run(None, {session.get_inputs()[0].name: x})[0])


def _run_litert(path, x):
    import tensorflow as tf

    interpreter = tf.lite.Interpreter(model_path=str(path))
    entry = interpreter.get_input_details()[0]
    interpreter.resize_tensor_input(entry["index"], list(x.shape))
    interpreter.allocate_tensors()
    interpreter.set_tensor(entry["index"], x)
    interpreter.invoke()
    return np.asarray(interpreter.get_tensor(interpreter.get_output_details()[0]["index"]))


RUNTIMES = {"savedmodel": _run_savedmodel, "onnx": _run_onnx, "litert": _run_litert}


def sidecar(run, fmt, x, diff, source):
    """The content of export.json: what a user of the artefact must know."""
    from mlphys.prediction import run_spec
    from mlphys.rundir import environment

    spec, provenance = run_spec(run)
    versions = environment()
    if fmt == "onnx":
        from importlib.metadata import version

        versions.update({p: version(p) for p in RUNTIME_PACKAGES["onnx"]})
    return {"format": fmt, "file": ARTEFACTS[fmt],
            "input_shape": [None, *spec.input_shape], "input_dtype": str(x.dtype),
            "output_shape": list(run.model.output_shape), "task": spec.task,
            "class_names": list(spec.class_names) if spec.class_names else None,
            "features": provenance.get("features"), "target": provenance.get("target"),
            "preprocessing": preprocessing(spec),
            "check": {"max_abs_difference": diff, "tolerance": TOLERANCE, "inputs": source},
            "run": str(run.path), "model": run.name,
            "versions": {k: versions[k] for k in ("mlphys", "keras", "tensorflow",
                                                   "numpy", *RUNTIME_PACKAGES.get(fmt, ()))
                         if k in versions}}


def preprocessing(spec):
    """In words: the inputs the model takes (standardisation is inside the model)."""
    shape = "x".join(str(s) for s in spec.input_shape)
    if spec.kind == "image":
        colour = {1: "grey", 3: "RGB"}.get(spec.input_shape[-1], "channels")
        return (f"float32 images of shape {shape} ({colour}), pixels scaled to [0, 1] "
                "(uint8 / 255), resized bilinearly to the model's height and width")
    return (f"raw float32 values of shape {shape} in the data's units (for a CSV table: "
            "the 'features' columns in that order); any standardisation is inside the model")
