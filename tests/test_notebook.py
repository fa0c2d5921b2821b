"""examples/quickstart.ipynb runs top to bottom in a real Jupyter kernel (nbclient), so the
notebook cannot rot; and a `Run` shows in Jupyter as its metrics table and curves."""

from pathlib import Path

import pytest

nbformat = pytest.importorskip("nbformat")  # the dev extra's (the floor job has the core)
NotebookClient = pytest.importorskip("nbclient").NotebookClient

NOTEBOOK = Path(__file__).resolve().parent.parent / "examples" / "quickstart.ipynb"


@pytest.mark.slow
def test_quickstart_notebook_executes(tmp_path, monkeypatch):
    monkeypatch.setenv("MLPHYS_QUICKSTART_EPOCHS", "1")
    monkeypatch.setenv("MLPHYS_QUICKSTART_OUT", str(tmp_path / "runs"))
    monkeypatch.setenv("TF_CPP_MIN_LOG_LEVEL", "2")
    notebook = nbformat.read(NOTEBOOK, as_version=4)
    NotebookClient(notebook, timeout=300, kernel_name="python3",
                   resources={"metadata": {"path": str(tmp_path)}}).execute()
    outputs = [o for cell in notebook.cells if cell.cell_type == "code"
               for o in cell.get("outputs", [])]
    html = [o["data"]["text/html"] for o in outputs if "text/html" in o.get("data", {})]
    run_view = next(h for h in html if "learning curves" in h)
    assert "accuracy" in run_view and "data:image/png;base64," in run_view
    assert any("top2_probability" in h for h in html)  # the predictions' table
    assert any("image/png" in o.get("data", {}) for o in outputs)  # the saliency figure
    text = "".join(o.get("text", "") for o in outputs)
    assert "mean spread over the passes" in text
    assert list((tmp_path / "runs").glob("cnn-digits-*/saliency/*/saliency.png"))
