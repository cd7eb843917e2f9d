"""${message}

Revision ID: ${up_revision}
Revises: ${down_revision | comma,n}
Create Date: ${create_date}

"""
from typing import Sequence, Union

from alembic import op
import sqlalchemy as sa
import sqlalchemy_vector
import sqlalchemy_vector.alembic  # op.create_vector_index and the other vector operations
<%
    # sqlalchemy_vector's render hooks add the two imports above; keep the rest.
    extra = [line for line in (imports or "").splitlines()
             if line not in ("import sqlalchemy_vector", "import sqlalchemy_vector.alembic")]
%>${"\n".join(extra) + "\n" if extra else ""}
# revision identifiers, used by Alembic.
revision: str = ${repr(up_revision)}
down_revision: Union[str, Sequence[str], None] = ${repr(down_revision)}
branch_labels: Union[str, Sequence[str], None] = ${repr(branch_labels)}
depends_on: Union[str, Sequence[str], None] = ${repr(depends_on)}


def upgrade() -> None:
    """Upgrade schema."""
    ${upgrades if upgrades else "pass"}


def downgrade() -> None:
    """Downgrade schema."""
    ${downgrades if downgrades else "pass"}
