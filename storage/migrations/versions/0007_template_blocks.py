"""template blocks: the blocks of extracted text seen on each source's articles, counted, so that a
source's template (related headlines, promo boxes, copyright and editor lines) is learned and removed

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-01 04:00:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "template_blocks",
        sa.Column("source_id", sa.Integer(), nullable=False),
        sa.Column("block_key", sa.BigInteger(), nullable=False),
        sa.Column("pages", sa.Integer(), nullable=False),
        sa.Column("pending", sa.Text(), nullable=True),
        sa.Column("sample", sa.Text(), nullable=True),
        sa.Column("first_seen", sa.DateTime(timezone=True), nullable=False),
        sa.Column("last_seen", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["source_id"], ["sources.id"], name=op.f("fk_template_blocks_source_id_sources")),
        sa.PrimaryKeyConstraint("source_id", "block_key", name="pk_template_blocks"),
    )


def downgrade() -> None:
    op.drop_table("template_blocks")
