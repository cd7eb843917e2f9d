"""Export and import a facade's documents, metadata and vectors as Parquet, between any two backends.

:func:`export_parquet` writes one row per document (``document_id``,
``content``, ``metadata`` as JSON text, ``embedding`` as a fixed-size list of
float32, and ``created_at`` where the documents have it) and records the
embedding model's name and dimension in the file's schema metadata.  A file
holds one vector per document, of one model: a database holding more (several
embeddings of a document, vectors of other models) is refused rather than
written incompletely.  :func:`import_parquet` loads such a file into a facade
without re-embedding, refusing a file made with another model or dimension.
Both stream ``batch_size`` rows at a time (keyset pagination on export,
Parquet row batches on import), so memory follows the batch, not the table.
Needs ``pyarrow`` (part of the ``duckdb`` extra, or ``pip install pyarrow``).
"""

from __future__ import annotations

import json
import os
import re
from pathlib import Path
from collections import deque
from datetime import datetime, timezone
from typing import Any, Deque, Dict, Iterator, List, Optional, Tuple, Union

from sqlalchemy import select

from .exc import (
    InvalidArgumentError,
    InvalidDocumentError,
    InvalidVectorError,
    MissingDependencyError,
    ModelConfigurationError,
    first_line,
)
from .types import flag, positive_integer

__all__ = ["export_parquet", "import_parquet"]

_MODEL_KEY = b"sqlalchemy_vector.model_name"
_DIMENSION_KEY = b"sqlalchemy_vector.dimension"
#: The identity of a local model directory (a hash of its files), where the command-line tool knows it.
_IDENTITY_KEY = b"sqlalchemy_vector.model_identity"
#: How the command-line tool split the passages (its ``--max-words`` and ``--overlap``), JSON, where it recorded it.
_SPLIT_KEY = b"sqlalchemy_vector.passage_split"
#: The command-line tool's settings that say how it split the files into passages (``--max-words``, ``--overlap``).
SPLIT_SETTINGS = ("max_words", "overlap")
_COLUMNS = ("document_id", "content", "metadata", "embedding")
#: Rows per batch, both ways, unless the caller says otherwise (the command-line tool's export and import).
BATCH_SIZE = 10_000


def _pyarrow() -> Any:
    try:
        import pyarrow
        import pyarrow.parquet  # noqa: F401
    except ImportError as err:
        raise MissingDependencyError(f"Parquet export and import need pyarrow ({err}); pip install pyarrow") from err
    return pyarrow


def _facade(rag: Any, path: Any, call: str) -> Any:
    """``rag`` if it is a :class:`~sqlalchemy_vector.VectorRAG` and ``path`` a path, else :class:`InvalidArgumentError`."""
    from .rag import AsyncVectorRAG, VectorRAG

    if isinstance(rag, AsyncVectorRAG):
        raise InvalidArgumentError(
            f"{call}() takes a VectorRAG, got an AsyncVectorRAG; run it where that facade runs its calls: "
            f"await rag.run_sync({call}, path)"
        )
    if not isinstance(rag, VectorRAG):
        raise InvalidArgumentError(
            f"{call}() takes a VectorRAG first, got {type(rag).__name__} {rag!r}"
            + (f"; the path comes second: {call}(rag, path)" if isinstance(rag, (str, os.PathLike)) else "")
        )
    if not isinstance(path, (str, os.PathLike)):
        raise InvalidArgumentError(f"{call}() takes a file path (str or Path), got {type(path).__name__} {path!r}")
    return rag


def _check_complete(rag: Any) -> None:
    """Refuse a database whose vectors one file cannot hold: it would be written without them, silently.

    A file holds one vector per document, of the facade's model; several embeddings of the model for one
    document (chunks) or vectors of other models would be left out.
    """
    from sqlalchemy import func

    store = rag._store
    models, E = store.models, store.E
    if models.single_table:
        return
    mine = str(store.model_name)
    with rag._session() as session:
        counts: Dict[str, int] = {}
        if models.has_model_name:
            statement = select(E.model_name, func.count()).group_by(E.model_name)
            counts = {str(name): int(count) for name, count in session.execute(statement)}
        else:
            counts = {mine: int(session.execute(select(func.count()).select_from(E)).scalar_one())}
        others = {name: count for name, count in counts.items() if name != mine and count}
        found = ", ".join(f"{name!r} ({count} vectors)" for name, count in sorted(others.items()))
        if others and not counts.get(mine):
            raise ModelConfigurationError(
                f"the facade embeds with {mine!r}, which holds no vectors in {E.__table__.name}, but the documents "
                f"have vectors of {found}: the file would hold the documents without them; open the facade with the "
                "embedder those vectors were made with (VectorRAG(..., embedder=...)) and export again"
            )
        if others:
            raise ModelConfigurationError(
                f"{E.__table__.name} holds vectors of {found} besides the facade's {mine!r}, and a file holds the "
                "vectors of one model: they would be left out; delete the other models' embeddings first (and "
                "re-embed the documents with those models after the import), or keep this database"
            )
        several = select(E.document_id).group_by(E.document_id).having(func.count() > 1)
        if models.has_model_name:
            several = several.where(E.model_name == mine)
        count = int(session.execute(select(func.count()).select_from(several.subquery())).scalar_one())
        if count:
            raise ModelConfigurationError(
                f"{count} document(s) have several embeddings of {mine!r} in {E.__table__.name} (chunks), and a file "
                "holds one vector per document: all but one would be left out; store each chunk as a document of "
                "its own (with its own embedding), or keep one embedding per document, then export again"
            )


def _pages(rag: Any, batch_size: int) -> Iterator[List[Dict[str, Any]]]:
    from .rag.store import _chunks

    store = rag._store
    D, E, models = store.D, store.E, store.models
    created = [D.created_at] if models.has_created_at else []
    last = None
    with rag._session() as session:
        while True:
            statement = select(D.id, D.content, D.metadata_, *created).order_by(D.id).limit(batch_size)
            if last is not None:
                statement = statement.where(D.id > last)
            rows = session.execute(statement).all()
            if not rows:
                return
            last = rows[-1][0]
            vectors: Dict[Any, Any] = {}
            for ids in _chunks([row[0] for row in rows]):  # IN lists the database's parameter limit allows
                if models.single_table:
                    statement = select(D.id, D.embedding).where(D.id.in_(list(ids)))
                else:
                    statement = select(E.document_id, E.embedding).where(E.document_id.in_(list(ids)))
                    if models.has_model_name:
                        statement = statement.where(E.model_name == store.model_name)
                vectors.update(session.execute(statement).tuples().all())
            yield [
                {
                    "document_id": row[0],
                    "content": row[1],
                    "metadata": row[2] or {},
                    "embedding": vectors.get(row[0]),
                    "created_at": row[3] if created else None,
                }
                for row in rows
            ]


def export_parquet(rag: Any, path: Union[str, Path], *, batch_size: int = BATCH_SIZE) -> int:
    """Write every document of ``rag`` (a :class:`~sqlalchemy_vector.VectorRAG`) to ``path``; return how many.

    Each document goes with its vector of the facade's model and its
    ``created_at``.  A database holding vectors the file cannot (several
    embeddings of one document, vectors of other models, or none of the
    facade's model while the documents have others) raises
    :class:`~sqlalchemy_vector.exc.ModelConfigurationError` before anything is written.
    With an :class:`~sqlalchemy_vector.AsyncVectorRAG`:
    ``await rag.run_sync(export_parquet, path)``.
    """
    return _export(rag, path, batch_size, None)


def _export(
    rag: Any, path: Union[str, Path], batch_size: Any, identity: Optional[str], split: Optional[Dict[str, str]] = None
) -> int:
    """:func:`export_parquet`, recording ``identity`` (of a local model directory) and ``split`` (how the
    command-line tool split the passages) if given."""
    rag = _facade(rag, path, "export_parquet")
    batch_size = positive_integer("export_parquet(batch_size)", batch_size)
    pa = _pyarrow()
    import pyarrow.parquet as pq

    target = Path(path)
    if not target.parent.is_dir():
        raise InvalidArgumentError(
            f"export_parquet(): directory {target.parent} does not exist, so {target} cannot be written; "
            "create it first, or pass another path"
        )
    if target.is_dir():
        raise InvalidArgumentError(f"export_parquet(): {target} is a directory; pass the path of a file in it")
    _check_complete(rag)
    dim = rag.dimension
    fields = [
        ("document_id", pa.string()),
        ("content", pa.string()),
        ("metadata", pa.string()),
        ("embedding", pa.list_(pa.float32(), dim)),
    ]
    with_created = rag._models.has_created_at
    if with_created:
        fields.append(("created_at", pa.timestamp("us")))  # naive UTC, as the documents store it
    metadata = {_MODEL_KEY: str(rag.embedder.model_name).encode(), _DIMENSION_KEY: str(dim).encode()}
    if identity is not None:
        metadata[_IDENTITY_KEY] = identity.encode()
    if split:
        metadata[_SPLIT_KEY] = json.dumps(split, sort_keys=True).encode()
    schema = pa.schema(fields, metadata=metadata)
    # Written beside ``path`` and renamed over it once complete: an interrupted export leaves no file
    # that reads as a smaller, valid one, and a file already at ``path`` stays until then.
    partial = target.with_name(f".{target.name}.{os.getpid()}.partial")
    written = 0
    try:
        with pq.ParquetWriter(str(partial), schema) as writer:
            for page in _pages(rag, batch_size):
                columns = {
                    "document_id": [str(d["document_id"]) for d in page],
                    "content": [d["content"] for d in page],
                    "metadata": [json.dumps(d["metadata"]) for d in page],  # keys in their order
                    "embedding": [None if d["embedding"] is None else d["embedding"].tolist() for d in page],
                }
                if with_created:
                    columns["created_at"] = [d["created_at"] for d in page]
                writer.write_table(pa.Table.from_pydict(columns, schema=schema))
                written += len(page)
        os.replace(partial, target)
    finally:
        partial.unlink(missing_ok=True)
    return written


def file_model(source: Any) -> Tuple[Optional[str], Optional[int], Optional[str]]:
    """The model name, dimension and model identity a file opened by :func:`open_export` records (None: not recorded)."""
    meta = source.schema_arrow.metadata or {}
    model = meta.get(_MODEL_KEY, b"").decode() or None
    identity = meta.get(_IDENTITY_KEY, b"").decode() or None
    try:
        found = int(meta.get(_DIMENSION_KEY, b"0") or 0) or None
    except ValueError:
        found = None
    return model, found, identity


def file_split(source: Any) -> Dict[str, str]:
    """How the passages of a file opened by :func:`open_export` were split (``max_words``, ``overlap``), or {}."""
    try:
        split = json.loads((source.schema_arrow.metadata or {}).get(_SPLIT_KEY, b"{}"))
    except ValueError:
        return {}
    if not isinstance(split, dict):
        return {}
    return {str(k): str(v) for k, v in split.items() if k in SPLIT_SETTINGS and str(v).isdigit()}


def open_export(
    path: Union[str, Path], model_name: str, dimension: int, identity: Optional[str] = None
) -> Any:
    """``path`` opened (a ``pyarrow.parquet.ParquetFile``) as a file :func:`export_parquet` wrote with embeddings of
    ``model_name`` in ``dimension`` dimensions, or the error saying why it is not one.

    Where both the file and the caller know the model's ``identity`` (a hash
    of a local model directory's files), it decides instead of the name: the
    same files however the directory was named, other files whatever its name.
    """
    pa = _pyarrow()
    import pyarrow.parquet as pq

    try:
        source = pq.ParquetFile(str(path))
    except (pa.ArrowException, OSError) as err:
        raise InvalidDocumentError(f"{path} is not a Parquet file written by export ({first_line(err)})") from err
    missing = sorted(set(_COLUMNS) - set(source.schema_arrow.names))
    if missing:
        raise InvalidDocumentError(
            f"{path} is not a file written by export: it has no {', '.join(missing)} column; export it again"
        )
    meta = source.schema_arrow.metadata or {}
    if _MODEL_KEY not in meta or _DIMENSION_KEY not in meta:
        raise InvalidDocumentError(
            f"{path} is not a file written by export: its schema does not record the embedding model and dimension "
            f"(metadata keys {_MODEL_KEY.decode()} and {_DIMENSION_KEY.decode()}); export the database again with "
            "export_parquet() or `sqlalchemy-vector export`"
        )
    model, found, recorded = file_model(source)
    if found is None:
        raise InvalidDocumentError(
            f"{path} records the dimension {meta.get(_DIMENSION_KEY)!r}, not a positive whole number; export it again"
        )
    if recorded is not None and identity is not None and found == dimension:
        if recorded == identity:
            return source
        raise ModelConfigurationError(
            f"{path} holds embeddings of {model!r} made by other model files than {model_name!r} (the model "
            "directories differ, whatever their names); import it with the model directory it was exported with"
        )
    if (model, found) != (model_name, dimension):
        raise ModelConfigurationError(
            f"{path} holds embeddings of {model!r} ({found} dimensions), but this database embeds with "
            f"{model_name!r} ({dimension}); import it into a database of that model (the CLI: pass the --model "
            "it was made with), or re-embed the documents"
        )
    return source


def import_parquet(rag: Any, path: Union[str, Path], *, batch_size: int = BATCH_SIZE, keep_ids: bool = True) -> int:
    """Load a file written by :func:`export_parquet` into ``rag`` without re-embedding; return how many documents.

    The file's model and dimension must be the facade's (embeddings of two
    models are never mixed).  ``keep_ids`` keeps the exported document ids,
    converted to the type of the documents' key (where the document table
    takes them; integer keys are generated again), and ``created_at`` where
    the file and the documents have it (else the time of the import).
    With an :class:`~sqlalchemy_vector.AsyncVectorRAG`:
    ``await rag.run_sync(import_parquet, path)``.
    """
    rag = _facade(rag, path, "import_parquet")
    keep_ids = flag("import_parquet(keep_ids=...)", keep_ids)
    batch_size = positive_integer("import_parquet(batch_size)", batch_size)
    source = open_export(path, str(rag.embedder.model_name), rag.dimension)
    if keep_ids:
        first = first_stored_id(rag, source, batch_size)
        if first is not None:
            table = rag.document_model.__table__.name
            raise InvalidDocumentError(
                f"{path}: document_id {first!r:.60} is stored already in {table}, so nothing was imported; import "
                "the file into an empty database, delete those documents first, or import it with keep_ids=False "
                "for new ids"
            )
    return _load(rag, source, path, batch_size, keep_ids)


def first_stored_id(rag: Any, source: Any, batch_size: int = BATCH_SIZE) -> Any:
    """The first of ``source``'s document ids (a file opened by :func:`open_export`) that ``rag`` holds, or None.

    Asked before an import writes anything: a unique key would refuse such an
    id only when its batch came (with the driver's error), and a database
    without one (no transactions either) would keep the batches before it.
    Ids the key's type cannot take are left to the import, which names their row.
    """
    from .rag.store import _chunks

    pa = _pyarrow()
    models = rag._models
    if models.generated_ids:
        return None  # the file's ids are not kept
    id_type, key = models.id_type, rag.document_model.id
    try:
        with rag.engine.connect() as connection:
            for batch in source.iter_batches(columns=["document_id"], batch_size=batch_size):
                ids = []
                for value in batch.column(0).to_pylist():
                    if id_type in (None, str) and not isinstance(value, str):
                        continue  # not a text key's (a file of integer ids): compared, the database would raise
                    try:
                        ids.append(_key_value(id_type, value))
                    except (TypeError, ValueError):
                        continue
                for chunk in _chunks(ids):
                    found = connection.execute(select(key).where(key.in_(list(chunk))).limit(1)).first()
                    if found is not None:
                        return found[0]
    except (pa.ArrowException, OSError):
        pass  # a damaged file: the import says where
    return None


def _created_at(value: Any, path: Any, number: int) -> Optional[datetime]:
    """A file's ``created_at`` as the documents store it: naive UTC.

    A timestamp with a time zone is converted (SQLite would store its wall-clock time, the other backends its
    UTC time), and an ISO 8601 string is read the same way on every backend.
    """
    if value is None:
        return None
    if isinstance(value, str):
        try:
            value = datetime.fromisoformat(value)
        except ValueError:
            raise InvalidDocumentError(
                f"{path}, row {number}: created_at {value!r:.40} is not an ISO 8601 timestamp; export the database "
                "again, or write the column as timestamps"
            ) from None
    if not isinstance(value, datetime):
        raise InvalidDocumentError(
            f"{path}, row {number}: created_at must be a timestamp, got {type(value).__name__} {value!r:.40}; export "
            "the database again, or write the column as timestamps"
        )
    stamp: datetime = value
    if stamp.tzinfo is not None:
        stamp = stamp.astimezone(timezone.utc).replace(tzinfo=None)
    return stamp


def _key_value(id_type: Optional[type], value: Any) -> Any:
    """A file's ``document_id`` as a key of ``id_type`` takes it (an integer key's from the file's text).

    Raises ``TypeError`` or ``ValueError`` for a value the type cannot take.
    """
    return value if id_type is None or id_type is str or value is None else id_type(value)


def _load(rag: Any, source: Any, path: Any, batch_size: int, keep_ids: bool) -> int:
    """Write the documents of ``source`` (opened by :func:`open_export`) into ``rag``, in one transaction."""
    pa = _pyarrow()
    from .dialects.base import backend_for

    models = rag._models
    keep = keep_ids and not models.generated_ids
    with_created = "created_at" in source.schema_arrow.names and models.has_created_at
    id_type = models.id_type
    created: Deque[Optional[datetime]] = deque()
    group = -1

    def file_id(value: Any, number: int) -> Any:
        try:
            return _key_value(id_type, value)
        except (TypeError, ValueError):
            raise InvalidDocumentError(
                f"{path}, row {number}: document_id {value!r:.60} is not {id_type.__name__} "
                f"({models.document.__table__.name}'s key); import it with keep_ids=False for new ids"
            ) from None

    def documents() -> Iterator[Dict[str, Any]]:
        nonlocal group
        number = 0
        for group in range(source.num_row_groups):
            batches = source.iter_batches(batch_size=batch_size, row_groups=[group])
            while True:
                try:
                    batch = next(batches)
                except StopIteration:
                    break
                except (pa.ArrowException, OSError) as err:
                    raise InvalidDocumentError(
                        f"{path}: row group {group} of {source.num_row_groups} cannot be read ({first_line(err)}); "
                        "the file is damaged: export the database again"
                    ) from None
                for row in batch.to_pylist():
                    try:
                        metadata = json.loads(row["metadata"])
                    except (TypeError, ValueError) as err:
                        raise InvalidDocumentError(
                            f"{path}, row {number}: its metadata is not a JSON document ({row['metadata']!r:.60}: "
                            f"{err}); export the database again"
                        ) from None
                    document: Dict[str, Any] = {"content": row["content"], "metadata": metadata}
                    if row["embedding"] is not None:
                        document["embedding"] = row["embedding"]
                    if keep:
                        document["document_id"] = file_id(row["document_id"], number)
                    created.append(_created_at(row["created_at"], path, number) if with_created else None)
                    number += 1
                    yield document

    written = 0
    # Without transactions (ClickHouse) the ids written so far, to delete again if the import stops part-way.
    undo: Optional[List[Any]] = None if backend_for(rag.engine.dialect).capabilities.transactions else []
    try:
        with rag._session() as session, session.begin():
            for batch, _ in rag._batches(documents(), batch_size, False):
                for document in batch:
                    document.created_at = created.popleft()
                ids = rag._store.insert(session, batch)
                if undo is not None:
                    undo.extend(ids)
                written += len(batch)
    except BaseException as err:  # also Ctrl-C
        if undo and _deleted(rag, undo):
            written = 0  # as a rollback would: nothing of the file stays
        if not isinstance(err, (InvalidDocumentError, InvalidVectorError)):
            raise
        message = str(err)
        if message.startswith("documents["):  # the facade's check of a row: name the file and its row
            message = f"{path}: " + re.sub(r"documents\[(\d+)\]", r"row \1", message)
        if written and undo is not None:
            message += (
                f"; {written} documents were written before this ({rag.engine.dialect.name} has no transactions to "
                "roll them back): delete them, or import the file into an empty database again"
            )
        if message == str(err):
            raise
        raise type(err)(message) from err
    return written


def _deleted(rag: Any, ids: List[Any]) -> bool:
    """Delete again the documents an import wrote before it stopped, where no transaction rolls them back.

    False if that fails too (the import's error then says how many stayed).
    """
    try:
        rag.delete_documents(ids)
    except Exception:
        return False
    return True
