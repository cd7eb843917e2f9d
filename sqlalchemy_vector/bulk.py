"""Bulk loading of rows with vector columns: :func:`bulk_insert`.

``insert(table)`` with many rows binds every value of every row: with 384-d
vectors about 2,000 rows/s on DuckDB 1.5 (35 rows/s if vectors were bound as
lists), and about half the rate of ``COPY`` on PostgreSQL or of a bare
``executemany`` on SQLite.  :func:`bulk_insert` takes the same rows and hands
them, validated and laid out as columns (a :class:`BulkLoad`), to the
backend's bulk path (``Backend.bulk_write``), with the same result as the
plain insert: ``COPY ... FROM STDIN (FORMAT BINARY)`` on PostgreSQL with
psycopg 3, an Arrow table and ``INSERT ... SELECT`` on DuckDB, ``executemany``
of float32 BLOBs on SQLite.

Values go through the column types' bind processing, as in a plain insert
(JSON serialisation, dates, UUIDs).  Columns absent from the rows get their
defaults: Python ``default=`` values and callables are computed here, one call
per row; ``server_default`` and identity/autoincrement keys are left to the
database; SQL-expression ``default=`` (e.g. ``func.now()``) is rendered into
the statement where the bulk path allows it.  Anything a bulk path cannot
reproduce exactly (other drivers, column types it does not know, defaults that
need the statement's execution context) falls back to
``connection.execute(insert(table), rows)``.
"""

from __future__ import annotations

from typing import Any, Callable, Dict, Iterable, List, Mapping, Optional, Sequence, Tuple, TypeVar, Union

import numpy as np
import numpy.typing as npt
from sqlalchemy import JSON, Column, Table, insert
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.exc import DontWrapMixin
from sqlalchemy.orm import Session

from .dialects.base import find_backend
from .exc import InvalidArgumentError, InvalidRowError, InvalidVectorError
from .kinds import CompactVector
from .types import Vector, _preview, has_booleans, to_float32, unhandled_norm

__all__ = ["BulkLoad", "bulk_insert"]

_T = TypeVar("_T")


def bulk_insert(connection: Union[Connection, Session], table: Table, rows: Iterable[Mapping[str, Any]]) -> int:
    """Insert ``rows`` (dicts keyed by column key) into ``table`` with the backend's bulk path.

    ``rows`` is a list, or any iterable (a tuple, a generator), of mappings;
    it is read once, before anything is written, so all its rows are held in
    memory at once (about 0.5 KB a row of 8 dimensions, measured on SQLite):
    for more rows than fit, call it once per slice in one transaction.  Every row is checked (at
    least one key, the same keys as the first row, known columns), every
    vector validated and every other value converted as a plain insert would
    convert it before anything is written: a bad row raises
    :class:`~sqlalchemy_vector.exc.InvalidRowError`, a bad vector
    :class:`~sqlalchemy_vector.exc.InvalidVectorError`, naming the column and
    the row index.  Rows are written in the caller's transaction, which is
    never committed here: after a database error (e.g. a duplicate key),
    raised as SQLAlchemy's :class:`~sqlalchemy.exc.DBAPIError` subclass that a
    plain insert would raise, rolling back leaves nothing behind.  Returns the
    number of rows inserted.

    ``connection`` may also be an ORM :class:`~sqlalchemy.orm.Session`: the
    rows go through its connection for ``table``, in the session's
    transaction (objects already in the session are not refreshed).
    """
    table = _table_of(table)
    connection = _connection_of(connection, table)
    rows = _row_list(table, rows)
    if not rows:
        return 0
    load = BulkLoad.prepare(connection, table, rows)
    if not connection.in_transaction():
        connection.begin()  # what execute() would do (autobegin): the caller commits
    backend = find_backend(connection.dialect)
    if backend is None or not backend.bulk_write(connection, load):
        connection.execute(insert(table), load.as_dicts())
    return load.count


def driver_call(connection: Connection, statement: str, call: Callable[[], _T]) -> _T:
    """Run ``call`` on the driver's connection; what it raises reaches the caller as from ``connection.execute``.

    A bulk path that calls the driver itself (Arrow registration, a native
    insert) goes around SQLAlchemy's execution, which is where driver errors
    become :class:`~sqlalchemy.exc.DBAPIError` subclasses (and a lost
    connection is invalidated): this gives them the same treatment, with
    ``statement`` as the SQL the error reports.
    """
    try:
        return call()
    except BaseException as err:
        connection._handle_dbapi_exception(err, statement, None, None, None)


def _connection_of(target: Any, table: Table) -> Connection:
    """The Connection to write through: ``target`` itself, or a Session's; anything else is refused, naming the fix."""
    if isinstance(target, Connection):
        return target
    if isinstance(target, Session):
        return target.connection(bind_arguments={"clause": table})  # the table's bind, as session.execute would
    if isinstance(target, Engine):
        fix = "open a transaction and pass its connection: with engine.begin() as conn: bulk_insert(conn, table, rows)"
    elif type(target).__module__.startswith("sqlalchemy.ext.asyncio"):  # not imported here: it needs greenlet
        fix = "run it in the async connection's greenlet: await conn.run_sync(lambda c: bulk_insert(c, table, rows))"
    else:
        fix = "pass a Connection (with engine.begin() as conn: ...) or an ORM Session"
    raise InvalidArgumentError(
        f"bulk_insert's first argument must be a Connection or a Session, got {type(target).__name__} "
        f"{_preview(target)}; {fix}"
    )


def _table_of(table: Any) -> Table:
    if isinstance(table, Table):
        return table
    mapped = getattr(table, "__table__", None)
    if isinstance(mapped, Table):
        fix = f"pass the mapped class's table: bulk_insert(conn, {getattr(table, '__name__', 'Model')}.__table__, rows)"
    else:
        fix = "pass a Table (a model's __table__), e.g. bulk_insert(conn, Doc.__table__, rows)"
    given = f"the class {table.__name__}" if isinstance(table, type) else f"{type(table).__name__} {_preview(table)}"
    raise InvalidArgumentError(f"bulk_insert's table must be a Table, got {given}; {fix}")


def _row_list(table: Table, rows: Any) -> List[Mapping[str, Any]]:
    if isinstance(rows, list):
        return rows
    if isinstance(rows, Mapping):
        raise InvalidRowError(
            f"rows for table {table.name!r} must be a list of mappings, got one mapping (a {type(rows).__name__}); "
            "wrap it in a list to insert one row: bulk_insert(connection, table, [row])"
        )
    if isinstance(rows, (str, bytes)) or not isinstance(rows, Iterable):
        raise InvalidRowError(
            f"rows for table {table.name!r} must be an iterable of mappings, got {type(rows).__name__} "
            f"{_preview(rows)}; give a list of dicts keyed by column key, e.g. "
            f"[{{{', '.join(f'{k!r}: ...' for k in table.c.keys()[:2])}}}]"
        )
    return list(rows)


# -- preparing the rows ------------------------------------------------------------


def refuse_beyond_range(load: "BulkLoad", column: "Column[Any]", values: Sequence[Any], unsigned: bool, bits: int) -> None:
    """Raise :class:`InvalidRowError` for the first integer of ``values`` outside the column's range.

    For a bulk path that packs integers to the column's width itself (PostgreSQL's binary COPY, ClickHouse's
    Arrow insert), which would store such a value wrapped where a plain insert refuses it.
    """
    low, high = (0, (1 << bits) - 1) if unsigned else (-(1 << (bits - 1)), (1 << (bits - 1)) - 1)
    for row, value in enumerate(values):
        if isinstance(value, (int, np.integer)) and not isinstance(value, bool) and not low <= int(value) <= high:
            kind = f"{'unsigned ' if unsigned else ''}{bits}-bit"
            raise InvalidRowError(
                f"{load.table.name}.{column.name} in row {row} is {int(value)}, outside the column's {kind} integer "
                f"range ({low} to {high}); give a value in that range, or widen the column (BigInteger)"
            )


class BulkLoad:
    """Validated rows as columns: what every backend's bulk path starts from.

    ``columns`` are the given columns, then those whose Python defaults were
    computed; ``values`` holds one Python value per row for each column key,
    ``vectors`` an ``(n, dim)`` float32 matrix and a NULL mask (or ``None``)
    per vector column.  ``defaults_computed`` is False when a default needs
    SQLAlchemy's execution context (then only the plain insert is exact);
    ``sql_defaults`` are absent columns whose default is a SQL expression.
    """

    def __init__(self, table: Table, count: int) -> None:
        self.table = table
        self.count = count
        self.columns: List[Column[Any]] = []  # given keys first, then computed defaults
        self.values: Dict[str, List[Any]] = {}  # column key -> one Python value per row
        self.vectors: Dict[str, Tuple[npt.NDArray[np.float32], Optional[npt.NDArray[np.bool_]]]] = {}
        self.given: List[str] = []  # keys present in the rows
        self.sql_defaults: List[Column[Any]] = []  # absent columns whose default is SQL
        self.defaults_computed = True  # False: a default needs SQLAlchemy's execution context
        self._processed: Dict[str, List[Any]] = {}  # column key -> values after the column type's bind processing

    @classmethod
    def prepare(cls, connection: Connection, table: Table, rows: Sequence[Mapping[str, Any]]) -> "BulkLoad":
        load = cls(table, len(rows))
        for index, row in enumerate(rows):
            if not isinstance(row, Mapping):
                raise InvalidRowError(
                    f"row {index} for table {table.name!r} is a {type(row).__name__}, not a mapping; give each row "
                    "as a dict keyed by column key, e.g. "
                    "[dict(zip(columns, values)) for values in rows] with columns such as "
                    f"{table.c.keys()[:3]!r}"
                )
        keys = list(rows[0].keys())
        if not keys:
            raise InvalidRowError(
                f"rows for table {table.name!r} have no keys: row 0 has no keys, so no column would be written; "
                f"give each row the columns to write, keyed by column key (the table's are {', '.join(table.c.keys())})"
            )
        unknown = [k for k in keys if k not in table.c]
        if unknown:
            raise InvalidRowError(
                f"row 0 has keys that are not columns of table {table.name!r}: {', '.join(map(repr, unknown))}; "
                f"the table's column keys are {', '.join(table.c.keys())}"
            )
        key_set = set(keys)
        for index, row in enumerate(rows):
            if row.keys() != key_set:
                missing = sorted(key_set - row.keys())
                extra = sorted(set(row.keys()) - key_set)
                raise InvalidRowError(
                    f"row {index} does not have the same keys as row 0 for table {table.name!r}"
                    + (f"; missing {', '.join(map(repr, missing))}" if missing else "")
                    + (f"; unexpected {', '.join(map(repr, extra))}" if extra else "")
                    + "; give every row the same keys (use None for NULL)"
                )
        load.given = keys
        load.columns = [table.c[k] for k in keys]
        load.values = {key: [row[key] for row in rows] for key in keys}
        load._compute_defaults(connection)
        for column in load.columns:
            if isinstance(column.type, Vector):
                load.vectors[column.key] = _vector_matrix(load.values[column.key], column.type)
        # Other values through the column types' bind processing now, as the plain insert
        # would (which raises StatementError): a value it rejects names its row and column.
        for column in load.bound_columns:
            if column.key not in load.vectors:
                load.processed(column, connection)
        return load

    @property
    def bound_columns(self) -> List[Column[Any]]:
        """The columns whose values an insert of this load binds: the given ones, and computed defaults if complete."""
        return self.columns if self.defaults_computed else [self.table.c[k] for k in self.given]

    def _compute_defaults(self, connection: Connection) -> None:
        for column in self.table.columns:
            if column.key in self.values:
                continue
            default = column.default
            if default is None:
                continue  # server default, autoincrement or NULL: the database decides
            if getattr(default, "is_sequence", False) or getattr(default, "is_clause_element", False):
                self.sql_defaults.append(column)
                continue
            values: Optional[List[Any]] = None
            if getattr(default, "is_scalar", False):
                values = [default.arg] * self.count  # type: ignore[attr-defined]
            elif getattr(default, "is_callable", False):
                values = self._call_default(connection, column, default.arg)  # type: ignore[attr-defined]
            if values is None:
                self.defaults_computed = False
                return
            self.columns.append(column)
            self.values[column.key] = values

    def _call_default(self, connection: Connection, column: Column[Any], fn: Callable[[Any], Any]) -> Optional[List[Any]]:
        # The callable receives a context like SQLAlchemy's: get_current_parameters()
        # gives the row's values so far.  Anything else it asks for means only
        # SQLAlchemy's own execution can run it: give up (the plain insert will).
        keys = [c.key for c in self.columns]
        out: List[Any] = []
        for index in range(self.count):
            context = _DefaultContext(connection, column, {k: self.values[k][index] for k in keys})
            try:
                out.append(fn(context))
            except _NeedsExecutionContext:
                return None
        return out

    def processed(self, column: Column[Any], connection: Connection) -> List[Any]:
        """The column's values as the DBAPI would receive them from a plain insert."""
        done = self._processed.get(column.key)
        if done is not None:
            return done
        values = self.values[column.key]
        dialect = connection.dialect
        process = column.type.dialect_impl(dialect).bind_processor(dialect)
        if process is None:
            done = values
        else:
            done = []
            for index, value in enumerate(values):
                try:
                    done.append(process(value))
                except Exception as err:
                    if isinstance(err, InvalidVectorError) and isinstance(column.type, CompactVector):
                        # The kind's own error, naming the row as a Vector column's does.
                        column.type.validate(value, f"{column.type.described_as} in row {index}")
                    if isinstance(err, DontWrapMixin):
                        raise
                    raise self.unstorable(column, index, err) from err
        self._processed[column.key] = done
        return done

    def unstorable(self, column: Column[Any], index: int, error: Exception) -> InvalidRowError:
        """The error for a value of ``column`` in row ``index`` that its type cannot bind (``error`` says why)."""
        value = self.values[column.key][index]
        type_ = column.type
        if isinstance(type_, JSON) or isinstance(getattr(type_, "impl_instance", None), JSON):
            fix = (
                "give JSON values only (dict, list, str, int, float, bool, None): convert numpy scalars and arrays "
                "with .item() or .tolist(), other objects to str"
            )
        else:
            try:
                expected = f"a {type_.python_type.__name__}"
            except NotImplementedError:
                expected = f"a value a {type_!r} column takes"
            fix = f"give {expected}, or None for NULL"
        return InvalidRowError(
            f"{self.table.name}.{column.name} in row {index} is a {type(value).__name__} ({_preview(value)}) that its "
            f"{type_!r} column cannot store ({error}); {fix}"
        )

    def vector_values(self, key: str) -> List[Optional[npt.NDArray[np.float32]]]:
        matrix, nulls = self.vectors[key]
        rows: List[Optional[npt.NDArray[np.float32]]] = list(matrix)
        if nulls is not None:
            for index in np.flatnonzero(nulls):
                rows[index] = None
        return rows

    def as_dicts(self) -> List[Dict[str, Any]]:
        """The rows for a plain ``insert(table)``: given keys, validated vectors, and computed defaults if complete."""
        keys = [c.key for c in self.columns] if self.defaults_computed else self.given
        columns = [self.vector_values(k) if k in self.vectors else self.values[k] for k in keys]
        return [dict(zip(keys, values)) for values in zip(*columns)]


class _NeedsExecutionContext(Exception):
    pass


class _DefaultContext:
    """The part of SQLAlchemy's execution context that column default callables commonly use."""

    def __init__(self, connection: Connection, column: Column[Any], parameters: Dict[str, Any]) -> None:
        self.connection = connection
        self.dialect = connection.dialect
        self.engine = connection.engine
        self.current_column = column
        self.current_parameters = parameters

    def get_current_parameters(self, isolate_multiinsert_groups: bool = True) -> Dict[str, Any]:
        return self.current_parameters

    def __getattr__(self, name: str) -> Any:
        raise _NeedsExecutionContext(name)


def _vector_matrix(values: List[Any], vector: Vector) -> Tuple[npt.NDArray[np.float32], Optional[npt.NDArray[np.bool_]]]:
    """Validate a column of vectors; return an ``(n, dim)`` float32 matrix and a mask of NULL rows (or None)."""
    dim = vector.dim
    if values and all(v is not None for v in values):
        # Whole-column check first: one numpy conversion instead of one per row.
        try:
            array = np.asarray(values)
        except (TypeError, ValueError):  # ragged
            array = None
        if (
            array is not None
            and array.ndim == 2
            and array.shape[1] == dim
            and array.dtype.kind in "iuf"
            and not has_booleans(values)
        ):
            with np.errstate(over="ignore"):
                matrix = np.ascontiguousarray(array, dtype=np.float32)
            if np.isfinite(matrix).all() and unhandled_norm(matrix) is None:
                return matrix, None
    # Row by row: NULLs, and the first invalid row's exact error (the checks of a plain insert).
    matrix = np.zeros((len(values), dim), dtype=np.float32)
    nulls = np.zeros(len(values), dtype=bool)
    for index, value in enumerate(values):
        if value is None:
            nulls[index] = True
        else:
            matrix[index] = to_float32(value, dim, f"{vector.described_as} in row {index}")
    return matrix, (nulls if nulls.any() else None)

