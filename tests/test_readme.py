"""The README's promises: its model and dataset lists are the registry's, its test command
is what CI runs."""

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def _block(text, name):
    return re.search(rf"<!-- {name}:start -->\n(.*?)\n<!-- {name}:end -->", text, re.S).group(1)


def test_readme_lists_are_generated_from_the_registry(run_cli):
    readme = (ROOT / "README.md").read_text()
    for what in ("models", "datasets"):
        result = run_cli("list", what, "--markdown")
        assert result.exit_code == 0
        assert _block(readme, what).strip() == result.output.strip(), (
            f"README is stale: paste the output of 'mlphys list {what} --markdown'")


def test_ci_runs_the_readme_test_command():
    readme = (ROOT / "README.md").read_text()
    command = ".venv/bin/pip install -e '.[dev]' && .venv/bin/python -m pytest"
    assert command in readme
    assert command in (ROOT / ".ci" / "run").read_text()
