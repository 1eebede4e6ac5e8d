"""The passage index on PostgreSQL: `ask`'s paragraph-packed windows, with a tsvector each.

SQLite has its FTS5 `passage_search` since 0007; this gives PostgreSQL the same table
(rowid = link_id * 1000 + n, as there) with a `document` written by store/passages.py
in the `readerd` configuration of 0009 (unaccented, no stemming), under a GIN index.
The index is derived: it fills itself on the next processing pass or `ask`.

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-03
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0011"
down_revision: str | None = "0010"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    op.execute(
        "CREATE TABLE passage_search (rowid BIGINT PRIMARY KEY, "
        "link_id INTEGER NOT NULL REFERENCES link (id) ON DELETE CASCADE, "
        "start INTEGER NOT NULL, stop INTEGER NOT NULL, text TEXT NOT NULL, "
        "document tsvector NOT NULL)"
    )
    op.execute("CREATE INDEX ix_passage_search_document ON passage_search USING GIN (document)")
    op.execute("DELETE FROM passage_source")  # cut on no table before: re-cut them all


def downgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    op.execute("DROP TABLE IF EXISTS passage_search")
