"""article pages: each new article's fetched page, kept compressed, with its extractor (for `ai4s reprocess`)

Articles stored before this revision have no kept page: they are left as they are.

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-01 05:00:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "article_pages",
        sa.Column("article_id", sa.Integer(), nullable=False),
        sa.Column("body", sa.LargeBinary(), nullable=False),
        sa.Column("codec", sa.String(length=20), nullable=False),
        sa.Column("raw_size", sa.Integer(), nullable=False),
        sa.Column("content_type", sa.Text(), nullable=True),
        sa.Column("header_charset", sa.String(length=40), nullable=True),
        sa.Column("url", sa.Text(), nullable=False),
        sa.Column("fetched_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("extractor", sa.String(length=100), nullable=False),
        sa.Column("extracted_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["article_id"], ["articles.id"], name=op.f("fk_article_pages_article_id_articles")),
        sa.PrimaryKeyConstraint("article_id", name=op.f("pk_article_pages")),
    )


def downgrade() -> None:
    op.drop_table("article_pages")
