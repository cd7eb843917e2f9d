"""A small retrieval facade: load documents with embeddings, then search them by similarity.

:class:`VectorRAG` (synchronous) and :class:`AsyncVectorRAG` (asyncio) share
one implementation: the SQL is built from the ORM models and the public
distance functions, and runs through ORM sessions (the async facade runs the
same methods in a greenlet, so its database I/O is awaited through the asyncio
driver; on a backend without one, in a worker thread of its own).
Embedding happens outside the database code, through the ``embedder``.

Results are dicts with ``document_id``, ``content``, ``metadata``, ``distance``
and ``similarity``:

=======================  ============================  ========================
``similarity_function``  ``distance``                  ``similarity``
=======================  ============================  ========================
``"cosine"``             cosine distance, in [0, 2]    ``1 - distance``
``"euclidean"``          L2 distance                   ``1 / (1 + distance)``
``"inner_product"``      negative dot product          the dot product
=======================  ============================  ========================

Rows are ranked by ascending distance (the order vector indexes serve), one
result per document; ``similarity_threshold`` keeps rows whose similarity is
at least the threshold, inside the SQL, before the limit.  A stored zero vector
has cosine distance 2.0; a zero *query* vector has no direction, so a cosine
search with it raises :class:`~sqlalchemy_vector.exc.InvalidVectorError`, as
:func:`~sqlalchemy_vector.knn` does.

A search ranks the vector table alone, in the shape its vector index serves,
then reads the ``top_k`` winning documents by key.
"""

from __future__ import annotations

import asyncio
import collections.abc as abc
import concurrent.futures
import contextlib
import contextvars
import dataclasses
import datetime
import functools
import math
import numbers
import re
import threading
import time
import uuid
import weakref
from dataclasses import dataclass
from typing import (
    Any,
    Callable,
    Dict,
    Iterable,
    Iterator,
    List,
    Literal,
    Mapping,
    Optional,
    Sequence,
    Set,
    Tuple,
    TypeVar,
    Union,
)

import numpy as np
import numpy.typing as npt
from sqlalchemy import Column, Integer, MetaData, Table, and_, bindparam, delete, func, insert, inspect, select, text, update
from sqlalchemy.engine import URL, Connection, Engine, make_url
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker
from sqlalchemy.util import await_only, greenlet_spawn
from sqlalchemy.orm import InstrumentedAttribute, Session, sessionmaker
from sqlalchemy.sql import ColumnElement
from sqlalchemy.sql.expression import Executable

from .dialects.base import backend_for
from .engine import attach, create_async_engine, create_engine
from .exc import (
    DimensionLimitError,
    DocumentNotFoundError,
    InvalidDocumentError,
    InvalidArgumentError,
    InvalidFilterError,
    InvalidVectorError,
    ModelConfigurationError,
    SchemaMismatchError,
    UnsupportedKindError,
    UnsupportedMetricError,
    VectorIndexError,
)
from .filters import Filter, metadata_filter
from .functions import SIMILARITY_FUNCTIONS
from .orm import INT64_RANGE, check_identifier, make_models, new_ids, utcnow
from .search import MAX_LIMIT, TopK, run_top_k
from .kinds import PRECISIONS, precision_of, precision_type
from .types import flag, has_booleans, positive_integer, real_number, to_float32, whole_number

__all__ = ["VectorRAG", "AsyncVectorRAG", "SIMILARITY_FUNCTIONS", "DEFAULT_DIMENSION"]

#: Embedding size of the default models and embedder when nothing else decides it.
DEFAULT_DIMENSION = 384

_DOCUMENT_KEYS = frozenset({"content", "metadata", "document_id", "embedding"})
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
def _default_models(dimension: int, distributed: bool = False, precision: str = "float32") -> Tuple[type, type]:
    # One pair of classes per dimension, layout and precision, in their own registry: mapping is not free.
    return make_models(dimension, distributed=distributed, precision=precision)


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
        column_type = _column(self.document, "id").type
        if isinstance(column_type, Integer):
            return int
        try:
            python_type = column_type.python_type
        except NotImplementedError:
            return None
        return python_type if python_type is str or python_type is uuid.UUID else None

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
    ) -> "_Models":
        if precision is not None:
            try:
                precision_type(precision, 1, "precision")
            except InvalidArgumentError as err:
                raise ModelConfigurationError(str(err)) from None
        if document_model is None and embedding_model is None:
            dim = DEFAULT_DIMENSION if dimension is None else dimension
            document, embedding = _default_models(dim, distributed, precision or "float32")
            return cls(document, embedding, dim, create_tables=True)
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


# -- the shared implementation ------------------------------------------------------------------------


@dataclass
class _Prepared:
    """A validated document, ready to be written."""

    id: Optional[DocumentId]
    content: str
    metadata: Dict[str, Any]
    vector: Optional[FloatArray]
    raw_vector: Any = None  # a precomputed embedding, until its batch is validated


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

    @property
    def vector_table(self) -> Table:
        return (self.D if self.E is None else self.E).__table__  # type: ignore[no-any-return]

    # -- writing

    def insert(self, session: Session, documents: List[_Prepared]) -> List[DocumentId]:
        """Insert documents and their vectors in the session's transaction; return their ids."""
        if not documents:
            return []
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
                values[created] = now
            if vector is not None:
                values[vector] = doc.vector
            return values

        if not self.models.generated_ids:
            missing = [doc for doc in documents if doc.id is None]
            for doc, value in zip(missing, new_ids(len(missing))):
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
            for values, value in zip(rows, new_ids(len(rows))):
                values[id_key] = value
        _bulk_insert(session.connection(), E.__table__, rows)

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

    def delete(self, session: Session, ids: Optional[Sequence[DocumentId]], where: Optional[ColumnElement[bool]]) -> int:
        """Delete matching documents and their embeddings; return how many documents."""
        D = self.D
        conditions: List[Optional[ColumnElement[bool]]] = (
            [where] if ids is None else [and_(D.id.in_(chunk), *([where] if where is not None else [])) for chunk in _chunks(ids)]
        )
        deleted = 0
        for condition in conditions:
            matching = select(D.id) if condition is None else select(D.id).where(condition)
            if not self.models.single_table:
                session.execute(
                    delete(self.E).where(self.E.document_id.in_(matching)),
                    execution_options={"synchronize_session": False},
                )
            statement = delete(D) if condition is None else delete(D).where(condition)
            if not backend_for(session.get_bind().dialect).capabilities.delete_returning:
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

    def anchor(self, session: Session, document_id: DocumentId) -> Optional[FloatArray]:
        """The stored vector of a document (this model's), None if it has none; raises if it does not exist."""
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
        row = session.execute(statement.limit(1)).first()
        return None if row is None else row[0]

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
        winners = list(ranked.values())[:top_k]
        if any(row[1] is _UNREAD for row in winners):
            if self.read_by_key is None:
                D = self.D
                document_id = _column(D, "id")
                self.read_by_key = select(document_id, _column(D, "content"), _column(D, "metadata_")).where(
                    document_id.in_(bindparam(_DOCUMENT_IDS, expanding=True))
                )
            unread = [row[0] for row in winners if row[1] is _UNREAD]
            documents = {row[0]: row for row in connection.execute(self.read_by_key, {_DOCUMENT_IDS: unread})}
            winners = [
                row if row[1] is not _UNREAD else (row[0], documents[row[0]][1], documents[row[0]][2], row[3])
                for row in winners
                if row[1] is not _UNREAD or row[0] in documents
            ]
        results = [_result(row, function) for row in winners]
        if threshold is not None:
            results = [r for r in results if r["similarity"] >= threshold]
        return results

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
        from .index import list_vector_indexes

        table = self.vector_table
        return list_vector_indexes(session, table.name, schema=table.schema)

    def create_index(self, session: Session, name: str, metric: str, options: Dict[str, Any]) -> None:
        from .index import VectorIndex, create_vector_index

        # Built on a copy of the table, so the mapped Table (shared by every
        # facade using the same models) does not gain an Index.
        table = self.vector_table.to_metadata(MetaData())
        column = table.c[_column(self.D if self.E is None else self.E, "embedding").key]
        index = VectorIndex(name, column, metric=metric, **options)
        if any(found["name"] == name for found in self.indexes(session)):
            raise VectorIndexError(
                f"create_index({name!r}): {table.name} has a vector index named {name!r} already; "
                f"drop it first (delete_index({name!r})) or choose another name"
            )
        create_vector_index(session, index)
        self.known_indexes = None

    def drop_index(self, session: Session, name: str) -> bool:
        from .index import drop_vector_index

        if not any(index["name"] == name for index in self.indexes(session)):
            return False
        # Found just now: if_exists spares drop_vector_index reading the catalog again to refuse a missing one.
        drop_vector_index(session, name, schema=self.vector_table.schema, if_exists=True)
        self.known_indexes = None
        return True

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
    from .bulk import bulk_insert

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


# -- argument checks (shared by both facades) ------------------------------------------------------------


class _Facade:
    """What both facades hold: the models, the embedder and the argument checks."""

    def __init__(
        self,
        document_model: Optional[type],
        embedding_model: Optional[type],
        embedder: Any,
        dimension: Optional[int],
        distributed: bool = False,
        precision: Optional[str] = None,
    ) -> None:
        if dimension is not None:
            checked = whole_number(dimension)
            if checked is None or checked < 1:
                raise ModelConfigurationError(f"dimension must be a positive integer, got {dimension!r}")
            dimension = checked
        if embedder is not None:
            _check_embedder(embedder)
        if dimension is None and embedder is not None and document_model is None:
            dimension = int(embedder.dimension)
        distributed = flag("distributed", distributed)
        self._models = _Models.resolve(document_model, embedding_model, dimension, distributed, precision)
        if embedder is None:
            from .embedding import HashingEmbedder

            embedder = HashingEmbedder(self._models.dimension)
        if int(embedder.dimension) != self._models.dimension:
            raise ModelConfigurationError(
                f"embedder {embedder.model_name!r} makes {embedder.dimension}-dimensional vectors but the "
                f"embeddings are stored in {self._models.vector.type.described_as}; use an embedder of that "
                "dimension, or models (or dimension=) matching the embedder"
            )
        self.embedder = embedder
        self._store = _Store(self._models, str(embedder.model_name))
        self._id_type = self._models.id_type

    @property
    def dimension(self) -> int:
        """The size of the stored embeddings."""
        return self._models.dimension

    @property
    def precision(self) -> str:
        """How the embeddings are stored: ``"float32"`` (``Vector``) or ``"half"`` (``HalfVector``, float16)."""
        return self._models.precision

    def _check_precision(self, dialect: Any) -> None:
        """Refuse, before any table is made, a precision the backend cannot store."""
        kind = PRECISIONS.get(self.precision)
        if kind is None:
            return
        backend = backend_for(dialect)
        if kind in backend.capabilities.vector_kinds:
            return
        from .dialects.base import backends

        reason = backend.capabilities.missing_kinds.get(kind, "no native form")
        able = [b.name for b in backends() if kind in b.capabilities.vector_kinds]
        raise UnsupportedKindError(
            f"precision={self.precision!r}: {backend.name} cannot store {kind} vectors ({reason}); use "
            "precision='float32' (the default) there"
            + (f", or a database that stores them ({', '.join(able)})" if able else "")
        )

    @property
    def document_model(self) -> type:
        return self._models.document

    @property
    def embedding_model(self) -> Optional[type]:
        return self._models.embedding

    def _checked(self, vectors: Any, count: int) -> FloatArray:
        from .embedding import check_embeddings

        return check_embeddings(vectors, count, self.dimension, f"embedder {self.embedder.model_name!r}")

    def _query_vector(self, embedding: Any) -> FloatArray:
        return to_float32(embedding, self.dimension, "query embedding")

    def _where(self, filters: Optional[Filter]) -> Optional[ColumnElement[bool]]:
        if filters is None:
            return None
        if not self._models.has_metadata:
            raise InvalidFilterError(
                f"filters {filters!r} need a metadata column, but {self._models.document.__name__} has none "
                "(declared absent in __column_names__); map the table's JSON column as metadata_ to filter"
            )
        _check_json(filters, "filters", InvalidFilterError, only_json=False)
        return metadata_filter(self._models.document.metadata_, filters)  # type: ignore[attr-defined]

    @staticmethod
    def _check_search(top_k: int, similarity_threshold: Optional[float], similarity_function: str) -> int:
        """Check the search arguments; return ``top_k`` as a plain int."""
        checked = whole_number(top_k)
        if checked is None or not 1 <= checked <= MAX_LIMIT:
            raise InvalidArgumentError(f"top_k must be a positive integer (at most {MAX_LIMIT}), got {top_k!r}")
        if not isinstance(similarity_function, str) or similarity_function not in SIMILARITY_FUNCTIONS:
            raise UnsupportedMetricError(
                f"unknown similarity_function {similarity_function!r}; expected one of {', '.join(SIMILARITY_FUNCTIONS)}"
            )
        if similarity_threshold is not None and real_number(similarity_threshold) is None:
            raise InvalidArgumentError(
                f"similarity_threshold must be a finite number or None, got {similarity_threshold!r}"
            )
        return checked

    def _prepare_one(self, content: Any, metadata: Any, document_id: Any) -> _Prepared:
        return self._prepare({"content": content, "metadata": metadata, "document_id": document_id}, None)

    def _id_problem(self, value: Any) -> Optional[str]:
        """Why ``value`` cannot be a document id of the models (its type, or its range), or None."""
        id_type = self._id_type
        if id_type is None:
            return None
        if id_type is int and isinstance(value, int) and not isinstance(value, bool):
            if not INT64_RANGE[0] <= value <= INT64_RANGE[1]:
                return f"{value!r:.40} is outside the 64-bit range of integer keys (-2**63 to 2**63 - 1)"
            return None
        if id_type is not int and isinstance(value, id_type):
            return None
        column = _column(self._models.document, "id")
        kind = _id_kind(id_type)[0]
        return (
            f"must be {kind} ({column.table.name}.{column.name} holds {id_type.__name__} ids), "
            f"got {_type_name(value)} {value!r:.60}"
        )

    def _check_id(self, value: Any, where: str, error: type, fix: str) -> None:
        """Refuse a document id the documents table's key cannot hold, before any database compares it."""
        problem = self._id_problem(value)
        if problem is not None:
            id_type = self._id_type
            assert id_type is not None
            kind, conversion = _id_kind(id_type)
            if isinstance(value, bool) and id_type is int:
                conversion += "; True and False are not ids"
            raise error(f"{where} {problem}; {fix.format(kind=kind, conversion=conversion)}")
        if isinstance(value, str):
            _check_text(value, where, error)

    def _check_lookup(self, value: Any, where: str) -> None:
        """A document id given to look a document up (get, update, delete, find similar)."""
        if isinstance(value, (list, tuple, set, frozenset)) and self._id_problem(value) is not None:
            method = where.split("(", 1)[0]
            several = next((f"{verb}documents()" for verb in ("get_", "delete_") if method.startswith(verb)), None)
            fix = "pass one id" + ("" if several is None else f", or use {several} for several")
        else:
            fix = "pass the id as {kind} (e.g. {conversion}), as load_documents() returned it"
        self._check_id(value, where, InvalidArgumentError, fix)

    def _id_list(self, ids: Any, method: str, single: str) -> List[DocumentId]:
        """The ids given to a method taking several (one id, a string or a dict is refused), each checked."""
        if isinstance(ids, (str, bytes, bytearray, memoryview, abc.Mapping)) or not isinstance(ids, abc.Iterable):
            raise InvalidArgumentError(
                f"{method}(): ids must be a list of document ids, got {_type_name(ids)} {ids!r:.60}; "
                f"wrap it in a list (ids=[document_id]) or use {single}() for one document"
            )
        listed = list(ids)
        for position, value in enumerate(listed):
            self._check_lookup(value, f"{method}(): ids[{position}]")
        return listed

    def _prepare(self, document: Any, index: Optional[int]) -> _Prepared:
        """Check one document; its ``embedding`` (if any) is validated with its batch."""
        where = "document" if index is None else f"documents[{index}]"
        if not isinstance(document, dict) and not isinstance(document, abc.Mapping):
            raise InvalidDocumentError(
                f"{where} must be a dict with 'content' and optional 'metadata', 'document_id', 'embedding'; "
                f"got {type(document).__name__}"
            )
        if not document.keys() <= _DOCUMENT_KEYS:
            unknown = sorted(map(repr, set(document) - _DOCUMENT_KEYS))
            raise InvalidDocumentError(
                f"{where} has unknown keys {', '.join(unknown)}; expected 'content' and optional "
                "'metadata', 'document_id', 'embedding'"
            )
        content = document.get("content")
        if type(content) is not str and not isinstance(content, str):
            raise InvalidDocumentError(f"{where} content must be a string, got {type(content).__name__} {content!r:.60}")
        _check_text(content, f"{where} content", InvalidDocumentError)
        metadata = document.get("metadata")
        if metadata is None:
            metadata = {}
        elif not isinstance(metadata, dict) and not isinstance(metadata, abc.Mapping):
            raise InvalidDocumentError(f"{where} metadata must be a dict or None, got {type(metadata).__name__}")
        metadata = dict(metadata)
        _check_json(metadata, f"{where} metadata", InvalidDocumentError)
        document_id = document.get("document_id")
        if document_id is not None:
            self._check_id(
                document_id, f"{where} document_id", InvalidDocumentError,
                "give it as {kind} (e.g. {conversion}), or leave document_id out for a generated one",
            )
        prepared = _Prepared(document_id, content, metadata, None)
        prepared.raw_vector = document.get("embedding")
        return prepared

    def _vectors(self, batch: List[_Prepared], offset: int) -> None:
        """Validate a batch's precomputed embeddings at once (one by one only to report the bad one)."""
        given = [i for i, d in enumerate(batch) if d.raw_vector is not None]
        if not given:
            return
        try:
            matrix = np.asarray([batch[i].raw_vector for i in given])
        except (TypeError, ValueError):  # ragged
            matrix = None
        if (
            matrix is not None
            and matrix.ndim == 2
            and matrix.shape[1] == self.dimension
            and matrix.dtype.kind in "iuf"
            and not any(has_booleans(batch[i].raw_vector) for i in given)
        ):
            with np.errstate(over="ignore"):
                matrix = matrix.astype(np.float32, copy=False)
            if np.isfinite(matrix).all():
                for row, i in enumerate(given):
                    batch[i].vector = matrix[row]
                    batch[i].raw_vector = None
                return
        for i in given:
            batch[i].vector = to_float32(batch[i].raw_vector, self.dimension, f"documents[{offset + i}] embedding")
            batch[i].raw_vector = None

    def _batches(self, documents: Iterable[Any], batch_size: int, generate: bool) -> Iterator[Tuple[List[_Prepared], List[int]]]:
        """Validated batches, with the positions (in each batch) whose vectors the embedder must make."""
        batch_size = positive_integer("batch_size", batch_size)
        if isinstance(documents, (str, bytes, bytearray, abc.Mapping)) or not isinstance(documents, abc.Iterable):
            raise InvalidDocumentError(
                f"documents must be an iterable of dicts, got {_type_name(documents)}; "
                "use load_document() for one document"
            )
        seen: Dict[Any, int] = {}  # each id given, and the position of its first document
        scanned = 0  # documents whose ids the scan below checked already
        if isinstance(documents, abc.Sequence):
            # Known in advance: a repeated id is found before the first batch is written (which
            # matters where nothing rolls back). The scan stops where the documents' own checks will.
            for document in documents:
                if not isinstance(document, abc.Mapping):
                    break
                value = document.get("document_id")
                if value is not None and (self._id_type is None or self._id_problem(value) is not None):
                    break
                self._check_repeat(seen, value, scanned)
                scanned += 1
        batch: List[_Prepared] = []
        offset = 0
        for document in documents:
            position = offset + len(batch)
            prepared = self._prepare(document, position)
            if position >= scanned:
                self._check_repeat(seen, prepared.id, position)
            batch.append(prepared)
            if len(batch) == batch_size:
                self._vectors(batch, offset)
                yield batch, [i for i, d in enumerate(batch) if d.vector is None] if generate else []
                offset += len(batch)
                batch = []
        if batch:
            self._vectors(batch, offset)
            yield batch, [i for i, d in enumerate(batch) if d.vector is None] if generate else []

    def _check_repeat(self, seen: Dict[Any, int], value: Any, position: int) -> None:
        """Refuse an id given to an earlier document of the same load."""
        if value is None or self._id_type is None:
            return
        first = seen.setdefault(value, position)
        if first != position:
            column = _column(self._models.document, "id")
            raise InvalidDocumentError(
                f"documents[{position}] document_id {value!r:.60} repeats the id of documents[{first}]; "
                f"{column.table.name}.{column.name} is the documents' key: give each document its own id, or "
                "leave document_id out for generated ones"
            )

    @staticmethod
    def _progress(documents: Iterable[Any], show: bool) -> Any:
        if not show:
            return None
        try:
            from tqdm.auto import tqdm
        except ImportError:
            return None
        total = len(documents) if hasattr(documents, "__len__") else None  # type: ignore[arg-type]
        return tqdm(total=total, unit="doc", desc="loading")


# -- the rule for text and JSON values, the same on every backend ------------------------------------------

_SURROGATE = re.compile("[\ud800-\udfff]")


def _check_text(value: str, where: str, error: type) -> None:
    """Reject what some backend would store differently or not at all: NUL, and unpaired surrogates."""
    if "\x00" in value:
        raise error(
            f"{where} contains a NUL character (U+0000) at position {value.index(chr(0))} in {value!r:.60}; "
            "PostgreSQL text cannot hold it and SQLite's JSON paths stop at it, so no backend accepts it: "
            "remove it or replace it (e.g. text.replace('\\x00', ''))"
        )
    found = _SURROGATE.search(value)
    if found is not None:
        raise error(
            f"{where} contains an unpaired surrogate {found.group()!r} at position {found.start()}, which is not "
            "valid Unicode and cannot be encoded as UTF-8; decode the source with errors='replace' or clean the text"
        )


def _check_json(value: Any, where: str, error: type, only_json: bool = True) -> None:
    """Metadata and filters: string keys, finite numbers, 64-bit integers and clean strings, at any depth.

    Metadata (``only_json``) holds JSON values only: str, int, float, bool,
    None, lists (or tuples) and dicts; anything else is refused with the
    conversion to make, never converted here.  Filters may hold more (a set
    for ``$in``, a SQLAlchemy expression), which :func:`metadata_filter` checks.
    """
    if isinstance(value, str):
        _check_text(value, where, error)
    elif isinstance(value, bool) or value is None:
        return
    elif isinstance(value, int):
        if not INT64_RANGE[0] <= value <= INT64_RANGE[1]:
            raise error(
                f"{where} holds the integer {value!r:.40}, outside the 64-bit range every backend's JSON keeps "
                "exactly; store it as a string"
            )
    elif isinstance(value, float):
        if not math.isfinite(value):
            raise error(
                f"{where} holds {value!r}, which JSON cannot represent; use None or a finite number"
            )
    elif isinstance(value, abc.Mapping):
        if only_json and not isinstance(value, dict):
            _not_json(value, where, error)
        for key, item in value.items():
            if not isinstance(key, str):
                raise error(
                    f"{where} has the key {key!r} of type {type(key).__name__}; JSON keys are strings "
                    f"(it would be read back as {str(key)!r}): use string keys"
                )
            _check_text(key, f"{where} key {key!r:.40}", error)
            _check_json(item, f"{where}[{key!r:.40}]", error, only_json)
    elif isinstance(value, (list, tuple)):
        for position, item in enumerate(value):
            _check_json(item, f"{where}[{position}]", error, only_json)
    elif only_json:
        _not_json(value, where, error)


def _not_json(value: Any, where: str, error: type) -> None:
    if isinstance(value, np.ndarray):
        fix = "x.tolist()"
    elif isinstance(value, np.bool_):
        fix = "bool(x)"
    elif isinstance(value, np.integer):
        fix = "int(x)"
    elif isinstance(value, np.floating):
        fix = "float(x)"
    elif isinstance(value, np.generic):
        fix = "x.item()"
    elif isinstance(value, (datetime.date, datetime.time)):
        fix = "x.isoformat()"
    elif isinstance(value, (set, frozenset)):
        fix = "list(x), or sorted(x) for a stable order"
    elif isinstance(value, (bytes, bytearray, memoryview)):
        fix = "x.decode() for text, or base64 for binary data"
    elif isinstance(value, abc.Mapping):
        fix = "dict(x)"
    elif isinstance(value, numbers.Number):
        fix = "float(x), or str(x) to keep every digit"
    else:
        fix = "str(x)"
    raise error(
        f"{where} holds {_type_name(value)} {value!r:.40}, which is not a JSON value (str, int, float, bool, None, "
        f"list or dict); convert it before storing it, e.g. {fix}"
    )


def _type_name(value: Any) -> str:
    """The type of ``value`` as its users import it: ``int``, ``numpy.float32``, ``decimal.Decimal``."""
    kind = type(value)
    return kind.__name__ if kind.__module__ == "builtins" else f"{kind.__module__}.{kind.__qualname__}"


# How a document id of each key type is named in messages, and made from another value.
_ID_KINDS: Dict[type, Tuple[str, str]] = {
    str: ("a str", "str(x)"),
    int: ("an int", "int(x)"),
    uuid.UUID: ("a uuid.UUID", "uuid.UUID(x)"),
}


def _id_kind(id_type: type) -> Tuple[str, str]:
    """How messages name an id of ``id_type``, and the conversion that makes one."""
    return _ID_KINDS.get(id_type, (f"a {id_type.__name__}", f"{id_type.__name__}(x)"))


_DDL_ATTEMPTS = 5
_SETUP_LOCKS: Dict[str, threading.Lock] = {}
_SETUP_LOCKS_GUARD = threading.Lock()


def _setup_lock(engine: Engine) -> threading.Lock:
    """One lock per database URL in this process: facades create and check tables one at a time."""
    key = engine.url.render_as_string(hide_password=False)
    with _SETUP_LOCKS_GUARD:
        return _SETUP_LOCKS.setdefault(key, threading.Lock())


def _owned(bind: Any) -> bool:
    return isinstance(bind, (str, URL))


# -- the synchronous facade --------------------------------------------------------------------------------


class VectorRAG(_Facade):
    """Load documents with embeddings and search them, on PostgreSQL, SQLite, DuckDB or ClickHouse.

    ``bind`` is an :class:`~sqlalchemy.engine.Engine`, a database URL (an engine
    is created with :func:`sqlalchemy_vector.create_engine` and disposed by
    :meth:`close`), or a :class:`~sqlalchemy.orm.sessionmaker`.  Without models
    the facade uses tables ``documents`` and ``embeddings``, created if missing;
    your own models (from :mod:`sqlalchemy_vector.orm`) are used as they are.
    ``embedder`` defaults to the lexical
    :class:`~sqlalchemy_vector.embedding.HashingEmbedder`.

    ``distributed=True`` shards the tables with Citus (on PostgreSQL with the
    Citus extension): documents by their key, embeddings by ``document_id``
    co-located with them, so a document and its vectors live on one worker.
    The default models then key embeddings by ``(id, document_id)``, as Citus
    requires; your own embedding model needs ``__distributed_by_document__ = True``.
    Other backends refuse it with :class:`~sqlalchemy_vector.exc.UnsupportedDialectError`.

    ``precision="half"`` stores the default models' embeddings as float16
    (:class:`~sqlalchemy_vector.HalfVector`, half the bytes, and indexes
    half the size) where the backend has half vectors (capability data
    ``vector_kinds``); elsewhere it raises
    :class:`~sqlalchemy_vector.exc.UnsupportedKindError`.  With your own
    models the precision is read from their embedding column.
    """

    def __init__(
        self,
        bind: Union[Engine, str, URL, "sessionmaker[Session]"],
        *,
        document_model: Optional[type] = None,
        embedding_model: Optional[type] = None,
        embedder: Any = None,
        dimension: Optional[int] = None,
        distributed: bool = False,
        precision: Optional[str] = None,
    ) -> None:
        _refuse_asyncio_driver(bind)
        self._setup(bind, document_model, embedding_model, embedder, dimension, distributed, precision)
        self._ensure_tables()

    def _setup(
        self,
        bind: Any,
        document_model: Optional[type],
        embedding_model: Optional[type],
        embedder: Any,
        dimension: Optional[int],
        distributed: bool = False,
        precision: Optional[str] = None,
    ) -> None:
        super().__init__(document_model, embedding_model, embedder, dimension, distributed, precision)
        self._owns_engine = _owned(bind)
        if isinstance(bind, sessionmaker):
            engine = bind.kw.get("bind")
            if not isinstance(engine, Engine):
                raise ModelConfigurationError(
                    "the sessionmaker given to VectorRAG has no Engine bind; create it as sessionmaker(engine)"
                )
            self._sessions = bind
        elif isinstance(bind, Engine):
            engine = attach(bind)
            self._sessions = sessionmaker(engine, expire_on_commit=False)
        elif isinstance(bind, (str, URL)):
            engine = create_engine(bind)
            self._sessions = sessionmaker(engine, expire_on_commit=False)
        else:
            raise ModelConfigurationError(
                f"VectorRAG needs an Engine, a database URL or a sessionmaker, got {type(bind).__name__}"
                + ("; use AsyncVectorRAG with an AsyncEngine" if isinstance(bind, AsyncEngine) else "")
            )
        self.engine: Engine = engine
        #: Held shared by every call, exclusively by an index change, where the backend needs it.
        self._index_lock = _index_lock(engine)
        #: The statements that distribute the tables (distributed=True).
        self._distribution: List[Executable] = []
        try:  # what the backend cannot do is refused now, before any table exists
            self._check_precision(engine.dialect)
            if distributed:
                embeddings = self._models.embedding
                self._distribution = backend_for(engine.dialect).distribute_statements(
                    _column(self._models.document, "id"),
                    None if embeddings is None else _column(embeddings, "document_id"),
                )
        except BaseException:
            if self._owns_engine:
                engine.dispose()
            raise
        self._embed_texts: Callable[[List[str]], Any] = self.embedder.embed
        self._tables_ready = False
        self._serialize_setup = True  # False under asyncio: a thread lock must not be held across awaits

    def _ensure_tables(self) -> None:
        """Create the default tables if missing, and check the tables found (once per facade).

        Facades opening one new database at once (threads, processes) may race
        to create its tables: creation is serialised within the process and an
        ``already exists`` from another connection is met by looking again.
        """
        if self._tables_ready:
            return
        lock = _setup_lock(self.engine) if self._serialize_setup else contextlib.nullcontext()
        with lock:
            try:
                if self._distribution:  # before creating anything: no Citus, no tables
                    with self.engine.connect() as connection:
                        backend_for(connection.dialect).ensure_distribution_support(connection)
                if self._models.create_tables:
                    self._create_tables()
                if self._distribution:
                    self._distribute_tables()
                with self.engine.connect() as connection:
                    self._check_tables(connection)
            except DBAPIError as err:
                explained = backend_for(self.engine.dialect).explain_error(err, self.engine.url)
                if explained is None:
                    raise
                raise explained from err
            self._tables_ready = True

    def _create_tables(self) -> None:
        metadata = self._models.document.metadata  # type: ignore[attr-defined]
        backend = backend_for(self.engine.dialect)
        for attempt in range(_DDL_ATTEMPTS):
            try:
                metadata.create_all(self.engine, checkfirst=True)
                return
            except DBAPIError as err:
                if attempt == _DDL_ATTEMPTS - 1 or not backend.is_concurrent_ddl_error(err):
                    raise
                time.sleep(0.05 * (attempt + 1))  # another connection is creating them: look again

    def _distribute_tables(self) -> None:
        """Shard the tables (distributed=True); each statement skips a table already distributed."""
        with self.engine.begin() as connection:
            for statement in self._distribution:
                connection.execute(statement)

    def _check_tables(self, connection: Connection) -> None:
        """The tables found must have the columns the models use, and the vector column their dimension."""
        backend = backend_for(connection.dialect)
        inspector = inspect(connection)
        vector_column = self._models.vector.property.columns[0]
        for model in (self._models.document, self._models.embedding):
            if model is None:
                continue
            table: Table = model.__table__  # type: ignore[attr-defined]
            if not inspector.has_table(table.name, schema=table.schema):
                continue  # your models, tables not created yet
            found = set(connection.execute(select(text("*")).select_from(table).limit(0)).keys())
            missing = [c.name for c in table.columns if c.name not in found]
            if missing:
                raise SchemaMismatchError(
                    f"table {table.name!r} exists without the column(s) {', '.join(map(repr, missing))} that "
                    f"{model.__name__} maps (it has {', '.join(map(repr, sorted(found)))}); migrate the table, "
                    "or open it with models that match it"
                )
            if vector_column.table is not table:
                continue
            declared = backend.vector_columns(connection, table.name, table.schema).get(vector_column.name)
            if declared is not None and self.precision != "float32":
                raise SchemaMismatchError(
                    f"column {table.name}.{vector_column.name} in the database stores float32 vectors "
                    f"({declared} dimensions), but this facade stores {self.precision} precision "
                    f"({vector_column.type!r}); open it with precision='float32', or use another table or database"
                )
            if declared is None:
                self._check_compact_column(inspector, table, vector_column)
            # No declared dimension (a plain BLOB made outside the models, say): nothing to compare.
            if declared is not None and declared != self.dimension:
                raise SchemaMismatchError(
                    f"column {table.name}.{vector_column.name} in the database stores {declared}-dimensional "
                    f"vectors, but this facade expects {self.dimension} ({vector_column.type!r}); open it with "
                    f"dimension={declared} and an embedder of that size, use another table or database, "
                    "or migrate the column (Alembic with op.alter_vector_dimension)"
                )

    def _check_compact_column(self, inspector: Any, table: Table, vector_column: Any) -> None:
        """A column of a compact kind in the database must be the precision this facade stores."""
        import warnings

        from sqlalchemy.exc import SAWarning

        with warnings.catch_warnings():
            warnings.simplefilter("ignore", SAWarning)  # other columns' types the dialect cannot name
            columns = inspector.get_columns(table.name, schema=table.schema)
        found = next((c["type"] for c in columns if c["name"] == vector_column.name), None)
        stored = precision_of(found)
        if stored is not None and stored != self.precision:
            raise SchemaMismatchError(
                f"column {table.name}.{vector_column.name} in the database stores {stored} precision ({found!r}), "
                f"but this facade stores {self.precision} ({vector_column.type!r}); open it with "
                f"precision={stored!r}, or use another table or database"
            )

    @contextlib.contextmanager
    def _session(self, exclusive: bool = False) -> Iterator[Session]:
        """A session of this facade, in use while the block runs (see :meth:`_changing_indexes`)."""
        self._ensure_tables()
        lock = self._index_lock
        with contextlib.nullcontext() if lock is None else lock.hold(exclusive), self._sessions() as session:
            yield session

    def close(self) -> None:
        """Dispose of the engine if this facade created it from a URL."""
        if self._owns_engine:
            self.engine.dispose()

    def __enter__(self) -> "VectorRAG":
        return self

    def __exit__(self, *exc_info: Any) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"VectorRAG({self.engine.url.render_as_string(hide_password=True)!r}, embedder={self.embedder!r})"

    def _embed(self, texts: Sequence[str]) -> FloatArray:
        if not texts:
            return np.zeros((0, self.dimension), dtype=np.float32)
        return self._checked(self._embed_texts(list(texts)), len(texts))

    def _read(self, fn: Callable[..., _T], *args: Any) -> _T:
        with self._session() as session:
            return fn(session, *args)

    def _write(self, fn: Callable[..., _T], *args: Any) -> _T:
        with self._session() as session, session.begin():
            return fn(session, *args)

    def _changing_indexes(self, fn: Callable[..., _T], *args: Any) -> _T:
        """:meth:`_write` for a vector index change: alone on the database where the backend needs it so.

        DuckDB 1.5's vss extension can crash the process when an HNSW index is
        built or dropped while another connection queries the table; there the
        facades of this process hold their calls on that database back until the
        change is committed (capability data ``index_changes_exclusive``).
        """
        with self._session(exclusive=True) as session, session.begin():
            return fn(session, *args)

    # -- writing

    def load_document(
        self,
        content: str,
        metadata: Optional[Mapping[str, Any]] = None,
        document_id: Optional[DocumentId] = None,
        generate_embedding: bool = True,
    ) -> DocumentId:
        """Store one document (and its embedding, in the same transaction); return its id."""
        document = self._prepare_one(content, metadata, document_id)
        if generate_embedding:
            document.vector = self._embed([document.content])[0]
        return self._write(self._store.insert, [document])[0]

    def load_documents(
        self,
        documents: Iterable[Mapping[str, Any]],
        generate_embeddings: bool = True,
        show_progress: bool = True,
        batch_size: int = 1000,
    ) -> List[DocumentId]:
        """Store many documents in one transaction, embedding ``batch_size`` at a time; return their ids.

        Each document is a dict with ``content`` and optional ``metadata``,
        ``document_id`` and ``embedding`` (a precomputed vector, used as is).
        Rows go through the backend's bulk path.  If anything fails, nothing
        is stored.
        """
        generate_embeddings = flag("load_documents(generate_embeddings=...)", generate_embeddings)
        progress = self._progress(documents, flag("load_documents(show_progress=...)", show_progress))
        ids: List[DocumentId] = []
        try:
            with self._session() as session, session.begin():
                for batch, missing in self._batches(documents, batch_size, generate_embeddings):
                    if missing:
                        vectors = self._embed([batch[i].content for i in missing])
                        for i, vector in zip(missing, vectors):
                            batch[i].vector = vector
                    ids.extend(self._store.insert(session, batch))
                    if progress is not None:
                        progress.update(len(batch))
        finally:
            if progress is not None:
                progress.close()
        return ids

    def update_document(
        self,
        document_id: DocumentId,
        content: Optional[str] = None,
        metadata: Optional[Mapping[str, Any]] = None,
    ) -> bool:
        """Replace a document's content and/or metadata; re-embed only if the content changed.

        Returns False if there is no such document.  New content replaces the
        document's embeddings (of every model) with one from this embedder.
        """
        self._check_lookup(document_id, "update_document(): document_id")
        if content is not None and not isinstance(content, str):
            raise InvalidDocumentError(f"content must be a string or None, got {type(content).__name__}")
        if metadata is not None and not isinstance(metadata, abc.Mapping):
            raise InvalidDocumentError(f"metadata must be a dict or None, got {type(metadata).__name__}")
        where = f"update_document({document_id!r:.40})"
        if content is not None:
            _check_text(content, f"{where} content", InvalidDocumentError)
        if metadata is not None:
            metadata = dict(metadata)
            _check_json(metadata, f"{where} metadata", InvalidDocumentError)
        with self._session() as session, session.begin():
            current = self._store.current_content(session, document_id)
            if current is None:
                return False
            changed = content is not None and content != current
            vector = self._embed([content])[0] if changed else None  # type: ignore[list-item]
            self._store.update(session, document_id, content if changed else None, metadata, vector)
        return True

    def delete_document(self, document_id: DocumentId) -> bool:
        """Delete a document and its embeddings; False if there was no such document."""
        self._check_lookup(document_id, "delete_document(): document_id")
        return self.delete_documents(ids=[document_id]) > 0

    def delete_documents(self, ids: Optional[Sequence[DocumentId]] = None, filters: Optional[Filter] = None) -> int:
        """Delete documents by id and/or filter, with their embeddings; return how many.

        Pass ``filters={}`` to delete every document.
        """
        if ids is None and filters is None:
            raise InvalidFilterError("delete_documents() needs ids=, filters= or both; pass filters={} to delete every document")
        listed = None if ids is None else self._id_list(ids, "delete_documents", "delete_document")
        if listed is not None and not listed:
            return 0
        return self._write(self._store.delete, listed, self._where(filters))

    # -- reading

    def get_document(self, document_id: DocumentId) -> Optional[Result]:
        """The document as a dict (``document_id``, ``content``, ``metadata``, ``created_at``), or None."""
        self._check_lookup(document_id, "get_document(): document_id")
        found = self._read(self._store.get, [document_id])
        return found[0] if found else None

    def get_documents(self, ids: Sequence[DocumentId]) -> List[Result]:
        """The documents that exist among ``ids``, in the order given."""
        return self._read(self._store.get, self._id_list(ids, "get_documents", "get_document"))

    def query(
        self,
        query_text: str,
        top_k: int = 5,
        similarity_threshold: Optional[float] = None,
        similarity_function: str = "cosine",
        filters: Optional[Filter] = None,
    ) -> List[Result]:
        """The ``top_k`` documents most similar to ``query_text``."""
        top_k = self._check_search(top_k, similarity_threshold, similarity_function)
        vector = self._embed([_text(query_text)])[0]
        return self._read(self._store.search, vector, top_k, similarity_threshold, similarity_function, self._where(filters))

    def query_with_embedding(
        self,
        embedding: Any,
        top_k: int = 5,
        similarity_threshold: Optional[float] = None,
        similarity_function: str = "cosine",
        filters: Optional[Filter] = None,
    ) -> List[Result]:
        """The ``top_k`` documents most similar to a query vector you computed."""
        top_k = self._check_search(top_k, similarity_threshold, similarity_function)
        vector = self._query_vector(embedding)
        return self._read(self._store.search, vector, top_k, similarity_threshold, similarity_function, self._where(filters))

    def query_batch(
        self,
        query_texts: Sequence[str],
        top_k: int = 5,
        similarity_threshold: Optional[float] = None,
        similarity_function: str = "cosine",
        filters: Optional[Filter] = None,
    ) -> List[List[Result]]:
        """:meth:`query` for several texts, embedded in one call; one result list per text."""
        top_k = self._check_search(top_k, similarity_threshold, similarity_function)
        texts = [_text(t) for t in _texts(query_texts)]
        vectors = self._embed(texts)
        where = self._where(filters)
        with self._session() as session:
            return [
                self._store.search(session, v, top_k, similarity_threshold, similarity_function, where) for v in vectors
            ]

    def query_with_filters(
        self,
        filters: Filter,
        query_text: Optional[str] = None,
        top_k: int = 5,
        similarity_threshold: Optional[float] = None,
        similarity_function: str = "cosine",
    ) -> List[Result]:
        """Documents matching ``filters``: ranked by ``query_text`` if given, else oldest first (no scores)."""
        top_k = self._check_search(top_k, similarity_threshold, similarity_function)
        where = self._where(filters)
        if query_text is None:
            return self._read(self._store.filtered, where, top_k)
        vector = self._embed([_text(query_text)])[0]
        return self._read(self._store.search, vector, top_k, similarity_threshold, similarity_function, where)

    def find_similar_documents(
        self,
        document_id: DocumentId,
        top_k: int = 5,
        similarity_threshold: Optional[float] = None,
        similarity_function: str = "cosine",
        filters: Optional[Filter] = None,
    ) -> List[Result]:
        """Documents most similar to a stored one (by its stored embedding), excluding itself.

        Raises :class:`~sqlalchemy_vector.exc.DocumentNotFoundError` for an
        unknown id; a document without an embedding has no similar documents.
        """
        self._check_lookup(document_id, "find_similar_documents(): document_id")
        top_k = self._check_search(top_k, similarity_threshold, similarity_function)
        where = self._where(filters)
        with self._session() as session:
            anchor = self._store.anchor(session, document_id)
            if anchor is None:
                return []
            if SIMILARITY_FUNCTIONS[similarity_function] == "cosine" and not np.asarray(anchor).any():
                raise InvalidVectorError(
                    f"find_similar_documents({document_id!r:.40}): the document's stored embedding is all zeros, "
                    "which has no direction under cosine; re-embed the document, or use "
                    "similarity_function='euclidean' or 'inner_product'"
                )
            return self._store.search(
                session, anchor, top_k, similarity_threshold, similarity_function, where, exclude=document_id
            )

    def get_statistics(self) -> Dict[str, Any]:
        """Counts, dimension, models, backend and vector indexes; the same keys on every backend.

        Keys: ``backend``, ``document_count``, ``embedding_count``, ``dimension``,
        ``embedding_model`` (this facade's), ``models`` (embedding count per
        model name), ``tables`` and ``indexes`` (as
        :func:`~sqlalchemy_vector.index.list_vector_indexes` reports them).
        """
        return self._read(self._store.statistics)

    # -- indexes

    def create_index(self, index_name: str, similarity_function: str = "cosine", **kwargs: Any) -> None:
        """Build a vector index on the stored embeddings for ``similarity_function``.

        PostgreSQL: HNSW (default) or ``method="ivfflat"``; DuckDB: HNSW (on a
        file database pass ``duckdb_experimental_persistence=True``); SQLite: a
        sqlite-vec ``vec0`` table; ClickHouse: its vector-similarity (HNSW)
        index.  ``kwargs`` are
        :class:`~sqlalchemy_vector.index.VectorIndex` options (``method``, ``m``,
        ``ef_construction``, ``lists``, ``duckdb_experimental_persistence``);
        the name, column and metric are this method's own, and a quantized
        index is refused (the facade's searches read full-precision ones).
        Queries keep the ``ORDER BY distance LIMIT k`` shape the PostgreSQL
        and DuckDB indexes serve.
        """
        metric = _index_metric(similarity_function)
        check_identifier(index_name, "index_name", VectorIndexError)
        _check_index_options(index_name, kwargs)
        self._check_index_dimension(index_name)
        self._changing_indexes(self._store.create_index, index_name, metric, kwargs)

    def delete_index(self, index_name: str) -> bool:
        """Drop a vector index on the embeddings; False if there is none of that name."""
        check_identifier(index_name, "index_name", VectorIndexError)
        return self._changing_indexes(self._store.drop_index, index_name)

    def _check_index_dimension(self, index_name: str) -> None:
        capabilities = backend_for(self.engine.dialect).capabilities
        limit = capabilities.max_index_dimension
        if limit is not None and self.dimension > limit:
            raise DimensionLimitError(
                f"index {index_name!r}: {capabilities.index_provider} indexes vectors of at most {limit} dimensions, "
                f"but {self._models.vector.type.described_as} has {self.dimension}; search without an index "
                "(exact), or store fewer dimensions"
            )

    # -- full-text and hybrid search

    def create_fulltext_index(self, index_name: Optional[str] = None, language: str = "english") -> None:
        """Build a full-text index on the documents' content, which :meth:`hybrid_query` needs.

        ``language`` chooses the stemming rules (``"english"``, ``"simple"``
        for none; PostgreSQL and DuckDB know more).  The name defaults to
        ``<documents table>_content_fts``.
        """
        if index_name is not None:
            check_identifier(index_name, "index_name", VectorIndexError)
        self._write(_create_fulltext, self._store, index_name, language)

    def hybrid_query(
        self,
        query_text: str,
        top_k: int = 5,
        filters: Optional[Filter] = None,
        weights: Sequence[float] = (1.0, 1.0),
        rrf_k: Optional[Union[int, Tuple[int, int]]] = None,
        fetch_k: Optional[Union[int, Tuple[int, int]]] = None,
        similarity_function: str = "cosine",
        match_all: bool = False,
    ) -> List[Result]:
        """Documents ranked by full-text and vector rank fused (reciprocal rank fusion), in one statement.

        ``weights`` are the (vector, text) weights; ``(1, 0)`` ranks by vector
        alone and ``(0, 1)`` by text alone (rows the text arm did not match
        are then left out).  ``filters`` apply to both arms before they are
        ranked, so ``top_k`` results come back when ``top_k`` documents match.
        Each result also has ``score`` (the fused score), ``vector_rank`` and
        ``text_rank`` (from 1; None where that arm did not rank it) and
        ``text_score``.  Needs a full-text index (:meth:`create_fulltext_index`);
        on DuckDB an index older than the last write is rebuilt first.

        ``rrf_k`` is the fusion constant, one for both arms or ``(vector,
        text)``; by default the embedder's ``hybrid_rrf_k`` (which arm leads:
        the lexical embedder lets full text lead, a neural model leads itself),
        else 60 for both.  ``fetch_k`` is how deep each arm ranks (one depth
        or a pair; default ``max(top_k, 50)``).
        """
        from .hybrid import _check_weights

        top_k = self._check_search(top_k, None, similarity_function)
        weights = _check_weights(weights)  # before anything is embedded
        match_all = flag("hybrid_query(match_all=...)", match_all)
        vector = self._embed([_text(query_text)])[0]
        where = self._where(filters)
        spec = self._write(_fresh_fulltext, self._store)
        return self._read(
            _hybrid_search, self._store, spec, query_text, vector, top_k, where, weights,
            _fusion_constant(self.embedder, rrf_k), fetch_k, similarity_function, match_all,
        )

    def mmr_query(
        self,
        query_text: str,
        top_k: int = 5,
        fetch_k: int = 20,
        lambda_mult: float = 0.5,
        filters: Optional[Filter] = None,
        similarity_function: str = "cosine",
        mode: str = "vector",
    ) -> List[Result]:
        """``top_k`` of the ``fetch_k`` best documents, chosen by maximal marginal relevance (diverse, relevant).

        Candidates come from :meth:`query` (``mode="vector"``) or
        :meth:`hybrid_query` (``mode="hybrid"``); each is then picked to be
        similar to the query and unlike those picked before it
        (``lambda_mult`` 1: relevance only, 0: diversity only), by cosine
        similarity of the stored embeddings.
        """
        fetch_k = positive_integer("fetch_k", fetch_k)
        if mode not in ("vector", "hybrid"):
            raise InvalidArgumentError(f"mode must be 'vector' or 'hybrid', got {mode!r}")
        top_k = self._check_search(top_k, None, similarity_function)
        vector = self._embed([_text(query_text)])[0]
        where = self._where(filters)
        depth = max(fetch_k, top_k)
        if mode == "hybrid":
            spec = self._write(_fresh_fulltext, self._store)
            candidates = self._read(
                _hybrid_search, self._store, spec, query_text, vector, depth, where, (1.0, 1.0),
                _fusion_constant(self.embedder, None), None, similarity_function, False,
            )
        else:
            candidates = self._read(self._store.search, vector, depth, None, similarity_function, where)
        return self._read(_mmr_pick, self._store, vector, candidates, top_k, lambda_mult)


# -- the asyncio facade ----------------------------------------------------------------------------------


#: How often a worker thread waiting for an embedder on the event loop checks that the loop still runs.
_WORKER_POLL_S = 0.25

#: Inside an embedder's ``aembed`` run for a worker-thread facade: that facade's id.
_EMBEDDING_FOR: "contextvars.ContextVar[Optional[int]]" = contextvars.ContextVar("_EMBEDDING_FOR", default=None)


@dataclass
class _WorkerCall:
    """A call of a worker-thread facade: the loop awaiting it, and whether that caller stopped waiting."""

    loop: asyncio.AbstractEventLoop
    abandoned: threading.Event


async def _embed_on_loop(facade: int, embedder: Any, texts: List[str]) -> Any:
    from .embedding import aembed

    token = _EMBEDDING_FOR.set(facade)
    try:
        return await aembed(embedder, texts)
    finally:
        _EMBEDDING_FOR.reset(token)


#: asyncio drivers whose connections run only on the event loop that opened them.
_LOOP_BOUND_DRIVERS = frozenset({"asyncpg"})

#: Inside a call of a facade over an asyncio driver (its task, and the greenlets that task runs): that call.
_GREENLET_CALL: "contextvars.ContextVar[Optional[_GreenletCall]]" = contextvars.ContextVar("_GREENLET_CALL", default=None)


class _GreenletCall:
    """A call of a facade over an asyncio driver, which runs in a task of its own.

    The caller awaits that task through :func:`asyncio.shield`, so cancelling
    the caller never interrupts a statement, a ``COPY`` or the return of a
    connection to the pool, which an interruption leaves half done (psycopg
    stuck mid-``COPY`` raises its own error in place of the cancellation; a
    connection interrupted while the pool resets it is never checked back
    in).  The call stops at its next embedding instead, which raises
    :class:`asyncio.CancelledError` in it (its transaction rolls back), or
    runs to its end if it has no embedding left to do.
    """

    __slots__ = ("cancelled", "embedding")

    def __init__(self) -> None:
        self.cancelled = False
        self.embedding: Optional["asyncio.Future[Any]"] = None

    def cancel(self) -> None:
        self.cancelled = True
        if self.embedding is not None:
            self.embedding.cancel()

    async def embed(self, embedder: Any, texts: List[str]) -> Any:
        from .embedding import aembed

        if self.cancelled:
            raise asyncio.CancelledError
        self.embedding = asyncio.ensure_future(aembed(embedder, texts))
        try:
            return await self.embedding
        finally:
            self.embedding = None


def _await_embedding(sync: "VectorRAG", texts: List[str]) -> Any:
    # Called by the synchronous facade inside the greenlet: await the embedder there, through the call
    # (whose caller may stop waiting), or directly when sync_rag runs in a greenlet of someone else's.
    call = _GREENLET_CALL.get()
    if call is None:
        from .embedding import aembed

        return await_only(aembed(sync.embedder, texts))
    return await_only(call.embed(sync.embedder, texts))


def _weakly(method: Callable[[List[str]], Any]) -> Callable[[List[str]], Any]:
    """``method`` of an object, called through a weak reference to that object."""
    reference = weakref.WeakMethod(method)

    def call(texts: List[str]) -> Any:
        bound = reference()
        if bound is None:
            raise InvalidArgumentError(
                "the AsyncVectorRAG this sync_rag belongs to is gone; keep the facade while using it"
            )
        return bound(texts)

    return call


class AsyncVectorRAG:
    """The asyncio version of :class:`VectorRAG`: the same methods, as coroutines.

    ``bind`` is an :class:`~sqlalchemy.ext.asyncio.AsyncEngine`, a database URL
    with an async driver (``sqlite+aiosqlite``, ``postgresql+psycopg_async``,
    ``postgresql+asyncpg``), or an
    :class:`~sqlalchemy.ext.asyncio.async_sessionmaker`.

    Like SQLAlchemy's :class:`~sqlalchemy.ext.asyncio.AsyncSession`, it is a
    proxy: each method runs the synchronous :class:`VectorRAG` method (the
    :attr:`sync_rag`) in a greenlet over the engine's ``sync_engine``, so
    database I/O is awaited through the async driver.  Embedding awaits the
    embedder's ``aembed`` when it has one, else runs ``embed`` in a worker
    thread.  Each call runs in a task of its own: cancelling its coroutine
    stops the waiting at once and never interrupts a statement or the return
    of a connection to the pool; the call itself stops at its next embedding,
    rolling its transaction back, or, with none left, runs to its end.
    :meth:`close` waits for such calls, and a call made while it is under way
    runs after it.  The engine's pool serves one event loop at a time: a call
    from a second loop while the first still runs (in another thread) raises
    :class:`~sqlalchemy_vector.exc.InvalidArgumentError`; once the first loop
    has ended (a second ``asyncio.run``), calls go on.

    A backend without an asyncio driver (capability data ``async_drivers``
    empty: DuckDB, ClickHouse) is reached through its synchronous driver in
    one worker thread of this facade: ``bind`` is then a URL of it or a
    synchronous :class:`~sqlalchemy.engine.Engine`.  The facade's calls run
    one at a time in that thread, in the order they were made, and the event
    loop stays free meanwhile; embedding is awaited on the loop as above.
    Cancelling a call that has started stops the waiting, not the call: it
    runs to its end (a call still queued does not run), and :meth:`close`,
    which runs after it, waits for that end.  A call made while :meth:`close`
    is under way runs after it, on a new worker thread.  An embedder must not
    call the facade it embeds for (the call would wait for itself): that raises
    :class:`~sqlalchemy_vector.exc.InvalidArgumentError`.
    """

    def __init__(
        self,
        bind: Union[AsyncEngine, str, URL, "async_sessionmaker[AsyncSession]", Engine],
        *,
        document_model: Optional[type] = None,
        embedding_model: Optional[type] = None,
        embedder: Any = None,
        dimension: Optional[int] = None,
        distributed: bool = False,
        precision: Optional[str] = None,
    ) -> None:
        self._owns_engine = _owned(bind)
        self._worker: Optional[concurrent.futures.ThreadPoolExecutor] = None
        self._closing: Optional["concurrent.futures.Future[None]"] = None  # close() of the last worker
        self._calls = threading.local()  # in the worker: the call it runs (a _WorkerCall)
        threaded: Union[Engine, URL, None] = None
        engine: Optional[AsyncEngine] = None
        if isinstance(bind, async_sessionmaker):
            engine = bind.kw.get("bind")
            if not isinstance(engine, AsyncEngine):
                raise ModelConfigurationError(
                    "the async_sessionmaker given to AsyncVectorRAG has no AsyncEngine bind; "
                    "create it as async_sessionmaker(engine)"
                )
        elif isinstance(bind, AsyncEngine):
            engine = attach(bind)
        elif isinstance(bind, (str, URL)):
            url = make_url(bind)
            drivers = backend_for(url.get_dialect()).capabilities.async_drivers
            if drivers and url.get_driver_name() not in drivers:
                raise ModelConfigurationError(
                    f"AsyncVectorRAG got the synchronous driver {url.drivername!r}; use an asyncio driver of "
                    f"{url.get_backend_name()}: "
                    + " or ".join(repr(str(url.set(drivername=f"{url.get_backend_name()}+{d}"))) for d in drivers)
                )
            if drivers:
                engine = create_async_engine(url)
            else:
                threaded = url
        elif isinstance(bind, Engine):
            drivers = backend_for(bind.dialect).capabilities.async_drivers
            if drivers:
                raise ModelConfigurationError(
                    f"AsyncVectorRAG got a synchronous Engine ({bind.url.drivername}) of a backend with an asyncio "
                    f"driver ({', '.join(drivers)}): pass an AsyncEngine of it, or use VectorRAG with this Engine"
                )
            threaded = bind
        else:
            raise ModelConfigurationError(
                f"AsyncVectorRAG needs an AsyncEngine, a database URL or an async_sessionmaker, got {type(bind).__name__}"
            )
        sync = VectorRAG.__new__(VectorRAG)
        options = (document_model, embedding_model, embedder, dimension, distributed, precision)
        if threaded is None:
            assert engine is not None
            sync._setup(sessionmaker(engine.sync_engine, expire_on_commit=False), *options)
            sync._embed_texts = functools.partial(_await_embedding, sync)
            sync._serialize_setup = False
        else:
            sync._setup(threaded, *options)  # creates (and will dispose) the engine of a URL
            # Through a weak reference: the facade is not kept alive by its own sync_rag, so one
            # dropped without close() ends its worker thread at once (the executor goes with it).
            sync._embed_texts = _weakly(self._embedding_from_worker)
        #: The engine: an :class:`~sqlalchemy.ext.asyncio.AsyncEngine`, or the synchronous
        #: :class:`~sqlalchemy.engine.Engine` of a backend without an asyncio driver.
        self.engine: Union[AsyncEngine, Engine] = sync.engine if engine is None else engine
        #: The synchronous facade every method runs, in a greenlet (or the worker thread).
        self.sync_rag: VectorRAG = sync
        self._ready_lock: Optional[asyncio.Lock] = None
        # Over an asyncio driver: the event loop of the last call, the calls not ended (their callers may
        # have stopped waiting), and the close() under way.
        self._loop: Optional[asyncio.AbstractEventLoop] = None
        self._loop_lock = threading.Lock()
        self._running: "set[asyncio.Task[Any]]" = set()
        self._ending: Optional["asyncio.Task[None]"] = None

    @property
    def _threaded(self) -> bool:
        """Whether the backend has no asyncio driver, so its synchronous driver runs in ``_worker``."""
        return not isinstance(self.engine, AsyncEngine)

    def _embedding_from_worker(self, texts: List[str]) -> Any:
        # Called by the synchronous facade in the worker thread: a coroutine embedder is
        # awaited on the event loop waiting for this call, a plain one runs right here.
        embedder = self.sync_rag.embedder
        if getattr(embedder, "aembed", None) is None:
            return embedder.embed(texts)
        call: Optional[_WorkerCall] = getattr(self._calls, "current", None)
        if call is None:
            raise InvalidArgumentError(
                "this sync_rag belongs to an AsyncVectorRAG whose embedder is a coroutine one, which only the "
                "facade's own awaited methods can run: await the AsyncVectorRAG method, or make a VectorRAG "
                "for synchronous use"
            )
        loop = call.loop
        coroutine = _embed_on_loop(id(self), embedder, texts)
        try:
            future = asyncio.run_coroutine_threadsafe(coroutine, loop)
        except RuntimeError:  # the loop is closed already
            coroutine.close()
            raise
        while True:
            try:
                return future.result(timeout=_WORKER_POLL_S)
            except concurrent.futures.TimeoutError:
                # A loop that closed, or stopped after its caller gave up waiting, will not run the
                # coroutine: waiting on would hold this thread (and the interpreter's exit) for ever.
                if loop.is_closed() or (call.abandoned.is_set() and not loop.is_running()):
                    future.cancel()
                    coroutine.close()
                    raise RuntimeError(
                        "the event loop " + ("closed" if loop.is_closed() else "stopped")
                        + " before the embedder's aembed ran"
                    ) from None

    async def _run(self, fn: Callable[..., _T], /, *args: Any, **kwargs: Any) -> _T:
        if self._threaded:
            if _EMBEDDING_FOR.get() == id(self):
                raise InvalidArgumentError(
                    "the embedder called the AsyncVectorRAG it embeds for: the facade runs one call at a time, "
                    "so this call would wait for the one waiting for the embedder; give the embedder a facade "
                    "(or a cache) of its own"
                )
            closing = self._closing
            if closing is not None and not closing.done():  # calls made during close() run after it
                await asyncio.shield(asyncio.wrap_future(closing))
            loop = asyncio.get_running_loop()
            current = _WorkerCall(loop, threading.Event())

            def call() -> _T:
                self._calls.current = current
                try:
                    self.sync_rag._ensure_tables()
                    return fn(*args, **kwargs)
                finally:
                    del self._calls.current

            if self._worker is None:  # one thread, made on first use (again after close())
                self._worker = concurrent.futures.ThreadPoolExecutor(1, thread_name_prefix="sqlalchemy_vector")
            try:
                return await loop.run_in_executor(self._worker, call)
            except asyncio.CancelledError:
                current.abandoned.set()
                raise
        loop = asyncio.get_running_loop()
        self._enter_loop(loop)
        ending = self._ending
        if ending is not None and not ending.done():  # calls made during close() run after it
            await asyncio.shield(ending)
        work = _GreenletCall()
        task = loop.create_task(self._in_greenlet(work, fn, args, kwargs))
        self._running.add(task)
        task.add_done_callback(self._ended)
        try:
            return await asyncio.shield(task)
        except asyncio.CancelledError:
            work.cancel()  # it stops at its next embedding, or ends; close() waits for it
            raise

    async def _in_greenlet(
        self, call: _GreenletCall, fn: Callable[..., _T], args: Tuple[Any, ...], kwargs: Dict[str, Any]
    ) -> _T:
        _GREENLET_CALL.set(call)  # in this task's own context, which its greenlets run in
        if not self.sync_rag._tables_ready:
            if self._ready_lock is None:
                self._ready_lock = asyncio.Lock()
            async with self._ready_lock:
                await greenlet_spawn(self.sync_rag._ensure_tables)
        # Bound first: greenlet_spawn's own parameters (fn, _require_await) would take options so named.
        return await greenlet_spawn(functools.partial(fn, *args, **kwargs))  # type: ignore[no-any-return]

    def _ended(self, task: "asyncio.Task[Any]") -> None:
        self._running.discard(task)
        if not task.cancelled():
            task.exception()  # retrieved here: a caller that stopped waiting never will

    def _enter_loop(self, loop: asyncio.AbstractEventLoop) -> None:
        """Note the event loop of a call over an asyncio driver; refuse one while another loop runs.

        SQLAlchemy's asyncio pool serves one event loop at a time: two loops
        opening a pool's first connections at once wait for each other for
        ever (aiosqlite, asyncpg), and asyncpg runs a connection only on the
        loop that opened it.  So a call from a second loop while the first
        still runs (in another thread) raises.  One after the first loop
        stopped (``asyncio.run`` returned) goes on; under asyncpg, on an
        engine the facade created, with a new pool, the old one's connections
        dropped without closing (closing them needs their loop).
        """
        with self._loop_lock:
            previous = self._loop
            if previous is loop:
                return
            if previous is not None and previous.is_running():
                raise InvalidArgumentError(
                    "this AsyncVectorRAG is in use by an event loop running in another thread: SQLAlchemy's asyncio "
                    "pool serves one event loop at a time; give each thread's event loop an AsyncVectorRAG (and "
                    "engine) of its own"
                )
            self._loop = loop
            if previous is None:
                return
            self._running = {task for task in self._running if task.get_loop() is loop}
            self._ending = None
            self._ready_lock = None
            assert isinstance(self.engine, AsyncEngine)
            # Only an engine this facade created: one you passed is yours to dispose of (engine.dispose()).
            if self._owns_engine and self.engine.dialect.driver in _LOOP_BOUND_DRIVERS:
                self.engine.sync_engine.dispose(close=False)

    @property
    def embedder(self) -> Any:
        """The embedding model (see :attr:`VectorRAG.embedder`)."""
        return self.sync_rag.embedder

    @property
    def dimension(self) -> int:
        """Dimensions of the stored vectors."""
        return self.sync_rag.dimension

    @property
    def precision(self) -> str:
        """How the embeddings are stored (see :attr:`VectorRAG.precision`)."""
        return self.sync_rag.precision

    async def run_sync(self, fn: Callable[..., _T], /, *args: Any, **kwargs: Any) -> _T:
        """``fn(sync_rag, *args, **kwargs)``, run where this facade runs its own calls; its result.

        For functions written against :class:`VectorRAG`, as
        :meth:`sqlalchemy.ext.asyncio.AsyncSession.run_sync` is for those
        written against ``Session``: ``await rag.run_sync(export_parquet, path)``.
        """
        return await self._run(fn, self.sync_rag, *args, **kwargs)

    @property
    def document_model(self) -> type:
        """The mapped document class."""
        return self.sync_rag.document_model

    @property
    def embedding_model(self) -> Optional[type]:
        """The mapped embedding class, or None when documents carry their own embedding."""
        return self.sync_rag.embedding_model

    async def close(self) -> None:
        """Dispose of the engine if this facade created it from a URL, and end its worker thread if it has one."""
        if self._threaded:
            worker, self._worker = self._worker, None
            if worker is None:
                closing = self._closing
                if closing is not None and not closing.done():  # a close() under way
                    await asyncio.shield(asyncio.wrap_future(closing))
                else:
                    self.sync_rag.close()
                return
            # After the calls queued there; the thread ends once it has run it.  Cancelling
            # this close() stops the waiting only: the queued close still runs, and never
            # blocks the loop, whose embedder the running call may be waiting for.
            closing = self._closing = worker.submit(self.sync_rag.close)
            worker.shutdown(wait=False)
            try:
                await asyncio.shield(asyncio.wrap_future(closing))
            finally:
                if closing.done():
                    worker.shutdown(wait=True)  # the thread is ending: joined at once
        else:
            # After the calls made before it, cancelled ones included (disposing of the engine under them
            # would leave their connections to a pool no one closes).  Cancelling this close() stops the
            # waiting only: the close still runs once those calls end.
            loop = asyncio.get_running_loop()
            self._enter_loop(loop)
            ending = self._ending
            if ending is None or ending.done():
                calls = [task for task in self._running if task.get_loop() is loop]
                ending = self._ending = loop.create_task(self._end(calls))
            await asyncio.shield(ending)

    async def _end(self, calls: List["asyncio.Task[Any]"]) -> None:
        if calls:
            await asyncio.wait(calls)
        if self._owns_engine:
            assert isinstance(self.engine, AsyncEngine)
            await self.engine.dispose()

    async def __aenter__(self) -> "AsyncVectorRAG":
        return self

    async def __aexit__(self, *exc_info: Any) -> None:
        await self.close()

    def __repr__(self) -> str:
        return f"AsyncVectorRAG({self.engine.url.render_as_string(hide_password=True)!r}, embedder={self.embedder!r})"

    # -- writing

    async def load_document(
        self,
        content: str,
        metadata: Optional[Mapping[str, Any]] = None,
        document_id: Optional[DocumentId] = None,
        generate_embedding: bool = True,
    ) -> DocumentId:
        """See :meth:`VectorRAG.load_document`."""
        return await self._run(self.sync_rag.load_document, content, metadata, document_id, generate_embedding)

    async def load_documents(
        self,
        documents: Iterable[Mapping[str, Any]],
        generate_embeddings: bool = True,
        show_progress: bool = True,
        batch_size: int = 1000,
    ) -> List[DocumentId]:
        """See :meth:`VectorRAG.load_documents`."""
        return await self._run(self.sync_rag.load_documents, documents, generate_embeddings, show_progress, batch_size)

    async def update_document(
        self,
        document_id: DocumentId,
        content: Optional[str] = None,
        metadata: Optional[Mapping[str, Any]] = None,
    ) -> bool:
        """See :meth:`VectorRAG.update_document`."""
        return await self._run(self.sync_rag.update_document, document_id, content, metadata)

    async def delete_document(self, document_id: DocumentId) -> bool:
        """See :meth:`VectorRAG.delete_document`."""
        return await self._run(self.sync_rag.delete_document, document_id)

    async def delete_documents(
        self, ids: Optional[Sequence[DocumentId]] = None, filters: Optional[Filter] = None
    ) -> int:
        """See :meth:`VectorRAG.delete_documents`."""
        return await self._run(self.sync_rag.delete_documents, ids, filters)

    # -- reading

    async def get_document(self, document_id: DocumentId) -> Optional[Result]:
        """See :meth:`VectorRAG.get_document`."""
        return await self._run(self.sync_rag.get_document, document_id)

    async def get_documents(self, ids: Sequence[DocumentId]) -> List[Result]:
        """See :meth:`VectorRAG.get_documents`."""
        return await self._run(self.sync_rag.get_documents, ids)

    async def query(
        self,
        query_text: str,
        top_k: int = 5,
        similarity_threshold: Optional[float] = None,
        similarity_function: str = "cosine",
        filters: Optional[Filter] = None,
    ) -> List[Result]:
        """See :meth:`VectorRAG.query`."""
        return await self._run(
            self.sync_rag.query, query_text, top_k, similarity_threshold, similarity_function, filters
        )

    async def query_with_embedding(
        self,
        embedding: Any,
        top_k: int = 5,
        similarity_threshold: Optional[float] = None,
        similarity_function: str = "cosine",
        filters: Optional[Filter] = None,
    ) -> List[Result]:
        """See :meth:`VectorRAG.query_with_embedding`."""
        return await self._run(
            self.sync_rag.query_with_embedding, embedding, top_k, similarity_threshold, similarity_function, filters
        )

    async def query_batch(
        self,
        query_texts: Sequence[str],
        top_k: int = 5,
        similarity_threshold: Optional[float] = None,
        similarity_function: str = "cosine",
        filters: Optional[Filter] = None,
    ) -> List[List[Result]]:
        """See :meth:`VectorRAG.query_batch`."""
        return await self._run(
            self.sync_rag.query_batch, query_texts, top_k, similarity_threshold, similarity_function, filters
        )

    async def query_with_filters(
        self,
        filters: Filter,
        query_text: Optional[str] = None,
        top_k: int = 5,
        similarity_threshold: Optional[float] = None,
        similarity_function: str = "cosine",
    ) -> List[Result]:
        """See :meth:`VectorRAG.query_with_filters`."""
        return await self._run(
            self.sync_rag.query_with_filters, filters, query_text, top_k, similarity_threshold, similarity_function
        )

    async def find_similar_documents(
        self,
        document_id: DocumentId,
        top_k: int = 5,
        similarity_threshold: Optional[float] = None,
        similarity_function: str = "cosine",
        filters: Optional[Filter] = None,
    ) -> List[Result]:
        """See :meth:`VectorRAG.find_similar_documents`."""
        return await self._run(
            self.sync_rag.find_similar_documents, document_id, top_k, similarity_threshold, similarity_function, filters
        )

    async def get_statistics(self) -> Dict[str, Any]:
        """See :meth:`VectorRAG.get_statistics`."""
        return await self._run(self.sync_rag.get_statistics)

    # -- indexes

    async def create_index(self, index_name: str, similarity_function: str = "cosine", **kwargs: Any) -> None:
        """See :meth:`VectorRAG.create_index`."""
        await self._run(self.sync_rag.create_index, index_name, similarity_function, **kwargs)

    async def delete_index(self, index_name: str) -> bool:
        """See :meth:`VectorRAG.delete_index`."""
        return await self._run(self.sync_rag.delete_index, index_name)

    # -- full-text and hybrid search

    async def create_fulltext_index(self, index_name: Optional[str] = None, language: str = "english") -> None:
        """See :meth:`VectorRAG.create_fulltext_index`."""
        await self._run(self.sync_rag.create_fulltext_index, index_name, language)

    async def hybrid_query(
        self,
        query_text: str,
        top_k: int = 5,
        filters: Optional[Filter] = None,
        weights: Sequence[float] = (1.0, 1.0),
        rrf_k: Optional[Union[int, Tuple[int, int]]] = None,
        fetch_k: Optional[Union[int, Tuple[int, int]]] = None,
        similarity_function: str = "cosine",
        match_all: bool = False,
    ) -> List[Result]:
        """See :meth:`VectorRAG.hybrid_query`."""
        return await self._run(
            self.sync_rag.hybrid_query, query_text, top_k, filters, weights, rrf_k, fetch_k, similarity_function,
            match_all,
        )

    async def mmr_query(
        self,
        query_text: str,
        top_k: int = 5,
        fetch_k: int = 20,
        lambda_mult: float = 0.5,
        filters: Optional[Filter] = None,
        similarity_function: str = "cosine",
        mode: str = "vector",
    ) -> List[Result]:
        """See :meth:`VectorRAG.mmr_query`."""
        return await self._run(
            self.sync_rag.mmr_query, query_text, top_k, fetch_k, lambda_mult, filters, similarity_function, mode
        )


#: ``VectorIndex`` arguments that ``create_index`` sets itself or cannot use, and what to do instead.
_FACADE_INDEX_ARGUMENTS = {
    "name": "give the name as index_name, the first argument",
    "column": "leave column out: the index is on the embeddings column",
    "metric": "give the metric as similarity_function (e.g. similarity_function='l2')",
    "quantization": "the facade's searches read full-precision indexes only; build a quantized one with "
    "VectorIndex(..., quantization=...) and search it with knn(..., rerank=...)",
}


def _check_index_options(index_name: str, options: Dict[str, Any]) -> None:
    """Refuse options ``create_index`` sets itself, which ``VectorIndex`` would get twice."""
    taken = [name for name in _FACADE_INDEX_ARGUMENTS if name in options]
    if taken:
        raise InvalidArgumentError(
            f"create_index({index_name!r}) does not take {', '.join(taken)}, but got "
            f"{', '.join(f'{name}={options[name]!r}' for name in taken)}: "
            + "; ".join(_FACADE_INDEX_ARGUMENTS[name] for name in taken)
        )


def _check_embedder(embedder: Any) -> None:
    """Refuse what cannot embed: a class instead of an instance, a function, a name; a dimension that is not
    a positive integer, a model name that is not a string."""
    missing = [name for name in ("dimension", "model_name", "embed") if isinstance(embedder, type) or not hasattr(embedder, name)]
    if missing:
        hint = f"; pass an instance, e.g. {embedder.__name__}(...)" if isinstance(embedder, type) else ""
        raise ModelConfigurationError(
            f"embedder {embedder!r} has no {', '.join(map(repr, missing))}: an embedder is an object with "
            f"dimension, model_name and embed(texts) (see sqlalchemy_vector.embedding){hint}"
        )
    dimension = whole_number(embedder.dimension)
    if dimension is None or dimension < 1:
        raise ModelConfigurationError(
            f"embedder {embedder!r} has dimension {embedder.dimension!r}; it must be a positive integer"
        )
    if not isinstance(embedder.model_name, str) or not embedder.model_name:
        raise ModelConfigurationError(
            f"embedder {embedder!r} has model_name {embedder.model_name!r}; it must be a non-empty string "
            "(stored with each embedding)"
        )


class _SharedLock:
    """Held by many calls at once, or by one alone; a call waiting to hold it alone holds new ones back.

    A thread already holding it shared may take it shared again (a facade
    call made from inside another, such as an embedder's).
    """

    def __init__(self) -> None:
        self._condition = threading.Condition()
        self._shared = 0
        self._alone = False
        self._waiting = 0
        self._depth = threading.local()

    @contextlib.contextmanager
    def hold(self, alone: bool = False) -> Iterator[None]:
        depth = getattr(self._depth, "value", 0)
        if not alone and depth:
            self._depth.value = depth + 1
            try:
                yield
            finally:
                self._depth.value = depth
            return
        with self._condition:
            if alone:
                self._waiting += 1
                try:
                    self._condition.wait_for(lambda: not self._alone and not self._shared)
                finally:
                    self._waiting -= 1
                    self._condition.notify_all()  # calls held back for this one go on if it gave up
                self._alone = True
            else:
                self._condition.wait_for(lambda: not self._alone and not self._waiting)
                self._shared += 1
                self._depth.value = 1
        try:
            yield
        finally:
            with self._condition:
                if alone:
                    self._alone = False
                else:
                    self._shared -= 1
                    self._depth.value = 0
                self._condition.notify_all()


_INDEX_LOCKS: Dict[str, _SharedLock] = {}
_INDEX_LOCKS_GUARD = threading.Lock()


def _index_lock(engine: Engine) -> Optional[_SharedLock]:
    """The lock the facades of this process share for one database, where index changes must be alone."""
    if not backend_for(engine.dialect).capabilities.index_changes_exclusive:
        return None
    key = engine.url.render_as_string(hide_password=False)
    with _INDEX_LOCKS_GUARD:
        return _INDEX_LOCKS.setdefault(key, _SharedLock())


def _index_serving(catalog: List[Dict[str, Any]], metric: str, column_name: str) -> Optional[str]:
    """The name of an index of ``catalog`` on ``column_name`` serving ``metric``, if there is one."""
    for found in catalog:
        if found["metric"] == metric and found["column"] == column_name:
            return str(found["name"])
    return None


def _refuse_asyncio_driver(bind: Any) -> None:
    """``VectorRAG`` runs synchronously: an asyncio driver's URL or engine belongs to ``AsyncVectorRAG``."""
    engine = bind.kw.get("bind") if isinstance(bind, sessionmaker) else bind
    if isinstance(engine, (str, URL)):
        url = make_url(engine)
        asynchronous = url.get_driver_name() in backend_for(url.get_dialect()).capabilities.async_drivers
    elif isinstance(engine, Engine):
        url, asynchronous = engine.url, engine.dialect.is_async
    else:
        return
    if asynchronous:
        raise ModelConfigurationError(
            f"VectorRAG got the asyncio driver {url.drivername!r}: use AsyncVectorRAG with it, or "
            f"VectorRAG with a synchronous driver ({url.get_backend_name()}://...)"
        )


def _index_metric(similarity_function: str) -> str:
    if not isinstance(similarity_function, str) or similarity_function not in SIMILARITY_FUNCTIONS:
        raise UnsupportedMetricError(
            f"unknown similarity_function {similarity_function!r}; expected one of {', '.join(SIMILARITY_FUNCTIONS)}"
        )
    return SIMILARITY_FUNCTIONS[similarity_function]


def _text(value: Any) -> str:
    if not isinstance(value, str):
        raise InvalidArgumentError(f"query_text must be a string, got {type(value).__name__}")
    return value


def _texts(values: Any) -> List[Any]:
    if isinstance(values, (str, bytes, bytearray, memoryview, abc.Mapping)) or not isinstance(values, abc.Iterable):
        raise InvalidArgumentError(
            f"query_texts must be a list of strings, got {_type_name(values)} {values!r:.60}; "
            "wrap it in a list or use query()"
        )
    return list(values)


# -- full-text and hybrid search (helpers of the facades' methods) ------------------------------------


def _content_column(store: _Store) -> Any:
    return _column(store.D, "content")


def _fusion_constant(embedder: Any, rrf_k: Any) -> Any:
    """``rrf_k``, or the embedder's preferred (vector, text) RRF constants, or the standard 60."""
    if rrf_k is not None:
        return rrf_k
    preferred = getattr(embedder, "hybrid_rrf_k", None)
    return 60 if preferred is None else preferred


def _create_fulltext(session: Session, store: _Store, index_name: Optional[str], language: str) -> None:
    from .fulltext import FullTextSpec, create_fulltext_index, list_fulltext_indexes

    table = store.D.__table__
    name = index_name or f"{table.name}_content_fts"
    spec = FullTextSpec(name, table, table.c[_content_column(store).name], language)
    if any(found["name"] == name for found in list_fulltext_indexes(session, table)):
        raise VectorIndexError(
            f"create_fulltext_index({name!r}): {table.name} has a full-text index named {name!r} already; "
            "drop it first (sqlalchemy_vector.drop_fulltext_index) or choose another name"
        )
    create_fulltext_index(session, spec)


def _fresh_fulltext(session: Session, store: _Store) -> Any:
    """The documents' full-text index, rebuilt first where it does not follow writes and is stale."""
    from .fulltext import FullTextSpec, list_fulltext_indexes, refresh_fulltext_index, require_fulltext

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
    from .fulltext import note_fulltext_write

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
    from .hybrid import hybrid_rows, hybrid_select

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
    """Re-rank ``candidates`` by maximal marginal relevance over their stored vectors."""
    from .mmr import maximal_marginal_relevance

    models = store.models
    owner = store.D if models.single_table else store.E
    key = store.D.id if models.single_table else store.E.document_id
    vectors: Dict[Any, FloatArray] = {}
    ids = [r["document_id"] for r in candidates]
    for chunk in _chunks(ids):
        statement = select(key, models.vector).where(key.in_(chunk), models.vector.is_not(None))
        if models.has_model_name:
            statement = statement.where(owner.model_name == store.model_name)
        for document_id, vector in session.execute(statement):
            vectors.setdefault(document_id, vector)
    usable = [r for r in candidates if r["document_id"] in vectors]
    order = maximal_marginal_relevance(query, [vectors[r["document_id"]] for r in usable], top_k, lambda_mult)
    return [usable[i] for i in order]
