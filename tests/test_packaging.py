"""The sdist and the wheel: built from a copy of the source tree, offline, and their contents checked.

``python -m build`` builds the sdist, then the wheel from the unpacked sdist,
so a file the sdist forgets fails the wheel build or shows up missing here.
"""

from __future__ import annotations

import configparser
import shutil
import subprocess
import sys
import tarfile
import zipfile
from pathlib import Path
from typing import Dict, Iterator, List

import pytest

REPO = Path(__file__).resolve().parent.parent
NAME = "sqlalchemy_vector-0.1.0"


# What a checkout may hold besides the sources: never copied into the build.
IGNORED = shutil.ignore_patterns(
    ".git", ".venv", "build", "dist", "*.egg-info", "__pycache__", ".*_cache", "*.db", "*.duckdb*"
)


@pytest.fixture(scope="module")
def dist(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Dict[str, Path]]:
    work = tmp_path_factory.mktemp("packaging")
    source = work / "source"
    shutil.copytree(REPO, source, symlinks=True, ignore=IGNORED)
    out = work / "dist"
    # --no-isolation: the build backend (setuptools) comes from this environment, no download.
    subprocess.run(
        [sys.executable, "-m", "build", "--no-isolation", "--outdir", str(out), str(source)],
        check=True,
        capture_output=True,
        text=True,
    )
    yield {"sdist": out / f"{NAME}.tar.gz", "wheel": out / f"{NAME}-py3-none-any.whl", "work": work}


def sdist_files(path: Path) -> List[str]:
    with tarfile.open(path) as archive:
        return [name.partition("/")[2] for name in archive.getnames()]


def test_the_sdist_carries_license_readme_template_typing_and_tests(dist: Dict[str, Path]) -> None:
    files = set(sdist_files(dist["sdist"]))
    expected = {
        "LICENSE",
        "README.md",
        "pyproject.toml",
        "sqlalchemy_vector/py.typed",
        "sqlalchemy_vector/alembic/template/env.py",
        "sqlalchemy_vector/alembic/template/script.py.mako",
        "sqlalchemy_vector/alembic/template/alembic.ini.mako",
        "sqlalchemy_vector/alembic/template/README",
        "tests/conftest.py",
        "tests/index_helpers.py",
        "tests/rag_fixtures.py",
        "tests/derived_dialect.py",
        "examples/quickstart.py",
        "docs/rag.md",
        "docs/indexes.md",
        "docs/frameworks.md",
        "bench/README.md",
    }
    assert expected <= files, sorted(expected - files)
    assert not [name for name in files if name.endswith((".pyc", ".db", ".duckdb"))]


def test_the_wheel_built_from_the_sdist_has_the_package_data_and_the_plugin(dist: Dict[str, Path]) -> None:
    with zipfile.ZipFile(dist["wheel"]) as wheel:
        files = set(wheel.namelist())
        entry_points = configparser.ConfigParser()
        entry_points.read_string(wheel.read(f"{NAME}.dist-info/entry_points.txt").decode())
        metadata = wheel.read(f"{NAME}.dist-info/METADATA").decode()
    assert {
        "sqlalchemy_vector/py.typed",
        "sqlalchemy_vector/alembic/template/env.py",
        "sqlalchemy_vector/alembic/template/script.py.mako",
        "sqlalchemy_vector/dialects/duckdb/extensions.py",
        f"{NAME}.dist-info/licenses/LICENSE",
    } <= files
    assert not [name for name in files if name.startswith(("tests/", "examples/"))]
    # create_engine("...?plugin=vector") finds the plugin through this entry point.
    assert dict(entry_points["sqlalchemy.plugins"]) == {"vector": "sqlalchemy_vector.engine:VectorEnginePlugin"}
    assert dict(entry_points["console_scripts"]) == {"sqlalchemy-vector": "sqlalchemy_vector.cli:main_exit"}
    assert "License-Expression: MIT" in metadata
    # No cap on SQLAlchemy: the duckdb extra works with 2.0 and 2.1.
    requirements = [line for line in metadata.splitlines() if line.startswith("Requires-Dist: sqlalchemy")]
    assert requirements and all("<" not in line for line in requirements), requirements


def test_the_wheel_installs(dist: Dict[str, Path]) -> None:
    target = dist["work"] / "site"
    subprocess.run(
        [sys.executable, "-m", "pip", "install", "--quiet", "--no-deps", "--no-index", "--target", str(target), str(dist["wheel"])],
        check=True,
        capture_output=True,
        text=True,
    )
    assert (target / "sqlalchemy_vector" / "py.typed").is_file()
    assert (target / "sqlalchemy_vector" / "alembic" / "template" / "env.py").is_file()
