"""``python -m sqlalchemy_vector``: the same as the ``sqlalchemy-vector`` command."""

from .cli import main_exit

main_exit()
