import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import numpy as np  # noqa: E402
import pytest  # noqa: E402
from PIL import Image  # noqa: E402
from click.testing import CliRunner  # noqa: E402


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
