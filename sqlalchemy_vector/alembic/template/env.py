"""Alembic environment for a project with sqlalchemy_vector columns and indexes.

Set ``sqlalchemy.url`` and ``target_metadata`` in alembic.ini (or the
DATABASE_URL environment variable), or pass them programmatically through
``config.attributes["connection"]`` / ``config.attributes["target_metadata"]``.
"""

import importlib
import os
from logging.config import fileConfig

from alembic import context
from sqlalchemy import pool

import sqlalchemy_vector
import sqlalchemy_vector.alembic

config = context.config

if config.config_file_name is not None and config.attributes.get("configure_logger", True):
    fileConfig(config.config_file_name)


def load_target_metadata():
    """The MetaData to compare against: config.attributes, or "module:attribute" from alembic.ini."""
    if "target_metadata" in config.attributes:
        return config.attributes["target_metadata"]
    spec = config.get_main_option("target_metadata")
    if not spec:
        return None
    module_name, _, attribute = spec.partition(":")
    target = importlib.import_module(module_name.strip())
    for part in attribute.strip().split("."):
        target = getattr(target, part)
    return target


target_metadata = load_target_metadata()


def database_url():
    return os.environ.get("DATABASE_URL") or config.get_main_option("sqlalchemy.url")


def run_migrations_offline() -> None:
    """Emit SQL to stdout instead of running it ("alembic upgrade --sql")."""
    context.configure(
        url=database_url(),
        target_metadata=target_metadata,
        literal_binds=True,
        dialect_opts={"paramstyle": "named"},
        **sqlalchemy_vector.alembic.context_options(url=database_url()),
    )
    with context.begin_transaction():
        context.run_migrations()


def run_with(connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=target_metadata,
        **sqlalchemy_vector.alembic.context_options(connection),
    )
    with context.begin_transaction():
        context.run_migrations()


def run_migrations_online() -> None:
    """Run against the database, through an engine prepared for vectors."""
    connection = config.attributes.get("connection")
    if connection is not None:
        run_with(connection)
        return
    # sqlalchemy_vector.create_engine loads sqlite-vec / vss and checks pgvector.
    engine = sqlalchemy_vector.create_engine(database_url(), poolclass=pool.NullPool)
    try:
        with engine.connect() as connection:
            run_with(connection)
    finally:
        engine.dispose()


if context.is_offline_mode():
    run_migrations_offline()
else:
    run_migrations_online()
