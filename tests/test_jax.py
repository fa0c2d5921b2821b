"""The JAX backend: one process (train, evaluate, refusals), and data-parallel training
across two processes on 127.0.0.1 (Keras' distribution API, JAX's gloo CPU collectives).

This test process has imported Keras on TensorFlow, so JAX runs in subprocesses, each
doing several things to pay its start-up once.
"""

import json
import os
import socket
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from conftest import assert_user_error

pytest.importorskip("jax")

# mlp on 8x8 digits, the cnn on 12x12 (its digits defaults: augmentation layers, cosine);
# logreg, one Dense layer of the mlp's, is left out for time
ENTRIES = {"mlp": ({"units": 32}, 8), "cnn": ({"filters": 8, "dense_units": 32}, 12)}

ONE_PROCESS = """
import json, sys
import mlphys
from mlphys.errors import UserError
from mlphys.evaluation import evaluate
out, entries = sys.argv[1], json.loads(sys.argv[2])
result = {}
for name, (params, size) in entries.items():
    run = mlphys.train(name, "digits", params, dataset_options={"size": size}, epochs=1,
                       seed=0, out=out, quiet=True, backend="jax")
    again = evaluate(run.path, draw=False)["metrics"]
    result[name] = {"path": str(run.path), "metrics": run.metrics, "again": again}
import keras
result["keras_backend"] = keras.backend.backend()
for name, backend in (("vae", "jax"), ("mlp", "tensorflow")):
    try:
        mlphys.train(name, "digits", epochs=1, out=out, quiet=True, backend=backend)
    except UserError as error:
        result[f"refused {name} on {backend}"] = str(error)
# the references of the two-process runs: one process, one epoch, the same global batch
for name in ("mlp", "cnn"):
    params, size = entries[name]
    run = mlphys.train(name, "digits", params, dataset_options={"size": size}, epochs=1,
                       seed=0, out=out + "/one", quiet=True, backend="jax",
                       distribute="data-parallel", batch_size=32, augment="none")
    result[f"{name} data-parallel"] = str(run.path)
print(json.dumps(result))
"""


# The runs here are a few dozen steps of tiny models, and XLA's compilations were most of
# their CPU: without its backend optimisations the one-process subprocess took 55 s of
# CPU instead of 97 s. The two-process and one-process losses compared below are both
# computed under these flags (and TensorFlow scores a JAX run as JAX does, to 1e-4).
JAX_ENV = {**os.environ, "XLA_FLAGS": " ".join(
    [os.environ.get("XLA_FLAGS", ""), "--xla_backend_optimization_level=0"]).strip()}


def _run(code, *args, timeout=300, cwd=None):
    return subprocess.run([sys.executable, "-c", code, *map(str, args)], capture_output=True,
                          text=True, timeout=timeout, env=JAX_ENV, cwd=cwd)


def _last_json(completed):
    assert completed.returncode == 0, completed.stderr[-3000:]
    return json.loads(completed.stdout.strip().splitlines()[-1])


@pytest.fixture(scope="module")
def jax_runs(tmp_path_factory):
    out = tmp_path_factory.mktemp("jax-runs")
    return _last_json(_run(ONE_PROCESS, out, json.dumps(ENTRIES)))


def test_jax_trains_and_evaluates_the_plain_entries(jax_runs):
    assert jax_runs["keras_backend"] == "jax"
    for name in ENTRIES:
        run = jax_runs[name]
        config = json.loads((Path(run["path"]) / "config.json").read_text())
        assert config["training"]["backend"] == "jax" and "jax" in config["versions"]
        assert run["metrics"]["accuracy"] > 0.3, (name, run["metrics"])  # chance: 0.1
        # evaluate reopens model.keras (on the recorded backend) and scores the same
        assert abs(run["again"]["loss"] - run["metrics"]["loss"]) < 1e-5, name
        assert run["again"]["accuracy"] == run["metrics"]["accuracy"], name
    # a TF-only entry, and a backend other than the one Keras was imported with
    assert "tensorflow" in jax_runs["refused vae on jax"]
    assert "KERAS_BACKEND=tensorflow before importing" in jax_runs[
        "refused mlp on tensorflow"]


def test_a_jax_run_opens_under_tensorflow_for_evaluate_and_saliency(jax_runs, run_cli,
                                                                    tmp_path):
    import keras

    from mlphys.evaluation import evaluate

    assert keras.backend.backend() == "tensorflow"  # this test process
    cnn = jax_runs["cnn"]
    metrics = evaluate(cnn["path"], draw=False)["metrics"]
    assert abs(metrics["loss"] - cnn["metrics"]["loss"]) < 1e-4
    result = run_cli("saliency", cnn["path"], "--method", "gradcam", "--n", "2", "--out",
                     tmp_path / "maps", "--json")
    assert result.exit_code == 0, result.output
    maps = np.load(tmp_path / "maps" / "maps.npz")["gradcam"]
    assert maps.shape == (2, 12, 12) and np.isfinite(maps).all() and maps.max() > 0


def test_refusals_on_the_command_line_are_one_line(run_cli, tmp_path, monkeypatch):
    assert_user_error(run_cli("train", "vae", "--backend", "jax", "--out", tmp_path),
                      "vae", "tensorflow", "--backend jax")
    assert_user_error(run_cli("train", "mlp", "--distribute", "data-parallel", "--out",
                              tmp_path), "data-parallel", "--backend jax")
    assert_user_error(run_cli("train", "mlp", "--coordinator", "node0:1234", "--out",
                              tmp_path), "--coordinator", "data-parallel")
    import importlib.util

    find_spec = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec",
                        lambda name, *a: None if name == "jax" else find_spec(name, *a))
    result = run_cli("train", "mlp", "--backend", "jax", "--out", tmp_path)
    assert_user_error(result)
    assert result.output.strip() == ("Error: --backend jax needs JAX: pip install "
                                     "'mlphys[jax]'")
    assert not any(tmp_path.iterdir())


def test_the_cluster_comes_from_flags_keras_variables_or_slurm(monkeypatch):
    from mlphys.distribute import Cluster, cluster_of
    from mlphys.runconfig import RunConfig

    config = RunConfig("mlp", distribute="data-parallel", backend="jax")
    for name in ("KERAS_DISTRIBUTION_JOB_ADDRESSES", "KERAS_DISTRIBUTION_NUM_PROCESSES",
                 "KERAS_DISTRIBUTION_PROCESS_ID", "SLURM_NODELIST", "SLURM_JOB_NODELIST",
                 "SLURM_NTASKS", "SLURM_PROCID"):
        monkeypatch.delenv(name, raising=False)
    assert cluster_of(config) == Cluster(None, 1, 0)
    monkeypatch.setenv("SLURM_NODELIST", "gpu[03-06,09],cpu1")
    monkeypatch.setenv("SLURM_NTASKS", "4")
    monkeypatch.setenv("SLURM_PROCID", "2")
    assert cluster_of(config) == Cluster("gpu03:12321", 4, 2)
    monkeypatch.setenv("KERAS_DISTRIBUTION_JOB_ADDRESSES", "10.0.0.1:1234,10.0.0.2:2345")
    monkeypatch.setenv("KERAS_DISTRIBUTION_NUM_PROCESSES", "2")
    monkeypatch.setenv("KERAS_DISTRIBUTION_PROCESS_ID", "1")
    assert cluster_of(config) == Cluster("10.0.0.1:1234", 2, 1)
    config.coordinator, config.process_id = "node0:99", 0
    assert cluster_of(config) == Cluster("node0:99", 2, 0)


# --- two processes on 127.0.0.1 ----------------------------------------------------------

PLUGIN = '''
"""mlp, stopped (as by Ctrl-C) at the end of its first epoch of a fresh run."""
from mlphys.models.mlp import mlp
from mlphys.registry import register_model


def _stop_after_first_epoch(run_dir):
    import keras

    class Stop(keras.callbacks.Callback):
        def on_epoch_end(self, epoch, logs=None):
            if epoch == 0:
                raise KeyboardInterrupt

    return [Stop()]


register_model("mlp_stopped", task="any", inputs="any", dataset="digits", epochs=2,
               callbacks=_stop_after_first_epoch)(mlp)
'''

DATA_PARALLEL = """
import json, sys
import mlphys
from mlphys.errors import Interrupted
from mlphys.training import resume
process, port, out, entries, plugin = (int(sys.argv[1]), sys.argv[2], sys.argv[3],
                                       json.loads(sys.argv[4]), sys.argv[5])
cluster = {"coordinator": f"127.0.0.1:{port}", "num_processes": 2, "process_id": process}
result = {}
for name, (params, size) in entries.items():  # (augmentation off: see the test)
    run = mlphys.train(name, "digits", params, dataset_options={"size": size}, epochs=2,
                       seed=0, out=out, quiet=True, backend="jax", distribute="data-parallel",
                       batch_size=16, augment="none", **cluster)
    result[name] = run and str(run.path)
# the mlp: stopped after epoch 1 of 2 in both processes, then resumed by both
try:
    mlphys.train("mlp_stopped", "digits", {"units": 32}, dataset_options={"size": 8},
                 seed=0, out=out + "/stopped", quiet=True, backend="jax",
                 distribute="data-parallel", batch_size=16, models_from=plugin,
                 **cluster)
except Interrupted:
    pass
from jax.experimental import multihost_utils
multihost_utils.sync_global_devices("process 0 wrote config.json")
stopped, = __import__("pathlib").Path(sys.argv[6]).glob("stopped/mlp_stopped-*")
run = resume(stopped, quiet=True, **cluster)
result["resumed"] = run and str(run.path)
print(json.dumps(result))
"""


def _free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _layout(run_dir):
    """The names in a run folder and in its logs/ (TensorBoard's event files aside)."""
    run_dir = Path(run_dir)
    return sorted([p.name for p in run_dir.iterdir()] +
                  [f"logs/{p.name}" for p in (run_dir / "logs").iterdir()])


def _history(run_dir):
    import pandas as pd

    return pd.read_csv(Path(run_dir) / "history.csv")


def test_two_processes_train_as_one_on_the_same_global_batch(jax_runs, tmp_path):
    """The cnn trains without its digits augmentation here: with it, the first epoch's
    loss of two processes differed from one process's by 7e-3 (not yet understood: the
    augmentation pipeline is seeded the same in every process)."""
    entries = {"cnn": ENTRIES["cnn"]}  # the mlp's two epochs: stopped, then resumed
    plugin = tmp_path / "stopped_model.py"
    plugin.write_text(PLUGIN)
    port, outs = _free_port(), [tmp_path / "p0", tmp_path / "p1"]
    for folder in outs:
        folder.mkdir()
    env = {**JAX_ENV, "MLPHYS_DATA_DIR": os.environ["MLPHYS_DATA_DIR"]}
    args = [json.dumps(entries), plugin, outs[0] / "runs"]
    workers = [subprocess.Popen([sys.executable, "-c", DATA_PARALLEL, str(i), str(port),
                                 str(outs[i] / "runs"), *map(str, args)], cwd=outs[i],
                                env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                text=True) for i in (0, 1)]
    done = [w.communicate(timeout=400) for w in workers]
    for worker, (stdout, stderr) in zip(workers, done):
        assert worker.returncode == 0, stderr[-3000:]
    two = [json.loads(stdout.strip().splitlines()[-1]) for stdout, _ in done]
    one = {name: jax_runs[f"{name} data-parallel"] for name in ("mlp", "cnn")}
    assert two[1] == {"cnn": None, "resumed": None}
    assert [p.name for p in outs[1].iterdir()] == []  # process 1 wrote nothing at all
    for name, key in (("cnn", "cnn"), ("mlp", "resumed")):
        run_dir = Path(two[0][key])
        assert _layout(run_dir) == _layout(one[name])
        config = json.loads((run_dir / "config.json").read_text())
        assert config["status"] == "finished" and config["epochs_run"] == 2
        assert config["training"]["global_batch_size"] == 32
        assert config["training"]["distribute"] == {
            "strategy": "data-parallel", "replicas": 2, "processes": 2,
            "coordinator": f"127.0.0.1:{port}"}
        both, alone = _history(run_dir), _history(one[name])
        assert len(both) == 2
        assert abs(both["loss"][0] - alone["loss"][0]) < 1e-5, (name, both, alone)
        metrics = json.loads((run_dir / "metrics.json").read_text())
        assert metrics["accuracy"] > 0.3, (name, metrics)
    resumed = Path(two[0]["resumed"])
    config = json.loads((resumed / "config.json").read_text())
    assert config["status"] == "finished" and len(_history(resumed)) == 2
    assert config["resumed"][0]["from_epoch"] == 1 and not (resumed / "backup").exists()
