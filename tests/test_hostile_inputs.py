"""Hostile inputs to every command: one line 'Error: ...', exit 2, no traceback, nothing of
the user's changed or deleted, no run folder left behind (issue 13).

Every case runs in this process with Click's CliRunner, in one shared workspace of bad
files (made once for the module); the workspace is hashed before and after each case.
"""

import hashlib
import json
import shutil
import textwrap
import zipfile
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from click.testing import CliRunner

PLUGIN = textwrap.dedent('''
    from mlphys import register_model

    HIGH = 0.9  # a bound the reader of the source cannot see


    @register_model("hostile_dyn", task="classification", inputs="any", dataset="iris",
                    source="a test")
    def hostile_dyn(hp, spec):
        """Dropout at a rate whose range is not literal."""
        import keras
        rate = hp.Float("rate", 0.0, HIGH, default=0.1)
        inputs = keras.Input(spec.input_shape)
        x = keras.layers.Dropout(rate)(keras.layers.Flatten()(inputs))
        outputs = keras.layers.Dense(spec.num_outputs, activation="softmax")(x)
        return keras.Model(inputs, outputs)
''')


def _vectors(n=100, features=4, seed=0):
    rng = np.random.default_rng(seed)
    return rng.normal(size=(n, features)).astype(np.float32), rng.integers(0, 2, n)


def _bad_data(ws):
    x, y = _vectors()
    np.savez(ws / "nan.npz", x_train=np.full_like(x, np.nan), y_train=y)
    inf_x = x.copy()
    inf_x[7, 2] = np.inf
    np.savez(ws / "inf_test.npz", x_train=x, y_train=y, x_test=inf_x[:10], y_test=y[:10])
    y_nan = x[:, 0].astype(np.float64) * 2.5
    y_nan[3] = np.nan
    np.savez(ws / "nan_target.npz", x_train=x, y_train=y_nan)
    np.savez(ws / "one_class.npz", x_train=x, y_train=np.zeros(100, dtype=int))
    np.savez(ws / "unseen.npz", x_train=x, y_train=y, x_test=x[:9],
             y_test=np.array([0, 1, 2] * 3))
    np.savez(ws / "nokeys.npz", features=x, labels=y)
    np.savez(ws / "short.npz", x_train=x, y_train=y[:50])
    (ws / "garbage.npz").write_bytes(b"not a zip file at all")
    (ws / "table.xlsx").write_text("x")
    table = pd.DataFrame(x, columns=list("abcd"))
    table["label"] = y
    table.loc[5, "c"] = np.inf
    table.to_csv(ws / "inf.csv", index=False)
    pd.DataFrame({"a": [1.0, 2, 3, 4], "b": [0, 1, 0, 1]}).to_csv(ws / "t.csv", index=False)
    (ws / "photos" / "cats").mkdir(parents=True)
    (ws / "photos" / "cats" / "notes.txt").write_text("no image here")
    (ws / "a_file").write_text("precious")
    (ws / "aug.json").write_text("{not json")
    (ws / "hostile_dyn.py").write_text(PLUGIN)
    (ws / "broken_plugin.py").write_text("raise RuntimeError('half-written plugin')\n")


def _model_files(ws):
    """Saved models of every wrong kind, from one good tiny model."""
    import h5py
    import keras

    model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(3, activation="softmax")])
    model.compile(loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    model.save(ws / "good.keras")
    data = (ws / "good.keras").read_bytes()
    (ws / "truncated.keras").write_bytes(data[:len(data) // 2])
    (ws / "fake.keras").write_text("hello, I am text\n")
    shutil.copy(ws / "good.keras", ws / "good.zip")
    with zipfile.ZipFile(ws / "other.keras", "w") as archive:
        archive.writestr("readme.txt", "no model here")
    with zipfile.ZipFile(ws / "good.keras") as src, \
            zipfile.ZipFile(ws / "plugin_model.keras", "w") as dst:
        for item in src.namelist():
            content = src.read(item)
            if item == "config.json":  # a layer class no process has registered
                config = json.loads(content)
                layer = config["config"]["layers"][-1]
                layer.update(module="my_plugin", class_name="MysteryLayer",
                             registered_name="my_plugin>MysteryLayer")
                content = json.dumps(config).encode()
            dst.writestr(item, content)
    with h5py.File(ws / "only.weights.h5", "w") as f:
        f["kernel"] = np.zeros(3)
    (ws / "text.h5").write_text("not hdf5")
    with h5py.File(ws / "keras2.h5", "w") as f:  # a legacy model with a Keras 2 layer
        f.attrs["model_config"] = json.dumps({"class_name": "Sequential", "config": {
            "name": "old", "layers": [{"class_name": "OldKeras2Layer", "config": {}}]}})
        f.attrs["keras_version"] = "2.4.0"


@pytest.fixture(scope="module")
def workspace(tmp_path_factory):
    """The shared folder of bad inputs, with one good run folder (logreg on iris)."""
    from mlphys.cli.main import cli

    ws = tmp_path_factory.mktemp("hostile")
    _bad_data(ws)
    _model_files(ws)
    made = CliRunner().invoke(cli, ["train", "logreg", "-d", "iris", "--epochs", "1",
                                    "--seed", "1", "-q", "--out", str(ws / "run_parent")])
    assert made.exit_code == 0, made.output
    (run,) = (ws / "run_parent").iterdir()
    return ws, run


# (id, arguments with WS for the workspace, RUN for the run folder and OUT for an
#  output folder that must stay empty, fragments of the one line)
CASES = [
    # names
    ("unknown-model", ["train", "cnnn", "--out", "OUT"], ["unknown model 'cnnn'", "'cnn'"]),
    ("unknown-dataset", ["train", "cnn", "-d", "digitz", "--out", "OUT"], ["'digits'"]),
    ("incompatible", ["train", "cnn", "-d", "iris", "--out", "OUT"], ["needs"]),
    ("unknown-command", ["trian"], ["No such command", "train"]),
    ("info-unknown", ["info", "mlpp"], ["'mlp'"]),
    ("list-unknown", ["list", "nonsense"], ["models", "datasets"]),
    ("reproduce-unknown", ["reproduce", "nosuch"], ["unknown model 'nosuch'"]),
    ("tune-unknown-tuner", ["tune", "mlp", "-d", "iris", "--tuner", "annealing",
                            "--out", "OUT"], ["unknown tuner"]),
    # hyperparameters
    ("param-range", ["train", "mlp", "-d", "digits", "-p", "dropout=5", "--out", "OUT"],
     ["dropout=5: mlp declares dropout in 0.0 .. 0.8"]),
    ("param-choice", ["train", "mlp", "-p", "activation=swish", "--out", "OUT"],
     ["mlp declares activation as one of relu"]),
    ("param-type", ["train", "mlp", "-p", "units=lots", "--out", "OUT"], ["integer"]),
    ("param-form", ["train", "mlp", "-p", "units", "--out", "OUT"], ["NAME=VALUE"]),
    ("param-unknown", ["train", "mlp", "-p", "widht=3", "--out", "OUT"], ["widht"]),
    ("param-int-range", ["train", "mlp", "-p", "hidden_layers=9", "--out", "OUT"],
     ["mlp declares hidden_layers in 1 .. 3"]),
    ("space-list", ["tune", "mlp", "-d", "iris", "--space", "dropout=0.1,5", "--out", "OUT"],
     ["--space dropout=0.1,5", "mlp declares dropout in 0.0 .. 0.8"]),
    ("space-range", ["tune", "mlp", "-d", "iris", "--space", "dropout=float:0:2",
                     "--out", "OUT"], ["mlp declares dropout in 0.0 .. 0.8"]),
    ("info-shape-param", ["info", "mlp", "--shape", "8,8,1", "-p", "dropout=5"],
     ["mlp declares dropout in 0.0 .. 0.8"]),
    ("info-bad-shape", ["info", "cnn", "--shape", "a,b"], ["--shape"]),
    ("keras-refuses", ["train", "hostile_dyn", "-p", "rate=5", "--models-from",
                       "WS/hostile_dyn.py", "--out", "OUT"],
     ["Keras cannot build 'hostile_dyn' with rate=5.0", "rate"]),
    # data contents
    ("npz-all-nan", ["train", "logreg", "-d", "WS/nan.npz", "--out", "OUT"],
     ["NaN or infinite", "x_train[0, 0]"]),
    ("npz-inf-test", ["train", "logreg", "-d", "WS/inf_test.npz", "--out", "OUT"],
     ["1 NaN or infinite", "x_test[7, 2]"]),
    ("npz-nan-target", ["train", "linreg", "-d", "WS/nan_target.npz", "--out", "OUT"],
     ["y_train[3]"]),
    ("csv-inf", ["train", "logreg", "-d", "WS/inf.csv", "--out", "OUT"],
     ["column 'c', line 7 of the file"]),
    ("one-class", ["train", "logreg", "-d", "WS/one_class.npz", "--out", "OUT"],
     ["one class only"]),
    ("unseen-class", ["train", "logreg", "-d", "WS/unseen.npz", "--out", "OUT"],
     ["test split has class(es) 2"]),
    ("tune-bad-data", ["tune", "mlp", "-d", "WS/nan.npz", "--out", "OUT"], ["NaN"]),
    ("evaluate-bad-data", ["evaluate", "RUN", "-d", "WS/nan.npz"], ["NaN"]),
    # files
    ("npz-garbage", ["train", "mlp", "-d", "WS/garbage.npz", "--out", "OUT"],
     ["cannot read", "garbage.npz"]),
    ("npz-missing", ["train", "mlp", "-d", "WS/nope.npz", "--out", "OUT"], ["no such file"]),
    ("npz-keys", ["train", "mlp", "-d", "WS/nokeys.npz", "--out", "OUT"], ["x_train"]),
    ("npz-lengths", ["train", "mlp", "-d", "WS/short.npz", "--out", "OUT"],
     ["100 samples", "50"]),
    ("unsupported-file", ["train", "mlp", "-d", "WS/table.xlsx", "--out", "OUT"],
     ["supported files"]),
    ("csv-target", ["train", "mlp", "-d", "WS/t.csv", "--target", "energy", "--out", "OUT"],
     ["no column 'energy'"]),
    ("folder-no-images", ["train", "cnn", "-d", "WS/photos", "--out", "OUT"], ["no images"]),
    ("plugin-missing", ["train", "mlp", "--models-from", "WS/nope.py", "--out", "OUT"],
     ["--models-from"]),
    ("evaluate-not-keras", ["evaluate", "WS/fake.keras", "-d", "iris"],
     ["not a Keras model file"]),
    ("evaluate-truncated", ["evaluate", "WS/truncated.keras", "-d", "iris"],
     ["damaged .keras archive"]),
    ("evaluate-other-zip", ["evaluate", "WS/other.keras", "-d", "iris"], ["no config.json"]),
    ("evaluate-suffix", ["evaluate", "WS/good.zip", "-d", "iris"], ["rename it"]),
    ("evaluate-plugin-class", ["evaluate", "WS/plugin_model.keras", "-d", "iris"],
     ["'MysteryLayer'", "--models-from"]),
    ("evaluate-weights-only", ["evaluate", "WS/only.weights.h5", "-d", "iris"],
     ["weights only"]),
    ("evaluate-text-h5", ["evaluate", "WS/text.h5", "-d", "iris"], ["not a Keras model"]),
    ("evaluate-legacy-h5", ["evaluate", "WS/keras2.h5", "-d", "iris"],
     ["legacy HDF5 model", "'OldKeras2Layer'", "re-save"]),
    ("evaluate-missing", ["evaluate", "WS/gone"], ["no run folder or model file"]),
    ("evaluate-not-a-run", ["evaluate", "WS/photos"], ["config.json"]),
    ("evaluate-wrong-data", ["evaluate", "RUN", "-d", "digits"], ["inputs of shape"]),
    ("evaluate-bad-split", ["evaluate", "RUN", "--split", "nope"], ["--split"]),
    ("saliency-not-keras", ["saliency", "WS/fake.keras"], ["not a Keras model file"]),
    ("sample-not-generative", ["sample", "RUN", "--out", "OUT"], ["generative"]),
    ("sample-truncated", ["sample", "WS/truncated.keras", "--out", "OUT"], ["damaged"]),
    ("embed-unknown-layer", ["embed", "RUN", "--layer", "nope", "--out", "OUT"],
     ["unknown layer 'nope'"]),
    ("augment-preset", ["augment", "-d", "digits", "--preset", "nope", "--out", "OUT"],
     ["preset 'nope'"]),
    ("augment-vectors", ["augment", "-d", "iris", "--out", "OUT"], ["images"]),
    ("augment-bad-config", ["augment", "-d", "digits", "--config", "WS/aug.json",
                            "--out", "OUT"], ["aug.json"]),
    # options and folders
    ("dataset-option", ["train", "logreg", "-d", "iris", "-o", "colour=red", "--out", "OUT"],
     ["unknown option", "colour"]),
    ("dataset-option-type", ["train", "logreg", "-d", "iris", "-o", "test_split=abc",
                             "--out", "OUT"], ["test_split=abc"]),
    ("val-split", ["train", "logreg", "-d", "iris", "--val-split", "1.5", "--out", "OUT"],
     ["--val-split"]),
    ("epochs-zero", ["train", "logreg", "-d", "iris", "--epochs", "0", "--out", "OUT"],
     ["--epochs"]),
    ("resume-missing", ["train", "--resume", "WS/no_run"], ["no such run folder"]),
    ("tune-resume-not-tuning", ["tune", "--resume", "WS/photos"], ["not a tuning folder"]),
    ("out-is-a-file", ["train", "logreg", "-d", "iris", "--out", "WS/a_file"], ["is a file"]),
    ("out-under-a-file", ["train", "logreg", "-d", "iris", "--out", "WS/a_file/sub"],
     ["cannot create the output folder"]),
]


def _fingerprint(folder):
    """{relative path: sha256} of every file under `folder`, and the set of folders."""
    files, dirs = {}, set()
    for path in sorted(Path(folder).rglob("*")):
        rel = str(path.relative_to(folder))
        if path.is_dir():
            dirs.add(rel)
        elif "__pycache__" not in rel:  # a plugin's bytecode cache is Python's, not ours
            files[rel] = hashlib.sha256(path.read_bytes()).hexdigest()
    return files, {d for d in dirs if "__pycache__" not in d}


def _expand(args, ws, run, out):
    table = {"WS": str(ws), "RUN": str(run), "OUT": str(out)}
    return [table.get(a.split("/")[0], a.split("/")[0]) + a[len(a.split("/")[0]):]
            for a in args]


@pytest.mark.parametrize("args,fragments", [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_hostile_input_is_one_line_and_changes_nothing(workspace, tmp_path, args, fragments):
    from mlphys.cli.main import cli
    from mlphys.registry import _MODELS

    ws, run = workspace
    out = tmp_path / "out"
    before = _fingerprint(ws)
    models_before = set(_MODELS)
    try:
        result = CliRunner().invoke(cli, _expand(args, ws, run, out))
    finally:  # a plugin loaded by a case leaves the registry as it found it
        for name in set(_MODELS) - models_before:
            del _MODELS[name]
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert result.exit_code == 2, result.output
    assert result.exception is None or isinstance(result.exception, SystemExit), \
        repr(result.exception)  # an unexpected exception would have had a traceback
    assert len(lines) == 1 and lines[0].startswith("Error: "), result.stderr
    assert "Traceback" not in result.output
    for fragment in fragments:
        assert fragment in lines[0], lines[0]
    assert _fingerprint(ws) == before  # nothing of the user's changed, added or removed
    assert not out.exists() or not any(out.iterdir())  # no run folder left behind
