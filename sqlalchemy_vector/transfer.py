"""Export and import a facade's documents, metadata and vectors as Parquet, between any two backends.

:func:`export_parquet` writes one row per document (``document_id``,
``content``, ``metadata`` as JSON text, ``embedding`` as a fixed-size list of
float32) and records the embedding model's name and dimension in the file's
schema metadata.  :func:`import_parquet` loads such a file into a facade
without re-embedding, refusing a file made with another model or dimension.
Both stream ``batch_size`` rows at a time (keyset pagination on export,
Parquet row batches on import), so memory follows the batch, not the table.
Needs ``pyarrow`` (part of the ``duckdb`` extra, or ``pip install pyarrow``).
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any, Dict, Iterator, List, Union

from sqlalchemy import select

from .exc import InvalidArgumentError, InvalidDocumentError, MissingDependencyError, ModelConfigurationError
from .types import flag, positive_integer

__all__ = ["export_parquet", "import_parquet"]

_MODEL_KEY = b"sqlalchemy_vector.model_name"
_DIMENSION_KEY = b"sqlalchemy_vector.dimension"


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


def _pages(rag: Any, batch_size: int) -> Iterator[List[Dict[str, Any]]]:
    store = rag._store
    D, E, models = store.D, store.E, store.models
    last = None
    with rag._session() as session:
        while True:
            statement = select(D.id, D.content, D.metadata_).order_by(D.id).limit(batch_size)
            if last is not None:
                statement = statement.where(D.id > last)
            rows = session.execute(statement).all()
            if not rows:
                return
            last = rows[-1][0]
            ids = [row[0] for row in rows]
            if models.single_table:
                vectors = dict(session.execute(select(D.id, D.embedding).where(D.id.in_(ids))).tuples().all())
            else:
                statement = select(E.document_id, E.embedding).where(E.document_id.in_(ids))
                if models.has_model_name:
                    statement = statement.where(E.model_name == store.model_name)
                vectors = {}
                for document_id, vector in session.execute(statement):
                    vectors.setdefault(document_id, vector)
            yield [
                {"document_id": i, "content": c, "metadata": m or {}, "embedding": vectors.get(i)} for i, c, m in rows
            ]


def export_parquet(rag: Any, path: Union[str, Path], *, batch_size: int = 10_000) -> int:
    """Write every document of ``rag`` (a :class:`~sqlalchemy_vector.VectorRAG`) to ``path``; return how many.

    With an :class:`~sqlalchemy_vector.AsyncVectorRAG`:
    ``await rag.run_sync(export_parquet, path)``.
    """
    rag = _facade(rag, path, "export_parquet")
    batch_size = positive_integer("export_parquet(batch_size)", batch_size)
    pa = _pyarrow()
    import pyarrow.parquet as pq

    dim = rag.dimension
    schema = pa.schema(
        [
            ("document_id", pa.string()),
            ("content", pa.string()),
            ("metadata", pa.string()),
            ("embedding", pa.list_(pa.float32(), dim)),
        ],
        metadata={_MODEL_KEY: str(rag.embedder.model_name).encode(), _DIMENSION_KEY: str(dim).encode()},
    )
    # Written beside ``path`` and renamed over it once complete: an interrupted export leaves no file
    # that reads as a smaller, valid one, and a file already at ``path`` stays until then.
    target = Path(path)
    partial = target.with_name(f".{target.name}.{os.getpid()}.partial")
    written = 0
    try:
        with pq.ParquetWriter(str(partial), schema) as writer:
            for page in _pages(rag, batch_size):
                columns = {
                    "document_id": [str(d["document_id"]) for d in page],
                    "content": [d["content"] for d in page],
                    "metadata": [json.dumps(d["metadata"], sort_keys=True) for d in page],
                    "embedding": [None if d["embedding"] is None else d["embedding"].tolist() for d in page],
                }
                writer.write_table(pa.Table.from_pydict(columns, schema=schema))
                written += len(page)
        os.replace(partial, target)
    finally:
        partial.unlink(missing_ok=True)
    return written


def open_export(path: Union[str, Path], model_name: str, dimension: int) -> Any:
    """``path`` opened (a ``pyarrow.parquet.ParquetFile``) as a file :func:`export_parquet` wrote with embeddings of
    ``model_name`` in ``dimension`` dimensions, or the error saying why it is not one."""
    pa = _pyarrow()
    import pyarrow.parquet as pq

    try:
        source = pq.ParquetFile(str(path))
    except (pa.ArrowException, OSError) as err:
        first = str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
        raise InvalidDocumentError(f"{path} is not a Parquet file written by export ({first})") from err
    missing = sorted({"document_id", "content", "metadata", "embedding"} - set(source.schema_arrow.names))
    if missing:
        raise InvalidDocumentError(
            f"{path} is not a file written by export: it has no {', '.join(missing)} column; export it again"
        )
    meta = source.schema_arrow.metadata or {}
    model = meta.get(_MODEL_KEY, b"").decode() or None
    try:
        found = int(meta.get(_DIMENSION_KEY, b"0") or 0) or None
    except ValueError:
        raise InvalidDocumentError(
            f"{path} records the dimension {meta.get(_DIMENSION_KEY)!r}, not a whole number; export it again"
        ) from None
    if (model, found) != (model_name, dimension):
        raise ModelConfigurationError(
            f"{path} holds embeddings of {model!r} ({found} dimensions), but this database embeds with "
            f"{model_name!r} ({dimension}); import it into a database of that model (the CLI: pass the --model "
            "it was made with), or re-embed the documents"
        )
    return source


def import_parquet(rag: Any, path: Union[str, Path], *, batch_size: int = 10_000, keep_ids: bool = True) -> int:
    """Load a file written by :func:`export_parquet` into ``rag`` without re-embedding; return how many documents.

    The file's model and dimension must be the facade's (embeddings of two
    models are never mixed).  ``keep_ids`` keeps the exported document ids
    (where the document table takes them; integer keys are generated again).
    With an :class:`~sqlalchemy_vector.AsyncVectorRAG`:
    ``await rag.run_sync(import_parquet, path)``.
    """
    rag = _facade(rag, path, "import_parquet")
    keep_ids = flag("import_parquet(keep_ids=...)", keep_ids)
    batch_size = positive_integer("import_parquet(batch_size)", batch_size)
    source = open_export(path, str(rag.embedder.model_name), rag.dimension)
    keep = keep_ids and not rag._models.generated_ids

    def documents() -> Iterator[Dict[str, Any]]:
        number = 0
        for batch in source.iter_batches(batch_size=batch_size):
            for row in batch.to_pylist():
                try:
                    metadata = json.loads(row["metadata"])
                except (TypeError, ValueError) as err:
                    raise InvalidDocumentError(
                        f"{path}, row {number}: its metadata is not a JSON document ({row['metadata']!r:.60}: {err}); "
                        "export the database again"
                    ) from None
                number += 1
                document: Dict[str, Any] = {"content": row["content"], "metadata": metadata}
                if row["embedding"] is not None:
                    document["embedding"] = row["embedding"]
                if keep:
                    document["document_id"] = row["document_id"]
                yield document

    return len(rag.load_documents(documents(), generate_embeddings=False, show_progress=False, batch_size=batch_size))
