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
from typing import Any, Dict, Optional

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


#: In a pool connection's ``info``: its settings forbid extensions (``enable_external_access = false``).
EXTENSIONS_REFUSED = "sqlalchemy_vector.duckdb.extensions_refused"


def load(dbapi_connection: Any, wheel: Optional[Path], info: Dict[str, Any]) -> bool:
    """Load vss on a new DBAPI connection, from ``wheel`` or else the extension directory; whether it loaded.

    ``info`` (the pool's record of the connection) notes a connection whose settings forbid extensions.
    """
    statement = f"LOAD '{_sql_string(str(wheel))}'" if wheel is not None else "LOAD vss"
    cursor = dbapi_connection.cursor()
    try:
        cursor.execute(statement)
    except Exception as error:  # duckdb.Error: not installed (or a wheel for another platform)
        if refused_by_settings(error):
            info[EXTENSIONS_REFUSED] = True
            return False
        if wheel is None:
            return False
        raise
    finally:
        cursor.close()
    return True


def refused_by_settings(error: BaseException) -> bool:
    """Whether a ``LOAD`` failed because the connection's settings forbid extensions (``enable_external_access =
    false``, a sandboxed DuckDB): the connection works without them, exact search included."""
    return type(error).__name__ == "PermissionException"


def loaded(connection: Connection) -> bool:
    """Whether vss is loaded on ``connection``."""
    if connection.connection.info.get(EXTENSIONS_REFUSED):
        return False  # not even its list of extensions can be read there
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

    if connection.connection.info.get(EXTENSIONS_REFUSED):
        raise MissingExtensionError(
            f"VectorIndex {index_name!r} on DuckDB needs the vss extension, which this connection's settings "
            "forbid to load (enable_external_access = false); build the index through a connection that allows "
            "extensions, or search without an index: exact search works as it is"
        )
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
