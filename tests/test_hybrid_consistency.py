"""Hybrid search answers alike on SQLite, DuckDB and PostgreSQL where docs/rag.md says it does, and refuses bad input clearly."""

from __future__ import annotations

from typing import Any, List

import pytest
from rag_fixtures import KeywordEmbedder, fresh_engine, pg_database  # noqa: F401  (fixtures)

import sqlalchemy_vector as sv
from sqlalchemy_vector.rag import VectorRAG

FULLTEXT = ["sqlite", "duckdb", "postgresql"]
VOCABULARY = ["uuid", "identifier", "time", "json", "text", "file"]
PASSAGES = [
    "generate universally unique identifiers (uuid)",
    "read and write json text",
    "identifier rules for json keys",
    "the time a file was written",
]


def _rag(engine: Any) -> VectorRAG:
    rag = VectorRAG(engine, embedder=KeywordEmbedder(VOCABULARY))
    rag.load_documents([{"content": c} for c in PASSAGES], show_progress=False)
    return rag


def _text_matches(rag: VectorRAG, query: str, match_all: bool) -> List[str]:
    return sorted(r["content"] for r in rag.hybrid_query(query, top_k=10, weights=(0, 1), match_all=match_all))


@pytest.mark.parametrize("backend", ["duckdb", "postgresql"])
def test_match_all_ignores_stop_words_where_the_index_drops_them(fresh_engine: Any, backend: str) -> None:
    # DuckDB's and PostgreSQL's english drop stop words: "every word" means every word the index can hold.
    # DuckDB's match_bm25(conjunctive := 1) required the stop word too, so nothing matched there.
    rag = _rag(fresh_engine)
    rag.create_fulltext_index()
    json_rows = [PASSAGES[2], PASSAGES[1]]
    for query in ("the json", "json the", "json or", "NOT json", "json a"):
        assert _text_matches(rag, query, match_all=True) == sorted(json_rows), query
    assert _text_matches(rag, "the json file", match_all=True) == []  # every (indexed) word still required
    assert _text_matches(rag, "the a", match_all=True) == []  # stop words alone match nothing
    rag.close()


@pytest.mark.parametrize("backend", FULLTEXT)
def test_nul_in_the_query_is_a_separator(fresh_engine: Any, backend: str) -> None:
    # PostgreSQL's text cannot hold NUL: websearch_to_tsquery got it raw and psycopg raised DataError.
    rag = _rag(fresh_engine)
    rag.create_fulltext_index()
    for match_all in (False, True):
        assert _text_matches(rag, "json\x00text", match_all) == _text_matches(rag, "json text", match_all)
        assert _text_matches(rag, "\x00json", match_all) == sorted([PASSAGES[1], PASSAGES[2]])
    rag.close()


@pytest.mark.parametrize("backend", FULLTEXT)
@pytest.mark.parametrize("language", ["English", "english'::regconfig, content)); --", ""])
def test_language_must_be_a_plain_name(fresh_engine: Any, backend: str, language: str) -> None:
    # The facade's language reached PostgreSQL's DDL unchecked: "English" built an index there (refused
    # elsewhere), and a quote went into the SQL as written.
    rag = _rag(fresh_engine)
    with pytest.raises(sv.exc.VectorIndexError, match="language must be a lower-case name"):
        rag.create_fulltext_index(language=language)
    with fresh_engine.connect() as conn:
        assert sv.list_fulltext_indexes(conn) == []  # nothing was built
    rag.close()


@pytest.mark.parametrize("backend", FULLTEXT)
def test_unknown_language_names_the_known_ones(fresh_engine: Any, backend: str) -> None:
    # PostgreSQL raised psycopg's UndefinedObject from CREATE INDEX.
    rag = _rag(fresh_engine)
    with pytest.raises(sv.exc.VectorIndexError, match="klingon.*english"):
        rag.create_fulltext_index(language="klingon")
    rag.create_fulltext_index(language="simple")  # a known one still works after the refusal
    assert _text_matches(rag, "json", match_all=False) == sorted([PASSAGES[1], PASSAGES[2]])
    rag.close()


@pytest.mark.parametrize("backend", FULLTEXT)
def test_numbers_and_accents_as_the_readme_says(fresh_engine: Any, backend: str) -> None:
    # DuckDB indexes letters only (numbers never found, left out of an every-word query); PostgreSQL does not fold
    # accents. Measured, then written down: this keeps docs/rag.md's table of differences true.
    rag = VectorRAG(fresh_engine, embedder=KeywordEmbedder(VOCABULARY))
    rag.load_documents(
        [{"content": "Café reviews in 2024", "document_id": "cafe"}, {"content": "json in 2023", "document_id": "json"}],
        show_progress=False,
    )
    rag.create_fulltext_index()

    def found(query: str, match_all: bool) -> List[str]:
        return [r["document_id"] for r in rag.hybrid_query(query, top_k=5, weights=(0, 1), match_all=match_all)]

    assert found("café", True) == ["cafe"]
    assert found("cafe", True) == ([] if backend == "postgresql" else ["cafe"])
    assert found("2024", False) == ([] if backend == "duckdb" else ["cafe"])
    assert found("json 2024", True) == (["json"] if backend == "duckdb" else [])
    rag.close()


def test_clickhouse_refuses_hybrid_search_clearly(engine_for: Any, fresh_database_url: Any) -> None:
    # Documented: no full-text index on ClickHouse, so UnsupportedDialectError (naming vector search) everywhere.
    from sqlalchemy import Column, Integer, MetaData, Table, Text

    table = Table("ch_notes", MetaData(), Column("id", Integer, primary_key=True), Column("content", Text),
                  Column("embedding", sv.Vector(2)))
    index = sv.FullTextIndex("ch_notes_fts", table.c.content)
    with engine_for("clickhouse").connect() as conn:
        with pytest.raises(sv.exc.UnsupportedDialectError, match="search by vector"):
            sv.hybrid_select(table.c.content, table.c.embedding, "json", [1.0, 0.0], bind=conn)
        with pytest.raises(sv.exc.UnsupportedDialectError, match="search by vector"):
            sv.create_fulltext_index(conn, index)
        assert sv.list_fulltext_indexes(conn) == []
    rag = VectorRAG(fresh_database_url("clickhouse"), embedder=KeywordEmbedder(VOCABULARY))
    rag.load_documents([{"content": PASSAGES[1]}], show_progress=False)
    for call in (rag.create_fulltext_index, lambda: rag.hybrid_query("json"), lambda: rag.mmr_query("json", mode="hybrid")):
        with pytest.raises(sv.exc.UnsupportedDialectError, match="search by vector"):
            call()
    rag.close()


@pytest.mark.parametrize("weights", [(1,), "ab", (1, "x"), None, (1, 2, 3), (float("nan"), 1)])
def test_hybrid_query_refuses_bad_weights_before_embedding(weights: Any, tmp_path: Any) -> None:
    # Checked by hybrid_select only after the facade had read weights[1]: IndexError, ValueError, TypeError.
    embedder = KeywordEmbedder(VOCABULARY)
    rag = sv.VectorRAG(f"sqlite:///{tmp_path / 'w.db'}", embedder=embedder)
    rag.load_documents([{"content": text} for text in PASSAGES], show_progress=False)
    rag.create_fulltext_index()
    embedded = len(embedder.calls)
    with pytest.raises(sv.exc.InvalidArgumentError, match="weights must be"):
        rag.hybrid_query("json", weights=weights)
    assert len(embedder.calls) == embedded  # refused before the query was embedded
    rag.close()


@pytest.mark.parametrize("backend", FULLTEXT)
def test_the_text_of_a_document_finds_it_whatever_its_case(fresh_engine: Any, backend: str) -> None:
    # The query was lower-cased in Python, which writes a final capital sigma as "ς"; DuckDB's index folds "ΟΔΟΣ"
    # to "οδοσ", so the document's own words missed it there. Each backend now folds the query as its index does.
    rag = VectorRAG(fresh_engine, embedder=KeywordEmbedder(VOCABULARY))
    rag.load_documents(
        [{"content": "ΟΔΟΣ ΑΘΗΝΑΣ", "document_id": "upper"}, {"content": "İstanbul JSON", "document_id": "dotted"}],
        show_progress=False,
    )
    rag.create_fulltext_index()
    for match_all in (False, True):
        for query, expected in (("ΟΔΟΣ ΑΘΗΝΑΣ", ["upper"]), ("ΑΘΗΝΑΣ", ["upper"]), ("İstanbul", ["dotted"]),
                                ("ISTANBUL json", ["dotted"])):
            found = [r["document_id"] for r in rag.hybrid_query(query, top_k=5, weights=(0, 1), match_all=match_all)]
            assert found == expected, (query, match_all)
    rag.close()
