"""Declarative mixins for documents and their embeddings.

- :class:`DocumentMixin`: ``id``, ``content``, ``metadata_`` (JSON) and ``created_at``.
- :class:`EmbeddingMixin`: ``id``, ``document_id`` (foreign key to a document
  model), ``model_name`` and ``embedding`` (:class:`~sqlalchemy_vector.Vector`);
  one document has many embeddings, one per model or per chunk.
- :class:`EmbeddedDocumentMixin`: a document carrying its own ``embedding``
  column, for applications that want a single table.

Configuration is read from class attributes, like ``__tablename__``::

    class Base(DeclarativeBase):
        pass

    class Note(DocumentMixin, Base):
        __tablename__ = "notes"
        __column_names__ = {"content": "body", "metadata_": "attrs"}

    class NoteVector(EmbeddingMixin, Base):
        __tablename__ = "note_vectors"
        __document_model__ = Note
        __dimension__ = 384

- ``__column_names__`` maps attribute names to database column names.  The
  Python attribute names never change, so queries and the RAG facade work
  unchanged on remapped or pre-existing tables.  (Overriding an attribute with
  your own ``mapped_column(...)`` works too, as with any declarative mixin.)
  ``None`` declares an optional column absent, for tables made elsewhere:
  ``created_at`` and ``metadata_`` of documents, ``model_name`` of embeddings
  (e.g. ``{"created_at": None, "metadata_": None}`` for pgvector-python's
  ``items(id, content, embedding)``).  An absent ``created_at`` or
  ``model_name`` is ``None`` on the class; an absent ``metadata_`` reads as
  SQL ``NULL`` (the facade reports ``{}`` and refuses metadata filters).
- ``__id_type__``: ``str`` (default; UUID strings generated client-side, and
  any string you give), ``uuid.UUID`` (a :class:`~sqlalchemy.Uuid` key, values
  generated client-side: the database's native ``UUID`` where it has one, 16
  bytes on PostgreSQL against 37 for the text, ``CHAR(32)`` on SQLite) or
  ``int`` (an :class:`IntegerId` key: ``BIGINT`` from a ``Sequence`` on
  PostgreSQL and DuckDB, SQLite's rowid; DuckDB rejects the ``SERIAL`` that
  duckdb_engine renders for a plain ``Integer`` key).
- ``__dimension__``: the embedding dimension; ``__document_model__``: the
  document class that embeddings reference.
- ``__precision__``: how the embedding is stored, ``"float32"`` (default,
  :class:`~sqlalchemy_vector.Vector`) or ``"half"`` (a
  :class:`~sqlalchemy_vector.HalfVector`: float16, half the bytes, on the
  backends whose capability data lists the ``half`` kind).
- ``__embedding_nullable__``: ``True`` declares the embeddings' vector
  column nullable (default ``False``: ``NOT NULL``).  A dimension change
  resets the vectors to ``NULL``, so a migration changing it needs the
  column nullable until the vectors are embedded again (searches skip rows
  without a vector).  ClickHouse holds no ``NULL`` vector (an ``Array``
  cannot be ``Nullable``) and changes no dimension: there it stays required.

``metadata`` is reserved by Declarative (it holds the ``MetaData``), so the
attribute is ``metadata_``; its column is named ``metadata`` unless remapped.
The RAG facade's results call it ``metadata``.

``created_at`` is a naive UTC ``DateTime``, the same on every backend.  The
foreign key from ``document_id`` (and its index) is declared in the model
everywhere but created only where the backend's foreign keys allow an atomic
document delete (not on DuckDB: DuckDB 1.5 refuses to delete a referenced row
in the same transaction that deletes the rows referencing it).

The column types :class:`MetadataJSON` and :class:`IntegerId` ask the
dialect's backend for the type to use (``JSONB`` on PostgreSQL, ``INTEGER``
keys on SQLite), and render in Alembic migrations as
``sqlalchemy_vector.orm.MetadataJSON()`` and ``sqlalchemy_vector.orm.IntegerId()``,
which run on every backend.

Relationships are left to the application, e.g.
``document = relationship(Note)`` on the embedding class.
"""

from __future__ import annotations

import os
import uuid
from datetime import datetime, timezone
from typing import TYPE_CHECKING, Any, ClassVar, Dict, List, Mapping, Optional, Tuple, Type, Union

import numpy as np
import numpy.typing as npt
from sqlalchemy import JSON, BigInteger, Column, DateTime, ForeignKey, Sequence, String, Table, Text, Uuid, event, null
from sqlalchemy.engine.interfaces import Dialect
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.orm import DeclarativeBase, Mapped, column_property, declared_attr, mapped_column
from sqlalchemy.sql.compiler import TypeCompiler
from sqlalchemy.sql.type_api import TypeEngine
from sqlalchemy.types import TypeDecorator

from .dialects.base import find_backend
from .exc import InvalidArgumentError, ModelConfigurationError
from .kinds import precision_type
from .types import whole_number

if TYPE_CHECKING:
    from sqlalchemy.engine import Connection
    from sqlalchemy.schema import SchemaItem
    from sqlalchemy.sql.ddl import BaseDDLElement

__all__ = [
    "DocumentMixin",
    "EmbeddingMixin",
    "EmbeddedDocumentMixin",
    "IntegerId",
    "MetadataJSON",
    "make_models",
    "new_id",
    "new_ids",
    "utcnow",
]


class MetadataJSON(TypeDecorator[Any]):
    """The metadata column type: the backend's JSON document type (JSONB on PostgreSQL), plain JSON elsewhere."""

    impl = JSON
    cache_ok = True
    # As JSON: values are dicts, and None is stored as JSON null.
    hashable = False
    should_evaluate_none = True

    def load_dialect_impl(self, dialect: Dialect) -> TypeEngine[Any]:
        backend = find_backend(dialect)
        return dialect.type_descriptor(self.impl_instance if backend is None else backend.json_type())

    def process_result_value(self, value: Any, dialect: Dialect) -> Any:
        # Metadata integers are within 64 bits (larger ones are refused when stored), so a larger
        # one read back was a float: PostgreSQL's jsonb writes 1e20 as 100000000000000000000.
        return _floats_beyond_int64(value)


#: The integers every backend's JSON keeps exactly: metadata integers and integer keys stay within it.
INT64_RANGE = (-(2**63), 2**63 - 1)

#: How many levels of dicts and lists a document's metadata may nest.  Reading it back recurses once per
#: level: 900 levels were stored and then no read could return the document (RecursionError).
MAX_METADATA_NESTING = 64


def _floats_beyond_int64(value: Any) -> Any:
    if isinstance(value, dict):
        return {key: _floats_beyond_int64(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_floats_beyond_int64(item) for item in value]
    if isinstance(value, int) and not isinstance(value, bool) and not INT64_RANGE[0] <= value <= INT64_RANGE[1]:
        return float(value)
    return value


class IntegerId(BigInteger):
    """A database-generated integer key, in the backend's type for it (SQLite's rowid ``INTEGER``), else BIGINT.

    An ``Integer`` subclass, so code that looks for integer keys finds it; only
    its DDL differs per backend (see the compilation rule below).
    """


@compiles(IntegerId)
def _compile_integer_id(element: IntegerId, compiler: TypeCompiler, **kw: Any) -> str:
    backend = find_backend(compiler.dialect)
    return str(compiler.process(BigInteger() if backend is None else backend.integer_id_type(), **kw))


#: Longest identifier every backend keeps whole (PostgreSQL cuts names at 63 bytes).
MAX_IDENTIFIER_BYTES = 63


def check_identifier(name: Any, what: str, error: type = ModelConfigurationError) -> str:
    """Check a table, column or index name; return it.

    SQLAlchemy quotes every identifier, so single quotes, semicolons, commas,
    spaces, dots and reserved words are kept as they are on every backend.
    Refused: an empty name, NUL, unpaired surrogates (no backend can store
    them), double quotes (DuckDB cannot name such a sequence) and names longer
    than 63 UTF-8 bytes (PostgreSQL would silently cut them, so a name could be
    read as another).
    """
    if not isinstance(name, str) or not name:
        raise error(f"{what} must be a non-empty string, got {name!r}")
    if "\x00" in name:
        raise error(f"{what} {name!r} contains a NUL character, which no database takes in a name")
    if '"' in name:
        # Quoted correctly in DDL and queries everywhere, but DuckDB 1.5 cannot name such a
        # sequence in nextval('...'): refused on every backend, so one rule holds.
        raise error(f"{what} {name!r} contains a double quote (\"), which not every backend takes in a name; use another name")
    try:
        size = len(name.encode("utf-8"))
    except UnicodeEncodeError:
        raise error(
            f"{what} {name!r} contains an unpaired surrogate, which is not valid Unicode; use another name"
        ) from None
    if size > MAX_IDENTIFIER_BYTES:
        raise error(
            f"{what} {name[:40]!r}... is {size} bytes long in UTF-8; names are limited to {MAX_IDENTIFIER_BYTES} "
            "(PostgreSQL cuts longer names, so two could become one): use a shorter name"
        )
    return name


def new_id() -> str:
    """A new random document or embedding id: a UUID4 string."""
    return str(uuid.uuid4())


def new_ids(count: int) -> List[str]:
    """``count`` new UUID4 strings, made from one read of ``os.urandom`` (bulk loads make many)."""
    digits = os.urandom(16 * count).hex()
    out = []
    for start in range(0, 32 * count, 32):
        h = digits[start : start + 32]
        # version 4 in the 13th digit, the RFC 4122 variant (8, 9, a, b) in the 17th
        out.append(f"{h[:8]}-{h[8:12]}-4{h[13:16]}-{_VARIANT[h[16]]}{h[17:20]}-{h[20:]}")
    return out


_VARIANT = {digit: "89ab"[int(digit, 16) & 3] for digit in "0123456789abcdef"}


def utcnow() -> datetime:
    """The current UTC time as a naive datetime, how ``created_at`` is stored on every backend."""
    return datetime.now(timezone.utc).replace(tzinfo=None)


# -- configuration ---------------------------------------------------------------------------


#: Attributes a table may lack, declared with ``__column_names__ = {name: None}``.
OPTIONAL_COLUMNS = frozenset({"created_at", "metadata_", "model_name"})


class _Configured:
    __column_names__: ClassVar[Mapping[str, Optional[str]]] = {}
    __id_type__: ClassVar[type] = str
    _column_attributes: ClassVar[Tuple[str, ...]] = ()

    @classmethod
    def _names(cls) -> Dict[str, Any]:
        """``__column_names__`` as a dict, checked to be a mapping whose attributes name distinct columns."""
        given = getattr(cls, "__column_names__", None) or {}
        if not isinstance(given, Mapping):
            raise ModelConfigurationError(
                f"{cls.__name__}.__column_names__ must be a dict of attribute names to column names, got "
                f"{type(given).__name__} {given!r:.60}; e.g. {{'content': 'body'}}"
            )
        names = dict(given)
        taken: Dict[str, str] = {}
        for attribute in cls._column_attributes:
            key = "metadata" if attribute == "metadata_" and "metadata" in names else attribute
            name = names.get(key, "metadata" if attribute == "metadata_" else attribute)
            if not isinstance(name, str):
                continue  # None (absent) or a mistake _column_name names
            # SQLite and DuckDB compare column names without case: one rule everywhere.
            other = taken.setdefault(name.casefold(), attribute)
            if other != attribute:
                raise ModelConfigurationError(
                    f"{cls.__name__}.__column_names__ maps {other!r} and {attribute!r} to one column, {name!r} "
                    "(names differing only in case count as one); give each attribute a column of its own"
                )
        return names

    @classmethod
    def _absent(cls, attribute: str) -> bool:
        """Whether ``__column_names__`` declares the optional column ``attribute`` absent (``None``)."""
        names = cls._names()
        key = "metadata" if attribute == "metadata_" and "metadata" in names else attribute
        return attribute in OPTIONAL_COLUMNS and key in names and names[key] is None

    @classmethod
    def _column_name(cls, attribute: str) -> str:
        names = cls._names()
        if "metadata" in names and "metadata_" not in names:
            names["metadata_"] = names.pop("metadata")  # the column's own name, accepted as a key too
        unknown = sorted(set(names) - set(cls._column_attributes))
        if unknown:
            raise ModelConfigurationError(
                f"{cls.__name__}.__column_names__ has keys {', '.join(map(repr, unknown))} that are not "
                f"attributes of the mixin; expected some of {', '.join(cls._column_attributes)}"
            )
        name = names.get(attribute, "metadata" if attribute == "metadata_" else attribute)
        if not isinstance(name, str) or not name:
            optional = sorted(OPTIONAL_COLUMNS & set(cls._column_attributes))
            raise ModelConfigurationError(
                f"{cls.__name__}.__column_names__[{attribute!r}] must be a non-empty column name, got {name!r}"
                + (f" (only {', '.join(optional)} may be None: absent)" if optional else "")
            )
        check_identifier(name, f"{cls.__name__}.__column_names__[{attribute!r}]")
        return name

    @classmethod
    def _id_column(cls) -> Mapped[Any]:
        # The table's name, checked as make_models checks it (a quote, or more than 63 bytes, failed later, on
        # some backends only); the key of every mixin's table, so every one passes here.
        table_name = getattr(cls, "__tablename__", None)
        if table_name is None and getattr(cls, "__table__", None) is None:
            raise ModelConfigurationError(
                f"{cls.__name__} needs __tablename__ = '<table name>', as any declarative class with a table does"
            )
        if table_name is not None:
            check_identifier(table_name, f"{cls.__name__}.__tablename__")
        name = cls._column_name("id")
        id_type = getattr(cls, "__id_type__", str)
        if id_type is str:
            return mapped_column(name, String(), primary_key=True, default=new_id)
        if id_type is uuid.UUID:
            # A native uuid where the database has one (16 bytes on PostgreSQL, against 37 for the text).
            return mapped_column(name, Uuid(), primary_key=True, default=uuid.uuid4)
        if id_type is int:
            # Keys from a sequence where the database has sequences; others
            # ignore it and generate the key themselves.
            sequence = Sequence(f"{cls.__tablename__}_{name}_seq")  # type: ignore[attr-defined]
            return mapped_column(name, IntegerId(), sequence, primary_key=True)
        raise ModelConfigurationError(
            f"{cls.__name__}.__id_type__ must be str (UUID strings), uuid.UUID (UUID values) or int "
            f"(database-generated), got {id_type!r}"
        )

    @classmethod
    def _dimension(cls) -> int:
        dim = getattr(cls, "__dimension__", None)
        checked = whole_number(dim)
        if checked is None or checked < 1:
            raise ModelConfigurationError(
                f"{cls.__name__} needs __dimension__ = <positive int>, the size of its embeddings; got {dim!r}"
            )
        return checked

    @classmethod
    def _vector_type(cls) -> Any:
        """The embedding column's type: ``Vector`` or the compact kind ``__precision__`` names."""
        precision = getattr(cls, "__precision__", "float32")
        try:
            return precision_type(precision, cls._dimension(), f"{cls.__name__}.__precision__")
        except InvalidArgumentError as err:
            raise ModelConfigurationError(str(err)) from None


# -- mixins --------------------------------------------------------------------------------------


class DocumentMixin(_Configured):
    """A document: ``id``, ``content`` (text), ``metadata_`` (JSON object) and ``created_at``."""

    _column_attributes: ClassVar[Tuple[str, ...]] = ("id", "content", "metadata_", "created_at")

    @declared_attr
    def id(cls) -> Mapped[Any]:
        return cls._id_column()

    @declared_attr
    def content(cls) -> Mapped[str]:
        return mapped_column(cls._column_name("content"), Text(), nullable=False)

    @declared_attr
    def metadata_(cls) -> Mapped[Dict[str, Any]]:
        if cls._absent("metadata_"):
            # Read as NULL, so queries selecting it still run; never written.
            return column_property(null())  # type: ignore[return-value]
        return mapped_column(cls._column_name("metadata_"), MetadataJSON(), nullable=False, default=dict)

    @declared_attr
    def created_at(cls) -> Mapped[datetime]:
        if cls._absent("created_at"):
            return None  # type: ignore[return-value]
        return mapped_column(cls._column_name("created_at"), DateTime(), nullable=False, default=utcnow)


class EmbeddedDocumentMixin(DocumentMixin):
    """A document with its own ``embedding`` column (``Vector(__dimension__)``, nullable): one table."""

    _column_attributes: ClassVar[Tuple[str, ...]] = DocumentMixin._column_attributes + ("embedding",)
    __dimension__: ClassVar[int]

    @declared_attr
    def embedding(cls) -> Mapped[Optional[npt.NDArray[np.float32]]]:
        return mapped_column(cls._column_name("embedding"), cls._vector_type(), nullable=True)


class EmbeddingMixin(_Configured):
    """An embedding of a document: ``id``, ``document_id``, ``model_name`` and ``embedding``.

    ``__document_model__`` names the document class (mapped before this one),
    ``__dimension__`` the vector size.
    """

    _column_attributes: ClassVar[Tuple[str, ...]] = ("id", "document_id", "model_name", "embedding")
    __dimension__: ClassVar[int]
    __document_model__: ClassVar[type]
    #: Make ``document_id`` part of the primary key, ``(id, document_id)``: what a table sharded by
    #: document needs (Citus requires the distribution column in every primary key and unique constraint).
    __distributed_by_document__: ClassVar[bool] = False
    #: Declare the vector column nullable (a dimension change resets the vectors to ``NULL``).
    __embedding_nullable__: ClassVar[bool] = False

    @declared_attr
    def id(cls) -> Mapped[Any]:
        return cls._id_column()

    @declared_attr
    def document_id(cls) -> Mapped[Any]:
        target = cls._document_key()
        distributed = getattr(cls, "__distributed_by_document__", False)
        if not isinstance(distributed, bool):  # "no" read as true made document_id part of the primary key
            raise ModelConfigurationError(
                f"{getattr(cls, '__name__', 'EmbeddingMixin')}.__distributed_by_document__ must be True or False, "
                f"got {distributed!r}"
            )
        column = mapped_column(
            cls._column_name("document_id"),
            target.type.copy(),
            ForeignKey(target),
            nullable=False,
            index=True,
            primary_key=distributed,
        )
        event.listen(column.column, "after_parent_attach", _only_with_foreign_keys, propagate=True)
        return column

    @declared_attr
    def model_name(cls) -> Mapped[str]:
        if cls._absent("model_name"):
            return None  # type: ignore[return-value]
        return mapped_column(cls._column_name("model_name"), String(), nullable=False)

    @declared_attr
    def embedding(cls) -> Mapped[npt.NDArray[np.float32]]:
        nullable = getattr(cls, "__embedding_nullable__", False)
        if not isinstance(nullable, bool):
            raise ModelConfigurationError(
                f"{getattr(cls, '__name__', 'EmbeddingMixin')}.__embedding_nullable__ must be True or False, "
                f"got {nullable!r}"
            )
        return mapped_column(cls._column_name("embedding"), cls._vector_type(), nullable=nullable)

    @classmethod
    def _document_key(cls) -> "Column[Any]":
        model = getattr(cls, "__document_model__", None)
        table = getattr(model, "__table__", None)
        if model is None or not isinstance(table, Table):
            raise ModelConfigurationError(
                f"{cls.__name__} needs __document_model__ = <the mapped document class> (defined before it), "
                f"got {model!r}"
            )
        primary_key = list(table.primary_key.columns)
        if len(primary_key) != 1:
            raise ModelConfigurationError(
                f"{cls.__name__}.__document_model__ {model.__name__} must have a one-column primary key, "
                f"got {len(primary_key)} columns"
            )
        return primary_key[0]


def _foreign_keys_usable(
    ddl: BaseDDLElement,
    target: Union[SchemaItem, str],
    bind: Optional[Connection],
    tables: Optional[List[Table]] = None,
    state: Optional[Any] = None,
    *,
    dialect: Dialect,
    **kw: Any,
) -> bool:
    backend = find_backend(dialect)
    return backend is None or backend.capabilities.foreign_keys


def _only_with_foreign_keys(column: "Column[Any]", table: Table) -> None:
    # Where a foreign key would make an atomic document delete impossible
    # (Capabilities.foreign_keys), neither it nor the index that serves it is
    # created; such a backend (DuckDB) scans fast enough without the index,
    # which would only slow bulk loads.
    for foreign_key in column.foreign_keys:
        if foreign_key.constraint is not None:
            foreign_key.constraint.ddl_if(callable_=_foreign_keys_usable)
    for index in table.indexes:
        if list(index.columns) == [column]:
            index.ddl_if(callable_=_foreign_keys_usable)


# -- ready-made models -------------------------------------------------------------------------------


def make_models(
    dimension: int,
    *,
    base: Optional[Type[Any]] = None,
    document_table: str = "documents",
    embedding_table: str = "embeddings",
    document_columns: Optional[Mapping[str, str]] = None,
    embedding_columns: Optional[Mapping[str, str]] = None,
    id_type: type = str,
    distributed: bool = False,
    precision: str = "float32",
    nullable_embedding: bool = False,
) -> Tuple[Type[DocumentMixin], Type[EmbeddingMixin]]:
    """Create a ``Document`` and an ``Embedding`` mapped class for ``dimension``-sized vectors.

    ``base`` is your declarative base (a new one, with its own ``MetaData``,
    by default); the other arguments set the mixins' configuration attributes
    (``distributed``: ``__distributed_by_document__``, a key sharding can use;
    ``precision`` is ``__precision__``: ``"float32"`` or ``"half"``;
    ``nullable_embedding`` is ``__embedding_nullable__``: the migration
    step of a dimension change declares the vector column nullable).
    """
    try:
        precision_type(precision, dimension, "make_models(precision=...)")
    except InvalidArgumentError as err:
        raise ModelConfigurationError(str(err)) from None
    dimension = whole_number(dimension) or dimension  # a plain int: precision_type refused anything else
    check_identifier(document_table, "document_table")
    check_identifier(embedding_table, "embedding_table")
    if document_table.casefold() == embedding_table.casefold():
        raise ModelConfigurationError(
            f"make_models got one name for both tables, {document_table!r}; give document_table and "
            "embedding_table names of their own"
        )
    for name, value in (("distributed", distributed), ("nullable_embedding", nullable_embedding)):
        if not isinstance(value, bool):  # "no" would read as true
            raise ModelConfigurationError(f"make_models({name}=...) must be True or False, got {value!r}")
    if base is None:

        class Base(DeclarativeBase):
            pass

        base = Base

    document = type(
        "Document",
        (DocumentMixin, base),
        {
            "__tablename__": document_table,
            "__column_names__": dict(document_columns or {}),
            "__id_type__": id_type,
            "__module__": __name__,
        },
    )
    embedding = type(
        "Embedding",
        (EmbeddingMixin, base),
        {
            "__tablename__": embedding_table,
            "__column_names__": dict(embedding_columns or {}),
            "__id_type__": id_type,
            "__dimension__": dimension,
            "__precision__": precision,
            "__document_model__": document,
            "__distributed_by_document__": distributed,
            "__embedding_nullable__": nullable_embedding,
            "__module__": __name__,
        },
    )
    return document, embedding  # type: ignore[return-value]
