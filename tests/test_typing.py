"""Type checkers see knn() rows as (entity, distance), a vector column as a float32 ndarray, and typed
distance methods on a ``VectorMapped`` attribute; the same declarations map and query on every backend."""

from __future__ import annotations

import atexit
import functools
import json
import shutil
import subprocess
import sys
from pathlib import Path
from typing import List, Optional

import numpy as np
import numpy.typing as npt
import pytest
from sqlalchemy import select
from sqlalchemy.engine import Connection
from sqlalchemy.orm import DeclarativeBase, Mapped, Session, mapped_column

import sqlalchemy_vector as sv
from sqlalchemy_vector import CompactVectorMapped, VectorMapped, vector_column
from sqlalchemy_vector.exc import InvalidArgumentError

ROOT = Path(__file__).resolve().parent.parent
SAMPLES = ROOT / "tests" / "typing_samples"
GOOD = ["knn_types.py", "attribute_types.py"]
WRONG = ["knn_types_wrong.py", "attribute_types_wrong.py"]


def run(command: List[str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(command, cwd=ROOT, capture_output=True, text=True, timeout=600)


def lines_about(output: str, sample: str) -> List[str]:
    return [line for line in output.splitlines() if sample in line and "error" in line]


@functools.lru_cache(maxsize=None)
def start_mypy() -> "subprocess.Popen[str]":
    """The strict mypy run over every sample, started once.

    It takes a minute or more (it reads SQLAlchemy and NumPy whole), so a
    run in one process starts it as soon as it has collected a test that
    reads its output (``pytest_collection_finish`` in ``conftest.py``): it
    then checks on the other core while the tests before this module run.
    Under pytest-xdist, the worker given this module starts it, beside the
    other worker.  A run left unread when the suite stops is ended.
    """
    command = [sys.executable, "-m", "mypy", "--strict", "--no-incremental", "--follow-imports=silent"]
    process = subprocess.Popen(
        command + [str(SAMPLES / s) for s in GOOD + WRONG],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    atexit.register(process.kill)  # a no-op once it has ended
    return process


@pytest.fixture(scope="module")
def mypy_output() -> str:
    """The output of the one strict mypy run over every sample (see :func:`start_mypy`)."""
    process = start_mypy()
    stdout, stderr = process.communicate(timeout=600)
    assert process.returncode == 1, stdout + stderr  # the wrong samples must fail
    return stdout


@pytest.fixture(scope="module")
def pyright_output(tmp_path_factory: pytest.TempPathFactory) -> str:
    executable = shutil.which("basedpyright", path=str(Path(sys.executable).parent))
    assert executable, "basedpyright is part of the test extra: pip install -e '.[test]'"
    config = tmp_path_factory.mktemp("pyright") / "pyrightconfig.json"
    config.write_text(json.dumps({"typeCheckingMode": "standard", "extraPaths": [str(ROOT)]}))
    result = run([executable, "--pythonpath", sys.executable, "-p", str(config)] + [str(SAMPLES / s) for s in GOOD + WRONG])
    assert result.returncode == 1, result.stdout + result.stderr
    return result.stdout


@pytest.mark.parametrize("sample", GOOD)
def test_documented_spellings_are_strict_clean(mypy_output: str, sample: str) -> None:
    assert lines_about(mypy_output, sample) == []


@pytest.mark.parametrize("sample", GOOD)
def test_documented_spellings_are_pyright_clean(pyright_output: str, sample: str) -> None:
    assert lines_about(pyright_output, sample) == []


def test_wrong_types_are_caught_by_mypy(mypy_output: str) -> None:
    assert 'Expression is of type "Doc", not "int"' in "\n".join(lines_about(mypy_output, "knn_types_wrong.py"))
    distance = "\n".join(lines_about(mypy_output, "attribute_types_wrong.py"))
    assert 'expression has type "ColumnElement[float]", variable has type "ColumnElement[str]"' in distance


def test_wrong_types_are_caught_by_pyright(pyright_output: str) -> None:
    assert 'expected "int" but received "Doc"' in "\n".join(lines_about(pyright_output, "knn_types_wrong.py"))
    assert '"ColumnElement[float]" is not assignable to declared type "ColumnElement[str]"' in pyright_output


class Base(DeclarativeBase):
    pass


class TypedDoc(Base):
    __tablename__ = "typed_attribute_docs"
    id: Mapped[int] = mapped_column(primary_key=True, autoincrement=False)
    embedding: VectorMapped[npt.NDArray[np.float32]] = vector_column(3)
    half: CompactVectorMapped[Optional[npt.NDArray[np.float16]]] = vector_column(sv.HalfVector(3), name="half_embedding")


def test_typed_declarations_map_like_mapped_column() -> None:
    table = TypedDoc.__table__
    assert isinstance(table.c.embedding.type, sv.Vector) and table.c.embedding.type.dim == 3
    assert table.c.embedding.nullable is False  # not Optional[...]: NOT NULL, as with Mapped[...]
    assert isinstance(table.c.half_embedding.type, sv.HalfVector) and table.c.half_embedding.nullable is True


def test_vector_column_rejects_other_types() -> None:
    with pytest.raises(InvalidArgumentError, match=r"vector_column\(\) takes a dimension or a vector type.*got 'x'"):
        vector_column("x")  # type: ignore[call-overload]
    with pytest.raises(InvalidArgumentError, match="got True"):
        vector_column(True)


class TypedVec(Base):
    __tablename__ = "typed_attribute_vecs"
    id: Mapped[int] = mapped_column(primary_key=True, autoincrement=False)
    embedding: VectorMapped[npt.NDArray[np.float32]] = vector_column(3)


def test_typed_attribute_methods_query_every_backend(conn: Connection) -> None:
    vectors = {1: [1.0, 0.0, 0.0], 2: [0.0, 1.0, 0.0], 3: [0.7, 0.7, 0.0]}
    query = [0.9, 0.1, 0.0]
    TypedVec.__table__.create(conn)
    with Session(bind=conn, join_transaction_mode="rollback_only") as session:
        session.add_all([TypedVec(id=key, embedding=value) for key, value in vectors.items()])
        session.flush()
        cosine = {k: 1 - np.dot(v, query) / np.linalg.norm(v) / np.linalg.norm(query) for k, v in vectors.items()}
        found = session.scalars(select(TypedVec).order_by(TypedVec.embedding.cosine(query)).limit(3)).all()
        assert [doc.id for doc in found] == sorted(vectors, key=cosine.__getitem__)
        assert isinstance(found[0].embedding, np.ndarray) and found[0].embedding.dtype == np.float32
        rows = session.execute(select(TypedVec.id, TypedVec.embedding.l2_distance(query)).order_by(TypedVec.id)).all()
        expected = [float(np.linalg.norm(np.subtract(vectors[k], query))) for k in sorted(vectors)]
        assert [row[1] for row in rows] == pytest.approx(expected, abs=1e-5)
