"""Scale-out on TensorFlow's own engine, `tf.distribute`.

    none          one device (TensorFlow's default placement)
    mirrored      `MirroredStrategy`: one replica per local GPU (or, on a machine without
                  GPUs, per logical CPU device), gradients all-reduced every step
    multiworker   refused for now: with Keras 3.15 and TensorFlow 2.21, `Model.fit` under
                  `MultiWorkerMirroredStrategy` fails before the first step, with NumPy and
                  tf.data inputs alike ("Attempt to convert a value (PerReplica...)"): Keras'
                  `_maybe_symbolic_build` averages the first batch with `strategy.reduce`,
                  which the collective all-reduce cannot do eagerly (keras-team/keras#20585,
                  tensorflow/tensorflow#72388). Tried here with two workers on 127.0.0.1.

The batch size a user gives is per replica; the global batch is that times the replicas.
"""

from contextlib import nullcontext
from dataclasses import dataclass

from mlphys.errors import UserError
from mlphys.runconfig import STRATEGIES


@dataclass
class Placement:
    """Where a run's replicas live."""

    name: str
    strategy: object | None
    replicas: int

    def scope(self):
        return self.strategy.scope() if self.strategy is not None else nullcontext()

    def describe(self):
        return {"strategy": self.name, "replicas": self.replicas}


def place(name="none"):
    """The `Placement` for strategy `name` (one of STRATEGIES)."""
    if name not in STRATEGIES:
        raise UserError(f"--distribute {name}: choose one of {', '.join(STRATEGIES)}")
    if name == "none":
        return Placement(name, None, 1)
    if name == "multiworker":
        raise UserError("--distribute multiworker: Keras 3 cannot yet fit under TensorFlow's "
                        "MultiWorkerMirroredStrategy (keras-team/keras#20585); use "
                        "--distribute mirrored for all GPUs of one node")
    import tensorflow as tf

    devices = [d.name for d in tf.config.list_logical_devices("GPU")] or \
              [d.name for d in tf.config.list_logical_devices("CPU")]
    strategy = tf.distribute.MirroredStrategy(devices)
    return Placement(name, strategy, strategy.num_replicas_in_sync)
