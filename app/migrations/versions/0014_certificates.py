"""certificates: issued certificates, every copy printed, print batches, signing keys

Revision ID: 0014
Revises: 0013
Create Date: 2026-12-01 21:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel  # noqa: F401  (autogenerate writes sqlmodel.sql.sqltypes.AutoString)
import sqlmodel.sql.sqltypes
from alembic import op

revision: str = "0014"
down_revision: str | None = "0013"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_text = sqlmodel.sql.sqltypes.AutoString
_time = sqlmodel.sql.sqltypes.UTCDateTime


def upgrade() -> None:
    op.create_table(
        "signing_key",
        sa.Column("kid", _text(length=16), nullable=False),
        sa.Column("public_key", sa.LargeBinary(), nullable=False),
        sa.Column("valid_from", _time(), nullable=False),
        sa.Column("retired_at", _time(), nullable=True),
        sa.PrimaryKeyConstraint("kid"),
    )
    op.create_table(
        "certificate_batch",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("round_id", _text(length=64), nullable=False),
        sa.Column("zone_id", _text(length=32), nullable=False),
        sa.Column("created_at", _time(), nullable=False),
        sa.Column("created_by", _text(length=64), nullable=False),
        sa.Column("pages", sa.Integer(), nullable=False),
        sa.Column("refused", sa.Text(), nullable=False),
        sa.Column("pdf_sha256", _text(length=64), nullable=False),
        sa.Column("pdf_enc", sa.LargeBinary(), nullable=True),
        sa.ForeignKeyConstraint(["round_id"], ["round.id"]),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("certificate_batch", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_certificate_batch_round_id"), ["round_id"], unique=False
        )
    op.create_table(
        "certificate",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("number", _text(length=48), nullable=False),
        sa.Column("sequence", sa.Integer(), nullable=False),
        sa.Column("round_id", _text(length=64), nullable=False),
        sa.Column("application_id", sa.Integer(), nullable=False),
        sa.Column("application_no", _text(length=40), nullable=False),
        sa.Column("run_id", sa.Integer(), nullable=False),
        sa.Column("kind", _text(length=16), nullable=False),
        sa.Column("zone_id", _text(length=32), nullable=False),
        sa.Column("category", _text(length=32), nullable=False),
        sa.Column("school", _text(length=32), nullable=True),
        sa.Column("points_cents", sa.Integer(), nullable=False),
        sa.Column("zone_rank", sa.Integer(), nullable=True),
        sa.Column("masked_name", _text(length=64), nullable=False),
        sa.Column("issued_on", sa.Date(), nullable=False),
        sa.Column("kid", _text(length=16), nullable=False),
        sa.Column("code", sa.Text(), nullable=False),
        sa.Column("state", _text(length=16), nullable=False),
        sa.Column("reason", _text(length=500), nullable=False),
        sa.Column("replaced_by", _text(length=48), nullable=False),
        sa.Column("changed_at", _time(), nullable=True),
        sa.Column("changed_by", _text(length=64), nullable=False),
        sa.Column("used_on", sa.Date(), nullable=True),
        sa.Column("used_by", _text(length=64), nullable=False),
        sa.Column("issued_by", _text(length=64), nullable=False),
        sa.ForeignKeyConstraint(["application_id"], ["application.id"]),
        sa.ForeignKeyConstraint(["kid"], ["signing_key.kid"]),
        sa.ForeignKeyConstraint(["round_id"], ["round.id"]),
        sa.ForeignKeyConstraint(["run_id"], ["allocation_run.id"]),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("number"),
    )
    with op.batch_alter_table("certificate", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_certificate_application_id"), ["application_id"], unique=False
        )
        batch_op.create_index(batch_op.f("ix_certificate_round_id"), ["round_id"], unique=False)
    op.create_table(
        "certificate_copy",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("certificate_id", sa.Integer(), nullable=False),
        sa.Column("batch_id", sa.Integer(), nullable=True),
        sa.Column("printed_at", _time(), nullable=False),
        sa.Column("printed_by", _text(length=64), nullable=False),
        sa.ForeignKeyConstraint(["batch_id"], ["certificate_batch.id"]),
        sa.ForeignKeyConstraint(["certificate_id"], ["certificate.id"]),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("certificate_copy", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_certificate_copy_certificate_id"), ["certificate_id"], unique=False
        )


def downgrade() -> None:
    op.drop_table("certificate_copy")
    op.drop_table("certificate")
    op.drop_table("certificate_batch")
    op.drop_table("signing_key")
