"""`mlphys tune`: search spaces, the four tuners, results, robustness, distribution, errors.

Small data (8x8 digits), one or two epochs and a handful of trials: the point is what a
user gets (a complete table, a best run that `evaluate` opens, a search that survives a
failing trial and an interruption), not the accuracy of the models.
"""

import csv
import json
import os
import socket
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from conftest import assert_user_error
from mlphys.errors import UserError
from mlphys.registry import get_model
from mlphys.search_space import build_space, infer_direction

SMALL = ["-d", "digits", "-o", "size=8", "--epochs", "1", "--seed", "1", "-q"]
COURSE_GRID = ["--space", "hidden_layers=1,2", "--space", "units=10,20,30",
               "--space", "learning_rate=1e-3,1e-2,1e-1", "--space", "activation=relu,tanh"]

FAILING_PLUGIN = textwrap.dedent('''
    from mlphys import register_model

    @register_model("fragile", task="classification", inputs="any", dataset="digits",
                    source="a test", search=("width",))
    def fragile(hp, spec):
        """Fails to build for width 3."""
        import keras
        width = hp.Choice("width", [2, 3, 4], default=2)
        if width == 3:
            raise ValueError("width 3 is not buildable")
        inputs = keras.Input(spec.input_shape)
        x = keras.layers.Flatten()(inputs)
        x = keras.layers.Dense(width, activation="relu")(x)
        outputs = keras.layers.Dense(spec.num_outputs, activation="softmax")(x)
        return keras.Model(inputs, outputs)
''')


def _tuning_dir(out):
    (found,) = [p for p in Path(out).iterdir() if p.name.startswith("tune-")]
    return found


def _rows(tuning_dir):
    with open(tuning_dir / "trials.csv") as f:
        return list(csv.DictReader(f))


# --- search spaces, without TensorFlow ---------------------------------------------------

def test_course_grid_is_36_points_and_the_rest_stays_fixed():
    entry = get_model("mlp")
    spaces = dict(arg.split("=", 1) for arg in COURSE_GRID[1::2])
    space = build_space(entry, spaces)
    assert space.grid_size() == 36
    assert [d.name for d in space.searched] == ["hidden_layers", "units", "activation",
                                                "learning_rate"]
    assert next(d for d in space.searched if d.name == "learning_rate").values == (
        1e-3, 1e-2, 1e-1)
    # the model's default space: units is a continuous log range, so no grid
    default = build_space(entry)
    assert {d.name for d in default.searched} == {"hidden_layers", "units", "learning_rate",
                                                  "activation"}
    assert default.grid_size() is None and "units continuous" in default.describe_grid()


def test_space_ranges_are_parsed_and_typed():
    entry = get_model("mlp")
    space = build_space(entry, {"learning_rate": "log:1e-4:1e-1", "units": "int:8:256:8",
                                "dropout": "float:0:0.5:0.1"}, {"l2": "0.01"})
    decl = {d.name: d for d in space.searched}
    assert (decl["learning_rate"].sampling, decl["learning_rate"].low) == ("log", 1e-4)
    assert (decl["units"].type, decl["units"].step) == ("int", 8)
    assert decl["units"].default == 8  # the model's 512 lies outside: the range's start
    assert space.fixed == {"l2": 0.01}
    assert space.grid_counts()[1] == ("units", 32)
    assert build_space(entry, {"learning_rate": "log:1e-4:1:10"}).searched[-1].step == 10
    hp = space.hyperparameters()
    assert hp.values["units"] == 8 and hp.values["l2"] == 0.01


@pytest.mark.parametrize("spaces,fragment", [
    ({"unit": "1,2"}, "declares hidden_layers, units"),
    ({"units": "int:5"}, "malformed range"),
    ({"units": "int:9:5"}, "LO < HI"),
    ({"units": "float:1:2"}, "is an integer"),
    ({"activation": "int:1:3"}, "is a choice"),
    ({"learning_rate": "log:0:1"}, "LO > 0"),
    ({"units": "ten,20"}, "expected an integer"),
    ({"activation": "relu,swish"}, "choose one of"),
    ({"units": "1,,2"}, "malformed list"),
])
def test_bad_spaces_are_refused(spaces, fragment):
    with pytest.raises(UserError, match=fragment):
        build_space(get_model("mlp"), spaces)


def test_objective_direction_is_inferred():
    assert infer_direction("val_loss") == "min" and infer_direction("mae") == "min"
    assert infer_direction("val_accuracy") == "max" and infer_direction("auc") == "max"
    assert infer_direction("val_sharpness") is None


# --- errors: one line, exit status 2 -----------------------------------------------------

@pytest.mark.parametrize("args,fragments", [
    (["--tuner", "annealing"], ["unknown tuner 'annealing'", "grid, random"]),
    (["--space", "neurons=1,2"], ["'neurons'", "declares hidden_layers"]),
    (["--space", "units=int:1"], ["malformed range"]),
    (["--max-trials", "0"], ["--max-trials 0"]),
    (["--tuner", "grid"], ["units continuous", "--space units="]),
    (["--tuner", "grid", "--max-trials", "5", *COURSE_GRID], ["36 points", "--max-trials 5"]),
    (["--tuner", "grid", "--space", "units=int:5:100"],
     ["7200 points", "units 96", "more than 200", "--space"]),
    (["--objective", "val_sharpness"], ["--direction"]),
    (["--tuner", "hyperband", "--max-trials", "3"], ["drop --max-trials"]),
    (["--tuner", "random", "--max-epochs", "3"], ["--max-epochs is for --tuner hyperband"]),
    (["--worker", "127.0.0.1:9"], ["--worker-id"]),
])
def test_user_errors_are_one_line(run_cli, tmp_path, args, fragments):
    result = run_cli("tune", "mlp", "-d", "digits", "--out", tmp_path, *args)
    assert_user_error(result, *fragments)
    assert not list(tmp_path.iterdir())  # nothing written


def test_an_objective_that_is_never_logged_is_refused(run_cli, tmp_path):
    result = run_cli("tune", "mlp", *SMALL, "--objective", "val_auc", "--out", tmp_path)
    assert_user_error(result, "'val_auc' is never logged", "val_accuracy")


# --- the tuners and their results --------------------------------------------------------

def test_grid_search_table_csv_plot_logs_and_best_run(run_cli, tmp_path):
    result = run_cli("tune", "mlp", *SMALL, "--tuner", "grid", "--space", "hidden_layers=1",
                     "--space", "units=5,32", "--space", "learning_rate=1e-2",
                     "--space", "activation=relu", "--objective", "val_accuracy",
                     "--out", tmp_path)
    assert result.exit_code == 0, result.output
    assert "rank" in result.output and "fixed: units_2=0" in result.output
    tuning_dir = _tuning_dir(tmp_path)
    rows = _rows(tuning_dir)
    assert [r["rank"] for r in rows] == ["1", "2"]
    assert {r["units"] for r in rows} == {"5", "32"}
    assert float(rows[0]["val_accuracy"]) >= float(rows[1]["val_accuracy"])
    assert float(rows[0]["val_accuracy"]) > 0.3  # above chance (0.1)
    assert rows[0]["dropout"] == "0.0" and rows[0]["epochs"] == "1"
    assert (tuning_dir / "trials.png").stat().st_size > 10_000
    assert list((tuning_dir / "logs").rglob("events.out.tfevents.*"))
    (best,) = tuning_dir.glob("best-mlp-digits-*")
    config = json.loads((best / "config.json").read_text())
    assert config["hyperparameters"]["units"] == int(rows[0]["units"])
    evaluated = run_cli("evaluate", best, "--json")
    assert evaluated.exit_code == 0, evaluated.output
    accuracy = json.loads(evaluated.output)["metrics"]["accuracy"]
    assert accuracy == pytest.approx(json.loads((best / "metrics.json").read_text())[
        "accuracy"])


@pytest.mark.parametrize("tuner_args", [
    ["--tuner", "random", "--max-trials", "2"],
    ["--tuner", "bayesian", "--max-trials", "3"],
])
def test_random_and_bayesian_search_use_the_ranges(run_cli, tmp_path, tuner_args):
    result = run_cli("tune", "mlp", *SMALL, *tuner_args, "--space", "units=int:8:64:8",
                     "--space", "learning_rate=log:1e-3:1e-1", "--space", "hidden_layers=1",
                     "--space", "activation=relu", "--out", tmp_path)
    assert result.exit_code == 0, result.output
    rows = _rows(_tuning_dir(tmp_path))
    assert len(rows) == int(tuner_args[-1]) and all(r["status"] == "completed" for r in rows)
    assert all(8 <= int(r["units"]) <= 64 and int(r["units"]) % 8 == 0 for r in rows)
    assert all(1e-3 <= float(r["learning_rate"]) <= 1e-1 for r in rows)


def test_hyperband_continues_promoted_trials(run_cli, tmp_path):
    result = run_cli("tune", "mlp", "-d", "digits", "-o", "size=8", "--seed", "1", "-q",
                     "--tuner", "hyperband", "--max-epochs", "3", "--space", "units=int:8:64:4",
                     "--space", "hidden_layers=1", "--space", "activation=relu",
                     "--space", "learning_rate=1e-2", "--out", tmp_path)
    assert result.exit_code == 0, result.output
    tuning_dir = _tuning_dir(tmp_path)
    rows = _rows(tuning_dir)
    assert len(rows) >= 4 and {int(r["epochs"]) for r in rows} == {1, 3}
    promoted = [json.loads(p.read_text())["hyperparameters"] for p in
                (tuning_dir / "search").glob("trial_*/result.json")]
    promoted = [hp for hp in promoted if hp.get("tuner/trial_id")]
    assert promoted and all(hp["tuner/initial_epoch"] == 1 for hp in promoted)


def test_repeats_report_mean_and_spread(run_cli, tmp_path):
    result = run_cli("tune", "mlp", *SMALL, "--tuner", "grid", "--space", "units=8",
                     "--space", "hidden_layers=1", "--space", "activation=relu,tanh",
                     "--space", "learning_rate=1e-2", "--repeats", "2", "--out", tmp_path)
    assert result.exit_code == 0, result.output
    tuning_dir = _tuning_dir(tmp_path)
    rows = _rows(tuning_dir)
    assert all(float(r["val_loss std"]) > 0 for r in rows)
    detail = json.loads((tuning_dir / "search" / f"trial_{rows[0]['trial']}" /
                         "result.json").read_text())
    values = [r["objective"] for r in detail["repeats"]]
    assert [r["seed"] for r in detail["repeats"]] == [1, 2]
    assert float(rows[0]["val_loss"]) == pytest.approx(sum(values) / 2)


# --- robustness --------------------------------------------------------------------------

def test_a_failing_trial_is_recorded_and_the_search_goes_on(run_cli, tmp_path):
    plugin = tmp_path / "fragile.py"
    plugin.write_text(FAILING_PLUGIN)
    out = tmp_path / "out"
    result = run_cli("tune", "fragile", *SMALL, "--tuner", "grid", "--models-from", plugin,
                     "--out", out)
    assert result.exit_code == 0, result.output
    rows = _rows(_tuning_dir(out))
    assert [r["status"] for r in rows] == ["completed", "completed", "failed"]
    assert rows[2]["width"] == "3" and rows[2]["rank"] == ""
    assert "ValueError: width 3 is not buildable" in rows[2]["reason"]


def test_a_nan_loss_fails_the_trial(run_cli, tmp_path):
    # within the declared ranges (a value outside them is refused): a deep linear net
    # with plain SGD at learning rate 1 diverges in its first epoch
    result = run_cli("tune", "mlp", *SMALL, "--tuner", "grid", "--space", "hidden_layers=3",
                     "--space", "units=1024", "--space", "activation=linear",
                     "--space", "learning_rate=1e-2,1.0", "--param", "optimizer=sgd",
                     "--out", tmp_path)
    assert result.exit_code == 0, result.output
    rows = {r["learning_rate"]: r for r in _rows(_tuning_dir(tmp_path))}
    assert rows["0.01"]["status"] == "completed"
    assert rows["1.0"]["status"] == "failed"
    assert "loss became nan" in rows["1.0"]["reason"]


def test_an_interrupted_search_resumes_without_redoing_trials(run_cli, tmp_path,
                                                              monkeypatch):
    import mlphys.tuning

    real = mlphys.tuning.run_trial
    calls = []

    def interrupted_at_the_third(settings, data=None):
        calls.append(settings.trial_id)
        if len(calls) == 3:
            raise KeyboardInterrupt
        return real(settings, data)

    monkeypatch.setattr(mlphys.tuning, "run_trial", interrupted_at_the_third)
    args = ["tune", "mlp", *SMALL, "--tuner", "grid", "--space", "hidden_layers=1",
            "--space", "units=5,8,16,32", "--space", "activation=relu",
            "--space", "learning_rate=1e-2", "--out", tmp_path]
    result = run_cli(*args)
    assert_user_error(result, "interrupted", "--resume")
    tuning_dir = _tuning_dir(tmp_path)
    assert [r["status"] for r in _rows(tuning_dir)][:2] == ["completed", "completed"]
    monkeypatch.setattr(mlphys.tuning, "run_trial", real)
    resumed = run_cli("tune", "--resume", tuning_dir, "-q")
    assert resumed.exit_code == 0, resumed.output
    rows = _rows(tuning_dir)
    assert len(rows) == 4 and all(r["status"] == "completed" for r in rows)
    assert sorted(r["units"] for r in rows) == ["16", "32", "5", "8"]
    ran = [p.parent.name for p in (tuning_dir / "search").glob("trial_*/result.json")]
    assert len(ran) == 4  # each point once: the two completed ones were not redone
    assert_user_error(run_cli("tune", "--resume", tmp_path), "not a tuning folder")


def test_isolated_trials_run_in_their_own_process(run_cli, tmp_path):
    plugin = tmp_path / "fragile.py"
    plugin.write_text(FAILING_PLUGIN)
    out = tmp_path / "out"
    result = run_cli("tune", "fragile", *SMALL, "--tuner", "grid", "--space", "width=2,3",
                     "--isolate", "--models-from", plugin, "--out", out)
    assert result.exit_code == 0, result.output
    tuning_dir = _tuning_dir(out)
    rows = _rows(tuning_dir)
    assert [r["status"] for r in rows] == ["completed", "failed"]
    assert "width 3 is not buildable" in rows[1]["reason"]
    assert (tuning_dir / "search" / f"trial_{rows[0]['trial']}" / "settings.json").exists()
    assert list(tuning_dir.glob("best-fragile-*"))


# --- distributed search on loopback ------------------------------------------------------

def _free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_chief_and_two_workers_share_the_trials(tmp_path):
    address = f"127.0.0.1:{_free_port()}"
    common = [sys.executable, "-m", "mlphys", "tune", "mlp", *SMALL, "--tuner", "random",
              "--max-trials", "4", "--space", "units=int:8:64:4", "--space", "hidden_layers=1",
              "--space", "activation=relu", "--space", "learning_rate=1e-2",
              "--out", str(tmp_path)]
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="2")
    processes = []
    try:
        chief = subprocess.Popen(common + ["--chief", address], stdout=subprocess.PIPE,
                                 stderr=subprocess.STDOUT, text=True, env=env)
        processes.append(chief)
        time.sleep(1)
        for n in (0, 1):
            processes.append(subprocess.Popen(
                common + ["--worker", address, "--worker-id", str(n)],
                stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env))
        outputs = [p.communicate(timeout=400)[0] for p in processes]
    finally:
        for p in processes:
            if p.poll() is None:
                p.kill()
                p.wait()
    assert all(p.returncode == 0 for p in processes), outputs
    tuning_dir = _tuning_dir(tmp_path)
    rows = _rows(tuning_dir)
    assert len(rows) == 4 and all(r["status"] == "completed" for r in rows)
    assert len({r["trial"] for r in rows}) == 4
    by_worker = {r["worker"] for r in rows}
    assert by_worker == {"tuner0", "tuner1"}, rows  # split between the workers
    assert "rank" in outputs[0]  # the chief prints the whole table
    ran = sorted(t for out in outputs[1:] for t in
                 out.strip().splitlines()[-1].split(" ran trials ")[1].split(" of ")[0]
                 .split(", "))
    assert ran == sorted(r["trial"] for r in rows)  # none run twice
