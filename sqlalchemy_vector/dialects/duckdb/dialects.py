"""The two SQLAlchemy dialects that register the name ``duckdb``, and what each can do.

``duckdb-sqlalchemy`` (maintained; what the ``duckdb`` extra installs) and
duckdb_engine 0.17 (the original, last released March 2025) both register
``duckdb``, so a user has one or the other.  They are told apart by the
package that defines the dialect class, and code that must differ reads the
facts below instead of testing names.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Optional, Union

from sqlalchemy.engine.interfaces import Dialect

__all__ = ["DialectTraits", "DUCKDB_SQLALCHEMY", "DUCKDB_ENGINE", "traits_of"]


@dataclass(frozen=True)
class DialectTraits:
    """What one DuckDB dialect package does, as measured with DuckDB 1.5.5 and SQLAlchemy 2.0.54 / 2.1.9."""

    #: The top-level module that defines the dialect class.
    module: str
    #: The distribution pip installs it from.
    distribution: str
    #: ``FLOAT[n]`` reflects with its size (a fixed-size array type) instead of as ``NullType``.
    reflects_array_size: bool
    #: ``Inspector.get_pk_constraint`` reports the primary key (duckdb_engine 0.17 reports none on DuckDB 1.5).
    reflects_primary_keys: bool
    #: ``Inspector.get_indexes`` reports the table's indexes (duckdb_engine returns none and warns).
    reflects_indexes: bool
    #: Reflection works on SQLAlchemy 2.1 (duckdb_engine 0.17's queries use ``pg_collation``, which DuckDB lacks).
    reflects_on_sqlalchemy_2_1: bool
    #: A plain ``Integer`` primary key renders as ``SERIAL``, which DuckDB rejects.
    serial_integer_keys: bool
    #: The module whose import registers the package's own Alembic implementation, if it ships one.
    alembic_impl: Optional[str]


DUCKDB_SQLALCHEMY = DialectTraits(
    module="duckdb_sqlalchemy",
    distribution="duckdb-sqlalchemy",
    reflects_array_size=True,
    reflects_primary_keys=True,
    reflects_indexes=True,
    reflects_on_sqlalchemy_2_1=True,
    serial_integer_keys=False,
    alembic_impl="duckdb_sqlalchemy.alembic_impl",
)

DUCKDB_ENGINE = DialectTraits(
    module="duckdb_engine",
    distribution="duckdb-engine",
    reflects_array_size=False,
    reflects_primary_keys=False,
    reflects_indexes=False,
    reflects_on_sqlalchemy_2_1=False,
    serial_integer_keys=True,
    alembic_impl=None,
)

_KNOWN = (DUCKDB_SQLALCHEMY, DUCKDB_ENGINE)


def traits_of(dialect: Union[Dialect, type, None] = None) -> DialectTraits:
    """The traits of a DuckDB dialect (instance or class), or of the one registered as ``duckdb``.

    A subclass (a user's own dialect) has its base package's traits; an unknown
    package is taken to behave like duckdb_engine, the one that needs every
    workaround.
    """
    if dialect is None:
        from sqlalchemy.dialects import registry

        dialect = registry.load("duckdb")
    cls: Any = dialect if isinstance(dialect, type) else type(dialect)
    for klass in cls.__mro__:
        root = klass.__module__.partition(".")[0]
        for traits in _KNOWN:
            if traits.module == root:
                return traits
    return DUCKDB_ENGINE


def fixed_array_dim(type_: Any) -> Optional[int]:
    """``n`` when ``type_`` is duckdb-sqlalchemy's reflected ``FLOAT[n]`` (a fixed-size array of 4-byte floats)."""
    try:
        from duckdb_sqlalchemy.datatypes import FixedArray
    except ImportError:  # duckdb_engine reflects FLOAT[n] as NullType: nothing to recognise
        return None
    from sqlalchemy.types import REAL

    if isinstance(type_, FixedArray) and isinstance(type_.item_type, REAL):
        return int(type_.size)
    return None
