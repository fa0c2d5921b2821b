"""ZOO.md section A (building blocks and regression): logic_gate, xor, linreg, polyreg,
curve_fit, function_fit and their generators."""


import numpy as np
import pytest

from conftest import assert_user_error
from mlphys.datasets import load_dataset

ENTRIES = ["logic_gate", "xor", "linreg", "polyreg", "curve_fit", "function_fit"]


@pytest.mark.parametrize("args, fragments", [
    (["train", "polyreg", "-o", "noise=-0.1"], ["noise=-0.1", ">= 0"]),
    (["train", "polyreg", "-d", "noisy_sine", "-o", "noise=-1"], ["noise=-1"]),
    (["train", "linreg", "-o", "n=1"], ["n=1", "n >= 2"]),
    (["train", "polyreg", "-d", "noisy_sine", "-o", "n_val=-1"], ["n_val=-1"]),
    (["train", "polyreg", "-p", "degree=0"], ["degree=0", "declares degree in 1 .. 20"]),
    (["train", "polyreg", "-p", "l2=-1"], ["l2=-1", "declares l2 in 0.0 .. 10.0"]),
    (["train", "logic_gate", "-p", "gate=xand"], ["gate=xand", "or, nor, and, nand"]),
    (["train", "logic_gate", "-p", "weights=learned", "-o", "gate=xand"],
     ["gate=xand", "or, nor, and, nand, xor"]),
    (["train", "logic_gate", "-o", "repeats=0"], ["repeats=0"]),
    (["train", "polyreg", "-d", "xor_quadrants"], ["needs regression"]),
    (["train", "curve_fit", "-d", "gauss_lorentz"], ["needs regression"]),
])
def test_user_errors_are_one_line(run_cli, tmp_path, args, fragments):
    assert_user_error(run_cli(*args, "--out", tmp_path, "--data-dir", tmp_path), *fragments)


def test_polyreg_refuses_several_inputs(tmp_path):
    from mlphys.building import build_model
    from mlphys.datasets import DataSpec
    from mlphys.errors import UserError

    spec = DataSpec((3,), "regression", 1, "vector", None, "value", (1,))
    with pytest.raises(UserError, match="one variable"):
        build_model("polyreg", spec)


# --- generators -----------------------------------------------------------------------

def test_truth_tables_are_the_gates():
    expected = {"or": [0, 1, 1, 1], "nor": [1, 0, 0, 0], "and": [0, 0, 0, 1],
                "nand": [1, 1, 1, 0], "xor": [0, 1, 1, 0]}
    for gate, truth in expected.items():
        data = load_dataset("truth_table", {"gate": gate, "repeats": 5}, val_split=0)
        np.testing.assert_array_equal(data.x_test, [[0, 0], [0, 1], [1, 0], [1, 1]])
        np.testing.assert_array_equal(data.y_test, truth)
        assert data.x_train.shape == (20, 2)
        np.testing.assert_array_equal(data.y_train, np.tile(truth, 5))


def test_xor_quadrants_labels_opposite_signs():
    data = load_dataset("xor_quadrants", {"n_train": 4000, "n_test": 10})
    x = np.concatenate([data.x_train, data.x_val])
    y = np.concatenate([data.y_train, data.y_val])
    np.testing.assert_array_equal(y, (x[:, 0] * x[:, 1] < 0).astype(int))
    assert np.std(x) == pytest.approx(3, rel=0.05) and abs(np.mean(y) - 0.5) < 0.03


def test_curve_sets_train_on_every_point_and_are_deterministic():
    line = load_dataset("noisy_line")
    np.testing.assert_allclose(line.x_train[:, 0], np.linspace(0, 2, 20), rtol=1e-6)
    assert np.std(line.y_train - line.x_train) == pytest.approx(0.1, rel=0.4)
    assert line.sizes() == {"train": 20, "val": 20, "test": 100}
    again = load_dataset("noisy_line")
    np.testing.assert_array_equal(line.y_train, again.y_train)
    other = load_dataset("noisy_line", {"seed": 1})
    assert not np.array_equal(line.y_train, other.y_train)

    sine = load_dataset("noisy_sine")
    np.testing.assert_allclose(sine.x_train[:, 0], np.linspace(-np.pi, np.pi, 15), rtol=1e-6)
    assert sine.sizes() == {"train": 15, "val": 20, "test": 100}
    assert np.all(np.abs(sine.x_test) <= np.pi)
    assert load_dataset("noisy_sine", {"n_val": 0}).sizes()["val"] == 0


def test_stress_strain_is_the_cubic_law():
    from mlphys.data.regression_sets import stress_strain_law

    strain = np.linspace(0, 0.2, 7)
    np.testing.assert_allclose(stress_strain_law(strain),
                               120 * strain - 600 * strain ** 2 + 1000 * strain ** 3,
                               atol=1e-9)
    assert stress_strain_law(0.1) == pytest.approx(7)
    data = load_dataset("stress_strain", {"noise": 0.5})
    assert data.y_train[0, 0] == 0  # the unloaded specimen
    residual = data.y_train[1:, 0] - stress_strain_law(data.x_train[1:, 0].astype(float))
    assert np.std(residual) == pytest.approx(0.5, rel=0.4)
    np.testing.assert_allclose(data.y_test[:, 0],
                               stress_strain_law(data.x_test[:, 0].astype(float)), rtol=1e-5)


def test_lorentzian_and_wave_packet_targets():
    peak = load_dataset("lorentzian", {"n_train": 500, "n_test": 10})
    x = peak.x_train[:, 0]
    np.testing.assert_allclose(peak.y_train[:, 0], 3 / ((x - 0.5) ** 2 + 1), rtol=1e-5)
    assert np.std(x) == pytest.approx(2, rel=0.15)
    packet = load_dataset("wave_packet", {"n_train": 100, "n_test": 61})
    q = packet.x_test[:, 0]
    np.testing.assert_allclose(q, np.linspace(-3, 3, 61), atol=1e-6)
    np.testing.assert_allclose(packet.y_test[:, 0], np.exp(-q ** 2) * np.sin(5 * q), atol=1e-6)
    assert np.all(np.abs(packet.x_train) <= 3)


# --- the closed-form polynomial fit ---------------------------------------------------

def _ridge(x, y, degree, l2, scale=None):
    """The ridge solution in the model's conventions: powers of x / scale (default
    max|x|), unpenalised bias, objective mean(r^2) + l2 |w|^2; as coefficients of x^k."""
    scale = np.abs(x).max() if scale is None else scale
    design = np.vander(x / scale, degree + 1, increasing=True)
    penalty = l2 * np.diag([0.0] + [1.0] * degree)
    w = np.linalg.solve(design.T @ design / len(x) + penalty, design.T @ y / len(x))
    return w / scale ** np.arange(degree + 1)


@pytest.mark.parametrize("batch_size", [1024, 4])
def test_least_squares_fit_is_the_ridge_solution_whatever_the_batch(batch_size):
    """One pass in batches of 4 gives the ridge solution of all the points, as the full
    batch does: the normal equations are accumulated over the batches. (The penalty acts
    on the scaled powers, and the scale comes from the first batch, max|x| of all points
    only in the full batch.)"""
    import keras

    from mlphys.building import build_model
    from mlphys.models.regression import polynomial_coefficients

    data = load_dataset("noisy_sine", val_split=0)
    model, _ = build_model("polyreg", data.spec, {"degree": 5, "l2": 1e-3})
    keras.utils.set_random_seed(0)
    model.fit(data.x_train, data.y_train, batch_size=batch_size, epochs=1, verbose=0)
    scale = float(model.get_layer("features").get_weights()[0])
    if batch_size > len(data.x_train):
        assert scale == pytest.approx(np.pi)
    expected = _ridge(data.x_train[:, 0].astype(float), data.y_train[:, 0].astype(float), 5,
                      1e-3, scale)
    np.testing.assert_allclose(polynomial_coefficients(model), expected, rtol=1e-6, atol=1e-9)


def test_gradient_solver_descends_towards_the_same_solution():
    import keras

    from mlphys.building import build_model
    from mlphys.models.regression import polynomial_coefficients

    data = load_dataset("noisy_line", val_split=0)
    keras.utils.set_random_seed(0)
    model, _ = build_model("polyreg", data.spec, {"degree": 1, "solver": "gradient",
                                                  "learning_rate": 0.05})
    steps = 400  # full-batch steps, as one epoch of the points repeated
    model.fit(np.tile(data.x_train, (steps, 1)), np.tile(data.y_train, (steps, 1)),
              batch_size=len(data.x_train), shuffle=False, epochs=1, verbose=0)
    expected = _ridge(data.x_train[:, 0].astype(float), data.y_train[:, 0].astype(float), 1, 0)
    np.testing.assert_allclose(polynomial_coefficients(model), expected, atol=0.02)


def test_saved_polyreg_reopens_with_its_scale(tmp_path):
    import keras

    from mlphys.building import build_model
    from mlphys.models.regression import polynomial_coefficients

    data = load_dataset("noisy_sine", val_split=0)
    model, _ = build_model("polyreg", data.spec, {"degree": 7})
    model.fit(data.x_train, data.y_train, batch_size=1024, epochs=1, verbose=0)
    model.save(tmp_path / "poly.keras")
    reopened = keras.models.load_model(tmp_path / "poly.keras")
    assert float(reopened.get_layer("features").get_weights()[0]) == pytest.approx(np.pi)
    np.testing.assert_allclose(polynomial_coefficients(reopened),
                               polynomial_coefficients(model))
    np.testing.assert_allclose(reopened.predict(data.x_test, verbose=0),
                               model.predict(data.x_test, verbose=0), rtol=1e-6)
