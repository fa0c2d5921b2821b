"""REINFORCE in a treasure-chest maze (MLP4P lectures 7-9; MLMM 14).

The robot sees the maze as three channels (walls, chests, itself) and picks one of five
actions (stay, up, down, left, right) from a softmax policy pi(a | s). A training step
plays a batch of episodes, every one entirely in TensorFlow ops and vectorised over the
batch, then climbs the policy gradient

    grad J = < sum_t (G_t - b_t) grad log pi(a_t | s_t) >_batch,

G_t = sum_{t' >= t} r_t' the return to go and b_t its mean over the batch (a baseline
that lowers the variance without biasing the gradient). `fit` drives it: a "sample" is a
start state, a batch is a batch of trajectories (`--batch-size`) and the episodes' rules
come with the data (see data/maze.py).
"""

import numpy as np

from mlphys.errors import UserError
from mlphys.registry import register_keras_objects, register_model
from mlphys.reproduce import Outcome, all_of, at_least, register_check

# PolicyGradient and RobotPosition (and the five moves of the environment), imported by
# the builder: importing the zoo loads no Keras
register_keras_objects("mlphys.models._policy_layers")


def score_policy(model, dataset, split="test"):
    """Mean return of the trained policy (sampled and greedy) and of a random policy over
    the split's episodes (1,000 by default)."""
    x, y = dataset.split(split)
    if len(x) == 0:
        raise UserError(f"the {split} split of '{dataset.name}' is empty")
    returns = {mode: float(np.mean(model.episode_returns(x, y, mode)))
               for mode in ("sample", "greedy", "random")}
    return {"mean_return": returns["sample"], "greedy_return": returns["greedy"],
            "random_return": returns["random"],
            "gain_over_random": returns["sample"] - returns["random"]}


@register_model("policy_gradient", task="any", inputs="image", dataset="maze",
                source="MLP4P lectures 7-9; MLMM 14", epochs=30, batch_size=32,
                compiles=True, score=score_policy, steps_per_epoch=20,
                backends=("tensorflow",))
def policy_gradient(hp, spec):
    """REINFORCE policy for a treasure-chest maze: tabular softmax or convolutional.

    policy=tabular: pi(a | square) = softmax of a learned table of M*M x 5 preferences
    (the robot's square only, 245 parameters on a 7x7 maze). policy=conv: the state's
    three channels (walls, chests, robot) -> Conv2D(f, 3, relu) -> Conv2D(2f, 3, relu) ->
    Flatten -> Dense(units, relu) -> Dense(5, softmax): 26,677 parameters for f = 8,
    units = 32 on 7x7. Adam; one update per batch of trajectories (--batch-size), with the
    batch-mean return to go as baseline and an entropy bonus (`entropy` times the
    policy's entropy per step) that keeps it exploring instead of settling on "stay".
    history.csv: mean_return per epoch (loss = minus it); evaluate: the mean return
    against a random policy's.
    """
    import keras
    from keras import layers

    from mlphys.models._policy_layers import ACTIONS, PolicyGradient, RobotPosition

    policy_kind = hp.Choice("policy", ["conv", "tabular"], default="conv")
    filters = hp.Int("filters", 4, 64, step=4, default=8)
    dense_units = hp.Int("dense_units", 8, 512, step=8, default=32)
    entropy = hp.Float("entropy", 0.0, 1.0, default=0.2)
    learning_rate = hp.Float("learning_rate", 1e-4, 1.0, sampling="log", default=2e-3)
    optimizer = hp.Choice("optimizer", ["adam", "sgd", "rmsprop"], default="adam")

    shape = tuple(spec.input_shape)
    if len(shape) != 3 or shape[-1] != 3 or shape[0] != shape[1]:
        raise UserError(f"policy_gradient plays a maze: it needs state images (M, M, 3) of "
                        f"walls, chests and robot, not samples of shape {shape}; train it on "
                        "the 'maze' dataset")
    states = keras.Input(shape=shape, name="state")
    if policy_kind == "tabular":
        x = RobotPosition(name="robot_square")(states)
        x = layers.Dense(ACTIONS, use_bias=False, kernel_initializer="zeros",
                         name="preference_table")(x)
        probabilities = layers.Softmax(name="action_probabilities", dtype="float32")(x)
    else:
        x = layers.Conv2D(filters, 3, padding="same", activation="relu", name="conv_1")(states)
        x = layers.Conv2D(2 * filters, 3, padding="same", activation="relu",
                          name="conv_2")(x)
        x = layers.Flatten(name="flatten")(x)
        x = layers.Dense(dense_units, activation="relu", name="dense")(x)
        probabilities = layers.Dense(ACTIONS, activation="softmax", dtype="float32",
                                     name="action_probabilities")(x)
    policy = keras.Model(states, probabilities, name=f"{policy_kind}_policy")
    model = PolicyGradient(policy, entropy=entropy, name="policy_gradient")
    model.compile(optimizer=keras.optimizers.get(
        {"class_name": optimizer, "config": {"learning_rate": learning_rate}}),
        jit_compile=False)   # the episode loop has a length known only at run time
    return model


# --- reproduction checks (ZOO.md section E) ---------------------------------------------

QUICK_MAZE = {"size": 5, "chests": 2, "episode_length": 15, "n_train": 64, "n_test": 300}


def _rises_and_beats_random(run, margin):
    """mean_return of the last epoch above the first, and the trained policy's mean return
    at least `margin` above a random policy's on the test episodes."""
    history = run.history()["mean_return"]
    rises = Outcome(f"mean_return {history[0]:.2f} -> {history[-1]:.2f}",
                    bool(history[-1] > history[0]))
    gain = run.metrics["mean_return"] - run.metrics["random_return"]
    beats = at_least(gain, margin)
    beats = Outcome(f"return {run.metrics['mean_return']:.2f} vs random "
                    f"{run.metrics['random_return']:.2f} (gain {beats.obtained})", beats.passed)
    return all_of(rises, beats)


@register_check("policy_gradient", "tabular policy, 5x5 maze, 2 chests, 3 epochs x 20 "
                "steps: return rises, beats random", expected="rises; gain >= 2", quick=True)
def _tabular_quick(ctx):
    run = ctx.train("policy_gradient", params={"policy": "tabular", "learning_rate": 0.05},
                    options=QUICK_MAZE, epochs=3, seed=0)
    return _rises_and_beats_random(run, 2.0)


@register_check("policy_gradient", "tabular policy, 7x7 maze, 3 chests, 30 steps "
                "(default 30 epochs x 20 updates)", expected="rises; gain >= 5")
def _tabular_full(ctx):
    run = ctx.train("policy_gradient", params={"policy": "tabular", "learning_rate": 0.05},
                    seed=0)
    return _rises_and_beats_random(run, 5.0)


@register_check("policy_gradient", "conv policy, 7x7 maze, 3 chests, 30 steps "
                "(default 30 epochs x 20 updates)", expected="rises; gain >= 5")
def _conv_full(ctx):
    run = ctx.train("policy_gradient", params={"policy": "conv"}, seed=0)
    return _rises_and_beats_random(run, 5.0)
