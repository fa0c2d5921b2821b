"""The `chain` (3EL lesson 1) and `pdf_fit` (ML4PA tutorial 3) entries and their data."""

import json
from pathlib import Path

import numpy as np
import pytest

from conftest import assert_user_error


def test_chain_gradient_closed_form_matches_finite_differences():
    from mlphys.models.chain import chain_gradient, finite_difference_gradient

    heights = np.random.default_rng(3).normal(size=7)
    constants = {"spring_constant": 2.0, "rest_length": 0.5, "weight": 0.3}
    np.testing.assert_allclose(chain_gradient(heights, **constants),
                               finite_difference_gradient(heights, **constants), atol=1e-7)


def test_chain_equilibrium_is_symmetric_and_stationary():
    from mlphys.models.chain import chain_equilibrium, chain_gradient

    heights = chain_equilibrium()
    assert np.max(np.abs(chain_gradient(heights))) < 1e-10
    np.testing.assert_allclose(heights, heights[::-1], atol=1e-12)
    assert heights.min() < -3  # it sags under its weight


def test_gluon_pseudo_data():
    from mlphys.data.physics_fits import GLUON_SHAPE, gluon, gluon_normalisation, gluon_truth

    data = gluon()
    assert data.x_train.shape == (800, 1) and data.x_test.shape == (200, 1)
    x = np.concatenate([data.x_train, data.x_test]).ravel()
    assert x.min() == pytest.approx(1e-3) and x.max() < 1
    np.testing.assert_allclose(np.ravel(data.sigma_test), 0.1 * gluon_truth(data.x_test.ravel()),
                               rtol=1e-4)
    pulls = (data.y_train - gluon_truth(data.x_train.ravel())[:, None]) / data.sigma_train
    assert abs(pulls.mean()) < 0.15 and 0.9 < pulls.std() < 1.1
    np.testing.assert_array_equal(gluon().y_train, data.y_train)  # deterministic
    grid = np.linspace(0, 1, 200001)[1:-1]  # momentum sum rule of the truth
    f = gluon_truth(grid)  # the trapezoidal rule by hand: np.trapezoid is NumPy >= 2.0 only
    assert np.sum((f[1:] + f[:-1]) / 2 * np.diff(grid)) == pytest.approx(0.42, rel=1e-3)
    assert gluon_normalisation(**GLUON_SHAPE) > 0


def test_chain_trains_and_evaluates_from_the_command_line(run_cli, tmp_path):
    result = run_cli("train", "chain", "-o", "n_masses=6", "-p", "optimizer=adam",
                     "-p", "learning_rate=0.1", "--epochs", 3, "--out", tmp_path,
                     "--seed", 1)
    assert result.exit_code == 0, result.output
    (run_dir,) = tmp_path.glob("chain-*")
    assert (run_dir / "chain.png").is_file()
    metrics = json.loads((run_dir / "metrics.json").read_text())
    assert set(metrics) >= {"energy", "max_gradient", "asymmetry"}
    result = run_cli("evaluate", run_dir, "--json")
    assert result.exit_code == 0, result.output
    assert json.loads(result.output)["metrics"]["energy"] == pytest.approx(metrics["energy"])


def test_pdf_fit_replicas_train_and_evaluate(run_cli, tmp_path, monkeypatch):
    monkeypatch.setenv("MLPHYS_DATA_DIR", str(tmp_path))
    result = run_cli("train", "pdf_fit", "--replicas", 2, "--epochs", 1, "-o", "n_points=100",
                     "--out", tmp_path, "--seed", 0)
    assert result.exit_code == 0, result.output
    (run_dir,) = tmp_path.glob("pdf_fit-*")
    assert (run_dir / "pdf_fit.png").is_file()
    metrics = json.loads((run_dir / "metrics.json").read_text())
    assert 0 <= metrics["band_coverage"] <= 1 and metrics["chi2_truth"] > 0
    result = run_cli("evaluate", run_dir, "--json")
    assert result.exit_code == 0, result.output
    assert json.loads(result.output)["metrics"]["loss"] == pytest.approx(metrics["loss"],
                                                                         rel=1e-4)


def test_user_errors(run_cli, tmp_path):
    assert_user_error(run_cli("train", "pdf_fit", "--replicas", 0, "--out", tmp_path),
                      "--replicas 0")
    assert_user_error(run_cli("train", "chain", "-o", "n_masses=0", "--out", tmp_path),
                      "n_masses=0")
    assert_user_error(run_cli("train", "pdf_fit", "-o", "relative_error=0",
                              "--out", tmp_path), "relative_error=0")
    assert_user_error(run_cli("train", "chain", "--replicas", 2, "--out", tmp_path),
                      "--replicas")
    assert not any(Path(tmp_path).glob("*-*"))
