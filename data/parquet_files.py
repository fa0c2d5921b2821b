"""Parquet and Feather (Arrow IPC) tables, read with pyarrow (`pip install 'mlphys[parquet]'`).

    mlphys train mlp -d table.parquet --target energy
    mlphys train mlp -d table.feather --target energy -o features='pt_*,eta*'
    mlphys info table.parquet                   # columns, types, rows

Only the chosen columns are read. Every other column but the target is a feature; text
(categorical) feature columns are refused, a text or boolean target is a class label.
"""

from pathlib import Path

from mlphys.data._optional import optional
from mlphys.data.tables import choose_columns, table_dataset
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
    empty = [n for n in names if table.column(n).null_count]
    if empty:
        raise UserError(f"'{path}': column(s) {', '.join(empty)} have missing values; fill "
                        "or drop those rows")
    columns = {}
    for name in names:
        column = table.column(name)
        if pa.types.is_dictionary(column.type):  # pandas categoricals: their values
            column = column.cast(column.type.value_type)
        columns[name] = column.to_numpy()
    return columns


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
                 task: str = "auto", test_split: float = 0.2, split_seed: int = 0):
    """A Parquet or Feather table; `target` is the label column (default: the last),
    `features` the feature columns by name or wildcard (default: all others)."""
    _, schema = _reader(path)
    names, target = choose_columns(path, schema.names, target, features)
    columns = read_columns(path, [*names, target])
    return table_dataset(path, columns, target, task, test_split, split_seed)
