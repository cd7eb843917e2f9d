# Alembic configuration for a project using sqlalchemy_vector.

[alembic]
# path to migration scripts; %(here)s is the directory of this file
script_location = ${script_location}

# prepended to sys.path, so that target_metadata below can be imported
prepend_sys_path = .

path_separator = os

# The database; the DATABASE_URL environment variable overrides it.
# postgresql+psycopg://user:pass@host/db, sqlite:///app.db, duckdb:///app.duckdb,
# clickhousedb://localhost/default?interface=chdb&path=/some/dir (a literal % is written %%)
sqlalchemy.url = driver://user:pass@localhost/dbname

# Your models' MetaData, as "package.module:attribute", e.g. myapp.models:Base.metadata
target_metadata =

[post_write_hooks]

[loggers]
keys = root,sqlalchemy,alembic

[handlers]
keys = console

[formatters]
keys = generic

[logger_root]
level = WARNING
handlers = console
qualname =

[logger_sqlalchemy]
level = WARNING
handlers =
qualname = sqlalchemy.engine

[logger_alembic]
level = INFO
handlers =
qualname = alembic

[handler_console]
class = StreamHandler
args = (sys.stderr,)
level = NOTSET
formatter = generic

[formatter_generic]
format = %(levelname)-5.5s [%(name)s] %(message)s
datefmt = %H:%M:%S
