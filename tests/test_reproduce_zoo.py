"""Every entry of the zoo through `mlphys reproduce --quick`: its quick checks pass.

One test per entry (the same call as `mlphys reproduce NAME --quick`), so a failure names
the entry; the full checks (`mlphys reproduce --all`) are the closing notes' business.
"""

import pytest

from mlphys.registry import get_model, list_models
from mlphys.reproduce import checks_of, run_checks

ZOO = [name for name in list_models() if get_model(name).builder.__module__
       .startswith("mlphys.models.")]


def test_every_entry_has_a_source_a_default_dataset_and_quick_checks():
    from mlphys.datasets import list_datasets

    for name in ZOO:
        entry = get_model(name)
        assert entry.source, name
        assert entry.dataset in list_datasets(), f"{name}: default dataset {entry.dataset}"
        assert checks_of(name, quick=True), f"{name} declares no quick check"


@pytest.mark.parametrize("name", ZOO)
def test_quick_checks_pass(name, tmp_path, monkeypatch):
    monkeypatch.setenv("MLPHYS_DATA_DIR", str(tmp_path / "data"))
    rows = run_checks([name], quick=True)
    failed = [row for row in rows if row["result"] != "pass"]
    assert not failed, "\n".join(f"{r['check']}: expected {r['expected']}, obtained "
                                 f"{r['obtained']} ({r['result']}) {r['note']}"
                                 for r in failed)
