"""Smoke check of an installed wheel on DuckDB: an exact top-k, then an HNSW index if vss can be had.

The ``duckdb`` extra installs the newest DuckDB its dialect allows, for which
``duckdb-extension-vss`` may not exist: then the index must be refused with
MissingExtensionError while the exact search still works.
"""

from __future__ import annotations

import sys
import tempfile

import duckdb
import sqlalchemy
from sqlalchemy import Column, Integer, MetaData, Table, insert

import sqlalchemy_vector as sv
from sqlalchemy_vector.exc import MissingExtensionError
from sqlalchemy_vector.index import VectorIndex, create_vector_index
from sqlalchemy_vector.search import knn


def main() -> int:
    with tempfile.TemporaryDirectory() as directory:
        engine = sv.create_engine(f"duckdb:///{directory}/smoke.duckdb")
        table = Table(
            "docs",
            MetaData(),
            Column("id", Integer, primary_key=True, autoincrement=False),
            Column("embedding", sv.Vector(3)),
        )
        rows = [{"id": i, "embedding": [float(i), 1.0, 0.0]} for i in range(1, 21)]
        with engine.begin() as conn:
            table.create(conn)
            conn.execute(insert(table), rows)
            found = [row.id for row in knn(conn, table.c.embedding, [5.2, 1.0, 0.0], 3, metric="l2")]
        assert found == [5, 6, 4], found
        index = VectorIndex("ix_docs_embedding", table.c.embedding, metric="l2", duckdb_experimental_persistence=True)
        try:
            with engine.begin() as conn:
                create_vector_index(conn, index)
                found = [row.id for row in knn(conn, table.c.embedding, [5.2, 1.0, 0.0], 3, metric="l2")]
            hnsw = "built"
        except MissingExtensionError as error:
            assert "duckdb-extension-vss" in str(error) and "INSTALL vss" in str(error), error
            hnsw = "refused: MissingExtensionError"
        engine.dispose()
    print(
        f"duckdb {duckdb.__version__}, sqlalchemy {sqlalchemy.__version__}, dialect "
        f"{type(engine.dialect).__module__}: top-3 {found}, HNSW index {hnsw}"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
