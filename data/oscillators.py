"""Driven and coupled oscillators integrated with fourth-order Runge-Kutta, a whole batch
at once (vectorised NumPy: one array operation per Runge-Kutta stage for every sample).

- `duffing`, `duffing_sweep`: the inverse problem of 3EL lesson 3 (response of a driven
  Duffing oscillator under a frequency sweep -> its parameters omega0, gamma, epsilon).
- `particles`, `particles_forecast`: the coupled particles of MLP4P tutorials 6-7, as a
  chain of n masses with nearest-neighbour springs (the default is the course's pair).
"""

import numpy as np

from mlphys.data._checks import check_noise, check_sizes
from mlphys.datasets import Dataset, infer_spec, register_dataset
from mlphys.errors import UserError


def rk4(rhs, state, t0, dt, steps, record_every=1, record=None):
    """Integrate d(state)/dt = rhs(t, state) with `steps` classic Runge-Kutta steps of `dt`.

    state: array of any shape (a batch of samples, real or complex); rhs must accept and
        return arrays of that shape.
    record_every: keep the state after every `record_every` steps (and never the initial
        state); record: what to keep of a state (default the state itself), e.g. np.abs.
    Returns an array (steps // record_every, *record(state).shape).
    """
    record = record or (lambda s: s.copy())
    kept = []
    t = t0
    for step in range(1, steps + 1):
        k1 = rhs(t, state)
        k2 = rhs(t + dt / 2, state + (dt / 2) * k1)
        k3 = rhs(t + dt / 2, state + (dt / 2) * k2)
        k4 = rhs(t + dt, state + dt * k3)
        state = state + (dt / 6) * (k1 + 2 * k2 + 2 * k3 + k4)
        t = t0 + step * dt
        if step % record_every == 0:
            kept.append(record(state))
    return np.stack(kept) if kept else np.empty((0,) + np.shape(record(state)))


# --- the Duffing oscillator (3EL lesson 3) ---------------------------------------------

DUFFING_TARGETS = ("omega0", "gamma", "epsilon")
DUFFING_FORMULA = """
dz/dt = -i (omega0 - omega(t)) z - (gamma/2) z - i epsilon |z|^2 z + i f
omega(t) swept linearly from -4 to 4 over t in [0, 200] (`steps` RK4 steps, default 400),
z(0) = 0; input |z| at `points` equally spaced times (every steps/points-th step)
targets (omega0, gamma, epsilon) ~ U(-1, 1), U(0.5, 1.5), U(0, 0.15), unstandardised
"""


def duffing_responses(omega0, gamma, epsilon, force, steps=400, points=50,
                      duration=200.0, omega_range=(-4.0, 4.0)):
    """|z(t)| of driven Duffing oscillators under a linear frequency sweep (3EL lesson 3).

    omega0, gamma, epsilon, force: arrays that broadcast together to the batch shape B
        (e.g. (N, 1) parameters and (1, F) forces for a force sweep).
    Integrates dz/dt = -i(omega0 - omega(t))z - (gamma/2)z - i epsilon |z|^2 z + i f from
    z = 0 with omega(t) = omega_min + (omega_max - omega_min) t / duration, in complex64.
    Returns |z| of shape (*B, points), sampled after every steps/points-th step.
    """
    omega0, gamma, epsilon, force = (np.asarray(a, dtype=np.float32)
                                     for a in (omega0, gamma, epsilon, force))
    shape = np.broadcast_shapes(omega0.shape, gamma.shape, epsilon.shape, force.shape)
    dt = duration / steps
    rate = (omega_range[1] - omega_range[0]) / duration
    half_gamma = (gamma / 2).astype(np.float32)
    drive = (1j * force).astype(np.complex64)

    def rhs(t, z):
        # -i (omega0 - omega + eps |z|^2) z - (gamma/2) z + i f, with |z|^2 from real parts
        detuning = omega0 - np.float32(omega_range[0] + rate * t) + epsilon * (
            z.real ** 2 + z.imag ** 2)
        return z * (-half_gamma - 1j * detuning) + drive

    z0 = np.zeros(shape, dtype=np.complex64)
    kept = rk4(rhs, z0, 0.0, np.float32(dt), steps, steps // points, np.abs)
    return np.moveaxis(kept, 0, -1).astype(np.float32)


def _duffing_parameters(rng, n):
    """(omega0, gamma, epsilon) ~ U(-1, 1), U(0.5, 1.5), U(0, 0.15), each (n,)."""
    return (rng.uniform(-1, 1, n), rng.uniform(0.5, 1.5, n), rng.uniform(0, 0.15, n))


def _check_duffing(n_train, n_test, steps, points, noise):
    check_sizes(n_train, n_test)
    check_noise(noise)
    if steps < 1 or points < 1:
        raise UserError(f"--option steps={steps} points={points}: both must be >= 1")
    if steps % points:
        raise UserError(f"--option steps={steps} points={points}: the response is sampled "
                        "every steps/points-th step, so steps must be a multiple of points "
                        "(e.g. steps=400 points=50)")


def _split(name, x, y, n_train, provenance):
    spec = infer_spec(x, y, "regression")
    return Dataset(name, spec, x[:n_train], y[:n_train], x[n_train:], y[n_train:],
                   provenance=provenance)


@register_dataset("duffing", task="regression", kind="vector", shape="50",
                  source="3EL lesson 3", licence="generated", formula=DUFFING_FORMULA,
                  cache=True)
def duffing(n_train: int = 10000, n_test: int = 1000, steps: int = 400, points: int = 50,
            force: float = 1.0, noise: float = 0.0, seed: int = 0):
    """Response curves |z| of a driven Duffing oscillator swept through resonance.

    Input: |z| at `points` times of the sweep omega = -4 -> 4 (shape (N, points), float32,
    |z| in units of the force / frequency: up to ~2f/gamma at resonance), plus
    N(0, noise^2). Targets (N, 3): (omega0, gamma, epsilon), unstandardised as in the
    course, so the MSE is comparable with its ~1e-2 and is dominated by omega0; the
    `duffing` model's score gives the error of each parameter separately.
    """
    _check_duffing(n_train, n_test, steps, points, noise)
    rng = np.random.default_rng(seed)
    n = n_train + n_test
    omega0, gamma, epsilon = _duffing_parameters(rng, n)
    x = duffing_responses(omega0, gamma, epsilon, force, steps, points)
    if noise > 0:
        x += rng.normal(0, noise, x.shape).astype(np.float32)
    y = np.stack([omega0, gamma, epsilon], axis=1).astype(np.float32)
    return _split("duffing", x, y, n_train,
                  {"generator": "duffing", "seed": seed, "force": force, "steps": steps,
                   "points": points, "noise": noise, "targets": list(DUFFING_TARGETS)})


@register_dataset("duffing_sweep", task="regression", kind="image", shape="50x50x1",
                  source="3EL lesson 3 (CNN variant)", licence="generated",
                  formula=DUFFING_FORMULA + "image row j: force f_j = linspace(0.1, 2, "
                  "forces)[j]; + noise * N(0, 1) on every pixel (default 0.5)",
                  cache=True)
def duffing_sweep(n_train: int = 4000, n_test: int = 500, steps: int = 400, points: int = 50,
                  forces: int = 50, noise: float = 0.5, seed: int = 0):
    """Duffing responses for a sweep of forces: one 50x50 image per oscillator.

    Row j is the response |z| (as in `duffing`) to the force f_j = linspace(0.1, 2,
    forces)[j], column k the k-th time of the frequency sweep; shape (N, forces, points, 1),
    float32 |z| values (not [0, 1] intensities) plus noise * N(0, 1) per pixel, as in the
    course. Targets (N, 3): (omega0, gamma, epsilon), unstandardised. The stronger forces
    make the nonlinearity epsilon visible (the bistable fold of the resonance).
    """
    _check_duffing(n_train, n_test, steps, points, noise)
    if forces < 1:
        raise UserError(f"--option forces={forces}: give at least one force")
    rng = np.random.default_rng(seed)
    n = n_train + n_test
    omega0, gamma, epsilon = _duffing_parameters(rng, n)
    force = np.linspace(0.1, 2, forces, dtype=np.float32)[None, :]
    x = duffing_responses(omega0[:, None], gamma[:, None], epsilon[:, None], force,
                          steps, points)
    if noise > 0:
        x += rng.normal(0, noise, x.shape).astype(np.float32)
    x = x[..., np.newaxis]
    y = np.stack([omega0, gamma, epsilon], axis=1).astype(np.float32)
    return _split("duffing_sweep", x, y, n_train,
                  {"generator": "duffing_sweep", "seed": seed, "steps": steps,
                   "points": points, "forces": f"linspace(0.1, 2, {forces})",
                   "noise": noise, "targets": list(DUFFING_TARGETS)})


# --- coupled particles (MLP4P tutorials 6-7) ---------------------------------------------

PARTICLES_FORMULA = """
m_j x_j'' = -k_j x_j + D_{j-1} (x_{j-1} - x_j) + D_j (x_{j+1} - x_j), j = 0..n-1
default n = 2: m0 x0'' = -k0 x0 + D1 (x1 - x0), m1 x1'' = -k1 x1 + D1 (x0 - x1),
k = [0.1, 0], D1 = 0.2, m = [2, 1]; x(0), v(0) ~ N(0, 1); RK4, T = 30 in 60 steps"""


def _floats(option, text, n, what):
    """A comma-separated list of n floats (one value stands for all)."""
    try:
        values = [float(v) for v in str(text).split(",") if v.strip()]
    except ValueError:
        raise UserError(f"--option {option}={text}: give {what} as numbers separated by "
                        "commas (e.g. 2,1)") from None
    if len(values) == 1 and n != 1:
        values = values * n
    if len(values) != n:
        raise UserError(f"--option {option}={text}: give {n} {what} (or one for all), "
                        f"not {len(values)}")
    return np.array(values, dtype=np.float64)


def chain_matrix(masses, springs, couplings):
    """A (n, n) with x'' = A x for a chain: -(diag(k) + coupling Laplacian) / m, row-wise."""
    stiffness = np.diag(np.asarray(springs, dtype=np.float64))
    for j, d in enumerate(couplings):  # spring D_j between particles j and j+1
        stiffness[j, j] += d
        stiffness[j + 1, j + 1] += d
        stiffness[j, j + 1] -= d
        stiffness[j + 1, j] -= d
    return -stiffness / np.asarray(masses, dtype=np.float64)[:, None]


def chain_trajectories(positions, velocities, accel_matrix, dt, steps):
    """Positions and velocities (N, steps + 1, n) of chains x'' = A x, t = 0, dt, ... (RK4).

    positions, velocities: (N, n) initial values; accel_matrix: A (n, n).
    """
    n = positions.shape[1]
    a_t = np.asarray(accel_matrix).T

    def rhs(t, state):  # state (N, 2n) = (x, v); d/dt (x, v) = (v, A x)
        return np.concatenate([state[:, n:], state[:, :n] @ a_t], axis=1)

    start = np.concatenate([positions, velocities], axis=1)
    states = np.concatenate([start[None], rk4(rhs, start, 0.0, dt, steps)], axis=0)
    states = np.moveaxis(states, 0, 1)
    return states[..., :n], states[..., n:]


def _particles_setup(n_train, n_test, particles, masses, springs, coupling, duration,
                     steps, noise):
    check_sizes(n_train, n_test)
    check_noise(noise)
    if particles < 1:
        raise UserError(f"--option particles={particles}: give at least one particle")
    if steps < 2:
        raise UserError(f"--option steps={steps}: give at least 2 time steps")
    if not duration > 0:
        raise UserError(f"--option duration={duration}: the duration must be > 0")
    m = _floats("masses", masses, particles, "masses")
    k = _floats("springs", springs, particles, "spring constants k")
    d = _floats("coupling", coupling, particles - 1, "couplings D") if particles > 1 \
        else np.zeros(0)
    if np.any(m <= 0):
        raise UserError(f"--option masses={masses}: every mass must be > 0")
    if np.any(k < 0) or np.any(d < 0):
        raise UserError(f"--option springs={springs} coupling={coupling}: spring constants "
                        "and couplings must be >= 0 (negative ones make the chain unstable)")
    return chain_matrix(m, k, d), {"masses": m.tolist(), "springs": k.tolist(),
                                   "coupling": d.tolist()}


@register_dataset("particles", task="regression", kind="sequence", shape="60x1",
                  source="MLP4P tutorials 6-7", licence="generated",
                  formula=PARTICLES_FORMULA + """
task infer:   input x0(t_k), target x1(t_k) (the last particle), t_k = k T/steps, k < steps
task predict: input x0(t_k) for t_k < T/2 and 0 after, target x0(t_k) for all k""",
                  cache=True)
def particles(n_train: int = 10000, n_test: int = 1000, task: str = "infer",
              particles: int = 2, masses: str = "2,1", springs: str = "0.1,0",
              coupling: str = "0.2", duration: float = 30.0, steps: int = 60,
              noise: float = 0.0, seed: int = 0):
    """Trajectories of coupled particles: infer a hidden particle, or predict the future.

    A chain of `particles` masses with on-site springs k_j and nearest-neighbour couplings
    D_j (comma-separated lists; one value stands for all); the default is the course's
    pair. Sequences of `steps` times t_k = k T/steps (k = 0..steps-1, T = `duration`),
    shape (N, steps, 1) for inputs and targets; `noise` adds N(0, noise^2) to the inputs.
    task=infer (MLP4P tutorial 6): from x0(t) infer the last particle x_{n-1}(t).
    task=predict (MLP4P tutorial 7): x0 observed on [0, T/2), zeros after; target x0(t)
    on the whole interval (scores judge the unobserved half).
    """
    if task not in ("infer", "predict"):
        raise UserError(f"--option task={task}: choose infer (x0 -> x1) or predict (x0 on "
                        "the first half -> x0 on the second)")
    accel, constants = _particles_setup(n_train, n_test, particles, masses, springs,
                                        coupling, duration, steps, noise)
    rng = np.random.default_rng(seed)
    n = n_train + n_test
    x0, v0 = rng.normal(size=(n, particles)), rng.normal(size=(n, particles))
    x, _ = chain_trajectories(x0, v0, accel, duration / steps, steps - 1)
    observed = steps // 2 if task == "predict" else steps
    inputs = x[:, :, :1].copy()
    inputs[:, observed:] = 0.0
    if noise > 0:
        inputs[:, :observed] += rng.normal(0, noise, inputs[:, :observed].shape)
    target = x[:, :, -1:] if task == "infer" else x[:, :, :1]
    return _split("particles", inputs.astype(np.float32), target.astype(np.float32),
                  n_train, {"generator": "particles", "seed": seed, "task": task,
                            "particles": particles, **constants, "duration": duration,
                            "steps": steps, "observed_steps": observed, "noise": noise})


@register_dataset("particles_forecast", task="regression", kind="sequence", shape="60x4",
                  source="MLP4P tutorials 6-7 (for MLMM 8)", licence="generated",
                  formula=PARTICLES_FORMULA + """
input (x_0..x_{n-1}, v_0..v_{n-1})(t_k), k = 0..steps-1 (4 features for the pair)
target x0 at t = (steps - 1 + horizon) T/steps (default horizon 10: 5 time units ahead)""",
                  cache=True)
def particles_forecast(n_train: int = 10000, n_test: int = 1000, horizon: int = 10,
                       particles: int = 2, masses: str = "2,1", springs: str = "0.1,0",
                       coupling: str = "0.2", duration: float = 30.0, steps: int = 60,
                       noise: float = 0.0, seed: int = 0):
    """Many-to-one forecast: the full state history of the chain -> x0 `horizon` steps on.

    Input (N, steps, 2n): positions then velocities of every particle (for the course's
    pair: x0, x1, v0, v1, the 4 features of MLMM 8's recurrent nets) at t_k = k T/steps,
    plus N(0, noise^2); target (N, 1): x0 at `horizon` steps after the last input.
    Predicting zero scores the mean square of x0 (the trivial baseline of the checks).
    """
    if horizon < 1:
        raise UserError(f"--option horizon={horizon}: forecast at least 1 step ahead")
    accel, constants = _particles_setup(n_train, n_test, particles, masses, springs,
                                        coupling, duration, steps, noise)
    rng = np.random.default_rng(seed)
    n = n_train + n_test
    x0, v0 = rng.normal(size=(n, particles)), rng.normal(size=(n, particles))
    x, v = chain_trajectories(x0, v0, accel, duration / steps, steps - 1 + horizon)
    inputs = np.concatenate([x[:, :steps], v[:, :steps]], axis=2)
    if noise > 0:
        inputs += rng.normal(0, noise, inputs.shape)
    target = x[:, -1, :1]
    return _split("particles_forecast", inputs.astype(np.float32), target.astype(np.float32),
                  n_train, {"generator": "particles_forecast", "seed": seed,
                            "horizon": horizon, "particles": particles, **constants,
                            "duration": duration, "steps": steps, "noise": noise})
