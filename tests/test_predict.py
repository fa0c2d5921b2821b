"""`mlphys predict` and `mlphys.predict`: every task kind, members' spread, every input
kind and format, and the one-line errors that leave nothing written."""

import numpy as np
import pandas as pd
import pytest
from PIL import Image

import mlphys
from mlphys.prediction import PixelPredictions, PredictSettings
from mlphys.run import Run
from mlphys.training import train
from conftest import assert_user_error

FAST = {"epochs": 2, "seed": 1, "quiet": True}


@pytest.fixture(scope="module")
def classifier(tmp_path_factory):
    """An mlp with dropout on 8x8 digits (10 classes)."""
    return train("mlp", "digits", {"units": 32, "dropout": 0.3}, dataset_options={"size": 8},
                 out=tmp_path_factory.mktemp("runs"), **FAST)


@pytest.fixture(scope="module")
def events(tmp_path_factory):
    """A CSV table: mass = 2 * energy - angle + 5 (GeV), 300 rows."""
    rng = np.random.default_rng(0)
    energy, angle = rng.uniform(0, 10, 300), rng.uniform(-1, 1, 300)
    table = pd.DataFrame({"energy": energy, "angle": angle, "mass": 2 * energy - angle + 5})
    path = tmp_path_factory.mktemp("csv") / "events.csv"
    table.to_csv(path, index=False)
    return path


@pytest.fixture(scope="module")
def replicas(events, tmp_path_factory):
    """A regression ensemble of 3 replicas trained on the CSV table."""
    return train("mlp", str(events), {"units": 16}, replicas=3,
                 out=tmp_path_factory.mktemp("runs"), **FAST)


def test_classifier_split_matches_evaluate_and_top_k(classifier):
    table = mlphys.predict(classifier, split="test")
    data = classifier.load_data()
    assert list(table["id"]) == list(range(len(data.y_test)))
    accuracy = np.mean(table["class"].to_numpy() == data.y_test)
    assert accuracy == pytest.approx(classifier.metrics["accuracy"], abs=1e-6)
    assert accuracy > 0.3  # chance is 0.1
    probabilities = table[[f"p_{k}" for k in range(10)]].to_numpy()
    np.testing.assert_allclose(probabilities.sum(axis=1), 1, atol=1e-5)
    assert (table["class_name"] == table["class"].astype(str)).all()
    top = mlphys.predict(classifier.path, data.x_test[:20],
                         settings=PredictSettings(top=3))
    assert (top["top1_name"] == top["class_name"]).all()
    assert (top["top1_probability"] >= top["top2_probability"]).all()
    assert (top["top2_probability"] >= top["top3_probability"]).all()


def test_mc_dropout_gives_a_spread_and_needs_dropout(classifier, run_cli, tmp_path):
    x = classifier.load_data().x_test[:50]
    table = mlphys.predict(classifier, x, settings=PredictSettings(mc_dropout=10))
    assert (table["probability_std"] > 0).mean() > 0.9
    plain = mlphys.predict(classifier, x)
    assert (table["class"] == plain["class"]).mean() > 0.7  # the mean agrees mostly
    import keras

    no_dropout = keras.Sequential([keras.Input((8, 8, 1)), keras.layers.Flatten(),
                                   keras.layers.Dense(10, activation="softmax")])
    no_dropout.save(tmp_path / "bare.keras")  # a bare .keras file: outputs as values
    np.savez(tmp_path / "x.npz", x=x)
    values = mlphys.predict(tmp_path / "bare.keras", tmp_path / "x.npz")
    assert list(values.columns) == ["id"] + [f"y_{k}" for k in range(10)]
    result = run_cli("predict", tmp_path / "bare.keras", tmp_path / "x.npz",
                     "--mc-dropout", 5)
    assert_user_error(result, "no dropout layer")
    assert not list(tmp_path.glob("predictions*"))


def test_regression_csv_with_replicas_in_the_targets_units(replicas, events, run_cli,
                                                            tmp_path):
    new = pd.read_csv(events).drop(columns=["mass"]).iloc[:40][["angle", "energy"]]
    new.to_csv(tmp_path / "new_events.csv", index=False)  # columns in another order
    result = run_cli("predict", replicas.path, tmp_path / "new_events.csv", "--out",
                     tmp_path / "preds")
    assert result.exit_code == 0, result.output
    written = pd.read_csv(tmp_path / "preds" / "predictions-new_events.csv")
    assert list(written.columns) == ["id", "mass", "mass_std"]
    assert (written["mass_std"] > 0).all()
    model = replicas.model
    expected = model.predict(new[["energy", "angle"]].to_numpy(np.float32), verbose=0)
    np.testing.assert_allclose(written["mass"], expected[:, 0], rtol=1e-5, atol=1e-5)
    members = np.stack([m.predict(new[["energy", "angle"]].to_numpy(np.float32),
                                  verbose=0)[:, 0] for m in model.members])
    np.testing.assert_allclose(written["mass_std"], members.std(axis=0, ddof=1),
                               rtol=1e-4, atol=1e-5)
    again = run_cli("predict", replicas.path, tmp_path / "new_events.csv", "--out",
                    tmp_path / "preds", "--format", "parquet")
    assert again.exit_code == 0, again.output
    pd.testing.assert_frame_equal(pd.read_parquet(tmp_path / "preds" /
                                                  "predictions-new_events.parquet"), written,
                                  check_dtype=False, atol=1e-6)


def test_csv_errors_name_the_columns(replicas, events, run_cli, tmp_path):
    table = pd.read_csv(events)
    table.drop(columns=["angle"]).to_csv(tmp_path / "missing.csv", index=False)
    assert_user_error(run_cli("predict", replicas.path, tmp_path / "missing.csv"),
                      "no column(s) angle")
    table.assign(run_number=1).to_csv(tmp_path / "extra.csv", index=False)
    assert_user_error(run_cli("predict", replicas.path, tmp_path / "extra.csv"),
                      "run_number", "drop them")
    table.assign(energy=np.where(table.index == 3, np.inf, table.energy)).to_csv(
        tmp_path / "inf.csv", index=False)
    assert_user_error(run_cli("predict", replicas.path, tmp_path / "inf.csv"),
                      "column 'energy', line 5")
    assert not list(replicas.path.glob("predictions*"))


def test_npz_inputs_never_overwrite_and_check_shapes(classifier, run_cli, tmp_path):
    x = classifier.load_data().x_test[:30]
    np.savez(tmp_path / "x.npz", x=(x[..., 0] * 255).astype(np.uint8))  # (N, 8, 8) uint8
    out = tmp_path / "out"
    for _ in range(2):
        result = run_cli("predict", classifier.path, tmp_path / "x.npz", "--out", out,
                         "--format", "npz")
        assert result.exit_code == 0, result.output
    first, second = (np.load(out / name) for name in ("predictions-x.npz",
                                                      "predictions-x-2.npz"))
    np.testing.assert_array_equal(first["class"], second["class"])
    assert first["class_name"].dtype.kind == "U" and len(first["id"]) == 30
    np.savez(tmp_path / "rgb.npz", x=np.repeat(x, 3, axis=-1))
    assert_user_error(run_cli("predict", classifier.path, tmp_path / "rgb.npz"),
                      "1 channel(s)", "has 3")
    np.savez(tmp_path / "big.npz", x=np.zeros((4, 12, 12, 1)))
    assert_user_error(run_cli("predict", classifier.path, tmp_path / "big.npz"),
                      "shape 12x12x1", "takes 8x8x1")
    assert_user_error(run_cli("predict", classifier.path, tmp_path / "x.npz",
                              "--out", tmp_path / "x.npz"), "is a file")
    assert_user_error(run_cli("predict", classifier.path, tmp_path / "x.npz", "--top", 11),
                      "--top 11")
    assert sorted(p.name for p in out.iterdir()) == ["predictions-x-2.npz",
                                                     "predictions-x.npz"]


def test_image_folder_of_any_size_is_resized_as_in_training(bright_squares, tmp_path):
    run = train("logreg", str(bright_squares), out=tmp_path, epochs=3, seed=1, quiet=True)
    new = tmp_path / "new"
    (new / "night").mkdir(parents=True)
    rng = np.random.default_rng(1)
    for i, side in enumerate((16, 24, 40)):
        image = rng.uniform(0, 120, (side, side))
        image[side // 4: side // 4 + side // 3, side // 4: side // 4 + side // 3] = 255
        Image.fromarray(image.astype(np.uint8)).convert("RGB").save(new / "night" / f"{i}.png")
    table = mlphys.predict(run, new)
    assert list(table["id"]) == ["night/0.png", "night/1.png", "night/2.png"]
    assert set(table["class_name"]) <= {"empty", "square"}
    single = mlphys.predict(run, [new / "night" / "0.png"])
    assert single["probability"].iloc[0] == pytest.approx(table["probability"].iloc[0])


def test_repeats_folder_gives_mean_and_std(tmp_path, run_cli):
    result = run_cli("train", "logreg", "-d", "blobs", "-o", "n_train=200", "-o",
                     "n_test=50", "--epochs", 2, "--seed", 3, "--repeats", 2, "--out",
                     tmp_path, "--quiet")
    assert result.exit_code == 0, result.output
    folder = next(tmp_path.glob("repeats-*"))
    result = run_cli("predict", folder, "--split", "test")
    assert result.exit_code == 0, result.output
    table = pd.read_csv(folder / "predictions-blobs-test.csv")
    runs = [Run.open(folder / f"repeat-{k}") for k in (1, 2)]
    x = runs[0].load_data().x_test
    p1 = np.stack([r.model.predict(x, verbose=0)[:, 0] for r in runs])
    one = "p_blob (1,1)"  # the classes' names, as the dataset gives them
    np.testing.assert_allclose(table[one], p1.mean(axis=0), atol=1e-6)
    np.testing.assert_allclose(table[f"{one}_std"], p1.std(axis=0, ddof=1), atol=1e-6)
    np.testing.assert_allclose(table["p_blob (-1,-1)"] + table[one], 1, atol=1e-6)
    assert (table["class"] == (p1.mean(axis=0) > 0.5)).all()


def test_per_pixel_outputs_are_arrays(tmp_path, run_cli):
    run = train("circles_to_squares", "circles_to_squares",
                dataset_options={"size": 16, "n_train": 20, "n_val": 10, "n_test": 20},
                out=tmp_path, epochs=1, seed=0, quiet=True)
    result = mlphys.predict(run, split="test")
    assert isinstance(result, PixelPredictions) and result.classes is None
    assert result.mean.shape == (20, 16, 16, 1) and result.std is None
    np.testing.assert_allclose(result.mean, run.model.predict(run.load_data().x_test,
                                                              verbose=0), atol=1e-6)
    assert_user_error(run_cli("predict", run.path, "--split", "test", "--format", "csv"),
                      "--format npz")
    done = run_cli("predict", run.path, "--split", "test")
    assert done.exit_code == 0, done.output
    saved = np.load(next(run.path.glob("predictions-*.npz")))
    np.testing.assert_array_equal(saved["mean"], result.mean)
    assert list(saved["ids"]) == list(range(20))


def test_export_round_trips_in_each_runtime(classifier, run_cli, tmp_path, monkeypatch):
    import json

    import mlphys.export

    with monkeypatch.context() as strict:
        strict.setattr(mlphys.export, "TOLERANCE", -1.0)  # even 0 is too large
        result = run_cli("export", classifier.path, "--format", "savedmodel", "--out",
                         tmp_path, "--samples", 16)
        assert result.exit_code == 1 and "above -1" in result.output, result.output
    for fmt, folder, artefact in (("savedmodel", "export-savedmodel-2", "saved_model"),
                                  ("onnx", "export-onnx", "model.onnx"),
                                  ("litert", "export-litert", "model.tflite")):
        result = run_cli("export", classifier.path, "--format", fmt, "--out", tmp_path,
                         "--samples", 16, "--json")
        assert result.exit_code == 0, result.output
        report = json.loads(result.stdout)
        assert report["passed"] and report["max_abs_difference"] < 1e-4
        assert report["path"] == str(tmp_path / folder / artefact)  # the first one kept
        sidecar = json.loads((tmp_path / folder / "export.json").read_text())
        assert sidecar["input_shape"] == [None, 8, 8, 1] and sidecar["input_dtype"] == "float32"
        assert sidecar["class_names"] == [str(k) for k in range(10)]
        assert sidecar["versions"]["keras"] and "[0, 1]" in sidecar["preprocessing"]
    assert (tmp_path / "export-savedmodel" / "saved_model").is_dir()
    monkeypatch.setattr(mlphys.export, "RUNTIME_PACKAGES", {"onnx": ("no_such_runtime",)})
    assert_user_error(run_cli("export", classifier.path, "--format", "onnx", "--out",
                              tmp_path / "none"), "no_such_runtime", "mlphys[export]")
    assert not (tmp_path / "none").exists()


# --- the physics file formats (issue 15): each read by the training readers' columns ---

def _dimuon_table(n, seed):
    """Columns pt (GeV), eta, an unused run number and the target mass (GeV)."""
    rng = np.random.default_rng(seed)
    pt, eta = rng.normal(50, 20, n), rng.normal(0, 1, n)
    return {"pt": pt, "run": np.full(n, 7.0), "eta": eta, "mass": 2 * pt + 10 * eta + 5}


@pytest.fixture(scope="module")
def table_run(tmp_path_factory):
    """An mlp regressor trained 1 epoch on a Parquet table: features pt, eta (by name;
    `run` left out), target mass."""
    path = tmp_path_factory.mktemp("parquet") / "dimuons.parquet"
    pd.DataFrame(_dimuon_table(200, 0)).to_parquet(path)
    return train("mlp", str(path), {"units": 8}, out=tmp_path_factory.mktemp("runs"),
                 dataset_options={"target": "mass", "features": "pt,eta"}, epochs=1,
                 seed=0, quiet=True)


def _write_root(path, columns):
    import uproot

    with uproot.recreate(path) as f:  # TTrees (a dict assigned would be an RNTuple)
        f.mktree("Events", {k: v.dtype for k, v in columns.items()})
        f["Events"].extend(columns)
        f.mktree("Other", {"a": np.float64})
        f["Other"].extend({"a": np.arange(3.0)})


def _write_fits(path, columns):
    from astropy.io import fits
    from astropy.table import Table

    fits.HDUList([fits.PrimaryHDU(), fits.BinTableHDU(Table(columns), name="NEW")]
                 ).writeto(path)


def _write_hdf5_table(path, columns):
    import h5py

    with h5py.File(path, "w") as f:
        for name, values in columns.items():
            f[f"events/{name}"] = values


WRITERS = {".root": (_write_root, ["-o", "tree=Events"]),
           ".fits": (_write_fits, []),
           ".h5": (_write_hdf5_table, ["-o", "table=/events"]),
           ".parquet": (lambda p, c: pd.DataFrame(c).to_parquet(p), []),
           ".feather": (lambda p, c: pd.DataFrame(c).to_feather(p), [])}


@pytest.mark.parametrize("suffix", list(WRITERS))
def test_predict_reads_each_physics_format_by_column_name(table_run, run_cli, tmp_path,
                                                          suffix):
    """The same 30 rows in every format (columns in another order, the target and an
    unused column present) give the predictions of the rows as an array."""
    pytest.importorskip({".root": "uproot", ".fits": "astropy", ".h5": "h5py"}.get(
        suffix, "pyarrow"))
    columns = _dimuon_table(30, 1)
    shuffled = {k: columns[k] for k in ("mass", "eta", "run", "pt")}
    write, options = WRITERS[suffix]
    write(tmp_path / f"new{suffix}", shuffled)
    result = run_cli("predict", table_run.path, tmp_path / f"new{suffix}", *options,
                     "--out", tmp_path / "preds")
    assert result.exit_code == 0, result.output
    written = pd.read_csv(tmp_path / "preds" / "predictions-new.csv")
    x = np.stack([columns["pt"], columns["eta"]], axis=1).astype(np.float32)
    expected = mlphys.predict(table_run, x)
    assert list(written["id"]) == list(range(30))
    np.testing.assert_allclose(written["mass"], expected["mass"], rtol=1e-5)


def test_predict_root_cut_keeps_entry_numbers_and_hdf5_arrays_stream(table_run, run_cli,
                                                                      tmp_path):
    h5py = pytest.importorskip("h5py")
    pytest.importorskip("uproot")
    columns = _dimuon_table(40, 2)
    _write_root(tmp_path / "new.root", columns)
    result = run_cli("predict", table_run.path, tmp_path / "new.root", "-o", "tree=Events",
                     "-o", "cut=eta > 0", "--out", tmp_path / "root")
    assert result.exit_code == 0, result.output
    written = pd.read_csv(tmp_path / "root" / "predictions-new.csv")
    assert list(written["id"]) == list(np.flatnonzero(columns["eta"] > 0))
    x = np.stack([columns["pt"], columns["eta"]], axis=1).astype(np.float32)
    with h5py.File(tmp_path / "arrays.h5", "w") as f:
        f["x"] = x.astype(np.float64)
    result = run_cli("predict", table_run.path, tmp_path / "arrays.h5", "--batch-size", 8,
                     "--out", tmp_path / "h5")
    assert result.exit_code == 0, result.output
    written = pd.read_csv(tmp_path / "h5" / "predictions-arrays.csv")
    np.testing.assert_allclose(written["mass"], mlphys.predict(table_run, x)["mass"],
                               rtol=1e-5)


@pytest.mark.parametrize("suffix", [".root", ".h5", ".fits", ".parquet", ".feather"])
def test_predict_on_a_damaged_or_wrong_physics_file_is_one_line(table_run, run_cli,
                                                                tmp_path, suffix):
    (tmp_path / f"bad{suffix}").write_bytes(b"not a physics file\n" * 50)
    assert_user_error(run_cli("predict", table_run.path, tmp_path / f"bad{suffix}"),
                      "cannot read", f"bad{suffix}")
    columns = {k: v for k, v in _dimuon_table(10, 3).items() if k != "eta"}
    if suffix in WRITERS:
        write, options = WRITERS[suffix]
        write(tmp_path / f"no_eta{suffix}", columns)
        assert_user_error(run_cli("predict", table_run.path, tmp_path / f"no_eta{suffix}",
                                  *options), "no column(s) eta", "reads the columns pt, eta")
    assert_user_error(run_cli("predict", table_run.path, tmp_path / f"bad{suffix}", "-o",
                              "nope=1"), "--option nope", "no such option")
    assert not list(table_run.path.glob("predictions*"))
