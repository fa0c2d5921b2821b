"""End to end: train, the run folder, evaluate, determinism, the zoo's parameter counts."""

import json

import numpy as np
import pandas as pd
import pytest

import mlphys
from mlphys.datasets import DataSpec


def _spec(shape, classes=10, task="classification"):
    kind = {1: "vector", 3: "image"}[len(shape)]
    return DataSpec(shape, task, classes, kind, tuple(str(i) for i in range(classes)))


@pytest.mark.parametrize("name, params, shape, count", [
    ("cnn", {}, (28, 28, 1), 225_034),                                    # MLMM 7.14.5
    ("mlp", {"units": 400, "units_2": 256}, (784,), 419_226),             # MLMM 9.7
    ("mlp", {}, (28, 28, 1), 784 * 512 + 512 + 512 * 512 + 512 + 5130),  # IDAML
    ("logreg", {}, (8, 8, 1), 64 * 10 + 10),
])
def test_parameter_counts_of_the_zoo(name, params, shape, count):
    model, _ = mlphys.build_model(name, _spec(shape), params)
    assert model.count_params() == count


def test_info_with_shape_prints_layers_and_count(run_cli):
    result = run_cli("info", "cnn", "--shape", "28,28,1", "--classes", "10")
    assert result.exit_code == 0, result.output
    assert "225,034" in result.output and "conv_2" in result.output


@pytest.fixture(scope="module")
def cnn_run(tmp_path_factory):
    out = tmp_path_factory.mktemp("runs")
    result = mlphys.train("cnn", "digits", epochs=6, seed=1, out=out, quiet=True)
    return out, result


def test_cnn_learns_digits_and_writes_a_complete_run_folder(cnn_run):
    out, result = cnn_run
    run = out / result["run_dir"].split("/")[-1]
    assert run.name.startswith("cnn-digits-")
    for name in ("model.keras", "best.keras", "config.json", "history.csv", "metrics.json",
                 "curves.png", "confusion_matrix.png"):
        assert (run / name).stat().st_size > 0, name
    # TensorBoard: one scalar per epoch of the training and validation curves
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    for split in ("train", "validation"):
        events = EventAccumulator(str(run / "logs" / split)).Reload()
        assert len(events.Tensors("epoch_loss")) == 6, split
    metrics = json.loads((run / "metrics.json").read_text())
    assert metrics["accuracy"] >= 0.9
    assert set(metrics) >= {"loss", "accuracy", "precision", "recall", "f1"}
    history = pd.read_csv(run / "history.csv")
    assert list(history["epoch"]) == list(range(6))
    assert history["loss"].iloc[-1] < history["loss"].iloc[0]
    config = json.loads((run / "config.json").read_text())
    assert config["seed"] == 1 and config["status"] == "finished"
    assert config["hyperparameters"]["filters"] == 32
    assert config["parameters"] == 225_034
    assert {"tensorflow", "keras", "python", "mlphys"} <= set(config["versions"])


def test_evaluate_reopens_the_run_and_reproduces_its_metrics(cnn_run, run_cli):
    out, result = cnn_run
    again = mlphys.evaluate(result["run_dir"])
    assert again["metrics"]["accuracy"] == pytest.approx(result["metrics"]["accuracy"])
    cli = run_cli("evaluate", result["run_dir"], "--dataset", "digits", "--json")
    assert cli.exit_code == 0, cli.output
    payload = json.loads(cli.output)
    assert payload["samples"] == 359 and payload["metrics"]["f1"] > 0.85
    table = run_cli("evaluate", f"{result['run_dir']}/best.keras", "-d", "digits")
    assert table.exit_code == 0 and "precision" in table.output


def test_run_folders_are_never_reused(tmp_path):
    from mlphys.rundir import new_run_dir

    first = new_run_dir(tmp_path, "cnn", "digits")
    (first / "keep.txt").write_text("mine")
    second = new_run_dir(tmp_path, "cnn", "digits")
    assert first != second and (first / "keep.txt").read_text() == "mine"


def test_same_seed_gives_the_same_test_metrics(tmp_path):
    kwargs = dict(params={"units": 32}, epochs=2, out=tmp_path, quiet=True,
                  dataset_options={"size": 8})
    a = mlphys.train("mlp", "digits", seed=7, **kwargs)
    b = mlphys.train("mlp", "digits", seed=7, **kwargs)
    c = mlphys.train("mlp", "digits", seed=8, **kwargs)
    assert a["metrics"] == b["metrics"]
    assert a["metrics"] != c["metrics"]


def test_regression_on_a_csv_reports_mse_mae_r2(tmp_path):
    rng = np.random.default_rng(0)
    x = rng.uniform(-1, 1, (400, 2))
    table = pd.DataFrame({"a": x[:, 0], "b": x[:, 1], "energy": 2 * x[:, 0] - x[:, 1]})
    table.to_csv(tmp_path / "lab.csv", index=False)
    result = mlphys.train("mlp", str(tmp_path / "lab.csv"), {"units": 16}, epochs=30,
                          seed=0, out=tmp_path, quiet=True, dataset_options={"target": "energy"})
    assert set(result["metrics"]) == {"loss", "mse", "mae", "r2"}
    assert result["metrics"]["r2"] > 0.9
    assert "lab" in result["run_dir"]


def test_binary_blobs_use_one_sigmoid_output(tmp_path):
    result = mlphys.train("logreg", "blobs", epochs=10, seed=0, out=tmp_path, quiet=True)
    assert result["metrics"]["accuracy"] > 0.85  # Bayes limit 0.92
    config = json.loads(open(f"{result['run_dir']}/config.json").read())
    assert config["data"]["spec"]["task"] == "binary"


def test_early_stopping_stops_when_validation_stalls(tmp_path):
    """Noise-dominated shapes and a wide net: the validation loss stops improving early."""
    result = mlphys.train("mlp", "shapes", {"units": 256, "learning_rate": 0.01},
                          dataset_options={"n_train": 200, "n_test": 50, "noise": 3.0},
                          epochs=100, patience=2, seed=0, out=tmp_path, quiet=True)
    assert result["epochs_run"] < 100
    history = pd.read_csv(f"{result['run_dir']}/history.csv")
    assert len(history) == result["epochs_run"]


def test_user_model_trains_from_a_file(tmp_path, run_cli):
    (tmp_path / "my_models.py").write_text(
        "from mlphys import register_model\n\n"
        "@register_model('mynet', task='classification', dataset='digits', source='me')\n"
        "def mynet(hp, spec):\n"
        "    '''A small user network.'''\n"
        "    import keras\n"
        "    inputs = keras.Input(spec.input_shape)\n"
        "    x = keras.layers.Flatten()(inputs)\n"
        "    x = keras.layers.Dense(hp.Int('units', 4, 64, default=32), activation='relu')(x)\n"
        "    return keras.Model(inputs, keras.layers.Dense(spec.num_outputs, "
        "activation='softmax')(x))\n")
    result = run_cli("train", "mynet", "-d", "digits", "--models-from",
                     tmp_path / "my_models.py", "--epochs", "3", "--seed", "0", "--out",
                     tmp_path / "runs", "--json")
    assert result.exit_code == 0, result.output
    run_dir = json.loads(result.output)["run_dir"]
    assert json.loads(open(f"{run_dir}/metrics.json").read())["accuracy"] > 0.5
    again = run_cli("evaluate", run_dir, "--json")  # finds mynet through config.json
    assert again.exit_code == 0, again.output


def test_a_diverging_run_is_stopped_and_marked(tmp_path, run_cli):
    """A learning rate of 1e6 on a regression blows the loss up: TerminateOnNaN stops the
    run, config.json says so and the command warns."""
    rng = np.random.default_rng(1)
    x = rng.normal(size=(200, 3)) * 100
    pd.DataFrame({"a": x[:, 0], "b": x[:, 1], "c": x[:, 2], "y": x.sum(1) ** 3}).to_csv(
        tmp_path / "wild.csv", index=False)
    result = run_cli("train", "mlp", "-d", tmp_path / "wild.csv", "-p", "learning_rate=1.0",
                     "-p", "optimizer=sgd", "--epochs", "20", "--seed", "0", "--quiet",
                     "--out", tmp_path / "runs")
    assert result.exit_code == 0, result.output
    assert "warning: training diverged" in result.output
    run = next((tmp_path / "runs").iterdir())
    config = json.loads((run / "config.json").read_text())
    assert config["status"] == f"diverged (NaN loss in epoch {config['epochs_run']})"
    assert config["epochs_run"] < 20


def test_mixed_precision_computes_in_bfloat16_with_a_float32_output(tmp_path):
    import keras

    result = mlphys.train("mlp", "digits", {"units": 64}, dataset_options={"size": 8},
                          epochs=3, seed=0, out=tmp_path, quiet=True,
                          precision="mixed_bfloat16")
    assert result["metrics"]["accuracy"] > 0.5
    model = keras.models.load_model(f"{result['run_dir']}/model.keras")
    assert model.get_layer("hidden_1").compute_dtype == "bfloat16"
    assert model.get_layer("hidden_1").variable_dtype == "float32"
    assert model.get_layer("output").compute_dtype == "float32"
    config = json.loads(open(f"{result['run_dir']}/config.json").read())
    assert config["training"]["precision"] == "mixed_bfloat16"
    assert keras.config.dtype_policy().name == "float32"  # the global policy is restored
