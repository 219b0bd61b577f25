"""The corpus store: SQLAlchemy models, database sessions, migrations and data functions.

It knows nothing of the crawler: it stores and answers questions about articles,
fetched URLs and crawl runs, on SQLite or PostgreSQL.
"""

from storage.db import Database, resolve_db_url
from storage.repository import NewArticle, StoreResult

__all__ = ["Database", "NewArticle", "StoreResult", "resolve_db_url"]
