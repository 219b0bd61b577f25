"""Claims on article URLs: a crawl claims the URLs it is about to fetch, so that an article two sources link
is fetched by one crawl, not by both at once.

A claim is one row of ``url_claims`` per canonical URL: who claimed it (a crawl run) and until when. Claiming is
one ``INSERT ... ON CONFLICT DO UPDATE ... WHERE`` over a whole batch (the article links of one page): a URL
is ours when it was unclaimed, already ours, or its claim lapsed; a live claim of another crawl is left
alone. The batch is written in URL-hash order, so two crawls claiming overlapping batches lock the rows in the
same order and cannot deadlock. It works alike on SQLite and PostgreSQL.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from datetime import datetime, timedelta

from sqlalchemy import delete, or_, select
from sqlalchemy.orm import Session

from storage.hashing import url_hash
from storage.models import CrawlRun, RunStatus, UrlClaim, utcnow
from storage.repository import batches, dialect_insert

#: How long a claim holds when the claiming crawl does not release it (it died): then another crawl may fetch.
DEFAULT_CLAIM_TTL = timedelta(minutes=15)


def claim_urls(
    session: Session,
    urls: Iterable[tuple[str, str]],
    claimant: int,
    ttl: timedelta = DEFAULT_CLAIM_TTL,
    now: datetime | None = None,
) -> set[str]:
    """Claim the canonical ``urls`` (given as ``(canonical url, source name)``) for crawl run ``claimant``
    until ``now + ttl``; the canonical URLs that are this crawl's now (the others a live other crawl holds)."""
    now = now or utcnow()
    by_hash: dict[str, tuple[str, str]] = {}
    for url, source in urls:
        by_hash.setdefault(url_hash(url), (url, source))
    if not by_hash:
        return set()
    rows = [
        {"url_hash": key, "url": url, "source": source, "claimed_by": claimant, "expires_at": now + ttl}
        for key, (url, source) in sorted(by_hash.items())
    ]
    claimed: set[str] = set()
    for batch in batches(rows):  # in hash order still: a page can link more URLs than a statement binds
        statement = dialect_insert(session, UrlClaim).values(list(batch))
        statement = statement.on_conflict_do_update(
            index_elements=[UrlClaim.url_hash],
            set_={
                "url": statement.excluded.url,
                "source": statement.excluded.source,
                "claimed_by": statement.excluded.claimed_by,
                "expires_at": statement.excluded.expires_at,
            },
            where=or_(UrlClaim.claimed_by == claimant, UrlClaim.expires_at < now),
        ).returning(UrlClaim.url_hash)
        claimed.update(session.execute(statement).scalars())
    return {by_hash[key][0] for key in claimed}


def release_claims(session: Session, claimant: int, now: datetime | None = None) -> int:
    """Drop the claims of crawl run ``claimant`` (its crawl ended) and every lapsed claim; how many rows went."""
    now = now or utcnow()
    result = session.execute(delete(UrlClaim).where(or_(UrlClaim.claimed_by == claimant, UrlClaim.expires_at < now)))
    return int(result.rowcount or 0)  # type: ignore[attr-defined]


def release_claims_of_sources(session: Session, sources: Iterable[str], keep: int) -> int:
    """Drop the claims made for ``sources`` by any crawl run but ``keep``: for a crawl that holds those sources'
    cluster-wide locks, such claims are a dead crawl's. How many rows went."""
    names = list(sources)
    if not names:
        return 0
    result = session.execute(delete(UrlClaim).where(UrlClaim.source.in_(names), UrlClaim.claimed_by != keep))
    return int(result.rowcount or 0)  # type: ignore[attr-defined]


def release_claims_of_gone_runs(session: Session, is_alive: Callable[[CrawlRun], bool], keep: int) -> int:
    """Drop the claims of crawl runs (but ``keep``) that are closed, or still ``running`` though their process
    is gone by ``is_alive`` (a crawl killed on this machine): their URLs need not wait for the claims to lapse.
    How many rows went."""
    claimants = session.execute(
        select(CrawlRun).where(CrawlRun.id.in_(select(UrlClaim.claimed_by).distinct()), CrawlRun.id != keep)
    ).scalars()
    gone = [run.id for run in claimants if run.status != RunStatus.RUNNING or not is_alive(run)]
    if not gone:
        return 0
    result = session.execute(delete(UrlClaim).where(UrlClaim.claimed_by.in_(gone)))
    return int(result.rowcount or 0)  # type: ignore[attr-defined]
