"""Vector search as a first-class citizen of SQLAlchemy.

One :class:`Vector` column type and one set of distance functions that
compile to PostgreSQL + pgvector, SQLite + sqlite-vec and DuckDB.
"""

from __future__ import annotations

from . import exc
from .bulk import bulk_insert
from .dialects import supported_dialects
from .embedding import CallableEmbedder, Embedder, HashingEmbedder, SentenceTransformerEmbedder
from .engine import VectorEnginePlugin, attach, create_async_engine, create_engine
from .filters import json_value, metadata_filter
from .fulltext import (
    FullTextIndex,
    create_fulltext_index,
    drop_fulltext_index,
    list_fulltext_indexes,
    refresh_fulltext_index,
)
from .functions import (
    METRICS,
    VectorDistance,
    cosine_distance,
    distance,
    inner_product,
    l1_distance,
    l2_distance,
    max_inner_product,
)
from .hybrid import hybrid_select, reciprocal_rank_fusion
from .mmr import maximal_marginal_relevance
from .kinds import BitVector, HalfVector, Int8Vector, SparseValue, SparseVector, hamming_distance, jaccard_distance
from .mapped import CompactVectorAttribute, CompactVectorMapped, VectorAttribute, VectorMapped, vector_column
from .index import VectorIndex, create_vector_index, drop_vector_index, list_vector_indexes, rebuild_vector_index
from .orm import DocumentMixin, EmbeddedDocumentMixin, EmbeddingMixin, make_models
from .rag import SIMILARITY_FUNCTIONS, AsyncVectorRAG, VectorRAG
from .search import knn, knn_select, search_settings
from .serialization import PydanticVector, VectorSchema, json_default, jsonable
from .transfer import export_parquet, import_parquet
from .types import Vector

__version__ = "0.1.0"

__all__ = [
    "CompactVectorAttribute",
    "CompactVectorMapped",
    "VectorAttribute",
    "VectorMapped",
    "vector_column",
    "METRICS",
    "SIMILARITY_FUNCTIONS",
    "AsyncVectorRAG",
    "BitVector",
    "HalfVector",
    "Int8Vector",
    "SparseValue",
    "SparseVector",
    "hamming_distance",
    "jaccard_distance",
    "CallableEmbedder",
    "DocumentMixin",
    "EmbeddedDocumentMixin",
    "Embedder",
    "EmbeddingMixin",
    "FullTextIndex",
    "HashingEmbedder",
    "PydanticVector",
    "SentenceTransformerEmbedder",
    "Vector",
    "VectorDistance",
    "VectorIndex",
    "VectorEnginePlugin",
    "VectorRAG",
    "VectorSchema",
    "attach",
    "bulk_insert",
    "cosine_distance",
    "create_async_engine",
    "create_engine",
    "create_fulltext_index",
    "create_vector_index",
    "distance",
    "drop_fulltext_index",
    "drop_vector_index",
    "hybrid_select",
    "exc",
    "export_parquet",
    "import_parquet",
    "inner_product",
    "json_default",
    "jsonable",
    "l1_distance",
    "json_value",
    "knn",
    "knn_select",
    "l2_distance",
    "list_fulltext_indexes",
    "list_vector_indexes",
    "make_models",
    "max_inner_product",
    "maximal_marginal_relevance",
    "metadata_filter",
    "rebuild_vector_index",
    "reciprocal_rank_fusion",
    "refresh_fulltext_index",
    "search_settings",
    "supported_dialects",
]
