"""`mlphys train MODEL --repeats N`: the same training with N seeds, and error bars.

One folder holds the N runs (`repeat-1/` ... `repeat-N/`, each a complete run folder) and
a `metrics.json` with the mean and sample standard deviation (ddof = 1) of every test
metric over the seeds, so a result is reported as mean +- std, not as one lucky seed.
"""

import math
import secrets
import time
from pathlib import Path

import numpy as np

from mlphys.errors import UserError


def train_repeated(model_name, dataset=None, *, repeats, seed=None, out=None, command=None,
                   **train_options):
    """Train `repeats` times with seeds seed, seed+1, ...; return the summary dict."""
    from mlphys.datasets import dataset_label
    from mlphys.registry import get_model, load_plugin
    from mlphys.rundir import check_writable, new_run_dir, write_json
    from mlphys.training import train

    if repeats < 1:
        raise UserError(f"--repeats {repeats}: give a number of seeds >= 1")
    load_plugin(train_options.get("models_from"))
    entry = get_model(model_name)
    label = dataset_label(dataset or entry.dataset or "data")
    check_writable(out)
    seed = secrets.randbelow(2**31) if seed is None else seed
    folder = new_run_dir(out, model_name, label, prefix="repeats-")
    seeds = [seed + k for k in range(repeats)]
    config = {"model": model_name, "dataset": dataset or entry.dataset, "repeats": repeats,
              "seeds": seeds, "command": command, "status": "running",
              "started": time.strftime("%Y-%m-%dT%H:%M:%S")}
    write_json(folder / "config.json", config)
    runs = []
    for k, run_seed in enumerate(seeds, start=1):
        result = train(model_name, dataset, seed=run_seed, out=folder,
                       run_name=f"repeat-{k}", command=command, **train_options)
        runs.append({"seed": run_seed, "run_dir": result["run_dir"],
                     "status": result["status"], "metrics": result["metrics"]})
    summary = summarise([r["metrics"] for r in runs])
    write_json(folder / "metrics.json", {"split": "test", "repeats": repeats, **summary,
                                         "runs": runs})
    config.update(status="finished", finished=time.strftime("%Y-%m-%dT%H:%M:%S"))
    write_json(folder / "config.json", config)
    return {"run_dir": str(folder), "repeats": repeats, "seeds": seeds, **summary,
            "runs": runs}


def summarise(metrics_per_run):
    """{"mean": {...}, "std": {...}} over runs of every metric all runs report."""
    names = [k for k in metrics_per_run[0] if all(k in m for m in metrics_per_run)]
    mean, std = {}, {}
    for name in names:
        values = np.array([m[name] for m in metrics_per_run], dtype=float)
        mean[name] = float(np.mean(values))
        std[name] = float(np.std(values, ddof=1)) if len(values) > 1 else math.nan
    return {"mean": mean, "std": std}


def format_mean_std(mean, std):
    """'0.9712 +- 0.0031' with the digits the spread supports (two significant)."""
    if not math.isfinite(std) or std == 0:
        return f"{mean:.4g}"
    digits = max(0, 1 - int(math.floor(math.log10(abs(std)))))
    return f"{mean:.{digits}f} +- {std:.{digits}f}" if digits < 8 else f"{mean:.3g} +- {std:.2g}"


def is_repeats_folder(path):
    path = Path(path)
    return path.is_dir() and (path / "repeat-1").is_dir() and (path / "config.json").exists()
