"""Initial schema: links (the work queue), articles, analyses, tags, cursors, LLM call log, search.

Revision ID: 0001
Revises:
Create Date: 2026-11-22
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0001"
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "link",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("source", sa.String(), nullable=False),
        sa.Column("source_id", sa.String(), nullable=False),
        sa.Column("url", sa.String(), nullable=False),
        sa.Column("title", sa.String()),
        sa.Column("state", sa.String(), nullable=False, server_default="unread"),
        sa.Column("deleted", sa.Boolean(), nullable=False, server_default=sa.false()),
        sa.Column("added_at", sa.DateTime()),
        sa.Column("updated_at", sa.DateTime()),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("provided_content", sa.LargeBinary()),
        sa.Column("provided_content_type", sa.String()),
        sa.Column("stage", sa.String(), nullable=False, server_default="fetch"),
        sa.Column("status", sa.String(), nullable=False, server_default="pending"),
        sa.Column("attempts", sa.Integer(), nullable=False, server_default="0"),
        sa.Column("last_error", sa.String()),
        sa.Column("next_attempt_at", sa.DateTime()),
        sa.Column("processed_at", sa.DateTime()),
        sa.UniqueConstraint("source", "source_id", name="uq_link_source"),
    )
    op.create_index("ix_link_due", "link", ["status", "next_attempt_at"])
    op.create_table(
        "article",
        sa.Column(
            "link_id", sa.Integer(), sa.ForeignKey("link.id", ondelete="CASCADE"), primary_key=True
        ),
        sa.Column("final_url", sa.String(), nullable=False),
        sa.Column("content_type", sa.String(), nullable=False),
        sa.Column("kind", sa.String(), nullable=False),
        sa.Column("title", sa.String()),
        sa.Column("author", sa.String()),
        sa.Column("published", sa.String()),
        sa.Column("site_name", sa.String()),
        sa.Column("language", sa.String()),
        sa.Column("word_count", sa.Integer(), nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("content_hash", sa.String(), nullable=False),
        sa.Column("extracted_at", sa.DateTime(), nullable=False),
    )
    op.create_table(
        "analysis",
        sa.Column(
            "link_id", sa.Integer(), sa.ForeignKey("link.id", ondelete="CASCADE"), primary_key=True
        ),
        sa.Column("summary", sa.Text(), nullable=False),
        sa.Column("key_points", sa.JSON(), nullable=False),
        sa.Column("language", sa.String(), nullable=False),
        sa.Column("analyzer", sa.String(), nullable=False),
        sa.Column("model", sa.String(), nullable=False),
        sa.Column("prompt_version", sa.String(), nullable=False),
        sa.Column("content_hash", sa.String(), nullable=False),
        sa.Column("tokens_in", sa.Integer(), nullable=False),
        sa.Column("tokens_out", sa.Integer(), nullable=False),
        sa.Column("latency_ms", sa.Integer(), nullable=False),
        sa.Column("coverage", sa.Float(), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
    )
    op.create_table(
        "tag",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("name", sa.String(), nullable=False, unique=True),
    )
    op.create_table(
        "link_tag",
        sa.Column(
            "link_id", sa.Integer(), sa.ForeignKey("link.id", ondelete="CASCADE"), primary_key=True
        ),
        sa.Column(
            "tag_id", sa.Integer(), sa.ForeignKey("tag.id", ondelete="CASCADE"), primary_key=True
        ),
        sa.Column("origin", sa.String(), primary_key=True),
    )
    op.create_table(
        "source_state",
        sa.Column("source", sa.String(), primary_key=True),
        sa.Column("cursor", sa.String()),
        sa.Column("last_sync_at", sa.DateTime()),
        sa.Column("last_result", sa.String()),
    )
    op.create_table(
        "llm_call",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("link_id", sa.Integer(), sa.ForeignKey("link.id", ondelete="SET NULL")),
        sa.Column("model", sa.String(), nullable=False),
        sa.Column("base_url_host", sa.String(), nullable=False),
        sa.Column("prompt_version", sa.String(), nullable=False),
        sa.Column("mode", sa.String(), nullable=False),
        sa.Column("tokens_in", sa.Integer(), nullable=False),
        sa.Column("tokens_out", sa.Integer(), nullable=False),
        sa.Column("latency_ms", sa.Integer(), nullable=False),
        sa.Column("outcome", sa.String(), nullable=False),
        sa.Column("error", sa.String()),
        sa.Column("created_at", sa.DateTime(), nullable=False),
    )
    op.create_index("ix_llm_call_created_at", "llm_call", ["created_at"])
    if op.get_bind().dialect.name == "sqlite":
        # rowid = link.id; maintained by readerd/store.py whenever a link's text,
        # analysis or tags change. unicode61 folds accents so "energia" finds "energía".
        op.execute(
            "CREATE VIRTUAL TABLE link_search USING fts5("
            "title, summary, tags, text, tokenize = 'unicode61 remove_diacritics 2')"
        )


def downgrade() -> None:
    if op.get_bind().dialect.name == "sqlite":
        op.execute("DROP TABLE IF EXISTS link_search")
    for table in ("llm_call", "source_state", "link_tag", "tag", "analysis", "article"):
        op.drop_table(table)
    op.drop_index("ix_link_due", "link")
    op.drop_table("link")
