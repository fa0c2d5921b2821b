"""The one fit core: from a `RunConfig`, a `Dataset` and a built model to a fitted model.

    model, augmentation = prepare_model(config, data)
    history = fit(model, data, config, recorders=run_folder_recorders(run_dir, config),
                  callback_dir=run_dir, augmentation=augmentation)

`mlphys train`, `--resume`, every seed of `--repeats` and every trial of `mlphys tune`
go through these two functions, so a one-point search fits exactly what `train` fits:
the same seed before the same build, the same inputs (sample weights 1/sigma^2, epochs of
`steps_per_epoch` cycled batches, augmentation, streamed folders, replica targets), the
same training callbacks (NaN stop, early stopping, learning-rate schedule, the entry's
own), the same L-BFGS phase after the Adam epochs where the run asks for one
(`-p lbfgs_steps=N`, `mlphys.lbfgs`) and the same Ctrl-C handling. What differs is only
what records the fit: a run folder's checkpoints, CSV log, backup and TensorBoard, or a
trial's objective checkpoint and HParams log (`recorders`).
"""

import sys
import threading
from contextlib import contextmanager
from pathlib import Path

import numpy as np

from mlphys.errors import UserError


def prepare_model(config, data, hp=None, *, quiet=False):
    """(model, augmentation): the entry built for `data` as `config` says, seeded, with
    `--init-from` weights and `--freeze` applied (`mlphys.transfer`).

    hp: a `keras_tuner.HyperParameters` to build from (a trial's); None fixes
        `config.params` (or, on resume, every recorded hyperparameter).
    quiet: print nothing of `--init-from` and `--freeze` (a tuner's trials).
    Fills `config.hyperparameters`, the strategy's devices, the global batch size, the
    monitored metric and the resolved augmentation arguments.
    """
    import keras

    from mlphys.building import build_model
    from mlphys.dataspec import looking_in
    from mlphys.distribute import placement_of
    from mlphys.hparams import fixed_hyperparameters
    from mlphys.normalization import resolve_normalize
    from mlphys.registry import get_model

    keras.utils.set_random_seed(config.seed)
    placement = placement_of(config)
    augmentation = resolve_augmentation(config, data)
    config.normalize = resolve_normalize(config.normalize, data, config.dataset)
    if hp is None:
        hp = fixed_hyperparameters(config.hyperparameters or config.params)
    with placement.scope(), dtype_policy(config.precision), looking_in(config.data_dir):
        model, hp = build_model(config.model, data.spec, hp=hp, dataset_name=config.dataset)
        if config.replicas > 1:  # the model above was built only to fill `hp`
            model = _ensemble(get_model(config.model), hp, data, config.replicas,
                              normalize=config.normalize == "on")
        if augmentation:
            from mlphys.augmentation import with_standardisation

            model = with_standardisation(model, augmentation["config"], data.x_train)
        if config.normalize == "on" and config.replicas == 1:  # (members have their own)
            from mlphys.normalization import with_normalization

            model = with_normalization(model, data)
    from mlphys.transfer import apply_transfer

    apply_transfer(model, config, quiet=quiet)
    config.hyperparameters = {k: v for k, v in hp.values.items()
                              if not k.startswith("tuner/")}
    config.state.devices = placement.describe()
    config.state.global_batch_size = config.batch_size * placement.replicas
    config.state.monitor = "val_loss" if len(data.y_val) > 0 else "loss"
    if config.distribute == "data-parallel":
        from mlphys.distribute import check_global_batch

        check_global_batch(data, config)
    return model, augmentation


def fit(model, data, config, *, recorders, callback_dir, augmentation=None,
        initial_epoch=0, quiet=True):
    """`model.fit` as `config` says; returns (Keras History, NaN stop callback).

    recorders: the callbacks that write what the caller keeps (checkpoints, logs).
    callback_dir: the folder the entry's own callbacks draw into (a GAN's samples).
    initial_epoch: where a warm-started trial (Hyperband) or a resumed run continues.
    An entry that declares a second phase (`register_model(fine_tune=...)`) continues
    after `config.epochs` with `fine_tuning_phase`, into the same recorders and History.
    A KeyboardInterrupt (Ctrl-C) leaves after the current batch; the caller handles it.
    """
    from mlphys.callbacks import StopOnNaN, training_callbacks

    x, y, weight, batch, validation = fit_inputs(data, config, augmentation)
    nan_stop = StopOnNaN()
    history = None
    with ctrl_c_stops_after_batch() as stop_after_batch:
        callbacks = [*recorders, nan_stop, *_entry_callbacks(config.model, callback_dir),
                     stop_after_batch]
        lbfgs = _lbfgs_phase(data, config, validation, callbacks)
        validation_batches = _in_order_validation(validation, batch)

        def run(epochs, start, shaping, after_adam=()):
            build_before_tracing(model, x, y, weight)
            return model.fit(
                x, y, epochs=epochs, initial_epoch=start, batch_size=batch,
                sample_weight=weight, steps_per_epoch=config.steps_per_epoch,
                shuffle=y is not None,  # a stream or a tf.data pipeline shuffles itself
                validation_data=validation_batches,
                # the schedule first: it adds the learning rate to the logs that the
                # recorders write; the L-BFGS phase after the early stopping (which
                # restores the best Adam weights) and before the recorders (it drives them)
                callbacks=[*shaping, *after_adam, *callbacks],
                verbose=verbosity(quiet))

        if initial_epoch < config.epochs or _second_phase(config) is None:
            history = run(config.epochs, initial_epoch, training_callbacks(config), lbfgs)
        if nan_stop.epoch is None:
            history = fine_tuning_phase(model, data, config, run, history, recorders,
                                        quiet=quiet, initial_epoch=initial_epoch)
    return history, nan_stop


def _in_order_validation(validation, batch_size):
    """Validation arrays (x, y[, weight]) as the batches Keras would cut them into (of
    fit's batch size, else its default of 32), in one pipeline made once: Keras' adapter
    makes a new one at each fit and a new iterator of it at each epoch, ~25 ms of CPU
    each. A pipeline (a stream, data-parallel batches) or None passes through."""
    if not isinstance(validation, tuple):
        return validation
    from mlphys.streams import in_order

    return in_order(*validation, batch_size=batch_size or 32)


def build_before_tracing(model, x, y=None, weight=None):
    """Create the optimizer's, metrics' and loss's variables from the shapes of the
    training inputs, before `fit` traces its train function.

    On TensorFlow without a distribution strategy Keras leaves them to the first trace of
    the train function, and TensorFlow then traces it a second time (a `tf.function` may
    create variables only in its first trace): for a 2M-parameter U-Net on a CPU that
    second trace is about a third of a short run. Entries with their own training step
    (a GAN's two optimizers, a PINN's residual) build their own; so does Keras under a
    strategy (`mlphys train --distribute`)."""
    import keras

    if (model.optimizer is None or model.optimizer.built
            or type(model).train_step is not keras.Model.train_step
            or getattr(model, "_distribute_strategy", None) is not None):
        return
    if weight is not None and np.ndim(weight) > 1:  # a replica ensemble's per-member
        return  # weights: Keras matches them to the loss only in the real step
    if isinstance(x, np.ndarray) and isinstance(y, np.ndarray):
        batch = (x[:2], y[:2]) if weight is None else (x[:2], y[:2], weight[:2])
    elif hasattr(x, "element_spec") and y is None:  # a tf.data pipeline
        batch = x.element_spec
    else:  # a Python generator (augmentation's ImageDataGenerator): the first trace does it
        return
    model._symbolic_build(data_batch=batch)  # what Keras itself does under a strategy


def _lbfgs_phase(data, config, validation, callbacks):
    """[the L-BFGS phase (mlphys.lbfgs)] if the run asks for one, else []."""
    from mlphys.lbfgs import BLOCK, LbfgsPhase, Phase, lbfgs_steps

    steps = lbfgs_steps(config)
    if not steps:
        return []
    if not isinstance(data.x_train, np.ndarray):
        raise UserError("lbfgs_steps needs the training data in memory: leave out --stream")
    phase = Phase(steps, config.steps_per_epoch or BLOCK, config.epochs,
                  schedule_logged=config.lr_schedule in ("cosine", "plateau"))
    config.state.lbfgs = {"steps": steps}
    return [LbfgsPhase(phase, (data.x_train, data.y_train, data.sample_weight("train")),
                       validation, callbacks, config.state.lbfgs)]


# --- a second phase: a pretrained backbone's fine-tuning ---------------------------------

def _second_phase(config):
    from mlphys.registry import get_model

    declared = get_model(config.model).fine_tune
    return declared(config.hyperparameters) if declared is not None else None


def fine_tuning_phase(model, data, config, run, history, recorders, *, quiet,
                      initial_epoch=0):
    """After `config.epochs`, the entry's declared second phase (the keras-io transfer
    learning recipe): `phase.prepare(model)` unfreezes layers (`--freeze` still holds),
    the model is recompiled at the phase's learning rate and fitted `phase.epochs` more
    epochs by `run(epochs, initial_epoch, shaping_callbacks)`, appending to the same CSV
    logs, checkpoints and backup (a resumed run continues in whichever phase it stopped).
    Returns `history` with the phase's epochs appended (the phase's History if None)."""
    from dataclasses import replace

    import keras

    from mlphys.building import compile_for_task
    from mlphys.callbacks import training_callbacks
    from mlphys.hparams import fixed_hyperparameters
    from mlphys.transfer import freeze_layers, trainable_parameters

    phase = _second_phase(config)
    if phase is None:
        return history
    done = phase.prepare(model)
    if config.freeze:
        freeze_layers(model, config.freeze)
    compile_for_task(model, fixed_hyperparameters(
        {**config.hyperparameters, "learning_rate": phase.learning_rate}), data.spec)
    if not quiet:
        print(f"fine-tuning: {done}; {trainable_parameters(model):,} trainable parameters, "
              f"learning rate {phase.learning_rate:g}, epochs {config.epochs + 1}-"
              f"{config.epochs + phase.epochs}", flush=True)
    for recorder in recorders:
        if isinstance(recorder, keras.callbacks.CSVLogger):
            recorder.append = True  # the head phase's rows stay
    model._initial_epoch = None  # set by a BackupAndRestore of the head phase
    second = run(config.epochs + phase.epochs, max(config.epochs, initial_epoch),
                 training_callbacks(replace(config, lr_schedule="constant")))
    if history is None:
        return second
    for key, values in second.history.items():
        history.history.setdefault(key, []).extend(values)
    history.epoch += second.epoch
    return history


def fit_inputs(data, config, augmentation=None):
    """(x, y, sample_weight, batch_size, validation_data) for `Model.fit`.

    Sample weights are 1/sigma^2 where the data give uncertainties (the loss is chi^2/N);
    replica ensembles train member k on its own fluctuated targets; with
    `steps_per_epoch` the training set is cycled as shuffled batches without end."""
    from mlphys.streams import keras_inputs

    batch_size = config.state.global_batch_size or config.batch_size
    x, y, batch = keras_inputs(data.x_train, data.y_train, batch_size, config.seed)
    if augmentation:
        from mlphys.augmentation import augmented_batches, transforms_only

        x = augmented_batches(transforms_only(augmentation["config"]), data.x_train,
                              data.y_train, batch_size, augmentation["engine"], config.seed)
        y = batch = None
    weight = data.sample_weight("train") if y is not None else None
    validation = None
    if len(data.y_val) > 0:
        val_x, val_y, _ = keras_inputs(data.x_val, data.y_val, batch_size)
        validation = val_x if val_y is None else (val_x, val_y)
        if val_y is not None and data.sample_weight("val") is not None:
            validation = (val_x, val_y, data.sample_weight("val"))  # chi^2 / N
    if config.replicas > 1:
        from mlphys.ensembles import replica_targets

        y = replica_targets(data, config.replicas, config.seed)
        if weight is not None:  # one weight per sample and member
            weight = np.repeat(weight[:, None], config.replicas, axis=1)
    if config.distribute == "data-parallel":  # tf.data of whole global batches
        from mlphys.distribute import data_parallel_inputs

        return data_parallel_inputs(x, y, weight, batch_size, validation, config)
    if config.steps_per_epoch and y is not None:
        x, y, weight, batch = _repeating(x, y, weight, batch, config.seed), None, None, None
    return x, y, weight, batch, validation


def _repeating(x, y, weight, batch_size, seed):
    """Shuffled batches of (x, y[, weight]) without end, for epochs of a fixed number of
    steps (`steps_per_epoch`): full-batch problems take thousands of optimisation steps,
    and checkpoints and logs then come once per epoch, not once per step."""
    import tensorflow as tf

    items = (x, y) if weight is None else (x, y, weight)
    pipeline = tf.data.Dataset.from_tensor_slices(items)
    if batch_size < len(x):
        pipeline = pipeline.shuffle(len(x), seed=seed, reshuffle_each_iteration=True)
    return pipeline.batch(min(batch_size, len(x))).repeat().prefetch(tf.data.AUTOTUNE)


def resolve_augmentation(config, data):
    """The run's augmentation ({engine, arguments, config}) or None; stores the resolved
    arguments in `config.augment`, so that config.json reproduces them exactly."""
    if not config.augment or config.augment == "none":  # "none": not the entry's default
        config.augment = None
        return None
    from mlphys.augmentation import changed, resolve
    if data.spec.kind != "image":
        raise UserError(f"--augment transforms images, but '{config.dataset}' holds "
                        f"{data.spec.kind} data")
    if not isinstance(data.x_train, np.ndarray):  # streamed from disk
        raise UserError("--augment does not work with --stream yet: train the folder in "
                        "memory (without --stream) to augment it")
    resolved = (resolve(None, config.augment) if isinstance(config.augment, dict)
                else resolve(config.augment))
    config.augment = changed(resolved)
    return {"engine": config.augment_engine, "arguments": config.augment,
            "config": resolved}


def _ensemble(entry, hp, data, replicas, normalize=False):
    """`replicas` copies of the model (fresh initial weights each), compiled as one;
    with `normalize`, each member standardises its own inputs and outputs, so that every
    member's outputs are in the targets' units.

    The members are built afresh, uncompiled: a compiled member would carry an optimizer
    of its own into the saved ensemble."""
    from mlphys.building import compile_for_task
    from mlphys.ensembles import ensemble_of
    from mlphys.normalization import normalized

    members = [entry.builder(hp, data.spec) for _ in range(replicas)]
    if normalize:
        members = [normalized(member, data) for member in members]
    model = ensemble_of(members)
    compile_for_task(model, hp, data.spec)
    return model


def _entry_callbacks(model_name, folder):
    """The model entry's own callbacks for this fit (`register_model(callbacks=...)`);
    `folder` None: a data-parallel process that writes nothing."""
    from mlphys.registry import get_model

    make = get_model(model_name).callbacks
    if make is None:
        return []
    return list(make(Path(folder) if folder is not None else None))


@contextmanager
def dtype_policy(precision):
    """Build layers under Keras' dtype policy `precision` (compute in float16/bfloat16,
    variables in float32), restoring the previous policy afterwards."""
    import keras

    previous = keras.config.dtype_policy()
    keras.config.set_dtype_policy(precision)
    try:
        yield
    finally:
        keras.config.set_dtype_policy(previous)


@contextmanager
def ctrl_c_stops_after_batch():
    """Yield a callback that ends `fit` at the end of the batch during which Ctrl-C was
    pressed (a second Ctrl-C stops at once). The backup of the last completed epoch stays."""
    import signal

    from mlphys.callbacks import StopAfterBatch

    stop = StopAfterBatch()
    if threading.current_thread() is not threading.main_thread():
        yield stop
        return

    def handler(signum, frame):
        stop.pressed.set()
        signal.signal(signal.SIGINT, previous)

    previous = signal.signal(signal.SIGINT, handler)
    try:
        yield stop
    finally:
        signal.signal(signal.SIGINT, previous)


def verbosity(quiet):
    """Keras' progress bar in a terminal, one line per epoch in a log file, or nothing."""
    if quiet:
        return 0
    return 1 if sys.stdout.isatty() else 2
