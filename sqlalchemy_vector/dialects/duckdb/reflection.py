"""What reflection and Alembic see of DuckDB's ``FLOAT[n]`` columns."""

from __future__ import annotations

from typing import Any, Callable, Dict

from sqlalchemy.sql.type_api import TypeEngine
from sqlalchemy.types import NullType


def _unknown_array(*args: Any, **kw: Any) -> TypeEngine[Any]:
    return NullType()


def type_names() -> Dict[str, Callable[..., TypeEngine[Any]]]:
    """duckdb_engine 0.17 reports every LIST/ARRAY column as ``array``, without its size.

    Such columns reflect as ``NullType`` without a warning; the Alembic plugin
    reads ``FLOAT[n]`` from ``information_schema`` instead.
    """
    return {"array": _unknown_array}
