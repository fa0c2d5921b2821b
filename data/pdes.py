"""The problems of the physics-informed network `pinn` (MLMM 15.1-15.3), with their exact
or reference solutions.

Three datasets, one per problem:

- `ode_bvp`: the boundary-value problem u'' + a u' - b = 0 on [0, 1], u(0) = u0,
  u(1) = u1, exact u = C1 + C2 exp(-a x) + (b/a) x (MLMM 15.1);
- `burgers`: u_t + u u_x - nu u_xx = 0 on x in [-1, 1], t in [0, 1], u(x, 0) = -sin(pi x),
  u(+-1, t) = 0, nu = 0.01/pi (MLMM 15.2; Raissi, Perdikaris, Karniadakis 2019), against
  the Cole-Hopf solution computed to quadrature precision (`burgers_reference`);
- `heat`: u_t = kappa u_xx on [0, 1] x [0, 1], u(x, 0) = cos(k pi x), exact
  u = exp(-kappa k^2 pi^2 t) cos(k pi x), the spectral-bias example (MLMM 15.3).

Every problem is written as one residual with constant coefficients,

    R = c_t u_t + c_uux u u_x + c_ux u_x + c_uxx u_xx + c_1 = 0,

and every row of x carries the point, its role and the coefficients (`COLUMNS`), so that
the network learns the equation from its data alone (no constant has to be repeated as a
hyperparameter). Roles: 0 = collocation point (the residual is pressed to zero there),
1 = boundary or initial point (the solution is pressed to y there), 2 = evaluation point
(the test split: y is the exact or reference solution). The training split holds the
collocation and condition points; there is no validation split (the training loss is
monitored); the test split is a regular grid, t-major, for the error and the figures.
"""

import math

import numpy as np

from mlphys.datasets import Dataset, infer_spec, register_dataset
from mlphys.errors import UserError

COLUMNS = ("x", "t", "role", "c_t", "c_uux", "c_ux", "c_uxx", "c_1")
COLLOCATION, CONDITION, EVALUATION = 0, 1, 2
PROBLEMS = ("ode_bvp", "burgers", "heat")


def pack(x, t, role, coefficients):
    """Rows of `COLUMNS` (float32, (N, 8)) for points (x, t) (each (N,)) of one `role`,
    with the residual's coefficients (c_t, c_uux, c_ux, c_uxx, c_1) on every row."""
    x = np.asarray(x, dtype=np.float64).ravel()
    t = np.broadcast_to(np.asarray(t, dtype=np.float64), x.shape)
    rows = np.empty((len(x), len(COLUMNS)), dtype=np.float32)
    rows[:, 0], rows[:, 1], rows[:, 2] = x, t, role
    rows[:, 3:] = np.asarray(coefficients, dtype=np.float32)
    return rows


def latin_hypercube(n, rng, lower, upper):
    """n points in the box [lower, upper] (each a sequence of D bounds), one in each of
    the n strata of every coordinate (Latin hypercube sampling, as Raissi et al. draw
    their collocation points). Returns (n, D) float64."""
    lower, upper = np.asarray(lower, dtype=float), np.asarray(upper, dtype=float)
    strata = np.argsort(rng.random((n, len(lower))), axis=0)  # a permutation per column
    unit = (strata + rng.random((n, len(lower)))) / n
    return lower + unit * (upper - lower)


def _problem(name, train_rows, y_condition, test_rows, y_test, provenance):
    """The `Dataset` of a problem: train = collocation + condition rows, no validation."""
    n_collocation = int(np.sum(train_rows[:, 2] == COLLOCATION))
    y_train = np.concatenate([np.zeros(n_collocation), y_condition]).astype(np.float32)
    y_test = np.asarray(y_test, dtype=np.float32).ravel()
    x_train, y_train = train_rows, y_train[:, None]
    spec = infer_spec(x_train, y_train, "regression", kind="vector")
    return Dataset(name, spec, x_train, y_train, test_rows, y_test[:, None],
                   x_val=x_train[:0], y_val=y_train[:0], provenance=provenance)


def _check_counts(**counts):
    for name, (value, least) in counts.items():
        if value < least:
            raise UserError(f"--option {name}={value}: give {name} >= {least}")


# --- (1) the boundary-value ODE ------------------------------------------------------

def ode_bvp_exact(x, a, b, u0, u1):
    """Exact solution of u'' + a u' - b = 0, u(0) = u0, u(1) = u1, at x (any shape).

    u = C1 + C2 exp(-a x) + (b/a) x, written as u = u0 + (u1 - u0) s + (b/a) (x - s) with
    s(x) = (1 - exp(-a x)) / (1 - exp(-a)) (no large cancelling C1, C2 for small a);
    for a = 0 the limit u = u0 + (u1 - u0) x + (b/2) (x^2 - x).
    """
    x = np.asarray(x, dtype=np.float64)
    if a == 0:
        return u0 + (u1 - u0) * x + (b / 2) * (x ** 2 - x)
    s = np.expm1(-a * x) / np.expm1(-a)
    return u0 + (u1 - u0) * s + (b / a) * (x - s)


@register_dataset("ode_bvp", cache=True, task="regression", kind="vector", shape="8",
                  source="MLMM 15.1", licence="generated",
                  formula="""
                  u'' + a u' - b = 0 on [0, 1], u(0) = u0, u(1) = u1
                  exact: u = C1 + C2 exp(-a x) + (b/a) x,
                         C2 = (u1 - u0 - b/a) / (exp(-a) - 1), C1 = u0 - C2
                  x columns: x, t (= 0), role (0 collocation, 1 boundary, 2 evaluation),
                             c_t, c_uux, c_ux, c_uxx, c_1 = 0, 0, a, 1, -b
                  train: n_collocation points ~ U(0, 1) and the 2 boundary points (y = u0, u1)
                  test: n_test points on a regular grid of [0, 1], y = exact u
                  """)
def ode_bvp(a: float = 2.0, b: float = 1.0, u0: float = 0.0, u1: float = 1.0,
            n_collocation: int = 100, n_test: int = 201, seed: int = 0):
    """The boundary-value ODE u'' + a u' - b = 0 on [0, 1] with its exact solution."""
    _check_counts(n_collocation=(n_collocation, 1), n_test=(n_test, 2))
    rng = np.random.default_rng(seed)
    coefficients = (0.0, 0.0, a, 1.0, -b)
    collocation = pack(rng.uniform(0, 1, n_collocation), 0.0, COLLOCATION, coefficients)
    boundary = pack([0.0, 1.0], 0.0, CONDITION, coefficients)
    grid = np.linspace(0, 1, n_test)
    return _problem("ode_bvp", np.concatenate([collocation, boundary]), [u0, u1],
                    pack(grid, 0.0, EVALUATION, coefficients),
                    ode_bvp_exact(grid, a, b, u0, u1),
                    {"generator": "ode_bvp", "seed": seed, "columns": COLUMNS,
                     "solution": "exact"})


# --- (2) Burgers' equation -------------------------------------------------------------

def burgers_reference(x, t, nu=0.01 / math.pi, nodes=401, z_max=13.0, chunk=4096):
    """Solution of u_t + u u_x = nu u_xx, u(x, 0) = -sin(pi x), at points (x, t).

    The Cole-Hopf transformation u = -2 nu phi_x / phi turns Burgers' equation into the
    heat equation for phi; with phi(x, 0) = exp(-cos(pi x) / (2 pi nu)) and the heat
    kernel (Basdevant et al. 1986, Comput. Fluids 14, 23)

        u(x, t) = int -sin(pi (x - s z)) f(x - s z) exp(-z^2) dz / int f(x - s z) exp(-z^2) dz,

    f(y) = exp(-cos(pi y) / (2 pi nu)), s = sqrt(4 nu t). Both integrals are sums over
    `nodes` equally spaced z in [-z_max, z_max] (the trapezoidal rule, spectrally
    accurate for these smooth, rapidly decaying integrands: the same nodes as a
    Gauss-Hermite rule would need, but robust where f's peak sits far in the Gaussian's
    tail), with the exponents shifted by their maximum (f spans exp(+-1/(2 pi nu)) =
    exp(+-50)). The initial condition is odd and 2-periodic, so u(+-1, t) = 0.

    x, t: arrays of the same shape (t >= 0). Returns u, float64, that shape.
    """
    x, t = np.broadcast_arrays(np.asarray(x, dtype=np.float64),
                               np.asarray(t, dtype=np.float64))
    shape = x.shape
    x, t = x.ravel(), t.ravel()
    if np.any(t < 0):
        raise ValueError("burgers_reference: t must be >= 0")
    z = np.linspace(-z_max, z_max, nodes)
    u = np.empty_like(x)
    for start in range(0, len(x), chunk):  # chunks of points: bounded memory
        part = slice(start, start + chunk)
        y = x[part, None] - np.sqrt(4 * nu * t[part, None]) * z[None, :]
        exponent = -np.cos(math.pi * y) / (2 * math.pi * nu) - z[None, :] ** 2
        weight = np.exp(exponent - exponent.max(axis=1, keepdims=True))
        u[part] = np.sum(-np.sin(math.pi * y) * weight, axis=1) / np.sum(weight, axis=1)
    return u.reshape(shape)


@register_dataset("burgers", cache=True, task="regression", kind="vector", shape="8",
                  source="MLMM 15.2; Raissi, Perdikaris, Karniadakis 2019",
                  licence="generated",
                  formula="""
                  u_t + u u_x - nu u_xx = 0, x in [-1, 1], t in [0, 1], nu = 0.01/pi
                  u(x, 0) = -sin(pi x), u(-1, t) = u(1, t) = 0
                  reference: Cole-Hopf, u = int -sin(pi y) f(y) G dz / int f(y) G dz,
                             y = x - sqrt(4 nu t) z, f(y) = exp(-cos(pi y)/(2 pi nu)),
                             G = exp(-z^2), trapezoidal rule on 401 nodes in [-13, 13]
                  x columns: x, t, role (0 collocation, 1 initial/boundary, 2 evaluation),
                             c_t, c_uux, c_ux, c_uxx, c_1 = 1, 1, 0, -nu, 0
                  train: n_collocation Latin-hypercube points in the domain; n_boundary
                         points, half at t = 0 (x ~ U(-1, 1)), a quarter on each of
                         x = -1 and x = 1 (t ~ U(0, 1))
                  test: the nx x nt grid of Raissi et al. (x = linspace(-1, 1, nx),
                        t = linspace(0, 0.99, nt): 256 x 100 points), y = the reference
                  """)
def burgers(viscosity: float = 0.01 / math.pi, n_collocation: int = 10000,
            n_boundary: int = 100, nx: int = 256, nt: int = 100, seed: int = 0):
    """Burgers' equation with a shock at x = 0 (Raissi et al. 2019), Cole-Hopf reference.

    The reference on the test grid is `burgers_reference` (exact to quadrature precision).
    """
    if not viscosity > 0:
        raise UserError(f"--option viscosity={viscosity}: the viscosity must be > 0")
    _check_counts(n_collocation=(n_collocation, 1), n_boundary=(n_boundary, 4),
                  nx=(nx, 2), nt=(nt, 1))
    rng = np.random.default_rng(seed)
    coefficients = (1.0, 1.0, 0.0, -viscosity, 0.0)
    inside = latin_hypercube(n_collocation, rng, (-1, 0), (1, 1))
    collocation = pack(inside[:, 0], inside[:, 1], COLLOCATION, coefficients)
    n_initial = n_boundary // 2
    n_left = (n_boundary - n_initial) // 2
    n_right = n_boundary - n_initial - n_left
    x_initial = rng.uniform(-1, 1, n_initial)
    x_edge = np.concatenate([np.full(n_left, -1.0), np.full(n_right, 1.0)])
    t_edge = rng.uniform(0, 1, n_left + n_right)
    conditions = np.concatenate([pack(x_initial, 0.0, CONDITION, coefficients),
                                 pack(x_edge, t_edge, CONDITION, coefficients)])
    y_conditions = np.concatenate([-np.sin(math.pi * x_initial), np.zeros(len(x_edge))])
    t_grid, x_grid = np.meshgrid(np.linspace(0, 0.99, nt), np.linspace(-1, 1, nx),
                                 indexing="ij")
    reference = burgers_reference(x_grid, t_grid, viscosity)
    return _problem("burgers", np.concatenate([collocation, conditions]), y_conditions,
                    pack(x_grid, t_grid.ravel(), EVALUATION, coefficients), reference,
                    {"generator": "burgers", "seed": seed, "columns": COLUMNS,
                     "solution": "Cole-Hopf reference (trapezoidal rule, 401 nodes)"})


# --- (3) the heat equation -------------------------------------------------------------

def heat_exact(x, t, frequency, kappa):
    """u = exp(-kappa k^2 pi^2 t) cos(k pi x), k = frequency: the solution of
    u_t = kappa u_xx with u(x, 0) = cos(k pi x) and these values on x = 0 and x = 1."""
    k_pi = frequency * math.pi
    return np.exp(-kappa * k_pi ** 2 * np.asarray(t, float)) * np.cos(k_pi * np.asarray(x,
                                                                                         float))


@register_dataset("heat", cache=True, task="regression", kind="vector", shape="8",
                  source="MLMM 15.3 (spectral bias)", licence="generated",
                  formula="""
                  u_t - kappa u_xx = 0, x in [0, 1], t in [0, 1], u(x, 0) = cos(k pi x)
                  exact: u = exp(-kappa k^2 pi^2 t) cos(k pi x) (its values on x = 0, 1
                         are the boundary conditions); kappa = 1/(k pi)^2 unless given,
                         so that u decays as exp(-t)
                  x columns: x, t, role (0 collocation, 1 initial/boundary, 2 evaluation),
                             c_t, c_uux, c_ux, c_uxx, c_1 = 1, 0, 0, -kappa, 0
                  train: n_collocation Latin-hypercube points; n_boundary points, half at
                         t = 0 (x ~ U(0, 1)), a quarter on each of x = 0 and x = 1
                  test: nx x nt grid (x = linspace(0, 1, nx), t = linspace(0, 1, nt)),
                        y = exact u
                  """)
def heat(frequency: int = 8, kappa: float | None = None, n_collocation: int = 1600,
         n_boundary: int = 400, nx: int = 201, nt: int = 51, seed: int = 0):
    """The 1-D heat equation with the initial condition cos(k pi x) (spectral bias).

    The high frequency k pi is what plain tanh networks learn last and random Fourier
    features learn first (MLMM 15.3).
    """
    _check_counts(frequency=(frequency, 1), n_collocation=(n_collocation, 1),
                  n_boundary=(n_boundary, 4), nx=(nx, 2), nt=(nt, 2))
    kappa = 1.0 / (frequency * math.pi) ** 2 if kappa is None else kappa
    if not kappa > 0:
        raise UserError(f"--option kappa={kappa}: the diffusivity must be > 0")
    rng = np.random.default_rng(seed)
    coefficients = (1.0, 0.0, 0.0, -kappa, 0.0)
    inside = latin_hypercube(n_collocation, rng, (0, 0), (1, 1))
    collocation = pack(inside[:, 0], inside[:, 1], COLLOCATION, coefficients)
    n_initial = n_boundary // 2
    n_left = (n_boundary - n_initial) // 2
    x_conditions = np.concatenate([rng.uniform(0, 1, n_initial), np.zeros(n_left),
                                   np.ones(n_boundary - n_initial - n_left)])
    t_conditions = np.concatenate([np.zeros(n_initial),
                                   rng.uniform(0, 1, n_boundary - n_initial)])
    conditions = pack(x_conditions, t_conditions, CONDITION, coefficients)
    t_grid, x_grid = np.meshgrid(np.linspace(0, 1, nt), np.linspace(0, 1, nx),
                                 indexing="ij")
    return _problem("heat", np.concatenate([collocation, conditions]),
                    heat_exact(x_conditions, t_conditions, frequency, kappa),
                    pack(x_grid, t_grid.ravel(), EVALUATION, coefficients),
                    heat_exact(x_grid, t_grid, frequency, kappa),
                    {"generator": "heat", "seed": seed, "columns": COLUMNS,
                     "frequency": frequency, "kappa": kappa, "solution": "exact"})
