"""tf.distribute: mirrored training on two logical CPU devices, and clear refusals."""

import json
import subprocess
import sys

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
                              tmp_path), "multiworker", "keras-team/keras#20585", "mirrored")
