"""Full-text search on PostgreSQL: a tsvector per link, weighted, accent-insensitive.

SQLite has its FTS5 `link_search` since 0001; this gives PostgreSQL the same search.
The `readerd` text-search configuration is `simple` (lower-cased words, no stemming,
as FTS5's unicode61) with `unaccent` in front, so "energia" finds "Energía". A
generated column cannot call unaccent() (it is not immutable), so the document is
written by store/common.reindex in the same transaction as the link's text, as on
SQLite. Weights: title A, summary B, tags C, text D (FTS5's bm25 weights 10, 5, 5, 1).

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-03
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0009"
down_revision: str | None = "0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

#: The characters of an article's text that are indexed (a tsvector is at most 1 MB).
INDEXED_TEXT = 500_000


def upgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    op.execute("CREATE EXTENSION IF NOT EXISTS unaccent")
    op.execute("CREATE TEXT SEARCH CONFIGURATION readerd (COPY = simple)")
    op.execute(
        "ALTER TEXT SEARCH CONFIGURATION readerd "
        "ALTER MAPPING FOR asciiword, asciihword, hword_asciipart, word, hword, hword_part "
        "WITH unaccent, simple"
    )
    op.execute(
        "CREATE TABLE link_search (link_id INTEGER PRIMARY KEY "
        "REFERENCES link (id) ON DELETE CASCADE, document tsvector NOT NULL)"
    )
    op.execute("CREATE INDEX ix_link_search_document ON link_search USING GIN (document)")
    op.execute(
        "INSERT INTO link_search (link_id, document) SELECT l.id, "
        "setweight(to_tsvector('readerd', "
        "concat_ws(' ', l.title, nullif(a.title, l.title))), 'A') || "
        "setweight(to_tsvector('readerd', coalesce(n.summary, '')), 'B') || "
        "setweight(to_tsvector('readerd', coalesce((SELECT "
        "string_agg(DISTINCT t.name, ' ' ORDER BY t.name) "
        "FROM link_tag lt JOIN tag t ON t.id = lt.tag_id WHERE lt.link_id = l.id), '')), 'C') || "
        f"setweight(to_tsvector('readerd', left(coalesce(a.text, ''), {INDEXED_TEXT})), 'D') "
        "FROM link l LEFT JOIN article a ON a.link_id = l.id "
        "LEFT JOIN analysis n ON n.link_id = l.id"
    )


def downgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    op.execute("DROP TABLE IF EXISTS link_search")
    op.execute("DROP TEXT SEARCH CONFIGURATION IF EXISTS readerd")
