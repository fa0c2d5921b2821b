"""Every user error: one line naming the problem and the fix, exit status 2, nothing lost."""

import numpy as np
import pandas as pd

from conftest import assert_user_error


def test_unknown_model_and_dataset_get_suggestions(run_cli, tmp_path):
    assert_user_error(run_cli("train", "cnnn", "--out", tmp_path), "unknown model 'cnnn'",
                      "'cnn'")
    assert_user_error(run_cli("train", "cnn", "-d", "digitz", "--out", tmp_path),
                      "unknown dataset 'digitz'", "'digits'")
    assert_user_error(run_cli("info", "mlpp"), "'mlp'")


def test_incompatible_model_and_dataset_says_why_and_what_fits(run_cli, tmp_path):
    result = run_cli("train", "cnn", "-d", "iris", "--out", tmp_path)
    assert_user_error(result, "needs classification on images", "iris", "digits", "mnist")
    assert list(tmp_path.iterdir()) == []  # no run folder left behind


def test_bad_params(run_cli, tmp_path):
    assert_user_error(run_cli("train", "mlp", "-p", "units", "--out", tmp_path), "NAME=VALUE")
    assert_user_error(run_cli("train", "mlp", "-p", "units=lots", "--out", tmp_path),
                      "units", "integer")
    assert_user_error(run_cli("train", "mlp", "-p", "widht=3", "--out", tmp_path),
                      "hyperparameter", "widht")
    assert_user_error(run_cli("train", "mlp", "-o", "size=big", "--out", tmp_path),
                      "size=big")
    assert_user_error(run_cli("train", "mlp", "-o", "colour=red", "--out", tmp_path),
                      "unknown option", "colour")
    assert_user_error(run_cli("info", "cnn", "--shape", "a,b"), "--shape")


def test_missing_and_unreadable_files(run_cli, tmp_path):
    assert_user_error(run_cli("train", "mlp", "-d", tmp_path / "nope.npz", "--out", tmp_path),
                      "no such file", "nope.npz")
    garbage = tmp_path / "garbage.npz"
    garbage.write_bytes(b"not a zip file at all")
    assert_user_error(run_cli("train", "mlp", "-d", garbage, "--out", tmp_path),
                      "cannot read", "garbage.npz")
    assert garbage.read_bytes() == b"not a zip file at all"
    assert_user_error(run_cli("train", "mlp", "-d", tmp_path / "table.xlsx", "--out",
                              tmp_path), "no such file")
    (tmp_path / "table.xlsx").write_text("x")
    assert_user_error(run_cli("train", "mlp", "-d", tmp_path / "table.xlsx", "--out",
                              tmp_path), "supported files")


def test_npz_without_the_expected_keys(run_cli, tmp_path):
    np.savez(tmp_path / "data.npz", features=np.zeros((4, 2)), labels=np.zeros(4))
    assert_user_error(run_cli("train", "mlp", "-d", tmp_path / "data.npz", "--out", tmp_path),
                      "x_train", "features")


def test_csv_without_the_target_column(run_cli, tmp_path):
    pd.DataFrame({"a": [1.0, 2, 3, 4], "b": [0, 1, 0, 1]}).to_csv(tmp_path / "t.csv",
                                                                 index=False)
    assert_user_error(run_cli("train", "mlp", "-d", tmp_path / "t.csv", "--target", "energy",
                              "--out", tmp_path), "no column 'energy'", "a, b")


def test_image_folder_without_images(run_cli, tmp_path):
    (tmp_path / "photos" / "cats").mkdir(parents=True)
    (tmp_path / "photos" / "cats" / "notes.txt").write_text("no image here")
    assert_user_error(run_cli("train", "cnn", "-d", tmp_path / "photos", "--out", tmp_path),
                      "no images")


def test_output_folder_that_cannot_be_written(run_cli, tmp_path):
    blocker = tmp_path / "a_file"
    blocker.write_text("precious")
    assert_user_error(run_cli("train", "logreg", "-d", "iris", "--out", blocker),
                      "is a file")
    assert_user_error(run_cli("train", "logreg", "-d", "iris", "--out", blocker / "sub"),
                      "cannot create the output folder")
    assert blocker.read_text() == "precious"


def test_evaluate_a_corrupt_or_missing_model(run_cli, tmp_path):
    broken = tmp_path / "model.keras"
    broken.write_bytes(b"\x00" * 100)
    assert_user_error(run_cli("evaluate", broken, "-d", "digits"), "cannot read",
                      "model.keras")
    assert broken.read_bytes() == b"\x00" * 100
    assert_user_error(run_cli("evaluate", tmp_path / "gone"), "no run folder or model file")
    assert_user_error(run_cli("evaluate", tmp_path), "config.json")


def test_evaluate_a_bare_keras_file_needs_a_dataset(run_cli, tmp_path):
    import keras

    model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(3, activation="softmax")])
    model.compile(loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    model.save(tmp_path / "iris.keras")
    assert_user_error(run_cli("evaluate", tmp_path / "iris.keras"), "--dataset")
    assert_user_error(run_cli("evaluate", tmp_path / "iris.keras", "-d", "digits"),
                      "inputs of shape (4,)")
    ok = run_cli("evaluate", tmp_path / "iris.keras", "-d", "iris")
    assert ok.exit_code == 0 and "accuracy" in ok.output


def test_unknown_command_suggests(run_cli):
    result = run_cli("trian")
    assert result.exit_code == 2 and "train" in result.output
