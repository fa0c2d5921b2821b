"""The physics-informed network `pinn` and its problems (MLMM 15.1-15.3)."""

import json
import math

import numpy as np
import pytest

from conftest import assert_user_error
from mlphys.data.pdes import (COLLOCATION, COLUMNS, CONDITION, EVALUATION, burgers,
                              burgers_reference, heat, heat_exact, latin_hypercube,
                              ode_bvp, ode_bvp_exact)

TINY_BURGERS = ("-o", "n_collocation=300", "-o", "n_boundary=40", "-o", "nx=17",
                "-o", "nt=6")


def test_train_evaluate_and_reopen_from_the_command_line(run_cli, tmp_path, monkeypatch):
    monkeypatch.setenv("MLPHYS_DATA_DIR", str(tmp_path))
    result = run_cli("train", "pinn", "-d", "burgers", *TINY_BURGERS, "-p", "hidden_layers=2",
                     "-p", "fourier_features=16", "--epochs", 1, "--seed", 0,
                     "--out", tmp_path, "--quiet")
    assert result.exit_code == 0, result.output
    run_dir = next(tmp_path.glob("pinn-burgers-*"))
    for name in ("solution.png", "error.png", "residual.png", "model.keras"):
        assert (run_dir / name).is_file(), name
    metrics = json.loads((run_dir / "metrics.json").read_text())
    assert set(metrics) >= {"relative_l2", "max_error", "rms_error", "residual_rms"}
    assert 0 < metrics["relative_l2"] < 10

    import keras

    model = keras.models.load_model(run_dir / "model.keras")
    assert type(model).__name__ == "PhysicsInformedNetwork"
    assert model.network.get_layer("fourier_features").output_dim == 16
    result = run_cli("evaluate", run_dir, "--json")
    assert result.exit_code == 0, result.output
    reopened = json.loads(result.output)["metrics"]
    assert reopened["relative_l2"] == pytest.approx(metrics["relative_l2"], rel=1e-5)


def test_an_unknown_problem_is_one_line(run_cli):
    assert_user_error(run_cli("train", "pinn", "-d", "burger", "--epochs", 1), "burgers")


def test_a_dataset_that_is_no_pde_problem_is_refused(run_cli, tmp_path):
    rng = np.random.default_rng(0)
    np.savez(tmp_path / "table.npz", x_train=rng.normal(size=(40, 3)).astype("float32"),
             y_train=rng.normal(size=(40, 1)).astype("float32"))
    result = run_cli("train", "pinn", "-d", tmp_path / "table.npz", "--epochs", 1,
                     "--out", tmp_path)
    assert_user_error(result, "ode_bvp, burgers and heat")


def test_bad_problem_options_are_one_line(run_cli):
    assert_user_error(run_cli("train", "pinn", "-d", "burgers", "-o", "viscosity=0"),
                      "viscosity")
    assert_user_error(run_cli("train", "pinn", "-d", "heat", "-o", "frequency=0"),
                      "frequency")


# --- the problems and their solutions ----------------------------------------------------

def test_ode_exact_solution_solves_the_boundary_value_problem():
    a, b, u0, u1 = 2.0, 1.0, 0.3, -0.7
    x, h = np.linspace(0.05, 0.95, 19), 1e-4
    u = lambda s: ode_bvp_exact(s, a, b, u0, u1)  # noqa: E731
    second = (u(x + h) - 2 * u(x) + u(x - h)) / h ** 2
    first = (u(x + h) - u(x - h)) / (2 * h)
    np.testing.assert_allclose(second + a * first - b, 0, atol=1e-5)
    np.testing.assert_allclose([u(0.0), u(1.0)], [u0, u1], atol=1e-14)
    # a = 0 is the limit of a -> 0
    np.testing.assert_allclose(ode_bvp_exact(x, 0.0, b, u0, u1),
                               ode_bvp_exact(x, 1e-6, b, u0, u1), atol=1e-6)


def test_burgers_reference_converges_and_meets_its_conditions():
    x = np.linspace(-1, 1, 41)
    t_grid, x_grid = np.meshgrid([0.0, 0.1, 0.37, 0.99], x, indexing="ij")
    coarse = burgers_reference(x_grid, t_grid)
    fine = burgers_reference(x_grid, t_grid, nodes=1601, z_max=16.0)
    np.testing.assert_allclose(coarse, fine, atol=1e-12)  # refinement changes nothing
    np.testing.assert_allclose(coarse[0], -np.sin(math.pi * x), atol=1e-14)
    np.testing.assert_allclose(coarse[:, [0, -1]], 0, atol=1e-12)
    # the shock: u is odd in x and steepest at x = 0
    np.testing.assert_allclose(coarse[-1], -coarse[-1][::-1], atol=1e-12)


def test_burgers_reference_solves_the_equation_away_from_the_shock():
    nu, h, k = 0.01 / math.pi, 1e-3, 1e-4
    x = np.linspace(-0.9, -0.3, 13)
    t = np.full_like(x, 0.4)
    u = burgers_reference(x, t)
    u_t = (burgers_reference(x, t + k) - burgers_reference(x, t - k)) / (2 * k)
    u_x = (burgers_reference(x + h, t) - burgers_reference(x - h, t)) / (2 * h)
    u_xx = (burgers_reference(x + h, t) - 2 * u + burgers_reference(x - h, t)) / h ** 2
    np.testing.assert_allclose(u_t + u * u_x - nu * u_xx, 0, atol=1e-5)


def test_heat_exact_solution_solves_the_heat_equation():
    kappa, k, h = 0.01, 3, 1e-4
    x, t = np.linspace(0, 1, 11), np.full(11, 0.3)
    u_t = (heat_exact(x, t + h, k, kappa) - heat_exact(x, t - h, k, kappa)) / (2 * h)
    u_xx = (heat_exact(x + h, t, k, kappa) - 2 * heat_exact(x, t, k, kappa)
            + heat_exact(x - h, t, k, kappa)) / h ** 2
    np.testing.assert_allclose(u_t - kappa * u_xx, 0, atol=1e-5)


def test_problems_pack_points_roles_and_coefficients():
    data = burgers(n_collocation=500, n_boundary=40, nx=9, nt=4, seed=3)
    assert data.x_train.shape == (540, len(COLUMNS)) and data.x_train.dtype == np.float32
    roles = data.x_train[:, 2]
    assert (roles == COLLOCATION).sum() == 500 and (roles == CONDITION).sum() == 40
    assert np.all(data.x_test[:, 2] == EVALUATION) and data.x_test.shape == (36, 8)
    np.testing.assert_allclose(data.x_train[0, 3:], [1, 1, 0, -0.01 / math.pi, 0],
                               rtol=1e-6)
    conditions = data.x_train[roles == CONDITION]
    at_start = conditions[:, 1] == 0
    np.testing.assert_allclose(data.y_train[roles == CONDITION][at_start, 0],
                               -np.sin(math.pi * conditions[at_start, 0]), atol=1e-6)
    assert np.all(np.abs(conditions[~at_start, 0]) == 1)
    assert len(data.x_val) == 0  # the training loss is monitored
    again = burgers(n_collocation=500, n_boundary=40, nx=9, nt=4, seed=3)
    np.testing.assert_array_equal(data.x_train, again.x_train)
    ode = ode_bvp(a=1.5, b=2.0, n_collocation=10)
    np.testing.assert_allclose(ode.x_train[0, 3:], [0, 0, 1.5, 1, -2])
    assert heat(frequency=2, n_collocation=10, n_boundary=8).provenance["kappa"] == \
        pytest.approx(1 / (2 * math.pi) ** 2)


def test_latin_hypercube_puts_one_point_in_each_stratum():
    points = latin_hypercube(50, np.random.default_rng(1), (-1, 0), (1, 1))
    for column, (low, high) in enumerate(((-1, 1), (0, 1))):
        strata = np.floor((points[:, column] - low) / (high - low) * 50).astype(int)
        assert sorted(strata) == list(range(50))


def test_random_fourier_features_serialise_with_a_trainable_scale():
    import keras

    from mlphys.models._pinn_layers import RandomFourierFeatures

    layer = RandomFourierFeatures(64, scale=0.5, seed=7)
    x = np.random.default_rng(0).uniform(-1, 1, (5, 2)).astype("float32")
    y = keras.ops.convert_to_numpy(layer(x))
    assert y.shape == (5, 64) and np.all(np.abs(y) <= math.sqrt(2 / 64) + 1e-7)
    assert [w.name for w in layer.trainable_weights] == ["kernel_scale"]
    copy = keras.layers.deserialize(keras.layers.serialize(layer))
    copy(x)  # builds it
    copy.set_weights(layer.get_weights())
    np.testing.assert_allclose(keras.ops.convert_to_numpy(copy(x)), y, atol=1e-6)
    np.testing.assert_allclose(  # the same seed draws the same features
        keras.ops.convert_to_numpy(RandomFourierFeatures(64, 0.5, seed=7)(x)),
        y, atol=1e-6)
