"""entry point health: how each feed, sitemap and listing page of a source fared across crawls (for the
fallback chain and `ai4s sources check`), and a run counter of the entry points a source fell back from

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-01 06:50:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "entry_point_health",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("source_id", sa.Integer(), nullable=False),
        sa.Column("url_hash", sa.String(length=40), nullable=False),
        sa.Column("url", sa.Text(), nullable=False),
        sa.Column("kind", sa.String(length=20), nullable=False),
        sa.Column("fallback", sa.Boolean(), nullable=False),
        sa.Column("last_outcome", sa.String(length=20), nullable=False),
        sa.Column("last_status", sa.Integer(), nullable=True),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.Column("last_checked", sa.DateTime(timezone=True), nullable=False),
        sa.Column("last_ok", sa.DateTime(timezone=True), nullable=True),
        sa.Column("consecutive_failures", sa.Integer(), nullable=False),
        sa.Column("polls_without_new", sa.Integer(), nullable=False),
        sa.Column("articles_found", sa.Integer(), nullable=False),
        sa.Column("recent_found", sa.Text(), nullable=False),
        sa.Column("last_new_article_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("unchanged_since", sa.DateTime(timezone=True), nullable=True),
        sa.Column("first_checked", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["source_id"], ["sources.id"], name=op.f("fk_entry_point_health_source_id_sources")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_entry_point_health")),
        sa.UniqueConstraint("source_id", "url_hash", name="uq_entry_point_health_source_url"),
    )
    with op.batch_alter_table("entry_point_health", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_entry_point_health_source_id"), ["source_id"], unique=False)
    with op.batch_alter_table("crawl_run_sources", schema=None) as batch_op:
        batch_op.add_column(sa.Column("fallbacks", sa.Integer(), server_default="0", nullable=False))


def downgrade() -> None:
    with op.batch_alter_table("crawl_run_sources", schema=None) as batch_op:
        batch_op.drop_column("fallbacks")
    with op.batch_alter_table("entry_point_health", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_entry_point_health_source_id"))
    op.drop_table("entry_point_health")
