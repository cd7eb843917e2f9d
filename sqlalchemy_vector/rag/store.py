"""Every database operation of the facades, on a synchronous ORM session, and the models they run on."""

from __future__ import annotations

import dataclasses
import functools
import re
import uuid
import warnings
from dataclasses import dataclass
from datetime import datetime
from typing import (
    Any,
    Dict,
    Iterator,
    List,
    Literal,
    Optional,
    Sequence,
    Set,
    Tuple,
    TypeVar,
    Union,
)

import numpy as np
import numpy.typing as npt
from sqlalchemy import Column, Integer, MetaData, Table, Uuid, and_, bindparam, delete, exists, func, insert, select, update
from sqlalchemy.engine import Connection
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import InstrumentedAttribute, Session
from sqlalchemy.sql import ColumnElement

from ..dialects.base import backend_for
from ..exc import (
    DocumentNotFoundError,
    IndexMaintenanceWarning,
    InvalidDocumentError,
    InvalidArgumentError,
    InvalidVectorError,
    ModelConfigurationError,
    VectorIndexError,
)
from ..functions import SIMILARITY_FUNCTIONS
from ..orm import make_models, new_ids, utcnow
from ..search import TopK, run_top_k
from ..kinds import precision_of, precision_type


#: Embedding size of the default models and embedder when nothing else decides it.
DEFAULT_DIMENSION = 384
_ID_CHUNK = 500  # ids per IN (...) list: well under every backend's parameter limit
_STATEMENT_CACHE_SIZE = 64  # search statements kept per store (one per dialect, metric, limit, index)
_QUERY_VECTOR = "query_vector"  # the bound parameter of a search's query vector
_DOCUMENT_IDS = "document_ids"  # the expanding parameter of the documents read by key
_UNREAD = object()  # the content of a ranked document not joined in: read by key after the ranking
_ContentPath = Literal["ranked", "joined", "by key"]  # how a ranking gets its documents (_Store._content_path)
DocumentId = Any
Result = Dict[str, Any]
FloatArray = npt.NDArray[np.float32]
_T = TypeVar("_T")


# -- models --------------------------------------------------------------------------------------


@functools.lru_cache(maxsize=None)
def _default_models(
    dimension: int, distributed: bool = False, precision: str = "float32", id_type: type = str
) -> Tuple[type, type]:
    # One pair of classes per dimension, layout, precision and key type, in their own registry: mapping is not free.
    return make_models(dimension, distributed=distributed, precision=precision, id_type=id_type)


@dataclass(frozen=True)
class _Models:
    """The mapped classes the facade works with, and what it learned about them."""

    document: type
    embedding: Optional[type]  # None: the document carries its own embedding
    dimension: int
    create_tables: bool

    @property
    def single_table(self) -> bool:
        return self.embedding is None

    @property
    def vector(self) -> InstrumentedAttribute[Any]:
        owner: Any = self.document if self.embedding is None else self.embedding
        attribute: InstrumentedAttribute[Any] = owner.embedding
        return attribute

    @property
    def has_model_name(self) -> bool:
        return self.embedding is not None and _present(self.embedding, "model_name")

    @property
    def precision(self) -> str:
        """How the embeddings are stored: ``float32`` (``Vector``) or ``half`` (``HalfVector``)."""
        return precision_of(self.vector.type) or "float32"

    @property
    def has_metadata(self) -> bool:
        return _present(self.document, "metadata_")

    @property
    def has_created_at(self) -> bool:
        return _present(self.document, "created_at")

    @property
    def generated_ids(self) -> bool:
        """Document ids come from the database (integer keys) when not given."""
        column = _column(self.document, "id")
        return isinstance(column.type, Integer) and (column.default is None or _is_sequence(column.default))

    @property
    def id_type(self) -> Optional[type]:
        """The Python type of document ids: ``int`` for integer keys, else ``str`` or ``uuid.UUID`` as the key reads.

        None for a key of any other type: its ids go to the database unchecked.
        """
        return _key_type(_column(self.document, "id"))

    def new_ids(self, count: int) -> List[Any]:
        """``count`` new document ids of the key's type (see ``_new_keys``)."""
        return _new_keys(_column(self.document, "id"), count)

    @property
    def embedding_ids(self) -> bool:
        """Embedding ids are made here (UUID strings); otherwise the database makes them."""
        assert self.embedding is not None
        column = _column(self.embedding, "id")
        return not isinstance(column.type, Integer)

    @classmethod
    def resolve(
        cls,
        document_model: Optional[type],
        embedding_model: Optional[type],
        dimension: Optional[int],
        distributed: bool = False,
        precision: Optional[str] = None,
        id_type: Optional[type] = None,
    ) -> "_Models":
        if precision is not None:
            try:
                precision_type(precision, 1, "precision")
            except InvalidArgumentError as err:
                raise ModelConfigurationError(str(err)) from None
        if id_type is not None and id_type not in (str, uuid.UUID, int):
            raise ModelConfigurationError(
                f"id_type must be str (UUID strings, and any string given), uuid.UUID (UUID values) or int "
                f"(database-generated), got {id_type!r}"
            )
        if document_model is None and embedding_model is None:
            dim = DEFAULT_DIMENSION if dimension is None else dimension
            document, embedding = _default_models(dim, distributed, precision or "float32", id_type or str)
            return cls(document, embedding, dim, create_tables=True)
        if id_type is not None:
            raise ModelConfigurationError(
                f"id_type={getattr(id_type, '__name__', id_type)} applies to the default models only; leave it out "
                "when passing models (their key is read from the documents' id column)"
            )
        if document_model is None:
            raise ModelConfigurationError(
                f"embedding_model={embedding_model.__name__} needs document_model= too, "  # type: ignore[union-attr]
                "the class its document_id refers to"
            )
        for attribute in ("id", "content", "metadata_"):
            _require(document_model, attribute, "document_model")
        if embedding_model is None:
            if not hasattr(document_model, "embedding"):
                raise ModelConfigurationError(
                    f"document_model={document_model.__name__} has no 'embedding' attribute; pass embedding_model= "
                    "(a class built from EmbeddingMixin) or build the document from EmbeddedDocumentMixin"
                )
            vector = _require(document_model, "embedding", "document_model")
        else:
            for attribute in ("document_id", "embedding"):
                _require(embedding_model, attribute, "embedding_model")
            vector = _require(embedding_model, "embedding", "embedding_model")
            _check_pair(document_model, embedding_model)
        for model in (document_model, embedding_model):
            _refuse_single_table_subclass(model)
        found_precision = precision_of(vector.type)
        owner = (embedding_model or document_model).__name__
        if found_precision is None:
            raise ModelConfigurationError(
                f"{owner}.embedding must be a Vector(dim) column (or HalfVector(dim)), got {vector.type!r}; "
                "declare it with sqlalchemy_vector.Vector"
            )
        if precision is not None and precision != found_precision:
            raise ModelConfigurationError(
                f"precision={precision!r} does not match {owner}.embedding ({vector.type!r} stores {found_precision}); "
                "leave precision= out when passing models (it is read from the embedding column)"
            )
        if dimension is not None and dimension != vector.type.dim:
            raise ModelConfigurationError(
                f"dimension={dimension} does not match {vector.type.described_as}; "
                "leave dimension= out when passing models (it is read from the Vector column)"
            )
        return cls(document_model, embedding_model, vector.type.dim, create_tables=False)


def _check_pair(document_model: type, embedding_model: type) -> None:
    """Refuse embeddings whose ``document_id`` refers to another table than the documents' (their rows would
    point at ids the documents table does not hold, or break the foreign key)."""
    column = _column(embedding_model, "document_id")
    targets = {key.column.table for key in getattr(column, "foreign_keys", ())}
    documents = getattr(document_model, "__table__", None)
    mapper = getattr(document_model, "__mapper__", None)
    tables = set(mapper.tables) if mapper is not None else {documents}  # a joined subclass: its base table's too
    if targets and not targets & tables:
        (target,) = sorted(targets, key=lambda table: table.name)[:1]
        raise ModelConfigurationError(
            f"embedding_model={embedding_model.__name__} refers to table {target.name!r} (its document_id's foreign "
            f"key), not to {getattr(documents, 'name', document_model.__name__)!r} of "
            f"document_model={document_model.__name__}; pass the document model it refers to "
            "(its __document_model__), or an embedding model of this one"
        )


def _refuse_single_table_subclass(model: Optional[type]) -> None:
    """A single-table subclass shares its table with its base: the facade would write the base's rows and read
    either the subclass's or all of them."""
    mapper = getattr(model, "__mapper__", None)
    if model is None or mapper is None or mapper.inherits is None or not mapper.single:
        return
    raise ModelConfigurationError(
        f"{model.__name__} is a single-table subclass of {mapper.inherits.class_.__name__} (one table, told apart "
        f"by {getattr(mapper.polymorphic_on, 'name', 'its discriminator')}), which the facade cannot keep apart: "
        f"pass {mapper.inherits.class_.__name__} and filter by the discriminator in a query of your own, or give "
        f"{model.__name__} a table of its own"
    )


def _require(model: type, attribute: str, argument: str) -> Any:
    if not isinstance(model, type):
        raise ModelConfigurationError(f"{argument} must be a mapped class, got {model!r}")
    try:
        return _column(model, attribute)
    except (AttributeError, IndexError, TypeError):
        raise ModelConfigurationError(
            f"{argument}={model.__name__} has no mapped column attribute {attribute!r}; build the class from "
            "sqlalchemy_vector.orm's mixins, or map a column under that attribute name"
        ) from None


def _column(model: type, attribute: str) -> Any:
    """The table column behind a mapped attribute (its key may differ from the attribute name)."""
    return getattr(model, attribute).property.columns[0]


def _present(model: type, attribute: str) -> bool:
    """Whether ``attribute`` maps a column of the table (optional ones may be declared absent, see orm)."""
    try:
        return isinstance(_column(model, attribute), Column)
    except (AttributeError, IndexError, TypeError):
        return False


def _is_sequence(default: Any) -> bool:
    return bool(getattr(default, "is_sequence", False))


def _key_type(column: Column[Any]) -> Optional[type]:
    """The Python type of a key column's values: ``int``, ``str`` or ``uuid.UUID``; None for any other."""
    if isinstance(column.type, Integer):
        return int
    try:
        python_type = column.type.python_type
    except NotImplementedError:
        return None
    return python_type if python_type is str or python_type is uuid.UUID else None


#: How a UUID key is stored where the database has no UUID type (SQLAlchemy's ``Uuid``: ``CHAR(32)``).
_UUID_HEX = re.compile(r"[0-9a-fA-F]{32}")


def _key_kind(value: Any, reflected: Any) -> Optional[str]:
    """What a stored key is (``int``, ``uuid``: a native UUID, or ``text``), from its value as the driver gives it,
    else (an empty table) its column's type; None when neither says."""
    if value is not None:
        if isinstance(value, uuid.UUID):
            return "uuid"
        if isinstance(value, int) and not isinstance(value, bool):
            return "int"
        return "text"
    if isinstance(reflected, Integer):
        return "int"
    if isinstance(reflected, Uuid):
        return "uuid"
    return None if reflected is None else "text"


def _reflected_types(inspector: Any, table_name: str, schema: Optional[str] = None) -> Dict[str, Any]:
    """The database's column types of a table, by column name."""
    from sqlalchemy.exc import SAWarning

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", SAWarning)  # other columns' types the dialect cannot name
        columns = inspector.get_columns(table_name, schema=schema)
    return {c["name"]: c["type"] for c in columns}


def _new_keys(column: Column[Any], count: int) -> List[Any]:
    """``count`` new values of a key made here: ``uuid.UUID`` values for a UUID key (from the key's own Python
    default if it has one), UUID strings for any other key."""
    if _key_type(column) is not uuid.UUID:
        return list(new_ids(count))
    default: Any = column.default
    if default is not None and getattr(default, "is_callable", False):
        # SQLAlchemy wraps a default taking no argument in one taking the execution context.
        return [default.arg(None) for _ in range(count)]
    return [uuid.uuid4() for _ in range(count)]


# -- the shared implementation ------------------------------------------------------------------------


@dataclass
class _Prepared:
    """A validated document, ready to be written."""

    id: Optional[DocumentId]
    content: str
    metadata: Dict[str, Any]
    vector: Optional[FloatArray]
    raw_vector: Any = None  # a precomputed embedding, until its batch is validated
    created_at: Optional[datetime] = None  # kept from elsewhere (an import); None: the time of the write


class _Store:
    """Every database operation of the facades, on a synchronous ORM :class:`Session`."""

    def __init__(self, models: _Models, model_name: str) -> None:
        self.models = models
        self.model_name = model_name
        self.D: Any = models.document
        self.E: Any = models.embedding
        # The vector table's indexes as list_vector_indexes reports them (None: not read yet).
        self.known_indexes: Optional[List[Dict[str, Any]]] = None
        # Statements of unfiltered searches, built once per shape (see search).
        self.ranking_statements: Dict[Tuple[Any, ...], Tuple[Any, Any]] = {}
        self.read_by_key: Any = None
        # Whether this store warned that its deletes may cost its index rows (see warn_after_deletes).
        self.warned_after_deletes = False

    @property
    def vector_table(self) -> Table:
        return (self.D if self.E is None else self.E).__table__  # type: ignore[no-any-return]

    # -- writing

    def insert(self, session: Session, documents: List[_Prepared]) -> List[DocumentId]:
        """Insert documents and their vectors in the session's transaction; return their ids."""
        if not documents:
            return []
        self.begin_write(session)
        connection = session.connection()
        D = self.D
        key = {name: _column(D, name).key for name in ("id", "content")}
        meta = _column(D, "metadata_").key if self.models.has_metadata else None
        if meta is None and any(doc.metadata for doc in documents):
            raise ModelConfigurationError(
                f"{D.__name__} has no metadata column (declared absent in __column_names__), so the metadata "
                "given with these documents cannot be stored; load them without metadata"
            )
        created = _column(D, "created_at").key if self.models.has_created_at else None
        vector = _column(D, "embedding").key if self.models.single_table else None
        now = utcnow()

        def row(doc: _Prepared, with_id: bool) -> Dict[str, Any]:
            values: Dict[str, Any] = {key["content"]: doc.content}
            if meta is not None:
                values[meta] = doc.metadata
            if with_id:
                values[key["id"]] = doc.id
            if created is not None:
                values[created] = now if doc.created_at is None else doc.created_at
            if vector is not None:
                values[vector] = doc.vector
            return values

        if not self.models.generated_ids:
            missing = [doc for doc in documents if doc.id is None]
            for doc, value in zip(missing, self.models.new_ids(len(missing))):
                doc.id = value
        ids: List[DocumentId] = [doc.id for doc in documents]
        generated = [i for i, doc in enumerate(documents) if doc.id is None]
        given = [i for i, doc in enumerate(documents) if doc.id is not None]
        if given and not backend_for(connection.dialect).capabilities.unique_keys:
            self._refuse_stored(connection, [ids[i] for i in given])
        if given:
            _bulk_insert(connection, D.__table__, [row(documents[i], True) for i in given])
        if generated:
            # Database-generated keys, in the order of the rows (INSERT ... RETURNING).
            statement = insert(D.__table__).returning(_column(D, "id"), sort_by_parameter_order=True)
            keys = connection.execute(statement, [row(documents[i], False) for i in generated]).scalars().all()
            for index, value in zip(generated, keys):
                ids[index] = value
        if not self.models.single_table:
            self._insert_vectors(session, [(ids[i], doc.vector) for i, doc in enumerate(documents) if doc.vector is not None])
        _note_write(session, self)
        return ids

    def _refuse_stored(self, connection: Connection, ids: List[DocumentId]) -> None:
        """Refuse ids already stored, where the database keeps no unique key that would (before any write)."""
        column = _column(self.D, "id")
        stored: Set[Any] = set()
        for chunk in _chunks(ids):
            stored.update(connection.execute(select(column).where(column.in_(list(chunk)))).scalars())
        if stored:
            first = next(value for value in ids if value in stored)
            raise InvalidDocumentError(
                f"document_id {first!r:.60} is stored already"
                + (f" (and {len(stored) - 1} more of the ids given)" if len(stored) > 1 else "")
                + f"; {connection.dialect.name} keeps no unique key on {column.table.name}.{column.name}, so the "
                "facade refuses it before writing: change the stored one with update_document(), delete it first, "
                "or leave document_id out for a generated id"
            )

    def _insert_vectors(self, session: Session, pairs: Sequence[Tuple[DocumentId, FloatArray]]) -> None:
        if not pairs:
            return
        E = self.E
        document_key = _column(E, "document_id").key
        vector_key = _column(E, "embedding").key
        model_key = _column(E, "model_name").key if self.models.has_model_name else None
        id_key = _column(E, "id").key if self.models.embedding_ids else None
        rows = [{document_key: document_id, vector_key: vector} for document_id, vector in pairs]
        if model_key is not None:
            for values in rows:
                values[model_key] = self.model_name
        if id_key is not None:
            for values, value in zip(rows, _new_keys(_column(E, "id"), len(rows))):
                values[id_key] = value
        _bulk_insert(session.connection(), E.__table__, rows)

    def begin_write(self, session: Session) -> None:
        """Begin the session's transaction as a write (see ``Backend.begin_write``); nothing once it has begun."""
        connection = session.connection()
        backend_for(connection.dialect).begin_write(connection)

    def lock_writers(self, session: Session) -> None:
        """Wait for the other writers of the documents that take this lock, and hold it until the transaction ends.

        Taken first by writes that read what they change (an update, a
        delete), as the command line's ingest does: two of them at once on the
        same document deadlocked, failed on a write conflict or, with a delete
        and a load of the same id between, left two embeddings.
        """
        connection = session.connection()
        backend_for(connection.dialect).lock_writers(connection, self.D.__table__)

    def current_content(self, session: Session, document_id: DocumentId) -> Optional[str]:
        """The stored content, or None when the document does not exist."""
        row = session.execute(select(self.D.content).where(self.D.id == document_id)).first()
        return None if row is None else row[0]

    def update(
        self,
        session: Session,
        document_id: DocumentId,
        content: Optional[str],
        metadata: Optional[Dict[str, Any]],
        vector: Optional[FloatArray],
    ) -> None:
        """Write new content and/or metadata; with a vector, replace the document's embeddings by it."""
        D = self.D
        values: Dict[Any, Any] = {}
        if content is not None:
            values[D.content] = content
        if metadata is not None and not self.models.has_metadata:
            raise ModelConfigurationError(
                f"update_document({document_id!r}, metadata=...): {D.__name__} has no metadata column "
                "(declared absent in __column_names__); update content only"
            )
        if metadata is not None:
            values[D.metadata_] = metadata
        if vector is not None and self.models.single_table:
            values[D.embedding] = vector
        if values:
            session.execute(
                update(D).where(D.id == document_id).values(values), execution_options={"synchronize_session": False}
            )
        if content is not None:
            _note_write(session, self)
        if vector is not None and not self.models.single_table:
            # The old vectors (of every model) described the old content.
            session.execute(
                delete(self.E).where(self.E.document_id == document_id), execution_options={"synchronize_session": False}
            )
            self._insert_vectors(session, [(document_id, vector)])
        if vector is not None:
            self.warn_after_deletes(session)

    def warn_after_deletes(self, session: Session) -> None:
        """Warn, once per store, that vectors were deleted from a table whose index may then lose live rows.

        Only where the backend says its index does (``Capabilities.index_after_deletes``) and the table has one.
        """
        reason = backend_for(session.get_bind().dialect).capabilities.index_after_deletes
        if self.warned_after_deletes or reason is None:
            return
        names = [found["name"] for found in self.catalog(session)]
        if not names:
            return
        self.warned_after_deletes = True
        warnings.warn(
            IndexMaintenanceWarning(
                f"{self.vector_table.name}: vectors were deleted while the vector index {', '.join(names)} exists; "
                f"{reason}. After a batch of updates or deletes, build it again: rebuild_index({names[0]!r}); see "
                "'After deletes and updates' in docs/indexes.md"
            ),
            stacklevel=2,
        )

    def delete(self, session: Session, ids: Optional[Sequence[DocumentId]], where: Optional[ColumnElement[bool]]) -> int:
        """Delete matching documents and their embeddings; return how many documents."""
        self.lock_writers(session)
        D = self.D
        conditions: List[Optional[ColumnElement[bool]]] = (
            [where] if ids is None else [and_(D.id.in_(chunk), *([where] if where is not None else [])) for chunk in _chunks(ids)]
        )
        capabilities = backend_for(session.get_bind().dialect).capabilities
        deleted = 0
        for condition in conditions:
            matching = select(D.id) if condition is None else select(D.id).where(condition)
            if not self.models.single_table:
                session.execute(
                    delete(self.E).where(self.E.document_id.in_(matching)),
                    execution_options={"synchronize_session": False},
                )
            statement = delete(D) if condition is None else delete(D).where(condition)
            if not self.models.single_table and capabilities.foreign_keys:
                # A document a load committed between the two statements (PostgreSQL reads each statement's rows
                # anew) matches now and has its embeddings: it stays, where deleting it failed on the foreign key.
                statement = statement.where(~exists().where(self.E.document_id == D.id))
            if not capabilities.delete_returning:
                # No RETURNING (ClickHouse): count, then delete; with no transactions the two are not atomic.
                deleted += session.execute(select(func.count()).select_from(matching.subquery())).scalar_one()
                session.execute(statement, execution_options={"synchronize_session": False})
                continue
            # RETURNING counts on every backend (DuckDB reports rowcount -1).
            deleted += len(
                session.execute(statement.returning(D.id), execution_options={"synchronize_session": False}).all()
            )
        if deleted:
            _note_write(session, self)
            self.warn_after_deletes(session)
        return deleted

    # -- reading

    def get(self, session: Session, ids: Sequence[DocumentId]) -> List[Result]:
        D = self.D
        created = [D.created_at] if self.models.has_created_at else []
        found: Dict[Any, Result] = {}
        for chunk in _chunks(ids):
            for row in session.execute(select(D.id, D.content, D.metadata_, *created).where(D.id.in_(chunk))):
                found[row[0]] = {
                    "document_id": row[0],
                    "content": row[1],
                    "metadata": row[2] if row[2] is not None else {},
                    "created_at": row[3] if created else None,
                }
        return [dict(found[i]) for i in ids if i in found]

    def anchor(self, session: Session, document_id: DocumentId) -> Tuple[Optional[FloatArray], int]:
        """The stored vector of a document (this model's) and how many it has; raises if it does not exist.

        The vector is None for a document without one, and the mean of its
        vectors for a document with several (chunks): any one of them would be
        whichever the database returns first, which differs by backend.
        """
        if self.current_content(session, document_id) is None:
            raise DocumentNotFoundError(
                f"document {document_id!r} is not in table {self.D.__table__.name!r}; "
                "load it first, or check the id"
            )
        vector = self.models.vector
        statement = select(vector).where(vector.is_not(None))
        if self.models.single_table:
            statement = statement.where(self.D.id == document_id)
        else:
            statement = statement.where(self.E.document_id == document_id)
            if self.models.has_model_name:
                statement = statement.where(self.E.model_name == self.model_name)
        vectors = sorted(session.execute(statement).scalars(), key=lambda vector: tuple(vector.tolist()))
        if len(vectors) <= 1:
            return (vectors[0] if vectors else None), len(vectors)
        return np.stack(vectors).astype(np.float64).mean(axis=0).astype(np.float32), len(vectors)

    def search(self, session: Session, *args: Any, **kwargs: Any) -> List[Result]:
        """:meth:`_search`, run again without an index another connection dropped since this store read the catalog.

        Where the index is a table the ranking names (sqlite-vec's ``vec0``), a
        drop by another facade, the CLI, a migration or another process made every
        later search of this store fail; elsewhere the name is only a hint.
        """
        # The catalog this search ranks by: another thread's create_index or delete_index on this
        # store replaces the shared one meanwhile, and the check below must compare this one.
        known = self.catalog(session)
        try:
            return self._search(session, *args, catalog=known, **kwargs)
        except DBAPIError:
            if not self._index_went_away(session, known):
                raise
        return self._search(session, *args, catalog=self.catalog(session), **kwargs)

    def _index_went_away(self, session: Session, known: List[Dict[str, Any]]) -> bool:
        """Whether an index of ``known`` is gone from the database (the catalog is read again)."""
        if not known or not backend_for(session.connection().dialect).capabilities.index_is_table:
            return False
        current = self.indexes(session)
        self.known_indexes = current
        self.ranking_statements.clear()
        return bool({found["name"] for found in known} - {found["name"] for found in current})

    def _search(
        self,
        session: Session,
        vector: FloatArray,
        top_k: int,
        threshold: Optional[float],
        function: str,
        where: Optional[ColumnElement[bool]],
        exclude: Optional[DocumentId] = None,
        *,
        catalog: List[Dict[str, Any]],
    ) -> List[Result]:
        """The ``top_k`` documents nearest to ``vector``, one result per document.

        Ranks on the vector table alone, in the statement shape its index
        serves (the same :class:`~sqlalchemy_vector.search.TopK` path as
        :func:`~sqlalchemy_vector.knn`), then reads the winning documents by key.
        The statements run on the session's connection (Core rows, no ORM
        loading); those of an unfiltered search are built once per shape and
        reused, the query vector a bound parameter.
        """
        models = self.models
        metric = SIMILARITY_FUNCTIONS[function]
        if metric == "cosine" and not vector.any():
            raise InvalidVectorError(
                f"the query vector for {models.vector.type.described_as} is all zeros, which has no direction "
                "under cosine; use similarity_function='euclidean' or 'inner_product', or check the embedding input"
            )
        connection = session.connection()
        dialect = connection.dialect
        backend = backend_for(dialect)
        owner = self.D if models.single_table else self.E
        key: Any = _column(owner, "id" if models.single_table else "document_id")
        filters: List[ColumnElement[bool]] = []
        if where is not None:
            filters.append(where if models.single_table else self.E.document_id.in_(select(self.D.id).where(where)))
        if exclude is not None:
            filters.append(key != exclude)
        index_name = _index_serving(catalog, metric, _column(owner, "embedding").name)
        bound = _distance_bound(function, threshold)
        reusable = not filters and bound is None
        parameters = {_QUERY_VECTOR: vector}

        def ranked_rows(limit: int, with_model: bool, model_after: bool) -> List[Any]:
            shape = (dialect, metric, limit, with_model, model_after, index_name)
            statements = self.ranking_statements.get(shape) if reusable else None
            if statements is None:
                statements = self._ranking_statements(
                    backend, dialect, metric, limit, with_model, model_after, index_name, filters, bound
                )
                if reusable:
                    if len(self.ranking_statements) >= _STATEMENT_CACHE_SIZE:
                        self.ranking_statements.clear()
                    self.ranking_statements[shape] = statements
            statement, exact = statements
            rows = run_top_k(
                connection,
                backend,
                statement,
                limit,
                filtered=where is not None or exclude is not None,
                exact=exact,
                parameters=parameters,
            )
            return _in_order(rows)

        def normalized(rows: List[Any], limit: int, model_after: bool) -> List[Tuple[Any, ...]]:
            # (id, content, metadata, distance, model): documents ranked or joined in, or read below by key.
            joined = self._content_path(backend, limit) != "by key"
            out = []
            for row in rows:
                model = row[-2] if model_after else None
                if joined:
                    out.append((row[0], row[1], row[2], row[-1], model))
                else:
                    out.append((row[0], _UNREAD, None, row[-1], model))
            return out

        ranked: Dict[Any, Tuple[Any, ...]] = {}
        first: List[Tuple[Any, ...]] = []
        if models.has_model_name:
            # Most tables hold one model: rank without the model filter (a filter the index
            # cannot apply inside its search, e.g. vec0's key list), keep this model's rows.
            # The nearest rows of this model are among the nearest rows of all models.
            first = normalized(ranked_rows(top_k, with_model=False, model_after=True), top_k, True)
            for row in first:
                if row[4] == self.model_name and row[0] not in ranked and row[3] is not None:
                    ranked[row[0]] = row
            if len(ranked) < top_k and len(first) == top_k:
                # The limit cut the ranking and other models (or chunks) took places: filter inside.
                # (Fewer rows than the limit means every matching row came back: nothing is hidden.)
                ranked = {}
        if not ranked and not (models.has_model_name and len(first) < top_k):
            limit = top_k
            while True:
                rows = normalized(ranked_rows(limit, with_model=models.has_model_name, model_after=False), limit, False)
                for row in rows:
                    if row[0] not in ranked and row[3] is not None:
                        ranked[row[0]] = row
                # Several embeddings of one document (chunks) can fill the limit: widen it.
                if len(ranked) >= top_k or len(rows) < limit or models.single_table:
                    break
                limit *= 4
        if not ranked and any(row[4] != self.model_name and row[3] is not None for row in first):
            self.refuse_other_models(session)  # only other models' vectors ranked: does this one have any?
        winners = list(ranked.values())[:top_k]
        if any(row[1] is _UNREAD for row in winners):
            if self.read_by_key is None:
                D = self.D
                document_id = _column(D, "id")
                self.read_by_key = select(document_id, _column(D, "content"), _column(D, "metadata_")).where(
                    document_id.in_(bindparam(_DOCUMENT_IDS, expanding=True))
                )
            unread = [row[0] for row in winners if row[1] is _UNREAD]
            documents: Dict[Any, Any] = {}
            for chunk in _chunks(unread):  # a large top_k: IN lists the statement-size limits allow
                documents.update((row[0], row) for row in connection.execute(self.read_by_key, {_DOCUMENT_IDS: list(chunk)}))
            winners = [
                row if row[1] is not _UNREAD else (row[0], documents[row[0]][1], documents[row[0]][2], row[3])
                for row in winners
                if row[1] is not _UNREAD or row[0] in documents
            ]
        results = [_result(row, function) for row in winners]
        if threshold is not None:
            results = [r for r in results if r["similarity"] >= threshold]
        return results

    def models_instead(self, bind: Union[Session, Connection], limit: Optional[int] = None) -> List[str]:
        """The models whose vectors the vector table holds where it holds none of this model's, sorted; else [].

        (At most ``limit`` of them; [] too for tables that record no model.)
        """
        if not self.models.has_model_name:
            return []
        column = self.E.model_name
        stored = select(column).where(self.models.vector.is_not(None))
        if bind.execute(stored.where(column == self.model_name).limit(1)).first() is not None:
            return []
        others = stored.where(column != self.model_name).distinct()
        return sorted(map(str, bind.execute(others if limit is None else others.limit(limit)).scalars()))

    def refuse_other_models(self, session: Session) -> None:
        """Raise where the vector table holds vectors of other models and none of this one.

        Searched with an embedder whose vectors it does not hold (another model,
        or the same one under another ``model_name``), such a table answered
        every query with nothing, as if no document matched.  Run only where a
        search or a lookup found nothing of this model.
        """
        others = self.models_instead(session, limit=4)
        if not others:
            return
        E = self.E
        table = E.__table__.name
        named = ", ".join(map(repr, others[:3])) + (" and others" if len(others) > 3 else "")
        raise ModelConfigurationError(
            f"{table}.{_column(E, 'embedding').name} holds no vectors of the embedder's model {self.model_name!r}, "
            f"only vectors of {named}: searching them with this embedder finds nothing. Open the facade with the "
            f"embedder that made them (model_name {others[0]!r}; if it is the same model under another name, give "
            "the embedder that model_name), or store this model's vectors first (load the documents again with it)"
        )

    def _ranking_statements(
        self,
        backend: Any,
        dialect: Any,
        metric: str,
        limit: int,
        with_model: bool,
        model_after: bool,
        index_name: Optional[str],
        filters: List[ColumnElement[bool]],
        bound: Optional[float],
    ) -> Tuple[Any, Any]:
        """The ranking statement and, where an index serves it, a function building its exact fallback once.

        The query vector is the bind parameter ``query_vector``.
        """
        owner = self.D if self.models.single_table else self.E
        column = _column(owner, "embedding")
        key = _column(owner, "id" if self.models.single_table else "document_id")
        path = self._content_path(backend, limit)
        selected = [key]
        if path == "ranked":
            selected += [_column(owner, "content"), _column(owner, "metadata_")]
        request_filters = list(filters)
        model: Any = _column(self.E, "model_name") if self.models.has_model_name else None
        if with_model:
            request_filters.append(model == self.model_name)
        request = TopK(
            column=column,
            vector=np.zeros(0, dtype=np.float32),  # unused: the query is the bindparam
            query=bindparam(_QUERY_VECTOR, type_=column.type),
            k=limit,
            metric=metric,
            filters=request_filters,
            selected=[*selected, model] if model_after else selected,
            target=owner.__table__,
            index_name=index_name,
            dialect=dialect,
            max_distance=bound,
            # Equal distances in key order, as on every backend; in the index's shape only where no index
            # serves the ranking (a second sort key would keep one from it).
            tiebreak=[key],
            tiebreak_indexed=index_name is None,
        )
        statement = self._ranking(backend.top_k_select(request), path, model_after)
        if index_name is None:
            return statement, None
        exact = dataclasses.replace(request, exact=True)
        return statement, functools.lru_cache(maxsize=None)(
            lambda: self._ranking(backend.top_k_select(exact), path, model_after)
        )

    def _content_path(self, backend: Any, limit: int) -> _ContentPath:
        """How a ranking of ``limit`` rows gets its documents' content and metadata.

        ``"ranked"``: the ranking selects them, on one-table models where the
        backend reads the other columns of the top rows only
        (``Capabilities.reads_columns_late``).  ``"joined"``: the ranking as a
        subquery joined to the documents, where that join reads them by key
        (``Capabilities.join_reads_by_key``).  ``"by key"``: a second
        statement reads them by key (a join there would read every document).
        """
        capabilities = backend.capabilities
        if self.models.single_table and capabilities.reads_columns_late(limit):
            return "ranked"
        return "joined" if capabilities.join_reads_by_key(limit) else "by key"

    def _ranking(self, ranking: Any, path: _ContentPath, model_after: bool) -> Any:
        """The statement run for a ranking, distance last, by its :meth:`_content_path`.

        Joined: the ranking as a subquery in the index's shape, joined to the
        documents, ``(id, content, metadata[, model], distance)``.  Otherwise
        the ranking itself: ``(id, content, metadata, distance)`` where it
        selects them, ``(key[, model], distance)`` where the documents are read
        by key afterwards.
        """
        if path != "joined":
            return ranking
        D = self.D
        hits = ranking.subquery("hits")
        key, distance = hits.c[0], hits.c[len(hits.c) - 1]
        model = [hits.c[1]] if model_after else []
        document_id = _column(D, "id")
        # No ORDER BY: the k rows are sorted in Python (_in_order), as rankings of the other paths
        # are, which spares DuckDB's planner a sort operator on every search.
        return (
            select(document_id, _column(D, "content"), _column(D, "metadata_"), *model, distance)
            .select_from(hits)
            .join(D.__table__, document_id == key)
        )

    def catalog(self, session: Session) -> List[Dict[str, Any]]:
        """The vector indexes of the vector table (cached until this store changes them or finds one gone)."""
        known = self.known_indexes
        if known is None:
            known = self.known_indexes = self.indexes(session)
        return known

    def indexes(self, session: Session) -> List[Dict[str, Any]]:
        from ..index import list_vector_indexes

        table = self.vector_table
        return list_vector_indexes(session, table.name, schema=table.schema)

    def create_index(self, session: Session, name: str, metric: str, options: Dict[str, Any]) -> None:
        from ..index import VectorIndex, create_vector_index

        index = VectorIndex(name, self.detached_vector_column(), metric=metric, **options)
        if any(found["name"] == name for found in self.indexes(session)):
            raise self.index_exists(name)
        create_vector_index(session, index)
        self.known_indexes = None

    def index_exists(self, name: str) -> VectorIndexError:
        return VectorIndexError(
            f"create_index({name!r}): {self.vector_table.name} has a vector index named {name!r} already; "
            f"drop it first (delete_index({name!r})) or choose another name"
        )

    def drop_index(self, session: Session, name: str) -> bool:
        from ..index import drop_vector_index

        if not any(index["name"] == name for index in self.indexes(session)):
            return False
        # Found just now: if_exists spares drop_vector_index reading the catalog again to refuse a missing one.
        table = self.vector_table
        drop_vector_index(session, name, schema=table.schema, if_exists=True, table_name=table.name)
        self.known_indexes = None
        return True

    def detached_vector_column(self) -> Column[Any]:
        """The vector column on a copy of its table, for declaring an index on it.

        An index declared on the mapped Table would join it, and that Table is
        shared by every facade using the same models.
        """
        table = self.vector_table.to_metadata(MetaData())
        return table.c[_column(self.D if self.E is None else self.E, "embedding").key]  # type: ignore[no-any-return]

    def rebuild_index(self, session: Session, name: str, options: Dict[str, Any]) -> None:
        """Build the vector index ``name`` again (:func:`~sqlalchemy_vector.rebuild_vector_index`), declared as the
        catalog reports it, ``options`` replacing its own."""
        from ..index import INDEX_METHODS, VectorIndex, _rebuild_found_index

        table = self.vector_table
        found = self.indexes(session)
        index = next((entry for entry in found if entry["name"] == name), None)
        if index is None:
            existing = ", ".join(entry["name"] for entry in found) or "none"
            raise VectorIndexError(
                f"rebuild_index({name!r}): {table.name} has no vector index named {name!r} (existing ones: "
                f"{existing}); build it with create_index({name!r}, ...)"
            )
        if index["quantization"] is not None or index["metric"] is None:
            raise VectorIndexError(
                f"rebuild_index({name!r}): the index is over a {index['quantization'] or 'compact'} form of "
                f"{table.name}.{index['column']}, which the facade neither builds nor searches; drop it and declare "
                "it again with VectorIndex(..., quantization=...) (drop_vector_index, create_vector_index)"
            )
        declared: Dict[str, Any] = {
            # A method the backend builds whatever is declared (vec0) is declared as the default.
            "method": index["method"] if index["method"] in INDEX_METHODS else INDEX_METHODS[0],
            **index["options"],
            **backend_for(session.get_bind().dialect).reflected_index_kwargs(index),
            **options,
        }
        rebuilt = VectorIndex(name, self.detached_vector_column(), metric=index["metric"], **declared)
        self.known_indexes = None
        _rebuild_found_index(session, rebuilt)  # found above, in the same transaction

    def filtered(self, session: Session, where: Optional[ColumnElement[bool]], top_k: int) -> List[Result]:
        """Documents matching ``where`` without ranking (oldest first); distance and similarity are None."""
        D = self.D
        statement = select(D.id, D.content, D.metadata_)
        if where is not None:
            statement = statement.where(where)
        order = [D.created_at, D.id] if self.models.has_created_at else [D.id]
        return [
            {"document_id": r[0], "content": r[1], "metadata": r[2] if r[2] is not None else {}, "distance": None, "similarity": None}
            for r in session.execute(statement.order_by(*order).limit(top_k))
        ]

    def statistics(self, session: Session) -> Dict[str, Any]:
        # Every count in one statement: counts read by two would disagree when a write commits between them.
        D, models = self.D, self.models
        document_count = select(func.count()).select_from(D).scalar_subquery()
        if models.single_table:
            documents, count = session.execute(select(func.count(), func.count(models.vector)).select_from(D)).one()
            by_model = {self.model_name: count} if count else {}
        elif models.has_model_name:
            rows = session.execute(
                select(self.E.model_name, func.count(), document_count).group_by(self.E.model_name)
            ).all()
            by_model = {row[0]: row[1] for row in rows}
            count = sum(by_model.values())
            # No embeddings, no row: the documents are counted alone.
            documents = rows[0][2] if rows else session.execute(select(document_count)).scalar_one()
        else:
            documents, count = session.execute(select(document_count, func.count()).select_from(self.E)).one()
            by_model = {self.model_name: count} if count else {}
        return {
            "backend": session.get_bind().dialect.name,
            "document_count": int(documents),
            "embedding_count": int(count),
            "dimension": models.dimension,
            "embedding_model": self.model_name,
            "models": {str(k): int(v) for k, v in sorted(by_model.items())},
            "tables": {
                "documents": D.__table__.name,
                "embeddings": None if models.single_table else self.E.__table__.name,
            },
            "indexes": self.indexes(session),
        }


def _bulk_insert(connection: Any, table: Any, rows: List[Dict[str, Any]]) -> int:
    """Write rows through the backend's bulk path (COPY, Arrow, executemany) in the caller's transaction."""
    from ..bulk import bulk_insert

    return bulk_insert(connection, table, rows)


def _chunks(items: Sequence[_T], size: int = _ID_CHUNK) -> Iterator[Sequence[_T]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


def _distance_bound(function: str, threshold: Optional[float]) -> Optional[float]:
    """``similarity >= threshold`` as ``distance <= bound`` (None: every row qualifies).

    On the distance, the condition also works with vector indexes, and a zero
    vector's NaN cosine distance on PostgreSQL compares as excluded.
    """
    if threshold is None:
        return None
    threshold = float(threshold)  # a numpy scalar would reach the driver as one
    metric = SIMILARITY_FUNCTIONS[function]
    if metric == "cosine":
        return None if threshold <= -1.0 else 1.0 - threshold
    if metric in ("l2", "l1"):
        return None if threshold <= 0.0 else 1.0 / threshold - 1.0
    return -threshold


def _similarity(function: str, distance: float) -> float:
    metric = SIMILARITY_FUNCTIONS[function]
    if metric == "cosine":
        return 1.0 - distance
    if metric in ("l2", "l1"):
        return 1.0 / (1.0 + distance)
    return -distance


def _in_order(rows: List[Any]) -> List[Any]:
    """Ranking rows ``(key, ..., distance)`` nearest first, equal distances in key order.

    Whichever rows an index chose, those it returned come back in the same
    order on every backend: Python's key order (code point order for
    strings, as SQLite, DuckDB and ClickHouse sort them).
    """
    return sorted(rows, key=lambda row: (row[-1] is None, row[-1] if row[-1] is not None else 0.0, row[0]))


def _result(row: Any, function: str) -> Result:
    distance = float(row[3])
    if SIMILARITY_FUNCTIONS[function] == "max_inner_product" and distance == 0.0:
        distance = 0.0  # not -0.0
    return {
        "document_id": row[0],
        "content": row[1],
        "metadata": row[2] if row[2] is not None else {},
        "distance": distance,
        "similarity": _similarity(function, distance),
    }


def _index_serving(catalog: List[Dict[str, Any]], metric: str, column_name: str) -> Optional[str]:
    """The name of an index of ``catalog`` on ``column_name`` serving ``metric``, if there is one."""
    for found in catalog:
        if found["metric"] == metric and found["column"] == column_name:
            return str(found["name"])
    return None


# -- full-text and hybrid search (helpers of the facades' methods) ------------------------------------


def _content_column(store: _Store) -> Any:
    return _column(store.D, "content")


def _create_fulltext(session: Session, store: _Store, index_name: Optional[str], language: str) -> None:
    from ..fulltext import FullTextSpec, create_fulltext_index, list_fulltext_indexes

    table = store.D.__table__
    name = index_name or f"{table.name}_content_fts"
    spec = FullTextSpec(name, table, table.c[_content_column(store).name], language)
    if any(found["name"] == name for found in list_fulltext_indexes(session, table)):
        raise VectorIndexError(
            f"create_fulltext_index({name!r}): {table.name} has a full-text index named {name!r} already; "
            "drop it first (sqlalchemy_vector.drop_fulltext_index) or choose another name"
        )
    create_fulltext_index(session, spec)


def _fresh_fulltext(session: Session, store: _Store, alone: bool = False) -> Any:
    """The documents' full-text index, rebuilt first where it does not follow writes and is stale.

    ``alone``: after the writers' lock (a rebuild another connection made at the same time failed this one).
    """
    from ..fulltext import FullTextSpec, list_fulltext_indexes, refresh_fulltext_index, require_fulltext

    if alone:
        store.lock_writers(session)
    require_fulltext(session.connection().dialect)
    table = store.D.__table__
    column = _content_column(store).name
    found = [i for i in list_fulltext_indexes(session, table) if i["column"] == column]
    if not found:
        raise ModelConfigurationError(
            f"hybrid search needs a full-text index on {table.name}.{column}; build one with "
            "create_fulltext_index() (the ingest command builds it)"
        )
    spec = FullTextSpec(found[0]["name"], table, table.c[column], found[0]["language"])
    # Every facade write logged itself beside the index (_note_write): no need to scan the table.
    refresh_fulltext_index(session, spec, _column(store.D, "id"), scan=False)
    return spec


def _note_write(session: Session, store: _Store) -> None:
    """Count a write to the documents for a full-text index that does not follow writes (DuckDB's)."""
    from ..fulltext import note_fulltext_write

    note_fulltext_write(session, store.D.__table__)


def _hybrid_search(
    session: Session,
    store: _Store,
    spec: Any,
    query_text: str,
    vector: FloatArray,
    top_k: int,
    where: Optional[ColumnElement[bool]],
    weights: Sequence[float],
    rrf_k: Any,
    fetch_k: Any,
    function: str,
    match_all: bool,
) -> List[Result]:
    from ..hybrid import hybrid_rows, hybrid_select

    D, E, models = store.D, store.E, store.models
    vector_where = E.model_name == store.model_name if models.has_model_name else None
    statement = hybrid_select(
        spec.column,
        models.vector,
        query_text,
        vector,
        bind=session,
        index=spec,
        key=_column(D, "id"),
        vector_key=None if models.single_table else E.document_id,
        top_k=top_k,
        fetch_k=fetch_k,
        metric=SIMILARITY_FUNCTIONS[function],
        rrf_k=rrf_k,
        weights=weights,
        where=where,
        vector_where=vector_where,
        match_all=match_all,
    )
    # An arm weighted 0 adds no rows (hybrid_select): with weights (0, w) every row is a text match.
    ranked = list(hybrid_rows(session.execute(statement)))
    if weights[0] and all(row["vector_rank"] is None for row in ranked):
        store.refuse_other_models(session)  # the vector arm found nothing: are the vectors another model's?
    documents: Dict[Any, Any] = {}
    keys = [row["key"] for row in ranked]
    for chunk in _chunks(keys):
        documents.update({r[0]: r for r in session.execute(select(D.id, D.content, D.metadata_).where(D.id.in_(chunk)))})
    results = []
    for row in ranked:
        document = documents.get(row["key"])
        if document is None:
            continue
        distance = row["distance"]
        results.append(
            {
                "document_id": row["key"],
                "content": document[1],
                "metadata": document[2] if document[2] is not None else {},
                "distance": None if distance is None else float(distance),
                "similarity": None if distance is None else _similarity(function, float(distance)),
                "score": float(row["score"]),
                "vector_rank": row["vector_rank"],
                "text_rank": row["text_rank"],
                "text_score": None if row["text_score"] is None else float(row["text_score"]),
            }
        )
    return results


def _mmr_pick(
    session: Session, store: _Store, query: FloatArray, candidates: List[Result], top_k: int, lambda_mult: float
) -> List[Result]:
    """Re-rank ``candidates`` by maximal marginal relevance over their stored vectors.

    A document with several vectors of the model (chunks) takes part by the
    one most similar to the query, the one that ranked it.
    """
    from ..mmr import maximal_marginal_relevance

    models = store.models
    owner = store.D if models.single_table else store.E
    key = store.D.id if models.single_table else store.E.document_id
    vectors: Dict[Any, List[FloatArray]] = {}
    ids = [r["document_id"] for r in candidates]
    for chunk in _chunks(ids):
        statement = select(key, models.vector).where(key.in_(chunk), models.vector.is_not(None))
        if models.has_model_name:
            statement = statement.where(owner.model_name == store.model_name)
        for document_id, vector in session.execute(statement):
            vectors.setdefault(document_id, []).append(vector)
    usable = [r for r in candidates if r["document_id"] in vectors]
    chosen = [_most_similar(query, vectors[r["document_id"]]) for r in usable]
    order = maximal_marginal_relevance(query, chosen, top_k, lambda_mult)
    return [usable[i] for i in order]


def _most_similar(query: FloatArray, vectors: List[FloatArray]) -> FloatArray:
    """Of a document's vectors, the one of largest cosine similarity to ``query``.

    Equal ones go to the smallest vector (element by element), so the order the
    database returned them in does not decide.
    """
    if len(vectors) == 1:
        return vectors[0]
    ordered = sorted(vectors, key=lambda vector: tuple(vector.tolist()))
    matrix = np.stack(ordered).astype(np.float64)
    norms = np.linalg.norm(matrix, axis=1) * float(np.linalg.norm(query.astype(np.float64)))
    cosine = np.divide(matrix @ query.astype(np.float64), norms, out=np.zeros(len(ordered)), where=norms > 0)
    return ordered[int(np.argmax(cosine))]
