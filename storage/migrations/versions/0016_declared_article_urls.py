"""declared article urls: the URL hash of the page an article's page names as its own (rel=canonical, og:url),
so that the page named and every page naming it are found as that one article

Revision ID: 0016
Revises: 0015
Create Date: 2026-12-03 15:40:00.000000
"""

from __future__ import annotations

import sqlite3

import sqlalchemy as sa
from alembic import op

revision = "0016"
down_revision = "0015"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # A plain ADD COLUMN on both databases: no table is rebuilt, whatever its size.
    op.add_column("articles", sa.Column("declared_hash", sa.String(length=40), nullable=True))
    op.create_index("ix_articles_declared_hash", "articles", ["declared_hash"], unique=False)


def downgrade() -> None:
    op.drop_index("ix_articles_declared_hash", table_name="articles")
    if op.get_bind().dialect.name == "sqlite" and sqlite3.sqlite_version_info < (3, 35):
        with op.batch_alter_table("articles") as batch:  # rebuilds the table: SQLite before 3.35 drops no column
            batch.drop_column("declared_hash")
    else:  # in place: the articles table is never copied, and the tables that refer to it stay as they are
        op.execute("ALTER TABLE articles DROP COLUMN declared_hash")
