"""Mean and spread of metrics over seeds or members: `--repeats` and its evaluation."""

import math

import numpy as np


def summarise(metrics_per_run):
    """{"mean": {...}, "std": {...}} over runs of every metric all runs report (the
    sample standard deviation, ddof = 1; NaN for a single run)."""
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
