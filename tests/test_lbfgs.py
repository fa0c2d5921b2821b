"""The L-BFGS phase of the fit core (`-p lbfgs_steps=N`, mlphys.lbfgs) and the entries'
defaults per dataset (the cnn on digits)."""

import json

import numpy as np
import pandas as pd
import pytest

from mlphys.errors import Interrupted
from mlphys.runconfig import RunConfig
from mlphys.training import resume, train

# a tiny ODE problem: 40 collocation points, a 2x10 network, 10 Adam steps per epoch
TINY = {"dataset_options": {"n_collocation": 40, "n_test": 21}, "steps_per_epoch": 10,
        "seed": 2, "quiet": True}
PARAMS = {"hidden_layers": 2, "units": 10, "lbfgs_steps": 30}


def test_lbfgs_rows_continue_the_history_and_config_records_the_phase(tmp_path):
    run = train("pinn", "ode_bvp", PARAMS, epochs=1, out=tmp_path, **TINY)
    history = pd.read_csv(run.path / "history.csv")
    assert list(history["epoch"]) == [0, 1, 2, 3]  # 1 Adam epoch, 3 blocks of 10
    assert history["loss"].iloc[-1] < history["loss"].iloc[0] / 10
    config = json.loads((run.path / "config.json").read_text())
    assert config["hyperparameters"]["lbfgs_steps"] == 30
    lbfgs = config["lbfgs"]
    assert lbfgs["steps"] == 30 and lbfgs["iterations"] == 30
    assert "ITERATIONS REACHED LIMIT" in lbfgs["stopped"] and lbfgs["first_epoch"] == 2
    assert config["epochs_run"] == 4 and config["status"] == "finished"
    assert run.metrics["max_error"] < 0.05  # u runs from 0 to 1
    assert not (run.path / "backup").exists()
    from mlphys.evaluation import evaluate

    best = evaluate(run.path, checkpoint="best")["metrics"]  # the last block's weights
    assert best["max_error"] == pytest.approx(run.metrics["max_error"], rel=1e-4)


def test_the_phase_stops_on_its_own_convergence_criteria(tmp_path):
    run = train("pinn", "ode_bvp", {**PARAMS, "lbfgs_steps": 5000}, epochs=1,
                out=tmp_path, **TINY)
    lbfgs = run.config.state.lbfgs
    assert lbfgs["iterations"] < 5000, lbfgs
    assert "CONVERGENCE" in lbfgs["stopped"] or "ABNORMAL" in lbfgs["stopped"], lbfgs
    assert len(run.history) == 1 + -(-lbfgs["iterations"] // 10)


def test_ctrl_c_in_the_phase_resumes_from_the_last_block(tmp_path, monkeypatch):
    from mlphys.callbacks import StopAfterBatch

    calls = {"n": 0}

    def pressed_in_iteration_25(self, batch, logs=None):
        calls["n"] += 1
        if calls["n"] == 10 + 25:  # 10 Adam steps, then L-BFGS iterations
            raise KeyboardInterrupt

    monkeypatch.setattr(StopAfterBatch, "on_train_batch_end", pressed_in_iteration_25)
    with pytest.raises(Interrupted):
        train("pinn", "ode_bvp", PARAMS, epochs=1, out=tmp_path, run_name="run", **TINY)
    monkeypatch.undo()
    run_dir = tmp_path / "run"
    assert len(pd.read_csv(run_dir / "history.csv")) == 3  # Adam + 2 complete blocks
    run = resume(run_dir, quiet=True)
    history = pd.read_csv(run_dir / "history.csv")
    assert list(history["epoch"]) == [0, 1, 2, 3]  # every block once, numbered on
    config = json.loads((run_dir / "config.json").read_text())
    assert config["resumed"][0]["from_epoch"] == 3
    assert config["lbfgs"]["iterations"] == 30 and config["status"] == "finished"
    assert np.isfinite(run.metrics["max_error"])


def test_cnn_on_digits_defaults_to_the_digits_preset_and_none_turns_it_off(tmp_path,
                                                                           run_cli):
    config = RunConfig(model="cnn", dataset="digits").resolved()
    assert (config.augment, config.augment_engine, config.lr_schedule, config.epochs) == (
        "digits", "layers", "cosine", 30)
    other = RunConfig(model="cnn", dataset="fashion_mnist").resolved()
    assert (other.augment, other.augment_engine, other.lr_schedule, other.epochs) == (
        None, "generator", "constant", 20)
    chosen = RunConfig(model="cnn", dataset="digits", augment="mlmm", epochs=3,
                       lr_schedule="constant").resolved()
    assert (chosen.augment, chosen.lr_schedule, chosen.epochs) == ("mlmm", "constant", 3)
    result = run_cli("train", "cnn", "-d", "digits", "-o", "size=12", "-p", "filters=8",
                     "-p", "dense_units=16", "--epochs", 1, "--augment", "none",
                     "--seed", 1, "--out", tmp_path, "--quiet")
    assert result.exit_code == 0, result.output
    (run_dir,) = tmp_path.glob("cnn-digits-*")
    saved = json.loads((run_dir / "config.json").read_text())
    assert saved["augmentation"] is None and saved["training"]["lr_schedule"] == "cosine"
    info = run_cli("info", "cnn")
    assert "defaults on digits:" in info.output and "augment digits" in info.output
