"""Backends from installed packages: the ``sqlalchemy_vector.backends`` entry point group.

Each test installs a small distribution into a temporary directory (a module
and its ``.dist-info`` with ``entry_points.txt``) and runs Python on it in a
subprocess, so the registry of this process stays as it is.
"""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Dict

import pytest

from sqlalchemy_vector.dialects import ENTRY_POINT_GROUP

PACKAGE = Path(__file__).resolve().parent.parent / "sqlalchemy_vector"


def install(site: Path, name: str, modules: Dict[str, str], entry_points: Dict[str, Dict[str, str]]) -> None:
    """Write modules and a distribution ``name`` declaring ``entry_points`` ({group: {name: target}}) into ``site``."""
    for module, source in modules.items():
        (site / module).write_text(textwrap.dedent(source), encoding="utf-8")
    info = site / f"{name}-1.0.dist-info"
    info.mkdir()
    (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {name}\nVersion: 1.0\n", encoding="utf-8")
    (info / "entry_points.txt").write_text(
        "".join(
            f"[{group}]\n" + "".join(f"{key} = {target}\n" for key, target in names.items()) + "\n"
            for group, names in entry_points.items()
        ),
        encoding="utf-8",
    )


def run(site: Path, script: str, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-W", "error::UserWarning", "-c", textwrap.dedent(script), str(site), *args],
        capture_output=True,
        text=True,
        timeout=180,
    )


# A backend for a new URL scheme, ``myvec://``: a dialect of SQLite's under a name of its own, and a
# backend that takes SQLite's and says which one it is.
MYVEC = '''
    from sqlalchemy.dialects.sqlite.pysqlite import SQLiteDialect_pysqlite

    from sqlalchemy_vector.dialects.base import Capabilities
    from sqlalchemy_vector.dialects.sqlite import SQLiteBackend


    class MyVecDialect(SQLiteDialect_pysqlite):
        name = "myvec"
        supports_statement_cache = True


    class MyVecBackend(SQLiteBackend):
        name = "myvec"

        def dialect_classes(self):
            return (MyVecDialect,)
'''


def install_myvec(directory: Path) -> None:
    """The distribution of MYVEC: its dialect for myvec:// URLs and its backend, each by entry point."""
    install(
        directory,
        "myvec_backend",
        {"myvec_backend.py": MYVEC},
        {
            "sqlalchemy.dialects": {"myvec": "myvec_backend:MyVecDialect"},
            ENTRY_POINT_GROUP: {"myvec": "myvec_backend:MyVecBackend"},
        },
    )


def test_a_package_adds_a_backend_for_its_own_dialect_through_the_entry_point(tmp_path: Path) -> None:
    install_myvec(tmp_path)
    result = run(
        tmp_path,
        """
        import sys
        sys.path.insert(0, sys.argv[1])
        import numpy as np
        import sqlalchemy_vector as sv
        from sqlalchemy_vector.dialects import backend_for, find_backend, supported_dialects

        # The first lookup is of the dialect, which derives from SQLite's: the plug-in's backend is the
        # more specific one, so it is found, not SQLite's.
        rag = sv.VectorRAG(f"myvec:///{sys.argv[1]}/docs.db", dimension=3)
        print(type(rag.engine.dialect).__name__, type(backend_for(rag.engine.dialect)).__name__)
        assert type(find_backend("myvec")).__name__ == "MyVecBackend" and "myvec" in supported_dialects()
        rag.load_documents([{"content": "a", "embedding": [1, 0, 0]}, {"content": "b", "embedding": [0, 1, 0]}])
        print([r["content"] for r in rag.query_with_embedding(np.array([0.1, 1, 0], "f"), top_k=2)])
        """,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines() == ["MyVecDialect MyVecBackend", "['b', 'a']"]


BROKEN = """
    from sqlalchemy.dialects.sqlite.base import SQLiteDialect

    from sqlalchemy_vector.dialects.base import Backend
    from sqlalchemy_vector.dialects.sqlite import SQLiteBackend

    NOT_A_BACKEND = 42


    class Impostor(SQLiteBackend):
        pass


    class Takeover(SQLiteBackend):
        name = "sqlite_turbo"

        def dialect_classes(self):
            return (SQLiteDialect,)

        def compile_distance(self, element, compiler, **kw):
            return "42.0"


    class TakeoverByPath(Takeover):
        def dialect_classes(self):
            return ("sqlalchemy.dialects.sqlite.pysqlite:SQLiteDialect_pysqlite",)


    class TakeoverByDriverClass(Takeover):
        def dialect_classes(self):
            from sqlalchemy.dialects.sqlite.aiosqlite import SQLiteDialect_aiosqlite

            return (SQLiteDialect_aiosqlite,)


    class NoName(Backend):
        pass


    class NameNone(Backend):
        name = None


    class NeedsArgument(SQLiteBackend):
        name = "needs_argument"

        def __init__(self, argument):
            self.argument = argument


    class NoDriver(Backend):
        name = "nodriverdb"

        def dialect_classes(self):
            from nodriverdb_sqlalchemy import NoDriverDialect  # the driver is not installed

            return (NoDriverDialect,)
"""


@pytest.mark.parametrize(
    "target, expected",
    [
        ("broken_backend:Missing", r"myvec = 'broken_backend:Missing' failed to load \(AttributeError"),
        ("broken_backend:NOT_A_BACKEND", r"gives 42, not a sqlalchemy_vector Backend"),
        ("broken_backend:Impostor", r"gives a backend named 'sqlite', which sqlalchemy_vector.dialects.sqlite registered"),
        # A module whose import registers a backend under a built-in's name.
        ("impostor_module", r"gives a backend named 'sqlite', which sqlalchemy_vector.dialects.sqlite registered"),
        # A new name claiming SQLite's own dialect class, as a class or as its "module:Class" path.
        ("broken_backend:Takeover", r"the dialect class sqlalchemy.dialects.sqlite.base:SQLiteDialect, which the "
         r"'sqlite' backend serves already"),
        # SQLAlchemy's own driver dialects beside the registered one, as a path or as a class.
        ("broken_backend:TakeoverByPath", r"the dialect class sqlalchemy.dialects.sqlite.pysqlite:SQLiteDialect_pysqlite, "
         r"which the 'sqlite' backend serves already"),
        ("broken_backend:TakeoverByDriverClass", r"the dialect class sqlalchemy.dialects.sqlite.aiosqlite:"
         r"SQLiteDialect_aiosqlite, which the 'sqlite' backend serves already"),
        ("broken_backend:NoName", r"gives a backend whose name is None"),
        ("broken_backend:NameNone", r"gives a backend whose name is None"),
        ("broken_backend:NeedsArgument", r"failed to load \(TypeError: .*missing 1 required positional argument"),
        ("broken_backend:NoDriver", r"failed to load \(ModuleNotFoundError: No module named 'nodriverdb_sqlalchemy'"),
    ],
)
def test_an_unusable_entry_point_is_left_out_with_a_warning_naming_it(tmp_path: Path, target: str, expected: str) -> None:
    install(
        tmp_path,
        "broken_backend",
        {
            "broken_backend.py": BROKEN,
            "impostor_module.py": """
                from sqlalchemy_vector.dialects import register
                from sqlalchemy_vector.dialects.sqlite import SQLiteBackend


                class Impostor(SQLiteBackend):
                    def compile_distance(self, element, compiler, **kw):
                        return "42.0"


                register(Impostor())
            """,
        },
        {ENTRY_POINT_GROUP: {"myvec": target}},
    )
    result = run(
        tmp_path,
        """
        import sys, warnings
        sys.path.insert(0, sys.argv[1])
        from sqlalchemy_vector.dialects import backend_for, supported_dialects
        from sqlalchemy_vector.exc import BackendPluginWarning

        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            names = supported_dialects()
            supported_dialects()  # the entry points are read once
        assert [w.category for w in caught] == [BackendPluginWarning], caught
        assert caught[0].filename == "<string>", caught[0].filename  # the caller's line, not the library's
        print(caught[0].message)
        print(",".join(names), type(backend_for("sqlite")).__name__)
        import sqlalchemy as sa
        import sqlalchemy_vector as sv
        engine = sv.create_engine(f"sqlite:///{sys.argv[1]}/x.db")
        with engine.connect() as connection:
            query = sa.select(sv.cosine_distance(sa.literal([1.0, 0.0], sv.Vector(2)), [0.0, 1.0]))
            print(type(backend_for(engine.dialect)).__name__, connection.execute(query).scalar())
        """,
    )
    assert result.returncode == 0, result.stderr
    message, listed, used = result.stdout.splitlines()
    assert re.search(expected, message), message
    assert message.endswith("; it is left out"), message
    assert listed.endswith(" SQLiteBackend") and "sqlite" in listed.split(" ")[0].split(",")
    assert set(listed.split(" ")[0].split(",")) == {"clickhousedb", "cockroachdb", "duckdb", "postgresql", "sqlite", "yugabytedb"}
    assert used == "SQLiteBackend 1.0", used


def test_a_broken_entry_point_leaves_the_ones_after_it_loading(tmp_path: Path) -> None:
    """The first lookup of any backend works, and the good plug-in listed after a broken one is registered."""
    install(tmp_path, "broken_backend", {"broken_backend.py": BROKEN}, {ENTRY_POINT_GROUP: {"nodriverdb": "broken_backend:NoDriver"}})
    second = tmp_path / "second"
    second.mkdir()
    install_myvec(second)
    result = run(
        tmp_path,
        """
        import sys, warnings
        sys.path[:0] = [sys.argv[1], sys.argv[1] + "/second"]
        import importlib.metadata
        import sqlalchemy_vector as sv
        from sqlalchemy_vector.dialects import backend_for, supported_dialects
        from sqlalchemy_vector.exc import BackendPluginWarning

        order = [e.name for e in importlib.metadata.entry_points(group="sqlalchemy_vector.backends")]
        assert order == ["nodriverdb", "myvec"], order
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            sqlite = sv.create_engine(f"sqlite:///{sys.argv[1]}/a.db")
        assert [w.category for w in caught] == [BackendPluginWarning], caught
        myvec = sv.create_engine(f"myvec:///{sys.argv[1]}/b.db")
        print(type(backend_for(sqlite.dialect)).__name__, type(backend_for(myvec.dialect)).__name__)
        print(",".join(supported_dialects()))
        """,
    )
    assert result.returncode == 0, result.stderr
    found, listed = result.stdout.splitlines()
    assert found == "SQLiteBackend MyVecBackend", found
    assert "myvec" in listed.split(",") and "nodriverdb" not in listed.split(","), listed


_CLICKHOUSE_LIVE = """
import sys
sys.path.insert(0, sys.argv[1])
import numpy as np
import sqlalchemy_vector as sv
from sqlalchemy_vector.dialects import backend_for, supported_dialects

assert sv.__file__.startswith(sys.argv[1]), sv.__file__
rag = sv.VectorRAG(f"clickhousedb://localhost/default?interface=chdb&path={sys.argv[1]}/chdb", dimension=3)
backend = backend_for(rag.engine.dialect)
rag.load_documents([
    {"content": "a", "embedding": [1, 0, 0], "metadata": {"n": 1}},
    {"content": "b", "embedding": [0, 1, 0], "metadata": {"n": 2}},
    {"content": "c", "embedding": [0, 1, 1], "metadata": {"n": 3}},
])
rag.create_index("ix", "cosine")
q = np.array([0.1, 1, 0], "f")
print(type(backend).__module__, ",".join(supported_dialects()))
print([r["content"] for r in rag.query_with_embedding(q, top_k=3)])
print([r["content"] for r in rag.query_with_embedding(q, top_k=3, filters={"n": {"$gte": 2}})])
statistics = rag.get_statistics()
print(statistics["backend"], statistics["document_count"], [i["name"] for i in statistics["indexes"]])
"""


def test_clickhouse_runs_as_a_package_of_its_own_beside_a_library_without_it(tmp_path: Path) -> None:
    """The ClickHouse backend needs nothing of the library that another backend does not: taken out of a
    copy of the library (its package and its registry line) and installed as a separate distribution
    whose entry point names it, the facade loads, indexes, filters and searches on chDB."""
    library = tmp_path / "sqlalchemy_vector"
    shutil.copytree(PACKAGE, library, ignore=shutil.ignore_patterns("__pycache__"))
    shutil.rmtree(library / "dialects" / "clickhouse")
    registry = library / "dialects" / "__init__.py"
    text = registry.read_text(encoding="utf-8")
    assert text.count("from . import clickhouse  # noqa: E402,F401\n") == 1
    registry.write_text(text.replace("from . import clickhouse  # noqa: E402,F401\n", ""), encoding="utf-8")
    # The package as a distribution of its own: its relative imports of the library made absolute.
    plugin = tmp_path / "clickhouse_vector"
    shutil.copytree(PACKAGE / "dialects" / "clickhouse", plugin, ignore=shutil.ignore_patterns("__pycache__"))
    for module in plugin.glob("*.py"):
        source = module.read_text(encoding="utf-8")
        source = re.sub(r"^(\s*)from \.\.\.(\w)", r"\1from sqlalchemy_vector.\2", source, flags=re.M)
        source = re.sub(r"^(\s*)from \.\.(\w)", r"\1from sqlalchemy_vector.dialects.\2", source, flags=re.M)
        assert "from ..." not in source and "from .. " not in source, module
        module.write_text(source, encoding="utf-8")
    install(tmp_path, "clickhouse_vector", {}, {ENTRY_POINT_GROUP: {"clickhousedb": "clickhouse_vector:ClickHouseBackend"}})

    result = subprocess.run(
        [sys.executable, "-c", _CLICKHOUSE_LIVE, str(tmp_path)], capture_output=True, text=True, timeout=300
    )
    assert result.returncode == 0, result.stderr
    origin, found, filtered, statistics = result.stdout.splitlines()
    assert origin.startswith("clickhouse_vector ") and "clickhousedb" in origin.split(" ")[1].split(","), origin
    assert found == "['b', 'c', 'a']" and filtered == "['b', 'c']", (found, filtered)
    assert statistics == "clickhousedb 3 ['ix']", statistics
