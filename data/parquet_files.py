"""Parquet and Feather (Arrow IPC) tables, read with pyarrow (`pip install 'mlphys[parquet]'`).

    mlphys train mlp -d table.parquet --target energy
    mlphys train mlp -d table.feather --target energy -o features='pt_*,eta*'
    mlphys train mlp -d big.parquet --target energy --stream   # a row group at a time
    mlphys info table.parquet                   # columns, types, rows

Only the chosen columns are read. Every other column but the target is a feature; text
(categorical) feature columns are refused, a text or boolean target is a class label.
`--stream` (automatic above 2 GiB of float32 features) keeps a Parquet file's feature
rows on disk and reads them a row group at a time (memory holds one row group of the
chosen columns), after one pass at load that refuses missing and infinite values; the
target column is read whole. Feather files are read whole.
"""

from contextlib import contextmanager
from pathlib import Path

import numpy as np

from mlphys.data._optional import optional
from mlphys.data.files import STREAM_ABOVE_BYTES
from mlphys.data.tables import choose_columns, feature_matrix, labelled_table, table_dataset
from mlphys.datasets import FileContents, register_file_format
from mlphys.errors import UserError

SUFFIXES = (".parquet", ".pq", ".feather", ".arrow")


def _reader(path):
    """(read_table(path, columns=...), schema) for a Parquet or a Feather file."""
    optional("pyarrow", "parquet", "Parquet and Feather files")
    import pyarrow as pa

    path = Path(path)
    try:
        if path.suffix.lower() in (".parquet", ".pq"):
            import pyarrow.parquet as pq

            return pq.read_table, pq.read_schema(path)
        import pyarrow.feather as feather
        import pyarrow.ipc as ipc

        return feather.read_table, ipc.open_file(str(path)).schema
    except (pa.ArrowException, OSError) as error:
        kind = "Parquet" if path.suffix.lower() in (".parquet", ".pq") else "Feather"
        raise UserError(f"cannot read '{path}' as a {kind} file ({error}); write it with "
                        f"pandas' DataFrame.to_{kind.lower()}(path)") from None


def read_columns(path, names):
    """{name: 1-D NumPy array} of the columns `names`; missing values refused."""
    import pyarrow as pa

    read, _ = _reader(path)
    try:
        table = read(path, columns=list(names))
    except (pa.ArrowException, OSError) as error:
        raise UserError(f"cannot read the columns of '{path}' ({error})") from None
    return numpy_columns(path, table, names)


def numpy_columns(path, table, names, first_row=0):
    """{name: 1-D NumPy array} of the columns `names` of a pyarrow Table whose first row
    is row `first_row` of the file; missing values refused, naming the columns."""
    import pyarrow as pa

    empty = [n for n in names if table.column(n).null_count]
    if empty:
        where = f" (rows {first_row:,} to {first_row + len(table) - 1:,})" if first_row else ""
        raise UserError(f"'{path}': column(s) {', '.join(empty)} have missing values"
                        f"{where}; fill or drop those rows")
    columns = {}
    for name in names:
        column = table.column(name)
        if pa.types.is_dictionary(column.type):  # pandas categoricals: their values
            column = column.cast(column.type.value_type)
        columns[name] = column.to_numpy()
    return columns


class ParquetRows:
    """The feature columns `names` of a Parquet file as float32 rows (N, F), read a row
    group at a time: an `ArrayStream`'s source (`offsets`: the row groups' first rows
    and the number of rows)."""

    def __init__(self, file, names, offsets):
        self.file, self.names, self.offsets = str(file), list(names), list(offsets)
        self.n_rows = self.offsets[-1]

    def blocks(self, size):  # one row group, whatever the batch size
        return [(a, b) for a, b in zip(self.offsets[:-1], self.offsets[1:]) if b > a]

    @contextmanager
    def reader(self):
        import bisect

        import pyarrow.parquet as pq

        with pq.ParquetFile(self.file) as handle:
            def read(start, stop):
                group = bisect.bisect_right(self.offsets, start) - 1
                first = self.offsets[group]
                table = handle.read_row_group(group, columns=self.names)
                table = table.slice(start - first, stop - start)
                return feature_matrix(self.file, numpy_columns(self.file, table,
                                                               self.names, start))

            yield read


def _streamed(path, names, target, task, test_split, split_seed):
    """A `Dataset` of the table whose feature rows stay in the file (an `ArrayStream` of
    its row groups); the target column is read, the features checked once here."""
    import pyarrow.parquet as pq

    from mlphys.streams import ArrayStream

    if Path(path).suffix.lower() not in (".parquet", ".pq"):
        raise UserError(f"--stream reads Parquet files by row group; '{path}' is a Feather "
                        "file: convert it to Parquet (pandas: read_feather, to_parquet) or "
                        "leave out --stream")
    with pq.ParquetFile(path) as handle:
        sizes = [handle.metadata.row_group(i).num_rows for i in range(handle.num_row_groups)]
    rows = ParquetRows(path, names, [0, *np.cumsum(sizes).tolist()])
    stream = ArrayStream(rows, np.arange(rows.n_rows), (len(names),), "vector")
    stream.check_finite(Path(path).stem,
                        lambda row, at: f"column '{names[at[0]]}', row {row}")
    y = read_columns(path, [target])[target]
    return labelled_table(path, stream, y, names, target, task, test_split, split_seed,
                          {"stream": True})


def describe(path, **options):
    """The columns of the table, their Arrow types and the number of rows."""
    if options:
        raise UserError(f"'mlphys info {path}' takes no options (got {', '.join(options)})")
    read, schema = _reader(path)
    rows = read(path, columns=[]).num_rows if schema.names else 0
    return FileContents(f"{path}: a table of {rows:,} rows and {len(schema.names)} columns",
                        ("column", "type"), [(f.name, str(f.type)) for f in schema])


@register_file_format(*SUFFIXES, describe=describe)
def parquet_file(path, target: str | None = None, features: str | None = None,
                 task: str = "auto", test_split: float = 0.2, split_seed: int = 0,
                 stream: bool | None = None):
    """A Parquet or Feather table; `target` is the label column (default: the last),
    `features` the feature columns by name or wildcard (default: all others).
    `stream=true` reads a Parquet file's features a row group at a time during training
    (the default above 2 GiB of float32 features)."""
    read, schema = _reader(path)
    names, target = choose_columns(path, schema.names, target, features)
    _refuse_text(path, schema, names)
    if stream is None and Path(path).suffix.lower() in (".parquet", ".pq"):
        rows = read(path, columns=[]).num_rows
        stream = rows * len(names) * 4 > STREAM_ABOVE_BYTES  # as image folders, HDF5
    if stream:
        return _streamed(path, names, target, task, test_split, split_seed)
    columns = read_columns(path, [*names, target])
    return table_dataset(path, columns, target, task, test_split, split_seed)


def _refuse_text(path, schema, names):
    """Refuse feature columns that the schema says are not numbers or booleans."""
    import pyarrow as pa

    def numeric(kind):
        if pa.types.is_dictionary(kind):
            kind = kind.value_type
        return pa.types.is_integer(kind) or pa.types.is_floating(kind) or \
            pa.types.is_boolean(kind)

    text = [n for n in names if not numeric(schema.field(n).type)]
    if text:  # the words of tables.feature_matrix, before any column is read
        raise UserError(f"'{path}': column(s) {', '.join(text)} are not numbers "
                        "(categorical columns are not encoded); encode them as numbers or "
                        "drop them")
