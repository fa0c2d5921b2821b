"""Generators for the building blocks and regressions of the courses (ZOO.md section A).

Truth tables of logic gates, the XOR quadrants, a noisy straight line, the stress-strain
cubic, a noisy sine, a Lorentzian peak and a Gaussian wave packet. Each is deterministic
for a given seed. The small full-batch sets (line, stress-strain, sine) train on every
point, as the courses did: their validation split is `n_val` fresh points of their own
(for early stopping and `mlphys tune`), not taken from the training points.
"""

import numpy as np

from mlphys.data._checks import check_noise
from mlphys.datasets import Dataset, infer_spec, register_dataset
from mlphys.errors import UserError

GATES = ("or", "nor", "and", "nand", "xor")
_GATE_TRUTH = {  # outputs on (0,0), (0,1), (1,0), (1,1)
    "or": (0, 1, 1, 1), "nor": (1, 0, 0, 0), "and": (0, 0, 0, 1),
    "nand": (1, 1, 1, 0), "xor": (0, 1, 1, 0),
}
BOOLEAN_INPUTS = np.array([[0, 0], [0, 1], [1, 0], [1, 1]], dtype=np.float32)


def _at_least(name, value, low):
    if value < low:
        raise UserError(f"--option {name}={value}: give {name} >= {low}")


def _column(values):
    return np.asarray(values, dtype=np.float32)[:, None]


def _curve_dataset(name, train, val, test, provenance):
    """A Dataset of y(x) samples, each split a pair of 1-D arrays (x, y) -> (N, 1) each;
    the validation split is the loader's own (possibly empty), not cut from train."""
    (x, y), (x_val, y_val), (x_test, y_test) = [tuple(map(_column, s)) for s in (train, val, test)]
    return Dataset(name, infer_spec(x, y, "regression"), x, y, x_test, y_test,
                   x_val=x_val, y_val=y_val, provenance=provenance)


def _check_curve_options(n, n_val, n_test, noise):
    _at_least("n", n, 2)
    _at_least("n_val", n_val, 0)
    _at_least("n_test", n_test, 1)
    check_noise(noise)


def gate_truth(gate):
    """The truth table of `gate` on (0,0), (0,1), (1,0), (1,1) as an int array (4,)."""
    if gate not in _GATE_TRUTH:
        raise UserError(f"--option gate={gate}: choose one of {', '.join(GATES)}")
    return np.array(_GATE_TRUTH[gate])


@register_dataset("truth_table", task="binary", kind="vector", shape="2",
                  source="MLMM 6.2", licence="generated",
                  formula="""
                  x in {(0,0), (0,1), (1,0), (1,1)}, y = gate(x1, x2)
                  gate: or, nor, and, nand or xor; train: each row `repeats` times,
                  test: the four rows once
                  """)
def truth_table(gate: str = "or", repeats: int = 64):
    """The truth table of a two-input logic gate, as a binary classification set.

    x (N, 2) in {0, 1}^2, label gate(x1, x2) in {0, 1}. The training split repeats the
    four rows `repeats` times (so that mini-batches and a validation split exist); the test
    split is the four rows once, in the order (0,0), (0,1), (1,0), (1,1).
    """
    truth = gate_truth(gate)
    _at_least("repeats", repeats, 1)
    x_train = np.tile(BOOLEAN_INPUTS, (repeats, 1))
    y_train = np.tile(truth, repeats)
    spec = infer_spec(x_train, y_train, "binary", class_names=("false", "true"))
    return Dataset("truth_table", spec, x_train, y_train, BOOLEAN_INPUTS.copy(), truth,
                   provenance={"generator": "truth_table", "gate": gate, "repeats": repeats})


@register_dataset("xor_quadrants", cache=True, task="binary", kind="vector", shape="2",
                  source="MLP4P lecture 1", licence="generated",
                  formula="""
                  y = (y0, y1) ~ 3 N(0, 1) per coordinate
                  label 1 if y0 y1 < 0 (second and fourth quadrants), else 0
                  """)
def xor_quadrants(n_train: int = 10000, n_test: int = 2000, seed: int = 0):
    """Points of the plane labelled by the sign of the product of their coordinates.

    The continuous XOR of MLP4P lecture 1: inputs 3 N(0, 1) per coordinate (N, 2), label
    1 where y0 y1 < 0. No straight line separates the classes; a 2-5-1 sigmoid net does.
    """
    _at_least("n_train", n_train, 2)
    _at_least("n_test", n_test, 1)
    rng = np.random.default_rng(seed)
    x = (3 * rng.normal(size=(n_train + n_test, 2))).astype(np.float32)
    y = (x[:, 0] * x[:, 1] < 0).astype(np.int64)
    spec = infer_spec(x, y, "binary", class_names=("same sign", "opposite signs"))
    return Dataset("xor_quadrants", spec, x[:n_train], y[:n_train], x[n_train:], y[n_train:],
                   provenance={"generator": "xor_quadrants", "seed": seed})


@register_dataset("noisy_line", cache=True, task="regression", kind="vector", shape="1",
                  source="MLMM 5.3", licence="generated",
                  formula="""
                  train: x = linspace(0, 2, n), y = x + N(0, noise^2)
                  validation, test: x ~ U(0, 2) (n_val, n_test points), y = x + N(0, noise^2)
                  """)
def noisy_line(n: int = 20, noise: float = 0.1, n_val: int = 20, n_test: int = 100,
               seed: int = 0):
    """The straight line y = x with Gaussian noise, for linear regression (MLMM 5.3).

    Training set: `n` equally spaced x in [0, 2], all trained on as in the text;
    validation and test sets: fresh x ~ U(0, 2) with their own noise. x and y are (N, 1),
    dimensionless.
    """
    _check_curve_options(n, n_val, n_test, noise)
    rng = np.random.default_rng(seed)
    x = np.linspace(0, 2, n)
    y = x + rng.normal(0, noise, n)
    x_test = rng.uniform(0, 2, n_test)
    y_test = x_test + rng.normal(0, noise, n_test)
    x_val = rng.uniform(0, 2, n_val)
    y_val = x_val + rng.normal(0, noise, n_val)
    return _curve_dataset("noisy_line", (x, y), (x_val, y_val), (x_test, y_test),
                          {"generator": "noisy_line", "seed": seed, "noise": noise})


def stress_strain_law(strain):
    """sigma(eps) = (10 eps - 2)^3 + 8 = 120 eps - 600 eps^2 + 1000 eps^3 (MLMM 5.2)."""
    return (10 * strain - 2) ** 3 + 8


@register_dataset("stress_strain", cache=True, task="regression", kind="vector", shape="1",
                  source="MLMM 5.2", licence="generated",
                  formula="""
                  eps = linspace(0, 0.2, n), sigma = (10 eps - 2)^3 + 8 + N(0, noise^2),
                  sigma[0] = 0 (the unloaded specimen)
                  (10 eps - 2)^3 + 8 = 120 eps - 600 eps^2 + 1000 eps^3
                  validation: eps ~ U(0, 0.2) (n_val points), noisy like the training set
                  test: eps ~ U(0, 0.2) (n_test points), noise-free sigma
                  """)
def stress_strain(n: int = 20, noise: float = 0.1, n_val: int = 20, n_test: int = 100,
                  seed: int = 0):
    """A stress-strain curve: stress sigma (N, 1) against strain eps (N, 1) (MLMM 5.2).

    The cubic material law of MLMM 5.2 measured at `n` equally spaced strains in
    [0, 0.2] with Gaussian noise of standard deviation `noise` (stress units), the first
    point exactly 0; every measured point is trained on. Validation: `n_val` further noisy
    measurements at random strains; test: the noise-free law at `n_test` random strains,
    so test R^2 measures how well the fit recovers the law.
    """
    _check_curve_options(n, n_val, n_test, noise)
    rng = np.random.default_rng(seed)
    strain = np.linspace(0, 0.2, n)
    stress = stress_strain_law(strain) + rng.normal(0, noise, n)
    stress[0] = 0.0
    strain_test = rng.uniform(0, 0.2, n_test)
    strain_val = rng.uniform(0, 0.2, n_val)
    stress_val = stress_strain_law(strain_val) + rng.normal(0, noise, n_val)
    return _curve_dataset("stress_strain", (strain, stress), (strain_val, stress_val),
                          (strain_test, stress_strain_law(strain_test)),
                          {"generator": "stress_strain", "seed": seed, "noise": noise})


@register_dataset("noisy_sine", cache=True, task="regression", kind="vector", shape="1",
                  source="MLMM 5.5, 5.7", licence="generated",
                  formula="""
                  train: x = linspace(-pi, pi, n), y = sin x + N(0, noise^2)
                  validation, test: x ~ U(-pi, pi) (n_val, n_test points),
                  y = sin x + N(0, noise^2)
                  """)
def noisy_sine(n: int = 15, noise: float = 0.3, n_val: int = 20, n_test: int = 100,
               seed: int = 0):
    """Noisy samples of sin x on [-pi, pi], the overfitting example of MLMM 5.5 and 5.7.

    `n` equally spaced training points (all trained on), and validation and test points
    drawn uniformly elsewhere on the interval, with their own noise. A degree 15
    polynomial through the 15 training points overfits: train R^2 ~ 1, test R^2 << 0.
    """
    _check_curve_options(n, n_val, n_test, noise)
    rng = np.random.default_rng(seed)
    x = np.linspace(-np.pi, np.pi, n)
    y = np.sin(x) + rng.normal(0, noise, n)
    x_test = rng.uniform(-np.pi, np.pi, n_test)
    y_test = np.sin(x_test) + rng.normal(0, noise, n_test)
    x_val = rng.uniform(-np.pi, np.pi, n_val)
    y_val = np.sin(x_val) + rng.normal(0, noise, n_val)
    return _curve_dataset("noisy_sine", (x, y), (x_val, y_val), (x_test, y_test),
                          {"generator": "noisy_sine", "seed": seed, "noise": noise})


@register_dataset("lorentzian", cache=True, task="regression", kind="vector", shape="1",
                  source="MLP4P tutorial 1", licence="generated",
                  formula="""
                  x = 2 N(0, 1), y = amplitude / ((x - centre)^2 + 1) + N(0, noise^2)
                  amplitude = 3, centre = 0.5 by default
                  """)
def lorentzian(n_train: int = 1000, n_test: int = 200, amplitude: float = 3.0,
               centre: float = 0.5, noise: float = 0.0, seed: int = 0):
    """Samples of a Lorentzian peak, the curve-fitting target of MLP4P tutorial 1.

    x (N, 1) ~ 2 N(0, 1), y (N, 1) = amplitude / ((x - centre)^2 + 1), noise-free by
    default; the two-parameter model theta0 / ((x - theta1)^2 + 1) should recover
    (amplitude, centre).
    """
    _at_least("n_train", n_train, 2)
    _at_least("n_test", n_test, 1)
    check_noise(noise)
    rng = np.random.default_rng(seed)
    x = 2 * rng.normal(size=(n_train + n_test, 1))
    y = amplitude / ((x - centre) ** 2 + 1) + rng.normal(0, noise, x.shape)
    x, y = x.astype(np.float32), y.astype(np.float32)
    spec = infer_spec(x, y, "regression")
    return Dataset("lorentzian", spec, x[:n_train], y[:n_train], x[n_train:], y[n_train:],
                   provenance={"generator": "lorentzian", "seed": seed,
                               "amplitude": amplitude, "centre": centre, "noise": noise})


def wave_packet_function(q):
    """F(q) = exp(-q^2) sin(5 q) (3EL lesson 2)."""
    return np.exp(-q ** 2) * np.sin(5 * q)


@register_dataset("wave_packet", cache=True, task="regression", kind="vector", shape="1",
                  source="3EL lesson 2", licence="generated",
                  formula="""
                  F(q) = exp(-q^2) sin(5 q)
                  train: q ~ U(-3, 3); test: the dense grid q = linspace(-3, 3, n_test)
                  """)
def wave_packet(n_train: int = 10000, n_test: int = 1000, seed: int = 0):
    """The one-dimensional function F(q) = exp(-q^2) sin(5 q) to be fitted by a network.

    Training inputs q (N, 1) ~ U(-3, 3), targets F(q) (N, 1), noise-free; the test split
    is the dense grid linspace(-3, 3, n_test), so test MSE is the fit's error over the
    whole interval.
    """
    _at_least("n_train", n_train, 2)
    _at_least("n_test", n_test, 1)
    rng = np.random.default_rng(seed)
    q = rng.uniform(-3, 3, (n_train, 1))
    grid = np.linspace(-3, 3, n_test)[:, None]
    f32 = lambda a: a.astype(np.float32)  # noqa: E731
    spec = infer_spec(f32(q), f32(wave_packet_function(q)), "regression")
    return Dataset("wave_packet", spec, f32(q), f32(wave_packet_function(q)), f32(grid),
                   f32(wave_packet_function(grid)),
                   provenance={"generator": "wave_packet", "seed": seed})
