"""SQLite's bulk path: ``executemany`` of the compiled INSERT, vectors as float32 BLOBs."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, List

import numpy as np
from sqlalchemy import insert
from sqlalchemy.engine import Connection

if TYPE_CHECKING:
    from ...bulk import BulkLoad


def write(connection: Connection, load: "BulkLoad") -> bool:
    """Insert ``load`` with one ``executemany``; ``False`` when only the plain insert is exact."""
    if not load.defaults_computed:
        return False
    dialect = connection.dialect
    compiled = insert(load.table).compile(dialect=dialect, column_keys=[c.key for c in load.columns])
    if compiled.insert_prefetch:
        return False  # defaults SQLAlchemy would compute: not expected once ours are
    names = compiled.positiontup if compiled.positional else list(compiled.binds)
    if names is None:
        return False
    by_key = {c.key: c for c in load.columns}
    data: List[List[Any]] = []
    for name in names:
        key = compiled.binds[name].key
        column = by_key.get(key)
        if column is None:
            return False
        if key in load.vectors:
            matrix, nulls = load.vectors[key]
            blobs: List[Any] = [row.tobytes() for row in matrix.astype("<f4", copy=False)]
            if nulls is not None:
                for index in np.flatnonzero(nulls):
                    blobs[index] = None
            data.append(blobs)
        else:
            data.append(load.processed(column, connection))
    parameters: Any = list(zip(*data))
    if not compiled.positional:
        parameters = [dict(zip(names, row)) for row in parameters]
    connection.exec_driver_sql(compiled.string, parameters)
    return True
