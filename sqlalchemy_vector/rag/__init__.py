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

from ..functions import SIMILARITY_FUNCTIONS
from .async_facade import AsyncVectorRAG
from .facade import VectorRAG
from .store import DEFAULT_DIMENSION

__all__ = ["VectorRAG", "AsyncVectorRAG", "SIMILARITY_FUNCTIONS", "DEFAULT_DIMENSION"]
