"""A user's own data: `.npz` arrays, `.csv` tables and folders of images.

    mlphys train mlp -d measurements.csv --target energy
    mlphys train cnn -d runs.npz              # keys x_train, y_train [, x_test, y_test]
    mlphys train cnn -d photos/ --option size=64,64   # photos/<class>/<image files>

Files without a test split get one (`test_split`, stratified for classes, fixed by
`split_seed`). The task is found from the labels unless `task=` says it.
"""

import zipfile
from pathlib import Path

import numpy as np

from mlphys.data_checks import check_finite
from mlphys.datasets import register_file_format
from mlphys.errors import UserError
from mlphys.data._images import as_unit_images
from mlphys.data.arrays import dataset_from_arrays, infer_task
from mlphys.data.tables import choose_columns, table_dataset

STREAM_ABOVE_BYTES = 2 * 1024**3  # image folders whose float32 pixels exceed this stream
IMAGE_SUFFIXES = {".png", ".jpg", ".jpeg", ".bmp", ".gif", ".tif", ".tiff", ".ppm",
                  ".pgm", ".webp"}


def _image_or_vector(x, kind):
    """Arrays as float32; (N, H, W) images get a channel axis, uint8 pixels scaled."""
    if kind not in ("auto", "image", "vector", "sequence"):
        raise UserError(f"--option kind={kind}: choose auto, image, vector or sequence")
    if kind == "auto":
        kind = {2: "vector", 3: "image", 4: "image"}.get(x.ndim)
        if kind is None:
            raise UserError(f"x_train has shape {x.shape}: expected (N, features), (N, H, W) "
                            "or (N, H, W, C)")
    if kind == "image":
        return as_unit_images(x), kind
    return x.astype(np.float32, copy=False), kind  # float32 read as it is


@register_file_format(".npz")
def npz_file(path, task: str = "auto", kind: str = "auto", test_split: float = 0.2,
             split_seed: int = 0):
    """Arrays x_train, y_train and optionally x_val, y_val, x_test, y_test."""
    try:
        with np.load(path, allow_pickle=False) as f:
            arrays = {k: f[k] for k in f.files}
    except (OSError, ValueError, zipfile.BadZipFile, EOFError) as error:
        raise UserError(f"cannot read '{path}' as a NumPy .npz file ({error}); "
                        "save it with numpy.savez(path, x_train=..., y_train=...)") from None
    return arrays_dataset(path, arrays, task, kind, test_split, split_seed,
                          "numpy.savez(path, x_train=..., y_train=...)")


def arrays_dataset(path, arrays, task, kind, test_split, split_seed, how_to_save,
                   provenance=None):
    """A `Dataset` of named arrays x_train, y_train [, x_val, y_val, x_test, y_test]
    (an .npz file's, or an HDF5 file's datasets); `how_to_save` ends the messages."""
    missing = [k for k in ("x_train", "y_train") if k not in arrays]
    if missing:
        raise UserError(f"'{path}' has no array {' or '.join(missing)} (it has: "
                        f"{', '.join(arrays) or 'nothing'}); save it with {how_to_save}")
    for split in ("test", "val"):
        if (f"x_{split}" in arrays) != (f"y_{split}" in arrays):
            raise UserError(f"'{path}' has only one of x_{split} and y_{split}: "
                            "give both or neither")
    for split in ("train", "test", "val"):
        if f"x_{split}" in arrays and len(arrays[f"x_{split}"]) != len(arrays[f"y_{split}"]):
            raise UserError(f"'{path}': x_{split} has {len(arrays[f'x_{split}'])} samples but "
                            f"y_{split} has {len(arrays[f'y_{split}'])}")
    x, kind = _image_or_vector(arrays["x_train"], kind)
    x_test = _image_or_vector(arrays["x_test"], kind)[0] if "x_test" in arrays else None
    x_val = _image_or_vector(arrays["x_val"], kind)[0] if "x_val" in arrays else None
    y = arrays["y_train"]
    # checked here, before the splits, so that the indices are those of the file
    check_finite(Path(path).stem, {"x_train": x, "y_train": y, "x_test": x_test,
                                   "y_test": arrays.get("y_test"), "x_val": x_val,
                                   "y_val": arrays.get("y_val")})
    task = infer_task(y, task)
    return dataset_from_arrays(Path(path).stem, x, y, task, x_test, arrays.get("y_test"), test_split,
                   split_seed, {"source": str(Path(path).resolve()), **(provenance or {})},
                   x_val,
                   arrays.get("y_val"), kind=kind)


def read_table(path):
    """A CSV file as a pandas DataFrame, or one line saying why it cannot be read."""
    import pandas as pd

    try:
        return pd.read_csv(path)
    except (OSError, UnicodeDecodeError, pd.errors.ParserError,
            pd.errors.EmptyDataError) as error:
        raise UserError(f"cannot read '{path}' as CSV ({error}); give a comma-separated "
                        "file with a header row") from None


def refuse_missing(path, table):
    """Refuse a table (pandas DataFrame) with missing values, naming the columns."""
    empty = [c for c in table.columns if table[c].isna().any()]
    if empty:
        raise UserError(f"'{path}': column(s) {', '.join(map(str, empty))} have missing "
                        "values; fill or drop those rows")


def check_columns(path, features, table):
    """Refuse feature columns that are not numbers, and missing values in `table`."""
    import pandas as pd

    text = [c for c in features.columns if not pd.api.types.is_numeric_dtype(features[c])]
    if text:
        raise UserError(f"'{path}': column(s) {', '.join(map(str, text))} are not numbers; "
                        "encode them as numbers or drop them")
    refuse_missing(path, table)


@register_file_format(".csv")
def csv_file(path, target: str | None = None, task: str = "auto", test_split: float = 0.2,
             split_seed: int = 0):
    """A table with a header row; `target` is the label column (default: the last one)."""
    table = read_table(path)
    if table.shape[1] < 2 or len(table) < 2:
        raise UserError(f"'{path}' needs a header row, at least two columns (features and a "
                        f"target) and two rows; it has {table.shape[1]} column(s) and "
                        f"{len(table)} row(s)")
    refuse_missing(path, table)
    names, target = choose_columns(path, list(table.columns), target)
    columns = {str(c): table[c].to_numpy() for c in [*names, target]}
    # line 1 of the file is the header
    return table_dataset(path, columns, str(target), task, test_split, split_seed,
                         row_label=lambda i: f"line {i + 2} of the file")


def _read_images(files, size, color):
    from PIL import Image, UnidentifiedImageError

    images, bad = [], []
    for file in files:
        try:
            with Image.open(file) as image:
                image = image.convert("L" if color == "grayscale" else "RGB")
                if size is not None and image.size != (size[1], size[0]):
                    image = image.resize((size[1], size[0]), Image.BILINEAR)
                images.append(np.asarray(image, dtype=np.uint8))
        except (UnidentifiedImageError, OSError, ValueError):
            bad.append(file)
    return images, bad


def _class_folders(root):
    folders = sorted(p for p in root.iterdir() if p.is_dir() and not p.name.startswith("."))
    files = {c.name: sorted(f for f in c.rglob("*") if f.suffix.lower() in IMAGE_SUFFIXES)
             for c in folders}
    return {name: found for name, found in files.items() if found}


def _scan_headers(files):
    """(distinct (width, height) sizes, unreadable files), reading only the headers."""
    from PIL import Image, UnidentifiedImageError

    sizes, bad = set(), []
    for file in files:
        try:
            with Image.open(file) as image:
                sizes.add(image.size)
        except (UnidentifiedImageError, OSError, ValueError):
            bad.append(file)
    return sizes, bad


def _unreadable(path, bad):
    names = ", ".join(str(b) for b in bad[:5]) + (" ..." if len(bad) > 5 else "")
    return UserError(f"{len(bad)} file(s) in '{path}' could not be read as images: "
                     f"{names}; remove or replace them")


def _different_sizes(path, sizes):
    listed = ", ".join(sorted(f"{h}x{w}" for w, h in sizes)[:3])
    return UserError(f"images in '{path}' have different sizes ({listed} ...): give "
                     "--option size=HEIGHT,WIDTH to resize them")


def _streams(path, listing, classes, size, color):
    """Each split as an `ImageStream` of its files, checked by their headers only."""
    from mlphys.streams import DECODABLE, ImageStream

    files = {split: [f for c in classes for f in by_class.get(c, [])]
             for split, by_class in listing.items()}
    every = [f for split_files in files.values() for f in split_files]
    other = sorted({f.suffix.lower() for f in every} - DECODABLE)
    if other:
        raise UserError(f"--stream decodes {', '.join(sorted(DECODABLE))} files, not "
                        f"{', '.join(other)}: convert them, or load the folder into memory")
    sizes, bad = _scan_headers(every)
    if bad:
        raise _unreadable(path, bad)
    if size is None and len(sizes) > 1:
        raise _different_sizes(path, sizes)
    height, width = size or next(iter(sizes))[::-1]
    channels = 1 if color == "grayscale" else 3
    return {split: (ImageStream(split_files, height, width, channels),
                    np.array([classes.index(c) for c in classes
                              for _ in listing[split].get(c, [])]))
            for split, split_files in files.items()}


@register_file_format("/")
def image_folder(path, size: tuple | None = None, color: str = "auto",
                 test_split: float = 0.2, split_seed: int = 0, stream: bool | None = None):
    """Images in one subfolder per class (`flow_from_directory` layout), or in `train/`
    and `test/` folders of that layout. `size=H,W` resizes; `color` is rgb, grayscale or
    auto (grayscale if every image is). `stream=true` reads batches from disk during
    training instead of loading every image (the default above 2 GiB of pixels)."""
    from PIL import Image

    root = Path(path)
    if color not in ("auto", "rgb", "grayscale"):
        raise UserError(f"--option color={color}: choose auto, rgb or grayscale")
    if size is not None and (len(size) != 2 or min(size) < 1):
        raise UserError(f"--option size={','.join(map(str, size))}: give HEIGHT,WIDTH")
    parts = {"train": root / "train", "test": root / "test"}
    if not all(p.is_dir() for p in parts.values()):
        parts = {"train": root}
    listing = {split: _class_folders(folder) for split, folder in parts.items()}
    classes = sorted(set().union(*listing.values()))
    n_files = sum(len(f) for split in listing.values() for f in split.values())
    if n_files == 0:
        raise UserError(f"no images in '{path}': put them in one subfolder per class, "
                        f"e.g. {root / 'cats'}/1.png ({', '.join(sorted(IMAGE_SUFFIXES))})")
    if len(classes) < 2:
        raise UserError(f"'{path}' has images of one class only ({classes[0]}): a "
                        "classifier needs at least two class subfolders")
    all_files = [f for split in listing.values() for files in split.values() for f in files]
    if color == "auto":
        modes = set()
        for f in all_files[:200]:
            try:
                with Image.open(f) as image:
                    modes.add(image.mode)
            except OSError:
                pass
        color = "grayscale" if modes and modes <= {"L", "1", "I;16", "I"} else "rgb"
    if stream is None:  # stream when the decoded pixels would not comfortably fit
        sizes, _ = _scan_headers(all_files[:1])
        width, height = size[::-1] if size else (next(iter(sizes)) if sizes else (0, 0))
        channels = 1 if color == "grayscale" else 3
        stream = len(all_files) * height * width * channels * 4 > STREAM_ABOVE_BYTES
    if stream:
        arrays = _streams(path, listing, classes, size, color)
    else:
        arrays = {}
        for split, by_class in listing.items():
            files = [f for c in classes for f in by_class.get(c, [])]
            labels = np.array([classes.index(c) for c in classes
                               for _ in by_class.get(c, [])])
            images, bad = _read_images(files, size, color)
            if bad:
                raise _unreadable(path, bad)
            shapes = {im.shape[:2][::-1] for im in images}
            if len(shapes) > 1:
                raise _different_sizes(path, shapes)
            arrays[split] = (as_unit_images(np.stack(images)), labels)
    x, y = arrays["train"]
    x_test, y_test = arrays.get("test", (None, None))
    return dataset_from_arrays(root.name, x, y, "classification", x_test, y_test, test_split,
                   split_seed, {"source": str(root.resolve()), "classes": classes,
                                "color": color, "stream": stream},
                   kind="image", class_names=classes)
