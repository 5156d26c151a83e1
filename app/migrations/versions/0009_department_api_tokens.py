"""department API tokens: a department's own system settling facts through the JSON API

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-01 18:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel  # noqa: F401  (autogenerate writes sqlmodel.sql.sqltypes.AutoString)
import sqlmodel.sql.sqltypes
from alembic import op

revision: str = "0009"
down_revision: str | None = "0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_text = sqlmodel.sql.sqltypes.AutoString
_time = sqlmodel.sql.sqltypes.UTCDateTime


def upgrade() -> None:
    op.create_table(
        "api_token",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", _text(length=64), nullable=False),
        sa.Column("department", _text(length=16), nullable=False),
        sa.Column("zones", sa.Text(), nullable=False),
        sa.Column("secret_sha256", _text(length=64), nullable=False),
        sa.Column("created_at", _time(), nullable=False),
        sa.Column("created_by", _text(length=64), nullable=False),
        sa.Column("expires_at", _time(), nullable=True),
        sa.Column("revoked_at", _time(), nullable=True),
        sa.Column("revoked_by", _text(length=64), nullable=False),
        sa.Column("last_used_at", _time(), nullable=True),
        sa.PrimaryKeyConstraint("id"),
    )


def downgrade() -> None:
    op.drop_table("api_token")
