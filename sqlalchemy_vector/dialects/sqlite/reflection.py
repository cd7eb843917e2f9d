"""What reflection and Alembic see of sqlite-vec: ``F32_BLOB(n)`` columns, and vec0 tables to hide.

A vec0 index is a virtual table plus shadow tables sqlite-vec creates for it
(``<name>_chunks``, ``_rowids``, ``_vector_chunks00``, ...).  They belong to
the index, which the Alembic plugin compares as a whole; Alembic must not see
them as tables of their own.
"""

from __future__ import annotations

import re
from typing import Any, Callable, Dict, Optional, Set

from sqlalchemy import text
from sqlalchemy.engine import Connection
from sqlalchemy.sql.type_api import TypeEngine

from ..base import reflected_vector
from .index import master_table, vec0_tables

_SHADOW_SUFFIX = r"_(?:info|chunks|rowids|auxiliary|vector_chunks\d+|metadatachunks\d+|metadatatext\d+)"


def type_names() -> Dict[str, Callable[..., TypeEngine[Any]]]:
    """The dialect reflects ``F32_BLOB(384)`` as the name ``F32_BLOB`` with the argument 384.

    The compact kinds' declared types (``INT8_BLOB(n)``, ``BIT_BLOB(n)``) are
    the library's own names and reflect as their kinds.
    """
    from ...kinds import reflected_kind

    return {"F32_BLOB": reflected_vector, "INT8_BLOB": reflected_kind("int8"), "BIT_BLOB": reflected_kind("bit")}


def index_tables(connection: Connection, schema: Optional[str] = None) -> Set[str]:
    """Every vec0 table of ``schema`` (an attached database's name; None: main) and the shadow tables sqlite-vec
    keeps for each, in the same file."""
    names = set(vec0_tables(connection, schema))
    if not names:
        return names
    master = master_table(connection, schema)
    rows = connection.execute(text(f"SELECT name FROM {master} WHERE type = 'table'")).scalars().all()
    shadow = re.compile("^(?:" + "|".join(re.escape(name) for name in names) + ")" + _SHADOW_SUFFIX + "$")
    return names | {row for row in rows if shadow.match(row)}
