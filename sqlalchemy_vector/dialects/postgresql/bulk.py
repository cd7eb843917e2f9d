"""PostgreSQL's bulk path with psycopg 3 (sync or async): ``COPY ... FROM STDIN (FORMAT BINARY)``.

Vectors go in pgvector's binary format, other values through psycopg's own
binary dumpers, inside a savepoint so that a value psycopg cannot dump leaves
the transaction usable for the plain insert.
"""

from __future__ import annotations

import uuid
from typing import TYPE_CHECKING, Any, Dict, List, Optional, Tuple

import numpy as np
import numpy.typing as npt
from sqlalchemy import text
from sqlalchemy.engine import Connection
from sqlalchemy.exc import DontWrapMixin

if TYPE_CHECKING:
    from ...bulk import BulkLoad

# Types whose binary form psycopg dumps from the values SQLAlchemy's psycopg
# dialect binds.  Columns of other types send the load to the plain insert.
_PG_COPY_TYPES = frozenset(
    {
        "bool", "bytea", "int2", "int4", "int8", "float4", "float8", "numeric", "text", "varchar", "bpchar",
        "name", "json", "jsonb", "uuid", "date", "time", "timetz", "timestamp", "timestamptz", "interval",
    }
)
_PG_BYTEA_OID = 17
#: The width of PostgreSQL's integer types.
_INT_BITS = {"int2": 16, "int4": 32, "int8": 64}


def write(connection: Connection, load: "BulkLoad") -> bool:
    """COPY ``load`` in binary; ``False`` when only the plain insert is exact (other drivers, types, defaults)."""
    from ...bulk import refuse_beyond_range as _refuse_beyond_range  # here: that module imports the backends

    if connection.dialect.driver not in ("psycopg", "psycopg_async"):
        return False
    raw = connection.connection.driver_connection
    try:
        import psycopg
    except ImportError:
        return False
    if not isinstance(raw, (psycopg.Connection, psycopg.AsyncConnection)):
        return False
    # Before any other way out: the plain insert would raise a bare TypeError for these.
    json_texts = _serialized_json(raw, load, connection)
    if not load.defaults_computed or load.sql_defaults:
        return False
    if connection.get_execution_options().get("schema_translate_map"):
        return False
    preparer = connection.dialect.identifier_preparer
    qualified = preparer.format_table(load.table)
    types = _pg_column_types(connection, qualified)
    oids: List[int] = []
    fields: List[List[Any]] = []
    for column in load.columns:
        found = types.get(column.name)
        if found is None:
            return False
        oid, typname = found
        if column.key in load.vectors:
            if typname != "vector":
                return False
            fields.append(_pgvector_binary(*load.vectors[column.key]))
            oids.append(_PG_BYTEA_OID)  # the bytes are already pgvector's binary form
        elif typname in _PG_COPY_TYPES:
            values = json_texts.get(column.key) or load.processed(column, connection)
            if typname == "uuid":
                # SQLAlchemy sends UUID strings with a cast; psycopg's binary dumper wants uuid.UUID.
                try:
                    values = [uuid.UUID(v) if isinstance(v, str) else v for v in values]
                except ValueError:
                    return False  # let the server reject (or accept) it as the plain insert would
            if typname in _INT_BITS:  # psycopg's binary dumper would store it wrapped
                _refuse_beyond_range(load, column, values, False, _INT_BITS[typname])
            fields.append(values)
            oids.append(oid)
        else:
            return False
    statement = (
        f"COPY {qualified} ({', '.join(preparer.format_column(c) for c in load.columns)}) "
        "FROM STDIN (FORMAT BINARY)"
    )
    # A savepoint keeps the caller's transaction usable when a value cannot be
    # dumped client-side (then the plain insert takes over) or the server
    # rejects a row (then the error is raised as SQLAlchemy's DBAPIError).  In
    # autocommit mode the COPY is its own transaction, atomic without one.
    savepoint = None if raw.autocommit else connection.begin_nested()
    try:
        if isinstance(raw, psycopg.AsyncConnection):
            # Called through AsyncConnection.run_sync: SQLAlchemy's greenlet bridge awaits.
            from sqlalchemy.util import await_only

            await_only(_copy_async(raw, statement, oids, fields))
        else:
            with raw.cursor() as cursor:
                with cursor.copy(statement) as copy:
                    copy.set_types(oids)
                    for row in zip(*fields):
                        copy.write_row(row)
    except psycopg.Error as err:
        _rollback(savepoint)
        if getattr(err, "sqlstate", None) is None:
            return False
        from sqlalchemy.exc import DBAPIError

        raise DBAPIError.instance(statement, None, err, psycopg.Error, dialect=connection.dialect) from err
    except (TypeError, ValueError, AttributeError, OverflowError):
        _rollback(savepoint)
        return False
    except BaseException:
        _rollback(savepoint)
        raise
    if savepoint is not None:
        savepoint.commit()
    return True


def _serialized_json(raw: Any, load: "BulkLoad", connection: Connection) -> Dict[str, List[Any]]:
    """JSON values serialised now, as psycopg would when sending them, for the columns whose values it serialises.

    psycopg's dialect binds JSON as ``Json(value)`` wrappers, serialised by the
    driver while sending: a value ``json.dumps`` rejects would stop the COPY
    (and the plain insert) with a bare ``TypeError``.  Serialising first names
    the row and column instead; the texts go to the COPY as they are.
    """
    from psycopg.adapt import PyFormat
    from psycopg.types.json import Json, Jsonb

    found: Dict[str, List[Any]] = {}
    dumps_of: Dict[type, Any] = {}
    for column in load.bound_columns:
        if column.key in load.vectors:
            continue
        values = load.processed(column, connection)
        if not any(isinstance(value, (Json, Jsonb)) for value in values):
            continue
        texts: List[Any] = []
        for index, value in enumerate(values):
            if not isinstance(value, (Json, Jsonb)):
                texts.append(value)
                continue
            wrapper = type(value)
            if wrapper not in dumps_of:
                dumps_of[wrapper] = raw.adapters.get_dumper(wrapper, PyFormat.BINARY)(wrapper, raw).dumps
            try:
                text = (value.dumps or dumps_of[wrapper])(value.obj)
            except Exception as err:
                if isinstance(err, DontWrapMixin):
                    raise
                raise load.unstorable(column, index, err) from err
            texts.append(wrapper(text, _as_is))
        found[column.key] = texts
    return found


def _as_is(text: Any) -> Any:
    return text


async def _copy_async(raw: Any, statement: str, oids: List[int], fields: List[List[Any]]) -> None:
    async with raw.cursor() as cursor:
        async with cursor.copy(statement) as copy:
            copy.set_types(oids)
            for row in zip(*fields):
                await copy.write_row(row)


def _rollback(savepoint: Any) -> None:
    if savepoint is not None and savepoint.is_active:
        savepoint.rollback()


def _pg_column_types(connection: Connection, qualified: str) -> Dict[str, Tuple[int, str]]:
    rows = connection.execute(
        text(
            "SELECT a.attname, a.atttypid, t.typname FROM pg_attribute a JOIN pg_type t ON t.oid = a.atttypid "
            "WHERE a.attrelid = CAST(:relation AS regclass) AND a.attnum > 0 AND NOT a.attisdropped"
        ),
        {"relation": qualified},
    )
    return {name: (int(oid), typname) for name, oid, typname in rows}


def _pgvector_binary(matrix: npt.NDArray[np.float32], nulls: Optional[npt.NDArray[np.bool_]]) -> List[Optional[bytes]]:
    # pgvector's vector_recv: int16 dimensions, int16 unused, big-endian float32s.
    count, dim = matrix.shape
    encoded = np.empty((count, 1 + dim), dtype=">f4")
    header = encoded[:, :1].view(">u2")
    header[:, 0] = dim
    header[:, 1] = 0
    encoded[:, 1:] = matrix
    width = 4 * (1 + dim)
    blob = encoded.tobytes()
    rows: List[Optional[bytes]] = [blob[i : i + width] for i in range(0, count * width, width)]
    if nulls is not None:
        for index in np.flatnonzero(nulls):
            rows[index] = None
    return rows


