"""The generative zoo (models/generative.py): vae, dcgan and its conditional variant, and
`mlphys sample` (mlphys/sampling.py)."""

import json

import numpy as np
import pytest

from conftest import assert_user_error
from mlphys.datasets import DataSpec

TINY = ("-o", "size=8", "--seed", "0", "--quiet")  # digits as their 8x8 originals


def _spec(shape=(8, 8, 1), classes=10):
    return DataSpec(shape, "classification", classes, "image",
                    tuple(str(i) for i in range(classes)))


def test_vae_kl_is_the_closed_form_of_its_encoder_outputs():
    """KL = -1/2 sum(1 + log s^2 - mu^2 - s^2), per image, averaged over the batch."""
    import mlphys

    model, _ = mlphys.build_model("vae", _spec(), {"latent_dim": 3})
    x = np.random.default_rng(0).uniform(0, 1, (20, 8, 8, 1)).astype("float32")
    mean, log_var = model.encoder.predict(x, verbose=0)
    kl = np.mean(np.sum(-0.5 * (1 + log_var - mean ** 2 - np.exp(log_var)), axis=1))
    result = model.evaluate(x, batch_size=20, verbose=0, return_dict=True)
    assert result["kl"] == pytest.approx(kl, rel=1e-4)
    assert result["loss"] == pytest.approx(result["reconstruction"] + result["kl"], rel=1e-5)


def test_parameter_counts_at_28x28():
    import mlphys

    vae, _ = mlphys.build_model("vae", _spec((28, 28, 1)))
    gan, _ = mlphys.build_model("dcgan", _spec((28, 28, 1)))
    assert (vae.encoder.count_params(), vae.decoder.count_params()) == (69_076, 65_089)
    assert (gan.generator.count_params(), gan.discriminator.count_params()) == (784_641,
                                                                                138_561)


def test_odd_image_sizes_are_cropped_to_the_input():
    import mlphys

    model, _ = mlphys.build_model("dcgan", _spec((10, 9, 3), 2))
    assert model.generator.output_shape == (None, 10, 9, 3)
    model, _ = mlphys.build_model("vae", _spec((10, 9, 3), 2))
    assert model.decoder.output_shape == (None, 10, 9, 3)


def test_vae_trains_evaluates_and_samples_from_the_command_line(tmp_path, run_cli):
    result = run_cli("train", "vae", *TINY, "--epochs", "2", "--out", tmp_path)
    assert result.exit_code == 0, result.output
    run = next(tmp_path.glob("vae-digits-*"))
    history = (run / "history.csv").read_text().splitlines()[0].split(",")
    assert {"loss", "reconstruction", "kl", "val_loss"} <= set(history)
    for name in ("model.keras", "latent_grid.png", "latent_means.png", "curves.png"):
        assert (run / name).stat().st_size > 0, name
    metrics = json.loads((run / "metrics.json").read_text())
    again = run_cli("evaluate", run, "--json")
    assert again.exit_code == 0, again.output
    assert json.loads(again.output)["metrics"]["elbo"] == pytest.approx(metrics["elbo"],
                                                                        rel=1e-5)
    drawn = run_cli("sample", run, "--n", "10", "--out", tmp_path / "s", "--json")
    assert drawn.exit_code == 0, drawn.output
    images = np.load(json.loads(drawn.output)["npz"])["images"]
    assert images.shape == (10, 8, 8, 1) and images.min() >= 0 and images.max() <= 1
    assert_user_error(run_cli("sample", run, "--class", "3"), "unconditional")


def test_conditional_dcgan_trains_evaluates_and_samples_a_class(tmp_path, run_cli):
    result = run_cli("train", "dcgan", *TINY, "-p", "conditional=true", "-p", "filters=8",
                     "--epochs", "2", "--out", tmp_path)
    assert result.exit_code == 0, result.output
    run = next(tmp_path.glob("dcgan-digits-*"))
    header = (run / "history.csv").read_text().splitlines()[0].split(",")
    assert {"d_loss", "g_loss", "d_accuracy", "loss", "val_d_accuracy"} <= set(header)
    assert (run / "samples.png").stat().st_size > 0
    again = run_cli("evaluate", run, "--json")
    assert again.exit_code == 0, again.output
    metrics = json.loads(again.output)["metrics"]
    assert 0 <= metrics["d_accuracy"] <= 1 and np.isfinite(metrics["g_loss"])
    drawn = run_cli("sample", run, "--n", "12", "--class", "7", "--seed", "3", "--json")
    assert drawn.exit_code == 0, drawn.output
    arrays = np.load(json.loads(drawn.output)["npz"])
    assert arrays["images"].shape == (12, 8, 8, 1) and set(arrays["labels"]) == {7}
    twice = run_cli("sample", run, "--n", "12", "--class", "7", "--seed", "3", "--json")
    assert np.array_equal(np.load(json.loads(twice.output)["npz"])["images"],
                          arrays["images"])  # a seed gives the same samples
    assert_user_error(run_cli("sample", run, "--class", "10"), "classes 0 to 9")
    assert_user_error(run_cli("sample", run, "--n", "0"), "--n 0")


def test_generative_models_refuse_vector_data(run_cli):
    for name in ("vae", "dcgan"):
        assert_user_error(run_cli("train", name, "-d", "iris", "--epochs", "1"),
                          f"model '{name}' needs", "images")


def test_sample_refuses_a_model_that_cannot_sample(tmp_path, run_cli):
    import keras

    inputs = keras.Input((3,))
    keras.Model(inputs, keras.layers.Dense(1)(inputs)).save(tmp_path / "plain.keras")
    assert_user_error(run_cli("sample", tmp_path / "plain.keras"), "cannot draw samples")
    assert_user_error(run_cli("sample", tmp_path / "nowhere"), "no run folder")


def test_a_gan_whose_losses_turn_nan_stops_naming_the_epoch(tmp_path, run_cli):
    rng = np.random.default_rng(0)
    x = rng.uniform(0, 1, (64, 8, 8)).astype("float32")
    # one huge pixel (finite: NaN data are refused before training) poisons the
    # discriminator in the first epoch
    x[5, 3, 3] = np.finfo(np.float32).max
    np.savez(tmp_path / "bad.npz", x_train=x, y_train=rng.integers(0, 2, 64))
    result = run_cli("train", "dcgan", "-d", tmp_path / "bad.npz", "-p", "filters=8",
                     "--epochs", "5", "--seed", "0", "--quiet", "--out", tmp_path / "runs")
    assert result.exit_code == 0, result.output
    assert "training diverged (NaN loss in epoch 1)" in result.output
    run = next((tmp_path / "runs").iterdir())
    assert json.loads((run / "config.json").read_text())["epochs_run"] == 1
