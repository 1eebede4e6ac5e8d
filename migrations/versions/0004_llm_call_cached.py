"""Prompt tokens a server reused from its prefix cache, per LLM request (where it says so).

OpenAI and vLLM report usage.prompt_tokens_details.cached_tokens, llama.cpp's server
timings.cache_n; readerd keeps its prompts prefix-stable so that these add up.

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-02
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("llm_call") as batch:
        batch.add_column(
            sa.Column("tokens_cached", sa.Integer(), nullable=False, server_default="0")
        )


def downgrade() -> None:
    with op.batch_alter_table("llm_call") as batch:
        batch.drop_column("tokens_cached")
