"""The passage index: each article's paragraph-packed windows, searchable with FTS5.

`ask` ranks articles by their best passage and reads the passages that match a query;
store/passages.py keeps the index in step with the articles' text (passage_source
records the text each article's passages were cut from). rowid = link_id * 1000 + n,
so an article's passages are replaced by a rowid range, not a scan.

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-02
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "passage_source",
        sa.Column(
            "link_id",
            sa.Integer(),
            sa.ForeignKey("link.id", ondelete="CASCADE"),
            primary_key=True,
        ),
        sa.Column("content_hash", sa.String(), nullable=False),
    )
    if op.get_bind().dialect.name == "sqlite":
        op.execute(
            "CREATE VIRTUAL TABLE passage_search USING fts5("
            "text, link_id UNINDEXED, start UNINDEXED, stop UNINDEXED, "
            "tokenize = 'unicode61 remove_diacritics 2')"
        )


def downgrade() -> None:
    if op.get_bind().dialect.name == "sqlite":
        op.execute("DROP TABLE IF EXISTS passage_search")
    op.drop_table("passage_source")
