"""Tag aliases: spellings the analyser proposed (or a merge folded away) and the tag they mean.

Matching a new spelling against every spelling seen before, not only the tag's
name, keeps a tag whose first spelling was a typo from forking again; `readerd
tags merge OLD NEW` leaves OLD here so the analyser's next OLD becomes NEW.
Maintained by readerd/store.py with plain SQL, like link_search.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-22
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "tag_alias",
        sa.Column("alias", sa.String(), primary_key=True),
        sa.Column(
            "tag_id", sa.Integer(), sa.ForeignKey("tag.id", ondelete="CASCADE"), nullable=False
        ),
    )
    op.create_index("ix_tag_alias_tag_id", "tag_alias", ["tag_id"])


def downgrade() -> None:
    op.drop_index("ix_tag_alias_tag_id", "tag_alias")
    op.drop_table("tag_alias")
