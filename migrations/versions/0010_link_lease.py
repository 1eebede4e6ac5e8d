"""Leases on the queue: which worker holds a due link, and until when.

A worker claims due rows by stamping lease_owner and lease_until (store/leases.py),
renews them while it works, and every save it makes is fenced by lease_owner: a worker
whose lease expired writes nothing. An expired lease is simply claimable again.

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-03
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0010"
down_revision: str | None = "0009"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("link") as batch:
        batch.add_column(sa.Column("lease_owner", sa.String(), nullable=True))
        batch.add_column(sa.Column("lease_until", sa.DateTime(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("link") as batch:
        batch.drop_column("lease_until")
        batch.drop_column("lease_owner")
