"""Every figure mlphys draws, on tiny synthetic data, as PNG, PDF and SVG: no text outside
the figure, each file reopening in its own reader (PIL, pypdf, an XML parser), fonts
embedded and images at their native resolution; `--figure-format` on every command that
draws; the evaluation figures and the AUC of `mlphys evaluate`.

The checks run in `mlphys.figures.after_save`, so each figure is checked where it is
drawn, by the same save every command uses."""

import json
import xml.etree.ElementTree as ElementTree
from types import SimpleNamespace

import numpy as np
import pytest
from PIL import Image

from mlphys import figures
from conftest import assert_user_error

ALL = ("png", "pdf", "svg")
BOTH = ("png", "pdf")  # SVG once per kind of figure (a third draw of each costs seconds)


def outside(text, renderer):
    """Where `text` lies, in pixels, if its window extent is not inside the canvas of
    `renderer` (the PNG being drawn), else None."""
    box = text.get_window_extent(renderer)
    if box.x0 < -1 or box.y0 < -1 or box.x1 > renderer.width + 1 or \
            box.y1 > renderer.height + 1:
        return (f"{text.get_text()!r}: {np.round(box.extents, 1).tolist()} not inside "
                f"{renderer.width:.0f} x {renderer.height:.0f}")
    return None


def _root(artist):
    """The top figure of an artist drawn in a subfigure or a figure."""
    parent = artist.figure
    while parent.figure is not parent:
        parent = parent.figure
    return parent


def check_file(path, figure):
    """The file reopens in its format's reader, with the figure's size."""
    width, height = figure.get_size_inches()
    if path.suffix == ".png":
        with Image.open(path) as image:
            image.verify()
        with Image.open(path) as image:
            assert abs(image.size[0] - width * figures.DPI) <= 1, (path, image.size)
            assert abs(image.size[1] - height * figures.DPI) <= 1, (path, image.size)
    elif path.suffix == ".svg":
        root = ElementTree.parse(path).getroot()
        assert root.tag.endswith("svg"), root.tag
    else:
        from pypdf import PdfReader

        data = path.read_bytes()
        assert data.startswith(b"%PDF-") and data.rstrip().endswith(b"%%EOF")
        reader = PdfReader(path)
        assert len(reader.pages) == 1
        box = reader.pages[0].mediabox
        assert abs(float(box.width) - width * 72) < 1 and abs(float(box.height) - height * 72) < 1
        assert b"/Type3" not in data  # fonts are embedded TrueType (pdf.fonttype 42)


@pytest.fixture
def checked(monkeypatch, request):
    """Every save in the test writes PNG and PDF (and SVG where the test is marked so)
    and is checked; returns the list of (figure, paths, texts drawn) saved."""
    from matplotlib.backends.backend_agg import RendererAgg

    saved, drawn = [], []
    draw_text = RendererAgg.draw_text

    def record(self, gc, x, y, s, prop, angle, ismath=False, mtext=None):
        if mtext is not None and s.strip():  # measured as it is drawn into the PNG
            drawn.append((mtext, outside(mtext, self)))
        return draw_text(self, gc, x, y, s, prop, angle, ismath=ismath, mtext=mtext)

    def hook(figure, paths):
        mine = [(t, where) for t, where in drawn if _root(t) is figure]
        drawn.clear()
        assert paths[0].suffix == ".png"
        clipped = sorted({where for _, where in mine if where})
        assert not clipped, f"{paths[0].name}: text outside the figure: {clipped}"
        texts = list(dict.fromkeys(t for t, _ in mine))
        for path in paths:
            check_file(path, figure)
        saved.append((figure, paths, texts))

    monkeypatch.setattr(RendererAgg, "draw_text", record)
    monkeypatch.setattr(figures, "after_save", [hook])
    with figures.formats(ALL if "svg" in request.node.name else BOTH):
        yield saved


def _names(saved):
    return sorted(paths[0].stem for _, paths, _ in saved)


# --- the engine's figures --------------------------------------------------------------

def test_run_and_evaluation_figures_png_pdf_svg(checked, tmp_path):
    from mlphys.evaluation import Scores
    from mlphys.plots import plot_curves, plot_evaluation

    history = {"epoch": [0, 1, 2], "loss": [1.0, 0.6, 0.5], "val_loss": [1.1, 0.8, 0.7],
               "accuracy": [0.5, 0.8, 0.9], "val_accuracy": [0.5, 0.7, 0.85]}
    plot_curves(history, tmp_path / "curves.png", "cnn on digits")
    rng = np.random.default_rng(0)
    counts = rng.integers(0, 50, (5, 5)) + np.diag(np.full(5, 400))
    plot_evaluation(Scores({}, counts), [f"class {k}" for k in range(5)], tmp_path,
                    "cnn on a_long_dataset_name: test set")
    truth = rng.integers(0, 2, 300)
    (tmp_path / "b").mkdir()
    plot_evaluation(Scores({}, np.array([[120, 30], [20, 130]]), truth=truth,
                           probability=np.clip(truth * 0.4 + rng.uniform(0, 0.6, 300), 0, 1)),
                    None, tmp_path / "b", "logreg on blobs: test set")
    (tmp_path / "r").mkdir()
    y = rng.normal(size=(200, 2)) * [1.0, 1000.0]
    plot_evaluation(Scores({}, truth=y, predictions=y + rng.normal(size=y.shape)), None,
                    tmp_path / "r", "mlp on lab: test set")
    assert _names(checked) == ["confusion_matrix", "confusion_matrix", "curves",
                               "regression", "roc"]
    cm_texts = [t.get_text() for t in checked[1][2]]
    assert "counts" in cm_texts and "400" in " ".join(cm_texts)
    assert any(t.startswith("0.") and len(t) == 4 for t in cm_texts)  # the normalised rows
    assert any("AUC = " in t.get_text() for t in checked[3][2])


def test_saliency_figures_read_in_full(checked, tmp_path):
    from mlphys.saliency_plots import plot_actmax, plot_maps, plot_sanity

    rng = np.random.default_rng(1)
    x = rng.uniform(size=(2, 12, 12, 1)).astype(np.float32)
    maps = {"smoothgrad": rng.uniform(size=(2, 12, 12)), "gradcam++": rng.uniform(size=(2, 12, 12))}
    rows = [{"input": f"test[{i}]", "true": "3", "predicted": "3", "probability": 0.98,
             "explained": "3"} for i in range(2)]
    plot_maps(x, maps, rows, tmp_path / "saliency.png", title="cnn-digits: test split")
    curves = rng.normal(size=(2, 40)).astype(np.float32)
    plot_maps(curves, {"saliency": rng.uniform(size=(2, 40))}, rows,
              tmp_path / "curves_saliency.png", title="conv1d")
    plot_actmax(x, [0, 1], ["0", "1"], rng.uniform(size=(2, 2)), "classification",
                tmp_path / "actmax.png", title="activation maximisation")
    check = {"threshold": 0.5, "stages": [{"randomised": k, "spearman": {"saliency": 1 - k / 4}}
                                          for k in range(4)]}
    plot_sanity(check, tmp_path / "sanity.png")
    colour_bar_ticks = [t.get_text() for t in checked[0][2]]
    assert "1.0" in colour_bar_ticks and "0.0" in colour_bar_ticks  # not cut to "1."
    assert len(checked) == 4


def test_grids_draw_images_white_on_black_at_native_resolution_svg(checked, tmp_path):
    from pypdf import PdfReader

    from mlphys.augmentation import _draw_preview
    from mlphys.sampling import save_grid

    digits = np.zeros((4, 8, 8, 1), np.float32)
    digits[:, 2:6, 3:5] = 1.0  # a white stroke on black
    save_grid(digits, tmp_path / "samples.png", columns=2, title="dcgan: samples",
              row_names=["zero", "one"])
    save_grid(np.random.default_rng(0).uniform(size=(3, 6, 6, 3)), tmp_path / "rgb.png",
              columns=3)
    _draw_preview(digits[:2], [digits[:2] * 3 - 1], tmp_path / "augment.png", "digits")
    with Image.open(tmp_path / "samples.png") as image:
        pixels = np.asarray(image.convert("L"))
    centre = pixels[pixels.shape[0] // 2 - 40:pixels.shape[0] // 2 + 40,
                    pixels.shape[1] // 2 - 40:pixels.shape[1] // 2 + 40]
    assert np.median(centre) < 128  # a black background, as in the saliency figures
    image_objects = [o.get_object() for o in
                     PdfReader(tmp_path / "samples.pdf").pages[0]["/Resources"]["/XObject"]
                     .values()]
    assert [(o["/Width"], o["/Height"]) for o in image_objects] == [(17, 17)]  # 2 x 8 + 1
    assert len(checked) == 3


def test_embedding_and_tuning_figures(checked, tmp_path):
    import pandas as pd

    from mlphys.embedding import plot_embedding
    from mlphys.tuning_report import plot_trials

    rng = np.random.default_rng(2)
    points = rng.normal(size=(60, 2))
    plot_embedding(points, tmp_path / "embedding.png", colour="class",
                   values=np.repeat(np.arange(3), 20), class_names=["a", "b", "c"],
                   title="t-SNE (perplexity 20) of layer 'bottleneck' (32 values)\n60 "
                         "digits test samples, 10-NN accuracy 0.900, silhouette 0.40")
    plot_embedding(points, tmp_path / "values.png", colour="value", values=points[:, 0],
                   title="PCA")
    table = pd.DataFrame({"units": [16, 64, 256], "learning_rate": [1e-4, 1e-3, 1e-2],
                          "val_loss": [0.5, 0.3, 0.4]})
    plot_trials(table, ["units", "learning_rate"], "val_loss", {"learning_rate"}, {},
                tmp_path / "trials.png", "random search: mlp on digits")
    assert _names(checked) == ["embedding", "trials", "values"]


# --- the zoo's figures, with stand-ins for the trained models ---------------------------

def test_zoo_figures(checked, tmp_path, monkeypatch):
    from mlphys.models import chain, generative, pdf_fit, rbm, regression

    rng = np.random.default_rng(3)
    heights = SimpleNamespace(numpy=lambda: -np.sin(np.linspace(0.2, 2.9, 8)))
    chain._chain_figure(SimpleNamespace(heights=heights, energy=lambda: -1.23), None,
                        tmp_path)
    spec = SimpleNamespace(task="classification", target_shape=(), class_names=("a", "b"))
    x_test, y_test = rng.uniform(size=(20, 8, 8, 1)), rng.integers(0, 2, 20)
    vae = SimpleNamespace(latent_dim=2,
                          generate_images=lambda z: rng.uniform(size=(len(z), 8, 8, 1)),
                          encode=lambda x: rng.normal(size=(len(x), 2)))
    generative._vae_figures(vae, SimpleNamespace(spec=spec, split=lambda s: (x_test, y_test)),
                            tmp_path)
    grid = np.logspace(-3, 0, 50)
    monkeypatch.setattr(pdf_fit, "band", lambda model, x: (np.ravel(x), np.ravel(x) * 0.9,
                                                           np.ravel(x) * 1.1))
    monkeypatch.setattr(pdf_fit, "_truth", lambda dataset, x: np.ravel(x))
    gluon = SimpleNamespace(name="gluon", split=lambda s: (grid[:, None], grid[:, None]),
                            sigma_train=grid * 0.05)
    pdf_fit._pdf_figure(SimpleNamespace(members=[0] * 10), gluon, tmp_path)
    rbm_model = SimpleNamespace(weights_vh=rng.normal(size=(64, 16)), visible_bias=np.zeros(64),
                                hidden_bias=np.zeros(16), image_shape=(8, 8, 1))
    monkeypatch.setattr(rbm, "gibbs_chains", lambda m, n, steps: rng.uniform(
        size=(len(steps), n, 64)))
    rbm.rbm_figures(rbm_model, None, tmp_path)
    xs = rng.uniform(-1, 1, (30, 1)).astype(np.float32)
    polynomial = SimpleNamespace(predict=lambda g, verbose=0: 2 * g ** 2)
    monkeypatch.setattr(regression, "polynomial_coefficients", lambda m: [0, 0, 2])
    regression._polyreg_figure(polynomial, SimpleNamespace(
        x_train=xs[:20], y_train=2 * xs[:20] ** 2, x_test=xs[20:], y_test=2 * xs[20:] ** 2),
        tmp_path)
    assert _names(checked) == ["chain", "fit", "latent_grid", "latent_means", "pdf_fit",
                               "samples"]


def test_pinn_figures(checked, tmp_path, monkeypatch):
    from mlphys.models import pinn

    xs, ts = np.linspace(-1, 1, 16), np.linspace(0, 1, 6)
    rows = np.zeros((len(xs) * len(ts), pinn.PDE_COLUMNS), np.float32)
    rows[:, 0], rows[:, 1] = np.tile(xs, len(ts)), np.repeat(ts, len(xs))
    exact = -np.sin(np.pi * rows[:, 0]) * np.exp(-rows[:, 1])
    monkeypatch.setattr(pinn, "solution_fields",
                        lambda model, x: (-np.sin(np.pi * x[:, 0]) * np.exp(-x[:, 1]) * 1.01,
                                          1e-3 * np.cos(x[:, 0])))
    burgers = SimpleNamespace(name="burgers", x_test=rows, y_test=exact[:, None])
    pinn.plot_solution(None, burgers, tmp_path)
    ode = SimpleNamespace(name="ode_bvp", x_test=rows[:16], y_test=exact[:16, None])
    (tmp_path / "ode").mkdir()
    pinn.plot_solution(None, ode, tmp_path / "ode")
    curves = {k: [exact * 0.9, exact] for k in ("plain", "fourier")}
    errors = {k: [0.1, 0.01] for k in ("plain", "fourier")}
    pinn._plot_snapshots(burgers, [100, 1000], curves, errors, tmp_path / "snapshots.png")
    assert _names(checked) == ["error", "error", "residual", "residual", "snapshots",
                               "solution", "solution"]
    solution = checked[0][0].axes[0].images[0]
    assert solution.get_cmap().name == figures.DIVERGING
    assert solution.get_clim()[0] == -solution.get_clim()[1]  # centred on zero


# --- the formats on the command line ----------------------------------------------------

@pytest.mark.parametrize("command", ["train", "tune", "evaluate", "saliency", "augment",
                                     "sample", "embed", "reproduce"])
def test_every_command_that_draws_takes_figure_format(run_cli, command):
    result = run_cli(command, "--help")
    assert result.exit_code == 0 and "--figure-format" in result.output


def test_a_wrong_figure_format_is_one_line(run_cli, tmp_path):
    assert_user_error(run_cli("train", "mlp", "--figure-format", "png,jpg", "--out",
                              tmp_path), "--figure-format png,jpg", "png, pdf, svg")
    assert not any(tmp_path.iterdir())
    assert figures.parse_formats("PDF, png,pdf") == ("pdf", "png")


@pytest.mark.slow
def test_evaluate_draws_roc_and_reports_auc_in_every_format(tmp_path, run_cli):
    import mlphys

    run = mlphys.train("logreg", "blobs", epochs=3, seed=0, out=tmp_path, quiet=True,
                       figure_formats=("png", "svg"))
    config = json.loads((run.path / "config.json").read_text())
    assert config["figure_formats"] == ["png", "svg"]
    for name in ("curves", "confusion_matrix", "roc"):
        assert (run.path / f"{name}.svg").exists() and (run.path / f"{name}.png").exists()
    metrics = json.loads((run.path / "metrics.json").read_text())
    assert 0.85 < metrics["auc"] <= 1.0
    result = run_cli("evaluate", run.path, "--figure-format", "pdf", "--out",
                     tmp_path / "eval", "--json")
    assert result.exit_code == 0, result.output
    payload = json.loads(result.output)
    assert payload["metrics"]["auc"] == pytest.approx(metrics["auc"])
    assert sorted(p.rsplit("/", 1)[1] for p in payload["figures"]) == [
        "confusion_matrix.pdf", "roc.pdf"]
    assert json.loads((tmp_path / "eval" / "metrics.json").read_text())["auc"] == \
        pytest.approx(metrics["auc"])
    again = run_cli("evaluate", run.path, "--figure-format", "pdf", "--out",
                    tmp_path / "eval")
    assert_user_error(again, "already has confusion_matrix.pdf")
    default = mlphys.evaluate(run.path)  # into a new folder of the run, in PNG
    assert default["folder"].startswith(str(run.path / "evaluation" / "blobs-test-"))
    assert [p.rsplit("/", 1)[1] for p in default["figures"]] == ["confusion_matrix.png",
                                                                  "roc.png"]
