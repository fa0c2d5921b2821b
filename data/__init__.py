"""The datasets of mlphys: Keras' standard sets, sets bundled with installed packages,
physics generators with known ground truth, and readers for a user's own files.

Importing this package registers all of them; the registry API is re-exported here.
"""

import importlib
import pkgutil

from mlphys.datasets import (DataSpec, Dataset, list_datasets, load_dataset,  # noqa: F401
                             register_dataset)

for _module in pkgutil.iter_modules(__path__):
    if not _module.name.startswith("_"):
        importlib.import_module(f"{__name__}.{_module.name}")
