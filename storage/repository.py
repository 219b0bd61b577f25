"""Data functions over the corpus. Each takes a session; the caller owns the transaction.

Writes are insert-or-ignore / upserts against the schema's unique constraints, so two
processes storing the same article at once end with one row, never an error or a copy.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime
from functools import cache
from typing import Any, TypeVar, cast

from sqlalchemy import Table, func, select, union, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from storage.counters import ENTRY_COUNTERS, RUN_COUNTERS, SourceRunCounts
from storage.hashing import content_hash, url_hash
from storage.models import (
    RETRIABLE_OUTCOMES,
    TERMINAL_OUTCOMES,
    Article,
    ArticleSearchText,
    CrawlRun,
    CrawlRunSource,
    FetchedUrl,
    RunStatus,
    Source,
    utcnow,
)
from storage.searchtext import indexed_body


def dialect_insert(session: Session, model: type) -> Any:
    """An INSERT into ``model`` in the session's SQL dialect, so that it takes ON CONFLICT clauses
    (``on_conflict_do_nothing``, ``on_conflict_do_update``) on SQLite and PostgreSQL alike."""
    return insert_in(dialect_of(session), model)


def dialect_of(session: Session) -> str:
    """The name of the session's SQL dialect (``sqlite``, ``postgresql``): the key of statements made once."""
    return session.get_bind().dialect.name


def table_of(model: type) -> Table:
    """The Core table of the mapped class ``model``: what a statement written for every stored page targets (an
    ORM statement on the class costs about twice as much and adds nothing to rows given as column values)."""
    return cast(Table, model.__table__)  # type: ignore[attr-defined]


@cache
def insert_in(dialect: str, model: type) -> Any:
    """An INSERT into ``model``'s table (:func:`table_of`) in ``dialect``. Statements are immutable: one made once,
    executed with its values as parameters, serves every call (building an upsert for each row cost more than
    running it). The ORM's bulk insert on the class cost 0.142 ms for 32 story bands, this one 0.068 ms."""
    table = table_of(model)
    if dialect == "sqlite":
        return sqlite.insert(table)
    if dialect == "postgresql":
        return postgresql.insert(table)
    raise NotImplementedError(f"database dialect {dialect!r} is not supported (use SQLite or PostgreSQL)")


# -- sources ---------------------------------------------------------------------
def ensure_source(session: Session, name: str) -> int:
    """The id of the source called ``name``, creating its row if needed."""
    session.execute(dialect_insert(session, Source).values(name=name, created_at=utcnow()).on_conflict_do_nothing())
    return session.execute(select(Source.id).where(Source.name == name)).scalar_one()


def unknown_sources(session: Session, names: Iterable[str]) -> list[str]:
    """The ``names`` that no stored source has, in their order (a filter by them would match nothing)."""
    wanted = list(dict.fromkeys(names))
    known = set(session.execute(select(Source.name).where(Source.name.in_(wanted))).scalars())
    return [name for name in wanted if name not in known]


# -- articles and fetched URLs ------------------------------------------------------
@dataclass(frozen=True)
class NewArticle:
    """An extracted article ready to store."""

    source: str
    url: str
    canonical_url: str
    title: str | None
    text: str
    author: str | None = None
    site_name: str | None = None
    published: datetime | None = None
    language: str | None = None
    encoding: str | None = None
    relevance: float | None = None
    relevant: bool = True
    evidence: str | None = None  # JSON
    credited_source: str | None = None
    #: The canonical URL of the other page of its site that its page names as its own, if any.
    declared_url: str | None = None
    #: Its :class:`StoredForms`, when made ahead (by an extraction worker); made here when missing or not its own.
    forms: StoredForms | None = None


@dataclass(frozen=True)
class StoredForms:
    """What storing an article derives from its title and text: the content hash (the unique key of the text)
    and the search index's forms. Made once, where the text is at hand, for the title and text it names."""

    title: str | None
    text: str
    content_hash: str
    indexed_title: str
    indexed_body: str

    @classmethod
    def of(cls, title: str | None, text: str) -> StoredForms:
        """The stored forms of ``title`` and ``text``."""
        return cls(title, text, content_hash(text), *indexed_body(title, text))

    def are_of(self, title: str | None, text: str) -> bool:
        """Whether these are the forms of ``title`` and ``text``."""
        return self.text == text and self.title == title


@dataclass(frozen=True)
class StoreResult:
    """What storing an article did: ``created`` a row, or found it a ``duplicate`` of ``article_id``."""

    article_id: int
    created: bool


def store_article(
    session: Session, article: NewArticle, run_id: int | None = None, source_id: int | None = None
) -> StoreResult:
    """Insert ``article`` unless its canonical URL or its text is already stored.

    Returns the new row's id, or the id of the stored article it duplicates (whose
    ``last_seen`` is then refreshed). ``source_id``, when the caller knows it, saves a lookup.
    """
    source_id = source_id or ensure_source(session, article.source)
    now = utcnow()
    u_hash = url_hash(article.canonical_url)
    forms = article.forms
    if forms is None or not forms.are_of(article.title, article.text):
        forms = StoredForms.of(article.title, article.text)
    c_hash = forms.content_hash
    values = {
        "source_id": source_id,
        "url": article.url,
        "canonical_url": article.canonical_url,
        "url_hash": u_hash,
        "declared_hash": url_hash(article.declared_url) if article.declared_url else None,
        "title": article.title,
        "text": article.text,
        "author": article.author,
        "site_name": article.site_name,
        "published": article.published,
        "language": article.language,
        "encoding": article.encoding,
        "relevance": article.relevance,
        "relevant": article.relevant,
        "evidence": article.evidence,
        "credited_source": article.credited_source,
        "content_hash": c_hash,
        "first_seen": now,
        "last_seen": now,
        "run_id": run_id,
    }
    statement = _article_insert(dialect_of(session))
    new_id = session.execute(statement, values).scalar()
    if new_id is not None:
        _index(session, new_id, forms.indexed_title, forms.indexed_body)
        return StoreResult(new_id, True)
    existing = session.execute(
        select(Article.id).where((Article.content_hash == c_hash) | (Article.url_hash == u_hash)).limit(1)
    ).scalar_one()
    seen_again(session, existing)
    return StoreResult(existing, False)


@dataclass(frozen=True)
class NamedArticle:
    """A stored article a URL names, with its signature (``None`` for a text too short to have one)."""

    id: int
    title: str | None
    minhash: bytes | None


#: A URL that names more stored articles than this is a template's name for every page, not a page's.
MOST_NAMED = 3


def articles_named(session: Session, spellings: Iterable[str]) -> list[NamedArticle]:
    """The stored articles a canonical URL names, in any of its ``spellings``: the one stored under it, the one
    its fetch found (through redirects, or as a copy of its text), and those whose pages name it as their own
    (:attr:`NewArticle.declared_url`), oldest first; none where it names more than :data:`MOST_NAMED`."""
    keys = [url_hash(spelling) for spelling in spellings]
    # three lookups by index, one statement: an OR of them would be a scan of every article on PostgreSQL
    named = union(
        select(Article.id.label("id")).where(Article.url_hash.in_(keys)),
        select(Article.id.label("id")).where(Article.declared_hash.in_(keys)),
        select(FetchedUrl.article_id.label("id")).where(
            FetchedUrl.url_hash.in_(keys), FetchedUrl.article_id.is_not(None)
        ),
    ).subquery()
    rows = session.execute(
        select(Article.id, Article.title, Article.minhash)
        .join(named, named.c.id == Article.id)
        .order_by(Article.id)
        .limit(MOST_NAMED + 1)
    ).all()
    if len(rows) > MOST_NAMED:
        return []
    return [NamedArticle(row.id, row.title, row.minhash) for row in rows]


def seen_again(session: Session, article_id: int) -> None:
    """Note that a stored article was found again now."""
    session.execute(update(Article).where(Article.id == article_id).values(last_seen=utcnow()))


def adopt_named_url(session: Session, article_id: int, url: str, canonical_url: str, spellings: Iterable[str]) -> bool:
    """Give a stored article the URL its page named as its own (any of its ``spellings``) once that page is fetched:
    the article page rather than the print or mobile edition first stored. Whether it did (not where the article
    named another page, or another article is stored under ``canonical_url``)."""
    key = url_hash(canonical_url)
    taken = select(Article.id).where(Article.url_hash == key).exists()
    statement = (
        update(Article)
        .where(
            Article.id == article_id,
            Article.declared_hash.in_([url_hash(spelling) for spelling in spellings]),
            ~taken,
        )
        .values(url=url, canonical_url=canonical_url, url_hash=key, declared_hash=None)
    )
    return _guarded_update(session, statement)


def recorded_fetch(session: Session, canonical_url: str) -> tuple[str, int | None] | None:
    """The outcome and article id the corpus holds for ``canonical_url`` (a stored article's URL counts as a fetch
    that found it), if it holds any."""
    key = url_hash(canonical_url)
    row = session.execute(select(FetchedUrl.outcome, FetchedUrl.article_id).where(FetchedUrl.url_hash == key)).first()
    if row is not None:
        return row.outcome, row.article_id
    stored = session.execute(select(Article.id).where(Article.url_hash == key)).scalar()
    return ("article", stored) if stored is not None else None


def record_fetch(
    session: Session,
    *,
    source: str,
    url: str,
    canonical_url: str,
    outcome: str,
    http_status: int | None = None,
    error: str | None = None,
    article_id: int | None = None,
    source_id: int | None = None,
) -> None:
    """Remember that ``canonical_url`` was fetched and what came of it (an upsert by URL hash)."""
    source_id = source_id or ensure_source(session, source)
    now = utcnow()
    values = {
        "url_hash": url_hash(canonical_url),
        "url": url,
        "canonical_url": canonical_url,
        "source_id": source_id,
        "outcome": outcome,
        "http_status": http_status,
        "error": error,
        "article_id": article_id,
        "attempts": 1,
        "first_fetched": now,
        "last_fetched": now,
    }
    session.execute(_fetch_upsert(dialect_of(session)), values)


@cache
def _article_insert(dialect: str) -> Any:
    """Insert an article unless one of its unique facts (URL hash, content hash) is stored; return its id."""
    return insert_in(dialect, Article).on_conflict_do_nothing().returning(Article.id)


@cache
def _fetch_upsert(dialect: str) -> Any:
    """Insert a fetched URL, or update its row: latest outcome, one more attempt, an article id kept."""
    statement = insert_in(dialect, FetchedUrl)
    return statement.on_conflict_do_update(
        index_elements=[FetchedUrl.url_hash],
        set_={
            "url": statement.excluded.url,
            "outcome": statement.excluded.outcome,
            "http_status": statement.excluded.http_status,
            "error": statement.excluded.error,
            "article_id": func.coalesce(statement.excluded.article_id, FetchedUrl.article_id),
            "attempts": FetchedUrl.attempts + 1,
            "last_fetched": statement.excluded.last_fetched,
        },
    )


_Item = TypeVar("_Item")

#: The most values one statement binds in an ``IN`` list or in ``VALUES`` rows: far under what SQLite (32,766)
#: and PostgreSQL (65,535) allow a statement, whatever a page links.
STATEMENT_BATCH = 500


def batches(items: Sequence[_Item], size: int = STATEMENT_BATCH) -> Iterator[Sequence[_Item]]:
    """``items`` in consecutive slices of at most ``size``, in order."""
    for start in range(0, len(items), size):
        yield items[start : start + size]


def _known_hashes(session: Session, max_attempts: int, among: list[str] | None = None) -> set[str]:
    """URL hashes that need no fetching again: an article is stored under them, their last fetch was a final
    answer, or their extraction failed (killed its worker, or ran past its CPU time) and was tried
    ``max_attempts`` times (a page that defeats the extractor is not fetched for ever); only those ``among`` the
    given hashes, if given."""
    given_up = (FetchedUrl.outcome == "extraction_error") & (FetchedUrl.attempts >= max_attempts)
    final = select(FetchedUrl.url_hash).where(FetchedUrl.outcome.in_(TERMINAL_OUTCOMES) | given_up)
    stored = select(Article.url_hash)
    if among is None:
        return set(session.execute(final).scalars()) | set(session.execute(stored).scalars())
    known: set[str] = set()
    for batch in batches(among):
        known.update(session.execute(final.where(FetchedUrl.url_hash.in_(batch))).scalars())
        known.update(session.execute(stored.where(Article.url_hash.in_(batch))).scalars())
    return known


def known_url_hashes(session: Session, *, max_attempts: int) -> set[str]:
    """Hashes of every canonical URL that needs no fetching again (stored, found final, or given up after
    ``max_attempts`` tries whose extraction failed)."""
    return _known_hashes(session, max_attempts)


def known_among(session: Session, canonical_urls: Iterable[str], *, max_attempts: int) -> set[str]:
    """Those of ``canonical_urls`` that need no fetching again (stored or found final), as the database has them
    now: what another crawl stored after this one read :func:`known_url_hashes`."""
    by_hash = {url_hash(url): url for url in canonical_urls}
    if not by_hash:
        return set()
    return {by_hash[key] for key in _known_hashes(session, max_attempts, list(by_hash))}


# -- crawl runs -------------------------------------------------------------------------
def start_run(session: Session, sources: list[str], pid: int | None = None, host: str | None = None) -> int:
    """Create a ``running`` crawl-run row and return its id."""
    run = CrawlRun(started_at=utcnow(), status=RunStatus.RUNNING, sources=",".join(sources), pid=pid, host=host)
    session.add(run)
    session.flush()
    return run.id


def finish_run(session: Session, run_id: int, status: str, message: str | None = None) -> None:
    """Close crawl run ``run_id`` with ``status`` (ok / failed / aborted / interrupted)."""
    session.execute(
        update(CrawlRun).where(CrawlRun.id == run_id).values(status=status, finished_at=utcnow(), message=message)
    )


def save_run_counts(session: Session, run_id: int, source: str, counts: dict[str, int]) -> None:
    """Store (replace) the per-source counters of a crawl run."""
    source_id = ensure_source(session, source)
    values = {name: int(counts.get(name, 0)) for name in RUN_COUNTERS + ENTRY_COUNTERS}
    statement = dialect_insert(session, CrawlRunSource).values(run_id=run_id, source_id=source_id, **values)
    statement = statement.on_conflict_do_update(index_elements=["run_id", "source_id"], set_=values)
    session.execute(statement)


def run_counts(session: Session, run_id: int) -> list[SourceRunCounts]:
    """The per-source counters of crawl run ``run_id``, by source name."""
    counters = RUN_COUNTERS + ENTRY_COUNTERS
    rows = session.execute(
        select(Source.name, *(getattr(CrawlRunSource, c) for c in counters))
        .join(Source, Source.id == CrawlRunSource.source_id)
        .where(CrawlRunSource.run_id == run_id)
        .order_by(Source.name)
    )
    return [SourceRunCounts(name, **dict(zip(counters, values, strict=True))) for name, *values in rows]


# -- corpus views -------------------------------------------------------------------------
def iter_articles(session: Session, batch: int = 500, include_off_topic: bool = False) -> Iterator[tuple[Article, str]]:
    """The stored articles (on-topic ones unless ``include_off_topic``) with their source name,
    oldest first, streamed in batches."""
    statement = select(Article, Source.name).join(Source, Source.id == Article.source_id).order_by(Article.id)
    if not include_off_topic:
        statement = statement.where(Article.relevant.is_(True))
    statement = statement.execution_options(yield_per=batch)
    for article, source_name in session.execute(statement):  # noqa: UP028 - rows unpacked to plain tuples
        yield article, source_name


@dataclass(frozen=True)
class CorpusStats:
    """Counts over the corpus for ``ai4s stats``."""

    articles: int
    off_topic: int
    articles_by_source: dict[str, int]
    articles_by_language: dict[str, int]
    fetched_by_outcome: dict[str, int]
    runs_by_status: dict[str, int]
    last_run_finished: datetime | None


def corpus_stats(session: Session) -> CorpusStats:
    """Counts of articles (total, by source, by language), fetched URLs by outcome and runs by status."""
    on_topic = Article.relevant.is_(True)
    by_source = dict(
        session.execute(
            select(Source.name, func.count(Article.id))
            .join(Article, Article.source_id == Source.id)
            .where(on_topic)
            .group_by(Source.name)
        ).all()
    )
    by_language = {
        (lang or "unknown"): n
        for lang, n in session.execute(
            select(Article.language, func.count()).where(on_topic).group_by(Article.language)
        ).all()
    }
    off_topic = session.execute(select(func.count()).select_from(Article).where(Article.relevant.is_(False))).scalar()
    by_outcome = dict(session.execute(select(FetchedUrl.outcome, func.count()).group_by(FetchedUrl.outcome)).all())
    by_status = dict(session.execute(select(CrawlRun.status, func.count()).group_by(CrawlRun.status)).all())
    last = session.execute(select(func.max(CrawlRun.finished_at))).scalar()
    return CorpusStats(sum(by_source.values()), off_topic or 0, by_source, by_language, by_outcome, by_status, last)


def articles_after(session: Session, last_id: int, limit: int = 500) -> list[tuple[int, str | None, str]]:
    """(id, title, text) of up to ``limit`` articles with an id above ``last_id``, by id (keyset paging)."""
    rows = session.execute(
        select(Article.id, Article.title, Article.text).where(Article.id > last_id).order_by(Article.id).limit(limit)
    )
    return [(row.id, row.title, row.text) for row in rows]


def update_relevance(session: Session, article_id: int, relevance: float, relevant: bool, evidence: str) -> None:
    """Replace the relevance score, verdict and evidence of one article."""
    session.execute(
        update(Article)
        .where(Article.id == article_id)
        .values(relevance=relevance, relevant=relevant, evidence=evidence)
    )


def replace_text(session: Session, article_id: int, text: str) -> bool:
    """Give a stored article a new text (and content hash); False, and nothing changed, when another
    article already has that text."""
    if not _update_unless_text_taken(session, article_id, {"text": text, "content_hash": content_hash(text)}):
        return False
    title = session.execute(select(Article.title).where(Article.id == article_id)).scalar_one()
    index_article(session, article_id, title, text)
    return True


def index_article(session: Session, article_id: int, title: str | None, text: str) -> None:
    """Store (or replace) the searched form of an article's title and text (:mod:`storage.search`):
    every function that writes an article's title or text calls this."""
    _index(session, article_id, *indexed_body(title, text))


def _index(session: Session, article_id: int, title_form: str, body: str) -> None:
    """Store (or replace) the searched forms of an article's title and text."""
    values = {"article_id": article_id, "title": title_form, "body": body}
    session.execute(_search_text_upsert(dialect_of(session)), values)


@cache
def _search_text_upsert(dialect: str) -> Any:
    """Insert or replace an article's searched form."""
    statement = insert_in(dialect, ArticleSearchText)
    return statement.on_conflict_do_update(
        index_elements=[ArticleSearchText.article_id],
        set_={"title": statement.excluded.title, "body": statement.excluded.body},
    )


@dataclass(frozen=True)
class ArticleFields:
    """What extraction, scoring and fingerprinting make of an article's page: every stored field that
    a new extractor, cleaner or profile can change (the content hash follows the text)."""

    title: str | None
    text: str
    author: str | None
    site_name: str | None
    published: datetime | None
    language: str | None
    encoding: str | None
    relevance: float | None
    relevant: bool
    evidence: str | None
    credited_source: str | None
    minhash: bytes | None
    shingles: int | None
    #: The canonical URL of the other page of its site that its page names as its own, if any.
    declared_url: str | None = None


#: The fields that follow from the text alone (an article whose text did not change has the same ones,
#: or none yet where it was stored too short to compare and not regrouped since).
FINGERPRINT_FIELDS = ("minhash", "shingles")
#: What :func:`replace_article_fields` did to an article.
FIELDS_CHANGED, FIELDS_UNCHANGED, FIELDS_COLLIDE = "changed", "unchanged", "collision"


@dataclass(frozen=True)
class FieldsReplaced:
    """What replacing an article's fields did: ``changed``, ``unchanged`` or ``collision`` (its new text is
    already another article's, ``holder``; the article was left as it was)."""

    outcome: str
    holder: int | None = None


def replace_article_fields(session: Session, article_id: int, fields: ArticleFields) -> FieldsReplaced:
    """Give article ``article_id`` these fields and the content hash of their text, unless another
    article already holds that text: then it keeps its own (the unique content hash is never broken)."""
    values = {name: getattr(fields, name) for name in ArticleFields.__dataclass_fields__ if name != "declared_url"}
    values["declared_hash"] = url_hash(fields.declared_url) if fields.declared_url else None
    values["content_hash"] = content_hash(fields.text)
    compared = [name for name in values if name not in FINGERPRINT_FIELDS]
    current = session.execute(select(*(getattr(Article, name) for name in compared)).where(Article.id == article_id))
    if dict(current.one()._mapping) == {name: values[name] for name in compared}:
        return FieldsReplaced(FIELDS_UNCHANGED)
    if _update_unless_text_taken(session, article_id, values):
        index_article(session, article_id, fields.title, fields.text)
        return FieldsReplaced(FIELDS_CHANGED)
    holder = select(Article.id).where(Article.content_hash == values["content_hash"], Article.id != article_id)
    return FieldsReplaced(FIELDS_COLLIDE, session.execute(holder.limit(1)).scalar())


def _update_unless_text_taken(session: Session, article_id: int, values: dict[str, Any]) -> bool:
    """Set ``values`` (with the ``content_hash`` of their text) on article ``article_id`` unless another article
    already holds that content hash; whether it was set."""
    holder = select(Article.id).where(Article.content_hash == values["content_hash"], Article.id != article_id)
    return _guarded_update(session, update(Article).where(Article.id == article_id, ~holder.exists()).values(**values))


def _guarded_update(session: Session, statement: Any) -> bool:
    """Run an UPDATE whose WHERE clause checks that no other row holds the unique value it sets; whether it changed
    a row. The condition makes the check and the write one statement (SQLite's single writer runs it whole); on
    PostgreSQL another transaction may hold that value uncommitted, which the unique constraint then refuses: a
    savepoint keeps the caller's transaction alive through that."""
    try:
        if dialect_of(session) == "postgresql":
            with session.begin_nested():
                return bool(session.execute(statement).rowcount)  # type: ignore[attr-defined]
        return bool(session.execute(statement).rowcount)  # type: ignore[attr-defined]
    except IntegrityError:
        return False


def retriable_urls(session: Session, sources: list[str], max_attempts: int) -> list[tuple[str, str]]:
    """``(url, source name)`` of article URLs of ``sources`` whose last fetch failed for a reason
    that may pass (HTTP 5xx/429, network, an extraction that killed its worker or ran past its CPU time) and
    that were tried fewer than ``max_attempts`` times."""
    rows = session.execute(
        select(FetchedUrl.url, Source.name)
        .join(Source, Source.id == FetchedUrl.source_id)
        .where(
            FetchedUrl.outcome.in_(RETRIABLE_OUTCOMES),
            FetchedUrl.attempts < max_attempts,
            Source.name.in_(sources),
        )
        .order_by(FetchedUrl.last_fetched)
    )
    return [(url, name) for url, name in rows]
