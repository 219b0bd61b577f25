"""fetched urls by article: the outlets whose copy of an article was its very text (outcome duplicate) are
copies of its story, found through this index

Revision ID: 0015
Revises: 0014
Create Date: 2026-12-03 12:50:00.000000
"""

from __future__ import annotations

from alembic import op

revision = "0015"
down_revision = "0014"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index("ix_fetched_urls_article_id", "fetched_urls", ["article_id"], unique=False)


def downgrade() -> None:
    op.drop_index("ix_fetched_urls_article_id", table_name="fetched_urls")
