"""tf.distribute: mirrored training on two logical CPU devices, clear refusals, and the
two-worker MultiWorkerMirroredStrategy fit that Keras cannot do yet (expected to fail).
(JAX's data-parallel training across processes: tests/test_jax.py.)"""

import json
import socket
import subprocess
import sys

import pytest

from conftest import assert_user_error

MIRRORED = """
import json, sys
import tensorflow as tf
cpu = tf.config.list_physical_devices("CPU")[0]
tf.config.set_logical_device_configuration(cpu, [tf.config.LogicalDeviceConfiguration()] * 2)
import mlphys
result = mlphys.train("mlp", "digits", {"units": 32}, dataset_options={"size": 8}, epochs=3,
                      seed=0, out=sys.argv[1], quiet=True, distribute="mirrored",
                      batch_size=16)
print(json.dumps(result.summary()))
"""


def test_mirrored_trains_with_two_replicas_on_two_logical_cpus(tmp_path):
    out = subprocess.run([sys.executable, "-c", MIRRORED, str(tmp_path)], capture_output=True,
                         text=True, timeout=300)
    assert out.returncode == 0, out.stderr[-3000:]
    result = json.loads(out.stdout.strip().splitlines()[-1])
    config = json.loads(open(f"{result['run_dir']}/config.json").read())
    assert config["training"]["distribute"] == {"strategy": "mirrored", "replicas": 2}
    assert config["training"]["global_batch_size"] == 32
    assert result["metrics"]["accuracy"] > 0.3  # 10 classes: chance is 0.1


def test_multiworker_is_refused_with_the_reason(run_cli, tmp_path):
    assert_user_error(run_cli("train", "mlp", "--distribute", "multiworker", "--out",
                              tmp_path), "multiworker", "keras-team/keras#20585",
                      "--backend jax --distribute data-parallel", "mirrored")


# Two TensorFlow workers on 127.0.0.1, past the refusal (mlphys.distribute.place still
# builds MultiWorkerMirroredStrategy from TF_CONFIG): today `fit` fails before its first
# step ("... PerReplica ... to a Tensor"); the day Keras fixes it, this test passes, and
# strict xfail turns that into a failure that says the refusal can go.
MULTIWORKER = """
import json, os, sys
index, ports, out = int(sys.argv[1]), sys.argv[2].split(","), sys.argv[3]
os.environ["TF_CONFIG"] = json.dumps({"cluster": {"worker": [f"127.0.0.1:{p}" for p in ports]},
                                      "task": {"type": "worker", "index": index}})
from dataclasses import replace
from mlphys.runconfig import RunConfig
from mlphys.training import train_config
config = RunConfig("mlp", "digits", dataset_options={"size": 8}, params={"units": 16},
                   epochs=1, seed=0, backend="tensorflow").resolved()
run = train_config(replace(config, distribute="multiworker"), out=out, quiet=True)
print(json.dumps(run.summary()))
"""


@pytest.mark.xfail(strict=True, reason="keras-team/keras#20585: Keras 3 cannot fit under "
                   "MultiWorkerMirroredStrategy")
def test_two_tensorflow_workers_fit_under_multiworker_mirrored(tmp_path):
    ports = []
    for _ in range(2):
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            ports.append(str(s.getsockname()[1]))
    workers = [subprocess.Popen([sys.executable, "-c", MULTIWORKER, str(i), ",".join(ports),
                                 str(tmp_path / f"worker{i}")], stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE, text=True) for i in (0, 1)]
    try:
        done = [w.communicate(timeout=180) for w in workers]
    finally:
        for w in workers:
            w.kill()
    assert all(w.returncode == 0 for w in workers), done[0][1][-2000:]
    assert json.loads(done[0][0].strip().splitlines()[-1])["status"] == "finished"
