"""Logic gates from sigmoid neurons: one neuron for OR/NOR/AND/NAND, a 2-2-1 net for XOR
(MLMM 6.2, 6.2.3; MLP4P lecture 1).

With `weights=hand_set` the weights are the course's, fixed (not trainable: `mlphys
train` then only evaluates them); with `weights=learned` they are trained by binary
cross-entropy from random initial values.
"""

import numpy as np

from mlphys.errors import UserError
from mlphys.registry import register_model
from mlphys.reproduce import Outcome, all_of, at_least, close_to, equal, register_check

# MLMM 6.2: z = w0 + w1 x1 + w2 x2, rows (bias, w1, w2)
GATE_WEIGHTS = {"or": (-1, 2, 2), "nor": (1, -2, -2), "and": (-3, 2, 2), "nand": (3, -2, -2)}
# MLMM 6.2.3: hidden units (columns) NOR and AND, rows (bias, x1, x2); output weights
# (bias, NOR, AND)
XOR_HIDDEN = np.array([[1.5, -3.0], [-2.0, 2.0], [-2.0, 2.0]])
XOR_OUTPUT = np.array([1.5, -2.0, -2.0])
BOOLEAN_INPUTS = np.array([[0, 0], [0, 1], [1, 0], [1, 1]], dtype=np.float32)


def _sigmoid_dense(units, name, weights=None):
    """Dense(units, sigmoid); `weights` (rows bias, inputs...) set and frozen if given."""
    from keras import layers

    if weights is None:
        return layers.Dense(units, activation="sigmoid", name=name)
    weights = np.asarray(weights, dtype=np.float32).reshape(-1, units)
    return layers.Dense(units, activation="sigmoid", name=name, trainable=False,
                        kernel_initializer=_constant(weights[1:]),
                        bias_initializer=_constant(weights[0]))


def _constant(array):
    import keras

    return keras.initializers.Constant(array)


def _two_boolean_inputs(spec, name):
    if tuple(spec.input_shape) != (2,) or spec.task != "binary":
        raise UserError(f"model '{name}' is a gate on two inputs with a true/false output; "
                        f"it needs binary labels on inputs of shape (2,), not "
                        f"{spec.task} on {tuple(spec.input_shape)}")


@register_model("logic_gate", task="classification", inputs="vector", dataset="truth_table",
                source="MLMM 6.2", epochs=20, batch_size=32)
def logic_gate(hp, spec):
    """One sigmoid neuron on two inputs: y = sigma(w0 + w1 x1 + w2 x2), a logic gate.

    MLMM 6.2: with the hand-set weights (w0, w1, w2) OR (-1, 2, 2), NOR (1, -2, -2),
    AND (-3, 2, 2), NAND (3, -2, -2) the neuron computes the gate, e.g. OR gives 0.269,
    0.731, 0.731, 0.953 on (0,0), (0,1), (1,0), (1,1). `-p gate=...` chooses the
    hand-set gate (`-p weights=hand_set`, fixed weights); `-p weights=learned` trains the
    neuron by binary cross-entropy on whatever truth table it is given (`truth_table
    -o gate=...`). 3 parameters.
    """
    import keras

    gate = hp.Choice("gate", ["or", "nor", "and", "nand"], default="or")
    weights = hp.Choice("weights", ["hand_set", "learned"], default="hand_set")
    hp.Float("learning_rate", 1e-4, 1.0, sampling="log", default=0.1)
    _two_boolean_inputs(spec, "logic_gate")
    inputs = keras.Input(shape=(2,), name="x")
    neuron = _sigmoid_dense(1, "neuron", GATE_WEIGHTS[gate] if weights == "hand_set" else None)
    return keras.Model(inputs, neuron(inputs), name="logic_gate")


def _gate_outputs(ctx, gate):
    model, _ = ctx.build("logic_gate", params={"gate": gate, "weights": "hand_set"},
                         options={"gate": gate})
    return model.predict(BOOLEAN_INPUTS, verbose=0).ravel()


@register_check("logic_gate", "hand-set OR on (0,0), (0,1), (1,0), (1,1)",
                expected="0.268941, 0.731059, 0.731059, 0.952574", quick=True)
def _or_hand_set(ctx):
    return close_to(_gate_outputs(ctx, "or"), [0.268941, 0.731059, 0.731059, 0.952574],
                    atol=1e-6)


@register_check("logic_gate", "hand-set AND on (0,0), (0,1), (1,0), (1,1)",
                expected="0.047426, 0.268941, 0.268941, 0.731059", quick=True)
def _and_hand_set(ctx):
    return close_to(_gate_outputs(ctx, "and"), [0.047426, 0.268941, 0.268941, 0.731059],
                    atol=1e-6)


@register_check("logic_gate", "learned NAND (BCE, 20 epochs): correct rows of the truth table",
                expected="4 of 4", quick=True)
def _learned_gate(ctx):
    run = ctx.train("logic_gate", params={"weights": "learned"}, options={"gate": "nand"})
    return equal(int(round(4 * run.metrics["accuracy"])), 4)


@register_model("xor", task="classification", inputs="vector", dataset="xor_quadrants",
                source="MLMM 6.2.3; MLP4P lecture 1", epochs=30, batch_size=32)
def xor(hp, spec):
    """Two-layer sigmoid network 2-H-1 computing XOR, hand-set (H = 2) or learned.

    MLMM 6.2.3: XOR = NOR(NOR(x1, x2), AND(x1, x2)), so a hidden layer of two sigmoid
    neurons (NOR, AND) with W1 rows (bias, x1, x2) = [[1.5, -3], [-2, 2], [-2, 2]] and an
    output neuron W2 = (1.5, -2, -2) gives 0.443, 0.552, 0.552, 0.472 on (0,0), (0,1),
    (1,0), (1,1): right at threshold 0.5 (`-p weights=hand_set`, fixed, 9 parameters).
    MLP4P lecture 1 trains a 2-5-1 sigmoid net (`-p weights=learned`, the default,
    `hidden_units` 5, 21 parameters) on points 3 N(0, 1) labelled 1 where y0 y1 < 0
    (the xor_quadrants set), by binary cross-entropy; mlphys uses Adam with learning rate
    0.1, batches of 32 and 30 epochs of 9,000 points: most seeds reach a test accuracy of
    0.95-0.97, some stall in a local minimum near 0.89 (the sigmoids saturate on inputs
    of size ~3; smaller rates need many more epochs and stall as well).
    """
    import keras

    weights = hp.Choice("weights", ["learned", "hand_set"], default="learned")
    hidden_units = hp.Int("hidden_units", 2, 100, default=5)
    hp.Float("learning_rate", 1e-4, 1.0, sampling="log", default=0.1)
    _two_boolean_inputs(spec, "xor")
    hand_set = weights == "hand_set"
    inputs = keras.Input(shape=(2,), name="x")
    hidden = _sigmoid_dense(2 if hand_set else hidden_units, "hidden",
                            XOR_HIDDEN if hand_set else None)(inputs)
    output = _sigmoid_dense(1, "output", XOR_OUTPUT if hand_set else None)(hidden)
    return keras.Model(inputs, output, name="xor")


@register_check("xor", "hand-set 2-2-1 outputs on (0,0), (0,1), (1,0), (1,1), all right at 0.5",
                expected="0.44275197, 0.55157486, 0.55157486, 0.47157231", quick=True)
def _xor_hand_set(ctx):
    model, _ = ctx.build("xor", "truth_table", params={"weights": "hand_set"},
                         options={"gate": "xor"})
    outputs = model.predict(BOOLEAN_INPUTS, verbose=0).ravel()
    right = equal(int(np.sum((outputs > 0.5) == np.array([0, 1, 1, 0], bool))), 4)
    return all_of(close_to(outputs, [0.44275197, 0.55157486, 0.55157486, 0.47157231],
                           atol=1e-6, digits=8), right)


@register_check("xor", "trained 2-5-1 test accuracy after 4 epochs of 4,000 points",
                expected=">= 0.8 (chance 0.5)", quick=True)
def _xor_trained_quick(ctx):
    run = ctx.train("xor", options={"n_train": 4000}, epochs=4)
    return at_least(run.metrics["accuracy"], 0.8)


@register_check("xor", "trained 2-5-1 test accuracy, seeds 0, 1, 2 (course budget; a seed "
                "may stall in a local minimum near 0.89)", expected="best >= 0.95")
def _xor_trained(ctx):
    accuracies = [ctx.train("xor", seed=seed).metrics["accuracy"] for seed in range(3)]
    return Outcome(", ".join(f"{a:.4f}" for a in accuracies), max(accuracies) >= 0.95)
