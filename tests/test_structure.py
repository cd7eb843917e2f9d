"""The package keeps each backend's knowledge in its own package under dialects/."""

from __future__ import annotations

import io
import re
import tokenize
from pathlib import Path
from typing import List

import pytest

PACKAGE = Path(__file__).resolve().parent.parent / "sqlalchemy_vector"
DIALECT_WORDS = re.compile(r"postgres|sqlite|duckdb|pgvector|vec0", re.IGNORECASE)
# SQLAlchemy's convention for dialect-specific keyword arguments, e.g. duckdb_experimental_persistence.
DIALECT_KWARG = re.compile(r"^(postgresql|sqlite|duckdb)_[a-z_]+$")

GENERIC = sorted(
    path for path in PACKAGE.rglob("*.py") if "dialects" not in path.relative_to(PACKAGE).parts and "template" not in path.parts
)


def dialect_names(path: Path) -> List[str]:
    """NAME and STRING tokens naming a dialect; docstrings and comments may mention databases in prose."""
    found = []
    tokens = list(tokenize.generate_tokens(io.StringIO(path.read_text()).readline))
    for i, token in enumerate(tokens):
        if token.type not in (tokenize.NAME, tokenize.STRING) or not DIALECT_WORDS.search(token.string):
            continue
        if DIALECT_KWARG.match(token.string.strip("'\"")):
            continue
        if token.type == tokenize.STRING and re.search(r"\s", token.string):
            continue  # prose (help texts, messages): what a branch on a name never is
        if token.type == tokenize.STRING:
            before = next((t for t in reversed(tokens[:i]) if t.type not in (tokenize.NL, tokenize.COMMENT)), None)
            after = next((t for t in tokens[i + 1 :] if t.type not in (tokenize.NL, tokenize.COMMENT)), None)
            statement_start = before is None or before.type in (tokenize.NEWLINE, tokenize.INDENT, tokenize.DEDENT)
            if statement_start and after is not None and after.type in (tokenize.NEWLINE, tokenize.ENDMARKER):
                continue  # a docstring
        found.append(f"{path.name}:{token.start[0]}: {token.string[:60]}")
    return found


@pytest.mark.parametrize("path", GENERIC, ids=lambda p: str(p.relative_to(PACKAGE)))
def test_generic_modules_name_no_dialect(path: Path) -> None:
    assert dialect_names(path) == []


def test_the_check_finds_a_dialect_name(tmp_path: Path) -> None:
    sample = tmp_path / "sample.py"
    sample.write_text('"""Works on PostgreSQL."""\nif dialect.name == "sqlite":\n    pass\nf(duckdb_experimental_persistence=True)\n')
    assert [line.split(": ", 1)[1] for line in dialect_names(sample)] == ['"sqlite"']


def test_derived_dialects_find_their_parents_backend() -> None:
    from sqlalchemy.dialects.postgresql.psycopg import PGDialect_psycopg

    from sqlalchemy_vector.dialects import backend_for

    class DerivedPG(PGDialect_psycopg):
        name = "derived_pg"

    assert backend_for(DerivedPG).name == "postgresql"
    duckdb_dialect = pytest.importorskip("duckdb_engine").Dialect
    assert backend_for(duckdb_dialect).name == "duckdb"  # although it subclasses PostgreSQL's dialect
