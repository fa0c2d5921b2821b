"""The oscillator generators (duffing, particles) and their models: duffing,
lstm_particles and rnn (3EL lesson 3, MLP4P tutorials 6-7, MLMM 8)."""


import numpy as np
import pytest

from conftest import assert_user_error
from mlphys.data.oscillators import (chain_matrix, chain_trajectories, duffing,
                                     duffing_responses, particles, particles_forecast, rk4)


# --- the integrator against exact solutions ------------------------------------------------

def test_rk4_harmonic_oscillator_is_fourth_order():
    """x'' = -w^2 x from (1, 0): x = cos(wt); halving dt divides the error by ~16."""
    omega = 1.3

    def rhs(t, s):
        return np.stack([s[1], -omega ** 2 * s[0]])

    errors = []
    for steps in (50, 100):
        kept = rk4(rhs, np.array([1.0, 0.0]), 0.0, 10.0 / steps, steps)
        t = np.arange(1, steps + 1) * 10.0 / steps
        errors.append(np.max(np.abs(kept[:, 0] - np.cos(omega * t))))
    assert errors[1] < 1e-4
    assert 12 < errors[0] / errors[1] < 20


def test_rk4_time_dependent_right_hand_side():
    """dz/dt = i t z: z = exp(i t^2 / 2) (the sweep of the Duffing drive enters through t)."""
    kept = rk4(lambda t, z: 1j * t * z, np.ones(3, complex), 0.0, 0.01, 300, 100)
    t = np.array([1.0, 2.0, 3.0])
    np.testing.assert_allclose(kept[:, 0], np.exp(1j * t ** 2 / 2), atol=1e-6)


def test_two_particles_follow_their_normal_modes():
    """The course's pair (k = [0.1, 0], D1 = 0.2, m = [2, 1]) against the exact solution
    x(t) = V [cos(w t) V^-1 x0 + sin(w t)/w V^-1 v0], with A = V diag(-w^2) V^-1."""
    accel = chain_matrix([2.0, 1.0], [0.1, 0.0], [0.2])
    np.testing.assert_allclose(accel, [[-0.15, 0.1], [0.2, -0.2]])
    rng = np.random.default_rng(1)
    x0, v0 = rng.normal(size=(5, 2)), rng.normal(size=(5, 2))
    x, v = chain_trajectories(x0, v0, accel, 0.5, 60)
    eigenvalues, modes = np.linalg.eig(accel)
    omega = np.sqrt(-eigenvalues.real)
    t = np.arange(61)[:, None] * 0.5
    c, d = np.linalg.solve(modes, x0.T), np.linalg.solve(modes, v0.T)  # (2, N)
    exact = np.einsum("jm,tmn->ntj", modes, np.cos(omega[None, :, None] * t[..., None]) * c
                      + np.sin(omega[None, :, None] * t[..., None]) / omega[None, :, None] * d)
    assert x.shape == v.shape == (5, 61, 2)
    np.testing.assert_allclose(x, exact.real, atol=2e-3)  # the course's dt = 0.5
    finer, _ = chain_trajectories(x0, v0, accel, 0.125, 240)
    np.testing.assert_allclose(finer[:, ::4], exact.real, atol=1e-5)


def test_linear_duffing_reaches_the_lorentzian_steady_state():
    """epsilon = 0 at a fixed frequency: |z| -> f / sqrt((w0 - w)^2 + gamma^2 / 4)."""
    omega0, gamma = np.array([0.5, -0.3, 0.0]), np.array([1.0, 0.8, 1.5])
    response = duffing_responses(omega0, gamma, 0.0, 1.0, steps=400, points=4,
                                 omega_range=(0.2, 0.2))
    expected = 1 / np.sqrt((omega0 - 0.2) ** 2 + gamma ** 2 / 4)
    np.testing.assert_allclose(response[:, -1], expected, rtol=1e-4)


# --- the generators -------------------------------------------------------------------------

def test_duffing_shapes_ranges_and_determinism():
    data = duffing(n_train=40, n_test=10, seed=3)
    assert data.x_train.shape == (40, 50) and data.y_test.shape == (10, 3)
    assert data.x_train.dtype == np.float32 and np.all(data.x_train >= 0)
    y = np.concatenate([data.y_train, data.y_test])
    assert np.all(np.abs(y[:, 0]) <= 1) and np.all((0.5 <= y[:, 1]) & (y[:, 1] <= 1.5))
    assert np.all((0 <= y[:, 2]) & (y[:, 2] <= 0.15))
    # the resonance peak sits near omega0: omega(t_k) = -4 + 8 (k + 1) / 50
    peak = -4 + 8 * (np.argmax(data.x_train, axis=1) + 1) / 50
    assert np.median(np.abs(peak - data.y_train[:, 0])) < 0.5
    again = duffing(n_train=40, n_test=10, seed=3)
    np.testing.assert_array_equal(data.x_train, again.x_train)


def test_particles_tasks_and_chain_option():
    infer = particles(n_train=8, n_test=2, seed=1)
    predict = particles(n_train=8, n_test=2, task="predict", seed=1)
    assert infer.x_train.shape == infer.y_train.shape == (8, 60, 1)
    # same trajectories: the predict input is x0 with its second half zeroed
    np.testing.assert_array_equal(predict.x_train[:, :30], infer.x_train[:, :30])
    assert np.all(predict.x_train[:, 30:] == 0)
    np.testing.assert_array_equal(predict.y_train, infer.x_train)
    chain = particles(n_train=4, n_test=1, particles=4, masses="1", springs="0.1",
                      coupling="0.2,0.3,0.4")
    assert chain.provenance["coupling"] == [0.2, 0.3, 0.4]
    forecast = particles_forecast(n_train=8, n_test=2, seed=1)
    assert forecast.x_train.shape == (8, 60, 4) and forecast.y_train.shape == (8, 1)
    np.testing.assert_allclose(forecast.x_train[..., :1], infer.x_train, rtol=1e-6)


# --- command line: train, evaluate, user errors ---------------------------------------------

@pytest.mark.parametrize("args, fragment", [
    (["-d", "duffing", "-o", "noise=-0.1"], "noise level must be >= 0"),
    (["-d", "duffing", "-o", "steps=0"], "both must be >= 1"),
    (["-d", "duffing", "-o", "steps=400", "-o", "points=60"], "multiple of points"),
    (["-d", "duffing", "-p", "variant=cnn"], "-d duffing_sweep -p variant=cnn"),
])
def test_duffing_user_errors(run_cli, tmp_path, monkeypatch, args, fragment):
    monkeypatch.setenv("MLPHYS_DATA_DIR", str(tmp_path))
    result = run_cli("train", "duffing", *args, "-o", "n_train=10", "-o", "n_test=2",
                     "--out", tmp_path)
    assert_user_error(result, fragment)


@pytest.mark.parametrize("args, fragment", [
    (["-o", "steps=1"], "at least 2 time steps"),
    (["-o", "task=fly"], "choose infer"),
    (["-o", "particles=3"], "give 3 masses"),
    (["-o", "masses=2,-1"], "every mass must be > 0"),
    (["-o", "noise=-1"], "noise level must be >= 0"),
])
def test_particles_user_errors(run_cli, tmp_path, monkeypatch, args, fragment):
    monkeypatch.setenv("MLPHYS_DATA_DIR", str(tmp_path))
    result = run_cli("train", "lstm_particles", *args, "-o", "n_train=10", "-o", "n_test=2",
                     "--out", tmp_path)
    assert_user_error(result, fragment)


def test_forecast_horizon_must_be_positive(run_cli, tmp_path, monkeypatch):
    monkeypatch.setenv("MLPHYS_DATA_DIR", str(tmp_path))
    result = run_cli("train", "rnn", "-o", "horizon=0", "--out", tmp_path)
    assert_user_error(result, "at least 1 step ahead")


# --- the reproduction checks ---------------------------------------------------------------

