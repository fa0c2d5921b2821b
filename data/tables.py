"""Feature tables of any file format as a `Dataset`: columns by name, a target column.

    from mlphys.data.tables import choose_columns, table_dataset
    names = choose_columns(path, available, target="mass", features="pt_*,eta_*")
    dataset = table_dataset(path, {name: column, ...}, "mass", task="auto",
                            test_split=0.2, split_seed=0, provenance={"units": {...}})

The CSV, Parquet/Feather, ROOT, HDF5-table and FITS-table readers read their columns
their own way and hand them here, so that every table gets the same column selection
(names or wildcards), the same refusals (text features, NaN, a text target to regress)
and the same splits. Text (categorical) feature columns are refused, not encoded: the
message names them and says to encode or drop them.
"""

from fnmatch import fnmatchcase
from pathlib import Path

import numpy as np

from mlphys.data.arrays import dataset_from_arrays, infer_task
from mlphys.errors import UserError

ROWS_PER_BLOCK = 4096  # rows of the feature matrix filled at a time


def choose_columns(path, available, target=None, features=None):
    """(feature names, target name) among `available` column names, in file order.

    target: the label column (default: the last one).
    features: comma-separated names or wildcards ("pt_*,eta_*"); default: every other
        column. A pattern that matches nothing is refused, naming the columns there are.
    """
    available = [str(a) for a in available]
    if len(available) < 2:
        raise UserError(f"'{path}' needs at least two columns (features and a target); it "
                        f"has {len(available)}: {', '.join(available) or 'none'}")
    target = target or available[-1]
    if target not in available:
        raise UserError(f"'{path}' has no column '{target}': choose --target from "
                        f"{', '.join(available)}")
    others = [a for a in available if a != target]
    if not features:
        return others, target
    return match_columns(path, others, features), target


def match_columns(path, available, features):
    """The columns among `available` that the comma-separated names or wildcards
    `features` match, in file order; a pattern that matches none is refused."""
    chosen = []
    for pattern in (p.strip() for p in features.split(",") if p.strip()):
        found = [a for a in available if fnmatchcase(a, pattern)]
        if not found:
            raise UserError(f"--option features={features}: '{pattern}' matches no column "
                            f"of '{path}' (there are: {', '.join(available)})")
        chosen += [a for a in found if a not in chosen]
    return [a for a in available if a in chosen]


def feature_matrix(path, columns):
    """(N, F) float32 from the named 1-D `columns` ({name: array}), text refused."""
    text = [name for name, values in columns.items()
            if np.asarray(values).dtype.kind not in "iufb"]
    if text:
        raise UserError(f"'{path}': column(s) {', '.join(text)} are not numbers "
                        "(categorical columns are not encoded); encode them as numbers or "
                        "drop them")
    n = len(next(iter(columns.values())))
    x = np.empty((n, len(columns)), dtype=np.float32)
    # a block of rows at a time: column j of a C-order block is written while the block
    # is in cache (a whole column at once is a strided write, 3x slower on 1M rows)
    for start in range(0, n, ROWS_PER_BLOCK):
        stop = start + ROWS_PER_BLOCK
        for j, values in enumerate(columns.values()):
            x[start:stop, j] = values[start:stop]
    return x


def table_dataset(path, columns, target, task="auto", test_split=0.2, split_seed=0,
                  provenance=None, row_label=None):
    """A `Dataset` of a table: every column of `columns` but `target` is a feature.

    columns: {name: 1-D array of N values}, in the order the features take.
    row_label(i) -> text: where row i is in the file ("line 5 of the file"); "row i".
    provenance: what the reader knows besides source, target and features (units, tree).
    """
    from mlphys.data_checks import check_finite

    path = Path(path)
    names = [n for n in columns if n != target]
    x = feature_matrix(path, {n: columns[n] for n in names})
    y = np.asarray(columns[target])
    row_label = row_label or (lambda i: f"row {i}")

    def where(key, index):
        column = names[index[1]] if "feature" in key else target
        return f"column '{column}', {row_label(index[0])}"

    check_finite(path.stem, {"its feature columns": x, "its target column": y}, where)
    return labelled_table(path, x, y, names, target, task, test_split, split_seed,
                          provenance)


def labelled_table(path, x, y, names, target, task="auto", test_split=0.2, split_seed=0,
                   provenance=None):
    """The `Dataset` of a table's checked features `x` ((N, F) float32, or an
    `ArrayStream` of them) and target values `y` (N,) named `names` and `target`."""
    path = Path(path)
    y = np.asarray(y)
    task = infer_task(y, task)
    if task == "regression" and y.dtype.kind not in "iuf":
        raise UserError(f"'{path}': target '{target}' is not numeric, so it cannot be "
                        "regressed; use --option task=classification")
    about = {"source": str(path.resolve()), "target": str(target), "features": names,
             **(provenance or {})}
    return dataset_from_arrays(path.stem, x, y, task, None, None, test_split, split_seed,
                               about, kind="vector")
