"""fact changes: a change to a verified fact, waiting for a second person's approval

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-01 17:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel  # noqa: F401  (autogenerate writes sqlmodel.sql.sqltypes.AutoString)
import sqlmodel.sql.sqltypes
from alembic import op

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_text = sqlmodel.sql.sqltypes.AutoString


def upgrade() -> None:
    op.create_table(
        "fact_change",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("application_id", sa.Integer(), nullable=False),
        sa.Column("fact", _text(length=48), nullable=False),
        sa.Column("decision", _text(length=16), nullable=False),
        sa.Column("verified", sa.Text(), nullable=True),
        sa.Column("reason", _text(length=500), nullable=False),
        sa.Column("evidence", _text(length=500), nullable=False),
        sa.Column("requested_by", _text(length=64), nullable=False),
        sa.Column("requested_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
        sa.Column("state", _text(length=16), nullable=False),
        sa.Column("decided_by", _text(length=64), nullable=False),
        sa.Column("decided_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=True),
        sa.ForeignKeyConstraint(["application_id"], ["application.id"]),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("fact_change", schema=None) as batch_op:
        batch_op.create_index("ix_fact_change_application_id", ["application_id"], unique=False)
        batch_op.create_index("ix_fact_change_state", ["state"], unique=False)


def downgrade() -> None:
    op.drop_table("fact_change")
