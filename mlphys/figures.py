"""The one way mlphys draws and saves a figure: style, colour maps, formats.

    from mlphys import figures

    @figures.styled
    def plot_something(values, path):
        figure = figures.new_figure(5, 3.5, layout="constrained")
        ax = figure.subplots()
        figures.show_image(ax, image)          # images: the data's own grey scale
        ax.imshow(field, cmap=figures.DIVERGING, **figures.symmetric(field))
        figures.save(figure, path)             # path.png -> path.png, path.pdf, ...

    with figures.formats(("png", "pdf")):      # what every save inside writes
        ...

Conventions, the same in every figure of the engine and of the zoo:

- `MAP` (viridis, perceptually uniform) for magnitudes: counts, errors, objectives,
  regression targets; `OVERLAY` (inferno, perceptually uniform and dark at zero) for
  saliency maps drawn over a grey image; `DIVERGING` (RdBu_r, centred on zero with
  `symmetric`) for signed fields such as a PDE solution.
- Images are drawn as the data are: `IMAGE` (gray), 0 black and 1 white, so a digit is
  white on black wherever it appears (training data, augmentation, saliency, samples).
- Font sizes of `STYLE` are meant for figures 4-11 inches wide saved at their own size.
- PDF keeps its fonts as embedded TrueType (`pdf.fonttype` 42); SVG draws glyphs as
  paths (`svg.fonttype` 'path': the text looks the same with no font installed, it is
  not editable as text). Images keep their native resolution: `interpolation='none'`
  and no compositing of several images into one raster (`image.composite_image` off).

Figures are drawn on Agg without pyplot (no display, no global state, thread-safe enough
for the one background plotting thread of `mlphys.training`); matplotlib is imported only
when a figure is made, so `mlphys --help`, `list` and `info` never import it.

`after_save` is a list of functions `hook(figure, paths)` called after every save: the
tests use it to check every figure for clipped text where it is drawn.
"""

import contextlib
import functools
from pathlib import Path

from mlphys.errors import UserError

FORMATS = ("png", "pdf", "svg")
MAP = "viridis"
OVERLAY = "inferno"
DIVERGING = "RdBu_r"
IMAGE = "gray"
DPI = 150  # raster resolution of PNG files

STYLE = {
    "font.size": 9, "axes.titlesize": 9.5, "axes.labelsize": 9, "xtick.labelsize": 8,
    "ytick.labelsize": 8, "legend.fontsize": 8, "figure.titlesize": 10,
    "axes.grid": False, "grid.alpha": 0.3, "lines.linewidth": 1.4,
    "image.cmap": MAP, "image.interpolation": "none", "image.composite_image": False,
    "pdf.fonttype": 42, "ps.fonttype": 42, "svg.fonttype": "path",
    "savefig.dpi": DPI, "savefig.bbox": None, "figure.dpi": 100,
}

after_save = []  # hook(figure, paths) after every save (the tests' checks)
_formats = ["png"]


def parse_formats(text):
    """('png', 'pdf') of 'png,pdf'; a UserError for an unknown or empty format."""
    if isinstance(text, (list, tuple)):
        chosen = [str(f).strip().lower() for f in text]
    else:
        chosen = [f.strip().lower() for f in str(text or "").split(",")]
    chosen = list(dict.fromkeys(f.lstrip(".") for f in chosen if f.strip()))
    unknown = [f for f in chosen if f not in FORMATS]
    if unknown or not chosen:
        raise UserError(f"--figure-format {text if isinstance(text, str) else ','.join(text)}"
                        f": choose one or more of {', '.join(FORMATS)}, separated by commas "
                        "(e.g. png,pdf)")
    return tuple(chosen)


@contextlib.contextmanager
def formats(chosen):
    """Every `save` inside writes each of `chosen` ('png', 'pdf', 'svg'); None: unchanged."""
    if chosen is None:
        yield
        return
    previous = list(_formats)
    _formats[:] = parse_formats(chosen)
    try:
        yield
    finally:
        _formats[:] = previous


def current_formats():
    return tuple(_formats)


def styled(draw):
    """Decorator: run the drawing function `draw` inside matplotlib's rc_context(STYLE),
    so the style applies to the figures it makes and to nothing else."""
    @functools.wraps(draw)
    def wrapper(*args, **kwargs):
        import matplotlib

        with matplotlib.rc_context(STYLE):
            return draw(*args, **kwargs)

    return wrapper


def new_figure(width, height, layout=None):
    """A Figure of `width` x `height` inches on its own Agg canvas (no pyplot).

    layout: None (the caller sets margins: cheapest, for figures drawn every run) or
    'constrained' (matplotlib fits titles, labels and colour bars inside)."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    figure = Figure(figsize=(width, height), layout=layout)
    FigureCanvasAgg(figure)
    return figure


def paths(path, chosen=None):
    """The files `save(figure, path, chosen)` writes (to refuse overwriting them)."""
    chosen = parse_formats(chosen) if chosen is not None else current_formats()
    return [Path(path).with_suffix(f".{fmt}") for fmt in chosen]


def save(figure, path, chosen=None):
    """Write `figure` once per format (`chosen`, else those of `formats(...)`): the
    suffix of `path` is replaced by each format's. Returns the paths written, the first
    format's first."""
    written = paths(path, chosen)
    for target in written:
        fmt = target.suffix[1:]
        figure.savefig(target, format=fmt, dpi=DPI, metadata=_metadata(fmt))
    for hook in after_save:
        hook(figure, written)
    return written


def _metadata(fmt):
    """No creation date in PDF/SVG files: the same figure gives the same bytes."""
    if fmt == "pdf":
        return {"CreationDate": None, "Creator": "mlphys"}
    if fmt == "svg":
        return {"Date": None, "Creator": "mlphys"}
    return None


def show_image(ax, image, vmin=0.0, vmax=1.0, **kwargs):
    """Draw one image (H, W), (H, W, 1) or (H, W, 3) in [vmin, vmax] as the data are:
    grey scale 0 black to 1 white, colour as RGB; no ticks. Returns the AxesImage."""
    import numpy as np

    image = np.asarray(image)
    if image.ndim == 3 and image.shape[-1] == 1:
        image = image[..., 0]
    if image.ndim == 3:  # RGB: imshow takes [0, 1]
        shown = ax.imshow(np.clip((image - vmin) / max(vmax - vmin, 1e-12), 0, 1), **kwargs)
    else:
        shown = ax.imshow(image, cmap=IMAGE, vmin=vmin, vmax=vmax, **kwargs)
    ax.set_xticks([])
    ax.set_yticks([])
    return shown


def symmetric(values):
    """vmin/vmax centred on zero for a `DIVERGING` map of signed `values`."""
    import numpy as np

    bound = float(np.nanmax(np.abs(values))) if np.size(values) else 1.0
    bound = bound if bound > 0 else 1.0
    return {"vmin": -bound, "vmax": bound}
