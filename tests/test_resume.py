"""Survive a kill or Ctrl-C: every run keeps a backup of its last completed epoch and
`mlphys train --resume RUN` continues from there."""

import json
import os
import signal
import subprocess
import sys
import time

import pandas as pd
import pytest

from conftest import assert_user_error

PYTHON = sys.executable
# a small, fast configuration: 64 features of the 8x8 digits, one hidden layer
TRAIN = ["-m", "mlphys", "train", "mlp", "-d", "digits", "-o", "size=8", "-p",
         "hidden_layers=1", "-p", "units=64", "--batch-size", "16", "--seed", "3", "--quiet"]


def _start(tmp_path, epochs):
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="2")
    return subprocess.Popen([PYTHON, *TRAIN, "--epochs", str(epochs), "--out", str(tmp_path)],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)


def _wait_for_epochs(tmp_path, process, n, timeout=120):
    """The run folder once its history.csv has at least `n` epochs."""
    deadline = time.time() + timeout
    while time.time() < deadline:
        runs = list(tmp_path.glob("mlp-digits-*"))
        if runs and (runs[0] / "history.csv").exists():
            rows = (runs[0] / "history.csv").read_text().strip().splitlines()
            if len(rows) - 1 >= n:
                return runs[0], len(rows) - 1
        if process.poll() is not None:
            pytest.fail(f"training ended early: {process.communicate()}")
        time.sleep(0.02)
    process.kill()
    pytest.fail("training did not reach the epochs in time")


def test_resume_after_sigkill_loses_at_most_one_epoch(tmp_path):
    process = _start(tmp_path, epochs=6)
    run, done_at_kill = _wait_for_epochs(tmp_path, process, 2)
    process.send_signal(signal.SIGKILL)
    process.wait(timeout=30)
    assert json.loads((run / "config.json").read_text())["status"] == "running"

    resumed = subprocess.run([PYTHON, "-m", "mlphys", "train", "--resume", str(run), "--quiet"],
                             capture_output=True, text=True, timeout=300)
    assert resumed.returncode == 0, resumed.stderr
    history = pd.read_csv(run / "history.csv")
    assert list(history["epoch"]) == list(range(6))  # every epoch exactly once
    config = json.loads((run / "config.json").read_text())
    assert config["status"] == "finished" and config["epochs_run"] == 6
    assert config["resumed"][0]["from_epoch"] >= done_at_kill - 1  # at most one epoch lost
    assert json.loads((run / "metrics.json").read_text())["accuracy"] > 0.8
    assert not (run / "backup").exists()  # the backup goes once the run has finished


def test_ctrl_c_stops_cleanly_and_says_how_to_resume(tmp_path):
    process = _start(tmp_path, epochs=400)
    run, _ = _wait_for_epochs(tmp_path, process, 1)
    process.send_signal(signal.SIGINT)
    out, err = process.communicate(timeout=60)
    assert process.returncode == 130, err
    assert f"mlphys train --resume {run}" in err
    assert "Traceback" not in err
    config = json.loads((run / "config.json").read_text())
    assert config["status"] == "interrupted"
    assert (run / "backup" / "training_metadata.json").exists()


def test_resume_errors(run_cli, tmp_path):
    assert_user_error(run_cli("train", "--resume", tmp_path / "nope"), "no such run folder")
    (tmp_path / "run").mkdir()
    (tmp_path / "run" / "config.json").write_text(json.dumps(
        {"model": "cnn", "status": "running", "command": "mlphys train cnn"}))
    assert_user_error(run_cli("train", "--resume", tmp_path / "run"), "no backup",
                      "mlphys train cnn")
    (tmp_path / "run" / "config.json").write_text(json.dumps({"model": "cnn", "status": "finished"}))
    assert_user_error(run_cli("train", "--resume", tmp_path / "run"), "nothing to resume")
    assert_user_error(run_cli("train", "cnn", "--resume", tmp_path / "run"), "leave out MODEL")
    assert_user_error(run_cli("train"), "give the MODEL")
