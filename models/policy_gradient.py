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

WALL, CHEST, ROBOT = 0, 1, 2          # the channels of a state (data/maze.py)
MOVES = [(0, 0), (-1, 0), (1, 0), (0, -1), (0, 1)]   # stay, up, down, left, right
ACTIONS = len(MOVES)


@register_keras_objects
def keras_objects():
    """The policy-gradient model and the tabular policy's input layer (defined on first
    use: importing this module loads no Keras)."""
    import keras
    import tensorflow as tf

    @keras.saving.register_keras_serializable(package="mlphys")
    class RobotPosition(keras.layers.Layer):
        """The robot channel of states (B, M, M, 3) flattened to one-hot vectors (B, M*M):
        a Dense layer on it without bias is a table of action preferences per square."""

        def call(self, states):
            squares = states.shape[1] * states.shape[2]
            return keras.ops.reshape(states[..., ROBOT], (-1, squares))

        def compute_output_shape(self, input_shape):
            return (input_shape[0], input_shape[1] * input_shape[2])

    @keras.saving.register_keras_serializable(package="mlphys")
    class PolicyGradient(keras.Model):
        """A policy network trained by REINFORCE on episodes it plays itself.

        policy: a Keras model, states (B, M, M, 3) -> action probabilities (B, 5).
        Calling the model gives the policy's probabilities; `train_step` takes batches
        (start states (B, M, M, 3), rules (B, 2) = (steps, wall penalty)).
        """

        def __init__(self, policy, entropy=0.0, **kwargs):
            super().__init__(**kwargs)
            self.policy = policy
            self.entropy = float(entropy)
            self.dice = keras.random.SeedGenerator()
            self.loss_tracker = keras.metrics.Mean(name="loss")
            self.return_tracker = keras.metrics.Mean(name="mean_return")
            self.built = True

        def call(self, states, training=False):
            return self.policy(states, training=training)

        @property
        def metrics(self):
            return [self.loss_tracker, self.return_tracker]

        def episodes(self, start, rules, mode="sample"):
            """Play one episode from every start state.

            mode: "sample" (draw actions from the policy), "greedy" (its most probable
                action) or "random" (uniform over the five actions).
            Returns states (T, B, M, M, 3) seen, actions (T, B) taken, rewards (T, B).
            """
            start = tf.convert_to_tensor(start, tf.float32)
            rules = tf.convert_to_tensor(rules, tf.float32)
            size = start.shape[1]
            squares = size * size
            batch = tf.shape(start)[0]
            steps = tf.cast(rules[0, 0], tf.int32)
            penalty = rules[0, 1]
            walls = tf.reshape(start[..., WALL], (batch, squares))
            chests = tf.reshape(start[..., CHEST], (batch, squares))
            position = tf.argmax(tf.reshape(start[..., ROBOT], (batch, squares)), axis=1,
                                 output_type=tf.int32)
            dice = keras.random.uniform(tf.stack([steps, batch]), seed=self.dice)
            moves = tf.constant(MOVES, tf.int32)

            def play(t, position, chests, states, actions, rewards):
                robot = tf.one_hot(position, squares)
                state = tf.reshape(tf.stack([walls, chests, robot], axis=-1),
                                   (batch, size, size, 3))
                if mode == "random":
                    probabilities = tf.fill((batch, ACTIONS), 1.0 / ACTIONS)
                else:
                    probabilities = tf.cast(self.policy(state, training=False), tf.float32)
                if mode == "greedy":
                    action = tf.argmax(probabilities, axis=1, output_type=tf.int32)
                else:  # inverse transform sampling with the dice drawn beforehand
                    below = tf.cumsum(probabilities, axis=1)[:, :-1] < dice[t][:, None]
                    action = tf.reduce_sum(tf.cast(below, tf.int32), axis=1)
                # the environment: a move into a wall or off the grid costs the penalty
                # and leaves the robot where it is; a chest reached is picked up
                row = position // size + tf.gather(moves[:, 0], action)
                col = position % size + tf.gather(moves[:, 1], action)
                inside = (row >= 0) & (row < size) & (col >= 0) & (col < size)
                target = (tf.clip_by_value(row, 0, size - 1) * size
                          + tf.clip_by_value(col, 0, size - 1))
                blocked = ~inside | (tf.gather(walls, target, batch_dims=1) > 0.5)
                position = tf.where(blocked, position, target)
                found = tf.gather(chests, position, batch_dims=1)
                chests = chests * (1.0 - tf.one_hot(position, squares))
                reward = found - penalty * tf.cast(blocked, tf.float32)
                return (t + 1, position, chests, states.write(t, state),
                        actions.write(t, action), rewards.write(t, reward))

            arrays = (tf.TensorArray(tf.float32, size=steps),
                      tf.TensorArray(tf.int32, size=steps),
                      tf.TensorArray(tf.float32, size=steps))
            _, _, _, states, actions, rewards = tf.while_loop(
                lambda t, *_: t < steps, play, (tf.constant(0), position, chests, *arrays))
            return states.stack(), actions.stack(), rewards.stack()

        def episode_returns(self, start, rules, mode="sample"):
            """The return (sum of rewards) of one episode from each start state, (B,)."""
            _, _, rewards = self.episodes(start, rules, mode)
            return tf.reduce_sum(rewards, axis=0)

        def train_step(self, data):
            start, rules = data[0], data[1]
            states, actions, rewards = self.episodes(start, rules)
            to_go = tf.cumsum(rewards, axis=0, reverse=True)                  # G_t
            advantage = to_go - tf.reduce_mean(to_go, axis=1, keepdims=True)  # G_t - b_t
            shape = tf.shape(actions)
            seen = tf.reshape(states, tf.concat([[-1], tf.shape(states)[2:]], axis=0))
            with tf.GradientTape() as tape:
                probabilities = tf.cast(self.policy(seen, training=True), tf.float32)
                taken = tf.gather(probabilities, tf.reshape(actions, [-1]), batch_dims=1)
                log_pi = tf.reshape(tf.math.log(taken + 1e-8), shape)
                # an entropy bonus keeps the policy exploring (no early collapse to "stay")
                entropy = -tf.reduce_sum(probabilities * tf.math.log(probabilities + 1e-8),
                                         axis=1)
                objective = advantage * log_pi + self.entropy * tf.reshape(entropy, shape)
                surrogate = -tf.reduce_mean(tf.reduce_sum(objective, axis=0))
            weights = self.policy.trainable_variables
            self.optimizer.apply_gradients(zip(tape.gradient(surrogate, weights), weights))
            return self._report(tf.reduce_sum(rewards, axis=0))

        def test_step(self, data):
            return self._report(self.episode_returns(data[0], data[1]))

        def _report(self, returns):
            # the surrogate's value means nothing (its gradient is what counts): the loss
            # logged and monitored is minus the mean return
            self.loss_tracker.update_state(-returns)
            self.return_tracker.update_state(returns)
            return {"loss": self.loss_tracker.result(),
                    "mean_return": self.return_tracker.result()}

        def get_config(self):
            return {**super().get_config(), "entropy": self.entropy,
                    "policy": keras.saving.serialize_keras_object(self.policy)}

        @classmethod
        def from_config(cls, config):
            policy = keras.saving.deserialize_keras_object(config.pop("policy"))
            return cls(policy, **config)

    return {"RobotPosition": RobotPosition, "PolicyGradient": PolicyGradient}


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
                compiles=True, score=score_policy, steps_per_epoch=20)
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
    classes = keras_objects()
    states = keras.Input(shape=shape, name="state")
    if policy_kind == "tabular":
        x = classes["RobotPosition"](name="robot_square")(states)
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
    model = classes["PolicyGradient"](policy, entropy=entropy, name="policy_gradient")
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
