"""The write-back ledger: every tag readerd writes to a source, and per-source pauses.

A tag readerd added is removed by readerd only while the ledger says it is readerd's;
a tag the user removed at the source stays as a tombstone so that it is never added
again. See readerd/store/writeback.py.

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-02
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "writeback_tag",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("source", sa.String(), nullable=False),
        sa.Column("remote_id", sa.String(), nullable=False),
        sa.Column(
            "link_id", sa.Integer(), sa.ForeignKey("link.id", ondelete="SET NULL"), nullable=True
        ),
        sa.Column("tag", sa.String(), nullable=False),
        sa.Column("tag_key", sa.String(), nullable=False),
        sa.Column("state", sa.String(), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("last_error", sa.String(), nullable=True),
        sa.Column("next_attempt_at", sa.DateTime(), nullable=True),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("updated_at", sa.DateTime(), nullable=False),
        sa.UniqueConstraint("source", "remote_id", "tag_key", name="uq_writeback_tag"),
    )
    op.create_index("ix_writeback_due", "writeback_tag", ["source", "state", "next_attempt_at"])
    op.create_table(
        "writeback_source",
        sa.Column("source", sa.String(), primary_key=True),
        sa.Column("paused", sa.String(), nullable=True),
        sa.Column("not_before", sa.DateTime(), nullable=True),
        sa.Column("last_run_at", sa.DateTime(), nullable=True),
        sa.Column("last_result", sa.String(), nullable=True),
    )


def downgrade() -> None:
    op.drop_table("writeback_source")
    op.drop_index("ix_writeback_due", "writeback_tag")
    op.drop_table("writeback_tag")
