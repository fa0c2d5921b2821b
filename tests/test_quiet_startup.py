"""A clean terminal (issue 13): no line of TensorFlow's, absl's or CUDA's start-up log.

The few subprocess tests see the real stderr of a fresh process, where that log is
written (CUDA_VISIBLE_DEVICES=-1 makes any machine a CPU-only one); the rest checks the
mechanism of `mlphys.quiet` in this process with a fake TensorFlow.
"""

import os
import subprocess
import sys
import textwrap
import types

import pytest

from mlphys import quiet
from mlphys.errors import UserError

PYTHON = sys.executable
MLPHYS = [PYTHON, "-m", "mlphys"]
NOISE = ("absl::InitializeLog", "cuda", "oneDNN", "cuInit", "cpu_feature_guard", "I0000",
         "E0000", "W0000", "TF_ENABLE_ONEDNN_OPTS", "Warning", "WARNING")


def _run(args, tmp_path, **env):
    environment = {k: v for k, v in os.environ.items()
                   if k not in ("TF_CPP_MIN_LOG_LEVEL", "MLPHYS_VERBOSE")}
    environment.update(CUDA_VISIBLE_DEVICES="-1", **env)
    return subprocess.run(args, capture_output=True, text=True, cwd=tmp_path,
                          env=environment, timeout=300)


def _assert_no_noise(stderr):
    noisy = [line for line in stderr.splitlines() if any(n in line for n in NOISE)]
    assert not noisy, stderr


def test_train_prints_nothing_on_stderr(tmp_path):
    trained = _run([*MLPHYS, "train", "logreg", "-d", "iris", "--epochs", "1", "--seed", "1",
                    "-q", "--out", "runs"], tmp_path)
    assert trained.returncode == 0, trained.stderr
    _assert_no_noise(trained.stderr)
    assert trained.stderr == ""
    assert len(list((tmp_path / "runs").iterdir())) == 1


def test_an_isolated_trial_process_installs_the_hook(monkeypatch, tmp_path):
    """`tune --isolate` runs `python -m mlphys.trial`: its stderr is the reason shown for
    a failed trial, so it must hold the failure, not TensorFlow's start-up log."""
    import json

    import mlphys.trial
    from mlphys.runconfig import RunConfig

    calls = []
    monkeypatch.setattr(quiet, "install", lambda: calls.append("install"))
    monkeypatch.setattr(mlphys.trial, "run_trial", lambda plan: calls.append(plan))
    plan = mlphys.trial.TrialPlan(run=RunConfig(model="mlp"), hyperparameters={}, seeds=[0],
                                  objective="loss", direction="min", trial_id="0",
                                  trial_dir=str(tmp_path), log_dir=str(tmp_path))
    (tmp_path / "settings.json").write_text(json.dumps(plan.to_dict()))
    mlphys.trial.main(["trial", str(tmp_path / "settings.json")])
    assert calls == ["install", plan]


def test_an_error_after_tensorflow_is_imported_is_one_line(tmp_path):
    plugin = tmp_path / "plugin.py"
    plugin.write_text(textwrap.dedent('''
        from mlphys import register_model

        HIGH = 0.9

        @register_model("quiet_dyn", task="classification", inputs="any", dataset="iris",
                        source="a test")
        def quiet_dyn(hp, spec):
            """Dropout at a rate whose range the source reader cannot see."""
            import keras
            inputs = keras.Input(spec.input_shape)
            x = keras.layers.Dropout(hp.Float("rate", 0.0, HIGH, default=0.1))(inputs)
            return keras.Model(inputs, keras.layers.Dense(spec.num_outputs)(x))
    '''))
    failed = _run([*MLPHYS, "train", "quiet_dyn", "-p", "rate=5", "--models-from",
                   str(plugin), "--out", "runs"], tmp_path)
    assert failed.returncode == 2
    lines = failed.stderr.splitlines()
    assert len(lines) == 1 and lines[0].startswith("Error: Keras cannot build"), failed.stderr
    assert not (tmp_path / "runs").exists() or not any((tmp_path / "runs").iterdir())


def test_the_python_api_is_quiet(tmp_path):
    code = ("import mlphys; r = mlphys.train('logreg', 'iris', epochs=1, seed=1, "
            "quiet=True, out='runs'); import gc; print(gc.get_freeze_count())")
    api = _run([PYTHON, "-c", code], tmp_path)
    assert api.returncode == 0, api.stderr
    assert api.stderr == ""
    # TensorFlow's import-time objects are out of the collector's way (mlphys.quiet)
    assert int(api.stdout.split()[-1]) > 100_000


# --- the mechanism, in this process --------------------------------------------------

@pytest.fixture
def fresh(monkeypatch):
    """`mlphys.quiet` as if TensorFlow had not been imported yet."""
    monkeypatch.setattr(quiet, "_state", {"done": False, "gpus": ""})
    monkeypatch.delenv("MLPHYS_VERBOSE", raising=False)
    return quiet


def _fake_tf(gpus=(), cuda=True):
    config = types.SimpleNamespace(
        list_physical_devices=lambda kind=None: [types.SimpleNamespace(
            name=f"/physical_device:GPU:{i}") for i in range(len(gpus))],
        experimental=types.SimpleNamespace(
            get_device_details=lambda gpu: {"device_name": gpus[int(gpu.name[-1])]}))
    return types.SimpleNamespace(config=config, test=types.SimpleNamespace(
        is_built_with_cuda=lambda: cuda))


def test_the_log_written_to_fd_2_is_captured(fresh, capfd):
    def noisy_import():
        os.write(2, b"WARNING: All log messages before absl::InitializeLog() is called\n")
        print("a Python warning", file=sys.stderr)
        return _fake_tf()

    fresh._quietly(noisy_import)
    assert capfd.readouterr().err == ""
    assert fresh._state["done"]


def test_a_failed_import_is_one_line_and_still_an_import_error(fresh, capfd):
    def broken():
        os.write(2, b"E0000 something low-level\n")
        raise ImportError("libcudart.so.12: cannot open shared object file")

    with pytest.raises(ImportError) as caught:
        fresh._quietly(broken)
    assert isinstance(caught.value, UserError)
    message = str(caught.value)
    assert "TensorFlow cannot be imported" in message and "libcudart" in message
    assert "\n" not in message and capfd.readouterr().err == ""


def test_a_gpu_tensorflow_cannot_use_is_one_line(fresh, capfd, monkeypatch):
    monkeypatch.setattr(fresh, "_gpu_installed", lambda: True)

    def no_gpu():
        os.write(2, b"W0000 00:00:1 12 gpu_device.cc:2344] Cannot dlopen some GPU "
                    b"libraries. Skipping registering GPU devices...\n")
        return _fake_tf()

    fresh._quietly(no_gpu)
    lines = capfd.readouterr().err.splitlines()
    assert len(lines) == 1 and lines[0].startswith("warning: a GPU is installed"), lines
    assert "Cannot dlopen some GPU libraries" in lines[0] and "gpu_device.cc" not in lines[0]


def test_training_commands_name_their_gpus_when_done(fresh, capfd, monkeypatch):
    from click.testing import CliRunner

    from mlphys.cli.main import cli

    fresh._quietly(lambda: _fake_tf(gpus=("NVIDIA H200",)))
    assert capfd.readouterr().err == "" and fresh.devices_used() == "GPU:0 (NVIDIA H200)"
    monkeypatch.setattr(quiet, "install", lambda: None)
    assert CliRunner().invoke(cli, ["train", "cnnn"]).stderr.count("\n") == 1  # error only
    result = CliRunner().invoke(cli, ["reproduce", "--list"])
    assert result.exit_code == 0
    assert result.stderr.splitlines()[-1] == "mlphys: trained on GPU:0 (NVIDIA H200)"
    assert "mlphys: trained" not in CliRunner().invoke(cli, ["list", "models"]).stderr


def test_cuda_hidden_on_purpose_is_no_gpu(monkeypatch):
    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", "-1")
    assert not quiet._gpu_installed()


def test_the_group_installs_the_hook(fresh, monkeypatch):
    from click.testing import CliRunner

    from mlphys.cli.main import cli

    installed = []
    monkeypatch.setattr(quiet, "install", lambda: installed.append(True))
    assert CliRunner().invoke(cli, ["list", "models"]).exit_code == 0
    assert CliRunner().invoke(cli, ["train", "cnnn"]).exit_code == 2
    assert installed == [True, True]


def test_verbose_installs_nothing(fresh, monkeypatch):
    from click.testing import CliRunner

    from mlphys.cli.main import cli

    monkeypatch.setenv("MLPHYS_VERBOSE", "0")  # restored after the test
    monkeypatch.setattr(sys, "meta_path", [f for f in sys.meta_path
                                           if not isinstance(f, quiet._Finder)])
    assert CliRunner().invoke(cli, ["--verbose", "list", "models"]).exit_code == 0
    assert os.environ["MLPHYS_VERBOSE"] == "1" and quiet.verbose()
    assert not any(isinstance(f, quiet._Finder) for f in sys.meta_path)
    assert not fresh._state["done"]


def test_tensorflow_not_installed_is_one_line(monkeypatch):
    monkeypatch.setattr(quiet.importlib.util, "find_spec", lambda name: None)
    with pytest.raises(ImportError, match="TensorFlow is not installed.*pip install"):
        quiet._Finder().find_spec("tensorflow")
