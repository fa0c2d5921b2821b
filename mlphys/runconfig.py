"""`RunConfig`: every setting of a run, one typed object, and its `config.json`.

    config = RunConfig(model="cnn", dataset="digits", epochs=5, seed=1)
    config = config.resolved()            # the model's defaults filled in, checked
    config.write(run_dir)                 # config.json
    RunConfig.read(run_dir)               # the same object back (today's and older layouts)

It is the only thing that travels between the command line, `mlphys.train`, `resume`, a
tuner's trials (in-process, `--isolate` and chief/worker) and `--repeats`: a new training
option is one field here plus one flag in `mlphys.cli.options.training_options`.

The fields above the line are what a user chooses; those below it are what the engine
records about the run (its status, the data it saw, the versions of everything), written
to the same `config.json` so that a run folder says how it was made.
"""

import secrets
import time
from dataclasses import asdict, dataclass, field, fields, replace
from pathlib import Path

from mlphys.distribute import STRATEGIES  # the choices of --distribute, beside their use
from mlphys.errors import UserError
from mlphys.normalization import NORMALIZE

SCHEMA = 2  # config.json layout; 1 is the release of 2026-11-21 (no "schema" key)

# The choices of the options below, spelt once: the CLI's click.Choice reads them too.
PRECISIONS = ("float32", "mixed_float16", "mixed_bfloat16")
AUGMENT_ENGINES = ("generator", "layers")
LR_SCHEDULES = ("constant", "cosine", "plateau")


@dataclass
class RunState:
    """What the engine records about a run as it goes (not chosen by the user)."""

    status: str = "running"  # running, finished, interrupted, diverged (...)
    monitor: str = "val_loss"  # the validation metric best.keras and early stopping follow
    global_batch_size: int | None = None  # batch size x replicas of the strategy
    devices: dict = field(default_factory=lambda: {"strategy": "none", "replicas": 1})
    data: dict = field(default_factory=dict)  # spec, sizes and provenance of the dataset
    parameters: int | None = None  # the model's parameter count
    versions: dict = field(default_factory=dict)
    started: str | None = None
    finished: str | None = None
    epochs_run: int | None = None
    train_seconds: float = 0.0
    resumed: list = field(default_factory=list)  # [{from_epoch, at}] per --resume
    tuning: dict | None = None  # for the best run of a search: its folder, trial, objective
    transfer: dict | None = None  # --init-from/--freeze: layers transferred, not, frozen
    lbfgs: dict | None = None  # the L-BFGS phase: steps asked, iterations, why it stopped


def _default_backend():
    from mlphys.backend import default_backend

    return default_backend()


@dataclass
class RunConfig:
    """Everything a run needs; `None` means "the model's default" where it says so."""

    model: str
    dataset: str | None = None  # registry name or path; None: the model's default dataset
    dataset_options: dict = field(default_factory=dict)  # the loader's options (-o)
    params: dict = field(default_factory=dict)  # the user's hyperparameter values (-p)
    hyperparameters: dict = field(default_factory=dict)  # every value used, once built
    epochs: int | None = None  # None: the model's
    batch_size: int | None = None  # per replica; None: the model's
    val_split: float = 0.1  # held out of the training data when there is no val split
    patience: int | None = None  # early stopping on the monitored metric; None: off
    augment: str | dict | None = None  # preset, file, resolved arguments; "none"; None: the model's
    augment_engine: str | None = None  # ImageDataGenerator.flow or Keras layers; None: the model's
    precision: str = "float32"  # Keras dtype policy
    distribute: str = "none"  # tf.distribute strategy, or Keras' DataParallel on JAX
    backend: str = field(default_factory=_default_backend)  # tensorflow or jax
    coordinator: str | None = None  # data-parallel: HOST:PORT of process 0
    num_processes: int | None = None  # data-parallel: processes in all (None: environment)
    process_id: int | None = None  # data-parallel: this process (None: environment)
    replicas: int = 1  # Monte Carlo replica ensemble members
    steps_per_epoch: int | None = None  # None: the model's (a full pass if it has none)
    lr_schedule: str | None = None  # cosine decay, halve on a plateau; None: the model's
    normalize: str = "auto"  # standardise vector features/targets in the model (auto: tables)
    seed: int | None = None  # None: drawn by `resolved()` and recorded
    command: str | None = None  # the command line that started the run
    models_from: str | None = None  # the plugin file or module that defines the model
    data_dir: str | None = None  # where downloadable datasets are looked for
    figure_formats: tuple | None = None  # png, pdf, svg; None: png (or the command's)
    init_from: str | None = None  # a run whose weights the model starts from
    freeze: str | None = None  # wildcard patterns of layer names kept fixed
    state: RunState = field(default_factory=RunState)

    # --- choosing ---------------------------------------------------------------------

    def resolved(self):
        """A copy with the model's defaults filled in and every option checked, before
        any data is loaded or TensorFlow imported."""
        from mlphys.datasets import get_dataset, looks_like_path
        from mlphys.figures import current_formats, parse_formats
        from mlphys.hparams import resolve_params
        from mlphys.registry import get_model, load_plugin

        from mlphys.backend import check_entry, use_backend

        if self.models_from is None:  # a misfit entry is refused before the backend is set
            check_entry(get_model(self.model), self.backend)
        use_backend(self.backend)  # before anything imports Keras (a plugin may)
        load_plugin(self.models_from)
        entry = get_model(self.model)
        check_entry(entry, self.backend)
        dataset = self.dataset or entry.dataset
        if dataset is None:
            raise UserError(f"model '{self.model}' has no default dataset: give one with "
                            f"--dataset (see 'mlphys info {self.model}')")
        if looks_like_path(dataset):  # absolute, so that evaluate works from anywhere
            dataset = str(Path(dataset).resolve()) if Path(dataset).exists() else dataset
        else:  # refuse a misfit before loading any data
            from mlphys.building import check_compatible

            registered = get_dataset(dataset)
            check_compatible(entry, registered.task, registered.kind, registered.shape,
                             dataset)
        defaults = {"epochs": entry.epochs, "augment": None, "augment_engine": "generator",
                    "lr_schedule": "constant", **entry.defaults_for(dataset)}  # on dataset
        config = replace(
            self, dataset=dataset, params=resolve_params(entry, self.params),
            epochs=defaults["epochs"] if self.epochs is None else self.epochs,
            augment=defaults["augment"] if self.augment is None else self.augment,
            augment_engine=(defaults["augment_engine"] if self.augment_engine is None
                            else self.augment_engine),
            lr_schedule=(defaults["lr_schedule"] if self.lr_schedule is None
                         else self.lr_schedule),
            batch_size=entry.batch_size if self.batch_size is None else self.batch_size,
            steps_per_epoch=(entry.steps_per_epoch if self.steps_per_epoch is None
                             else self.steps_per_epoch),
            seed=secrets.randbelow(2**31) if self.seed is None else self.seed,
            models_from=_absolute_if_file(self.models_from),
            figure_formats=parse_formats(self.figure_formats or current_formats()),
            init_from=(str(Path(self.init_from).resolve()) if self.init_from
                       and Path(self.init_from).exists() else self.init_from),
            state=replace(self.state))
        config.check(entry)
        return config

    def check(self, entry):
        """Refuse values no run can use, in one line each."""
        from mlphys.ensembles import check_replicas

        if self.epochs < 1 or self.batch_size < 1:
            raise UserError(f"--epochs {self.epochs} --batch-size {self.batch_size}: both "
                            "must be >= 1")
        if not 0.0 <= self.val_split < 1.0:
            raise UserError(f"--val-split {self.val_split}: give a fraction in [0, 1)")
        for flag, value, choices in (("--precision", self.precision, PRECISIONS),
                                     ("--augment-engine", self.augment_engine,
                                      AUGMENT_ENGINES),
                                     ("--distribute", self.distribute, STRATEGIES),
                                     ("--lr-schedule", self.lr_schedule, LR_SCHEDULES),
                                     ("--normalize", self.normalize, NORMALIZE)):
            if value not in choices:
                raise UserError(f"{flag} {value}: choose one of {', '.join(choices)}")
        if self.patience is not None and self.patience < 1:
            raise UserError(f"--patience {self.patience}: give at least 1 epoch")
        if self.steps_per_epoch is not None and self.steps_per_epoch < 1:
            raise UserError(f"steps_per_epoch {self.steps_per_epoch}: give at least 1")
        check_replicas(self.replicas, entry)
        from mlphys.distribute import check_distribute

        check_distribute(self)

    @property
    def label(self):
        """The dataset as it appears in folder names: its name, or a file's stem."""
        from mlphys.datasets import dataset_label

        return dataset_label(self.dataset or "data")

    # --- config.json ------------------------------------------------------------------

    def to_json(self):
        """The `config.json` content (the layout of DESIGN.md's run directory)."""
        s = self.state
        augmentation = None
        if self.augment:
            augmentation = {"engine": self.augment_engine, "arguments": self.augment}
        return {
            "schema": SCHEMA,
            "model": self.model, "dataset": self.dataset,
            "dataset_options": self.dataset_options,
            "params": self.params, "hyperparameters": self.hyperparameters,
            "training": {"epochs": self.epochs, "batch_size": self.batch_size,
                         "val_split": self.val_split, "patience": self.patience,
                         "monitor": s.monitor, "precision": self.precision,
                         "distribute": s.devices, "replicas": self.replicas,
                         "steps_per_epoch": self.steps_per_epoch,
                         "global_batch_size": s.global_batch_size,
                         "lr_schedule": self.lr_schedule, "normalize": self.normalize,
                         "backend": self.backend,
                         **{k: v for k, v in (("init_from", self.init_from),
                                              ("freeze", self.freeze)) if v}},
            "seed": self.seed, "command": self.command, "models_from": self.models_from,
            "data_dir": self.data_dir,
            "figure_formats": list(self.figure_formats or ("png",)),
            "data": s.data, "augmentation": augmentation, "parameters": s.parameters,
            "versions": s.versions, "started": s.started, "status": s.status,
            **{k: v for k, v in (("epochs_run", s.epochs_run),
                                 ("train_seconds", s.train_seconds),
                                 ("finished", s.finished), ("resumed", s.resumed),
                                 ("tuning", s.tuning), ("transfer", s.transfer),
                                 ("lbfgs", s.lbfgs)) if v},
        }

    @classmethod
    def from_json(cls, content):
        """A `RunConfig` from `config.json` content, of this layout or the release of
        2026-11-21 (where the best run of a search recorded fewer training keys). The
        one place where missing keys get their defaults."""
        training = content.get("training") or {}
        devices = training.get("distribute")
        if not isinstance(devices, dict):  # an older layout kept just the strategy name
            devices = {"strategy": devices or "none", "replicas": 1}
        augmentation = content.get("augmentation") or {}
        hyperparameters = content.get("hyperparameters") or {}
        state = RunState(
            status=content.get("status", "finished"),
            monitor=training.get("monitor", "val_loss"),
            global_batch_size=training.get("global_batch_size", training.get("batch_size")),
            devices=devices, data=content.get("data") or {},
            parameters=content.get("parameters"), versions=content.get("versions") or {},
            started=content.get("started"), finished=content.get("finished"),
            epochs_run=content.get("epochs_run"),
            train_seconds=content.get("train_seconds") or 0.0,
            resumed=content.get("resumed") or [], tuning=content.get("tuning"),
            transfer=content.get("transfer"), lbfgs=content.get("lbfgs"))
        return cls(
            model=content["model"], dataset=content.get("dataset"),
            dataset_options=content.get("dataset_options") or {},
            # an older run recorded only the resolved values: they are what it fixed
            params=content.get("params", hyperparameters),
            hyperparameters=hyperparameters,
            epochs=training.get("epochs"), batch_size=training.get("batch_size"),
            val_split=training.get("val_split", 0.1), patience=training.get("patience"),
            augment=augmentation.get("arguments"),
            augment_engine=augmentation.get("engine", "generator"),
            precision=training.get("precision", "float32"),
            distribute=devices.get("strategy", "none"),
            backend=training.get("backend", "tensorflow"),  # before 2026-12: TensorFlow
            replicas=training.get("replicas", 1),
            steps_per_epoch=training.get("steps_per_epoch"),
            lr_schedule=training.get("lr_schedule", "constant"),
            # runs made before --normalize existed trained on raw values
            normalize=training.get("normalize", "none"),
            seed=content.get("seed"), command=content.get("command"),
            models_from=content.get("models_from"), data_dir=content.get("data_dir"),
            figure_formats=tuple(content.get("figure_formats") or ("png",)),
            init_from=training.get("init_from"), freeze=training.get("freeze"),
            state=state)

    def write(self, run_dir):
        from mlphys.rundir import write_json

        write_json(Path(run_dir) / "config.json", self.to_json())

    @classmethod
    def read(cls, run_dir):
        """The `RunConfig` of a run folder; a missing or damaged file is a UserError."""
        from mlphys.rundir import read_config

        content = read_config(run_dir)
        if not isinstance(content, dict) or "model" not in content:
            raise UserError(f"{Path(run_dir) / 'config.json'} is not a run's config (it "
                            "names no model); give a folder made by 'mlphys train'")
        return cls.from_json(content)

    def to_dict(self):
        """Plain values (for a trial's settings file); `from_dict` reverses it."""
        return asdict(self)

    @classmethod
    def from_dict(cls, values):
        values = dict(values)
        state = RunState(**values.pop("state", {}))
        known = {f.name for f in fields(cls)}
        return cls(**{k: v for k, v in values.items() if k in known}, state=state)

    def mark(self, status, **state):
        """Record `status` (and other state fields), with the time if it is final."""
        self.state.status = status
        if status != "running":
            self.state.finished = time.strftime("%Y-%m-%dT%H:%M:%S")
        for name, value in state.items():
            setattr(self.state, name, value)


def _absolute_if_file(models_from):
    if models_from and Path(models_from).exists():
        return str(Path(models_from).resolve())
    return models_from
