"""SQLAlchemy dialects for YugabyteDB's YSQL, named ``yugabytedb``.

YSQL speaks PostgreSQL's protocol and SQL, so each dialect is PostgreSQL's for
one driver under the name ``yugabytedb``: ``create_engine("yugabytedb://...")``
(psycopg 3), ``yugabytedb+psycopg2://`` and ``yugabytedb+asyncpg://``.  They are
registered with SQLAlchemy when sqlalchemy_vector is imported and through the
package's ``sqlalchemy.dialects`` entry points.  No YugabyteDB dialect package
exists on the package index to build on.
"""

from __future__ import annotations

from sqlalchemy.dialects import registry
from sqlalchemy.dialects.postgresql.asyncpg import PGDialect_asyncpg
from sqlalchemy.dialects.postgresql.psycopg import PGDialect_psycopg
from sqlalchemy.dialects.postgresql.psycopg2 import PGDialect_psycopg2

__all__ = ["YugabyteDBDialect", "YugabyteDBDialect_asyncpg", "YugabyteDBDialect_psycopg", "YugabyteDBDialect_psycopg2"]


class YugabyteDBDialect:
    """What every YugabyteDB dialect class shares: its name (sqlalchemy_vector finds its backend by this class)."""

    name = "yugabytedb"
    supports_statement_cache = True


class YugabyteDBDialect_psycopg(YugabyteDBDialect, PGDialect_psycopg):
    """YugabyteDB through psycopg 3 (``yugabytedb://`` and ``yugabytedb+psycopg://``)."""

    name = "yugabytedb"
    supports_statement_cache = True


class YugabyteDBDialect_psycopg2(YugabyteDBDialect, PGDialect_psycopg2):
    """YugabyteDB through psycopg2 (``yugabytedb+psycopg2://``)."""

    name = "yugabytedb"
    supports_statement_cache = True


class YugabyteDBDialect_asyncpg(YugabyteDBDialect, PGDialect_asyncpg):
    """YugabyteDB through asyncpg (``yugabytedb+asyncpg://``)."""

    name = "yugabytedb"
    supports_statement_cache = True


#: URL names and the classes they load, as the entry points declare them.
URL_NAMES = {
    "yugabytedb": "YugabyteDBDialect_psycopg",
    "yugabytedb.psycopg": "YugabyteDBDialect_psycopg",
    "yugabytedb.psycopg2": "YugabyteDBDialect_psycopg2",
    "yugabytedb.asyncpg": "YugabyteDBDialect_asyncpg",
}


def register_url_names() -> None:
    """Let ``create_engine`` load these dialects by URL name (idempotent; touches no other dialect)."""
    for url_name, class_name in URL_NAMES.items():
        registry.register(url_name, __name__, class_name)
