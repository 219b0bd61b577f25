"""refused requests: a crawl run counts, per source, the requests it did not send because robots.txt
or the address policy refused them

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-01 05:10:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("crawl_run_sources", schema=None) as batch_op:
        batch_op.add_column(sa.Column("refused", sa.Integer(), server_default="0", nullable=False))


def downgrade() -> None:
    with op.batch_alter_table("crawl_run_sources", schema=None) as batch_op:
        batch_op.drop_column("refused")
