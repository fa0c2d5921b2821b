"""mlphys: the canonical examples of machine learning for physicists, as a Keras 3 model zoo.

    import mlphys
    mlphys.list_models("cnn*")
    run = mlphys.train("cnn", "digits", epochs=5, seed=1)   # a Run
    run.metrics, run.history, run.path
    mlphys.evaluate(run.path)
    mlphys.predict(run, x)            # a pandas DataFrame, one row per sample
    mlphys.Run.open("saved_models/cnn-digits-20261201-101500").model

Importing mlphys is cheap: TensorFlow is imported only by what builds or runs a model,
and then without its start-up log (`mlphys.quiet`; MLPHYS_VERBOSE=1 shows it).
"""

from importlib import import_module

from mlphys.datasets import DataSpec, Dataset, list_datasets, load_dataset, register_dataset
from mlphys.errors import UserError
from mlphys.registry import get_model, list_models, register_model

try:
    from importlib.metadata import version as _version

    __version__ = _version("mlphys")
except Exception:  # not installed, e.g. run from a source tree
    __version__ = "0+unknown"

_LAZY = {  # heavy entry points, imported on first use
    "train": "mlphys.training",
    "tune": "mlphys.tuning",
    "Run": "mlphys.run",
    "RunConfig": "mlphys.runconfig",
    "evaluate": "mlphys.evaluation",
    "build_model": "mlphys.building",
    "predict": "mlphys.prediction",
}

__all__ = ["DataSpec", "Dataset", "Run", "RunConfig", "UserError", "build_model",
           "evaluate", "get_model", "list_datasets", "list_models", "load_dataset",
           "predict", "register_dataset", "register_model", "train", "tune", "__version__"]


def __getattr__(name):
    if name in _LAZY:
        import mlphys.quiet as quiet

        quiet.install()
        return getattr(import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'mlphys' has no attribute '{name}'")
