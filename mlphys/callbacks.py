"""The engine's Keras callbacks (imported lazily: this module imports Keras).

- `StopOnNaN`: Keras' `TerminateOnNaN`, remembering the epoch and the loss (a stopped
  epoch logs nothing, and a run or trial says where it diverged).
- `EpochScalars`: Keras' TensorBoard callback, scalars per epoch, no per-batch calls.
- `StopAfterBatch`: ends `fit` after the batch during which Ctrl-C was pressed.
- `run_folder_recorders`: what `mlphys train` keeps of a fit (best checkpoint, CSV log,
  backup for `--resume`, TensorBoard scalars).
- `ReadOnlyBackup`: the backup restored, never written (a data-parallel process other than
  process 0, on `--resume`).
- `training_callbacks`: the callbacks that change the fit itself (early stopping, the
  learning-rate schedule); a tuner's trial gets exactly the same ones as `train`.
"""

import math
import threading

import keras


class StopOnNaN(keras.callbacks.Callback):
    """Stop training at the first batch whose loss is NaN or infinite."""

    def __init__(self):
        super().__init__()
        self.epoch = self.loss = None
        self.current = 0

    def on_epoch_begin(self, epoch, logs=None):
        self.current = epoch + 1

    def on_train_batch_end(self, batch, logs=None):
        loss = (logs or {}).get("loss")
        if loss is not None and not math.isfinite(float(loss)):
            self.epoch, self.loss = self.current, float(loss)
            self.model.stop_training = True


class EpochScalars(keras.callbacks.TensorBoard):
    """Keras' TensorBoard callback for scalars once per epoch (its `update_freq="epoch"`),
    without its calls after every batch: Keras calls `summary.scalar` for each logged
    value after each batch even then, with no writer set to record them. They wrote
    nothing and took 25 s of the test suite's CPU (py-spy). The graph and profiler,
    when asked for, are written as Keras writes them."""

    def on_train_batch_end(self, batch, logs=None):
        if (self.update_freq != "epoch" or self.write_steps_per_second
                or self._should_write_train_graph or self._should_trace):
            super().on_train_batch_end(batch, logs)


class StopAfterBatch(keras.callbacks.Callback):
    """Raise KeyboardInterrupt after the batch during which `pressed` was set."""

    def __init__(self):
        super().__init__()
        self.pressed = threading.Event()

    def on_train_batch_end(self, batch, logs=None):
        if self.pressed.is_set():
            raise KeyboardInterrupt


class CosineDecay(keras.callbacks.Callback):
    """The learning rate follows half a cosine from its initial value to 0 over the run's
    epochs (Loshchilov and Hutter's SGDR without restarts), set at each epoch's start."""

    def __init__(self, epochs):
        super().__init__()
        self.epochs = epochs
        self.initial = None

    def on_train_begin(self, logs=None):
        if self.initial is None:
            self.initial = float(keras.ops.convert_to_numpy(
                self.model.optimizer.learning_rate))

    def on_epoch_begin(self, epoch, logs=None):
        rate = 0.5 * self.initial * (1 + math.cos(math.pi * epoch / self.epochs))
        self.model.optimizer.learning_rate = rate

    def on_epoch_end(self, epoch, logs=None):
        if logs is not None:  # into history.csv, as Keras' LearningRateScheduler does
            logs["learning_rate"] = float(keras.ops.convert_to_numpy(
                self.model.optimizer.learning_rate))


def training_callbacks(config):
    """Callbacks that shape the fit: early stopping and the learning-rate schedule."""
    monitor = config.state.monitor
    callbacks = []
    if config.lr_schedule == "cosine":
        callbacks.append(CosineDecay(config.epochs))
    elif config.lr_schedule == "plateau":  # halve after 2 epochs without improvement
        callbacks.append(keras.callbacks.ReduceLROnPlateau(monitor=monitor, factor=0.5,
                                                           patience=2, verbose=0))
    if config.patience is not None:
        callbacks.append(keras.callbacks.EarlyStopping(
            monitor=monitor, patience=config.patience, restore_best_weights=True))
    return callbacks


class ReadOnlyBackup(keras.callbacks.BackupAndRestore):
    """`BackupAndRestore` that restores the backup of `backup_dir` (if any) and never
    writes or deletes it: a data-parallel process other than process 0 on `--resume`."""

    def __init__(self, backup_dir):
        super().__init__(backup_dir, delete_checkpoint=False)

    def _save_model(self):
        """Writes nothing: process 0 keeps the backup."""


def run_folder_recorders(run_dir, monitor, best_so_far=None):
    """Checkpoints, logs and the backup that `--resume` continues from.

    best_so_far: on a resumed run, the best monitored value of the epochs already done, so
        that best.keras is only replaced by a better epoch.
    """
    return [
        keras.callbacks.ModelCheckpoint(run_dir / "best.keras", monitor=monitor,
                                        save_best_only=True,
                                        initial_value_threshold=best_so_far),
        keras.callbacks.CSVLogger(str(run_dir / "history.csv"),
                                  append=best_so_far is not None),
        # after the CSV row: a kill between the two repeats that epoch, and resume()
        # drops its row first, so history.csv ends with every epoch exactly once
        keras.callbacks.BackupAndRestore(str(run_dir / "backup"), double_checkpoint=True),
        # scalars per epoch; the graph is left out: writing it took ~0.25 s of every run
        # (cnn on digits) and shows little that `mlphys info --shape` does not
        EpochScalars(log_dir=str(run_dir / "logs"), write_graph=False),
    ]
