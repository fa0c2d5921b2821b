"""Which Keras backend runs the model: TensorFlow or JAX, chosen before Keras is imported.

    from mlphys.backend import use_backend, default_backend
    use_backend("jax")          # sets KERAS_BACKEND; refused if Keras already runs another
    default_backend()           # KERAS_BACKEND, else the imported Keras', else tensorflow
    prefer_backend("jax")       # evaluate/predict: the run's backend if Keras is not loaded

Keras reads its backend once, when it is first imported (`KERAS_BACKEND`, else
~/.keras/keras.json), so `mlphys train --backend jax` sets the variable before the engine
imports Keras: the command line imports the engine lazily, and `RunConfig.resolved()`
calls `use_backend` before anything loads Keras. In a notebook that has imported Keras
already, a different backend is refused in one line. Data pipelines stay `tf.data` on both
backends (Keras iterates them), so TensorFlow is installed either way; JAX is the extra
`pip install 'mlphys[jax]'`. A saved `.keras` file is backend-neutral: a run trained on
JAX reopens under TensorFlow (saliency maps, `export`) and the other way round.
"""

import importlib.util
import os
import sys

from mlphys.errors import UserError

BACKENDS = ("tensorflow", "jax")


def default_backend():
    """The backend a run gets when none is chosen: `KERAS_BACKEND`, else that of a Keras
    this process imported already, else tensorflow."""
    chosen = os.environ.get("KERAS_BACKEND", "").strip().lower()
    if chosen:
        return chosen
    return imported_backend() or "tensorflow"


def imported_backend():
    """The backend of the Keras this process has imported, or None if it has not."""
    keras = sys.modules.get("keras")
    if keras is None or not hasattr(keras, "backend"):
        return None
    return keras.backend.backend()


def check_backend(name):
    """Refuse an unknown backend, or JAX where it is not installed, in one line."""
    if name not in BACKENDS:
        raise UserError(f"--backend {name}: choose one of {', '.join(BACKENDS)}")
    if name == "jax" and importlib.util.find_spec("jax") is None:
        raise UserError("--backend jax needs JAX: pip install 'mlphys[jax]'")


def use_backend(name):
    """Make Keras run on `name` (tensorflow or jax): set `KERAS_BACKEND` if Keras is not
    imported yet; refuse if it is, with another backend."""
    check_backend(name)
    current = imported_backend()
    if current is None:
        os.environ["KERAS_BACKEND"] = name
    elif current != name:
        raise UserError(f"--backend {name}: Keras is already imported in this process with "
                        f"the {current} backend; set KERAS_BACKEND={name} before importing "
                        "Keras (or mlphys), e.g. at the top of the notebook, or restart it")


def prefer_backend(name):
    """The run's backend where it can still be chosen (Keras not imported yet, and the
    backend installed), else whatever Keras runs: saved models open on either."""
    if name in BACKENDS and imported_backend() is None and (
            name != "jax" or importlib.util.find_spec("jax") is not None):
        os.environ["KERAS_BACKEND"] = name


def prefer_run_backend(runs):
    """`runs` (`mlphys.run.Run`s), after preferring the backend the first of them trained
    on (`prefer_backend`): what `evaluate` and `predict` open runs through."""
    config = next((run.config for run in runs if run.config is not None), None)
    if config is not None:
        prefer_backend(config.backend)
    return runs


def check_entry(entry, backend):
    """Refuse a model entry whose training step is written for another backend."""
    if backend not in entry.backends:
        raise UserError(f"model '{entry.name}' trains with TensorFlow code of its own "
                        f"(runs on {', '.join(entry.backends)}), not on {backend}: leave out "
                        f"--backend {backend} (see 'mlphys list models' for the entries "
                        "that run on JAX)")
