"""DuckDB's bulk path: one Arrow table registered on the connection, then ``INSERT ... SELECT`` from it.

Binding a vector costs DuckDB 1.5 about 30 ms as a list and 0.8 ms as text;
an Arrow ``FixedSizeList<float>`` column loads 100k x 384 in about a second.
"""

from __future__ import annotations

import uuid
from typing import TYPE_CHECKING, Any

from sqlalchemy import column as sql_column
from sqlalchemy import insert, select
from sqlalchemy import table as sql_table
from sqlalchemy.engine import Connection

if TYPE_CHECKING:
    from ...bulk import BulkLoad


def write(connection: Connection, load: "BulkLoad") -> bool:
    """Insert ``load`` from an Arrow table; ``False`` when only the plain insert is exact (or pyarrow is missing)."""
    if not load.defaults_computed:
        return False
    try:
        import pyarrow as pa
    except ImportError:
        return False
    arrays = []
    for column in load.columns:
        if column.key in load.vectors:
            matrix, nulls = load.vectors[column.key]
            flat = pa.array(matrix.reshape(-1), type=pa.float32())
            mask = None if nulls is None else pa.array(nulls)
            arrays.append(pa.FixedSizeListArray.from_arrays(flat, matrix.shape[1], mask=mask))
            continue
        values = load.processed(column, connection)
        # DuckDB casts VARCHAR to UUID on insert; Arrow has no UUID inference.
        values = [str(v) if isinstance(v, uuid.UUID) else v for v in values]
        try:
            array = pa.array(values)
        except (pa.ArrowException, TypeError, ValueError, OverflowError):
            return False  # mixed or unknown Python types: the plain insert binds them one by one
        if not _arrow_scalar(array.type):
            return False  # e.g. dicts would become STRUCTs, not what binding them would store
        arrays.append(array)
    names = [f"c{i}" for i in range(len(arrays))]
    source = pa.Table.from_arrays(arrays, names=names)
    view = sql_table(f"sqlalchemy_vector_bulk_{uuid.uuid4().hex}", *(sql_column(n) for n in names))
    # Columns left to SQL defaults are rendered into the SELECT by from_select.
    statement = insert(load.table).from_select(load.columns, select(*view.c))
    # Both dialects' cursors run on the connection's one DuckDBPyConnection, where the view is visible.
    # Registering goes around SQLAlchemy's execution: driver_call gives its errors SQLAlchemy's classes.
    from ...bulk import driver_call

    driver: Any = connection.connection.driver_connection
    sql = str(statement.compile(dialect=connection.dialect))
    driver_call(connection, sql, lambda: driver.register(view.name, source))
    try:
        # Not kept in the engine's statement cache: the view's name makes each statement new, and 500 of them
        # (about 13 KB each) would push out the statements that are run again, the application's among them.
        connection.execute(statement, execution_options={"compiled_cache": None})
    finally:
        if not connection.invalidated:  # a lost connection took the view with it
            driver_call(connection, sql, lambda: driver.unregister(view.name))
    return True


def _arrow_scalar(arrow_type: Any) -> bool:
    import pyarrow.types as t

    return bool(
        t.is_null(arrow_type)
        or t.is_boolean(arrow_type)
        or t.is_integer(arrow_type)
        or t.is_floating(arrow_type)
        or t.is_decimal(arrow_type)
        or t.is_string(arrow_type)
        or t.is_large_string(arrow_type)
        or t.is_binary(arrow_type)
        or t.is_large_binary(arrow_type)
        or t.is_temporal(arrow_type)
    )
