"""Digest outbox: one row per (date, recipient), written before the e-mail is sent.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-22
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "digest_outbox",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("digest_date", sa.String(), nullable=False),
        sa.Column("recipient", sa.String(), nullable=False),
        sa.Column("message_id", sa.String(), nullable=False),
        sa.Column("subject", sa.String(), nullable=False),
        sa.Column("status", sa.String(), nullable=False, server_default="pending"),
        sa.Column("attempts", sa.Integer(), nullable=False, server_default="0"),
        sa.Column("last_error", sa.String()),
        sa.Column("next_attempt_at", sa.DateTime()),
        sa.Column("message", sa.LargeBinary(), nullable=False),
        sa.Column("item_ids", sa.JSON(), nullable=False),
        sa.Column("more_count", sa.Integer(), nullable=False, server_default="0"),
        sa.Column("window_start", sa.DateTime()),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("sent_at", sa.DateTime()),
        sa.UniqueConstraint("digest_date", "recipient", name="uq_digest_date_recipient"),
    )
    op.create_index("ix_digest_due", "digest_outbox", ["status", "next_attempt_at"])


def downgrade() -> None:
    op.drop_index("ix_digest_due", "digest_outbox")
    op.drop_table("digest_outbox")
