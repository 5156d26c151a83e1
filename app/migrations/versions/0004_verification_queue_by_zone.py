"""verification queue by zone: each claimed fact carries its application's zone

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-01 16:10:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel  # noqa: F401  (autogenerate writes sqlmodel.sql.sqltypes.AutoString)
import sqlmodel.sql.sqltypes  # noqa: F401
from alembic import op

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("claimed_fact", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column(
                "zone_id",
                sqlmodel.sql.sqltypes.AutoString(length=32),
                nullable=False,
                server_default="",
            )
        )
    op.execute(
        "UPDATE claimed_fact SET zone_id = "
        "(SELECT zone_id FROM application WHERE application.id = claimed_fact.application_id)"
    )
    with op.batch_alter_table("claimed_fact", schema=None) as batch_op:
        batch_op.create_index(
            "ix_fact_zone_queue", ["department", "state", "zone_id", "application_id"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("claimed_fact", schema=None) as batch_op:
        batch_op.drop_index("ix_fact_zone_queue")
        batch_op.drop_column("zone_id")
