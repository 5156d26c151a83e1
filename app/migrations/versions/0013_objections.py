"""objections: an applicant's objection to a published result, and its settlement

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-01 19:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel  # noqa: F401  (autogenerate writes sqlmodel.sql.sqltypes.AutoString)
import sqlmodel.sql.sqltypes
from alembic import op

revision: str = "0013"
down_revision: str | None = "0012"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_text = sqlmodel.sql.sqltypes.AutoString
_time = sqlmodel.sql.sqltypes.UTCDateTime


def upgrade() -> None:
    op.create_table(
        "objection",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("application_id", sa.Integer(), nullable=False),
        sa.Column("round_id", _text(length=64), nullable=False),
        sa.Column("zone_id", _text(length=32), nullable=False),
        sa.Column("fact", _text(length=48), nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("state", _text(length=16), nullable=False),
        sa.Column("filed_at", _time(), nullable=False),
        sa.Column("resolved_at", _time(), nullable=True),
        sa.Column("resolved_by", _text(length=64), nullable=False),
        sa.Column("resolution", sa.Text(), nullable=False),
        sa.ForeignKeyConstraint(["application_id"], ["application.id"]),
        sa.ForeignKeyConstraint(["round_id"], ["round.id"]),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("objection", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_objection_application_id"), ["application_id"], unique=False
        )
        batch_op.create_index(batch_op.f("ix_objection_round_id"), ["round_id"], unique=False)


def downgrade() -> None:
    op.drop_table("objection")
