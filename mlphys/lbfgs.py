"""The L-BFGS phase of the fit core (Raissi, Perdikaris, Karniadakis 2019, section 4).

    mlphys train pinn -d burgers -p lbfgs_steps=5000

An entry that declares the hyperparameter `lbfgs_steps` (the PINN) continues after its
Adam epochs with at most that many L-BFGS iterations on the whole training set (one
batch), by SciPy's `minimize(method="L-BFGS-B", jac=True)` over the flattened trainable
weights, the loss and its gradient coming from one `tf.function`. SciPy's is the
maintained implementation that needs nothing new (scikit-learn installs it); TensorFlow
Probability's `lbfgs_minimize` would add a package that follows TensorFlow's releases
one by one.

The phase is a Keras callback of `mlphys.fitting.fit` that runs in `on_train_end`, before
the recorders close: every block of `steps_per_epoch` iterations (100 if the entry has
none) is one more epoch for them, numbered on from the Adam epochs, so history.csv gets
one row per block, best.keras follows the monitored loss, the backup for `--resume` is
written after each block, and a tuner's trial sees the blocks as epochs. Its convergence
criteria are Raissi et al.'s settings (`SETTINGS`): it stops when the relative decrease
of the loss falls below the float64 epsilon, the largest gradient component below 1e-5,
the line search fails (the float32 loss cannot decrease further) or the iterations run
out. What it did is recorded in config.json under "lbfgs".

`--resume` of a run killed during the phase restores the weights of its last completed
block and runs the iterations left, starting L-BFGS afresh from those weights: its
curvature memory (the last 50 steps) is not saved, so the resumed phase is not the
same to the digit as an uninterrupted one.
"""

import time
from dataclasses import dataclass

import keras
import numpy as np
import tensorflow as tf

from mlphys.errors import UserError

# Raissi et al.'s options (their PINNs code: maxcor 50, maxls 50, ftol = machine epsilon;
# gtol is SciPy's default); maxfun, the evaluations, is twice the iterations at most.
SETTINGS = {"maxcor": 50, "maxls": 50, "ftol": float(np.finfo(float).eps), "gtol": 1e-5}
BLOCK = 100  # iterations per history row when the entry has no steps_per_epoch


def lbfgs_steps(config):
    """The L-BFGS iterations the run asks for (the hyperparameter `lbfgs_steps`; 0: none)."""
    steps = int(config.hyperparameters.get("lbfgs_steps", 0) or 0)
    if steps < 0:
        raise UserError(f"lbfgs_steps {steps}: give a number of iterations >= 0")
    if steps and config.replicas > 1:
        raise UserError("lbfgs_steps does not work with --replicas yet: train the replicas "
                        "without the L-BFGS phase, or one model with it")
    if steps and config.augment:
        raise UserError("lbfgs_steps minimises the loss of fixed training data and cannot "
                        "follow augmented batches: leave out --augment or lbfgs_steps")
    return steps


@dataclass(frozen=True)
class Phase:
    """What the L-BFGS phase of one fit does."""

    steps: int  # iterations at most, over the whole phase
    block: int  # iterations per epoch (one history row, checkpoint and backup)
    first_epoch: int  # the epoch (0-based) its first block is, after the Adam epochs
    schedule_logged: bool  # the run's lr schedule writes learning_rate to the logs


def flat_loss_and_gradient(model, x, y, weight=None):
    """`f(w) -> (loss, gradient)` on float64 NumPy vectors of the model's trainable
    weights (all of them, flattened in `model.trainable_variables` order), for SciPy.

    The loss is `model.compute_loss` on the whole of (x, y, weight) at once, the
    model called without dropout (training=False): a deterministic function of w, as
    L-BFGS needs. f assigns w to the model's variables before it evaluates."""
    variables = model.trainable_variables
    shapes = [tuple(v.shape) for v in variables]
    sizes = [int(np.prod(s)) for s in shapes]
    x = tf.convert_to_tensor(x)
    y = None if y is None else tf.convert_to_tensor(y)
    weight = None if weight is None else tf.convert_to_tensor(weight, tf.float32)

    @tf.function(input_signature=[tf.TensorSpec([sum(sizes)], tf.float64)])
    def value_and_gradient(flat):
        for variable, part, shape in zip(variables, tf.split(flat, sizes), shapes):
            variable.assign(tf.cast(tf.reshape(part, shape), variable.dtype))
        with tf.GradientTape() as tape:
            loss = model.compute_loss(x=x, y=y, y_pred=model(x, training=False),
                                      sample_weight=weight, training=False)
        gradients = tape.gradient(loss, variables, unconnected_gradients="zero")
        return loss, tf.concat([tf.reshape(tf.cast(g, tf.float64), [-1])
                                for g in gradients], axis=0)

    def f(w):
        loss, gradient = value_and_gradient(tf.constant(w, tf.float64))
        return float(loss), gradient.numpy()

    return f


def flat_weights(model):
    """The trainable weights as one float64 vector (the order of `flat_loss_and_gradient`)."""
    return np.concatenate([np.ravel(keras.ops.convert_to_numpy(v)).astype(np.float64)
                           for v in model.trainable_variables])


class _Stopped(Exception):
    """A callback asked to stop (a NaN loss): leaves SciPy's loop at once."""


def minimise(f, w0, steps, on_iteration):
    """SciPy's L-BFGS-B from w0 for at most `steps` iterations (SETTINGS); calls
    `on_iteration(i, w, loss)` after iteration i = 1, 2, ... with the accepted weights
    and their loss (the last one evaluated); it may raise `_Stopped`, or
    KeyboardInterrupt, which propagates. Returns (w, iterations, evaluations, message)."""
    from scipy.optimize import minimize

    state = {"w": w0, "nit": 0, "nfev": 0, "loss": None}

    def counted(w):
        state["nfev"] += 1
        loss, gradient = f(w)
        state["loss"] = loss
        return loss, gradient

    def callback(w):
        state["nit"] += 1
        state["w"] = np.array(w)
        on_iteration(state["nit"], state["w"], state["loss"])

    try:
        result = minimize(counted, w0, jac=True, method="L-BFGS-B", callback=callback,
                          options={**SETTINGS, "maxiter": steps, "maxfun": 2 * steps})
    except _Stopped:
        return state["w"], state["nit"], state["nfev"], "stopped: the loss is not finite"
    message = result.message
    message = message.decode() if isinstance(message, bytes) else str(message)
    return result.x, int(result.nit), state["nfev"], message


class LbfgsPhase(keras.callbacks.Callback):
    """Runs the L-BFGS phase when Keras' fit ends, driving `callbacks` (the recorders,
    the NaN stop, the entry's and Ctrl-C's, all still open) as if each block were an
    epoch; fills `record` with what it did.

    data: (x, y, sample_weight) of the whole training set; validation: what `fit` was
    given as validation_data, or None."""

    def __init__(self, phase, data, validation, callbacks, record):
        super().__init__()
        self.phase, self.data, self.validation = phase, data, validation
        self.callbacks, self.record = callbacks, record

    def on_train_end(self, logs=None):
        model, phase = self.model, self.phase
        if logs and not np.isfinite(logs.get("loss", 0.0)):
            return  # the Adam epochs diverged: nothing to refine
        # a resumed run starts at the epoch its backup recorded (BackupAndRestore sets it)
        first = max(phase.first_epoch, model._initial_epoch or 0)
        done = (first - phase.first_epoch) * phase.block
        steps = phase.steps - done
        if steps <= 0:
            return
        model.stop_training = False
        f = flat_loss_and_gradient(model, *self.data)
        started = time.perf_counter()
        block = {"epoch": first, "begun": 0}  # the open block: its epoch, first iteration

        def on_iteration(i, w, loss):
            self._each("on_train_batch_end", i - block["begun"] - 1, {"loss": loss})
            if model.stop_training:
                raise _Stopped
            if i - block["begun"] == phase.block:
                _assign(model, w)
                self._each("on_epoch_end", block["epoch"], self._logs())
                block["epoch"], block["begun"] = block["epoch"] + 1, i
                self._each("on_epoch_begin", block["epoch"])

        self._each("on_epoch_begin", first)
        w, iterations, evaluations, message = minimise(f, flat_weights(model), steps,
                                                       on_iteration)
        _assign(model, w)
        if iterations > block["begun"] or block["epoch"] == first:  # the last block
            self._each("on_epoch_end", block["epoch"], self._logs())
        self.record.update({"iterations": done + iterations, "evaluations": evaluations,
                            "stopped": message,
                            "seconds": round(time.perf_counter() - started, 2),
                            "first_epoch": phase.first_epoch + 1})

    def _logs(self):
        """The logs of a Keras epoch at the current weights: the model's metrics on the
        whole training set, on the validation data as val_*, and learning_rate (NaN:
        L-BFGS has none) where the run's schedule logs it, so that history.csv keeps
        its columns."""
        x, y, weight = self.data
        logs = self.model.evaluate(x, y, sample_weight=weight, batch_size=len(x),
                                   verbose=0, return_dict=True)
        if self.validation is not None:
            val_x, val_y, val_weight = (*self.validation, None)[:3]
            val = self.model.evaluate(val_x, val_y, sample_weight=val_weight,
                                      batch_size=len(val_x), verbose=0, return_dict=True)
            logs.update({f"val_{k}": v for k, v in val.items()})
        if self.phase.schedule_logged:
            logs["learning_rate"] = float("nan")
        return logs

    def _each(self, hook, *args):
        for callback in self.callbacks:
            getattr(callback, hook)(*args)


def _assign(model, w):
    start = 0
    for variable in model.trainable_variables:
        size = int(np.prod(variable.shape))
        variable.assign(np.reshape(w[start:start + size], variable.shape).astype(
            variable.dtype))
        start += size
