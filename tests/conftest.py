import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import numpy as np  # noqa: E402
import pytest  # noqa: E402
from PIL import Image  # noqa: E402
from click.testing import CliRunner  # noqa: E402


# The floor job of .ci/run runs `pytest -m floor` at the oldest versions pyproject.toml
# allows: a smoke subset, one or a few tests for each API mlphys uses (train and its
# options, evaluate, tune, saliency, augment, resume after a kill, the CLI's errors, and
# the zoo's quick checks of two entries; polyreg solves through mlphys.compat.pinv).
# Whole files for resume and the CLI's errors; elsewhere tests by name, and a name that
# is no longer collected is an error, so a renamed test cannot drop out unnoticed.
FLOOR_FILES = {"test_resume.py", "test_cli_errors.py"}
FLOOR_TESTS = {
    "test_training.py": {"test_cnn_learns_digits_and_writes_a_complete_run_folder",
                         "test_evaluate_reopens_the_run_and_reproduces_its_metrics",
                         "test_regression_on_a_csv_reports_mse_mae_r2",
                         "test_early_stopping_stops_when_validation_stalls",
                         "test_mixed_precision_computes_in_bfloat16_with_a_float32_output"},
    "test_tune.py": {"test_grid_search_table_csv_plot_logs_and_best_run",
                     "test_random_and_bayesian_search_use_the_ranges",
                     "test_a_nan_loss_fails_the_trial"},
    "test_saliency.py": {"test_all_methods_on_a_functional_cnn_write_figure_and_maps",
                         "test_sanity_check_randomises_layers_from_the_top",
                         "test_errors_are_one_line"},
    "test_augment.py": {"test_both_engines_agree_statistically",
                        "test_featurewise_statistics_travel_inside_the_saved_model",
                        "test_augmentation_errors"},
    "test_one_pipeline.py": {"test_train_returns_a_run_and_config_json_round_trips",
                             "test_a_run_folder_of_the_previous_release_opens_and_evaluates"},
}
FLOOR_ZOO = {"mlp", "polyreg"}  # of test_reproduce_zoo.py's test_quick_checks_pass


def pytest_collection_modifyitems(config, items):
    seen = set()
    for item in items:
        file = item.path.name
        if file == "test_reproduce_zoo.py":
            chosen = hasattr(item, "callspec") and item.callspec.params.get("name") in FLOOR_ZOO
        else:
            chosen = file in FLOOR_FILES or item.originalname in FLOOR_TESTS.get(file, ())
        if chosen:
            item.add_marker(pytest.mark.floor)
            seen.add((file, item.originalname))
    collected = {item.path.name for item in items}
    missing = sorted(f"{file}::{name}" for file, names in FLOOR_TESTS.items()
                     if file in collected for name in names if (file, name) not in seen)
    if missing and config.getoption("markexpr") == "floor":
        raise pytest.UsageError(f"floor tests not found (renamed?): {', '.join(missing)}; "
                                "update FLOOR_TESTS in tests/conftest.py")


@pytest.fixture(autouse=True)
def _old_objects_out_of_the_collectors_sight():
    """After each test, collect its garbage and freeze what is left (`gc.freeze()`).

    mlphys collects garbage in full between tuner trials and `reproduce` checks
    (`keras.backend.clear_session()`), and a full collection walks every object alive. In
    one `mlphys` command that is TensorFlow, frozen at import (mlphys.quiet), and the
    command's own objects. A test worker lives for hundreds of tests, and what they leave
    alive (models held by fixtures and caches, traced graphs) made each collection cost
    0.3-0.7 s; 117 s of the suite's CPU went to them (py-spy). Each collection here walks
    only what the test just made. What is frozen stays until the worker exits."""
    yield
    import gc

    gc.collect()
    gc.freeze()


@pytest.fixture(autouse=True, scope="session")
def _data_dir_of_the_session(tmp_path_factory):
    """Generated datasets and their caches go to a temporary folder, never to ~/.keras."""
    if "MLPHYS_DATA_DIR" not in os.environ:
        os.environ["MLPHYS_DATA_DIR"] = str(tmp_path_factory.mktemp("mlphys-data"))
    yield


@pytest.fixture
def run_cli():
    """Run `mlphys ARGS...` in this process; returns Click's Result."""
    from mlphys.cli.main import cli

    def run(*args):
        return CliRunner().invoke(cli, [str(a) for a in args])

    return run


def assert_user_error(result, *fragments):
    """One line 'Error: ...' naming the problem, exit status 2, no traceback."""
    lines = [line for line in result.output.strip().splitlines() if line.strip()]
    assert result.exit_code == 2, result.output
    assert len(lines) == 1 and lines[0].startswith("Error: "), result.output
    assert "Traceback" not in result.output
    for fragment in fragments:
        assert fragment in lines[0], lines[0]


@pytest.fixture(scope="session")
def bright_squares(tmp_path_factory):
    """16x16 grey images: noise (class 'empty') or noise with a bright 5x5 square ('square')."""
    root = tmp_path_factory.mktemp("folder") / "squares"
    rng = np.random.default_rng(0)
    for label in ("empty", "square"):
        (root / label).mkdir(parents=True)
        for i in range(60):
            image = rng.uniform(0, 120, (16, 16))
            if label == "square":
                r, c = rng.integers(0, 11, 2)
                image[r:r + 5, c:c + 5] = 255
            Image.fromarray(image.astype(np.uint8)).save(root / label / f"{i}.png")
    return root
