"""How DuckDB stores the vectors of prepared engines.

At a checkpoint DuckDB compresses each column segment with the method its
analysis expects to be smallest.  For the float32 elements of embedding vectors that is
ALPRD, which every scan of the vectors must then decode.  Measured on DuckDB
1.5.5 by ``bench/storage_defaults.py`` at 100,000 x 384 loaded through the
facade: its exact top 5 took 144.0 ms with ALPRD against 50.5 ms stored plain,
and the database used 253 MB of blocks against 172 MB.  Written in one insert
instead, 50,000 x 384 took 64 MB with ALPRD against 73 MB plain, and an exact
scan 50.0 ms against 23.7 ms (DuckDB 1.2.2: 87.4 against 64.8 ms).  Engines
sqlalchemy_vector prepares add ``alprd`` to ``disabled_compression_methods``
on each connection: float data is then stored without it (uncompressed, or
with ALP where that applies), while other columns keep their methods.  DuckDB 1.1 has no such
setting and keeps ALPRD.
"""

from __future__ import annotations

import re
from typing import Any

#: The compression method left out for float data (DuckDB's name for it).
FLOAT_METHOD = "alprd"


def store_floats_plain(cursor: Any) -> None:
    """Add ALPRD to the connection's disabled compression methods, keeping any already disabled."""
    cursor.execute("SELECT value FROM duckdb_settings() WHERE name = 'disabled_compression_methods'")
    found = cursor.fetchone()
    if found is None:  # DuckDB 1.1
        return
    disabled = [method.strip() for method in str(found[0] or "").split(",") if method.strip()]
    if FLOAT_METHOD in (method.lower() for method in disabled) or not all(
        re.fullmatch(r"\w+", method) for method in disabled
    ):
        return
    value = ",".join(disabled + [FLOAT_METHOD])
    cursor.execute(f"SET disabled_compression_methods = '{value}'")
