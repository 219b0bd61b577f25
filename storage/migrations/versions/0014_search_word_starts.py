"""search at word starts: the index holds each article's text with punctuation as spaces and a space opening
every Latin word (a Latin term matches at word starts, and a two-letter one can use the trigram index); the
index of the articles already stored is filled (again, for a database made at 0011 to 0013) in that form

Revision ID: 0014
Revises: 0013
Create Date: 2026-12-01 08:00:00.000000
"""

from __future__ import annotations

from alembic import op

from storage.search import reindex_articles

revision = "0014"
down_revision = "0013"
branch_labels = None
depends_on = None


def upgrade() -> None:
    reindex_articles(op.get_bind())


def downgrade() -> None:
    # The older form is not rebuilt: the index stays filled in this one, which the older search still reads
    # (it finds substrings of it), only a term holding punctuation no longer matches its text.
    pass
