"""daemon state: entry pages (conditional re-polls), source schedules (adaptive interval, health),
and APScheduler's job store, so the daemon keeps its schedule in the corpus database

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-22 15:00:55.358705
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None

ENTRY_PAGE_COUNTERS = ("entry_pages_read", "entry_pages_unchanged", "entry_pages_failed")


def upgrade() -> None:
    op.create_table(
        "apscheduler_jobs",
        sa.Column("id", sa.Unicode(length=191), nullable=False),
        sa.Column("next_run_time", sa.Float(precision=25), nullable=True),
        sa.Column("job_state", sa.LargeBinary(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_apscheduler_jobs")),
    )
    with op.batch_alter_table("apscheduler_jobs", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_apscheduler_jobs_next_run_time"), ["next_run_time"], unique=False)

    op.create_table(
        "entry_pages",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("url_hash", sa.String(length=40), nullable=False),
        sa.Column("url", sa.Text(), nullable=False),
        sa.Column("source_id", sa.Integer(), nullable=True),
        sa.Column("etag", sa.Text(), nullable=True),
        sa.Column("last_modified", sa.Text(), nullable=True),
        sa.Column("body_hash", sa.String(length=64), nullable=True),
        sa.Column("not_before", sa.DateTime(timezone=True), nullable=True),
        sa.Column("poll_hint", sa.Float(), nullable=True),
        sa.Column("http_status", sa.Integer(), nullable=True),
        sa.Column("unchanged_polls", sa.Integer(), nullable=False),
        sa.Column("children", sa.Text(), nullable=True),
        sa.Column("last_fetched", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["source_id"], ["sources.id"], name=op.f("fk_entry_pages_source_id_sources")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_entry_pages")),
        sa.UniqueConstraint("url_hash", name=op.f("uq_entry_pages_url_hash")),
    )
    with op.batch_alter_table("entry_pages", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_entry_pages_source_id"), ["source_id"], unique=False)

    op.create_table(
        "source_schedules",
        sa.Column("source_id", sa.Integer(), nullable=False),
        sa.Column("every", sa.String(length=100), nullable=False),
        sa.Column("interval_seconds", sa.Float(), nullable=True),
        sa.Column("empty_polls", sa.Integer(), nullable=False),
        sa.Column("failures", sa.Integer(), nullable=False),
        sa.Column("healthy", sa.Boolean(), server_default=sa.true(), nullable=False),
        sa.Column("last_run_id", sa.Integer(), nullable=True),
        sa.Column("last_status", sa.String(length=20), nullable=True),
        sa.Column("last_run_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("last_new_articles", sa.Integer(), nullable=True),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.ForeignKeyConstraint(
            ["last_run_id"], ["crawl_runs.id"], name=op.f("fk_source_schedules_last_run_id_crawl_runs")
        ),
        sa.ForeignKeyConstraint(["source_id"], ["sources.id"], name=op.f("fk_source_schedules_source_id_sources")),
        sa.PrimaryKeyConstraint("source_id", name=op.f("pk_source_schedules")),
    )

    with op.batch_alter_table("crawl_run_sources", schema=None) as batch_op:
        for column in ENTRY_PAGE_COUNTERS:
            batch_op.add_column(sa.Column(column, sa.Integer(), server_default="0", nullable=False))


def downgrade() -> None:
    with op.batch_alter_table("crawl_run_sources", schema=None) as batch_op:
        for column in ENTRY_PAGE_COUNTERS:
            batch_op.drop_column(column)
    op.drop_table("source_schedules")
    with op.batch_alter_table("entry_pages", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_entry_pages_source_id"))

    op.drop_table("entry_pages")
    with op.batch_alter_table("apscheduler_jobs", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_apscheduler_jobs_next_run_time"))

    op.drop_table("apscheduler_jobs")
