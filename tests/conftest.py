import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import numpy as np  # noqa: E402
import pytest  # noqa: E402
from PIL import Image  # noqa: E402
from click.testing import CliRunner  # noqa: E402


# The floor job of .ci/run runs `pytest -m floor` at the oldest versions pyproject.toml
# allows: train, evaluate, tune, saliency, augment, resume, the CLI's errors, and the zoo's
# quick checks of two entries (polyreg solves through mlphys.compat.pinv). The marker goes
# on whole files, so a test renamed or added in them stays in the subset; the slowest tests
# that check no API beyond the rest (separate processes, repeated or longer searches, an
# accuracy after augmentation) are left out by name, which, renamed, only costs time.
FLOOR_FILES = {"test_training.py", "test_tune.py", "test_saliency.py", "test_augment.py",
               "test_resume.py", "test_cli_errors.py"}
FLOOR_LEFT_OUT = {"test_chief_and_two_workers_share_the_trials",
                  "test_isolated_trials_run_in_their_own_process",
                  "test_repeats_report_mean_and_spread",
                  "test_hyperband_continues_promoted_trials",
                  "test_an_interrupted_search_resumes_without_redoing_trials",
                  "test_augmented_training_holds_up_on_rotated_and_shifted_digits"}
FLOOR_ZOO = {"mlp", "polyreg"}  # of test_reproduce_zoo.py's test_quick_checks_pass


def pytest_collection_modifyitems(items):
    for item in items:
        file = item.path.name
        if file == "test_reproduce_zoo.py":
            chosen = hasattr(item, "callspec") and item.callspec.params.get("name") in FLOOR_ZOO
        else:
            chosen = file in FLOOR_FILES and item.originalname not in FLOOR_LEFT_OUT
        if chosen:
            item.add_marker(pytest.mark.floor)


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
