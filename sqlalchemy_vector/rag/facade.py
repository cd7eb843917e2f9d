"""The synchronous facade, :class:`VectorRAG`."""

from __future__ import annotations

import collections.abc as abc
import contextlib
import time
from typing import (
    Any,
    Callable,
    Dict,
    Iterable,
    Iterator,
    List,
    Mapping,
    Optional,
    Sequence,
    Tuple,
    Union,
)

import numpy as np
from sqlalchemy import Integer, Table, Uuid, inspect, select, text, true
from sqlalchemy.engine import URL, Connection, Engine
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncEngine
from sqlalchemy.orm import Session, sessionmaker
from sqlalchemy.pool import SingletonThreadPool, StaticPool
from sqlalchemy.sql import ColumnElement
from sqlalchemy.sql.expression import Executable

from ..dialects.base import backend_for
from ..engine import attach, create_engine
from ..exc import (
    DimensionLimitError,
    InvalidDocumentError,
    InvalidArgumentError,
    InvalidFilterError,
    InvalidVectorError,
    ModelConfigurationError,
    SchemaMismatchError,
    SharedConnectionError,
    UnsupportedKindError,
    UnsupportedMetricError,
    VectorIndexError,
)
from ..filters import Filter, check_nesting, metadata_filter
from ..functions import SIMILARITY_FUNCTIONS
from ..index import index_dimension_limit
from ..mmr import _check_lambda_mult
from ..orm import INT64_RANGE, check_identifier
from ..search import MAX_LIMIT
from ..kinds import PRECISIONS, precision_of
from ..types import flag, has_booleans, positive_integer, real_number, to_float32, unhandled_norm, whole_number
from .inputs import (
    _check_embedder,
    _check_index_options,
    _check_json,
    _check_text,
    _fusion_constant,
    _id_kind,
    _index_metric,
    _refuse_asyncio_driver,
    _text,
    _texts,
    _type_name,
)
from .locks import _index_lock, _setup_lock
from .store import (
    DocumentId,
    FloatArray,
    Result,
    _Models,
    _Prepared,
    _Store,
    _T,
    _UUID_HEX,
    _column,
    _create_fulltext,
    _fresh_fulltext,
    _hybrid_search,
    _key_kind,
    _mmr_pick,
    _reflected_types,
)


_DOCUMENT_KEYS = frozenset({"content", "metadata", "document_id", "embedding"})


# -- what both facades hold --------------------------------------------------------------------------


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
        id_type: Optional[type] = None,
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
        self._models = _Models.resolve(document_model, embedding_model, dimension, distributed, precision, id_type)
        if embedder is None:
            from ..embedding import HashingEmbedder

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
        from ..dialects.base import backends

        reason = backend.capabilities.missing_kinds.get(kind, "no native form")
        able = [b.name for b in backends() if kind in b.capabilities.vector_kinds]
        raise UnsupportedKindError(
            f"precision={self.precision!r}: {backend.name} cannot store {kind} vectors ({reason}); use "
            "precision='float32' (the default) there"
            + (f", or a database that stores them ({', '.join(able)})" if able else "")
        )

    @property
    def document_model(self) -> type:
        """The mapped class of the documents (the default models unless you gave your own)."""
        return self._models.document

    @property
    def embedding_model(self) -> Optional[type]:
        """The mapped class of the embeddings (``None`` for documents that hold their own vectors).

        The default models are shared by every facade of the same dimension in
        the process: an index declared on their table (``VectorIndex(..., E.__table__.c.embedding)``)
        joins it and is created with it wherever a facade creates its tables.
        Build indexes with :meth:`create_index`, or declare one for ``knn()`` on a copy of the table
        (``E.__table__.to_metadata(MetaData())``).
        """
        return self._models.embedding

    def _checked(self, vectors: Any, count: int, labels: Optional[Sequence[str]] = None) -> FloatArray:
        from ..embedding import check_embeddings

        return check_embeddings(vectors, count, self.dimension, f"embedder {self.embedder.model_name!r}", labels)

    def _directed(self, vectors: FloatArray, texts: Sequence[str], names: Sequence[str], function: str) -> FloatArray:
        """``vectors``, or, under cosine, the error naming a query text the embedder made a vector of zeros of."""
        if SIMILARITY_FUNCTIONS[function] == "cosine":
            for vector, text, name in zip(vectors, texts, names):
                if not vector.any():
                    raise InvalidVectorError(
                        f"{name} {text!r:.60} embeds as all zeros with embedder {self.embedder.model_name!r} "
                        "(a text with no word it knows: for the lexical embedder, empty or only stop words), which "
                        "has no direction under cosine; search with other words, or with "
                        "similarity_function='euclidean' or 'inner_product'"
                    )
        return vectors

    def _query_vector(self, embedding: Any) -> FloatArray:
        return to_float32(embedding, self.dimension, "query embedding")

    def _where(self, filters: Optional[Filter]) -> Optional[ColumnElement[bool]]:
        if filters is None:
            return None
        if isinstance(filters, abc.Mapping) and not filters:
            return true()  # every document: no metadata read, so also where the model has none
        if not self._models.has_metadata:
            raise InvalidFilterError(
                f"filters {filters!r} need a metadata column, but {self._models.document.__name__} has none "
                "(declared absent in __column_names__); map the table's JSON column as metadata_ to filter"
            )
        if isinstance(filters, abc.Mapping):
            check_nesting(filters)  # before the checks below recurse into it
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
            if np.isfinite(matrix).all() and unhandled_norm(matrix) is None:
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


_DDL_ATTEMPTS = 5


def _owned(bind: Any) -> bool:
    return isinstance(bind, (str, URL))


# -- the synchronous facade --------------------------------------------------------------------------------


class VectorRAG(_Facade):
    """Load documents with embeddings and search them, on PostgreSQL, SQLite, DuckDB or ClickHouse.

    ``bind`` is an :class:`~sqlalchemy.engine.Engine`, a database URL (an engine
    is created with :func:`sqlalchemy_vector.create_engine` and disposed by
    :meth:`close`), or a :class:`~sqlalchemy.orm.sessionmaker`; an engine made
    elsewhere (given, or a sessionmaker's) is prepared in place, as
    :func:`sqlalchemy_vector.attach` does.  Without models
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

    ``id_type`` keys the default models' documents and embeddings: ``str``
    (the default: UUID strings, and any string given), ``uuid.UUID`` (UUID
    values, stored in the database's native UUID type where it has one; on
    PostgreSQL the narrower rows make exact searches read a fifth fewer
    pages) or ``int`` (database-generated).  Tables already made keep their
    keys: opened with another key type they raise
    :class:`~sqlalchemy_vector.exc.SchemaMismatchError`.
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
        id_type: Optional[type] = None,
    ) -> None:
        _refuse_asyncio_driver(bind)
        self._setup(bind, document_model, embedding_model, embedder, dimension, distributed, precision, id_type)
        self._ensure_tables(missing_ok=True)  # your models' tables may be created after the facade

    def _setup(
        self,
        bind: Any,
        document_model: Optional[type],
        embedding_model: Optional[type],
        embedder: Any,
        dimension: Optional[int],
        distributed: bool = False,
        precision: Optional[str] = None,
        id_type: Optional[type] = None,
    ) -> None:
        super().__init__(document_model, embedding_model, embedder, dimension, distributed, precision, id_type)
        self._owns_engine = _owned(bind)
        if isinstance(bind, sessionmaker):
            engine = bind.kw.get("bind")
            if not isinstance(engine, Engine):
                raise ModelConfigurationError(
                    "the sessionmaker given to VectorRAG has no Engine bind; create it as sessionmaker(engine)"
                )
            engine = attach(engine)  # prepared as an Engine bind is: created elsewhere, it may not be yet
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
        #: The pool gives every caller (of a thread) one connection: an in-memory database's.
        self._shared_pool = isinstance(engine.pool, (SingletonThreadPool, StaticPool))
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

    def _ensure_tables(self, missing_ok: bool = False) -> None:
        """Create the default tables if missing, and check the tables found (once per facade).

        Your models' tables are never created here: one missing raises
        :class:`SchemaMismatchError` naming it, unless ``missing_ok`` (the
        constructor's call: they may be created between it and the first use),
        and is looked for again at the next call.

        Facades opening one new database at once (threads, processes) may race
        to create its tables: creation is serialised within the process and an
        ``already exists`` from another connection is met by looking again.
        """
        if self._tables_ready:
            return
        self._refuse_open_transaction()  # create_all() would commit it
        lock = _setup_lock(self.engine) if self._serialize_setup else contextlib.nullcontext()
        with lock:
            with self._explained_errors():
                if self._distribution:  # before creating anything: no Citus, no tables
                    with self.engine.connect() as connection:
                        backend_for(connection.dialect).ensure_distribution_support(connection)
                if self._models.create_tables:
                    self._create_tables()
                if self._distribution:
                    self._distribute_tables()
                with self.engine.connect() as connection:
                    missing = self._check_tables(connection)
                    if not missing:
                        self._adopt_former_model_name(connection)
                        self._refuse_retired_vectors(connection)
            if missing:
                if missing_ok:
                    return
                names = " and ".join(f"{table.name!r} ({model.__name__})" for model, table in missing)
                verb = "tables {} do" if len(missing) > 1 else "table {} does"
                raise SchemaMismatchError(
                    f"{verb.format(names)} not exist in the database; the facade creates only the tables of its "
                    "default models: create yours first, e.g. "
                    f"{missing[0][0].__name__}.metadata.create_all(engine), or with an Alembic migration"
                )
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

    def _adopt_former_model_name(self, connection: Connection) -> None:
        """Keep the name an earlier release recorded for this embedder's vectors, where the database holds them so.

        An embedder may list ``former_model_names``, names its vectors were
        stored under before (``HashingEmbedder``'s version 2, and the long name
        of its defaults).  A database holding vectors under one of them and
        none under ``model_name`` is searched and written under that name: else
        searches would find none of its vectors, and new ones would be a second
        model.  An embedder with ``for_model_name(name)`` is replaced by the
        one it returns, which makes the vectors stored under that name
        (``HashingEmbedder`` at version 2).
        """
        store = self._store
        former = [name for name in getattr(self.embedder, "former_model_names", ()) if isinstance(name, str)]
        if not former or not self._models.has_model_name:
            return
        column = store.E.model_name
        if connection.execute(select(column).where(column == store.model_name).limit(1)).first() is not None:
            return
        found = connection.execute(select(column).where(column.in_(former)).limit(1)).scalar()
        if found is None:
            return
        store.model_name = str(found)
        remake = getattr(self.embedder, "for_model_name", None)
        if callable(remake):
            embedder = remake(store.model_name)
            if self._embed_texts == self.embedder.embed:  # the async facade calls the embedder it finds here
                self._embed_texts = embedder.embed
            self.embedder = embedder

    def _refuse_retired_vectors(self, connection: Connection) -> None:
        """Refuse a database whose vectors an earlier version of the embedder made, which it no longer makes.

        An embedder with ``retired_model_name(name)`` (``HashingEmbedder``: its
        version 1) says which names those are; one with ``newer_model_name(name)``
        which names a later release made (the fix there is an upgrade).  Where the database holds such
        vectors and none under the name in use, every search would find none
        of its documents, and new ones would be a second model beside them.
        """
        retired = getattr(self.embedder, "retired_model_name", None)
        newer = getattr(self.embedder, "newer_model_name", None)
        if not callable(retired) and not callable(newer):
            return
        store = self._store
        instead = store.models_instead(connection)
        kind = type(self.embedder).__name__
        for made_by, made, outcome in (
            (
                newer,
                f"made by a version of {kind} newer than this release knows",
                "a later release of sqlalchemy-vector wrote them. Upgrade it (pip install -U sqlalchemy-vector) to "
                "search this database",
            ),
            (
                retired,
                f"made by an earlier version of {kind} that this release no longer makes",
                "searches would find none of its documents. Embed them again into a new database "
                "(VectorRAG.load_documents; the command-line tool: ingest the files with another --db)",
            ),
        ):
            names = [name for name in instead if callable(made_by) and made_by(name)]
            if names:
                raise ModelConfigurationError(
                    f"table {store.vector_table.name!r} holds vectors of {', '.join(map(repr, names))} (column "
                    f"{store.E.model_name.key!r}), {made}, and none of {store.model_name!r}: {outcome}"
                )

    def _check_tables(self, connection: Connection) -> List[Tuple[type, Table]]:
        """The tables found must have the columns the models use, and the vector column their dimension.

        Returns the models whose tables are not in the database, with their tables.
        """
        backend = backend_for(connection.dialect)
        inspector = inspect(connection)
        vector_column = self._models.vector.property.columns[0]
        absent: List[Tuple[type, Table]] = []
        for model in (self._models.document, self._models.embedding):
            if model is None:
                continue
            table: Table = model.__table__  # type: ignore[attr-defined]
            if not inspector.has_table(table.name, schema=table.schema):
                absent.append((model, table))
                continue
            # One stored row, as the driver gives it (no column types applied): its columns, and its keys' kinds.
            result = connection.execute(select(text("*")).select_from(table).limit(1))
            found = set(result.keys())
            row = result.mappings().first()
            missing = [c.name for c in table.columns if c.name not in found]
            if missing:
                raise SchemaMismatchError(
                    f"table {table.name!r} exists without the column(s) {', '.join(map(repr, missing))} that "
                    f"{model.__name__} maps (it has {', '.join(map(repr, sorted(found)))}); migrate the table, "
                    "or open it with models that match it"
                )
            self._check_keys(connection, inspector, model, table, row)
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
                migrate = (
                    "or migrate the column (Alembic with op.alter_vector_dimension)"
                    if backend.dimension_change_refusal(table.name, vector_column.name, self.dimension, declared) is None
                    else f"or add a Vector({self.dimension}) column, fill it with new embeddings and drop the old one"
                )
                raise SchemaMismatchError(
                    f"column {table.name}.{vector_column.name} in the database stores {declared}-dimensional "
                    f"vectors, but this facade expects {self.dimension} ({vector_column.type!r}); open it with "
                    f"dimension={declared} and an embedder of that size, use another table or database, {migrate}"
                )
        return absent

    def _check_keys(
        self, connection: Connection, inspector: Any, model: type, table: Table, row: Optional[Mapping[Any, Any]]
    ) -> None:
        """A key column must hold keys of the kind the model's key type reads and writes: text, UUID or integer.

        Keys of another kind would be looked up in the wrong form: PostgreSQL
        refuses the comparison, DuckDB and SQLite find nothing, and SQLite
        writes new keys in a second form beside the stored ones.  Read from
        ``row``, one stored row as the driver gives it (an ``int``, a
        ``uuid.UUID`` for a native UUID, else a ``str``), which costs less than
        reflecting the table; an empty table (no row) is reflected where the
        database has a UUID type.
        """
        keys = [_column(model, name) for name in ("id", "document_id") if name in model.__mapper__.attrs]  # type: ignore[attr-defined]
        keys = [key for key in keys if key.table is table]
        if not keys:
            return
        native = connection.dialect.supports_native_uuid
        reflected = _reflected_types(inspector, table.name, table.schema) if row is None and native else {}
        for key in keys:
            value = None if row is None else row[key.name]
            stored = _key_kind(value, reflected.get(key.name))
            declared = _declared_key_kind(key.type, native)
            if stored is None or stored == declared:
                continue
            if declared == "uuid hex" and stored == "text":
                # Stored as its 32 hexadecimal digits (where the database has no UUID type, or the key asks so);
                # an empty table's text column says nothing more.
                if value is None or _UUID_HEX.fullmatch(str(value)):
                    continue
                held = f"keys such as {str(value)!r:.60}, not the 32 hexadecimal digits a UUID key is stored as here"
            else:
                held = f"{_KEY_KINDS[stored]} keys" + (f" such as {value!r:.60}" if stored == "text" and value is not None else "")
            migrate = (
                ", or migrate the keys (see 'From text keys to native UUID keys' in docs/alembic.md)"
                if stored == "text" and declared == "uuid" else ""
            )
            raise SchemaMismatchError(
                f"column {table.name}.{key.name} in the database holds {held}, but {model.__name__} declares "
                f"{key.type!r}; open it with {_KEY_FIXES[stored]}{migrate}"
            )

    def _check_compact_column(self, inspector: Any, table: Table, vector_column: Any) -> None:
        """A column of a compact kind in the database must be the precision this facade stores."""
        found = _reflected_types(inspector, table.name, table.schema).get(vector_column.name)
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
        self._refuse_open_transaction()
        self._ensure_tables()
        lock = self._index_lock
        with self._explained_errors():
            with contextlib.nullcontext() if lock is None else lock.hold(exclusive), self._sessions() as session:
                yield session

    def _refuse_open_transaction(self) -> None:
        """Refuse to run in a transaction of the application's, on a connection the engine's pool shares with it.

        Such a pool (an in-memory database's) gives the facade's session the
        connection a ``Session`` of yours may have writes pending on: the
        facade's commit would commit them, its rollback (a read's end too)
        discard them.  Other pools give the facade a connection of its own.
        """
        if not self._shared_pool:
            return
        pool = self.engine.pool
        backend = backend_for(self.engine.dialect)
        if isinstance(pool, StaticPool):
            # Looked at in place: a checkout of it would roll it back when returned.
            driver = pool.connection.driver_connection
            found = driver is not None and backend.transaction_open(driver)
        else:
            with self.engine.connect() as probe:  # the thread's connection, shared with its holder: not reset
                found = backend.transaction_open(probe.connection.driver_connection)
        if found:
            raise SharedConnectionError.of(self.engine.url, type(pool).__name__)

    @contextlib.contextmanager
    def _explained_errors(self) -> Iterator[None]:
        """A driver error the backend can say more about (a database another connection holds) raised as its own."""
        try:
            yield
        except DBAPIError as err:
            explained = backend_for(self.engine.dialect).explain_error(err, self.engine.url)
            if explained is None:
                raise
            raise explained from err

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

    def _embed(self, texts: Sequence[str], labels: Optional[Sequence[str]] = None) -> FloatArray:
        """``texts`` embedded and checked; ``labels`` name the input each text came from in an error."""
        if not texts:
            return np.zeros((0, self.dimension), dtype=np.float32)
        return self._checked(self._embed_texts(list(texts)), len(texts), labels)

    def _read(self, fn: Callable[..., _T], *args: Any) -> _T:
        with self._session() as session:
            return fn(session, *args)

    def _write(self, fn: Callable[..., _T], *args: Any) -> _T:
        with self._session() as session, session.begin():
            self._store.begin_write(session)
            return fn(session, *args)

    def _fulltext(self) -> Any:
        """The documents' full-text index, up to date (see :func:`_fresh_fulltext`).

        An index that does not follow writes is rebuilt by the first hybrid
        query after one, under the writers' lock; a rebuild that meets another
        committed since its transaction began fails on it (a catalog
        write-write conflict), and looks again in a transaction begun after
        the lock (none is taken when the index is up to date).
        """
        backend = backend_for(self.engine.dialect)
        for attempt in range(_DDL_ATTEMPTS - 1):
            try:
                return self._read_in_transaction(_fresh_fulltext, self._store, attempt > 0)
            except DBAPIError as err:
                if not backend.is_concurrent_ddl_error(err):
                    raise
        return self._read_in_transaction(_fresh_fulltext, self._store, True)

    def _read_in_transaction(self, fn: Callable[..., _T], *args: Any) -> _T:
        """:meth:`_read` in a transaction committed at the end: a read that may write (not begun as a write)."""
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
            self._store.begin_write(session)
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
        Rows go through the backend's bulk path.  If anything fails (the
        embedder too, on any batch), nothing is stored; on a backend without
        transactions (ClickHouse) the batches written before stay.
        """
        generate_embeddings = flag("load_documents(generate_embeddings=...)", generate_embeddings)
        progress = self._progress(documents, flag("load_documents(show_progress=...)", show_progress))
        ids: List[DocumentId] = []
        try:
            with self._session() as session, session.begin():
                for batch, missing in self._batches(documents, batch_size, generate_embeddings):
                    if missing:
                        offset = len(ids)  # the documents stored before this batch, one id each
                        vectors = self._embed(
                            [batch[i].content for i in missing], [f"documents[{offset + i}]" for i in missing]
                        )
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
            self._store.lock_writers(session)
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
        where = self._where(filters)  # before anything is embedded
        query_text = _text(query_text)
        vector = self._directed(self._embed([query_text]), [query_text], ["query_text"], similarity_function)[0]
        return self._read(self._store.search, vector, top_k, similarity_threshold, similarity_function, where)

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
        texts = [_text(t, f"query_texts[{i}]") for i, t in enumerate(_texts(query_texts))]
        where = self._where(filters)  # before anything is embedded
        names = [f"query_texts[{i}]" for i in range(len(texts))]
        vectors = self._directed(self._embed(texts, names), texts, names, similarity_function)
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
        query_text = _text(query_text)
        vector = self._directed(self._embed([query_text]), [query_text], ["query_text"], similarity_function)[0]
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

        A document with several embeddings of the model (chunks) is searched
        for by their mean.  Raises
        :class:`~sqlalchemy_vector.exc.DocumentNotFoundError` for an unknown
        id; a document without an embedding has no similar documents.
        """
        self._check_lookup(document_id, "find_similar_documents(): document_id")
        top_k = self._check_search(top_k, similarity_threshold, similarity_function)
        where = self._where(filters)
        with self._session() as session:
            anchor, count = self._store.anchor(session, document_id)
            if anchor is None:
                self._store.refuse_other_models(session)  # vectors of another model only: not "no embedding"
                return []
            if SIMILARITY_FUNCTIONS[similarity_function] == "cosine" and not np.asarray(anchor).any():
                stored = "stored embedding is" if count == 1 else f"{count} stored embeddings have a mean that is"
                raise InvalidVectorError(
                    f"find_similar_documents({document_id!r:.40}): the document's {stored} all zeros, "
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
        try:
            self._changing_indexes(self._store.create_index, index_name, metric, kwargs)
        except DBAPIError as err:
            # Another connection created one of that name after this one looked: the same error as had it been first
            # (also when a third has dropped it again since: the database said so, "already exists").
            raced = backend_for(self.engine.dialect).is_concurrent_ddl_error(err) and index_name in str(err.orig)
            if not raced and not any(found["name"] == index_name for found in self._read(self._store.indexes)):
                raise
            raise self._store.index_exists(index_name) from err

    def delete_index(self, index_name: str) -> bool:
        """Drop a vector index on the embeddings; False if there is none of that name."""
        check_identifier(index_name, "index_name", VectorIndexError)
        return self._changing_indexes(self._store.drop_index, index_name)

    def rebuild_index(self, index_name: str, **kwargs: Any) -> None:
        """Build the vector index ``index_name`` again over the rows stored now, under the same name and metric.

        Built by :func:`~sqlalchemy_vector.rebuild_vector_index` in one
        transaction (ClickHouse has none): on PostgreSQL beside the old index,
        which searches read meanwhile, elsewhere after dropping it.  Declared
        from what the catalog reports of it (metric, method, the build
        options PostgreSQL and ClickHouse report); ``kwargs`` are
        :class:`~sqlalchemy_vector.index.VectorIndex` options that replace those
        (DuckDB's catalog keeps no ``m`` or ``ef_construction``: give them again,
        or the defaults apply).  It takes as long as the first build.  Run it
        after a batch of updates or deletes where the index needs it: DuckDB's
        HNSW index can lose live rows after rows are replaced
        (:class:`~sqlalchemy_vector.exc.IndexMaintenanceWarning`), and an
        IVFFlat index keeps the lists it was trained on.  A name that is not a
        vector index of the embeddings raises
        :class:`~sqlalchemy_vector.exc.VectorIndexError`.
        """
        check_identifier(index_name, "index_name", VectorIndexError)
        _check_index_options(index_name, kwargs, "rebuild_index")
        self._check_index_dimension(index_name)
        self._changing_indexes(self._store.rebuild_index, index_name, kwargs)

    def _check_index_dimension(self, index_name: str) -> None:
        backend = backend_for(self.engine.dialect)
        capabilities = backend.capabilities
        # The limit of the kind the embeddings are stored in: pgvector indexes halfvec up to 4,000 dimensions.
        limit = index_dimension_limit(backend, PRECISIONS.get(self.precision))
        if limit is not None and self.dimension > limit:
            raise DimensionLimitError(
                f"index {index_name!r}: {capabilities.index_provider} indexes {self.precision} vectors of at most "
                f"{limit} dimensions, "
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
        from ..hybrid import _check_weights

        top_k = self._check_search(top_k, None, similarity_function)
        weights = _check_weights(weights)  # before anything is embedded
        match_all = flag("hybrid_query(match_all=...)", match_all)
        where = self._where(filters)
        query_text = _text(query_text)
        spec = self._fulltext()  # no index (or none on this backend): nothing embedded
        vector = self._embed([query_text])[0]
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
        _check_lambda_mult(lambda_mult)
        where = self._where(filters)
        query_text = _text(query_text)
        spec = self._fulltext() if mode == "hybrid" else None
        vector = self._embed([query_text])[0]  # after every check: nothing is embedded for a call refused
        if spec is None:  # hybrid search ranks by text alone where the vector has no direction
            self._directed(vector[np.newaxis], [query_text], ["query_text"], similarity_function)
        depth = max(fetch_k, top_k)
        if spec is not None:
            candidates = self._read(
                _hybrid_search, self._store, spec, query_text, vector, depth, where, (1.0, 1.0),
                _fusion_constant(self.embedder, None), None, similarity_function, False,
            )
        else:
            candidates = self._read(self._store.search, vector, depth, None, similarity_function, where)
        return self._read(_mmr_pick, self._store, vector, candidates, top_k, lambda_mult)


#: The kinds of stored keys, as an error names them, and the models that read each.
_KEY_KINDS = {"text": "text", "uuid": "native UUID", "int": "integer"}
_KEY_FIXES = {
    "text": "models keyed by strings (the default models; id_type=str)",
    "uuid": "models keyed by uuid.UUID (VectorRAG(url, id_type=uuid.UUID) for the facade's own tables, "
    "make_models(..., id_type=uuid.UUID), or __id_type__ = uuid.UUID in your mixins)",
    "int": "models keyed by integers (VectorRAG(url, id_type=int) for the facade's own tables, "
    "make_models(..., id_type=int), or __id_type__ = int in your mixins)",
}


def _declared_key_kind(key_type: Any, native: bool) -> str:
    """What a model's key type stores: ``int``, ``uuid`` (a native UUID), ``uuid hex`` (a UUID as 32 hexadecimal
    digits, where the database has no UUID type) or ``text``."""
    if isinstance(key_type, Integer):
        return "int"
    if isinstance(key_type, Uuid):
        return "uuid" if key_type.native_uuid and native else "uuid hex"
    return "text"
