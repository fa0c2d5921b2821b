"""Model registry, hyperparameter declarations, plugins: everything `list` and `info` use."""

import subprocess
import sys
import textwrap

import pytest

from mlphys.errors import UserError
from mlphys.hparams import declared_hyperparameters, parse_assignments, resolve_params
from mlphys.registry import get_model, list_models

PYTHON = sys.executable


def test_zoo_models_are_registered_with_their_source():
    assert {"cnn", "logreg", "mlp"} <= set(list_models())
    assert get_model("cnn").source == "MLMM 7.14.5"
    assert get_model("cnn").dataset == "digits"


def test_wildcards_select_models():
    assert list_models("c?n") == ["cnn"]
    assert list_models("*p") == ["mlp"]
    assert list_models("zzz*") == []


def test_unknown_model_suggests_the_closest_names():
    with pytest.raises(UserError, match="did you mean 'cnn'"):
        get_model("ccn")


def test_info_reads_declarations_that_agree_with_keras_tuner():
    """The hyperparameter table `info` shows without TensorFlow matches what the builder
    really declares when it runs."""
    import keras_tuner

    from mlphys.building import compile_for_task
    from mlphys.datasets import DataSpec

    spec = DataSpec((28, 28, 1), "classification", 10, "image", tuple("0123456789"))
    for name in ("cnn", "mlp", "logreg"):
        entry = get_model(name)
        hp = keras_tuner.HyperParameters()
        model = entry.builder(hp, spec)
        compile_for_task(model, hp, spec)
        declared = {d.name: d.default for d in declared_hyperparameters(entry)}
        assert declared == dict(hp.values), name


def test_mlp_space_covers_idaml_defaults_and_the_mlmm_search_space():
    decl = {d.name: d for d in declared_hyperparameters(get_model("mlp"))}
    assert decl["hidden_layers"].default == 2 and decl["units"].default == 512
    assert decl["hidden_layers"].low <= 1 and decl["hidden_layers"].high >= 3
    assert decl["units"].low <= 5 and decl["units"].high >= 512
    assert decl["learning_rate"].low <= 1e-4 and decl["learning_rate"].high >= 1.0
    assert {"relu", "tanh", "linear"} <= set(decl["activation"].values)
    assert {"dropout", "l2"} <= set(decl)


def test_params_are_typed_by_the_declarations():
    entry = get_model("mlp")
    typed = resolve_params(entry, {"units": "256", "dropout": "0.2", "activation": "tanh"})
    assert typed == {"units": 256, "dropout": 0.2, "activation": "tanh"}
    with pytest.raises(UserError, match="expected an integer"):
        resolve_params(entry, {"units": "many"})
    with pytest.raises(UserError, match="choose one of"):
        resolve_params(entry, {"activation": "swishy"})
    with pytest.raises(UserError, match="did you mean 'units'"):
        resolve_params(entry, {"unit": "3"})


def test_malformed_assignments_are_refused():
    assert parse_assignments(["a=1", "b = x"], "--param") == {"a": "1", "b": "x"}
    for bad in ("units", "=3", "units="):
        with pytest.raises(UserError, match="NAME=VALUE"):
            parse_assignments([bad], "--param")


PLUGIN = textwrap.dedent('''
    from mlphys import register_model

    @register_model("plugnet", task="classification", inputs="vector", dataset="iris",
                    source="a user")
    def plugnet(hp, spec):
        """A plugin model."""
        import keras
        width = hp.Int("width", 2, 64, default=8)
        inputs = keras.Input(spec.input_shape)
        hidden = keras.layers.Dense(width, activation="relu")(inputs)
        outputs = keras.layers.Dense(spec.num_outputs, activation="softmax")(hidden)
        return keras.Model(inputs, outputs)
''')


def test_models_from_a_file_are_listed(tmp_path):
    (tmp_path / "my_models.py").write_text(PLUGIN)
    out = subprocess.run([PYTHON, "-m", "mlphys", "list", "models", "--models-from",
                          str(tmp_path / "my_models.py")], capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    assert "plugnet" in out.stdout and "a user" in out.stdout


def test_models_from_an_installed_entry_point(tmp_path):
    """A package exposing the entry-point group `mlphys.models` adds its models."""
    (tmp_path / "plugpkg.py").write_text(PLUGIN)
    dist = tmp_path / "plugpkg-1.0.dist-info"
    dist.mkdir()
    (dist / "METADATA").write_text("Metadata-Version: 2.1\nName: plugpkg\nVersion: 1.0\n")
    (dist / "entry_points.txt").write_text("[mlphys.models]\nplugpkg = plugpkg\n")
    out = subprocess.run([PYTHON, "-m", "mlphys", "info", "plugnet"], capture_output=True,
                         text=True, env={"PYTHONPATH": str(tmp_path), "PATH": "/usr/bin"})
    assert out.returncode == 0, out.stderr
    assert "A plugin model" in out.stdout and "width" in out.stdout


def test_help_list_and_info_do_not_import_tensorflow():
    code = textwrap.dedent("""
        import sys
        from click.testing import CliRunner
        from mlphys.cli.main import cli
        for args in (["--help"], ["list", "models"], ["list", "datasets", "c*"],
                     ["info", "cnn"], ["info", "digits"], ["train", "--help"]):
            result = CliRunner().invoke(cli, args)
            assert result.exit_code == 0, (args, result.output)
        print("tensorflow" in sys.modules, "keras" in sys.modules, "jax" in sys.modules)
    """)
    out = subprocess.run([PYTHON, "-c", code], capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    assert out.stdout.split() == ["False", "False", "False"]


def test_python_dash_m_and_version():
    out = subprocess.run([PYTHON, "-m", "mlphys", "--version"], capture_output=True,
                         text=True)
    assert out.returncode == 0 and "mlphys" in out.stdout


# The registered names ("mlphys>ClassName") that the run folders of every release carry:
# `keras.models.load_model` finds the classes by them, so they never change.
SAVED_CLASS_NAMES = ("Ensemble", "VAE", "GAN", "RandomFourierFeatures",
                     "PhysicsInformedNetwork", "RobotPosition", "PolicyGradient", "RBM",
                     "ChainHeights", "SpringChain", "PolynomialFeatures", "LeastSquaresFit",
                     "RidgePenalty", "LorentzianPeak", "LogX", "Preprocessing",
                     "Autoencoder", "DiceLoss", "IoULoss", "FocalLoss")


def test_define_keras_objects_registers_every_saved_class_name():
    code = textwrap.dedent(f"""
        import keras
        from mlphys.registry import define_keras_objects
        define_keras_objects()
        names = {SAVED_CLASS_NAMES!r}
        missing = [n for n in names
                   if keras.saving.get_registered_object("mlphys>" + n) is None]
        print("missing:", *missing)
    """)
    out = subprocess.run([PYTHON, "-c", code], capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    assert out.stdout.split() == ["missing:"]


def test_register_keras_objects_takes_module_names():
    from mlphys.registry import register_keras_objects

    with pytest.raises(TypeError, match="names of the modules"):
        register_keras_objects(lambda: None)


def _imports(path, lazy):
    """Module names imported by the file at `path`: its top-level statements, and with
    `lazy` the imports inside its functions too."""
    import ast

    found = []

    def visit(node):
        for child in ast.iter_child_nodes(node):
            if not lazy and isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef)):
                continue
            if isinstance(child, ast.Import):
                found.extend(alias.name for alias in child.names)
            elif isinstance(child, ast.ImportFrom) and child.module and not child.level:
                found.append(child.module)
                found.extend(f"{child.module}.{alias.name}" for alias in child.names)
            visit(child)

    visit(ast.parse(path.read_text()))
    return found


def _import_cycles(lazy):
    """Groups of mlphys modules that import each other (strongly connected components of
    the import graph with more than one module)."""
    from pathlib import Path

    root = Path(__file__).resolve().parent.parent
    packages = {"mlphys": "mlphys", "models": "mlphys.models", "data": "mlphys.data",
                "cli": "mlphys.cli"}
    paths = {}
    for folder, package in packages.items():
        for path in (root / folder).glob("*.py"):
            paths[package if path.stem == "__init__" else f"{package}.{path.stem}"] = path
    edges = {name: {m for m in _imports(path, lazy) if m in paths and m != name}
             for name, path in paths.items()}

    def reach(start):
        seen, todo = set(), [start]
        while todo:
            for target in edges[todo.pop()] - seen:
                seen.add(target)
                todo.append(target)
        return seen

    reachable = {name: reach(name) for name in edges}
    groups = {frozenset({name} | {m for m in reachable[name] if name in reachable[m]})
              for name in edges}
    return [sorted(group) for group in groups if len(group) > 1]


def test_no_import_cycles_among_mlphys_modules():
    assert _import_cycles(lazy=False) == []
    # counting the imports inside functions too, the registry, the ensembles and the zoo
    # (zoo modules and the Keras classes they import lazily) take part in no cycle
    lazy = [group for group in _import_cycles(lazy=True)
            if any(m.startswith(("mlphys.models", "mlphys.registry", "mlphys.ensemble"))
                   for m in group)]
    assert lazy == []
