"""The facade's search is served by the vector index its database built, on every backend."""

from __future__ import annotations

from typing import Any, Callable, List, Tuple

import numpy as np
import pytest
from sqlalchemy import event

import sqlalchemy_vector as sv
from sqlalchemy_vector.dialects import backend_for
from tests.conftest import CLICKHOUSE
from tests.index_helpers import clustered, exact_ids

PLAN_MARKERS = {
    "sqlite": "VIRTUAL TABLE INDEX",
    "duckdb": "HNSW_INDEX_SCAN",
    "postgresql": "Index Scan using ix_facade",
}


def rag_backend(rag: sv.VectorRAG) -> Any:
    return backend_for(rag.engine.dialect)


def plan_of(rag: sv.VectorRAG, statement: str, parameters: Any, kind: str) -> str:
    with rag.engine.connect() as connection:
        if kind == "postgresql":
            # A small table: make the planner show whether the index can serve the statement at all.
            connection.exec_driver_sql("SET enable_seqscan = off")
        prefix = "EXPLAIN QUERY PLAN " if kind == "sqlite" else "EXPLAIN "
        rows = connection.exec_driver_sql(prefix + statement, parameters).fetchall()
    return "\n".join(str(row[1] if kind == "duckdb" else row[-1]) for row in rows)


@pytest.mark.parametrize("kind", ["sqlite", "duckdb", "postgresql"])
def test_facade_search_uses_the_index(kind: str, fresh_database_url: Callable[[str], str]) -> None:
    data = clustered(400, 16)
    rag = sv.VectorRAG(fresh_database_url(kind), dimension=16)
    ids = rag.load_documents(
        [{"content": f"doc {i}", "embedding": v, "metadata": {"n": i}} for i, v in enumerate(data)], show_progress=False
    )
    rag.create_index("ix_facade", "cosine", duckdb_experimental_persistence=True)
    seen: List[Tuple[str, Any]] = []

    def record(conn: Any, cursor: Any, statement: str, parameters: Any, context: Any, many: bool) -> None:
        seen.append((statement, parameters))

    event.listen(rag.engine, "before_cursor_execute", record)
    query = data[7] + np.float32(0.05)
    results = rag.query_with_embedding(query, top_k=5)
    event.remove(rag.engine, "before_cursor_execute", record)
    searches = [(s, p) for s, p in seen if "ORDER BY" in s.upper() and "embeddings" in s]
    assert len(searches) == 1  # one ranking statement; the documents are joined in, or read by key after it
    if rag_backend(rag).capabilities.join_reads_by_key(5):
        assert "JOIN documents" in searches[0][0]
    assert PLAN_MARKERS[kind] in plan_of(rag, *searches[0], kind)
    # Same answer as an exact computation (HNSW may differ on ties only; this data has none near the top).
    expected = [ids[i - 1] for i in exact_ids(data, query, "cosine", 5)]
    assert [r["document_id"] for r in results] == expected
    rag.close()


@pytest.mark.parametrize("kind", ["sqlite", "duckdb", "postgresql", CLICKHOUSE])
def test_documents_joined_or_read_by_key_give_the_same_answer(
    kind: str, fresh_database_url: Callable[[str], str]
) -> None:
    """Small and large k, below and above the rows a join reads by key (DuckDB: 50), answer the exact top k.

    Where a join of that many rows would read every document, the documents are read
    by key in a second statement instead; the answer is the same either way.
    """
    data = clustered(300, 8)
    rag = sv.VectorRAG(fresh_database_url(kind), dimension=8)
    ids = rag.load_documents(
        [{"content": f"doc {i}", "embedding": v, "metadata": {"n": i}} for i, v in enumerate(data)], show_progress=False
    )
    capabilities = rag_backend(rag).capabilities
    statements: List[str] = []

    def record(conn: Any, cursor: Any, statement: str, parameters: Any, context: Any, many: bool) -> None:
        statements.append(statement)

    event.listen(rag.engine, "before_cursor_execute", record)
    for k in (5, 80):
        statements.clear()
        query = data[k] + np.float32(0.01)
        results = rag.query_with_embedding(query, top_k=k)
        expected = [ids[i - 1] for i in exact_ids(data, query, "cosine", k)]
        assert [r["document_id"] for r in results] == expected, (kind, k)
        assert [r["content"] for r in results] == [f"doc {ids.index(i)}" for i in expected]
        assert [r["metadata"] for r in results] == [{"n": ids.index(i)} for i in expected]
        ranking = [s for s in statements if "ORDER BY" in s.upper() and "embeddings" in s]
        read_by_key = [s for s in statements if "embeddings" not in s and "FROM documents" in s.replace("`", "")]
        assert len(ranking) == 1, statements
        if capabilities.join_reads_by_key(k):
            assert "JOIN documents" in ranking[0].replace("`", "") and not read_by_key, statements
        else:
            assert "JOIN" not in ranking[0] and len(read_by_key) == 1, statements
    event.remove(rag.engine, "before_cursor_execute", record)
    # Joined at k = 5 and k = 80?  DuckDB's hash join pushes at most 50 keys into its scan; ClickHouse's none.
    joined = {"sqlite": (True, True), "postgresql": (True, True), "duckdb": (True, False), CLICKHOUSE: (False, False)}
    assert (capabilities.join_reads_by_key(5), capabilities.join_reads_by_key(80)) == joined[kind]
    rag.close()


@pytest.mark.parametrize("kind", ["sqlite", "duckdb", "postgresql", CLICKHOUSE])
def test_chunks_widen_the_ranking_past_the_joined_rows(kind: str, fresh_database_url: Callable[[str], str]) -> None:
    """One document's 60 chunks fill the first rankings (12, then 48 rows, joined on DuckDB); the third
    (192 rows, past DuckDB's 50) is read by key.  The answer mixes both and is the exact top 12 by document."""
    from sqlalchemy.orm import Session

    data = clustered(40, 8, seed=5)
    query = data[0] + np.float32(0.3)
    rag = sv.VectorRAG(fresh_database_url(kind), dimension=8)
    ids = rag.load_documents(
        [{"content": f"doc {i}", "embedding": v, "metadata": {"n": i}} for i, v in enumerate(data)], show_progress=False
    )
    E: Any = rag.embedding_model
    model_name = str(rag.embedder.model_name)
    chunks = [query * np.float32(1 + i / 1000) for i in range(60)]  # nearer to the query than any document
    with Session(rag.engine) as session, session.begin():
        session.add_all(E(id=f"chunk-{i}", document_id=ids[0], model_name=model_name, embedding=c) for i, c in enumerate(chunks))
    statements: List[str] = []

    def record(conn: Any, cursor: Any, statement: str, parameters: Any, context: Any, many: bool) -> None:
        statements.append(statement)

    event.listen(rag.engine, "before_cursor_execute", record)
    results = rag.query_with_embedding(query, top_k=12)
    event.remove(rag.engine, "before_cursor_execute", record)
    rankings = [s for s in statements if "ORDER BY" in s.upper() and "embeddings" in s]
    assert len(rankings) == 4, statements  # without the model filter (12), then with it: 12, 48, 192
    capabilities = rag_backend(rag).capabilities
    joined = [capabilities.join_reads_by_key(limit) for limit in (12, 12, 48, 192)]
    assert ["JOIN documents" in s.replace("`", "") for s in rankings] == joined
    read_by_key = [s for s in statements if "embeddings" not in s and "FROM documents" in s.replace("`", "")]
    assert len(read_by_key) == (0 if all(joined) else 1)
    if kind == "duckdb":
        assert joined == [True, True, True, False]  # document 0 joined in, the other eleven read by key
    others = exact_ids(data[1:], query, "cosine", 11)  # 1-based positions in data[1:]
    assert [r["document_id"] for r in results] == [ids[0]] + [ids[i] for i in others]
    assert [r["content"] for r in results] == ["doc 0"] + [f"doc {i}" for i in others]
    assert [r["metadata"] for r in results] == [{"n": 0}] + [{"n": i} for i in others]
    assert results[0]["distance"] == pytest.approx(0.0, abs=1e-5)
    rag.close()


@pytest.mark.parametrize("kind", ["sqlite", "duckdb", "postgresql", CLICKHOUSE])
def test_one_table_models_rank_with_their_content(kind: str, fresh_database_url: Callable[[str], str]) -> None:
    """Documents holding their own vectors: where the backend reads the other columns of the top rows
    only (DuckDB up to 50 rows, ClickHouse), the ranking selects content and metadata itself, one
    statement; elsewhere it is joined back by key or read by key, as for two tables.  Exact, then indexed."""
    from sqlalchemy.orm import DeclarativeBase

    from sqlalchemy_vector.orm import EmbeddedDocumentMixin

    class Base(DeclarativeBase):
        pass

    class Passage(EmbeddedDocumentMixin, Base):
        __tablename__ = "passages"
        __dimension__ = 8

    data = clustered(300, 8, seed=3)
    engine = sv.create_engine(fresh_database_url(kind))
    Base.metadata.create_all(engine)
    rag = sv.VectorRAG(engine, document_model=Passage)
    ids = rag.load_documents(
        [{"content": f"doc {i}", "embedding": v, "metadata": {"n": i}} for i, v in enumerate(data)], show_progress=False
    )
    capabilities = rag_backend(rag).capabilities
    statements: List[str] = []

    def record(conn: Any, cursor: Any, statement: str, parameters: Any, context: Any, many: bool) -> None:
        statement = statement.replace("`", "").replace('"', "")
        if "passages" in statement and "SELECT" in statement[:10].upper():
            statements.append(statement)

    event.listen(rag.engine, "before_cursor_execute", record)
    for indexed in (False, True):
        if indexed:
            rag.create_index("ix_passages", "cosine", duckdb_experimental_persistence=True)
        for k in (5, 80):
            statements.clear()
            query = data[k] + np.float32(0.01)
            results = rag.query_with_embedding(query, top_k=k)
            expected = [ids[i - 1] for i in exact_ids(data, query, "cosine", k)]
            if indexed and kind != "sqlite":  # HNSW; sqlite-vec's vec0 is exact
                found = [r["document_id"] for r in results]
                assert len(found) == k and len(set(found) & set(expected)) >= k * 0.9, (kind, k)
            else:
                assert [r["document_id"] for r in results] == expected, (kind, k)
            assert [r["content"] for r in results] == [f"doc {ids.index(r['document_id'])}" for r in results]
            assert [r["metadata"] for r in results] == [{"n": ids.index(r["document_id"])} for r in results]
            rankings = [s for s in statements if "ORDER BY" in s.upper()]
            reads = [s for s in statements if "ORDER BY" not in s.upper() and "FROM passages" in s]
            assert len(rankings) == 1, statements
            if capabilities.reads_columns_late(k):
                assert "passages.content" in rankings[0] and "JOIN" not in rankings[0] and not reads, statements
            elif capabilities.join_reads_by_key(k):
                assert "JOIN passages" in rankings[0] and not reads, statements
            else:
                assert "JOIN" not in rankings[0] and len(reads) == 1, statements
    event.remove(rag.engine, "before_cursor_execute", record)
    # Filtered, on the index: the k nearest of the matching documents, with their content.
    query = data[150] + np.float32(0.01)
    results = rag.query_with_embedding(query, top_k=5, filters={"n": {"$lt": 100}})
    nearest = {ids[i - 1] for i in exact_ids(data[:100], query, "cosine", 5)}
    found = [r["document_id"] for r in results]
    assert len(found) == 5 and len(nearest & set(found)) >= 4, kind  # HNSW: approximate
    assert all(ids.index(i) < 100 for i in found)
    assert [r["content"] for r in results] == [f"doc {ids.index(i)}" for i in found]
    # The content in the ranking at k = 5 and k = 80?  DuckDB materializes late up to 50 rows, ClickHouse
    # up to 10,000; SQLite's and PostgreSQL's sorts carry every column they select.
    late = {"sqlite": (False, False), "postgresql": (False, False), "duckdb": (True, False), CLICKHOUSE: (True, True)}
    assert (capabilities.reads_columns_late(5), capabilities.reads_columns_late(80)) == late[kind]
    rag.close()
    engine.dispose()


@pytest.mark.parametrize("kind", ["duckdb", CLICKHOUSE])
def test_row_limits_in_the_capability_data_are_the_engines_settings(
    kind: str, fresh_database_url: Callable[[str], str]
) -> None:
    """The limits the facade plans by are the database's own defaults, read from the running engine."""
    engine = sv.create_engine(fresh_database_url(kind))
    capabilities = backend_for(engine.dialect).capabilities
    with engine.connect() as connection:
        if kind == "duckdb":
            join_limit = connection.exec_driver_sql("SELECT current_setting('dynamic_or_filter_threshold')").scalar()
            late_limit = connection.exec_driver_sql("SELECT current_setting('late_materialization_max_rows')").scalar()
            assert int(join_limit) == capabilities.join_reads_by_key_up_to
        else:
            late_limit = connection.exec_driver_sql(
                "SELECT getSetting('query_plan_max_limit_for_lazy_materialization')"
            ).scalar()
            assert capabilities.join_reads_by_key_up_to == 0
    assert int(late_limit) == capabilities.late_columns_up_to
    engine.dispose()
