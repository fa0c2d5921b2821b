"""What a search leaves for its user: the table of trials, its plot and the best run.

- `trials.csv`: one row per trial (rank, every hyperparameter, objective mean and, with
  repeats, its standard deviation over the seeds, epochs, seconds, status and the reason a
  trial failed); inactive conditional hyperparameters are left empty.
- `trials.png`: parallel coordinates, one axis per searched hyperparameter and one for the
  objective, one line per completed trial coloured by its objective.
- `best-<model>-<dataset>-<timestamp>/`: the best trial's checkpoint as a normal run folder
  (model.keras, best.keras, config.json, history.csv, metrics.json, plots) that `evaluate`
  and `saliency` open like any run of `mlphys train`.
"""

import json
import math
import re
import shutil
from pathlib import Path

import numpy as np

from mlphys import figures
from mlphys.trial import CHECKPOINT


def failure_reason(message):
    """The last line of a failed trial's traceback, without the module path of its class."""
    lines = [line.strip() for line in (message or "").splitlines() if line.strip()]
    if not lines:
        return "unknown"
    last = lines[-1]
    last = re.sub(r"^keras_tuner\.(src\.)?errors\.FailedTrialError: ", "", last)
    return re.sub(r"^(?:[A-Za-z_][\w]*\.)+(\w+: )", r"\1", last)


def _result(tuning_dir, trial_id):
    path = Path(tuning_dir) / "search" / f"trial_{trial_id}" / "result.json"
    try:
        return json.loads(path.read_text())
    except (FileNotFoundError, json.JSONDecodeError):
        return {}


def _active_value(hp, name):
    if name not in hp.values:
        return None
    try:
        return hp.values[name] if hp.is_active(name) else None
    except (KeyError, ValueError):
        return hp.values[name]


def trials_table(tuner, search, tuning_dir, completed_only=False):
    """All trials as a pandas DataFrame, best first; failed and unfinished trials last."""
    import pandas as pd

    objective, searched = search.objective, search.searched
    rows = []
    workers = set()
    for trial_id, trial in sorted(tuner.oracle.trials.items()):
        status = str(trial.status).lower()
        if completed_only and status != "completed":
            continue
        result = _result(tuning_dir, trial_id)
        hp = trial.hyperparameters
        row = {"trial": trial_id}
        row.update({name: _active_value(hp, name) for name in searched})
        metric = (lambda name: trial.metrics.get_last_value(name)
                  if trial.metrics.exists(name) else None)
        row[objective] = metric(objective)
        if search.repeats > 1:
            row[f"{objective} std"] = metric(f"{objective}_std")
        epochs = metric("epochs")
        row["epochs"] = None if epochs is None else int(epochs)
        row["seconds"] = metric("seconds")
        row["status"] = {"invalid": "failed", "running": "interrupted"}.get(status, status)
        row["reason"] = (failure_reason(trial.message) if row["status"] == "failed"
                         else "")
        row["worker"] = result.get("worker")
        workers.add(row["worker"])
        for name, value in (result.get("hyperparameters") or {}).items():
            if name not in row and not name.startswith("tuner/"):
                row[name] = value
        rows.append(row)
    table = pd.DataFrame(rows, dtype=object)  # keeps 2 an int and 0.0 a float in the CSV
    if table.empty:
        return table
    for name in (objective, f"{objective} std", "seconds"):
        if name in table:
            table[name] = table[name].astype(float)
    if len(workers - {None}) <= 1:
        table = table.drop(columns="worker")
    if not table["reason"].astype(bool).any():
        table = table.drop(columns="reason")
    done = table["status"] == "completed"
    best_first = table[done].sort_values(objective, ascending=search.direction == "min",
                                         kind="stable")
    table = pd.concat([best_first, table[~done]])
    table.insert(0, "rank", [*range(1, done.sum() + 1), *([None] * int((~done).sum()))])
    table["rank"] = table["rank"].astype("Int64")
    return table.reset_index(drop=True)


def printed_columns(table, search):
    """The columns worth printing: the fixed hyperparameters are in the CSV only."""
    keep = ["rank", "trial", *search.searched, search.objective, f"{search.objective} std", "epochs", "seconds", "status", "worker", "reason"]
    return [c for c in keep if c in table.columns]


def fixed_values(table, search):
    """{name: value} of the hyperparameters that stayed fixed in the search."""
    printed = set(printed_columns(table, search))
    return {c: table[c].iloc[0] for c in table.columns if c not in printed}


def write_results(tuner, search, tuning_dir):
    """Write trials.csv and trials.png; return the table."""
    table = trials_table(tuner, search, tuning_dir)
    tuning_dir = Path(tuning_dir)
    table.to_csv(tuning_dir / "trials.csv", index=False)
    space = tuner.oracle.get_space()
    log_axes = {hp.name for hp in space.space if getattr(hp, "sampling", None) == "log"}
    order = {hp.name: list(hp.values) for hp in space.space
             if hasattr(hp, "values") and not hasattr(hp, "min_value")}
    done = table[table["status"] == "completed"] if not table.empty else table
    if len(done):
        with figures.formats(search.run.figure_formats):
            plot_trials(done, search.searched, search.objective, log_axes, order,
                        tuning_dir / "trials.png",
                        f"{search.tuner} search: {search.run.model} on {search.run.label}")
    return table


def _axis(values, name, log_axes, order):
    """Positions in [0, 1] of the values on one axis, and (position, label) ticks."""
    present = [v for v in values if v is not None and not (isinstance(v, float) and
                                                           math.isnan(v))]
    numeric = all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in present)
    if numeric and name not in order:
        low, high = min(present), max(present)
        scale = (math.log10 if name in log_axes and low > 0 else (lambda v: v))
        span = (scale(high) - scale(low)) or 1.0

        def position(v):
            return (scale(v) - scale(low)) / span if v in present else np.nan

        ticks = sorted(set(present))
        if len(ticks) > 6:
            ticks = [low, high]
        return [position(v) for v in values], [(position(t), f"{t:g}") for t in ticks]
    categories = [c for c in order.get(name, []) if c in present] or sorted(
        set(present), key=str)
    step = 1 / max(len(categories) - 1, 1)
    where = {c: i * step for i, c in enumerate(categories)}
    return ([where.get(v, np.nan) for v in values],
            [(where[c], str(c)) for c in categories])


@figures.styled
def plot_trials(table, searched, objective, log_axes, order, path, title):
    """Parallel coordinates of the completed trials, colour = objective."""
    from matplotlib import cm, colormaps, colors

    names = [n for n in searched if n in table.columns] + [objective]
    figure = figures.new_figure(max(6.0, 1.6 * len(names) + 1.5), 4.2)
    figure.subplots_adjust(left=0.06, right=0.8, bottom=0.1, top=0.86)
    ax = figure.add_subplot()
    score = table[objective].astype(float).to_numpy()
    norm = colors.Normalize(score.min(), score.max() if score.max() > score.min()
                            else score.min() + 1e-12)
    cmap = colormaps[figures.MAP]
    columns = []
    for i, name in enumerate(names):
        positions, ticks = _axis(list(table[name]), name, log_axes, order)
        columns.append(positions)
        ax.axvline(i, color="black", lw=0.8)
        for y, label in ticks:
            ax.text(i + 0.03, y, label, fontsize=7, va="center")
    columns = np.array(columns, dtype=float)
    for j in np.argsort(score):
        ax.plot(range(len(names)), columns[:, j], color=cmap(norm(score[j])), lw=1.2,
                alpha=0.8)
    ax.set_xticks(range(len(names)), names, fontsize=8)
    ax.set_yticks([])
    ax.set_xlim(-0.1, len(names) - 0.6)
    ax.set_ylim(-0.05, 1.05)
    for side in ("left", "right", "top"):
        ax.spines[side].set_visible(False)
    bar_ax = figure.add_axes([0.84, 0.1, 0.02, 0.76])
    figure.colorbar(cm.ScalarMappable(norm=norm, cmap=cmap), cax=bar_ax, label=objective)
    ax.set_title(title)
    return figures.save(figure, path)


def save_best_run(search, tuning_dir, trial_id, data):
    """The best trial as a run folder `tuning_dir/best-<model>-<dataset>-<time>/`: its
    checkpoint (best epoch of the best seed) in the trial's model, reported by the same
    `report` as every `mlphys train` run (the entry's own score, curves, figures)."""
    from dataclasses import replace

    import keras

    from mlphys.fitting import prepare_model
    from mlphys.rundir import environment, new_run_dir
    from mlphys.runconfig import RunState
    from mlphys.training import report

    trial_dir = Path(tuning_dir) / "search" / f"trial_{trial_id}"
    result = json.loads((trial_dir / "result.json").read_text())
    values = {k: v for k, v in result["hyperparameters"].items() if not k.startswith("tuner/")}
    config = replace(search.run, hyperparameters=values, seed=result["seed"],
                     epochs=result["epochs"], state=RunState())
    keras.backend.clear_session()
    model, _ = prepare_model(config, data)
    model.load_weights(trial_dir / CHECKPOINT)
    run_dir = new_run_dir(tuning_dir, config.model, config.label, prefix="best-")
    shutil.copyfile(trial_dir / f"history_{result['best_repeat']}.csv",
                    run_dir / "history.csv")
    config.dataset_options = data.options
    config.state.data = {"spec": data.spec.to_dict(), "sizes": data.sizes(),
                         "provenance": data.provenance}
    config.state.parameters = int(model.count_params())
    config.state.versions = environment()
    config.state.tuning = {"folder": str(Path(tuning_dir).resolve()), "trial": trial_id,
                           "objective": search.objective, "value": result["objective"],
                           "checkpoint": "best epoch of the best seed"}
    config.write(run_dir)  # before the report: an entry's figures may open the run
    report(model, data, config, run_dir, title_suffix=" (best of the search)")
    shutil.copyfile(run_dir / "model.keras", run_dir / "best.keras")
    config.mark("finished", epochs_run=result["epochs"])
    config.write(run_dir)
    return run_dir
