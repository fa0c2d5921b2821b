"""`mlphys train MODEL --repeats N`: the same training with N seeds, and error bars.

One folder holds the N runs (`repeat-1/` ... `repeat-N/`, each a complete run folder made
by the same `train_config` as a single run) and a `metrics.json` with the mean and sample
standard deviation (ddof = 1) of every test metric over the seeds, so a result is
reported as mean +- std, not as one lucky seed.
"""

import time
from dataclasses import replace

from mlphys.errors import UserError
from mlphys.spread import summarise


def train_repeated(config, *, repeats, out=None, quiet=False):
    """Train the resolved `config` with seeds seed, seed+1, ...; return the summary dict."""
    from mlphys.cleanup import discarded_unless_started
    from mlphys.rundir import check_writable, new_run_dir, write_json
    from mlphys.training import train_config

    if repeats < 1:
        raise UserError(f"--repeats {repeats}: give a number of seeds >= 1")
    check_writable(out)
    folder = new_run_dir(out, config.model, config.label, prefix="repeats-")
    seeds = [config.seed + k for k in range(repeats)]
    manifest = {**config.to_json(), "repeats": repeats, "seeds": seeds,
                "status": "running", "started": time.strftime("%Y-%m-%dT%H:%M:%S")}
    write_json(folder / "config.json", manifest)
    runs = []
    # a user error before the first seed trains (bad data) leaves no repeats folder
    with discarded_unless_started(folder, "repeat-1"):
        for k, seed in enumerate(seeds, start=1):
            run = train_config(replace(config, seed=seed, state=replace(config.state)),
                               out=folder, quiet=quiet, run_name=f"repeat-{k}")
            runs.append({"seed": seed, "run_dir": str(run.path),
                         "status": run.config.state.status, "metrics": run.metrics})
    summary = summarise([r["metrics"] for r in runs])
    write_json(folder / "metrics.json", {"split": "test", "repeats": repeats, **summary,
                                         "runs": runs})
    manifest.update(status="finished", finished=time.strftime("%Y-%m-%dT%H:%M:%S"))
    write_json(folder / "config.json", manifest)
    return {"run_dir": str(folder), "repeats": repeats, "seeds": seeds, **summary,
            "runs": runs}
