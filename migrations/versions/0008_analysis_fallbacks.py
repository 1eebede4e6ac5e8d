"""Which parts of an analysis the offline analyser filled in for the model.

An LLM analysis whose tag_article call never validated keeps offline tags; this column
says so (["tag_article"]), so `show` and the digest never pass them off as the model's.

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-03
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0008"
down_revision: str | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("analysis") as batch:
        batch.add_column(sa.Column("fallbacks", sa.JSON(), nullable=False, server_default="[]"))


def downgrade() -> None:
    with op.batch_alter_table("analysis") as batch:
        batch.drop_column("fallbacks")
