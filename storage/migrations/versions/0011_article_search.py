"""article search: the searched form of each article's title and text (article_search), indexed for
substring search: an FTS5 trigram table kept by triggers on SQLite, a pg_trgm GIN index on PostgreSQL;
the articles already stored are indexed by 0014, which fills the index in the form the search reads now
(filling it here too indexed every article twice on an upgrade through both)

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-01 06:50:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None

SQLITE_INDEX = (
    "CREATE VIRTUAL TABLE article_search_fts USING fts5("
    "body, content='article_search', content_rowid='article_id', tokenize='trigram')",
    "CREATE TRIGGER article_search_fts_insert AFTER INSERT ON article_search BEGIN "
    "INSERT INTO article_search_fts(rowid, body) VALUES (new.article_id, new.body); END",
    "CREATE TRIGGER article_search_fts_delete AFTER DELETE ON article_search BEGIN "
    "INSERT INTO article_search_fts(article_search_fts, rowid, body) VALUES ('delete', old.article_id, old.body); END",
    "CREATE TRIGGER article_search_fts_update AFTER UPDATE ON article_search BEGIN "
    "INSERT INTO article_search_fts(article_search_fts, rowid, body) VALUES ('delete', old.article_id, old.body); "
    "INSERT INTO article_search_fts(rowid, body) VALUES (new.article_id, new.body); END",
)
POSTGRESQL_INDEX = (
    "CREATE EXTENSION IF NOT EXISTS pg_trgm",
    "CREATE INDEX ix_article_search_body_trgm ON article_search USING gin (body gin_trgm_ops)",
)


def upgrade() -> None:
    op.create_table(
        "article_search",
        sa.Column("article_id", sa.Integer(), nullable=False),
        sa.Column("title", sa.Text(), nullable=False),
        sa.Column("body", sa.Text(), nullable=False),
        sa.ForeignKeyConstraint(["article_id"], ["articles.id"], name=op.f("fk_article_search_article_id_articles")),
        sa.PrimaryKeyConstraint("article_id", name=op.f("pk_article_search")),
    )
    bind = op.get_bind()
    for statement in SQLITE_INDEX if bind.dialect.name == "sqlite" else POSTGRESQL_INDEX:
        op.execute(statement)


def downgrade() -> None:
    if op.get_bind().dialect.name == "sqlite":
        for trigger in ("insert", "delete", "update"):
            op.execute(f"DROP TRIGGER article_search_fts_{trigger}")
        op.execute("DROP TABLE article_search_fts")
    op.drop_table("article_search")  # its trigram index goes with it
