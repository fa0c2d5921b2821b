"""`mlphys saliency`: every method on tiny trained runs, the inputs, the outputs, the errors,
a localisation test with a known answer and the model-randomisation sanity check."""

import json
from pathlib import Path

import numpy as np
import pytest

import mlphys
from mlphys.saliency import ATTRIBUTION_METHODS, CAM_METHODS
from conftest import assert_user_error

PLUGIN = '''
from mlphys import register_model


@register_model("seqcnn", task="classification", inputs="image", source="test")
def seqcnn(hp, spec):
    """A Sequential CNN, with Keras' default layer names."""
    import keras
    from keras import layers

    return keras.Sequential([
        keras.Input(spec.input_shape), layers.Conv2D(6, 3, activation="relu"),
        layers.MaxPooling2D(2), layers.Conv2D(8, 3, activation="relu"), layers.Flatten(),
        layers.Dense(spec.num_outputs, activation="softmax")])


@register_model("seqbinary", task="classification", inputs="image", source="test",
                compiles=True)
def seqbinary(hp, spec):
    """A Sequential CNN with one sigmoid output, for labels 0/1."""
    import keras
    from keras import layers

    model = keras.Sequential([
        keras.Input(spec.input_shape), layers.Conv2D(8, 3, activation="relu"),
        layers.MaxPooling2D(2), layers.Conv2D(8, 3, activation="relu"),
        layers.GlobalMaxPooling2D(), layers.Dense(1, activation="sigmoid")])
    model.compile("adam", "binary_crossentropy", metrics=["accuracy"])
    return model


@register_model("conv1d", task="classification", inputs="vector", source="test")
def conv1d(hp, spec):
    """A 1-D CNN on curves."""
    import keras
    from keras import layers

    return keras.Sequential([
        keras.Input(spec.input_shape), layers.Reshape(tuple(spec.input_shape) + (1,)),
        layers.Conv1D(6, 5, activation="relu"), layers.MaxPooling1D(2),
        layers.Conv1D(6, 5, activation="relu"), layers.Flatten(),
        layers.Dense(spec.num_outputs, activation="softmax")])
'''

SIDE, SQUARE = 24, 6


def _square_images(n, seed):
    """Noise images; class 1 has a bright SQUARE x SQUARE square at a random place.
    Returns the images, the labels and a mask of the square (zero for class 0)."""
    rng = np.random.default_rng(seed)
    x = rng.uniform(0.0, 0.4, (n, SIDE, SIDE, 1)).astype(np.float32)
    y = rng.integers(0, 2, n)
    masks = np.zeros((n, SIDE, SIDE), dtype=bool)
    for i in np.flatnonzero(y):
        r, c = rng.integers(0, SIDE - SQUARE + 1, 2)
        x[i, r:r + SQUARE, c:c + SQUARE, 0] = 1.0
        masks[i, r:r + SQUARE, c:c + SQUARE] = True
    return x, y, masks


@pytest.fixture(scope="module")
def plugin(tmp_path_factory):
    path = tmp_path_factory.mktemp("plugin") / "saliency_test_models.py"
    path.write_text(PLUGIN)
    return str(path)


class _LazyRuns(dict):
    """Run folders by name, each trained on first use (the floor job's few tests need
    only two of the seven)."""

    def __init__(self, recipes):
        super().__init__()
        self.recipes = recipes

    def __missing__(self, name):
        self[name] = self.recipes[name]()
        return self[name]


@pytest.fixture(scope="module")
def runs(tmp_path_factory, plugin):
    """Tiny runs, each trained once for the whole module when a test first asks for it."""
    out = tmp_path_factory.mktemp("runs")
    data = tmp_path_factory.mktemp("data")
    x_train, y_train, _ = _square_images(800, 0)
    x_test, y_test, test_masks = _square_images(40, 1)
    squares = data / "squares.npz"
    np.savez(squares, x_train=x_train, y_train=y_train, x_test=x_test, y_test=y_test)
    rng = np.random.default_rng(2)   # regression: the target is 2 * feature 3
    x = rng.normal(size=(300, 12)).astype(np.float32)
    linear = data / "linear.npz"
    np.savez(linear, x_train=x, y_train=2 * x[:, 3:4], x_test=x[:20], y_test=2 * x[:20, 3:4])
    curves = {"n_train": 300, "n_test": 40}

    def train(model, dataset, options=None, epochs=2, params=None):
        return lambda: mlphys.train(model, dataset, params, dataset_options=options,
                                    epochs=epochs, seed=1, out=out, quiet=True,
                                    models_from=plugin)["run_dir"]

    return _LazyRuns({
        "cnn": train("cnn", "digits", params={"filters": 8, "dense_units": 32}),
        "squares": train("cnn", str(squares), epochs=4,
                         params={"filters": 8, "dense_units": 32, "dense_dropout": 0.0}),
        "binary": train("seqbinary", str(squares), epochs=6),
        "sequential": train("seqcnn", "digits", epochs=1),
        "curves": train("conv1d", "gauss_lorentz", curves, epochs=2),
        "mlp_curves": train("mlp", "gauss_lorentz", curves, epochs=1,
                            params={"hidden_layers": 1, "units": 16}),
        "regression": train("mlp", str(linear), epochs=40,
                            params={"hidden_layers": 1, "units": 16}),
        "squares_test": lambda: (x_test, y_test, test_masks),
    })


def _json(result):
    assert result.exit_code == 0, result.output
    return json.loads(result.output)


# --- methods, inputs and outputs ---------------------------------------------------------

def test_all_methods_on_a_functional_cnn_write_figure_and_maps(runs, run_cli, tmp_path):
    out = tmp_path / "maps"
    report = _json(run_cli("saliency", runs["cnn"], "--method", "all", "--n", "3",
                           "--samples", "4", "--max-n", "4", "--out", out, "--json"))
    assert report["methods"] == list(ATTRIBUTION_METHODS)
    assert report["layer"] == "conv_2"
    maps = np.load(out / "maps.npz")
    for method in ATTRIBUTION_METHODS:
        assert maps[method].shape == (3, 28, 28), method
        assert np.isfinite(maps[method]).all() and maps[method].max() > 0, method
    assert maps["inputs"].shape == (3, 28, 28, 1)
    assert (out / "saliency.png").stat().st_size > 10_000
    for row in report["images"]:
        assert row["explained"] == row["predicted"]          # the predicted class by default
        assert 0 < row["probability"] <= 1 and row["true"] in [str(d) for d in range(10)]
        assert set(row["maps"]) == set(ATTRIBUTION_METHODS)
    # results are never overwritten: the same --out again is refused
    assert_user_error(run_cli("saliency", runs["cnn"], "--method", "saliency", "--out", out),
                      "already has")


def test_default_smoothgrad_goes_into_the_run_folder(runs, run_cli):
    result = run_cli("saliency", runs["cnn"], "--n", "2", "--samples", "3", "--indices", "5,7")
    assert result.exit_code == 0, result.output
    assert "test[5]" in result.output and "test[7]" in result.output
    folders = list((Path(runs["cnn"]) / "saliency").glob("smoothgrad-digits-*"))
    assert len(folders) == 1
    assert np.load(folders[0] / "maps.npz")["smoothgrad"].shape == (2, 28, 28)


def test_chosen_class_and_named_layer_on_a_sequential_model(runs, run_cli, tmp_path):
    from mlphys.evaluation import load_keras_model
    from mlphys.saliency import convolution_layers

    model = load_keras_model(Path(runs["sequential"]) / "model.keras")
    first = convolution_layers(model)[0]
    for method in ("layercam", "scorecam", "gradcam++"):
        report = _json(run_cli("saliency", runs["sequential"], "--method", method, "--layer",
                               first, "--class", "3", "--n", "2", "--max-n", "3", "--out",
                               tmp_path / method, "--json"))
        assert report["layer"] == first
        assert all(row["explained"] == "3" for row in report["images"])
        assert np.load(tmp_path / method / "maps.npz")[method].shape == (2, 28, 28)


def test_image_files_are_resized_to_the_model_input(runs, run_cli, tmp_path):
    from PIL import Image

    files = []
    for i, value in enumerate((40, 200)):
        pixels = np.zeros((64, 48, 3), dtype=np.uint8)
        pixels[10:50, 15 + 5 * i:30 + 5 * i] = value
        files.append(tmp_path / f"img{i}.png")
        Image.fromarray(pixels).save(files[-1])
    report = _json(run_cli("saliency", runs["cnn"], "--method", "all", "--images", *files,
                           "--samples", "2", "--max-n", "2", "--out", tmp_path / "o",
                           "--json"))
    assert [row["input"] for row in report["images"]] == ["img0.png", "img1.png"]
    maps = np.load(tmp_path / "o" / "maps.npz")
    assert maps["inputs"].shape == (2, 28, 28, 1)
    assert maps["inputs"].max() == pytest.approx(200 / 255, abs=0.01)
    assert maps["gradcam"].shape == (2, 28, 28)


def test_curves_with_a_conv1d_model(runs, run_cli, tmp_path):
    report = _json(run_cli("saliency", runs["curves"], "--method", "all", "--n", "3",
                           "--samples", "2", "--out", tmp_path / "o", "--json"))
    assert report["methods"] == ["saliency", "smoothgrad", "gradcam", "gradcam++", "layercam"]
    assert "flat vectors" in report["skipped"]["scorecam"]
    maps = np.load(tmp_path / "o" / "maps.npz")
    for method in ("saliency", "smoothgrad", "gradcam", "gradcam++", "layercam"):
        assert maps[method].shape == (3, 100), method
    assert (tmp_path / "o" / "saliency.png").stat().st_size > 10_000
    report = _json(run_cli("saliency", runs["curves"], "--method", "actmax", "--class", "1",
                           "--steps", "10", "--seed", "1", "--out", tmp_path / "a", "--json"))
    generated = np.load(tmp_path / "a" / "maps.npz")["actmax"]
    assert generated.shape == (1, 100) and report["classes"] == [1]
    inputs = maps["inputs"]
    assert inputs.min() - 1e-6 <= generated.min() and generated.max() <= inputs.max() + 0.5


def test_a_dense_model_gets_gradient_maps_and_a_clear_message_for_cams(runs, run_cli,
                                                                        tmp_path):
    report = _json(run_cli("saliency", runs["mlp_curves"], "--method", "saliency", "-d",
                           "gauss_lorentz", "-o", "n_train=300", "-o", "n_test=40", "--n",
                           "4", "--out", tmp_path / "a", "--json"))
    assert np.load(tmp_path / "a" / "maps.npz")["saliency"].shape == (4, 100)
    assert report["layer"] is None
    report = _json(run_cli("saliency", runs["mlp_curves"], "--method", "all", "--n", "2",
                           "--samples", "2", "--out", tmp_path / "b", "--json"))
    assert report["methods"] == ["saliency", "smoothgrad"]
    assert set(report["skipped"]) == set(CAM_METHODS)
    assert_user_error(run_cli("saliency", runs["mlp_curves"], "--method", "gradcam"),
                      "no convolution layer", "--method saliency")


def test_regression_output_is_explained_by_the_feature_it_depends_on(runs, run_cli, tmp_path):
    report = _json(run_cli("saliency", runs["regression"], "--method", "saliency", "--n", "5",
                           "--out", tmp_path / "o", "--json"))
    maps = np.load(tmp_path / "o" / "maps.npz")["saliency"]
    assert maps.shape == (5, 12)
    assert (np.argmax(maps, axis=1) == 3).all()   # target = 2 * feature 3
    assert report["images"][0]["explained"] == "output 0"
    assert_user_error(run_cli("saliency", runs["regression"], "--class", "1"),
                      "--class", "--output-index")
    assert_user_error(run_cli("saliency", runs["regression"], "--output-index", "2"),
                      "--output-index 2")


def test_activation_maximisation(runs, run_cli, tmp_path):
    report = _json(run_cli("saliency", runs["cnn"], "--method", "actmax", "--class", "0",
                           "--steps", "30", "--seed", "1", "--out", tmp_path / "o", "--json"))
    assert report["classes"] == [0]
    generated = np.load(tmp_path / "o" / "maps.npz")["actmax"]
    assert generated.shape == (1, 28, 28, 1)
    assert 0 <= generated.min() and generated.max() <= 1 and generated.std() > 0
    assert (tmp_path / "o" / "saliency.png").stat().st_size > 2_000


# --- binary models and localisation ------------------------------------------------------

def _inside_share(maps, masks):
    """Share of each map's mass inside the square."""
    maps = np.clip(maps, 0, None)
    return (maps * masks).sum(axis=(1, 2)) / maps.sum(axis=(1, 2))


@pytest.mark.parametrize("run", ["squares", "binary"])
def test_maps_find_the_square_that_decides_the_class(runs, run_cli, tmp_path, run):
    """Class 1 is 'a bright square is present': every attribution method must put more of
    its mass on the square than the square's share of the image."""
    x_test, y_test, masks = runs["squares_test"]
    metrics = json.loads((Path(runs[run]) / "metrics.json").read_text())
    assert metrics["loss"] < 0.4, metrics
    with_square = np.flatnonzero(y_test == 1)[:4]
    report = _json(run_cli("saliency", runs[run], "--method", "all", "--class", "1",
                           "--indices", ",".join(map(str, with_square)), "--samples", "8",
                           "--out", tmp_path / "o", "--json"))
    area_share = SQUARE ** 2 / SIDE ** 2
    maps = np.load(tmp_path / "o" / "maps.npz")
    for method in ATTRIBUTION_METHODS:
        share = _inside_share(maps[method], masks[with_square])
        assert share.mean() > area_share, (method, share)
    assert all(row["explained"] == "1" for row in report["images"])


def test_binary_model_explains_class_zero_with_the_opposite_score(runs):
    from mlphys.evaluation import load_keras_model
    from mlphys.saliency import choose_targets, linear_model, score_weights

    model = load_keras_model(Path(runs["binary"]) / "model.keras")
    x_test, y_test, _ = runs["squares_test"]
    probabilities = model.predict(x_test[:6], verbose=0)
    targets = choose_targets("binary", probabilities, 1)
    assert (targets == (probabilities[:, 0] > 0.5)).all()
    weights = score_weights("binary", np.array([0, 1]), 1)
    assert weights.tolist() == [[-1.0], [1.0]]
    logits = linear_model(model).predict(x_test[:6], verbose=0)[:, 0]
    assert np.allclose(1 / (1 + np.exp(-logits)), probabilities[:, 0], atol=1e-5)


# --- sanity check ------------------------------------------------------------------------

def test_sanity_check_randomises_layers_from_the_top(runs, run_cli, tmp_path):
    x_test, y_test, _ = runs["squares_test"]
    with_square = np.flatnonzero(y_test == 1)[:3]
    result = run_cli("saliency", runs["squares"], "--method", "all", "--sanity", "--class",
                     "1", "--indices", ",".join(map(str, with_square)), "--samples", "4",
                     "--seed", "3", "--out", tmp_path / "o")
    assert result.exit_code == 0, result.output
    check = json.loads((tmp_path / "o" / "sanity.json").read_text())
    assert [s["randomised"] for s in check["stages"]] == ["output", "dense", "conv_2",
                                                          "conv_1"]
    final = check["stages"][-1]["spearman"]
    assert set(final) == set(ATTRIBUTION_METHODS)
    assert all(-1 <= rho <= 1 for s in check["stages"] for rho in s["spearman"].values())
    # Grad-CAM depends on the weights: with every layer random its maps no longer
    # resemble the trained model's
    assert final["gradcam"] < check["threshold"]
    assert check["flagged"] == [m for m in ATTRIBUTION_METHODS if final[m] > check["threshold"]]
    for method in check["flagged"]:
        assert f"WARNING: {method} maps barely change" in result.output
    assert (tmp_path / "o" / "sanity.png").stat().st_size > 5_000


def test_sanity_check_leaves_the_model_and_identical_maps_correlate_fully(runs):
    from mlphys.evaluation import load_keras_model
    from mlphys.saliency import (compute_map, linear_model, network_and_preprocessing,
                                 rank_correlation, sanity_check)

    # the cnn on digits inside the standardisation of its default augmentation, as
    # `mlphys saliency` explains it
    network, preprocess = network_and_preprocessing(
        load_keras_model(Path(runs["cnn"]) / "model.keras"))
    model = linear_model(network)
    x = preprocess(mlphys.load_dataset("digits").x_test[:2])
    before = model.get_weights()
    options = dict(kind="classification", targets=np.array([0, 1]),
                   weights=np.eye(10, dtype=np.float32)[[0, 1]], layer="conv_2")
    maps = {"saliency": compute_map("saliency", model, x, **options)}
    assert rank_correlation(maps["saliency"][0], maps["saliency"][0]) == pytest.approx(1)
    check = sanity_check(model, x, maps, methods=["saliency"], seed=0, **options)
    assert len(check["stages"]) == 4
    assert all(np.array_equal(a, b) for a, b in zip(before, model.get_weights()))
    assert check["stages"][0]["spearman"]["saliency"] < 0.999


# --- errors ------------------------------------------------------------------------------

def test_errors_are_one_line(runs, run_cli, tmp_path):
    empty = tmp_path / "empty_run"
    empty.mkdir()
    (empty / "config.json").write_text("{}")
    assert_user_error(run_cli("saliency", empty), "has no model.keras")
    assert_user_error(run_cli("saliency", tmp_path / "nowhere"), "no run folder")
    assert_user_error(run_cli("saliency", runs["cnn"], "--class", "10"),
                      "--class 10", "0..9")
    assert_user_error(run_cli("saliency", runs["cnn"], "--method", "gradcam", "--layer",
                              "conv_3"), "unknown layer 'conv_3'", "conv_1, conv_2")
    assert_user_error(run_cli("saliency", runs["cnn"], "--method", "gradcam", "--layer",
                              "dense"), "no spatial feature maps", "conv_1, conv_2")
    bad = tmp_path / "broken.png"
    bad.write_text("not an image")
    assert_user_error(run_cli("saliency", runs["cnn"], "--images", bad), "cannot read",
                      "broken.png")
    assert_user_error(run_cli("saliency", runs["cnn"], "--method", "gradcamm"),
                      "unknown method 'gradcamm'", "gradcam")
    assert_user_error(run_cli("saliency", runs["cnn"], bad), "--images")
    assert_user_error(run_cli("saliency", runs["cnn"], "--indices", "5000"),
                      "--indices 5000")
