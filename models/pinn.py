"""Physics-informed neural networks (MLMM 15.1-15.3; Raissi, Perdikaris, Karniadakis 2019).

A network u(x, t) is trained without any solution data inside the domain: its loss is the
mean squared residual of the differential equation at collocation points, computed with
nested `tf.GradientTape`s, plus the mean squared misfit of the boundary and initial
conditions. The problems (`ode_bvp`, `burgers`, `heat`, in `mlphys.data.pdes`) carry the
equation's coefficients in their data columns,

    R = c_t u_t + c_uux u u_x + c_ux u_x + c_uxx u_xx + c_1,

so one model trains on all three. A random-Fourier-feature input layer (Rahimi & Recht
2007; Keras 2's `RandomFourierFeatures`, which Keras 3 dropped) is an option against the
spectral bias of tanh networks (MLMM 15.3).
"""

import math
from pathlib import Path

import numpy as np

from mlphys import figures
from mlphys.errors import UserError
from mlphys.registry import register_keras_objects, register_model
from mlphys.reproduce import Outcome, close_to, equal, register_check

PDE_COLUMNS = 8  # x, t, role, then the 5 coefficients (mlphys.data.pdes.COLUMNS)
COLLOCATION, CONDITION, EVALUATION = 0, 1, 2


# RandomFourierFeatures and PhysicsInformedNetwork, imported by the builder (importing the
# zoo loads no Keras)
register_keras_objects("mlphys.models._pinn_layers")


_COMPILED_FIELDS = []  # (model, its `fields` as one tf.function): the last model used


def solution_fields(model, rows, chunk=4096):
    """(u, R): the model's solution and equation residual at `rows` (N, 8), NumPy (N,)."""
    import tensorflow as tf

    if not _COMPILED_FIELDS or _COMPILED_FIELDS[0] is not model:
        _COMPILED_FIELDS[:] = [model, tf.function(model.fields, input_signature=[
            tf.TensorSpec((None, PDE_COLUMNS), tf.float32)])]
    fields = _COMPILED_FIELDS[1]
    rows = np.asarray(rows, dtype=np.float32)
    parts = [fields(rows[i:i + chunk]) for i in range(0, len(rows), chunk)]
    return (np.concatenate([p[0].numpy() for p in parts]).astype(np.float64),
            np.concatenate([p[1].numpy() for p in parts]).astype(np.float64))


def solution_errors(model, dataset, split="test"):
    """Errors of u against the exact or reference solution on the rows of `split` that
    carry it (evaluation and condition points), and the residual on all of them:
    relative_l2 = ||u - u_ref||_2 / ||u_ref||_2, max_error = max |u - u_ref|,
    rms_error, residual_rms = sqrt(mean R^2)."""
    x, y = dataset.split(split)
    if len(y) == 0:
        raise UserError(f"the {split} split of '{dataset.name}' is empty")
    if x.ndim != 2 or x.shape[1] != PDE_COLUMNS:
        raise UserError(f"'{dataset.name}' is not a PDE problem (rows of x, t, role and "
                        "coefficients): evaluate pinn runs on ode_bvp, burgers or heat")
    u, residual = solution_fields(model, x)
    known = x[:, 2] != COLLOCATION
    reference = np.asarray(y, dtype=np.float64).ravel()[known]
    error = u[known] - reference
    return {"relative_l2": float(np.linalg.norm(error) / np.linalg.norm(reference)),
            "max_error": float(np.max(np.abs(error))),
            "rms_error": float(np.sqrt(np.mean(error ** 2))),
            "residual_rms": float(np.sqrt(np.mean(residual ** 2)))}


def _grid(x, values):
    """(xs, ts, values as (nt, nx)) for test rows on a t-major grid, or None."""
    xs, ts = np.unique(x[:, 0]), np.unique(x[:, 1])
    if len(xs) * len(ts) != len(x) or len(ts) < 2:
        return None
    order = np.lexsort((x[:, 0], x[:, 1]))
    return xs, ts, [np.asarray(v)[order].reshape(len(ts), len(xs)) for v in values]


@figures.styled
def plot_solution(model, dataset, run_dir):
    """solution.png, error.png and residual.png of a run on the test grid: for the ODE
    curves against x, for the PDEs maps over (t, x) and the solution at four times."""
    from matplotlib.colors import LogNorm

    x, y = dataset.x_test, np.ravel(dataset.y_test).astype(np.float64)
    u, residual = solution_fields(model, x)
    error = np.abs(u - y)
    run_dir = Path(run_dir)
    grid = _grid(x, (u, y, error, np.abs(residual)))
    if grid is None:  # one coordinate: the ODE
        order = np.argsort(x[:, 0])
        s = x[order, 0]
        for name, curves, label, log in (
                ("solution", [(u, "network"), (y, "exact")], "u(x)", False),
                ("error", [(error, "|u - u_exact|")], "error", True),
                ("residual", [(np.abs(residual), "|R|")], "|residual|", True)):
            figure = figures.new_figure(5, 3.5, layout="constrained")
            ax = figure.subplots()
            for values, legend in curves:
                ax.plot(s, np.asarray(values)[order], "--" if legend == "exact" else "-",
                        label=legend)
            if log:
                ax.set_yscale("log")
            ax.set(xlabel="x", ylabel=label, title=f"{dataset.name}: {label}")
            ax.legend()
            figures.save(figure, run_dir / f"{name}.png")
        return
    xs, ts, (u_map, y_map, error_map, residual_map) = grid
    extent = (ts[0], ts[-1], xs[0], xs[-1])
    figure = figures.new_figure(11, 3.6, layout="constrained")
    top, bottom = figure.subfigures(1, 2, width_ratios=(1.3, 1))
    ax = top.subplots()
    image = ax.imshow(u_map.T, origin="lower", aspect="auto", extent=extent,
                      cmap=figures.DIVERGING, **figures.symmetric(u_map))
    top.colorbar(image, ax=ax, label="u")
    ax.set(xlabel="t", ylabel="x", title=f"{dataset.name}: network u(x, t)")
    axes = bottom.subplots(1, 4, sharey=True)
    for ax, k in zip(axes, np.linspace(0, len(ts) - 1, 4).round().astype(int)):
        ax.plot(xs, y_map[k], "k-", lw=2, label="reference")
        ax.plot(xs, u_map[k], "r--", label="network")
        ax.set(xlabel="x", title=f"t = {ts[k]:.2f}")
    axes[0].set_ylabel("u")
    axes[0].legend(fontsize=7)
    figures.save(figure, run_dir / "solution.png")
    for name, values, label in (("error", error_map, "|u - u_reference|"),
                                ("residual", residual_map, "|residual|")):
        figure = figures.new_figure(6, 3.6, layout="constrained")
        ax = figure.subplots()
        positive = values[values > 0]
        low = max(positive.min() if positive.size else 1e-12, values.max() * 1e-6, 1e-12)
        image = ax.imshow(np.maximum(values, low).T, origin="lower", aspect="auto",
                          extent=extent, norm=LogNorm(low, max(values.max(), low * 10)),
                          cmap=figures.MAP)
        figure.colorbar(image, ax=ax, label=label)
        ax.set(xlabel="t", ylabel="x", title=f"{dataset.name}: {label}")
        figures.save(figure, run_dir / f"{name}.png")


@register_model("pinn", task="regression", inputs="vector", dataset="burgers",
                source="MLMM 15.1-15.3; Raissi et al. 2019", epochs=100,
                batch_size=2048, compiles=True, steps_per_epoch=100,
                score=solution_errors, figures=plot_solution,
                search=("hidden_layers", "units", "learning_rate", "fourier_features"),
                backends=("tensorflow",))
def pinn(hp, spec):
    """Physics-informed network: u(x, t) = 8 tanh layers of 20 -> linear, trained on PDE residuals.

    The network of Raissi et al. (2019) for Burgers' equation, layers = [2, 20 x 8, 1]
    in their code (the paper's "9 layers": 8 hidden and the output; 3,021 parameters).
    Every training step takes the gradient of the loss (mean squared residual at the
    collocation points + condition_weight x mean squared misfit of the boundary/initial
    values) through the nested tapes that give u_t, u_x and u_xx. One "epoch" is 100 Adam
    steps on batches of 2,048 rows (the full batch for ode_bvp and heat, shuffled
    batches of Burgers' 10,100) with an ExponentialDecay learning rate (x decay_rate
    every decay_steps steps); the error against the exact or reference solution is what
    `evaluate` reports (relative_l2, max_error, rms_error, residual_rms).
    `-p fourier_features=1024` puts random Fourier features (Gaussian, 1024 outputs,
    trainable scale `fourier_scale`) in front of the tanh layers: the cure for the
    spectral bias on the `heat` problem (MLMM 15.3). `-p lbfgs_steps=5000` continues
    after the Adam epochs with at most 5,000 L-BFGS iterations on all the points at once
    (Raissi et al.'s optimiser; the fit core's phase, mlphys.lbfgs).
    """
    import keras

    from mlphys.models._pinn_layers import PhysicsInformedNetwork, RandomFourierFeatures

    if spec.task != "regression" or tuple(spec.input_shape) != (PDE_COLUMNS,):
        raise UserError("pinn trains on the PDE problems ode_bvp, burgers and heat (rows of "
                        "x, t, role and the equation's coefficients); give one of them "
                        "with --dataset")
    hidden_layers = hp.Int("hidden_layers", 1, 12, default=8)
    units = hp.Int("units", 5, 200, default=20)
    activation = hp.Choice("activation", ["tanh", "sigmoid", "swish", "gelu"],
                           default="tanh")
    fourier_features = hp.Int("fourier_features", 0, 4096, default=0)  # 0: none
    fourier_scale = hp.Float("fourier_scale", 1e-3, 100.0, sampling="log", default=0.1)
    condition_weight = hp.Float("condition_weight", 1e-2, 1e3, sampling="log", default=1.0)
    learning_rate = hp.Float("learning_rate", 1e-5, 1e-1, sampling="log", default=1e-3)
    decay_steps = hp.Int("decay_steps", 100, 100000, sampling="log", default=2000)
    decay_rate = hp.Float("decay_rate", 0.1, 1.0, default=0.8)
    # L-BFGS iterations on the full training set after the Adam epochs (Raissi et al.),
    # run by the fit core (mlphys.lbfgs); 0: none
    hp.Int("lbfgs_steps", 0, 100000, default=0)

    points = keras.Input(shape=(2,), name="x_t")
    h = points
    if fourier_features:
        h = RandomFourierFeatures(fourier_features, scale=fourier_scale,
                                  name="fourier_features")(h)
    for i in range(hidden_layers):
        h = keras.layers.Dense(units, activation=activation, name=f"hidden_{i + 1}")(h)
    u = keras.layers.Dense(1, name="u")(h)
    network = keras.Model(points, u, name="network")

    model = PhysicsInformedNetwork(network, condition_weight, name="pinn")
    model.build((None, PDE_COLUMNS))
    schedule = keras.optimizers.schedules.ExponentialDecay(learning_rate, decay_steps,
                                                           decay_rate)
    model.compile(optimizer=keras.optimizers.Adam(schedule))
    return model


# --- reproduction checks (ZOO.md, entry pinn) -------------------------------------------

BASDEVANT_SLOPE = -152.00516  # du/dx(0, 1.6037/pi), nu = 0.01/pi (Basdevant et al. 1986)
SNAPSHOT_STEPS = (300, 1000, 5000)


def _timed_train(ctx, dataset, epochs, params=None, options=None):
    """A real `mlphys train` of pinn; returns (run, Adam steps, seconds of training)."""
    import json

    run = ctx.train("pinn", dataset, params=params, options=options, epochs=epochs)
    config = json.loads((run.run_dir / "config.json").read_text())
    return run, epochs * config["training"]["steps_per_epoch"], config["train_seconds"]


@register_check("pinn", "parameters of Raissi et al.'s Burgers network [2, 20 x 8, 1]",
                expected="3,021", quick=True)
def _pinn_parameters(ctx):
    model = ctx.build_for("pinn", (PDE_COLUMNS,), 1, task="regression")
    return equal(int(model.count_params()), 3021)


@register_check("pinn", "Burgers reference: du/dx at x = 0, t = 1.6037/pi "
                "(Basdevant et al. 1986)", expected="-152.00516 +- 1e-5", quick=True)
def _pinn_burgers_reference(ctx):
    from mlphys.data.pdes import burgers_reference

    h, t = 1e-6, 1.6037 / math.pi
    u = burgers_reference(np.array([h, -h]), np.array([t, t]))
    return close_to((u[0] - u[1]) / (2 * h), BASDEVANT_SLOPE, atol=1e-5, digits=8)


@register_check("pinn", "ODE boundary-value problem: max error vs exact after 1,000 "
                "steps (MLMM 15.1)", expected="< 1e-3", quick=True)
def _pinn_ode(ctx):
    run, steps, seconds = _timed_train(ctx, "ode_bvp", 10)
    error = run.metrics["max_error"]
    return Outcome(f"{error:.3g} ({steps} steps, {seconds:.0f} s)", error < 1e-3)


@register_check("pinn", "ODE boundary-value problem: max error vs exact after 200 Adam "
                "steps and the L-BFGS phase to convergence", expected="< 1e-5", quick=True)
def _pinn_ode_lbfgs(ctx):
    run, steps, seconds = _timed_train(ctx, "ode_bvp", 2, {"lbfgs_steps": 2000})
    error, lbfgs = run.metrics["max_error"], run.result.config.state.lbfgs
    return Outcome(f"{error:.3g} ({steps} Adam + {lbfgs['iterations']} L-BFGS steps, "
                   f"{seconds:.0f} s)", error < 1e-5)


BURGERS_SEEDS = (1, 2, 3)
BURGERS_TRAINING = {"epochs": 50,  # 5,000 Adam steps
                    "params": {"learning_rate": 3e-3, "lbfgs_steps": 5000}}


@register_check("pinn", "Burgers: relative L2 error vs the Cole-Hopf reference, seeds 1, "
                "2, 3 (Raissi et al.: 6.7e-3; here 5,000 Adam steps, lr 3e-3, then L-BFGS "
                "on the 10,100 points, at most 5,000 iterations)",
                expected="<= 6.7e-3 for every seed")
def _pinn_burgers(ctx):
    errors, texts = [], []
    for seed in BURGERS_SEEDS:
        run = ctx.train("pinn", "burgers", seed=seed, **BURGERS_TRAINING)
        errors.append(run.metrics["relative_l2"])
        state = run.result.config.state
        texts.append(f"{errors[-1]:.3g} ({state.lbfgs['iterations']} L-BFGS steps, "
                     f"{state.train_seconds:.0f} s)")
    return Outcome(", ".join(texts), all(e <= 6.7e-3 for e in errors))


HEAT_CHECK = {"n_collocation": 800, "n_boundary": 200}  # k = 8: four periods on [0, 1]


@register_check("pinn", "heat, cos(8 pi x): relative L2 after 300 steps, with 256 Fourier "
                "features vs without (spectral bias, quick)",
                expected="with < without", quick=True)
def _pinn_heat_quick(ctx):
    errors, _ = spectral_bias_snapshots(ctx, (300,), HEAT_CHECK, {"fourier_features": 256})
    plain, fourier = errors["plain"][0], errors["fourier"][0]
    return Outcome(f"with {fourier:.3g}, without {plain:.3g}", fourier < plain)


@register_check("pinn", "heat, cos(8 pi x): relative L2 at 300/1000/5000 steps without / "
                "with 1024 Fourier features (MLMM 15.3, snapshots PNG)",
                expected="with < without at 300 and 1000 steps")
def _pinn_heat(ctx):
    errors, path = spectral_bias_snapshots(ctx, SNAPSHOT_STEPS, HEAT_CHECK)
    text = " / ".join(f"{p:.2g}, {f:.2g}" for p, f in zip(errors["plain"],
                                                          errors["fourier"]))
    passed = all(f < p for p, f in zip(errors["plain"][:2], errors["fourier"][:2]))
    return Outcome(f"without, with: {text}", passed, note=f"snapshots: {path}")


def spectral_bias_snapshots(ctx, steps=SNAPSHOT_STEPS, options=None, fourier=None):
    """Train pinn on `heat` without and with random Fourier features (`fourier`: their
    hyperparameters) and take the relative L2 error and u(x, t = 0) after each number of
    full-batch Adam `steps`. Returns ({"plain"|"fourier": [errors]}, snapshots PNG path)."""
    import tensorflow as tf

    fourier = fourier or {"fourier_features": 1024}
    errors, curves = {}, {}
    for label, params in (("plain", {}), ("fourier", fourier)):
        model, data = ctx.build("pinn", "heat", params=params, options=options)
        batches = tf.data.Dataset.from_tensor_slices((data.x_train, data.y_train))
        batches = batches.batch(len(data.x_train)).cache().repeat()
        done, errors[label], curves[label] = 0, [], []
        for step in steps:
            model.fit(batches, epochs=1, steps_per_epoch=step - done, shuffle=False,
                      verbose=0)
            done = step
            errors[label].append(solution_errors(model, data)["relative_l2"])
            curves[label].append(solution_fields(model, data.x_test)[0])
    path = ctx.workdir / "pinn" / "heat_spectral_bias.png"
    path.parent.mkdir(parents=True, exist_ok=True)
    _plot_snapshots(data, steps, curves, errors, path)
    return errors, path


@figures.styled
def _plot_snapshots(data, steps, curves, errors, path):
    """u(x, t = 0) of both networks after each number of steps, against the exact one."""
    first = data.x_test[:, 1] == data.x_test[:, 1].min()
    x, exact = data.x_test[first, 0], np.ravel(data.y_test)[first]
    figure = figures.new_figure(3.6 * len(steps), 5.4, layout="constrained")
    axes = figure.subplots(2, len(steps), sharex=True, sharey=True, squeeze=False)
    for row, label in enumerate(("plain", "fourier")):
        for col, step in enumerate(steps):
            ax = axes[row, col]
            ax.plot(x, exact, "k-", lw=2, label="exact")
            ax.plot(x, curves[label][col][first], "r--", label="network")
            ax.set_title(f"{'tanh' if label == 'plain' else 'Fourier features'}, {step} "
                         f"steps: L2 {errors[label][col]:.2g}", fontsize=9)
    axes[0, 0].legend(fontsize=7)
    for ax in axes[:, 0]:
        ax.set_ylabel("u(x, t = 0)")
    for ax in axes[-1]:
        ax.set_xlabel("x")
    figures.save(figure, path)
