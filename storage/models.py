"""The corpus schema: sources, articles (and the pages they were extracted from), stories, fetched URLs,
crawl runs, and the daemon's state (entry pages for conditional re-polls, the health of each entry point,
source schedules, the job store) (SQLAlchemy 2.x).

Every fact that must be unique (a canonical URL, a content hash, a source name) is a
named database constraint, so concurrent crawls cannot store a row twice.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any, Final

from sqlalchemy import (
    BigInteger,
    Boolean,
    Column,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    PrimaryKeyConstraint,
    String,
    Table,
    Text,
    TypeDecorator,
    Unicode,
    UniqueConstraint,
    false,
    true,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


def utcnow() -> datetime:
    """The current time, timezone-aware UTC."""
    return datetime.now(UTC)


class UTCDateTime(TypeDecorator[datetime]):
    """A moment, stored in UTC and always read back timezone-aware (SQLite keeps no offset:
    without this its values come back naive, and cannot be compared with aware ones)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Any) -> datetime | None:
        """Aware values in UTC; a naive value is taken as UTC already."""
        if value is None or value.tzinfo is None:
            return value
        return value.astimezone(UTC)

    def process_result_value(self, value: datetime | None, dialect: Any) -> datetime | None:
        """The stored value, marked UTC where the database dropped the offset."""
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


class Base(DeclarativeBase):
    """Declarative base with named constraints (Alembic needs names to alter them)."""

    metadata = MetaData(naming_convention=NAMING_CONVENTION)


class Source(Base):
    """An outlet from the sources file; rows are created the first time a source is crawled."""

    __tablename__ = "sources"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(100), unique=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    # Stored articles whose blocks were counted (template_blocks): a block's share of them tells template from
    # an article's own line that a few articles share.
    blocks_counted: Mapped[int] = mapped_column(Integer, server_default="0")


class Article(Base):
    """A stored news article: one row per distinct canonical URL and distinct text."""

    __tablename__ = "articles"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    source_id: Mapped[int] = mapped_column(ForeignKey("sources.id"), index=True)
    url: Mapped[str] = mapped_column(Text)
    canonical_url: Mapped[str] = mapped_column(Text)
    url_hash: Mapped[str] = mapped_column(String(40), unique=True)
    # The URL hash of the canonical URL of the page it was stored from names as its own (rel=canonical, og:url),
    # where that is another page of its site: that page, and every page naming it, is this article.
    declared_hash: Mapped[str | None] = mapped_column(String(40), index=True)
    title: Mapped[str | None] = mapped_column(Text)
    text: Mapped[str] = mapped_column(Text)
    author: Mapped[str | None] = mapped_column(Text)
    site_name: Mapped[str | None] = mapped_column(Text)
    published: Mapped[datetime | None] = mapped_column(UTCDateTime())
    language: Mapped[str | None] = mapped_column(String(20))
    encoding: Mapped[str | None] = mapped_column(String(40))
    content_hash: Mapped[str] = mapped_column(String(64), unique=True)
    first_seen: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow, index=True)
    last_seen: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    run_id: Mapped[int | None] = mapped_column(ForeignKey("crawl_runs.id"))
    # Relevance to the topic profile (0..1) and the verdict at its threshold; rows stored before
    # scoring existed have no score and count as relevant until `ai4s rescore`.
    relevance: Mapped[float | None] = mapped_column(Float)
    relevant: Mapped[bool] = mapped_column(Boolean, default=True, server_default=true())
    evidence: Mapped[str | None] = mapped_column(Text)  # JSON: the matched terms, facets and places
    # Near-duplicate detection: the story this article is a copy of, and its MinHash fingerprint.
    story_id: Mapped[int | None] = mapped_column(ForeignKey("stories.id"), index=True)
    minhash: Mapped[bytes | None] = mapped_column(LargeBinary)
    shingles: Mapped[int | None] = mapped_column(Integer)
    credited_source: Mapped[str | None] = mapped_column(Text)  # the outlet a copy credits ("来源：新华网")

    __table_args__ = (Index("ix_articles_relevant_first_seen", "relevant", "first_seen"),)


class ArticlePage(Base):
    """The fetched page an article was extracted from, kept compressed (``codec``) so that the article can
    be extracted again by a later extractor; with the extractor (name and version) of its stored fields.
    Articles stored before pages were kept have none."""

    __tablename__ = "article_pages"

    article_id: Mapped[int] = mapped_column(ForeignKey("articles.id"), primary_key=True)
    body: Mapped[bytes] = mapped_column(LargeBinary)  # compressed with ``codec``
    codec: Mapped[str] = mapped_column(String(20))
    raw_size: Mapped[int] = mapped_column(Integer)  # bytes of the page as served
    content_type: Mapped[str | None] = mapped_column(Text)
    header_charset: Mapped[str | None] = mapped_column(String(40))
    url: Mapped[str] = mapped_column(Text)  # the final URL the page came from (after redirects)
    fetched_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    extractor: Mapped[str] = mapped_column(String(100))  # what made the article's stored fields: "trafilatura 2.3.1"
    extracted_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


class ArticleSearchText(Base):
    """An article's title and text in the one form that search compares (simplified script, folded width
    and case, single spaces; :func:`storage.search.search_form`), kept beside the article by the repository
    functions that write its text. The full-text index is over ``body`` (title and text): on SQLite an FTS5
    trigram table (``article_search_fts``), on PostgreSQL a pg_trgm GIN index, both made by migration and
    not described here (:data:`storage.search.INDEX_OBJECTS`)."""

    __tablename__ = "article_search"

    article_id: Mapped[int] = mapped_column(ForeignKey("articles.id"), primary_key=True)
    title: Mapped[str] = mapped_column(Text, default="")
    body: Mapped[str] = mapped_column(Text)


class Story(Base):
    """One story and all its copies (articles with this ``story_id``)."""

    __tablename__ = "stories"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    first_seen: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow, index=True)
    last_seen: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow, index=True)
    copies: Mapped[int] = mapped_column(Integer, default=1)


class StoryBand(Base):
    """The LSH index of near-duplicate detection, kept in the database: one row per band key of an
    article's signature. Articles sharing a key are candidate copies."""

    __tablename__ = "story_bands"

    band_key: Mapped[int] = mapped_column(BigInteger)
    article_id: Mapped[int] = mapped_column(ForeignKey("articles.id"))

    __table_args__ = (PrimaryKeyConstraint("band_key", "article_id", name="pk_story_bands"),)


class TemplateBlock(Base):
    """A block of extracted text (a line, by its key) seen on stored articles of one source: on how many,
    and, until it is that source's template, which articles hold it (so that they are cleaned once it is).

    A source's template is learned here: a block on enough of its articles is template, not content.
    """

    __tablename__ = "template_blocks"

    source_id: Mapped[int] = mapped_column(ForeignKey("sources.id"))
    block_key: Mapped[int] = mapped_column(BigInteger)
    pages: Mapped[int] = mapped_column(Integer, default=1)  # stored articles of the source holding it
    # The source's blocks_counted when the block was first counted: the articles counted since it first showed
    # are the source's blocks_counted - first_count + 1.
    first_count: Mapped[int] = mapped_column(Integer, server_default="1")
    # Whether it is a sentence (a long block): an article's own paragraph may recur on a few of the source's
    # articles, so a sentence needs more of them, and most of those since it first showed, to be template.
    sentence: Mapped[bool] = mapped_column(Boolean, server_default=false())
    # When it became the source's template (it stays template); null while it is not.
    template_since: Mapped[datetime | None] = mapped_column(UTCDateTime())
    # The articles holding it while it is not template yet (comma-separated ids); emptied once it is.
    pending: Mapped[str | None] = mapped_column(Text)
    sample: Mapped[str | None] = mapped_column(Text)  # the block's text, kept once it is template (for people)
    first_seen: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    last_seen: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)

    __table_args__ = (PrimaryKeyConstraint("source_id", "block_key", name="pk_template_blocks"),)


class FetchedUrl(Base):
    """Every URL the crawler fetched (or tried to), by canonical URL, with what came of it.

    ``outcome`` is one of :data:`OUTCOMES`; the terminal ones are never fetched again.
    """

    __tablename__ = "fetched_urls"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    url_hash: Mapped[str] = mapped_column(String(40), unique=True)
    url: Mapped[str] = mapped_column(Text)
    canonical_url: Mapped[str] = mapped_column(Text)
    source_id: Mapped[int | None] = mapped_column(ForeignKey("sources.id"), index=True)
    outcome: Mapped[str] = mapped_column(String(20))
    http_status: Mapped[int | None] = mapped_column(Integer)
    error: Mapped[str | None] = mapped_column(Text)
    article_id: Mapped[int | None] = mapped_column(ForeignKey("articles.id"))
    attempts: Mapped[int] = mapped_column(Integer, default=1)
    first_fetched: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    last_fetched: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)

    __table_args__ = (
        Index("ix_fetched_urls_outcome", "outcome"),
        # the other outlets' exact copies of an article (outcome duplicate), for its story's copies
        Index("ix_fetched_urls_article_id", "article_id"),
    )


class UrlClaim(Base):
    """An article URL a running crawl is about to fetch, so that a crawl of another source that links it too
    leaves it alone (see :mod:`storage.claims`). ``claimed_by`` is the crawl run; a claim lapses at
    ``expires_at``, so the claims of a crawl that died stop counting by themselves."""

    __tablename__ = "url_claims"

    url_hash: Mapped[str] = mapped_column(String(40), primary_key=True)
    url: Mapped[str] = mapped_column(Text)
    source: Mapped[str] = mapped_column(String(100))
    claimed_by: Mapped[int] = mapped_column(Integer, index=True)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime(), index=True)


class RunStatus:
    """How a crawl run stands: ``running``, then ``ok``, ``failed`` (crashed, or no entry page of any
    source reachable), ``interrupted`` (time limit, shutdown, its daemon gone), ``aborted`` (killed,
    or its process found gone) or ``skipped`` (another crawl of its sources was running). Plain strings,
    stored as they are (the database column is text)."""

    RUNNING: Final = "running"
    OK: Final = "ok"
    FAILED: Final = "failed"
    INTERRUPTED: Final = "interrupted"
    ABORTED: Final = "aborted"
    SKIPPED: Final = "skipped"  # nothing crawled: another crawl held its sources (or their hosts) all along


#: The statuses of runs that count as failures of their sources.
FAILED_RUN_STATUSES = frozenset({RunStatus.FAILED, RunStatus.ABORTED})


class CrawlRun(Base):
    """One crawl (of one or more sources): when, how it ended, in which process."""

    __tablename__ = "crawl_runs"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    started_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow, index=True)
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    status: Mapped[str] = mapped_column(String(20), default=RunStatus.RUNNING)
    sources: Mapped[str] = mapped_column(Text, default="")
    pid: Mapped[int | None] = mapped_column(Integer)
    host: Mapped[str | None] = mapped_column(String(255))
    message: Mapped[str | None] = mapped_column(Text)
    # A crawl sent to the cluster's queue: its task id (set by the daemon when it sends it), the worker
    # running it and that worker's last sign of life (set by the worker): a dead worker's heartbeat goes stale.
    task_id: Mapped[str | None] = mapped_column(String(64), index=True)
    worker: Mapped[str | None] = mapped_column(String(255))
    heartbeat_at: Mapped[datetime | None] = mapped_column(UTCDateTime())


class EntryPage(Base):
    """What was last seen at a source's feed, sitemap or listing page, for cheap re-polls:
    the validators for a conditional GET, a hash of the body, and the earliest time the
    server (``Retry-After``) or the feed (``ttl``, ``sy:updatePeriod``) allows the next poll."""

    __tablename__ = "entry_pages"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    url_hash: Mapped[str] = mapped_column(String(40), unique=True)
    url: Mapped[str] = mapped_column(Text)
    source_id: Mapped[int | None] = mapped_column(ForeignKey("sources.id"), index=True)
    etag: Mapped[str | None] = mapped_column(Text)
    last_modified: Mapped[str | None] = mapped_column(Text)
    body_hash: Mapped[str | None] = mapped_column(String(64))
    not_before: Mapped[datetime | None] = mapped_column(UTCDateTime())
    poll_hint: Mapped[float | None] = mapped_column(Float)  # the feed's own minimum interval (ttl), seconds
    http_status: Mapped[int | None] = mapped_column(Integer)
    unchanged_polls: Mapped[int] = mapped_column(Integer, default=0)
    # JSON list of the entry pages it led to last time ([url, kind, depth, page]: sitemaps of an
    # index, next pages and sections of a listing), requested again when this one is unchanged.
    children: Mapped[str | None] = mapped_column(Text)
    last_fetched: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


class EntryPointHealth(Base):
    """How one entry point of a source (a configured feed, sitemap, robots.txt or listing page, or a listing
    page its fallback chain found) has fared across crawls: its last answer, its failures in a row, the new
    articles it named (all time, and in each of its last polls), and since when it has been unchanged."""

    __tablename__ = "entry_point_health"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    source_id: Mapped[int] = mapped_column(ForeignKey("sources.id"), index=True)
    url_hash: Mapped[str] = mapped_column(String(40))
    url: Mapped[str] = mapped_column(Text)  # canonical
    kind: Mapped[str] = mapped_column(String(20))  # feed, robots, sitemap or listing
    fallback: Mapped[bool] = mapped_column(Boolean, default=False)  # found by the fallback chain, not configured
    last_outcome: Mapped[str] = mapped_column(String(20))  # read, unchanged, failed, unreadable, refused, deferred
    last_status: Mapped[int | None] = mapped_column(Integer)  # the HTTP status (None: no answer)
    last_error: Mapped[str | None] = mapped_column(Text)
    last_checked: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    last_ok: Mapped[datetime | None] = mapped_column(UTCDateTime())  # last read or unchanged answer
    consecutive_failures: Mapped[int] = mapped_column(Integer, default=0)
    polls_without_new: Mapped[int] = mapped_column(Integer, default=0)  # answered polls in a row naming nothing new
    articles_found: Mapped[int] = mapped_column(Integer, default=0)  # new articles it named, all time
    recent_found: Mapped[str] = mapped_column(Text, default="[]")  # JSON: new articles of each of its last polls
    last_new_article_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    unchanged_since: Mapped[datetime | None] = mapped_column(UTCDateTime())  # None: it changed at its last poll
    first_checked: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)

    __table_args__ = (UniqueConstraint("source_id", "url_hash", name="uq_entry_point_health_source_url"),)


class SourceSchedule(Base):
    """A source's adaptive schedule and health, kept by the daemon: the interval it polls the
    source at now, the streaks that moved it there, and the last run's result."""

    __tablename__ = "source_schedules"

    source_id: Mapped[int] = mapped_column(ForeignKey("sources.id"), primary_key=True)
    every: Mapped[str] = mapped_column(String(100))  # the configured schedule the interval adapts from
    interval_seconds: Mapped[float | None] = mapped_column(Float)  # None for a cron schedule
    empty_polls: Mapped[int] = mapped_column(Integer, default=0)  # consecutive runs with nothing new
    failures: Mapped[int] = mapped_column(Integer, default=0)  # consecutive failed runs
    healthy: Mapped[bool] = mapped_column(Boolean, default=True, server_default=true())
    last_run_id: Mapped[int | None] = mapped_column(ForeignKey("crawl_runs.id"))
    last_status: Mapped[str | None] = mapped_column(String(20))
    last_run_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    last_new_articles: Mapped[int | None] = mapped_column(Integer)
    last_error: Mapped[str | None] = mapped_column(Text)


class DigestRun(Base):
    """A digest that was delivered: its name, period, and the content it had (the JSON payload),
    so that ``--since-last`` starts where the last one ended and a past digest renders the same again."""

    __tablename__ = "digest_runs"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(100))
    since: Mapped[datetime] = mapped_column(UTCDateTime())
    until: Mapped[datetime] = mapped_column(UTCDateTime())
    continues: Mapped[bool] = mapped_column(Boolean, default=False)  # a --since-last digest: moves the name's mark
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    stories: Mapped[int] = mapped_column(Integer, default=0)
    payload: Mapped[str] = mapped_column(Text)

    __table_args__ = (Index("ix_digest_runs_name_until", "name", "until"),)


#: APScheduler 3's job store table (its own layout, created here by migration so that the
#: product's database holds the daemon's schedule and its next-run times).
scheduler_jobs = Table(
    "apscheduler_jobs",
    Base.metadata,
    Column("id", Unicode(191), primary_key=True),
    Column("next_run_time", Float(25), index=True),
    Column("job_state", LargeBinary, nullable=False),
)


class CrawlRunSource(Base):
    """Per-source counts of one crawl run."""

    __tablename__ = "crawl_run_sources"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    run_id: Mapped[int] = mapped_column(ForeignKey("crawl_runs.id"))
    source_id: Mapped[int] = mapped_column(ForeignKey("sources.id"))
    pages_fetched: Mapped[int] = mapped_column(Integer, default=0)
    new_articles: Mapped[int] = mapped_column(Integer, default=0)
    off_topic: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    duplicates: Mapped[int] = mapped_column(Integer, default=0)
    not_articles: Mapped[int] = mapped_column(Integer, default=0)
    skipped_known: Mapped[int] = mapped_column(Integer, default=0)
    # Requests not sent: robots.txt disallowed them, or the address policy refused them.
    refused: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    errors: Mapped[int] = mapped_column(Integer, default=0)
    # Entry pages (feeds, sitemaps, listings): read, unchanged since the last poll (304 or the same
    # body), or failed. A run whose every entry page failed is a failed run of that source.
    entry_pages_read: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    entry_pages_unchanged: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    entry_pages_failed: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    # Entry points that failed or went stale, stood in for by the source's others or its homepage's listings.
    fallbacks: Mapped[int] = mapped_column(Integer, default=0, server_default="0")

    __table_args__ = (UniqueConstraint("run_id", "source_id", name="uq_crawl_run_sources_run_source"),)


#: What can come of fetching a URL.
OUTCOMES = (
    "article",  # stored as a new article
    "duplicate",  # an article whose text is already stored under another URL
    "no_text",  # an HTML page with no article text (index, listing, error page)
    "not_html",  # a PDF, an image, anything that is not a web page
    "gone",  # 404 / 410
    "http_error",  # other HTTP errors (5xx, 429...): tried again next crawl
    "network_error",  # timeouts, refused connections, DNS: tried again next crawl
    "extraction_error",  # its extraction killed its worker, or ran past its CPU time: tried again next crawl
)

#: Outcomes after which a URL is never requested again as an article.
TERMINAL_OUTCOMES = ("article", "duplicate", "no_text", "not_html", "gone")
#: Outcomes after which a URL is requested again by the next crawls, up to their most attempts.
RETRIABLE_OUTCOMES = ("http_error", "network_error", "extraction_error")
