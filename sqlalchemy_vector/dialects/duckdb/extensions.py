"""Loading DuckDB's vss extension, which builds and searches HNSW indexes.

Tried in order, on every new connection: the file that the
``duckdb-extension-vss`` wheel ships when its version is exactly
``duckdb.__version__`` (offline), else ``LOAD vss`` from DuckDB's extension
directory (an earlier ``INSTALL vss``).  When an index is to be built and
neither worked, ``INSTALL vss`` (a download, which fails offline) is the
last try.  Exact search needs none of them.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Optional

from sqlalchemy.engine import Connection

from ...exc import MissingExtensionError


def wheel_path() -> Optional[Path]:
    """The vss extension file shipped by ``duckdb-extension-vss`` for this DuckDB version, if installed.

    ``INSTALL vss`` downloads from the network; the wheel makes it loadable offline,
    but only when its version matches ``duckdb.__version__`` exactly.
    """
    try:
        import duckdb
        import duckdb_extension_vss
    except ImportError:
        return None
    path = Path(duckdb_extension_vss.__file__).parent / "extensions" / f"v{duckdb.__version__}" / "vss.duckdb_extension"
    return path if path.is_file() else None


def load(dbapi_connection: Any, wheel: Optional[Path]) -> bool:
    """Load vss on a new DBAPI connection, from ``wheel`` or else the extension directory; whether it loaded."""
    statement = f"LOAD '{_sql_string(str(wheel))}'" if wheel is not None else "LOAD vss"
    cursor = dbapi_connection.cursor()
    try:
        cursor.execute(statement)
    except Exception:  # duckdb.Error: not installed (or a wheel for another platform)
        if wheel is None:
            return False
        raise
    finally:
        cursor.close()
    return True


def loaded(connection: Connection) -> bool:
    """Whether vss is loaded on ``connection``."""
    return bool(
        connection.exec_driver_sql("SELECT loaded FROM duckdb_extensions() WHERE extension_name = 'vss'").scalar()
    )


def ensure_loaded(connection: Connection, index_name: str) -> None:
    """Make vss available on ``connection`` for building ``index_name``, or raise MissingExtensionError.

    Where a prepared engine's connection has no vss, tries ``INSTALL vss`` and
    ``LOAD vss`` (DuckDB's own repository, or the one the connection sets);
    once installed, every new connection of a prepared engine loads it.  A
    failure aborts the connection's transaction, as any DuckDB error does.
    """
    if loaded(connection):
        return
    import duckdb

    try:
        connection.exec_driver_sql("INSTALL vss")
        connection.exec_driver_sql("LOAD vss")
    except Exception as error:  # duckdb.IOException, offline
        problem = str(error).splitlines()[0]
    else:
        if loaded(connection):
            return
        problem = "LOAD vss left it unloaded"
    version = duckdb.__version__
    if wheel_path() is not None:
        fix = (
            "duckdb-extension-vss is installed for this DuckDB: create the engine with "
            "sqlalchemy_vector.create_engine(url) (or pass it to sqlalchemy_vector.attach), which loads it"
        )
    else:
        fix = (
            f"pip install duckdb-extension-vss=={version} if that version exists (offline; the wheel must match "
            "the duckdb version exactly), or let DuckDB download vss (INSTALL vss needs network access once)"
        )
    raise MissingExtensionError(
        f"VectorIndex {index_name!r} on DuckDB {version} needs the vss extension, which is not loaded and "
        f"INSTALL vss failed ({problem}); {fix}. Exact search, without an index, works as it is."
    )


def _sql_string(text: str) -> str:
    return text.replace("'", "''")
