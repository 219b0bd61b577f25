"""template share: how many of a source's articles had their blocks counted, from which of them on each block
was counted, whether it is a sentence, and since when a block is template, so that a sentence is template only when
it is on most of the source's articles since it first showed (an article's own paragraph that a few articles share
is not)

Revision ID: 0017
Revises: 0016
Create Date: 2026-12-03 18:05:00.000000
"""

from __future__ import annotations

import sqlite3

import sqlalchemy as sa
from alembic import op

revision = "0017"
down_revision = "0016"
branch_labels = None
depends_on = None

#: The rule before this revision: a block on this many articles of its source was template.
OLD_TEMPLATE_PAGES = 3


def upgrade() -> None:
    # Plain ADD COLUMNs on both databases: no table is rebuilt, whatever its size.
    op.add_column("sources", sa.Column("blocks_counted", sa.Integer(), nullable=False, server_default="0"))
    op.add_column("template_blocks", sa.Column("first_count", sa.Integer(), nullable=False, server_default="1"))
    op.add_column("template_blocks", sa.Column("template_since", sa.DateTime(timezone=True), nullable=True))
    op.add_column("template_blocks", sa.Column("sentence", sa.Boolean(), nullable=False, server_default=sa.false()))
    # Counts so far, as the rule before this revision read them: a source's stored articles were all counted, each
    # block as if first seen on the first of the articles holding it in a row (so its share is whole), and a block
    # that was template stays template. What the new rule decides applies to the blocks counted from now on.
    op.execute(
        "UPDATE sources SET blocks_counted = (SELECT count(*) FROM articles WHERE articles.source_id = sources.id)"
    )
    op.execute(
        "UPDATE template_blocks SET first_count = CASE"
        " WHEN (SELECT blocks_counted FROM sources WHERE sources.id = template_blocks.source_id) - pages + 1 > 1"
        " THEN (SELECT blocks_counted FROM sources WHERE sources.id = template_blocks.source_id) - pages + 1"
        " ELSE 1 END"
    )
    op.execute(f"UPDATE template_blocks SET template_since = first_seen WHERE pages >= {OLD_TEMPLATE_PAGES}")


def downgrade() -> None:
    columns = (
        ("template_blocks", "sentence"),
        ("template_blocks", "template_since"),
        ("template_blocks", "first_count"),
        ("sources", "blocks_counted"),
    )
    for table, column in columns:
        if op.get_bind().dialect.name == "sqlite" and sqlite3.sqlite_version_info < (3, 35):
            with op.batch_alter_table(table) as batch:  # rebuilds the table: SQLite before 3.35 drops no column
                batch.drop_column(column)
        else:  # in place
            op.execute(f"ALTER TABLE {table} DROP COLUMN {column}")
