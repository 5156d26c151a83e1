"""allocation runs: a round's allocations, their exact instance and result bytes, and each
application's outcome

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-01 18:30:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel  # noqa: F401  (autogenerate writes sqlmodel.sql.sqltypes.AutoString)
import sqlmodel.sql.sqltypes
from alembic import op

revision: str = "0011"
down_revision: str | None = "0010"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_text = sqlmodel.sql.sqltypes.AutoString


def upgrade() -> None:
    op.create_table(
        "allocation_run",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("round_id", _text(length=64), nullable=False),
        sa.Column("number", sa.Integer(), nullable=False),
        sa.Column("current", sa.Boolean(), nullable=False),
        sa.Column("instance", sa.LargeBinary(), nullable=False),
        sa.Column("instance_sha256", _text(length=64), nullable=False),
        sa.Column("result", sa.LargeBinary(), nullable=False),
        sa.Column("output_sha256", _text(length=64), nullable=False),
        sa.Column("reason", _text(length=500), nullable=False),
        sa.Column("created_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
        sa.Column("created_by", _text(length=64), nullable=False),
        sa.ForeignKeyConstraint(["round_id"], ["round.id"]),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("round_id", "number"),
    )
    with op.batch_alter_table("allocation_run", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_allocation_run_round_id"), ["round_id"], unique=False
        )
    op.create_table(
        "outcome",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("run_id", sa.Integer(), nullable=False),
        sa.Column("application_no", _text(length=40), nullable=False),
        sa.Column("zone_id", _text(length=32), nullable=False),
        sa.Column("category", _text(length=32), nullable=False),
        sa.Column("status", _text(length=16), nullable=False),
        sa.Column("school", _text(length=32), nullable=True),
        sa.Column("zone_rank", sa.Integer(), nullable=True),
        sa.Column("reason", _text(length=32), nullable=False),
        sa.Column("explanation", sa.Text(), nullable=False),
        sa.ForeignKeyConstraint(["run_id"], ["allocation_run.id"]),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("run_id", "application_no"),
    )
    with op.batch_alter_table("outcome", schema=None) as batch_op:
        batch_op.create_index(
            "ix_outcome_list", ["run_id", "zone_id", "category", "zone_rank"], unique=False
        )


def downgrade() -> None:
    op.drop_table("outcome")
    op.drop_table("allocation_run")
