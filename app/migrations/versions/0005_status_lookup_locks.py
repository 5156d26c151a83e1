"""status lookup locks: failed lookups of an application number, across workers

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-01 16:20:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel  # noqa: F401  (autogenerate writes sqlmodel.sql.sqltypes.AutoString)
import sqlmodel.sql.sqltypes  # noqa: F401
from alembic import op

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "status_lock",
        sa.Column("application_no", sqlmodel.sql.sqltypes.AutoString(length=40), nullable=False),
        sa.Column("failures", sa.Integer(), nullable=False),
        sa.Column("locked_until", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=True),
        sa.PrimaryKeyConstraint("application_no"),
    )


def downgrade() -> None:
    op.drop_table("status_lock")
