"""Generated datasets kept in the data directory, so that a slow generator runs once.

    from mlphys.dataset_cache import load_cached
    dataset = load_cached("duffing_sweep", loader, options, accepted, data_dir)

`mlphys.datasets.load_dataset` uses it for entries registered with `cache=True`: the
arrays go to `<data dir>/mlphys-cache/<name>-<key>.npz` and the spec and provenance to the
`.json` beside it, the key hashing the name and every option (defaults included).
"""

import os

import numpy as np

from mlphys.dataspec import DataSpec, Dataset, data_dirs

_CACHED_ARRAYS = ("x_train", "y_train", "x_val", "y_val", "x_test", "y_test",
                  "sigma_train", "sigma_val", "sigma_test")


def load_cached(name, loader, options, accepted, data_dir=None):
    """The dataset `loader(**options)` returns, kept in `<data dir>/mlphys-cache/` under a
    key of its name and every option (defaults included), so a second run loads it."""
    import hashlib
    import json

    settings = {k: v for k, (_, v) in accepted.items()} | options
    settings.pop("data_dir", None)
    key = hashlib.sha256(json.dumps([name, settings], sort_keys=True, default=str)
                         .encode()).hexdigest()[:16]
    folder = data_dirs(data_dir)[0] / "mlphys-cache"
    path = folder / f"{name}-{key}.npz"
    if path.exists():
        try:
            with np.load(path, allow_pickle=False) as stored:
                arrays = {k: stored[k] for k in stored.files}
            meta = json.loads(path.with_suffix(".json").read_text())
            return Dataset(name, DataSpec.from_dict(meta["spec"]),
                           provenance=meta["provenance"],
                           **{k: arrays.get(k) for k in _CACHED_ARRAYS})
        except (OSError, ValueError, KeyError, TypeError, EOFError):
            pass  # a damaged cache is regenerated below
    dataset = loader(**options)
    try:
        folder.mkdir(parents=True, exist_ok=True)
        arrays = {k: getattr(dataset, k) for k in _CACHED_ARRAYS
                  if getattr(dataset, k) is not None}
        partial = folder / f".{path.stem}-{os.getpid()}.npz"
        np.savez(partial, **arrays)
        path.with_suffix(".json").write_text(json.dumps(
            {"spec": dataset.spec.to_dict(),
             "provenance": {**dataset.provenance, "cached": str(path)}}, default=str))
        os.replace(partial, path)  # the .npz appears last and whole: it marks a complete entry
    except OSError:
        pass  # a read-only data directory: generate every time
    return dataset
