"""The engine pieces the zoo stands on: uncertainties (chi^2), replica ensembles, repeats,
dataset caches and formulas, and `mlphys reproduce` itself (on a plugin's checks)."""

import json

import numpy as np
import pytest

import mlphys
from mlphys.datasets import load_dataset
from mlphys.evaluation import mean_iou
from conftest import assert_user_error

PLUGIN = '''
import numpy as np
from mlphys.datasets import Dataset, infer_spec, register_dataset
from mlphys.registry import register_model
from mlphys.reproduce import Unreachable, at_least, equal, register_check

CALLS = []


@register_dataset("measured_line", task="regression", kind="vector", shape="1",
                  formula="y = 2 x + 1 + N(0, sigma^2), sigma = 0.1 (1 + x^2)", cache=True)
def measured_line(n: int = 300, seed: int = 0):
    """A line measured with known, x-dependent uncertainties."""
    CALLS.append(n)
    rng = np.random.default_rng(seed)
    x = rng.uniform(-1, 1, (n, 1)).astype(np.float32)
    sigma = (0.1 * (1 + x ** 2)).astype(np.float32)
    y = (2 * x + 1 + sigma * rng.standard_normal(x.shape)).astype(np.float32)
    cut = n * 2 // 3
    return Dataset("measured_line", infer_spec(x, y, "regression"), x[:cut], y[:cut], x[cut:],
                   y[cut:], sigma_train=sigma[:cut], sigma_test=sigma[cut:])


@register_model("measured_line_fit", task="regression", inputs="vector", dataset="measured_line",
                source="test plugin", epochs=3)
def measured_line_fit(hp, spec):
    """A straight line: Dense(1)."""
    import keras

    hp.Float("learning_rate", 1e-3, 1.0, sampling="log", default=0.05)
    inputs = keras.Input(spec.input_shape)
    return keras.Model(inputs, keras.layers.Dense(spec.num_outputs)(inputs))


@register_check("measured_line_fit", "parameters", expected="2", quick=True)
def _count(ctx):
    return equal(ctx.build_for("measured_line_fit", (1,), 1, task="regression").count_params(), 2)


@register_check("measured_line_fit", "a check that fails", expected=">= 2")
def _fails(ctx):
    return at_least(1.0, 2.0)


@register_check("measured_line_fit", "a check that needs a download", expected="-")
def _offline(ctx):
    raise Unreachable("needs the internet")
'''


@pytest.fixture
def plugin(tmp_path, monkeypatch):
    path = tmp_path / "line_plugin.py"
    path.write_text(PLUGIN)
    monkeypatch.setenv("MLPHYS_DATA_DIR", str(tmp_path / "data"))
    from mlphys import datasets, registry, reproduce

    registry.load_plugin(str(path))
    yield str(path)
    # leave the registries as the zoo has them (other tests list every model)
    registry._MODELS.pop("measured_line_fit", None)
    datasets._DATASETS.pop("measured_line", None)
    reproduce._CHECKS.pop("measured_line_fit", None)


def test_uncertainties_make_the_loss_chi2_per_point(plugin, tmp_path):
    result = mlphys.train("measured_line_fit", epochs=40, seed=0, out=tmp_path, quiet=True)
    data = load_dataset("measured_line")
    model = mlphys.evaluation.load_keras_model(f"{result['run_dir']}/model.keras")
    residual = (data.y_test - model.predict(data.x_test, verbose=0)) / data.sigma_test
    assert result["metrics"]["loss"] == pytest.approx(np.mean(residual ** 2), rel=1e-4)
    assert 0.5 < result["metrics"]["loss"] < 2.0  # a good fit of a line: chi^2/N near 1


def test_replica_targets_fluctuate_within_the_uncertainties(plugin):
    from mlphys.ensembles import replica_targets

    data = load_dataset("measured_line", {"n": 3000})
    replicas = replica_targets(data, 50, seed=3)
    assert replicas.shape == (len(data.y_train), 50, 1)
    pulls = (replicas - data.y_train[:, None]) / data.sigma_train[:, None]
    assert abs(pulls.mean()) < 0.02 and pulls.std() == pytest.approx(1.0, abs=0.02)


def test_replicas_train_an_ensemble_that_reopens_and_predicts_the_mean(plugin, tmp_path,
                                                                        run_cli):
    from mlphys.ensembles import member_predictions

    result = mlphys.train("measured_line_fit", epochs=30, seed=0, out=tmp_path, quiet=True,
                          replicas=4)
    run = result["run_dir"]
    model = mlphys.evaluation.load_keras_model(f"{run}/model.keras")
    x = np.linspace(-1, 1, 7, dtype=np.float32)[:, None]
    members = member_predictions(model, x)
    assert members.shape == (4, 7, 1)
    np.testing.assert_allclose(members.mean(axis=0), model.predict(x, verbose=0), atol=1e-5)
    assert np.ptp(members[:, 3, 0]) > 1e-4  # each member fitted its own replica
    np.testing.assert_allclose(members.mean(axis=0)[:, 0], 2 * x[:, 0] + 1, atol=0.15)
    assert json.loads(open(f"{run}/config.json").read())["training"]["replicas"] == 4
    import subprocess
    import sys

    fresh = subprocess.run([sys.executable, "-m", "mlphys", "evaluate", run, "--json",
                            "--models-from", plugin], capture_output=True, text=True)
    assert fresh.returncode == 0, fresh.stderr[-2000:]  # a new process reopens the ensemble
    assert_user_error(run_cli("train", "measured_line_fit", "--replicas", "0", "--models-from",
                              plugin, "--out", tmp_path), "--replicas 0")


def test_repeats_report_mean_and_standard_deviation(plugin, tmp_path, run_cli):
    result = run_cli("train", "measured_line_fit", "--repeats", "3", "--seed", "5", "--epochs", "2",
                     "--models-from", plugin, "--out", tmp_path)
    assert result.exit_code == 0, result.output
    assert "+-" in result.output and "seeds: 5, 6, 7" in result.output
    folder = next(tmp_path.glob("repeats-measured_line_fit-*"))
    metrics = json.loads((folder / "metrics.json").read_text())
    losses = [run["metrics"]["loss"] for run in metrics["runs"]]
    assert metrics["mean"]["loss"] == pytest.approx(np.mean(losses))
    assert metrics["std"]["loss"] == pytest.approx(np.std(losses, ddof=1))
    assert sorted(p.name for p in folder.glob("repeat-*")) == ["repeat-1", "repeat-2",
                                                              "repeat-3"]
    evaluated = run_cli("evaluate", folder, "--json")
    assert evaluated.exit_code == 0, evaluated.output
    again = json.loads(evaluated.output[evaluated.output.index("{"):])
    assert again["repeats"] == 3
    assert again["metrics"]["loss"] == pytest.approx(metrics["mean"]["loss"], rel=1e-4)
    assert_user_error(run_cli("train", "measured_line_fit", "--repeats", "0", "--models-from", plugin,
                              "--out", tmp_path), "--repeats 0")


def test_a_generated_dataset_is_cached_by_its_options(plugin, tmp_path):
    from mlphys.datasets import get_dataset

    calls = get_dataset("measured_line").loader.__globals__["CALLS"]
    calls.clear()
    first = load_dataset("measured_line", {"n": 120})
    second = load_dataset("measured_line", {"n": "120"})
    other = load_dataset("measured_line", {"n": 150})
    assert calls == [120, 150]  # the second load of n=120 came from the cache
    np.testing.assert_array_equal(first.x_test, second.x_test)
    np.testing.assert_array_equal(first.sigma_train, second.sigma_train)
    assert second.spec == first.spec and len(other.y_test) == 50
    assert len(list((tmp_path / "data" / "mlphys-cache").glob("measured_line-*.npz"))) == 2


def test_info_shows_the_data_formula(plugin, run_cli):
    for name in ("measured_line", "measured_line_fit"):
        result = run_cli("info", name, "--models-from", plugin)
        assert result.exit_code == 0, result.output
        assert "y = 2 x + 1 + N(0, sigma^2)" in result.output


def test_reproduce_runs_checks_and_reports_each_outcome(plugin, run_cli):
    listed = run_cli("reproduce", "measured_line_fit", "--list", "--models-from", plugin)
    assert listed.exit_code == 0 and "a check that fails" in listed.output
    result = run_cli("reproduce", "measured_line_fit", "--json", "--models-from", plugin)
    assert result.exit_code == 1  # a check failed
    report = json.loads(result.stdout[result.stdout.index("{"):])
    outcomes = {row["check"]: row["result"] for row in report["rows"]}
    assert outcomes == {"parameters": "pass", "a check that fails": "fail",
                        "a check that needs a download": "offline"}
    assert report["totals"] == {"pass": 1, "fail": 1, "offline": 1, "error": 0}
    quick = run_cli("reproduce", "measured_line_fit", "--quick", "--csv", "--models-from", plugin)
    assert quick.exit_code == 0
    assert quick.stdout.splitlines()[0] == "entry,check,expected,obtained,result,seconds,note"


def test_reproduce_takes_an_entry_by_its_own_name_and_others_by_pattern():
    from mlphys.reproduce import select

    assert select(["cnn"]) == ["cnn"]  # not crack_cnn as well
    assert select(["*cnn"]) == ["cnn", "crack_cnn"]


def test_reproduce_refuses_unknown_names(run_cli):
    assert_user_error(run_cli("reproduce", "no_such_net"), "no_such_net")
    assert_user_error(run_cli("reproduce"), "--all")


def test_mean_iou_of_a_confusion_matrix():
    counts = np.array([[8, 2], [1, 9]])  # IoU 8/11 and 9/12
    assert mean_iou(counts) == pytest.approx((8 / 11 + 9 / 12) / 2)
