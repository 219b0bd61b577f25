"""stories and near-duplicate fingerprints: stories, the LSH band index, articles.story_id

Articles stored before this revision become one story each; `ai4s stories rebuild` then
groups them by their fingerprints.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-22 14:21:37.135169
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "stories",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("first_seen", sa.DateTime(timezone=True), nullable=False),
        sa.Column("last_seen", sa.DateTime(timezone=True), nullable=False),
        sa.Column("copies", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_stories")),
    )
    with op.batch_alter_table("stories", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_stories_first_seen"), ["first_seen"], unique=False)
        batch_op.create_index(batch_op.f("ix_stories_last_seen"), ["last_seen"], unique=False)

    op.create_table(
        "story_bands",
        sa.Column("band_key", sa.BigInteger(), nullable=False),
        sa.Column("article_id", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(["article_id"], ["articles.id"], name=op.f("fk_story_bands_article_id_articles")),
        sa.PrimaryKeyConstraint("band_key", "article_id", name="pk_story_bands"),
    )
    with op.batch_alter_table("articles", schema=None) as batch_op:
        batch_op.add_column(sa.Column("story_id", sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column("minhash", sa.LargeBinary(), nullable=True))
        batch_op.add_column(sa.Column("shingles", sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column("credited_source", sa.Text(), nullable=True))
        batch_op.create_index(batch_op.f("ix_articles_story_id"), ["story_id"], unique=False)
        batch_op.create_foreign_key(batch_op.f("fk_articles_story_id_stories"), "stories", ["story_id"], ["id"])

    # Every article stored so far becomes a story of its own (same id), until `ai4s stories rebuild`.
    op.execute(
        "INSERT INTO stories (id, first_seen, last_seen, copies) SELECT id, first_seen, last_seen, 1 FROM articles"
    )
    op.execute("UPDATE articles SET story_id = id")
    if op.get_bind().dialect.name == "postgresql":
        op.execute(
            "SELECT setval(pg_get_serial_sequence('stories', 'id'), COALESCE(MAX(id), 0) + 1, false) FROM stories"
        )


def downgrade() -> None:
    with op.batch_alter_table("articles", schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f("fk_articles_story_id_stories"), type_="foreignkey")
        batch_op.drop_index(batch_op.f("ix_articles_story_id"))
        batch_op.drop_column("credited_source")
        batch_op.drop_column("shingles")
        batch_op.drop_column("minhash")
        batch_op.drop_column("story_id")

    op.drop_table("story_bands")
    with op.batch_alter_table("stories", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_stories_last_seen"))
        batch_op.drop_index(batch_op.f("ix_stories_first_seen"))

    op.drop_table("stories")
