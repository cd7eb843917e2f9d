"""A stock ``alembic init`` project, run through the real Alembic command line on every backend.

The project is Alembic's own generic template with only the changes the
README lists: ``target_metadata``, the URL (with ``?plugin=vector``), and the
one line ``from sqlalchemy_vector.alembic import context``.  Each step runs
``python -m alembic`` in a subprocess, as a user would.
"""

from __future__ import annotations

import difflib
import os
import re
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Iterator, List

import pytest
from sqlalchemy import select
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session

import sqlalchemy_vector as sv
from sqlalchemy_vector.index import list_vector_indexes

from index_helpers import fresh_database

REPO = Path(__file__).resolve().parents[1]

# The application's models: a document table from the library's mixin with
# integer ids, a plain String column, and (from version 2) a vector index.
MODELS = textwrap.dedent(
    """
    import os

    from sqlalchemy import String
    from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

    from sqlalchemy_vector import VectorIndex
    from sqlalchemy_vector.orm import EmbeddedDocumentMixin


    class Base(DeclarativeBase):
        pass


    class Note(EmbeddedDocumentMixin, Base):
        __tablename__ = "notes"
        __dimension__ = 3
        __id_type__ = int

        title: Mapped[str] = mapped_column(String(80), default="")


    if os.environ.get("MODELS_VERSION") == "2":
        VectorIndex("ix_notes_embedding", Note.embedding, metric="cosine", duckdb_experimental_persistence=True)
    """
)

ONE_LINE = "from sqlalchemy_vector.alembic import context"


class StockProject:
    """A directory made by ``alembic init`` and edited as the README says."""

    def __init__(self, directory: Path, url: str) -> None:
        self.directory = directory
        self.env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(REPO), str(directory)])}
        self.env.pop("MODELS_VERSION", None)
        (directory / "models.py").write_text(MODELS)
        self.alembic("init", "migrations")
        self.env_py = directory / "migrations" / "env.py"
        stock = self.env_py.read_text()
        edited = stock.replace("from alembic import context\n", ONE_LINE + "\n").replace(
            "target_metadata = None\n", "from models import Base\ntarget_metadata = Base.metadata\n"
        )
        self.env_py.write_text(edited)
        self.changes = [
            line
            for line in difflib.unified_diff(stock.splitlines(), edited.splitlines(), lineterm="", n=0)
            if line[:1] in "+-" and not line.startswith(("+++", "---"))
        ]
        ini = directory / "alembic.ini"
        text = ini.read_text()
        # alembic.ini is read with configparser interpolation: a literal % is %%.
        plugged = (url + ("&" if "?" in url else "?") + "plugin=vector").replace("%", "%%")
        text, count = re.subn(r"(?m)^sqlalchemy\.url = .*$", lambda _: f"sqlalchemy.url = {plugged}", text)
        assert count == 1
        ini.write_text(text)

    def alembic(self, *args: str, version: int = 1, check: bool = True) -> subprocess.CompletedProcess[str]:
        result = subprocess.run(
            [sys.executable, "-m", "alembic", *args],
            cwd=self.directory,
            env={**self.env, "MODELS_VERSION": str(version)},
            capture_output=True,
            text=True,
            timeout=120,
        )
        if check:
            assert result.returncode == 0, result.stdout + result.stderr
        return result

    def revision(self, message: str, version: int) -> str:
        """Autogenerate a revision and return its source."""
        before = set((self.directory / "migrations" / "versions").glob("*.py"))
        self.alembic("revision", "--autogenerate", "-m", message, version=version)
        (path,) = set((self.directory / "migrations" / "versions").glob("*.py")) - before
        return path.read_text()


def body(source: str, function: str) -> List[str]:
    match = re.search(rf"def {function}\(\) -> None:\n(.*?)(?=\n\ndef |\Z)", source, re.S)
    assert match, source
    lines = [line.strip() for line in match.group(1).splitlines()]
    return [line for line in lines if line and not line.startswith("#") and not line.startswith('"""')]


@pytest.fixture
def database(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    with fresh_database(request.param, tmp_path, request) as url:
        yield url


@pytest.mark.parametrize("database", ["sqlite", "duckdb", "postgresql"], indirect=True)
def test_stock_alembic_project_from_models_to_base(database: str, tmp_path: Path) -> None:
    (tmp_path / "project").mkdir()
    project = StockProject(tmp_path / "project", database)
    # The env.py edits are the README's: the one line and target_metadata.
    assert sorted(project.changes) == sorted(
        [
            "-from alembic import context",
            f"+{ONE_LINE}",
            "-target_metadata = None",
            "+from models import Base",
            "+target_metadata = Base.metadata",
        ]
    ), project.changes

    # models -> autogenerate -> upgrade
    first = project.revision("notes", version=1)
    up = body(first, "upgrade")
    assert "sa.Column('embedding', sqlalchemy_vector.Vector(3), nullable=True)," in up, first
    assert "sqlalchemy_vector.orm.MetadataJSON()" in first and "JSONB" not in first and "Text()" in first
    assert "BIGSERIAL" not in first.upper()
    project.alembic("upgrade", "head")

    # query through the models, on an engine of the library
    sys.path.insert(0, str(project.directory))
    try:
        import models  # type: ignore[import-not-found]
    finally:
        sys.path.remove(str(project.directory))
    sys.modules.pop("models", None)
    engine = sv.create_engine(database)
    try:
        with Session(engine) as session:
            session.add_all(
                [models.Note(content=f"n{i}", embedding=v) for i, v in enumerate([[1, 0, 0], [0, 1, 0], [1, 1, 0]])]
            )
            session.commit()
            found = sv.knn(session, models.Note.embedding, [1, 0.9, 0], 2)
            assert [note.content for note, _ in found] == ["n2", "n0"]
            assert session.scalar(select(models.Note.id).where(models.Note.content == "n2")) is not None
    finally:
        engine.dispose()
    project.alembic("check", version=1)

    # add a vector index -> autogenerate -> upgrade -> nothing left to generate
    second = project.revision("index", version=2)
    offline = ", dim=3, key='id'" if database.startswith("sqlite") else ""  # vec0 declares them: for offline SQL
    assert body(second, "upgrade") == [
        "op.create_vector_index('ix_notes_embedding', 'notes', 'embedding', metric='cosine', method='hnsw', "
        f"duckdb_experimental_persistence=True{offline})"
    ], second
    project.alembic("upgrade", "head", version=2)
    check = project.alembic("check", version=2, check=False)
    assert check.returncode == 0 and "No new upgrade operations detected" in check.stdout + check.stderr, (
        check.stdout + check.stderr
    )
    engine = sv.create_engine(database)
    try:
        with engine.connect() as connection:
            assert [row["name"] for row in list_vector_indexes(connection)] == ["ix_notes_embedding"]
    finally:
        engine.dispose()

    # downgrade base: nothing of ours left
    project.alembic("downgrade", "base", version=2)
    engine = sv.create_engine(database)
    try:
        from sqlalchemy import inspect

        with engine.connect() as connection:
            assert list_vector_indexes(connection) == []
            assert set(inspect(connection).get_table_names()) <= {"alembic_version"}
    finally:
        engine.dispose()
    assert make_url(database).get_backend_name() in ("sqlite", "duckdb", "postgresql")


def test_alembic_init_without_alembic_says_what_to_install(tmp_path: Path) -> None:
    # A Python where `import alembic` fails, as in an environment without it.
    program = (
        "import sys\n"
        "sys.modules['alembic'] = None\n"
        "from sqlalchemy_vector.cli import main\n"
        "sys.exit(main(['alembic', 'init', 'migrations']))\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", program],
        cwd=tmp_path,
        env={**os.environ, "PYTHONPATH": str(REPO)},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 1, result.stderr  # a missing package, like every other CLI error: one line, exit 1
    assert result.stdout == ""
    assert result.stderr == (
        "sqlalchemy-vector: error: the alembic command needs Alembic 1.18 or later: "
        "pip install 'sqlalchemy-vector[alembic]'\n"
    )
    assert not (tmp_path / "migrations").exists()
