"""A dialect derived from PostgreSQL's under another name, as third-party engines are.

Registered with SQLAlchemy by the test suite as ``derivedpg``; sqlalchemy_vector
must find the PostgreSQL backend for it through the class hierarchy.
"""

from sqlalchemy.dialects.postgresql.psycopg import PGDialect_psycopg


class DerivedPGDialect(PGDialect_psycopg):
    name = "derivedpg"
    supports_statement_cache = True
