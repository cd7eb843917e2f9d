"""One place per backend: generic modules name no database, and backends are found by class.

Everything a backend knows lives in ``sqlalchemy_vector/dialects/<backend>/``;
the other modules ask ``backend_for(dialect)``.  The scan below tokenizes each
generic module and fails on any identifier or string literal naming a
database.  Docstrings (a string that is a whole statement) and comments may
describe databases in prose.  Identifiers of the form ``<dialect>_<option>``
are allowed: that is SQLAlchemy's convention for dialect-specific keyword
arguments (``postgresql_using``, ``duckdb_experimental_persistence``).
"""

from __future__ import annotations

import ast
import io
import re
import tokenize
from pathlib import Path
from typing import List

import pytest
import sqlalchemy as sa
from sqlalchemy.dialects.postgresql.psycopg import PGDialect_psycopg

import sqlalchemy_vector
from sqlalchemy_vector.dialects import Backend, backend_for, backends, find_backend
from sqlalchemy_vector.types import Vector

PACKAGE = Path(sqlalchemy_vector.__file__).resolve().parent

DIALECT_WORDS = re.compile(r"postgres|sqlite|duckdb|pgvector|vec0|clickhouse|chdb|cockroach|yugabyte|citus", re.IGNORECASE)
DIALECT_KEYWORD = re.compile(r"(?:postgresql|sqlite|duckdb|clickhousedb|cockroachdb|yugabytedb)_[a-z][a-z0-9_]*")


GENERIC_MODULES = sorted(
    path.relative_to(PACKAGE).as_posix()
    for path in PACKAGE.rglob("*.py")
    if path.relative_to(PACKAGE).parts[0] != "dialects"
)

_SKIPPED = (tokenize.NL, tokenize.COMMENT, tokenize.ENCODING)
_STATEMENT_END = (tokenize.NEWLINE, tokenize.ENDMARKER)
_STATEMENT_START = (tokenize.NEWLINE, tokenize.INDENT, tokenize.DEDENT)
# Python 3.12+ tokenizes f-strings in parts; their literal text is FSTRING_MIDDLE.
_STRING_TYPES = {tokenize.STRING} | ({tokenize.FSTRING_MIDDLE} if hasattr(tokenize, "FSTRING_MIDDLE") else set())


def dialect_names_in(source: str) -> List[str]:
    """``line: token`` for every identifier and string literal (not docstring) that names a database."""
    tokens = [t for t in tokenize.generate_tokens(io.StringIO(source).readline) if t.type not in _SKIPPED]
    docstrings = set()
    previous = None
    for index, token in enumerate(tokens):
        if token.type == tokenize.STRING and (previous is None or previous.type in _STATEMENT_START):
            # A run of strings that is the whole statement: a docstring (or a bare string), prose.
            end = index
            while tokens[end].type == tokenize.STRING:
                end += 1
            if tokens[end].type in _STATEMENT_END:
                docstrings.update(range(index, end))
        previous = token
    found = []
    for index, token in enumerate(tokens):
        if not DIALECT_WORDS.search(token.string):
            continue
        if token.type == tokenize.NAME and not DIALECT_KEYWORD.fullmatch(token.string):
            found.append(f"{token.start[0]}: NAME {token.string}")
        elif (
            token.type in _STRING_TYPES
            and index not in docstrings
            # Prose (help texts, messages) is what a branch on a name never is; a keyword
            # argument's name as a string follows the NAME rule.
            and not re.search(r"\s", token.string)
            and not DIALECT_KEYWORD.fullmatch(token.string.strip("'\""))
        ):
            found.append(f"{token.start[0]}: STRING {token.string}")
    return found


@pytest.mark.parametrize("module", GENERIC_MODULES)
def test_generic_module_names_no_database(module: str) -> None:
    found = dialect_names_in((PACKAGE / module).read_text(encoding="utf-8"))
    assert not found, "dialect knowledge outside sqlalchemy_vector/dialects/ (move it into a backend):\n" + "\n".join(
        f"sqlalchemy_vector/{module}:{line}" for line in found
    )


#: The modules that may import the backends themselves: the package (importing it registers
#: them) and the command-line tool above everything (which also reads the default URL there).
IMPORT_THE_BACKENDS = {"__init__.py", "cli.py"}


def dialect_imports(module: str) -> List[str]:
    """``line: module`` for every import of ``sqlalchemy_vector.dialects`` or below in a generic module."""
    parts = ("sqlalchemy_vector", *Path(module).with_suffix("").parts)
    package = parts[:-1]  # the package a relative import starts from
    found = []
    for node in ast.walk(ast.parse((PACKAGE / module).read_text(encoding="utf-8"))):
        if isinstance(node, ast.ImportFrom):
            base = package[: len(package) - node.level + 1] if node.level else ()
            target = ".".join((*base, node.module or "") if node.level else (node.module or "",)).rstrip(".")
            names = [f"{target}.{alias.name}" for alias in node.names]
        elif isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        else:
            continue
        found += [f"{node.lineno}: {name}" for name in names if name.startswith("sqlalchemy_vector.dialects.")]
    return found


@pytest.mark.parametrize("module", sorted(set(GENERIC_MODULES) - IMPORT_THE_BACKENDS))
def test_generic_modules_import_the_backend_interface_not_the_backends(module: str) -> None:
    # Generic code asks the registry in dialects/base.py; only the package imports the backend
    # packages, so no generic module pulls them in (nor sits in an import loop with them).
    found = [line for line in dialect_imports(module) if not line.split(": ")[1].startswith("sqlalchemy_vector.dialects.base.")]
    assert not found, f"sqlalchemy_vector/{module} imports past dialects/base.py:\n" + "\n".join(found)


def test_the_import_scan_resolves_relative_imports() -> None:
    assert [line.split(": ", 1)[1] for line in dialect_imports("bulk.py")] == ["sqlalchemy_vector.dialects.base.find_backend"]
    assert any(line.endswith(": sqlalchemy_vector.dialects.DEFAULT_URL") for line in dialect_imports("cli.py"))
    assert any(line.endswith("sqlalchemy_vector.dialects.base.find_backend") for line in dialect_imports("alembic/compare.py"))


# -- a backend is one package and one registry line ------------------------------------------

#: Backend packages taken out together: a derived backend subclasses its parent's.
FAMILIES = {"postgresql": ("postgresql", "cockroachdb", "yugabytedb")}
BACKEND_PACKAGES = sorted(p.name for p in (PACKAGE / "dialects").iterdir() if (p / "__init__.py").is_file())

_WITHOUT = '''
import importlib, pkgutil, sys
sys.path.insert(0, sys.argv[1])
import numpy as np
import sqlalchemy_vector as sv
from sqlalchemy_vector.dialects import supported_dialects
assert sv.__file__.startswith(sys.argv[1]), sv.__file__
for module in pkgutil.walk_packages(sv.__path__, "sqlalchemy_vector."):
    if ".dialects." not in module.name and not module.name.endswith(".__main__"):
        importlib.import_module(module.name)
rag = sv.VectorRAG(sys.argv[2], dimension=3)
rag.load_documents([{"content": "a", "embedding": [1, 0, 0]}, {"content": "b", "embedding": [0, 1, 0]}], show_progress=False)
print(",".join(supported_dialects()), [r["content"] for r in rag.query_with_embedding(np.array([0.1, 1, 0], "f"), top_k=2)])
'''


@pytest.mark.parametrize("backend", [name for name in BACKEND_PACKAGES if name not in ("cockroachdb", "yugabytedb")])
def test_a_backend_is_one_package_and_one_registry_line(backend: str, tmp_path: Path) -> None:
    """Without its package and its line in the registry, the library imports and works on the other backends."""
    import shutil
    import subprocess
    import sys

    removed = FAMILIES.get(backend, (backend,))
    copy = tmp_path / "sqlalchemy_vector"
    shutil.copytree(PACKAGE, copy, ignore=shutil.ignore_patterns("__pycache__"))
    for name in removed:
        shutil.rmtree(copy / "dialects" / name)
    registry = copy / "dialects" / "__init__.py"
    lines = []
    for line in registry.read_text(encoding="utf-8").splitlines():
        match = re.fullmatch(r"from \. import ([\w, ]+?)(\s+#.*)?", line)
        if match:
            kept = [name.strip() for name in match.group(1).split(",") if name.strip() not in removed]
            if not kept:
                continue
            line = "from . import " + ", ".join(kept) + (match.group(2) or "")
        lines.append(line)
    edited = "\n".join(lines) + "\n"
    assert edited != registry.read_text(encoding="utf-8")  # the registry named the package
    registry.write_text(edited, encoding="utf-8")
    url = "duckdb:///:memory:" if backend == "sqlite" else "sqlite:///:memory:"
    result = subprocess.run(
        [sys.executable, "-c", _WITHOUT, str(tmp_path), url], capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 0, result.stderr
    dialects, found = result.stdout.strip().split(" ", 1)
    assert found == "['b', 'a']"
    assert set(dialects.split(",")) == {b.name for b in backends()} - {
        b.name for b in backends() if type(b).__module__.split(".")[2] in removed
    }


def test_the_scan_finds_names_and_spares_prose() -> None:
    source = '''"""Module docstring about PostgreSQL and sqlite-vec."""

import duckdb  # a comment on duckdb


def _write_postgresql(x, duckdb_experimental_persistence=False):
    """Docstring on SQLite, then implicit concatenation """ "with DuckDB"
    # comment: vec0
    label = "pgvector" + f"{x}"
    if x.dialect.name == 'sqlite':
        pass
    return x.duckdb_experimental_persistence, "VEC0".lower()
'''
    assert dialect_names_in(source) == [
        "3: NAME duckdb",
        "6: NAME _write_postgresql",
        "9: STRING \"pgvector\"",
        "10: STRING 'sqlite'",
        "12: STRING \"VEC0\"",
    ]


# -- backends are found through the dialect's class hierarchy ----------------------------------


def test_a_dialect_derived_from_postgresql_gets_the_postgresql_backend() -> None:
    class DerivedPG(PGDialect_psycopg):
        name = "derived_pg"

    postgresql = backend_for("postgresql")
    assert backend_for(DerivedPG) is postgresql
    assert backend_for(DerivedPG()) is postgresql
    assert find_backend("derived_pg") is None  # found by class, not by its name


def test_duckdb_gets_its_own_backend_although_its_dialect_derives_from_postgresql() -> None:
    dialect_class = sa.engine.make_url("duckdb://").get_dialect()
    assert issubclass(dialect_class, sa.dialects.postgresql.base.PGDialect)
    duckdb = backend_for("duckdb")
    assert duckdb is not backend_for("postgresql")
    assert backend_for(dialect_class) is duckdb
    assert backend_for(dialect_class()) is duckdb


#: Drivers and third-party dialects that a backend uses only once an engine of it exists.
OPTIONAL_IMPORTS = (
    "alembic", "asyncpg", "chdb", "clickhouse_connect", "duckdb", "duckdb_engine", "duckdb_sqlalchemy", "pgvector",
    "psycopg", "psycopg2", "pysqlite3", "sentence_transformers", "sqlalchemy_cockroachdb", "sqlean", "sqlite_vec",
    "torch",
)


def test_importing_the_package_imports_no_driver_and_no_third_party_dialect() -> None:
    """Backends of third-party dialects register them by path (``"module:Class"``), so ``import sqlalchemy_vector``
    neither pays for those packages nor runs their import-time registrations; an engine of the dialect imports it."""
    import subprocess
    import sys

    script = f"import sys, sqlalchemy_vector; print(sorted(set({OPTIONAL_IMPORTS!r}) & set(sys.modules)))"
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "[]"


def test_a_third_party_dialect_registered_by_path_is_found_by_class() -> None:
    from clickhouse_connect.cc_sqlalchemy.dialect import ClickHouseDialect
    from sqlalchemy_cockroachdb.base import CockroachDBDialect

    assert backend_for(ClickHouseDialect) is backend_for("clickhousedb")
    assert backend_for(CockroachDBDialect) is backend_for("cockroachdb")

    class Derived(CockroachDBDialect):  # a subclass of it, by the class hierarchy
        name = "derived_crdb"

    assert backend_for(Derived) is backend_for("cockroachdb")


def test_a_derived_dialect_reflects_vectors_as_its_base() -> None:
    import sqlalchemy_vector.alembic as sva

    class DerivedPG(PGDialect_psycopg):
        name = "derived_pg"

    before = dict(DerivedPG.ischema_names)  # pgvector-python, if imported, adds its own "vector" here
    dialect = DerivedPG()
    sva.enable_vector_reflection(dialect)
    assert isinstance(dialect.ischema_names["vector"](384), Vector)
    assert DerivedPG.ischema_names == before  # the instance has its own copy; the class is untouched


@pytest.mark.parametrize("backend", backends(), ids=lambda b: b.name)
def test_every_backend_implements_data_filters_and_reflection(backend: Backend) -> None:
    dialect = sa.engine.make_url(f"{backend.name}://").get_dialect()()
    assert isinstance(backend.json_key_path("key", dialect), str)
    assert isinstance(backend.like_pattern("a%b_c"), str)
    assert isinstance(backend.json_type(), sa.types.TypeEngine)
    assert isinstance(backend.integer_id_type(), sa.Integer)
    # ClickHouse's Array(Float32) names no dimension (it is in a CHECK constraint): nothing maps a type name there.
    assert backend.reflected_type_names() or backend.name == "clickhousedb"
    assert backend.storage_dim(backend.storage_type(7)) == 7
    assert backend.storage_dim(sa.Integer()) is None
