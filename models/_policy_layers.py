"""The Keras classes of the REINFORCE maze policy (mlphys.models.policy_gradient; MLP4P
lectures 7-9, MLMM 14): the model `PolicyGradient`, which plays its episodes in
TensorFlow ops and climbs the policy gradient in its own `train_step`, and
`RobotPosition`, the input layer of the tabular policy.

This module imports Keras at its top: the zoo module imports it inside its builder only,
and `mlphys.registry.define_keras_objects` imports it before a saved run is reopened, so
`mlphys list` and `mlphys info` never load TensorFlow. The classes keep the registered
names "mlphys>RobotPosition" and "mlphys>PolicyGradient" of earlier releases, so their
run folders reopen.
"""

import keras
import tensorflow as tf

from mlphys.data.maze import CHEST, ROBOT, WALL  # the channels of a state image

MOVES = [(0, 0), (-1, 0), (1, 0), (0, -1), (0, 1)]   # stay, up, down, left, right
ACTIONS = len(MOVES)


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
