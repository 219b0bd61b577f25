"""url claims: an article URL a running crawl is about to fetch, so that two crawls linking it fetch it once

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-01 06:50:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0013"
down_revision = "0012"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "url_claims",
        sa.Column("url_hash", sa.String(length=40), nullable=False),
        sa.Column("url", sa.Text(), nullable=False),
        sa.Column("source", sa.String(length=100), nullable=False),
        sa.Column("claimed_by", sa.Integer(), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("url_hash", name=op.f("pk_url_claims")),
    )
    with op.batch_alter_table("url_claims", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_url_claims_claimed_by"), ["claimed_by"], unique=False)
        batch_op.create_index(batch_op.f("ix_url_claims_expires_at"), ["expires_at"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("url_claims", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_url_claims_expires_at"))
        batch_op.drop_index(batch_op.f("ix_url_claims_claimed_by"))
    op.drop_table("url_claims")
