"""The command-line tool's record of a collection: a key/value table beside the documents.

It says how the passages were embedded (the model, its dimension, the precision)
and split, so that later commands embed queries and new files the same way.
Alembic's autogenerate leaves it alone (no model declares it).
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import Column, MetaData, String, Table, Text

#: The table's name.
SETTINGS_TABLE = "vector_collection"


def settings_table() -> Table:
    """The table, on a metadata of its own."""
    return Table(
        SETTINGS_TABLE, MetaData(), Column("key", String(64), primary_key=True), Column("value", Text, nullable=False)
    )


def is_settings_table(table: Any) -> bool:
    """Whether a (reflected) table is this one: its name and its two columns."""
    return getattr(table, "name", None) == SETTINGS_TABLE and sorted(getattr(table, "c", {}).keys()) == ["key", "value"]
