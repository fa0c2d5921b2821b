"""A chain of masses on springs in equilibrium, found by gradient descent (3EL lesson 1).

Not a network: the heights y_1..y_N of N masses are the weights of one Keras layer and
the energy is the loss,

    E(y) = sum_{j=0..N} K/2 (sqrt((y_{j+1} - y_j)^2 + 1) - l)^2 + m g sum_{j=1..N} y_j,

with horizontal spacing 1 and the ends fixed at y_0 = y_{N+1} = 0. `mlphys train chain`
minimises E with `tf.GradientTape` in the model's own training step (the course used
jax.grad). The course's two stages are two runs from the same random start:

    mlphys train chain                                        # gradient descent, lr 0.2
    mlphys train chain -p optimizer=adam -p learning_rate=0.1 # Adam, lr 0.1

For l < 1 every spring term is convex in y_{j+1} - y_j, so E has one minimum, symmetric
under j -> N + 1 - j.
"""

from pathlib import Path

import numpy as np

from mlphys import figures
from mlphys.registry import register_keras_objects, register_model
from mlphys.reproduce import Outcome, all_of, at_most, close_to, register_check

COURSE = {"spring_constant": 5.0, "rest_length": 0.8, "weight": 0.1}

# ChainHeights and SpringChain, imported by the builder (importing the zoo loads no Keras)
register_keras_objects("mlphys.models._chain_layers")


def chain_energy(heights, spring_constant=5.0, rest_length=0.8, weight=0.1):
    """E(y) in NumPy (float64): heights (N,) of the free masses, ends at 0. The reference
    the Keras model's energy and gradient are checked against."""
    y = np.concatenate([[0.0], np.asarray(heights, dtype=np.float64), [0.0]])
    stretch = np.sqrt(np.diff(y) ** 2 + 1) - rest_length
    return spring_constant / 2 * np.sum(stretch ** 2) + weight * np.sum(y)


def finite_difference_gradient(heights, step=1e-5, **constants):
    """dE/dy_j by central differences, (E(y + h e_j) - E(y - h e_j)) / 2h, shape (N,)."""
    heights = np.asarray(heights, dtype=np.float64)
    shifts = step * np.eye(len(heights))
    return np.array([(chain_energy(heights + s, **constants)
                      - chain_energy(heights - s, **constants)) / (2 * step)
                     for s in shifts])


def chain_gradient(heights, spring_constant=5.0, rest_length=0.8, weight=0.1):
    """dE/dy_j in closed form (float64), shape (N,): the spring tensions
    t_j = K (s_j - l) d_j / s_j, d_j = y_{j+1} - y_j, s_j = sqrt(d_j^2 + 1), give
    dE/dy_j = t_{j-1} - t_j + m g."""
    y = np.concatenate([[0.0], np.asarray(heights, dtype=np.float64), [0.0]])
    d = np.diff(y)
    s = np.sqrt(d ** 2 + 1)
    tension = spring_constant * (s - rest_length) * d / s
    return tension[:-1] - tension[1:] + weight


def chain_equilibrium(n_masses=20, steps=5000, learning_rate=0.2, **constants):
    """The equilibrium heights by plain NumPy gradient descent in float64 from y = 0: the
    reference the Keras runs are compared with."""
    heights = np.zeros(n_masses)
    for _ in range(steps):
        heights -= learning_rate * chain_gradient(heights, **constants)
    return heights


def _chain_score(model, dataset, split):
    """Energy E, max_j |dE/dy_j| and the asymmetry max_j |y_j - y_{N+1-j}| of the chain."""
    energy, gradient = model.energy_and_gradient()
    heights = np.asarray(model.heights.numpy(), dtype=np.float64)
    return {"energy": float(energy), "max_gradient": float(np.max(np.abs(gradient))),
            "asymmetry": float(np.max(np.abs(heights - heights[::-1])))}


@figures.styled
def _chain_figure(model, dataset, run_dir):
    """chain.png: the masses (dots) and springs (lines), ends fixed at 0."""
    heights = np.concatenate([[0.0], model.heights.numpy(), [0.0]])
    positions = np.arange(len(heights))
    fig = figures.new_figure(7, 3.5, layout="constrained")
    ax = fig.subplots()
    ax.plot(positions, heights, "-", color="0.5", lw=1.5, label="springs")
    ax.plot(positions[1:-1], heights[1:-1], "o", color="C0", ms=7, label="masses")
    ax.plot(positions[[0, -1]], heights[[0, -1]], "s", color="k", ms=8, label="fixed ends")
    energy = float(model.energy())
    ax.set(xlabel="position j (spacing 1)", ylabel="height y_j",
           title=f"equilibrium of {len(heights) - 2} masses on springs, E = {energy:.6f}")
    ax.legend(loc="upper center", fontsize=8)
    figures.save(fig, Path(run_dir) / "chain.png")


@register_model("chain", task="regression", inputs="vector", dataset="chain",
                source="3EL lesson 1", epochs=20, batch_size=1, compiles=True,
                steps_per_epoch=100, score=_chain_score, figures=_chain_figure,
                search=("optimizer", "learning_rate"),
                backends=("tensorflow",))
def chain(hp, spec):
    """Masses on springs: the heights are the weights, the energy is the loss (no network).

    N = the target width of the dataset (`chain`: -o n_masses=20); weights y_1..y_N from
    U(-0.5, 0.5). E = sum K/2 (sqrt((y_{j+1}-y_j)^2 + 1) - l)^2 + m g sum y_j, ends fixed
    at 0, with K = spring_constant (5), l = rest_length (0.8), m g = weight (0.1) as in
    3EL lesson 1. Trained by gradient descent (optimizer sgd, learning_rate 0.2) for
    epochs of 100 steps, 2000 steps by default; the course's second stage is Adam with
    -p optimizer=adam -p learning_rate=0.1. Scores: energy, max |dE/dy_j| and the
    asymmetry max |y_j - y_{N+1-j}|; chain.png draws the equilibrium shape.
    """
    import keras

    from mlphys.models._chain_layers import SpringChain

    spring_constant = hp.Float("spring_constant", 0.1, 100.0, sampling="log", default=5.0)
    rest_length = hp.Float("rest_length", 0.0, 2.0, default=0.8)
    weight = hp.Float("weight", 0.0, 10.0, default=0.1)
    optimizer = hp.Choice("optimizer", ["sgd", "adam"], default="sgd")
    learning_rate = hp.Float("learning_rate", 1e-4, 1.0, sampling="log", default=0.2)
    model = SpringChain(spec.num_outputs, spring_constant, rest_length, weight,
                        name="chain")
    model.build((None, *spec.input_shape))
    model.compile(optimizer=keras.optimizers.get(
        {"class_name": optimizer, "config": {"learning_rate": learning_rate}}))
    return model


# --- reproduction checks (ZOO.md, `chain`) ----------------------------------------------

def _step_energies(model, steps):
    """E before each of `steps` optimizer steps of `model` (one fit, graph mode)."""
    import keras
    import tensorflow as tf

    energies = []

    class Record(keras.callbacks.Callback):
        def on_train_batch_end(self, batch, logs=None):
            energies.append(float(logs["loss"]))

    dummy = tf.data.Dataset.from_tensors((np.zeros((1, 1), np.float32),
                                          np.zeros((1, model.chain.n_masses), np.float32)))
    model.fit(dummy.repeat(), steps_per_epoch=steps, epochs=1, verbose=0, shuffle=False,
              callbacks=[Record()])
    return np.array(energies)


@register_check("chain", "tf.GradientTape gradient at the random start vs central "
                "finite differences of E (float64, h = 1e-5)",
                expected="max |difference| <= 1e-4 (energy equal to 1e-5)", quick=True)
def _chain_gradient_check(ctx):
    model, _ = ctx.build("chain")
    energy, gradient = model.energy_and_gradient()
    heights = model.heights.numpy().astype(np.float64)
    difference = np.max(np.abs(np.asarray(gradient) - finite_difference_gradient(heights)))
    return all_of(at_most(difference, 1e-4),
                  close_to(float(energy), chain_energy(heights), atol=1e-5))


@register_check("chain", "energy at each of the first 300 GD steps (lr 0.2)",
                expected="decreases at every step", quick=True)
def _chain_monotone_steps(ctx):
    model, _ = ctx.build("chain")
    energies = _step_energies(model, 300)
    rises = int(np.sum(np.diff(energies) > 0))
    return Outcome(f"{rises} rises in 299 steps, E {energies[0]:.4f} -> {energies[-1]:.6f}",
                   rises == 0 and energies[-1] < energies[0])


@register_check("chain", "asymmetry max|y_j - y_{N+1-j}| and max|dE/dy| after 1000 GD "
                "steps (10 epochs)", expected="both <= 1e-4", quick=True)
def _chain_symmetric_short(ctx):
    metrics = ctx.train("chain", epochs=10).metrics
    return all_of(at_most(metrics["asymmetry"], 1e-4), at_most(metrics["max_gradient"], 1e-4))


@register_check("chain", "GD (lr 0.2, 2000 steps): energy per epoch, final energy and "
                "heights vs NumPy float64 equilibrium",
                expected="non-increasing (to 1e-6); E = reference +- 1e-5; "
                         "heights +- 1e-4; asymmetry <= 1e-5")
def _chain_gradient_descent(ctx):
    run = ctx.train("chain")
    energies = run.history()["loss"]
    reference = chain_equilibrium()
    heights = run.model.heights.numpy()
    monotone = Outcome(f"{int(np.sum(np.diff(energies) > 1e-6))} rises in "
                       f"{len(energies)} epochs", bool(np.all(np.diff(energies) <= 1e-6)))
    return all_of(monotone,
                  close_to(run.metrics["energy"], chain_energy(reference), atol=1e-5),
                  Outcome(f"max |y - y_ref| = {np.max(np.abs(heights - reference)):.2g}",
                          bool(np.max(np.abs(heights - reference)) <= 1e-4)),
                  at_most(run.metrics["asymmetry"], 1e-5))


@register_check("chain", "Adam (lr 0.1, 2000 steps) ends near the GD equilibrium "
                "(a fixed step of 0.1 keeps it jittering around the minimum)",
                expected="E = NumPy reference +- 1e-3; asymmetry <= 0.05")
def _chain_adam(ctx):
    run = ctx.train("chain", params={"optimizer": "adam", "learning_rate": 0.1})
    reference = chain_energy(chain_equilibrium())
    return all_of(close_to(run.metrics["energy"], reference, atol=1e-3),
                  at_most(run.metrics["asymmetry"], 0.05))
