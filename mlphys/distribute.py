"""Scale-out: TensorFlow's `tf.distribute` on one node, Keras' distribution API on JAX.

    none           one device (the backend's default placement)
    mirrored       TensorFlow: `MirroredStrategy`, one replica per local GPU (or, on a
                   machine without GPUs, per logical CPU device), gradients all-reduced
    data-parallel  JAX: `keras.distribution.DataParallel` over every device of every
                   process (`keras.distribution.initialize`, i.e. `jax.distributed`,
                   when there are several processes); the same command on every node
    multiworker    refused: with Keras 3.15 and TensorFlow 2.21, `Model.fit` under
                   `MultiWorkerMirroredStrategy` fails before the first step, with NumPy and
                   tf.data inputs alike ("Attempt to convert a value (PerReplica...)"): Keras'
                   `_maybe_symbolic_build` averages the first batch with `strategy.reduce`,
                   which the collective all-reduce cannot do eagerly (keras-team/keras#20585,
                   tensorflow/tensorflow#72388). `place("multiworker")` still builds the
                   strategy, so that a test sees the day Keras fixes it.

    placement = place("data-parallel", cluster_of(config))
    placement.replicas     # devices in all: the global batch is --batch-size times this
    placement.writes       # only process 0 writes the run folder

A data-parallel run finds its processes in this order: the flags `--coordinator HOST:PORT
--num-processes N --process-id I`, then Keras' variables `KERAS_DISTRIBUTION_JOB_ADDRESSES`
(the first address is the coordinator), `KERAS_DISTRIBUTION_NUM_PROCESSES`,
`KERAS_DISTRIBUTION_PROCESS_ID`, then SLURM's `SLURM_NODELIST` (its first host, port
`SLURM_PORT` below), `SLURM_NTASKS`, `SLURM_PROCID`. Without any, it is one process over
all local devices. On CPU, several processes all-reduce through gloo
(`jax_cpu_collectives_implementation`).

The batch size a user gives is per device (replica); the global batch is that times the
devices, and each process reads its own slice of every global batch (Keras' auto-sharding
of a batched `tf.data.Dataset`).
"""

import os
import re
import sys
import warnings
from contextlib import contextmanager, nullcontext
from dataclasses import dataclass

from mlphys.errors import UserError

STRATEGIES = ("none", "mirrored", "multiworker", "data-parallel")  # --distribute

SLURM_PORT = 12321  # the coordinator's port when it is derived from SLURM's node list
TENSORFLOW_ONLY = ("mirrored", "multiworker")


@dataclass
class Placement:
    """Where a run's replicas live, and which process this is."""

    name: str
    strategy: object | None
    replicas: int
    processes: int = 1
    process_id: int = 0
    coordinator: str | None = None

    @property
    def writes(self):
        """Whether this process writes the run folder (process 0 only)."""
        return self.process_id == 0

    def scope(self):
        return self.strategy.scope() if self.strategy is not None else nullcontext()

    def describe(self):
        described = {"strategy": self.name, "replicas": self.replicas}
        if self.name == "data-parallel":
            described.update(processes=self.processes, coordinator=self.coordinator)
        return described


@dataclass(frozen=True)
class Cluster:
    """The processes of a data-parallel run, as this process sees them."""

    coordinator: str | None
    processes: int
    process_id: int


_STARTED = {}  # the data-parallel Placement of this process (jax.distributed starts once)


def check_distribute(config):
    """Refuse, in one line, a strategy the run's backend cannot use, and process settings
    without a data-parallel run or that do not fit together."""
    name, backend = config.distribute, config.backend
    if name not in STRATEGIES:
        raise UserError(f"--distribute {name}: choose one of {', '.join(STRATEGIES)}")
    if name == "multiworker":
        raise UserError("--distribute multiworker: Keras 3 cannot yet fit under TensorFlow's "
                        "MultiWorkerMirroredStrategy (keras-team/keras#20585); to train on "
                        "several nodes use --backend jax --distribute data-parallel (or "
                        "--distribute mirrored for all GPUs of one node)")
    if name == "data-parallel" and backend != "jax":
        raise UserError("--distribute data-parallel is Keras' distribution API, which runs "
                        "on JAX: add --backend jax (on TensorFlow, --distribute mirrored "
                        "uses all GPUs of one node)")
    if name in TENSORFLOW_ONLY and backend != "tensorflow":
        raise UserError(f"--distribute {name} is TensorFlow's; on --backend {backend} use "
                        "--distribute data-parallel")
    given = [flag for flag, value in (("--coordinator", config.coordinator),
                                      ("--num-processes", config.num_processes),
                                      ("--process-id", config.process_id)) if value is not None]
    if given and name != "data-parallel":
        raise UserError(f"{', '.join(given)} apply to --distribute data-parallel only")
    if name == "data-parallel":
        cluster_of(config)
        if config.augment not in (None, "none") and config.augment_engine == "generator":
            raise UserError("--distribute data-parallel feeds every process from one tf.data "
                            "pipeline: add --augment-engine layers (ImageDataGenerator "
                            "cannot be split among processes)")


def cluster_of(config):
    """The `Cluster` from the flags, else Keras' variables, else SLURM's; a UserError if
    the processes cannot be found or do not fit together."""
    env = os.environ
    addresses = env.get("KERAS_DISTRIBUTION_JOB_ADDRESSES")
    slurm_host = _first_slurm_host(env.get("SLURM_NODELIST") or env.get("SLURM_JOB_NODELIST"))
    coordinator = (config.coordinator or (addresses.split(",")[0] if addresses else None)
                   or (f"{slurm_host}:{SLURM_PORT}" if slurm_host else None))
    processes = _integer(config.num_processes, "--num-processes",
                         env.get("KERAS_DISTRIBUTION_NUM_PROCESSES"), env.get("SLURM_NTASKS"),
                         default=1)
    process_id = _integer(config.process_id, "--process-id",
                          env.get("KERAS_DISTRIBUTION_PROCESS_ID"), env.get("SLURM_PROCID"),
                          default=0)
    if processes < 1:
        raise UserError(f"--num-processes {processes}: give at least 1")
    if not 0 <= process_id < processes:
        raise UserError(f"--process-id {process_id}: give 0 to {processes - 1} (one id per "
                        f"process of --num-processes {processes})")
    if processes > 1 and not coordinator:
        raise UserError(f"--num-processes {processes} needs --coordinator HOST:PORT, the "
                        "address of process 0 that every process can reach")
    if coordinator and not re.fullmatch(r"[^:\s]+:\d+", coordinator):
        raise UserError(f"--coordinator {coordinator}: give HOST:PORT, e.g. node0:1234")
    return Cluster(coordinator if processes > 1 else None, processes, process_id)


def _integer(flag_value, flag, *environment, default):
    if flag_value is not None:
        return int(flag_value)
    for text in environment:
        if text not in (None, ""):
            try:
                return int(text)
            except ValueError:
                raise UserError(f"{flag}: the environment gives '{text}', not a whole "
                                "number; give the flag") from None
    return default


def _first_slurm_host(nodelist):
    """The first host of a SLURM node list: 'gpu[03-06,09],cpu1' -> 'gpu03'."""
    if not nodelist:
        return None
    first = re.match(r"([^,\[]+)(\[([^\]]+)\])?", nodelist.strip())
    if first is None:
        return None
    prefix, _, ranges = first.groups()
    return prefix + (re.split(r"[-,]", ranges)[0] if ranges else "")


def place(name="none", cluster=None):
    """The `Placement` for strategy `name` (one of STRATEGIES); `cluster` (a `Cluster`)
    for data-parallel, None: one process."""
    if name not in STRATEGIES:
        raise UserError(f"--distribute {name}: choose one of {', '.join(STRATEGIES)}")
    if name == "none":
        return Placement(name, None, 1)
    if name == "data-parallel":
        return _data_parallel(cluster or Cluster(None, 1, 0))
    import tensorflow as tf

    if name == "multiworker":  # reads TF_CONFIG (refused by check_distribute; see above)
        strategy = tf.distribute.MultiWorkerMirroredStrategy()
        return Placement(name, strategy, strategy.num_replicas_in_sync)
    devices = [d.name for d in tf.config.list_logical_devices("GPU")] or \
              [d.name for d in tf.config.list_logical_devices("CPU")]
    strategy = tf.distribute.MirroredStrategy(devices)
    return Placement(name, strategy, strategy.num_replicas_in_sync)


def _data_parallel(cluster):
    """Start this process's part of the cluster (once) and set Keras' DataParallel
    distribution over every device of every process."""
    import keras

    if keras.backend.backend() != "jax":
        raise UserError("--distribute data-parallel runs on JAX: add --backend jax")
    started = _STARTED.get("placement")
    if started is not None:
        if (started.processes, started.process_id) != (cluster.processes, cluster.process_id):
            raise UserError("this Python process already joined a data-parallel run of "
                            f"{started.processes} process(es) as process "
                            f"{started.process_id}; start a new one for another")
        devices = keras.distribution.list_devices()
        keras.distribution.set_distribution(keras.distribution.DataParallel(devices=devices))
        return started
    if cluster.processes > 1:
        import jax

        # CPU devices of several processes all-reduce through gloo (JAX's default on
        # CPU is none: each process alone); GPUs use NCCL whatever this says
        jax.config.update("jax_cpu_collectives_implementation", "gloo")
        with _stdout_to_stderr():  # gloo: "[Gloo] Rank 0 is connected to 1 peer ranks..."
            keras.distribution.initialize(cluster.coordinator, cluster.processes,
                                          cluster.process_id)
        # Keras' per-process shard of the batches has no known length, so Keras warns at
        # every epoch's end that the data ran out, which is how an epoch ends here
        warnings.filterwarnings("ignore", message="Your input ran out of data")
    devices = keras.distribution.list_devices()
    keras.distribution.set_distribution(keras.distribution.DataParallel(devices=devices))
    _STARTED["placement"] = Placement("data-parallel", None, len(devices), cluster.processes,
                                      cluster.process_id, cluster.coordinator)
    return _STARTED["placement"]


@contextmanager
def _stdout_to_stderr():
    """File descriptor 1 pointed at 2 (what C++ prints to stdout would break --json)."""
    sys.stdout.flush()
    saved = os.dup(1)
    os.dup2(2, 1)
    try:
        yield
    finally:
        sys.stdout.flush()
        os.dup2(saved, 1)
        os.close(saved)


def data_parallel_batches(pipeline, global_batch):
    """A batched `tf.data` pipeline regrouped into whole global batches (the last partial
    batch left out): every process must take the same number of steps, and Keras splits
    each global batch evenly among them."""
    return pipeline.rebatch(global_batch, drop_remainder=True)


def array_batches(x, y, weight, global_batch, seed=None):
    """(x, y[, weight]) as a `tf.data` pipeline of global batches, shuffled by `seed`
    each epoch (the same order in every process), or in order if `seed` is None."""
    import tensorflow as tf

    items = (x, y) if weight is None else (x, y, weight)
    pipeline = tf.data.Dataset.from_tensor_slices(items)
    if seed is not None:
        pipeline = pipeline.shuffle(len(x), seed=seed, reshuffle_each_iteration=True)
    return pipeline.batch(global_batch, drop_remainder=True).prefetch(tf.data.AUTOTUNE)


def data_parallel_inputs(x, y, weight, global_batch, validation, config):
    """`fit_inputs`' (x, y, weight, batch, validation) for a data-parallel fit: `tf.data`
    pipelines of whole global batches, the same in every process (Keras gives each
    process its slice of every batch), training shuffled by the run's seed each epoch."""
    if y is not None:
        x = array_batches(x, y, weight, global_batch, config.seed)
        if config.steps_per_epoch:
            x = x.repeat()
    else:  # an augmenting or streaming pipeline, batched already
        x = data_parallel_batches(x, global_batch)
    if isinstance(validation, tuple):
        validation = array_batches(*validation, None, global_batch) \
            if len(validation) == 2 else array_batches(*validation, global_batch)
    elif validation is not None:
        validation = data_parallel_batches(validation, global_batch)
    return x, None, None, None, validation


def check_global_batch(data, config):
    """Refuse a split smaller than one global batch (a data-parallel epoch takes whole
    global batches only), before the run folder is made."""
    batch = config.state.global_batch_size
    for split, size in (("training", len(data.y_train)), ("validation", len(data.y_val))):
        if 0 < size < batch:
            raise UserError(f"--distribute data-parallel: the {split} split has {size} "
                            f"samples, fewer than one global batch of {batch} (--batch-size "
                            f"{config.batch_size} x {batch // config.batch_size} devices): "
                            "lower --batch-size")


def process_placement(config):
    """This process's part of the run without building a strategy: a data-parallel run's
    `Placement` (its cluster formed once), else a one-process one (which writes)."""
    if config.distribute == "data-parallel":
        return placement_of(config)
    return Placement(config.distribute, None, 1)


def placement_of(config):
    """The `Placement` of a run's `RunConfig` (its strategy, and its cluster if any)."""
    cluster = cluster_of(config) if config.distribute == "data-parallel" else None
    return place(config.distribute, cluster)


# --- a run folder written by process 0 alone ---------------------------------------------

def saving_locally(recorders, placement):
    """`recorders` (process 0's checkpoints and backup) saving with no distribution set:
    Keras' saving creates a throwaway optimizer, whose variables would otherwise be
    distributed, a collective step the other processes never take (it hangs). The
    values saved are the replicated weights, local to every process."""
    if placement.processes == 1:
        return recorders
    for recorder in recorders:
        save = getattr(recorder, "_save_model", None)
        if save is not None:
            recorder._save_model = _without_distribution(save)
    return recorders


def _without_distribution(function):
    def run(*args, **kwargs):
        import keras

        distribution = keras.distribution.distribution()
        keras.distribution.set_distribution(None)
        try:
            return function(*args, **kwargs)
        finally:
            keras.distribution.set_distribution(distribution)

    return run


def read_only_recorders(run_dir):
    """What a process other than process 0 records of a fit: nothing, but on a resume
    it restores the backup of `run_dir` as process 0 does (every process must load the
    same weights)."""
    if run_dir is None:
        return []
    from mlphys.callbacks import ReadOnlyBackup

    return [ReadOnlyBackup(str(run_dir / "backup"))]


@contextmanager
def shared_model_done(model, placement):
    """After a fit of several processes: process 0 takes a local copy of every variable
    (the weights are replicated, so no step of the others is needed) and drops the
    distribution, so that it can save, score and predict alone inside the block; the
    other processes wait here until it has finished."""
    if placement.processes == 1:
        yield
        return
    if placement.writes:
        _localize(model)
    try:
        yield
    finally:
        wait_for_process_0()


def wait_for_process_0():
    """Block every process until all reach here: the others wait while process 0 writes
    the run folder."""
    from jax.experimental import multihost_utils

    multihost_utils.sync_global_devices("mlphys: process 0 wrote the run folder")


def _localize(model):
    """Make `model` a one-device model of this process: its variables (weights, optimizer
    and metric state) hold local copies of their replicated values, laid out nowhere."""
    import jax.numpy as jnp
    import keras
    import numpy as np

    keras.distribution.set_distribution(None)
    optimizer = getattr(model, "optimizer", None)
    variables = {id(v): v for v in [*model.variables, *model.metrics_variables,
                                    *(optimizer.variables if optimizer else [])]}
    for variable in variables.values():
        variable._layout = None
        variable._direct_assign(jnp.asarray(np.asarray(variable.value)))
    model.train_function = model.test_function = model.predict_function = None
