"""Transfer learning: keras.applications backbones, their fine-tuning phase, weights found
offline, `--init-from RUN` and `--freeze PATTERN` (issue: Transfer learning).

Offline and small: the "ImageNet" weights are a MobileNetV2 built with weights=None,
written by the test in Keras' cache layout ($KERAS_HOME/models/<Keras' file name>, the
legacy HDF5 format Keras downloads); images are 32x32 and input_size is 32.
"""

import json

import numpy as np
import pandas as pd
import pytest

from conftest import assert_user_error
from mlphys.errors import Interrupted

MOBILENET_FILE = "mobilenet_v2_weights_tf_dim_ordering_tf_kernels_1.0_224_no_top.h5"
CRACKS = {"size": "32", "n_train": "24", "n_test": "8"}
SMALL = {"input_size": "32", "dropout": "0"}


def write_keras_weights(folder, file_name, application="MobileNetV2", **kwargs):
    """A no-top (unless told) network built with weights=None, saved as Keras' legacy
    HDF5 weights file `folder/file_name`; returns the network."""
    import h5py
    import keras
    from keras.src.legacy.saving import legacy_h5_format

    kwargs.setdefault("include_top", False)
    network = getattr(keras.applications, application)(weights=None,
                                                        input_shape=(32, 32, 3), **kwargs)
    folder.mkdir(parents=True, exist_ok=True)
    with h5py.File(folder / file_name, "w") as f:
        legacy_h5_format.save_weights_to_hdf5_group(f, network)
    return network


@pytest.fixture(scope="module")
def keras_home(tmp_path_factory):
    """$KERAS_HOME with MobileNetV2's no-top ImageNet file in models/ (for the module)."""
    import os

    home = tmp_path_factory.mktemp("keras-home")
    network = write_keras_weights(home / "models", MOBILENET_FILE)
    before = os.environ.get("KERAS_HOME")
    os.environ["KERAS_HOME"] = str(home)
    yield home, network
    if before is None:
        del os.environ["KERAS_HOME"]
    else:
        os.environ["KERAS_HOME"] = before


@pytest.fixture(scope="module")
def pretrained(keras_home, tmp_path_factory):
    """mobilenet_v2 with weights=imagenet from the cache: 1 head epoch, then 2 of
    fine-tuning the top 10 layers, interrupted after the first and resumed. Returns
    (the resumed run, history.csv when interrupted, the weights file's network, what the
    first training printed)."""
    import contextlib
    import io

    import keras

    import mlphys.fitting as fitting
    from mlphys.training import resume, train

    class CtrlCAfterFirstFineTuningEpoch(keras.callbacks.Callback):
        def on_epoch_end(self, epoch, logs=None):  # after the recorders saved epoch 2
            if epoch == 1:
                raise KeyboardInterrupt

    out = tmp_path_factory.mktemp("runs")
    original = fitting._entry_callbacks  # the entry's callbacks come after the recorders
    fitting._entry_callbacks = lambda name, folder: [CtrlCAfterFirstFineTuningEpoch()]
    printed = io.StringIO()
    try:
        with pytest.raises(Interrupted), contextlib.redirect_stdout(printed):
            train("mobilenet_v2", "cracks", {**SMALL, "weights": "imagenet",
                                             "fine_tune": "10", "fine_tune_epochs": "2"},
                  dataset_options=CRACKS, epochs=1, seed=0, out=out)
    finally:
        fitting._entry_callbacks = original
    (run_dir,) = out.iterdir()
    interrupted = pd.read_csv(run_dir / "history.csv")
    return resume(run_dir, quiet=True), interrupted, keras_home[1], printed.getvalue()


def test_backbones_are_listed_as_a_family():
    from mlphys.registry import list_models

    assert list_models("backbone*") == ["efficientnet_b0", "efficientnet_v2_b0",
                                        "mobilenet_v2", "resnet50"]
    assert list_models("c?n") == ["cnn"]  # names still match as before


def test_info_says_input_size_preprocessing_and_where_weights_are(run_cli):
    result = run_cli("info", "mobilenet_v2")
    assert result.exit_code == 0, result.output
    for fragment in ("input_size", "preprocess_input", MOBILENET_FILE, "$KERAS_HOME/models",
                     "fine_tune_learning_rate"):
        assert fragment in result.output


def test_head_then_fine_tuning_in_one_history_resumed_in_the_second_phase(pretrained):
    run, interrupted, _, printed = pretrained
    assert list(interrupted["epoch"]) == [0, 1]  # stopped after the first fine-tuning epoch
    # the head phase trains the output layer only (1280 x 2 + 2), fine-tuning more
    assert run.config.state.parameters == 2_260_546
    assert "fine-tuning: top 10 backbone layers unfrozen (from block_16_" in printed
    # block_16_depthwise 8,640 + block_16_project 307,200 + Conv_1 409,600 + the head
    # 2,562; the BatchNormalization layers among the 10 stay frozen
    assert "kept frozen); 728,002 trainable parameters, learning rate 1e-05" in printed
    history = pd.read_csv(run.path / "history.csv")
    assert list(history["epoch"]) == [0, 1, 2]  # 1 head epoch + 2 fine-tuning epochs
    config = json.loads((run.path / "config.json").read_text())
    assert config["status"] == "finished" and config["epochs_run"] == 3
    assert config["resumed"][0]["from_epoch"] == 2
    assert config["hyperparameters"]["weights"] == "imagenet"


def test_pretrained_weights_come_from_the_keras_cache_and_the_run_reopens(pretrained):
    from mlphys.run import Run

    run, _, network, _ = pretrained
    model = Run.open(run.path).model  # custom layers registered: it reopens
    # the stem is never unfrozen (fine_tune=10 touches only the top): the file's weights
    np.testing.assert_array_equal(model.get_layer("Conv1").get_weights()[0],
                                  network.get_layer("Conv1").get_weights()[0])
    x = np.random.default_rng(0).random((3, 32, 32, 3)).astype("float32")
    # BatchNormalization runs in inference mode even when training (dropout is 0)
    np.testing.assert_allclose(model(x, training=True), model(x, training=False), atol=1e-6)
    assert model.predict(x, verbose=0).shape == (3, 2)


def test_saliency_finds_the_backbones_last_convolution(pretrained, tmp_path):
    from mlphys.saliency import cam_layer, explain

    run, _, _, _ = pretrained
    assert cam_layer(run.model) == "Conv_1"  # MobileNetV2's last convolution
    result = explain(run.path, "gradcam", n=2, out=tmp_path)
    assert result["layer"] == "Conv_1"
    with np.load(result["maps"]) as maps:
        assert maps["gradcam"].shape == (2, 32, 32) and np.isfinite(maps["gradcam"]).all()


def test_tune_searches_fine_tune_dropout_and_learning_rates():
    from mlphys.registry import get_model
    from mlphys.search_space import build_space

    space = build_space(get_model("efficientnet_b0"))
    assert {d.name for d in space.searched} == {"fine_tune", "fine_tune_learning_rate",
                                                "dropout", "learning_rate"}


def test_imagenet_weights_are_looked_for_in_the_data_dir_then_the_keras_cache(
        tmp_path, monkeypatch):
    from mlphys.dataspec import looking_in
    from mlphys.models.backbones import RESNET50, resolve_weights

    name = "resnet50_weights_tf_dim_ordering_tf_kernels_notop.h5"  # Keras' own name
    monkeypatch.setenv("HOME", str(tmp_path))  # no ~/.keras of this machine
    monkeypatch.setenv("KERAS_HOME", str(tmp_path / "keras"))
    assert resolve_weights(RESNET50, "imagenet", 224) == "imagenet"  # Keras downloads
    for folder in (tmp_path / "keras" / "models", tmp_path / "data"):
        folder.mkdir(parents=True)
        (folder / name).write_bytes(b"weights")
    in_cache = tmp_path / "keras" / "models" / name
    assert resolve_weights(RESNET50, "imagenet", 224) == str(in_cache)
    with looking_in(str(tmp_path / "data")):  # the run's --data-dir comes first
        assert resolve_weights(RESNET50, "imagenet", 224) == str(tmp_path / "data" / name)
    assert resolve_weights(RESNET50, "none", 224) is None


def test_errors_are_one_line(keras_home, tmp_path, run_cli, monkeypatch):
    from keras.src.utils import file_utils

    train = ["train", "mobilenet_v2", "-d", "cracks", "-o", "size=32", "-o", "n_train=20",
             "-o", "n_test=8", "--epochs", "1", "--out", tmp_path / "runs"]
    write_keras_weights(tmp_path, "top.h5", include_top=True, classes=2)
    assert_user_error(run_cli(*train, "-p", "input_size=16"), "input_size", "32")
    assert_user_error(run_cli(*train, "-p", f"weights={tmp_path / 'top.h5'}",
                              "-p", "input_size=32"),
                      "does not fit MobileNetV2 without its classifier top", MOBILENET_FILE)
    assert_user_error(run_cli(*train, "-p", f"weights={tmp_path / 'missing.h5'}"),
                      "no such file")
    monkeypatch.setenv("KERAS_HOME", str(tmp_path / "empty-home"))
    monkeypatch.setenv("HOME", str(tmp_path))

    def offline(*args, **kwargs):
        raise Exception("URL fetch failure: no network")

    monkeypatch.setattr(file_utils, "get_file", offline)  # as without a network
    assert_user_error(run_cli(*train, "-p", "weights=imagenet", "-p", "input_size=32"),
                      "not on this machine", MOBILENET_FILE,
                      str(tmp_path / "empty-home" / "models"))
    assert list((tmp_path / "runs").glob("*")) == []  # no half-written run folder


def test_init_from_transfers_by_name_and_shape_and_freeze_keeps_layers(run_cli, tmp_path,
                                                                       bright_squares):
    from mlphys.run import Run

    source = run_cli("train", "cnn", "-d", "digits", "-o", "size=16", "-p", "filters=8",
                     "-p", "dense_units=16", "--epochs", "1", "--seed", "0",
                     "--out", tmp_path / "source", "--quiet")
    assert source.exit_code == 0, source.output
    (source_dir,) = (tmp_path / "source").iterdir()
    result = run_cli("train", "cnn", "-d", bright_squares, "-p", "filters=8", "-p",
                     "dense_units=16", "--epochs", "1", "--seed", "1", "--init-from",
                     source_dir, "--freeze", "conv*", "--out", tmp_path / "target")
    assert result.exit_code == 0, result.output
    assert "3 layer(s) transferred (conv_1, conv_2, dense)" in result.output
    assert ("not transferred: output (shapes differ: 16x10 10 there, 16x2 2 here)"
            in result.output)
    assert "--freeze: 2 layer(s) fixed (conv_1, conv_2)" in result.output
    assert "trainable parameters: 1,074 of 2,322" in result.output
    (target_dir,) = (tmp_path / "target").iterdir()
    transfer = json.loads((target_dir / "config.json").read_text())["transfer"]
    assert transfer["transferred"] == ["conv_1", "conv_2", "dense"]
    assert transfer["frozen"] == ["conv_1", "conv_2"]
    from mlphys.transfer import model_layers

    # the digits run's cnn sits inside the standardisation of its default augmentation
    old, new = (model_layers(Run.open(d).model) for d in (source_dir, target_dir))
    for name in ("conv_1", "conv_2"):  # transferred and kept through training
        for a, b in zip(old[name].get_weights(), new[name].get_weights()):
            np.testing.assert_array_equal(a, b)
    assert not np.array_equal(old["dense"].get_weights()[0],
                              new["dense"].get_weights()[0])  # trained on

    unrelated = ["train", "toy_resnet", "-d", "iris", "--epochs", "1", "--out",
                 tmp_path / "none"]
    assert_user_error(run_cli(*unrelated, "--init-from", source_dir),
                      "no layer of this model matches")
    assert_user_error(run_cli(*unrelated, "--freeze", "conv*"),
                      "--freeze conv*: no layer of this model with weights matches it")
    assert list((tmp_path / "none").glob("*")) == []


def test_efficientnet_weights_from_a_file_normalise_as_keras_imagenet_does():
    """Keras builds EfficientNet with weights="imagenet" as Normalization(mean, variance)
    then Rescaling(1 / sqrt(stddev)); from a file it leaves the Rescaling out, and mlphys
    folds it into the variance: the same numbers come out."""
    import keras

    from mlphys.models.backbones import _match_keras_imagenet_normalisation

    mean, variance = [120.0, 115.0, 100.0], [3000.0, 2900.0, 3100.0]
    stddev = [0.229, 0.224, 0.225]
    inputs = keras.Input((4, 4, 3))
    normalised = keras.layers.Normalization(mean=mean, variance=variance)
    by_keras = keras.Model(inputs, keras.layers.Rescaling(
        [1 / s ** 0.5 for s in stddev])(normalised(inputs)))
    adapted = keras.layers.Normalization(axis=-1)
    adapted.adapt(np.zeros((2, 4, 4, 3), dtype="float32"))
    folded = keras.Model(inputs, adapted(inputs))
    adapted.set_weights([np.array(mean), np.array(variance), adapted.get_weights()[2]])
    adapted.finalize_state()  # as Keras' loading of a weights file does
    _match_keras_imagenet_normalisation(folded)
    x = np.random.default_rng(0).uniform(0, 255, (2, 4, 4, 3)).astype("float32")
    np.testing.assert_allclose(folded.predict(x, verbose=0), by_keras.predict(x, verbose=0),
                               rtol=1e-5)
