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
from sqlalchemy.exc import SQLAlchemyError

from .chunking import chunk_text
from .dialects import DEFAULT_URL, backend_for
from .exc import VectorError
from .functions import SIMILARITY_FUNCTIONS

__all__ = ["main", "main_exit", "DEFAULT_DB"]

#: The database used when neither ``--db`` nor ``SQLALCHEMY_VECTOR_DB`` is given: a SQLite file here.
DEFAULT_DB = DEFAULT_URL
TEXT_SUFFIXES = (".md", ".markdown", ".txt", ".rst")
MARKDOWN_SUFFIXES = (".md", ".markdown")

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
    query.add_argument("--threshold", type=float, default=None, help="minimum similarity")
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
    except (VectorError, SQLAlchemyError, OSError, ValueError) as err:
        print(f"sqlalchemy-vector: error: {err}", file=sys.stderr)
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
    return VectorRAG(url)


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
        _replace_passages(rag, sources, documents, show_progress=not args.quiet)
    finally:
        rag.close()
    elapsed = time.perf_counter() - started
    print(f"ingested {len(documents)} passages from {len(sources)} files into {_shown(url)} in {elapsed:.2f} s")
    return 0


def _replace_passages(rag: Any, sources: Sequence[str], documents: List[Dict[str, Any]], show_progress: bool) -> None:
    """Store the files' passages in place of those of an earlier ingest of the same files, in ONE transaction.

    The old passages are deleted and the new ones stored together: a crash or
    an error at any point leaves either the old passages or the new, never both.
    """
    progress = rag._progress(documents, show_progress)
    try:
        with rag._session() as session, session.begin():
            rag._store.delete(session, None, rag._where({"source": {"$in": list(sources)}}))
            for batch, missing in rag._batches(documents, 1000, True):
                if missing:
                    vectors = rag._embed([batch[i].content for i in missing])
                    for i, vector in zip(missing, vectors):
                        batch[i].vector = vector
                rag._store.insert(session, batch)
                if progress is not None:
                    progress.update(len(batch))
    finally:
        if progress is not None:
            progress.close()


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
        results = rag.query(
            args.text,
            top_k=args.top_k,
            similarity_threshold=args.threshold,
            similarity_function=args.metric,
            filters=_where(args.where),
        )
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
        print(f"{rank}. {result['similarity']:.3f}  {where}")
        print(f"   {_snippet(result['content'])}")
    return 0


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
    try:
        from .alembic import init
    except ImportError as error:  # Alembic missing, or older than 1.18 (no autogenerate plugins)
        if (error.name or "").partition(".")[0] != "alembic":
            raise
        print(
            "sqlalchemy-vector alembic needs Alembic 1.18 or later: pip install 'sqlalchemy-vector[alembic]'",
            file=sys.stderr,
        )
        return 2

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
