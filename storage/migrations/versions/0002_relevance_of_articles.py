"""relevance of articles: score, verdict and evidence; off-topic counts of crawl runs

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-22 14:15:57.031024
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("articles", schema=None) as batch_op:
        batch_op.add_column(sa.Column("relevance", sa.Float(), nullable=True))
        batch_op.add_column(sa.Column("relevant", sa.Boolean(), server_default=sa.true(), nullable=False))
        batch_op.add_column(sa.Column("evidence", sa.Text(), nullable=True))
        batch_op.create_index("ix_articles_relevant_first_seen", ["relevant", "first_seen"], unique=False)

    with op.batch_alter_table("crawl_run_sources", schema=None) as batch_op:
        batch_op.add_column(sa.Column("off_topic", sa.Integer(), server_default="0", nullable=False))


def downgrade() -> None:
    with op.batch_alter_table("crawl_run_sources", schema=None) as batch_op:
        batch_op.drop_column("off_topic")

    with op.batch_alter_table("articles", schema=None) as batch_op:
        batch_op.drop_index("ix_articles_relevant_first_seen")
        batch_op.drop_column("evidence")
        batch_op.drop_column("relevant")
        batch_op.drop_column("relevance")
