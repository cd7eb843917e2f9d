"""``sqlalchemy-vector``: ingest text files into a database and answer queries from it."""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path
from typing import Any, Dict, Iterator, List, Optional, Sequence

from sqlalchemy.engine import make_url
from sqlalchemy.exc import DBAPIError, NoSuchModuleError, SQLAlchemyError

from .chunking import chunk_text
from .dialects import DEFAULT_URL, backend_for
from .exc import VectorError
from .functions import SIMILARITY_FUNCTIONS

__all__ = ["main", "main_exit", "DEFAULT_DB"]

#: The database used when neither ``--db`` nor ``SQLALCHEMY_VECTOR_DB`` is given: a SQLite file here.
DEFAULT_DB = DEFAULT_URL
TEXT_SUFFIXES = (".md", ".markdown", ".txt", ".rst")
MARKDOWN_SUFFIXES = (".md", ".markdown")
#: Ranking modes of ``query``: fused, vector similarity only, full-text match only.
MODES = ("hybrid", "vector", "text")

DESCRIPTION = """\
Ingest text and Markdown files into a vector database and search them.

Works on SQLite (the default: a file in the current directory), PostgreSQL
with pgvector, and DuckDB. Texts are embedded with a built-in lexical
embedder: matches share words with the query; no model download needed.
"""

EPILOG = """\
examples:
  sqlalchemy-vector ingest README.md docs/
  sqlalchemy-vector query "how do I create an index" -k 3
  sqlalchemy-vector query "install" --where source=docs/setup.md
  sqlalchemy-vector stats
  sqlalchemy-vector --db postgresql+psycopg://me@localhost/rag ingest notes/
  sqlalchemy-vector alembic init migrations

The database URL comes from --db, else $SQLALCHEMY_VECTOR_DB, else
%(default_db)s.
"""


def build_parser() -> argparse.ArgumentParser:
    db_help = "database URL (default: $SQLALCHEMY_VECTOR_DB or %s)" % DEFAULT_DB
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--db", default=argparse.SUPPRESS, metavar="URL", help=db_help)

    parser = argparse.ArgumentParser(
        prog="sqlalchemy-vector",
        description=DESCRIPTION,
        epilog=EPILOG % {"default_db": DEFAULT_DB},
        formatter_class=argparse.RawDescriptionHelpFormatter,
        parents=[common],
    )
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)

    ingest = commands.add_parser(
        "ingest", parents=[common], help="split files into passages, embed and store them",
        description="Split text and Markdown files into passages, embed them and store them. "
        "Directories are searched recursively for " + ", ".join(TEXT_SUFFIXES) + " files. "
        "Ingesting a file again replaces its passages.",
    )
    ingest.add_argument("paths", nargs="+", metavar="PATH", help="files or directories")
    ingest.add_argument("--max-words", type=int, default=120, help="words per passage (default: 120)")
    ingest.add_argument("--overlap", type=int, default=20, help="words shared by consecutive windows of a long paragraph (default: 20)")
    ingest.add_argument("--quiet", action="store_true", help="no progress bar")
    ingest.set_defaults(func=cmd_ingest)

    query = commands.add_parser(
        "query", parents=[common], help="rank stored passages against a text",
        description="Rank stored passages by similarity to TEXT and print them with their scores and sources.",
    )
    query.add_argument("text", metavar="TEXT", help="what to search for")
    query.add_argument("-k", "--top-k", type=int, default=5, help="number of results (default: 5)")
    query.add_argument(
        "--where", action="append", default=[], metavar="KEY=VALUE",
        help="only passages whose metadata KEY equals VALUE (repeatable; VALUE is read as JSON if it parses, "
        "so 3 is a number and true a boolean); keys: source, heading, chunk",
    )
    query.add_argument(
        "--metric",
        choices=tuple(SIMILARITY_FUNCTIONS),
        default="cosine",
        help="distance to rank by, as in the API (default: cosine; euclidean = l2, ip = inner_product)",
    )
    query.add_argument("--threshold", type=float, default=None, help="minimum similarity (vector mode)")
    query.add_argument(
        "--mode", choices=MODES, default=None,
        help="hybrid: full-text and vector rank fused (the default when the database has a full-text index, "
        "which ingest builds); vector: similarity only; text: full-text match only",
    )
    query.add_argument("--json", action="store_true", help="print results as JSON")
    query.set_defaults(func=cmd_query)

    stats = commands.add_parser("stats", parents=[common], help="show what the database holds")
    stats.add_argument("--json", action="store_true", help="print as JSON")
    stats.set_defaults(func=cmd_stats)

    alembic = commands.add_parser("alembic", help="Alembic migrations for vector columns and indexes")
    alembic_commands = alembic.add_subparsers(dest="alembic_command", metavar="COMMAND", required=True)
    init = alembic_commands.add_parser(
        "init", help="start an Alembic project wired for sqlalchemy_vector",
        description="Create an Alembic environment in DIR (and alembic.ini beside it) from the sqlalchemy_vector template.",
    )
    init.add_argument("directory", metavar="DIR")
    init.set_defaults(func=cmd_alembic_init)
    return parser


def main(argv: Optional[Sequence[str]] = None) -> int:
    """Run the command line; return the exit status."""
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return int(args.func(args) or 0)
    except BrokenPipeError:  # output piped into e.g. head
        sys.stderr.close()
        return 0
    except KeyboardInterrupt:
        # Writes run in transactions: an interrupted one is rolled back, nothing half-written stays.
        print("sqlalchemy-vector: interrupted", file=sys.stderr)
        return 130
    except (ImportError, NoSuchModuleError) as err:
        print(f"sqlalchemy-vector: error: {_missing_driver(args, err)}", file=sys.stderr)
        return 1
    except DBAPIError as err:
        # The driver's own message, first line: never the SQL statement and its parameters.
        print(f"sqlalchemy-vector: error: database: {_first_line(err.orig)}", file=sys.stderr)
        return 1
    except (VectorError, SQLAlchemyError, OSError, ValueError) as err:
        message = str(err) if isinstance(err, VectorError) else _first_line(err)
        print(f"sqlalchemy-vector: error: {message}", file=sys.stderr)
        return 1


def main_exit() -> None:
    """Console-script entry point."""
    sys.exit(main())


def _db(args: argparse.Namespace) -> str:
    return getattr(args, "db", None) or os.environ.get("SQLALCHEMY_VECTOR_DB") or DEFAULT_DB


def _open(url: str, *, must_exist: bool) -> Any:
    from .rag import VectorRAG

    parsed = make_url(url)
    if must_exist:
        path = backend_for(parsed.get_dialect()).database_file(parsed)
        if path is not None and not Path(path).exists():
            raise OSError(f"no database at {path}; run `sqlalchemy-vector ingest PATH...` first, or pass --db URL")
        return _open_existing(url)
    return VectorRAG(url)


def _open_existing(url: str) -> Any:
    """A facade on a database that already holds the tables: read-only commands create nothing."""
    from sqlalchemy import inspect

    from .engine import create_engine
    from .rag import VectorRAG

    engine = create_engine(url)
    try:
        rag = VectorRAG.__new__(VectorRAG)
        rag._setup(engine, None, None, None, None)
        tables = [rag.document_model.__table__]  # type: ignore[attr-defined]
        if rag.embedding_model is not None:
            tables.append(rag.embedding_model.__table__)  # type: ignore[attr-defined]
        with engine.connect() as connection:
            inspector = inspect(connection)
            missing = [t.name for t in tables if not inspector.has_table(t.name, schema=t.schema)]
        if missing:
            raise OSError(
                f"{_shown(url)} has no {' or '.join(missing)} table; run `sqlalchemy-vector ingest PATH...` first, "
                "or pass --db URL"
            )
    except BaseException:
        engine.dispose()
        raise
    rag._tables_ready = True
    rag._owns_engine = True
    return rag


def _missing_driver(args: argparse.Namespace, err: BaseException) -> str:
    try:
        name = make_url(_db(args)).get_backend_name()
    except Exception:  # noqa: BLE001 - an unparsable URL reports the import error alone
        return _first_line(err)
    return (
        f"{_first_line(err)}: the {name} driver is not installed; "
        f"pip install 'sqlalchemy-vector[{name}]' (or the driver the URL names)"
    )


def _first_line(err: Any) -> str:
    text = str(err).strip()
    return text.splitlines()[0] if text else type(err).__name__


def _files(paths: Sequence[str]) -> Iterator[Path]:
    for name in paths:
        path = Path(name)
        if path.is_dir():
            for found in sorted(path.rglob("*")):
                hidden = any(part.startswith(".") for part in found.relative_to(path).parts)
                if found.is_file() and found.suffix.lower() in TEXT_SUFFIXES and not hidden:
                    yield found
        elif path.is_file():
            yield path
        else:
            raise OSError(f"no such file or directory: {name}")


def _source(path: Path) -> str:
    try:
        return path.resolve().relative_to(Path.cwd().resolve()).as_posix()
    except ValueError:
        return path.resolve().as_posix()


def cmd_ingest(args: argparse.Namespace) -> int:
    started = time.perf_counter()
    documents: List[Dict[str, Any]] = []
    sources: List[str] = []
    for path in _files(args.paths):
        try:
            text = path.read_text(encoding="utf-8")
        except UnicodeDecodeError:
            print(f"skipped {path}: not UTF-8 text", file=sys.stderr)
            continue
        source = _source(path)
        sources.append(source)
        markdown = path.suffix.lower() in MARKDOWN_SUFFIXES
        for chunk in chunk_text(text, max_words=args.max_words, overlap=args.overlap, markdown=markdown):
            metadata = {"source": source, "chunk": chunk.index}
            if chunk.heading:
                metadata["heading"] = chunk.heading
            documents.append({"content": chunk.text, "metadata": metadata})
    if not sources:
        raise OSError("no text files found in " + ", ".join(args.paths))

    url = _db(args)
    rag = _open(url, must_exist=False)
    try:
        # Passages from an earlier ingest of the same files are replaced: the new
        # ones are stored first, the old ones deleted after, so a failure keeps the old.
        previous = _ids_for_sources(rag, sources)
        rag.load_documents(documents, show_progress=not args.quiet)
        if previous:
            rag.delete_documents(ids=previous)
        _ensure_fulltext(rag)
    finally:
        rag.close()
    elapsed = time.perf_counter() - started
    print(f"ingested {len(documents)} passages from {len(sources)} files into {_shown(url)} in {elapsed:.2f} s")
    return 0


def _ids_for_sources(rag: Any, sources: Sequence[str]) -> List[Any]:
    found = rag.query_with_filters({"source": {"$in": list(sources)}}, top_k=10**9)
    return [doc["document_id"] for doc in found]


def _where(pairs: Sequence[str]) -> Optional[Dict[str, Any]]:
    filters: Dict[str, Any] = {}
    for pair in pairs:
        key, sep, raw = pair.partition("=")
        if not sep or not key:
            raise ValueError(f"--where expects KEY=VALUE, got {pair!r}")
        try:
            value = json.loads(raw)
        except json.JSONDecodeError:
            value = raw
        filters[key] = value
    return filters or None


def cmd_query(args: argparse.Namespace) -> int:
    rag = _open(_db(args), must_exist=True)
    try:
        results = _ranked(rag, args)
    finally:
        rag.close()
    if args.json:
        print(json.dumps([{k: _jsonable(v) for k, v in r.items()} for r in results], indent=2))
        return 0
    if not results:
        print("no results")
        return 0
    for rank, result in enumerate(results, 1):
        meta = result["metadata"]
        where = meta.get("source", str(result["document_id"]))
        if meta.get("heading"):
            where += f" > {meta['heading']}"
        shown = result["similarity"] if result.get("score") is None else result["score"]
        print(f"{rank}. {shown:.3f}  {where}")
        print(f"   {_snippet(result['content'])}")
    return 0


def _ranked(rag: Any, args: argparse.Namespace) -> List[Dict[str, Any]]:
    """Results of ``query`` in the chosen mode (hybrid when a full-text index exists and none was chosen)."""
    from .fulltext import list_fulltext_indexes

    filters = _where(args.where)
    mode = args.mode
    if mode != "vector":
        with rag.engine.connect() as connection:
            has_index = bool(list_fulltext_indexes(connection, rag.document_model.__table__))
        if not has_index:
            if mode is not None:
                raise ValueError(
                    f"--mode {mode} needs a full-text index, which this database has not; run "
                    "`sqlalchemy-vector ingest PATH...` (it builds one) or use --mode vector"
                )
            mode = "vector"
    if mode == "vector":
        return rag.query(  # type: ignore[no-any-return]
            args.text,
            top_k=args.top_k,
            similarity_threshold=args.threshold,
            similarity_function=args.metric,
            filters=filters,
        )
    weights = (0.0, 1.0) if mode == "text" else (1.0, 1.0)
    return rag.hybrid_query(  # type: ignore[no-any-return]
        args.text, top_k=args.top_k, filters=filters, weights=weights, similarity_function=args.metric
    )


def _ensure_fulltext(rag: Any) -> None:
    """Build the passages' full-text index if missing, and bring it up to date (hybrid queries need it)."""
    from .fulltext import list_fulltext_indexes

    with rag.engine.connect() as connection:
        found = list_fulltext_indexes(connection, rag.document_model.__table__)
    if not found:
        rag.create_fulltext_index()
    from .rag import _fresh_fulltext

    rag._write(_fresh_fulltext, rag._store)


def cmd_stats(args: argparse.Namespace) -> int:
    rag = _open(_db(args), must_exist=True)
    try:
        stats = rag.get_statistics()
    finally:
        rag.close()
    if args.json:
        print(json.dumps(stats, indent=2, default=str))
        return 0
    print(f"database:   {_shown(_db(args))} ({stats['backend']})")
    print(f"documents:  {stats['document_count']}")
    print(f"embeddings: {stats['embedding_count']} x {stats['dimension']} ({stats['embedding_model']})")
    for model, count in stats["models"].items():
        print(f"  {model}: {count}")
    indexes = stats["indexes"]
    print(f"indexes:    {', '.join(i['name'] for i in indexes) if indexes else 'none'}")
    return 0


def cmd_alembic_init(args: argparse.Namespace) -> int:
    from .alembic import init

    init(args.directory)
    print(f"created an Alembic environment in {args.directory}; set sqlalchemy.url in alembic.ini, then run alembic revision --autogenerate")
    return 0


def _snippet(text: str, width: int = 160) -> str:
    flat = " ".join(text.split())
    return flat if len(flat) <= width else flat[: width - 3].rstrip() + "..."


def _shown(url: str) -> str:
    return make_url(url).render_as_string(hide_password=True)


def _jsonable(value: Any) -> Any:
    return value if isinstance(value, (str, int, float, bool, type(None), dict, list)) else str(value)
