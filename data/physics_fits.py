"""Problems that are fits of a physical quantity rather than samples of one.

`chain` (3EL lesson 1) is a minimisation problem: its single dummy sample only tells the
`chain` model how many masses to hold (the target width). `gluon` (ML4PA tutorial 3) is
pseudo-data of the gluon PDF with 10% uncertainties, for chi^2 fits and replica ensembles.
"""

import math

import numpy as np

from mlphys.datasets import Dataset, infer_spec, register_dataset
from mlphys.errors import UserError


@register_dataset("chain", task="regression", kind="vector", shape="1",
                  source="3EL lesson 1", licence="generated",
                  formula="""
                  E(y) = sum_{j=0..N} K/2 (sqrt((y_{j+1} - y_j)^2 + 1) - l)^2 + m g sum_{j=1..N} y_j
                  y_1..y_N: heights of the N masses, horizontal spacing 1;
                  ends fixed at y_0 = y_{N+1} = 0 (N+1 springs)
                  K = 5, l = 0.8, m g = 0.1 (the model's hyperparameters
                  spring_constant, rest_length, weight)
                  one dummy sample x = [0], target zeros(N): only its width N is used
                  """)
def chain(n_masses: int = 20):
    """A chain of `n_masses` masses on springs, as a minimisation problem (3EL lesson 1).

    There is nothing to learn from data: the `chain` model's weights are the heights of
    the masses and its loss is the energy. The dataset holds one dummy sample, x = [0]
    (shape (1, 1)) with target zeros(n_masses), in every split (no validation split, so
    training monitors the energy itself); the target's width tells the model N.
    """
    if n_masses < 1:
        raise UserError(f"--option n_masses={n_masses}: give at least 1 mass")
    x = np.zeros((1, 1), dtype=np.float32)
    y = np.zeros((1, n_masses), dtype=np.float32)
    spec = infer_spec(x, y, "regression")
    return Dataset("chain", spec, x, y, x, y, x_val=x[:0], y_val=y[:0],
                   provenance={"generator": "chain", "n_masses": n_masses})


# x g(x) at Q0 = 2 GeV: A x^a (1 - x)^b (1 + c sqrt(x) + d x), the first term of the
# MSTW 2008 gluon parametrisation (Martin, Stirling, Thorne, Watt 2009), with a
# mildly rising small-x exponent and the (1 - x)^5 fall-off of the counting rules; A
# normalises the momentum fraction to int_0^1 x g(x) dx = 0.42, about the gluon's share
# of the proton's momentum at Q ~ 2 GeV. The shape is a typical one (x g ~ 4 at
# x = 1e-3, ~ 1.4 at x = 0.1), not any one published set.
GLUON_SHAPE = {"a": -0.1, "b": 5.0, "c": -1.0, "d": 2.0}
GLUON_MOMENTUM_FRACTION = 0.42


def _beta(p, q):
    return math.exp(math.lgamma(p) + math.lgamma(q) - math.lgamma(p + q))


def gluon_normalisation(a, b, c, d, momentum_fraction=GLUON_MOMENTUM_FRACTION):
    """A such that int_0^1 A x^a (1-x)^b (1 + c sqrt(x) + d x) dx = momentum_fraction
    (each term is an Euler beta function)."""
    integral = _beta(a + 1, b + 1) + c * _beta(a + 1.5, b + 1) + d * _beta(a + 2, b + 1)
    return momentum_fraction / integral


def gluon_truth(x, a=GLUON_SHAPE["a"], b=GLUON_SHAPE["b"], c=GLUON_SHAPE["c"],
                d=GLUON_SHAPE["d"]):
    """x g(x) at Q0 = 2 GeV of the parametrisation above, for x in (0, 1) (float64)."""
    x = np.asarray(x, dtype=np.float64)
    norm = gluon_normalisation(a, b, c, d)
    return norm * x ** a * (1 - x) ** b * (1 + c * np.sqrt(x) + d * x)


@register_dataset("gluon", cache=True, task="regression", kind="vector", shape="1",
                  source="ML4PA tutorial 3", licence="generated",
                  formula="""
                  truth  x g(x) = A x^a (1-x)^b (1 + c sqrt(x) + d x)   at Q0 = 2 GeV
                  a, b, c, d = -0.1, 5, -1, 2 (MSTW 2008 gluon form, typical shape);
                  A from the momentum sum int_0^1 x g dx = 0.42
                  x: n_points log-spaced in [1e-3, 1); every test_every-th point is test
                  sigma = relative_error * truth; data = truth + N(0, sigma^2)
                  input x (N, 1); target x g (N, 1); sigma_* given (chi^2 training)
                  """)
def gluon(n_points: int = 1000, relative_error: float = 0.1, test_every: int = 5,
          seed: int = 0):
    """Pseudo-data of the gluon x g(x) at Q0 = 2 GeV with `relative_error` uncertainties.

    The course (ML4PA tutorial 3) drew the truth from an LHAPDF set; offline, mlphys uses
    the smooth parametrisation `gluon_truth`. x: `n_points` log-spaced points in
    [1e-3, 1) (shape (N, 1)); every `test_every`-th point (from the third) is held out as
    the test split, the rest are training points (the engine takes its validation split
    from them). Targets y = truth + sigma N(0, 1), sigma = relative_error * truth, with
    `sigma_train`/`sigma_test`, so regression trains on chi^2/N and `train --replicas N`
    fluctuates the targets within sigma. `gluon_truth(x)` gives the noiseless values
    for closure tests.
    """
    if n_points < 10:
        raise UserError(f"--option n_points={n_points}: give at least 10 points")
    if relative_error <= 0:
        raise UserError(f"--option relative_error={relative_error}: the relative "
                        "uncertainty must be > 0")
    if not 2 <= test_every <= n_points // 2:
        raise UserError(f"--option test_every={test_every}: give a number from 2 to "
                        f"{n_points // 2} (every test_every-th point is a test point)")
    x = np.logspace(-3, 0, n_points, endpoint=False)
    truth = gluon_truth(x)
    sigma = relative_error * truth
    rng = np.random.default_rng(seed)
    data = truth + sigma * rng.standard_normal(n_points)
    test = np.arange(n_points) % test_every == 2
    column = lambda v: v[:, np.newaxis].astype(np.float32)  # noqa: E731
    x, data, sigma = column(x), column(data), column(sigma)
    spec = infer_spec(x[~test], data[~test], "regression")
    return Dataset("gluon", spec, x[~test], data[~test], x[test], data[test],
                   sigma_train=sigma[~test], sigma_test=sigma[test],
                   provenance={"generator": "gluon", "seed": seed, "Q0_GeV": 2.0,
                               "shape": dict(GLUON_SHAPE),
                               "normalisation": gluon_normalisation(**GLUON_SHAPE),
                               "relative_error": relative_error,
                               "x": f"logspace(-3, 0, {n_points}, endpoint=False)"})
