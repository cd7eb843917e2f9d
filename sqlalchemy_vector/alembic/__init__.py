"""Alembic integration: vector columns and indexes in migrations, on every backend.

In ``env.py``, pass :func:`context_options` to ``context.configure``::

    import sqlalchemy_vector.alembic

    with engine.connect() as connection:
        context.configure(
            connection=connection,
            target_metadata=target_metadata,
            **sqlalchemy_vector.alembic.context_options(connection),
        )

It enables the ``sqlalchemy_vector`` autogenerate plugin (dimension and
vector-index comparison, see :mod:`.compare`), renders ``Vector(dim)`` with
its import, hides vector indexes from Alembic's own index comparison, hides
the tables that make up a vector index (sqlite-vec's vec0 tables), and lets
the connection reflect vector columns as ``Vector(n)``; what each database
needs is asked of its backend (see :mod:`sqlalchemy_vector.dialects`).  Or
start a project from the bundled template with :func:`init`
(``sqlalchemy-vector alembic init DIR``).

Needs Alembic 1.18 or later (autogenerate plugins).
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any, Callable, Dict, List, Optional, Sequence, Set, Union

from sqlalchemy.engine import URL, Connection, make_url

from ..exc import MissingDependencyError

try:
    from alembic.runtime.plugins import Plugin
except ImportError as _error:  # Alembic missing, or older than 1.18 (no autogenerate plugins)
    if (_error.name or "").partition(".")[0] != "alembic":
        raise
    raise MissingDependencyError(
        f"sqlalchemy_vector.alembic needs Alembic 1.18 or later ({_error}); install it with: "
        "pip install 'sqlalchemy-vector[alembic]'",
        name="alembic",
    ) from _error

from ..collection import is_settings_table
from ..dialects.base import backends, dialect_class, enable_vector_reflection, find_backend
from ..fulltext import FullTextIndex
from ..index import VectorIndex
from ..kinds import CompactVector
from ..orm import IntegerId, MetadataJSON
from ..types import Vector
from .compare import _created_here, setup as _setup_comparators
from . import fulltext as _fulltext  # registers op.create_fulltext_index / op.drop_fulltext_index
from .operations import (
    AlterVectorDimensionOp,
    CreateVectorExtensionOp,
    CreateVectorIndexOp,
    DropVectorExtensionOp,
    DropVectorIndexOp,
    add_imports,
)

__all__ = [
    "PLUGIN_NAME",
    "TEMPLATE_DIR",
    "AlterVectorDimensionOp",
    "CreateVectorExtensionOp",
    "CreateVectorIndexOp",
    "DropVectorExtensionOp",
    "DropVectorIndexOp",
    "context_options",
    "enable_vector_reflection",
    "include_name_for",
    "include_object",
    "init",
    "register_plugin",
    "render_item",
    "setup",
]

#: Name of the autogenerate plugin, for ``context.configure(autogenerate_plugins=[...])``.
PLUGIN_NAME = "sqlalchemy_vector"

#: The Alembic project template shipped with the package.
TEMPLATE_DIR = Path(__file__).parent / "template"

_ALEMBIC_PLUGINS = "alembic.autogenerate.*"

IncludeObject = Callable[[Any, Optional[str], str, bool, Any], bool]
IncludeName = Callable[[Optional[str], str, Dict[str, Any]], bool]
RenderItem = Callable[[str, Any, Any], Any]
RevisionDirectives = Callable[[Any, Any, List[Any]], None]


def _prepare_migrations() -> None:
    # What Alembic needs to know of each backend (e.g. an implementation for
    # a dialect name it does not ship) is registered with the integration.
    for backend in backends():
        backend.prepare_migrations()


_prepare_migrations()


def setup(plugin: Plugin) -> None:
    """Alembic's plugin entry point: registers the vector comparison functions."""
    _setup_comparators(plugin)
    _fulltext.setup(plugin)


def register_plugin() -> None:
    """Make the ``sqlalchemy_vector`` autogenerate plugin known to Alembic (idempotent).

    Registering only names the plugin; it runs where ``autogenerate_plugins``
    lists it.
    """
    try:
        Plugin.setup_plugin_from_module(sys.modules[__name__], PLUGIN_NAME)
    except ValueError:  # already registered (an earlier call, or an entry point)
        pass


# -- hooks for context.configure ---------------------------------------------------------


def render_item(type_: str, obj: Any, autogen_context: Any) -> Any:
    """Render vector types as ``sqlalchemy_vector.Vector(dim)`` and the mixins' column types by name, with the import.

    ``Vector(dim)`` and the backends' vector storage types render as
    ``sqlalchemy_vector.Vector(dim)``; :class:`~sqlalchemy_vector.orm.MetadataJSON`
    and :class:`~sqlalchemy_vector.orm.IntegerId` as
    ``sqlalchemy_vector.orm.MetadataJSON()`` / ``IntegerId()``; the compact
    kinds as ``sqlalchemy_vector.HalfVector(dim)`` (``Int8Vector``,
    ``BitVector``, ``SparseVector``).  A NOT NULL column whose nullability
    was not given explicitly (the ORM's ``Mapped[str]``) is marked as given,
    so that renderers writing only explicit ones (clickhouse-connect's) keep it.
    """
    explicit = getattr(obj, "_user_defined_nullable", None) if type_ == "column" else None
    if type_ == "column" and obj.nullable is False and not isinstance(explicit, bool):
        # A NOT NULL the ORM derived from the annotation (Mapped[str]) is rendered like one given explicitly:
        # renderers that write only the latter (clickhouse-connect's) would create the column nullable.
        obj._user_defined_nullable = False
        return False
    if type_ == "type":
        if isinstance(obj, CompactVector):
            add_imports(autogen_context)
            return f"sqlalchemy_vector.{type(obj).__name__}({obj.dim})"
        dim = _vector_dim(obj)
        if dim is not None:
            add_imports(autogen_context)
            return f"sqlalchemy_vector.Vector({dim})"
        if type(obj) in _ORM_TYPES:
            # Rendered by name, not as the type the backend gives them (JSONB on
            # PostgreSQL), so the migration runs on every backend.
            add_imports(autogen_context)
            return f"sqlalchemy_vector.orm.{type(obj).__name__}()"
    return False


_ORM_TYPES = (MetadataJSON, IntegerId)


def _vector_dim(obj: Any) -> Optional[int]:
    if isinstance(obj, Vector):
        return obj.dim
    for backend in backends():
        dim = backend.storage_dim(obj)
        if dim is not None:
            return int(dim)
    return None


def include_object(obj: Any, name: Optional[str], type_: str, reflected: bool, compare_to: Any) -> bool:
    """Keep vector indexes out of Alembic's own index comparison (the plugin compares them), and the
    command-line tool's settings table out of the comparison where the models do not declare it.

    (``vector_collection``, which records how a database's passages were
    embedded: dropping it would leave the tool unable to tell its model.)
    """
    if type_ == "table" and reflected and compare_to is None and is_settings_table(obj):
        return False
    if type_ == "index":
        if isinstance(obj, (VectorIndex, FullTextIndex)):
            return False
        if reflected and any(backend.reflected_fulltext_index(obj) for backend in backends()):
            return False
        if reflected and any(backend.reflected_vector_index(obj) for backend in backends()):
            return False
    return True


def include_name_for(connection: Optional[Connection]) -> IncludeName:
    """An ``include_name`` hook that hides the tables making up vector indexes (sqlite-vec's vec0 tables),
    and, with ``include_schemas``, the schemas of indexes (DuckDB's full-text indexes).

    The backend lists them from ``connection`` once per schema (the table's, from ``parent_names``), when the
    hook first sees a table of it or a schema.
    """
    backend = None if connection is None else find_backend(connection.dialect)
    hidden: Dict[Optional[str], Set[str]] = {}
    hidden_schemas: Optional[Set[str]] = None

    def hook(name: Optional[str], type_: str, parent_names: Dict[str, Any]) -> bool:
        nonlocal hidden_schemas
        if name is None or connection is None or backend is None:
            return True
        if type_ == "schema":
            if hidden_schemas is None:
                hidden_schemas = backend.hidden_schemas(connection)
            return name not in hidden_schemas
        if type_ != "table":
            return True
        schema = parent_names.get("schema_name")
        if schema not in hidden:
            # The default schema's asked as before the schema argument was added, which a backend of another
            # package may not take yet.
            args = (connection,) if schema is None else (connection, schema)
            hidden[schema] = backend.hidden_tables(*args) | backend.fulltext_hidden_tables(*args)
        return name not in hidden[schema]

    return hook


def _chain_object(user: Optional[IncludeObject], connection: Optional[Connection] = None) -> IncludeObject:
    vector_indexes: Dict[Optional[str], Set[tuple[str, str]]] = {}  # per schema: (table, index), read once

    def database_vector_index(obj: Any) -> bool:
        """A reflected index that the database lists as a vector index (the plugin compares those).

        Where reflection cannot tell one from a plain index (duckdb-sqlalchemy
        reflects an HNSW index as one), Alembic would otherwise drop it with
        ``op.drop_index`` when its table goes, and build it as a plain index in
        the downgrade.
        """
        table = getattr(obj, "table", None)
        if connection is None or table is None or find_backend(connection.dialect) is None:
            return False
        schema = table.schema
        if schema not in vector_indexes:
            from ..index import list_vector_indexes

            found = list_vector_indexes(connection, schema=schema)
            vector_indexes[schema] = {(str(i["table"]), str(i["name"])) for i in found}
        return (table.name, str(obj.name)) in vector_indexes[schema]

    def hook(obj: Any, name: Optional[str], type_: str, reflected: bool, compare_to: Any) -> bool:
        if not include_object(obj, name, type_, reflected, compare_to):
            return False
        if type_ == "index" and reflected and database_vector_index(obj):
            return False
        if (
            connection is not None
            and not reflected
            and not isinstance(obj, (VectorIndex, FullTextIndex))  # built by their own DDL, not SQLAlchemy's
            and not _created_here(obj, connection)
        ):
            return False
        return True if user is None else bool(user(obj, name, type_, reflected, compare_to))

    return hook


def _chain_name(ours: IncludeName, user: Optional[IncludeName]) -> IncludeName:
    def hook(name: Optional[str], type_: str, parent_names: Dict[str, Any]) -> bool:
        if not ours(name, type_, parent_names):
            return False
        return True if user is None else bool(user(name, type_, parent_names))

    return hook


def _chain_render(user: Optional[RenderItem]) -> RenderItem:
    def hook(type_: str, obj: Any, autogen_context: Any) -> Any:
        rendered = render_item(type_, obj, autogen_context)
        if rendered is not False:
            return rendered
        return False if user is None else user(type_, obj, autogen_context)

    return hook


def _chain_directives(ours: RevisionDirectives, user: Optional[RevisionDirectives]) -> RevisionDirectives:
    def hook(context: Any, revision: Any, directives: List[Any]) -> None:
        ours(context, revision, directives)
        if user is not None:
            user(context, revision, directives)

    return hook


def _no_directives(context: Any, revision: Any, directives: List[Any]) -> None:
    pass


def context_options(
    connection: Optional[Connection] = None,
    *,
    url: Optional[Union[str, URL]] = None,
    include_object: Optional[IncludeObject] = None,
    include_name: Optional[IncludeName] = None,
    render_item: Optional[RenderItem] = None,
    autogenerate_plugins: Optional[Sequence[str]] = None,
    process_revision_directives: Optional[RevisionDirectives] = None,
) -> Dict[str, Any]:
    """Keyword arguments for ``context.configure()`` that make Alembic handle vectors.

    Your own ``include_object`` / ``include_name`` / ``render_item`` /
    ``process_revision_directives`` hooks and ``autogenerate_plugins`` are
    passed here and chained after ours.  Where the backend alters columns by
    copying tables (SQLite) it also turns on ``render_as_batch``; where the
    dialect's Alembic support needs a ``process_revision_directives`` hook
    (clickhouse-connect's imports), it is installed, and a hook of your own
    must then be passed here.  ``connection`` is ``None`` in offline mode.
    """
    register_plugin()
    if connection is not None:
        enable_vector_reflection(connection.dialect)
    plugins = list(autogenerate_plugins) if autogenerate_plugins is not None else [_ALEMBIC_PLUGINS]
    if PLUGIN_NAME not in plugins:
        plugins.append(PLUGIN_NAME)
    options: Dict[str, Any] = {
        "include_object": _chain_object(include_object, connection),
        "include_name": _chain_name(include_name_for(connection), include_name),
        "render_item": _chain_render(render_item),
        "autogenerate_plugins": plugins,
    }
    if connection is not None:
        backend = find_backend(connection.dialect)
    elif url is not None:
        # Loaded here as Alembic loads it next: a supported backend's dialect not installed is named with its fix.
        parsed = make_url(url)
        dialect_class(parsed)
        backend = find_backend(parsed.get_backend_name())
    else:
        backend = None
    if backend is not None and backend.capabilities.alter_by_table_copy:
        options["render_as_batch"] = True
    if connection is not None and backend is not None:
        options.update(backend.migration_options(connection))
    # Only where there is one: an env.py passing its own to context.configure() beside these keeps working.
    ours = backend.revision_directives_hook() if backend is not None else None
    if ours is not None or process_revision_directives is not None:
        options["process_revision_directives"] = _chain_directives(ours or _no_directives, process_revision_directives)
    return options


# -- project template ----------------------------------------------------------------------


def init(
    directory: str,
    *,
    template_path: Optional[str] = None,
    config_file: str = "alembic.ini",
    url: Optional[str] = None,
    metadata: Optional[str] = None,
) -> None:
    """Create an Alembic project in ``directory`` from sqlalchemy_vector's template.

    Same as ``alembic init``, with the template that wires :func:`context_options`
    into ``env.py`` and imports ``sqlalchemy_vector`` in every migration.
    ``url`` and ``metadata`` (``"package.module:Base.metadata"``) fill in the
    new ``alembic.ini``.
    """
    from alembic import command
    from alembic.config import Config

    template = Path(template_path) if template_path is not None else TEMPLATE_DIR
    if not (template / "env.py").is_file():
        raise FileNotFoundError(f"{template} is not an Alembic template directory (no env.py)")

    class _TemplateConfig(Config):
        # alembic init only looks for templates inside Alembic's package.
        def get_template_directory(self) -> str:
            return str(template.parent)

    ini = Path(config_file)
    existed = ini.exists()
    command.init(_TemplateConfig(str(ini)), directory, template=template.name)
    if existed:
        return
    # alembic.ini is read with configparser interpolation: a literal % is %%.
    settings = {"sqlalchemy.url": url.replace("%", "%%") if url else None, "target_metadata": metadata}
    lines = ini.read_text().splitlines()
    for number, line in enumerate(lines):
        key = line.split("=", 1)[0].strip()
        if "=" in line and settings.get(key) is not None:
            lines[number] = f"{key} = {settings[key]}"
    ini.write_text("\n".join(lines) + "\n")
