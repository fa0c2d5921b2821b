"""Image folders streamed from disk (`--stream`): same data, same training, no big arrays."""

import json

import numpy as np
import pytest
from PIL import Image

import mlphys
from conftest import assert_user_error
from mlphys.streams import ImageStream


def test_streamed_folder_holds_files_not_pixels_and_decodes_the_same(bright_squares):
    streamed = mlphys.load_dataset(str(bright_squares), {"stream": "true"})
    loaded = mlphys.load_dataset(str(bright_squares))
    assert isinstance(streamed.x_train, ImageStream)
    assert streamed.spec == loaded.spec and streamed.sizes() == loaded.sizes()
    np.testing.assert_array_equal(streamed.y_test, loaded.y_test)
    batch = next(iter(streamed.x_test.batches(8)))
    np.testing.assert_allclose(batch.numpy(), loaded.x_test[:8], atol=1e-6)


def test_training_on_a_stream_learns_and_evaluates(bright_squares, tmp_path, run_cli):
    result = run_cli("train", "cnn", "-d", bright_squares, "--stream", "-p", "filters=8",
                     "-p", "learning_rate=0.01", "--epochs", "10", "--seed", "0", "--out",
                     tmp_path, "--json")
    assert result.exit_code == 0, result.output
    run = json.loads(result.output)
    assert run["metrics"]["accuracy"] > 0.75  # chance is 0.5
    config = json.loads(open(f"{run['run_dir']}/config.json").read())
    assert config["data"]["provenance"]["stream"] is True
    again = run_cli("evaluate", run["run_dir"], "--json")
    assert again.exit_code == 0, again.output
    assert json.loads(again.output)["metrics"]["accuracy"] == pytest.approx(
        run["metrics"]["accuracy"])


def test_stream_errors(bright_squares, tmp_path, run_cli):
    assert_user_error(run_cli("train", "cnn", "-d", "digits", "--stream", "--out", tmp_path),
                      "--stream reads image folders", "digits")
    odd = tmp_path / "odd"
    for label in ("a", "b"):
        (odd / label).mkdir(parents=True)
        Image.new("L", (8, 8)).save(odd / label / "x.tiff")
    assert_user_error(run_cli("train", "cnn", "-d", odd, "--stream", "--out", tmp_path),
                      "--stream decodes", ".tiff")
