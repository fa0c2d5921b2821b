"""The data physicists have (issue 15): ROOT trees, HDF5, FITS, Parquet and Feather files
read through the dataset registry, and tables in physical units standardised inside the
model. Every file is written here by the library made for its format."""

import json
import subprocess
import sys

import numpy as np
import pytest

from mlphys.datasets import describe_file, load_dataset
from mlphys.errors import UserError

uproot = pytest.importorskip("uproot")
ak = pytest.importorskip("awkward")
h5py = pytest.importorskip("h5py")
fits = pytest.importorskip("astropy.io.fits")
pa = pytest.importorskip("pyarrow")


def zmumu(n, seed=0):
    """Z -> mu mu events: both muons' four-momenta (GeV), target the invariant mass.

    Breit-Wigner masses (91.19 GeV, width 2.5) decay isotropically in the Z's rest frame,
    boosted to a Z of exponential pT (mean 10 GeV) and rapidity of spread 1.5."""
    rng = np.random.default_rng(seed)
    mass = np.clip(91.19 + 1.25 * np.tan(np.pi * (rng.random(n) - 0.5)), 60, 120)
    pt, rap, phi = rng.exponential(10, n), rng.normal(0, 1.5, n), rng.uniform(-3.14, 3.14, n)
    mt = np.sqrt(mass ** 2 + pt ** 2)
    beta = np.stack([pt * np.cos(phi), pt * np.sin(phi), mt * np.sinh(rap)], 1) / (
        mt * np.cosh(rap))[:, None]
    gamma = 1 / np.sqrt(1 - np.sum(beta ** 2, 1, keepdims=True))
    cos, azimuth = rng.uniform(-1, 1, n), rng.uniform(-3.14, 3.14, n)
    sin = np.sqrt(1 - cos ** 2)
    star = mass[:, None] / 2 * np.stack([sin * np.cos(azimuth), sin * np.sin(azimuth), cos], 1)
    columns = {}
    for m, p in ((1, star), (2, -star)):
        bp = np.sum(beta * p, 1, keepdims=True)
        energy = gamma * (mass[:, None] / 2 + bp)
        vector = p + ((gamma - 1) * bp / np.sum(beta ** 2, 1, keepdims=True)
                      + gamma * mass[:, None] / 2) * beta
        columns.update({f"E_{m}": energy[:, 0], f"px_{m}": vector[:, 0],
                        f"py_{m}": vector[:, 1], f"pz_{m}": vector[:, 2]})
    columns["mass"] = mass
    return columns


@pytest.fixture(scope="module")
def events_root(tmp_path_factory):
    """A TTree Events of 300 entries (flat, boolean, string, jagged branches) and a tree
    Other, so that the tree must be chosen."""
    rng = np.random.default_rng(0)
    n = 300
    counts = rng.integers(0, 4, n)
    data = {"pt_1": rng.normal(50, 40, n), "pt_2": rng.normal(40, 30, n),
            "eta_1": rng.normal(0, 1, n), "nMuon": rng.integers(1, 4, n).astype(np.int32),
            "is_signal": rng.random(n) > 0.5,
            "jet_pt": ak.Array([list(rng.uniform(20, 80, k)) for k in counts])}
    path = tmp_path_factory.mktemp("root") / "events.root"
    with uproot.recreate(path) as f:
        f.mktree("Events", {k: (v.type if isinstance(v, ak.Array) else v.dtype)
                            for k, v in data.items()})
        f["Events"].extend(data)
        f.mktree("Other", {"a": np.float64})
        f["Other"].extend({"a": np.arange(5.0)})
    return path, data


def test_root_tree_features_by_wildcard_and_a_cut(events_root):
    path, data = events_root
    ds = load_dataset(str(path), {"tree": "Events", "features": "pt_*,eta_*",
                                  "cut": "nMuon == 2", "target": "is_signal"})
    assert ds.provenance["features"] == ["pt_1", "pt_2", "eta_1"]
    assert ds.spec.task == "classification" and ds.spec.class_names == ("False", "True")
    assert sum(ds.sizes().values()) == int(np.sum(data["nMuon"] == 2))
    every = np.concatenate([ds.x_train, ds.x_val, ds.x_test])
    chosen = data["nMuon"] == 2
    assert np.allclose(np.sort(every[:, 0]), np.sort(data["pt_1"][chosen]), rtol=1e-6)
    with pytest.raises(UserError, match="Events, Other"):
        load_dataset(str(path), {"target": "is_signal"})  # two trees: choose one
    with pytest.raises(UserError, match="no branch 'nMuo'"):
        load_dataset(str(path), {"tree": "Events", "features": "pt_1", "cut": "nMuo == 2",
                                 "target": "is_signal"})


def test_root_jagged_branches_are_refused_by_name_or_padded(events_root):
    path, data = events_root
    with pytest.raises(UserError, match="jet_pt are jagged.*pad=N"):
        load_dataset(str(path), {"tree": "Events", "target": "is_signal"})
    ds = load_dataset(str(path), {"tree": "Events", "features": "jet_pt", "pad": "2",
                                  "target": "is_signal", "test_split": "0.5"})
    assert ds.provenance["features"] == ["jet_pt[0]", "jet_pt[1]"]
    expected = np.array([[*row[:2], *[0.0] * (2 - len(row[:2]))]
                         for row in ak.to_list(data["jet_pt"])], dtype=np.float32)
    got = np.concatenate([ds.x_train, ds.x_val, ds.x_test])
    assert np.allclose(np.sort(got, axis=0), np.sort(expected, axis=0))


def test_hdf5_datasets_by_path_tables_and_units(tmp_path):
    rng = np.random.default_rng(1)
    path = tmp_path / "showers.h5"
    with h5py.File(path, "w") as f:
        images = f.create_dataset("calo/images", data=rng.random((60, 6, 6), np.float32))
        images.attrs["units"] = "GeV"
        f.create_dataset("calo/energy", data=rng.normal(50, 40, 60)).attrs["units"] = "GeV"
        f["events/pt"] = rng.normal(50, 40, 60)
        f["events/eta"] = rng.normal(0, 1, 60)
        f["events/label"] = np.array([b"sig", b"bkg"] * 30)
    ds = load_dataset(str(path), {"x": "/calo/images", "y": "/calo/energy"})
    assert ds.spec.kind == "image" and ds.spec.input_shape == (6, 6, 1)
    assert ds.spec.task == "regression"
    assert ds.provenance["units"] == {"/calo/images": "GeV", "/calo/energy": "GeV"}
    table = load_dataset(str(path), {"table": "/events", "target": "label"})
    assert table.spec.class_names == ("bkg", "sig") and table.spec.input_shape == (2,)
    with pytest.raises(UserError, match="no such dataset.*/calo/energy, /calo/images"):
        load_dataset(str(path), {"x": "/calo/nope", "y": "/calo/energy"})
    with pytest.raises(UserError, match="no dataset x_train.*-o x=PATH"):
        load_dataset(str(path))
    listing = describe_file(str(path))
    assert ("/calo/images", "float32", "60x6x6", "GeV") in listing.rows


def test_fits_table_hdu_and_image_cube_with_labels(tmp_path):
    from astropy.table import Table

    rng = np.random.default_rng(2)
    n = 60
    catalogue = Table({"flux": rng.random(n), "mag": rng.random(n),
                       "class": rng.choice(["star", "galaxy"], n)}, units={"flux": "Jy"})
    cube = fits.ImageHDU(rng.random((n, 8, 8)).astype(np.float32), name="IMAGES")
    cube.header["BUNIT"] = "adu"
    path = tmp_path / "sky.fits"
    fits.HDUList([fits.PrimaryHDU(), fits.BinTableHDU(catalogue, name="CAT"), cube,
                  fits.BinTableHDU(Table({"label": rng.integers(0, 2, n)}), name="LABELS")]
                 ).writeto(path)
    table = load_dataset(str(path), {"hdu": "1", "target": "class"})
    assert table.spec.class_names == ("galaxy", "star")
    assert table.provenance["units"] == {"flux": "Jy"}
    images = load_dataset(str(path), {"hdu": "IMAGES", "labels": "LABELS"})
    assert images.spec.kind == "image" and images.spec.input_shape == (8, 8, 1)
    assert images.provenance["units"] == {"IMAGES": "adu"}
    with pytest.raises(UserError, match="class are not numbers"):
        load_dataset(str(path), {"hdu": "CAT", "target": "flux"})
    with pytest.raises(UserError, match="labels=HDU"):
        load_dataset(str(path), {"hdu": "IMAGES"})


@pytest.mark.parametrize("suffix", [".parquet", ".feather"])
def test_parquet_and_feather_tables(tmp_path, suffix):
    import pandas as pd

    rng = np.random.default_rng(3)
    table = pd.DataFrame({"pt_1": rng.normal(50, 40, 80), "eta_1": rng.normal(0, 1, 80),
                          "kind": ["a", "b"] * 40, "energy": rng.normal(100, 30, 80)})
    path = tmp_path / f"table{suffix}"
    getattr(table, f"to_{suffix[1:]}")(path)
    ds = load_dataset(str(path), {"target": "energy", "features": "*_1"})
    assert ds.provenance["features"] == ["pt_1", "eta_1"]
    assert np.allclose(np.sort(np.concatenate([ds.y_train, ds.y_val, ds.y_test])),
                       np.sort(table.energy.to_numpy(np.float32)))
    with pytest.raises(UserError, match="kind are not numbers"):
        load_dataset(str(path), {"target": "energy"})
    assert ("kind", "large_string") in describe_file(str(path)).rows or (
        "kind", "string") in describe_file(str(path)).rows


@pytest.mark.parametrize("suffix,reader", [(".root", "ROOT"), (".h5", "HDF5"),
                                           (".fits", "FITS"), (".parquet", "Parquet"),
                                           (".feather", "Feather")])
def test_a_damaged_file_is_one_line(tmp_path, run_cli, suffix, reader):
    from conftest import assert_user_error

    path = tmp_path / f"broken{suffix}"
    path.write_bytes(b"this is not what the name says\n" * 40)
    out = tmp_path / "runs"
    assert_user_error(run_cli("train", "mlp", "-d", path, "--out", out),
                      f"cannot read '{path}' as a", reader)
    assert not out.exists() or not any(out.iterdir())  # no run folder left behind
    assert_user_error(run_cli("info", path), "cannot read")


def test_a_truncated_fits_file_is_refused_not_read(tmp_path):
    from astropy.io import fits

    table = fits.BinTableHDU.from_columns([fits.Column("a", "E", array=np.arange(500.0)),
                                           fits.Column("c", "J", array=np.arange(500) % 2)])
    fits.HDUList([fits.PrimaryHDU(), table]).writeto(tmp_path / "whole.fits")
    whole = (tmp_path / "whole.fits").read_bytes()
    (tmp_path / "cut.fits").write_bytes(whole[:len(whole) * 2 // 3])  # a copy cut short
    with pytest.raises(UserError, match="truncated"):
        load_dataset(str(tmp_path / "cut.fits"), {"target": "c"})


def test_a_missing_reader_says_what_to_install(tmp_path, monkeypatch):
    (tmp_path / "t.root").write_bytes(b"x")
    monkeypatch.setitem(sys.modules, "uproot", None)  # `import uproot` fails
    with pytest.raises(UserError, match=r"pip install 'mlphys\[root\]'"):
        load_dataset(str(tmp_path / "t.root"))


def test_info_of_a_file_lists_branches_without_tensorflow(events_root, tmp_path):
    path, _ = events_root
    code = ("import sys; from mlphys.cli.main import main; sys.argv = ['mlphys', 'info', "
            f"{str(path)!r}, '-o', 'tree=Events', '--json']\ntry: main()\nexcept SystemExit: "
            "pass\nprint('TF', 'tensorflow' in sys.modules)")
    shown = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                           timeout=120)
    assert shown.stdout.strip().endswith("TF False"), shown.stdout + shown.stderr
    listing = json.loads(shown.stdout.rsplit("TF", 1)[0])
    rows = {item["branch"]: item for item in listing["items"]}
    assert rows["jet_pt"]["column"].startswith("jagged") and rows["pt_1"]["column"] == "yes"


@pytest.mark.slow
def test_standardised_regression_beats_raw_units_and_predicts_raw_units(tmp_path):
    """The same MLP on Z -> mu mu four-momenta (GeV): standardised features and target
    (inside the model) against raw columns; the saved model takes and returns GeV."""
    import pandas as pd

    from mlphys import train
    from mlphys.run import Run

    path = tmp_path / "zmumu.parquet"
    pd.DataFrame(zmumu(1000)).to_parquet(path)
    runs = {normalize: train("mlp", str(path), {"units": 32}, out=tmp_path / normalize,
                             dataset_options={"target": "mass"}, epochs=5, seed=0,
                             normalize=normalize, quiet=True)
            for normalize in ("auto", "none")}
    r2 = {k: run.metrics["r2"] for k, run in runs.items()}
    mae = {k: run.metrics["mae"] for k, run in runs.items()}
    assert r2["auto"] > r2["none"] + 0.5 and mae["auto"] < mae["none"], (r2, mae)
    saved = json.loads((runs["auto"].path / "config.json").read_text())
    assert saved["training"]["normalize"] == "on"
    reopened = Run.open(runs["auto"].path)
    data = reopened.load_data()
    predicted = reopened.model.predict(data.x_test, verbose=0).ravel()
    assert abs(np.mean(predicted) - 91.2) < 3  # GeV, not standardised units
    assert np.mean(np.abs(predicted - data.y_test)) == pytest.approx(mae["auto"], rel=1e-3)


def test_hdf5_streams_the_same_rows_in_chunks_and_trains(tmp_path, run_cli, monkeypatch):
    """`--stream`: the x arrays stay on disk (an ArrayStream), read a chunk at a time;
    one pass gives exactly the in-memory split, a shuffled pass the same rows and labels."""
    from conftest import assert_user_error

    from mlphys import train
    from mlphys.streams import ArrayStream

    rng = np.random.default_rng(4)
    x = rng.normal(50, 40, (1200, 5))
    path = tmp_path / "big.h5"
    with h5py.File(path, "w") as f:
        f["x"], f["y"] = x, 2 * x[:, 0] - x[:, 1]
    streamed = load_dataset(str(path), {"x": "/x", "y": "/y", "stream": "true"})
    memory = load_dataset(str(path), {"x": "/x", "y": "/y"})
    assert isinstance(streamed.x_train, ArrayStream) and streamed.sizes() == memory.sizes()
    monkeypatch.setattr(ArrayStream, "CHUNK_BATCHES", 2)  # several chunks in this file
    batches = list(streamed.x_train.chunks(100, streamed.y_train))
    assert np.array_equal(np.concatenate([b[0] for b in batches]), memory.x_train)
    shuffled = list(streamed.x_train.chunks(100, streamed.y_train, shuffle_seed=1))
    xs, ys = (np.concatenate([b[i] for b in shuffled]) for i in (0, 1))
    assert not np.array_equal(xs, memory.x_train)
    assert np.allclose(2 * xs[:, 0] - xs[:, 1], ys, rtol=1e-4)
    run = train("mlp", str(path), {"units": 16}, out=tmp_path / "runs", epochs=1, seed=0,
                dataset_options={"x": "/x", "y": "/y", "stream": "true"}, quiet=True)
    assert np.isfinite(run.metrics["mae"]) and run.config.normalize == "none"
    assert_user_error(run_cli("train", "mlp", "-d", tmp_path / "t.feather", "--stream"),
                      "--stream reads image folders, HDF5 and Parquet files")


def test_parquet_streams_row_groups_the_same_rows_and_trains(tmp_path, run_cli, monkeypatch):
    """`--stream` on Parquet: the features stay in the file (an ArrayStream of its row
    groups); a pass gives the in-memory split exactly, a shuffled one the same rows with
    their labels; a NaN is refused at load with its row; the CLI trains streamed and
    automatically above the size threshold."""
    import pandas as pd
    import pyarrow.parquet as pq

    import mlphys.data.parquet_files as parquet_files
    from conftest import assert_user_error
    from mlphys.streams import ArrayStream

    rng = np.random.default_rng(5)
    table = pd.DataFrame({"pt": rng.normal(50, 40, 700), "eta": rng.normal(0, 1, 700)})
    table["signal"] = (table.pt / 40 + table.eta > 1.25).astype(int)
    path = tmp_path / "events.parquet"
    table.to_parquet(path, row_group_size=128)
    assert pq.ParquetFile(path).num_row_groups == 6
    streamed = load_dataset(str(path), {"target": "signal", "stream": "true"})
    memory = load_dataset(str(path), {"target": "signal"})
    assert isinstance(streamed.x_train, ArrayStream) and streamed.sizes() == memory.sizes()
    np.testing.assert_array_equal(streamed.y_train, memory.y_train)
    for split in ("train", "val", "test"):
        got = np.concatenate(list(getattr(streamed, f"x_{split}").chunks(50)))
        np.testing.assert_array_equal(got, getattr(memory, f"x_{split}"))
    xs, ys = (np.concatenate(part) for part in zip(*streamed.x_train.chunks(
        50, streamed.y_train, shuffle_seed=3)))
    assert not np.array_equal(xs, memory.x_train)
    np.testing.assert_array_equal(ys, (xs[:, 0] / 40 + xs[:, 1] > 1.25).astype(int))

    table.loc[300, "eta"] = np.nan
    table.to_parquet(tmp_path / "nan.parquet", row_group_size=128)
    with pytest.raises(UserError, match="missing values.*rows 256 to 383"):
        load_dataset(str(tmp_path / "nan.parquet"), {"target": "signal", "stream": "true"})

    result = run_cli("train", "mlp", "-d", path, "--target", "signal", "--stream",
                     "--epochs", "1", "--batch-size", "64", "--seed", "0", "--out",
                     tmp_path / "runs", "--json", "--quiet")
    assert result.exit_code == 0, result.output
    run = json.loads(result.output)
    config = json.loads(open(f"{run['run_dir']}/config.json").read())
    assert config["data"]["provenance"]["stream"] is True
    assert config["training"]["normalize"] == "on"  # a table, standardised from the file
    mean, variance = streamed.x_train.moments()
    np.testing.assert_allclose(mean, memory.x_train.astype(float).mean(axis=0), rtol=1e-9)
    np.testing.assert_allclose(variance, memory.x_train.astype(float).var(axis=0), rtol=1e-9)
    again = run_cli("evaluate", run["run_dir"], "--json")  # reopens the stream's test rows
    assert again.exit_code == 0, again.output
    assert json.loads(again.output)["metrics"]["accuracy"] == pytest.approx(
        run["metrics"]["accuracy"])
    monkeypatch.setattr(parquet_files, "STREAM_ABOVE_BYTES", 1000)  # 700 x 2 x 4 bytes
    assert isinstance(load_dataset(str(path), {"target": "signal"}).x_train, ArrayStream)
    assert_user_error(run_cli("train", "mlp", "-d", path, "-o", "target=nope", "--stream"),
                      "no column 'nope'")
