"""template sentence of the first 0017: template_blocks.sentence where a database lacks it. Migration 0017 gained the
column after its first form had been run (commit 0f9601b): a database that form migrated was at 0017 without it,
and every crawl, daemon crawl and reprocess failed on it ("no such column: template_blocks.sentence")

Revision ID: 0018
Revises: 0017
Create Date: 2026-12-03 20:00:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0018"
down_revision = "0017"
branch_labels = None
depends_on = None


def upgrade() -> None:
    columns = {column["name"] for column in sa.inspect(op.get_bind()).get_columns("template_blocks")}
    if "sentence" not in columns:  # as 0017 adds it: every block counted so far is no sentence
        op.add_column("template_blocks", sa.Column("sentence", sa.Boolean(), nullable=False, server_default=sa.false()))


def downgrade() -> None:
    pass  # the column is 0017's: its downgrade drops it
