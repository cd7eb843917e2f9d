"""ClickHouse's bulk path: one Arrow table sent with clickhouse-connect's ``insert_arrow``.

The vectors go as an Arrow ``List<float>`` column, each row's float32 values
as they are, with no text formatting or parsing.
"""

from __future__ import annotations

import re
import uuid
from typing import TYPE_CHECKING, Dict, Tuple

from sqlalchemy import Enum, Integer, Numeric, String, text
from sqlalchemy.engine import Connection

from ...exc import InvalidRowError, InvalidVectorError
from .ddl import left_out, missing_key, vector_columns

if TYPE_CHECKING:
    from ...bulk import BulkLoad


def write(connection: Connection, load: "BulkLoad") -> bool:
    """Insert ``load`` through ``insert_arrow``; ``False`` when only the plain insert is exact."""
    from ...bulk import refuse_beyond_range as _refuse_beyond_range  # here: that module imports the backends

    for key, (_, nulls) in load.vectors.items():
        if nulls is not None and nulls.any():
            row = int(nulls.argmax())
            raise InvalidVectorError(
                f"{load.table.name}.{load.table.c[key].name} in row {row} is None, and ClickHouse stores no NULL "
                "vector (an Array column cannot be Nullable); leave the row out, or keep vectors in a separate "
                "table keyed by the row's id"
            )
    given = {c.key for c in load.columns}
    # As a plain INSERT is refused (see ddl.py): ClickHouse would store every row under 0 or ''.
    key = left_out(getattr(load.table.primary_key, "columns", ()), given)
    if key is not None:
        raise missing_key(load.table, key, load.given)
    # Absent with no default: NULL in every row, refused like an explicit None.
    vector = left_out(vector_columns(load.table), given)
    if vector is not None:
        raise InvalidVectorError(
            f"{load.table.name}.{vector.name} is missing from the rows (row 0 has keys "
            f"{', '.join(map(repr, load.given))}) and has no default, so every row's vector would be NULL, "
            "and ClickHouse stores no NULL vector (an Array column cannot be Nullable); give every row a vector "
            f"for it under the key {vector.key!r}, or give the column a default"
        )
    for column in load.columns:
        # clickhouse-connect raises its own AttributeError ('int' object has no attribute 'encode') for a value
        # of a text column that is not text, from a plain insert too.
        if isinstance(column.type, String) and not isinstance(column.type, Enum) and column.key in load.values:
            for row, value in enumerate(load.values[column.key]):
                if value is not None and not isinstance(value, str):
                    raise InvalidRowError(
                        f"{load.table.name}.{column.name} in row {row} is {type(value).__name__} {value!r:.40} for a "
                        f"{column.type!r} column, which ClickHouse's driver cannot send; give a str "
                        "(e.g. str(x)), or None for NULL"
                    )
        # clickhouse-connect stores a string given for a number as NULL (or 0), without an error.
        if isinstance(column.type, (Integer, Numeric)) and column.key in load.values:
            for row, value in enumerate(load.values[column.key]):
                if isinstance(value, (str, bytes)):
                    raise InvalidRowError(
                        f"{load.table.name}.{column.name} in row {row} is a {type(value).__name__} ({value!r:.40}) "
                        f"for a {column.type!r} column, which ClickHouse would store as NULL without an error; "
                        "give a number (e.g. float(x)), or None for NULL"
                    )
    if not load.defaults_computed or load.sql_defaults:
        return False
    try:
        import pyarrow as pa
    except ImportError:
        return False
    client = getattr(connection.connection.driver_connection, "client", None)
    if client is None or not hasattr(client, "insert_arrow"):
        return False
    # Read only where an integer column is written (not the facade's tables): one query per call.
    integers = any(isinstance(c.type, Integer) for c in load.columns if c.key not in load.vectors)
    widths = _integer_widths(connection, load) if integers else {}
    arrays = []
    for column in load.columns:
        if column.key in load.vectors:
            matrix, _ = load.vectors[column.key]
            flat = pa.array(matrix.reshape(-1), type=pa.float32())
            offsets = pa.array(range(0, matrix.size + 1, matrix.shape[1]) if matrix.shape[1] else [0] * (len(matrix) + 1), type=pa.int32())
            arrays.append(pa.ListArray.from_arrays(offsets, flat))
            continue
        values = load.processed(column, connection)
        if column.name in widths:  # Arrow's int64 would be narrowed to the column's type, wrapped
            _refuse_beyond_range(load, column, values, *widths[column.name])
        values = [str(v) if isinstance(v, uuid.UUID) else v for v in values]
        try:
            arrays.append(pa.array(values))
        except (pa.ArrowException, TypeError, ValueError, OverflowError):
            return False
    source = pa.Table.from_arrays(arrays, names=[c.name for c in load.columns])
    # The native insert goes around SQLAlchemy's execution: driver_call gives its errors SQLAlchemy's classes.
    from ...bulk import driver_call

    preparer = connection.dialect.identifier_preparer
    table = preparer.format_table(load.table)
    if getattr(preparer, "_double_percents", False):
        # The preparer doubles % for the driver's pyformat substitution, which insert_arrow does not run.
        table = table.replace("%%", "%")
    sql = f"INSERT INTO {table} ({', '.join(preparer.format_column(c) for c in load.columns)}) FORMAT Arrow"
    # The table quoted here: insert_arrow takes a bare name with a dot ("a.b") for database.table.
    driver_call(connection, sql, lambda: client.insert_arrow(table, source))
    return True


_INTEGER = re.compile(r"(U?)Int(8|16|32|64|128|256)")


def _integer_widths(connection: Connection, load: "BulkLoad") -> Dict[str, Tuple[bool, int]]:
    """The integer columns of the table as the server has them: name -> (unsigned, bits)."""
    rows = connection.execute(
        text("SELECT name, type FROM system.columns WHERE database = coalesce(:schema, currentDatabase()) AND table = :table"),
        {"schema": load.table.schema, "table": load.table.name},
    )
    widths: Dict[str, Tuple[bool, int]] = {}
    for name, found in rows:
        while True:  # Nullable(Int32), LowCardinality(Nullable(UInt8)), ...
            wrapped = re.fullmatch(r"(?:Nullable|LowCardinality)\((.*)\)", found)
            if wrapped is None:
                break
            found = wrapped.group(1)
        match = _INTEGER.fullmatch(found)
        if match is not None:
            widths[name] = (match.group(1) == "U", int(match.group(2)))
    return widths
