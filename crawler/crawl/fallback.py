"""The fallback chain of a crawl, and what it learns of each entry point's health.

Every configured entry point of a source (feed, sitemap, robots.txt, listing page) is polled at every crawl,
so that one that recovers is used again at once. When one fails (an error status, no answer, a body that
is no feed or sitemap, robots.txt refusing it) or has named nothing new for
:data:`storage.entry_health.STALE_AFTER_POLLS` polls while answering, the source falls back:

1. to its other entry points, when one of them is healthy (answered in this crawl, or, not yet polled,
   healthy at its last poll): nothing more is requested, the log says which stand in;
2. where it has none, to its site: the ``Sitemap:`` lines of the site's robots.txt (a sitemap that moved) and
   the site's homepage as a listing page, whose sections are followed to the source's ``max_depth``.

Each fallback is logged (a warning) and counted in the crawl's summary (``fallback``). A failure that asks
to wait (``Retry-After``) is not one: the site is alive and said when to come back. Nor is a request that got no
answer (timed out, refused) from a site that answered nothing else in this crawl: its homepage would fail the same
way. Where the site answered (its robots.txt, another page), a feed that hangs is a dead feed.

Requests carry the entry point they descend from (``ai4s_entry``, its canonical URL; ``ai4s_root`` on the
entry point's own request; ``ai4s_fallback`` on what the chain added), so that each new article is credited
to the entry points that named it. When the crawl ends, the context saves what each entry point did
(:func:`storage.entry_health.save_entry_checks`).
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from crawler.text.addresses import normal_host
from crawler.text.discovery import EntryPage, start_pages
from crawler.text.urls import canonical_url
from storage.entry_health import (
    ANSWERED_OUTCOMES,
    FAILED_OUTCOMES,
    STALE_AFTER_POLLS,
    EntryCheck,
    EntryHealth,
    new_article_urls,
    save_entry_checks,
)

if TYPE_CHECKING:
    from sqlalchemy.orm import Session

    from crawler.sources import Source

logger = logging.getLogger(__name__)

#: Request meta keys of the chain.
ENTRY_META, ROOT_META, FALLBACK_META = "ai4s_entry", "ai4s_root", "ai4s_fallback"


@dataclass
class _EntryPoint:
    """One entry point of a source in this crawl: where, what kind, whether the chain added it, how it stands."""

    url: str  # canonical
    page: EntryPage
    fallback: bool = False
    stored: EntryHealth | None = None
    check: EntryCheck | None = None  # how its poll came out, once it did

    @property
    def healthy(self) -> bool:
        """Answered in this crawl and not stale; not polled yet: healthy at its last poll (or never polled)."""
        if self.check is not None:
            return self.check.outcome in ANSWERED_OUTCOMES and not self.stale
        return self.stored is None or self.stored.verdict == "ok"

    @property
    def stale(self) -> bool:
        """Named nothing new for many polls while answering (as of its last crawls)."""
        return self.stored is not None and self.stored.stale


@dataclass(frozen=True)
class Fallback:
    """A source falls back: why (for the log), and the pages to request (none: its other entry points stand in)."""

    source: str
    message: str
    pages: tuple[EntryPage, ...] = ()


@dataclass
class FallbackChain:
    """The entry points of a crawl's sources, how each poll of them came out, and the fallbacks they caused."""

    stored: dict[tuple[str, str], EntryHealth] = field(default_factory=dict)
    entry_points: dict[str, dict[str, _EntryPoint]] = field(default_factory=dict)
    named: dict[str, set[tuple[str, str]]] = field(default_factory=dict)  # article URL -> {(source, entry point)}
    fallen_back: set[str] = field(default_factory=set)  # sources whose site was asked for fallbacks
    counted: set[tuple[str, str]] = field(default_factory=set)  # entry points counted as fallen back from
    enabled: bool = True  # False: fallbacks are logged and counted, nothing is requested (setting AI4S_FALLBACK)
    answering_hosts: set[str] = field(default_factory=set)  # hosts that answered in this crawl (below 500)

    def load(self, health: Iterable[EntryHealth]) -> None:
        """Know how the entry points fared in earlier crawls."""
        self.stored = {(entry.source, entry.url): entry for entry in health}

    def note_answer(self, url: str, status: int) -> None:
        """Remember that the host of ``url`` answered a request of this crawl with ``status``: below 500, the site
        is alive."""
        if status < 500:
            self.answering_hosts.add(normal_host(urlsplit(url).hostname or ""))

    def site_answered(self, url: str) -> bool:
        """Whether the host of ``url`` answered a request of this crawl (its robots.txt, a page) with a status below
        500: an entry point of it that gave no answer (timed out, refused) failed on a live site."""
        return normal_host(urlsplit(url).hostname or "") in self.answering_hosts

    # -- the start of a crawl ----------------------------------------------------------------
    def start(self, source: Source) -> tuple[list[EntryPage], Fallback | None]:
        """The entry points ``source`` starts from, and its fallback if every one of them is stale already."""
        points = self.entry_points.setdefault(source.name, {})
        pages = start_pages(source.feeds, source.sitemaps, source.start_urls)
        for page in pages:
            url = canonical_url(page.url)
            points[url] = _EntryPoint(url, page, stored=self.stored.get((source.name, url)))
        stale = [point for point in points.values() if point.stale]
        if not stale or any(point.healthy for point in points.values()):
            return pages, None
        for point in stale:
            self.counted.add((source.name, point.url))
        names = ", ".join(point.url for point in stale)
        fallback = self._to_site(source.name, stale, f"{names} named nothing new in {STALE_AFTER_POLLS}+ polls")
        return pages, fallback

    # -- during the crawl ----------------------------------------------------------------------
    def note_named(self, meta: Mapping[str, Any], article_url: str) -> None:
        """Remember that the entry point of the request with ``meta`` named ``article_url``."""
        entry = meta.get(ENTRY_META)
        if entry is not None:
            self.named.setdefault(canonical_url(article_url), set()).add((meta["ai4s_source"], entry))

    def note_poll(
        self,
        meta: Mapping[str, Any],
        outcome: str,
        status: int | None = None,
        error: str | None = None,
        may_fall_back: bool = True,
    ) -> Fallback | None:
        """How the poll of the entry page with ``meta`` came out; the source's fallback, if this calls for one.

        Only an entry point's own request counts (not the pages it led to)."""
        if not meta.get(ROOT_META):
            return None
        source, url = meta["ai4s_source"], meta[ENTRY_META]
        point = self.entry_points.get(source, {}).get(url)
        if point is None:
            return None
        point.check = EntryCheck(url, point.page.kind, outcome, status, error, fallback=point.fallback)
        if point.fallback or outcome not in FAILED_OUTCOMES or not may_fall_back:
            return None
        self.counted.add((source, url))
        others = [other for other in self.entry_points[source].values() if other is not point and not other.fallback]
        standing_in = [other for other in others if other.healthy]
        reason = f"{point.page.kind} {url} {outcome}" + (f" ({error})" if error else "")
        if standing_in:
            names = ", ".join(f"{other.page.kind} {other.url}" for other in standing_in)
            return Fallback(source, f"{reason}; falling back to its other entry points: {names}")
        return self._to_site(source, [point], reason)

    def _to_site(self, source: str, failed: list[_EntryPoint], reason: str) -> Fallback:
        """A fallback to the sites of ``failed``: their robots.txt's sitemaps and their homepages (once a crawl)."""
        points = self.entry_points[source]
        configured_kinds = {point.page.kind for point in points.values() if not point.fallback}
        if not self.enabled:
            return Fallback(source, f"{reason}; no other entry point stands in, and the fallback chain is off")
        pages: list[EntryPage] = []
        if source not in self.fallen_back:
            self.fallen_back.add(source)
            for point in failed:
                parts = urlsplit(point.url)
                site = f"{parts.scheme}://{parts.netloc}"
                candidates = [EntryPage(f"{site}/", "listing")]
                if "robots" not in configured_kinds:
                    candidates.insert(0, EntryPage(f"{site}/robots.txt", "robots"))
                for page in candidates:
                    url = canonical_url(page.url)
                    if url not in points:
                        points[url] = _EntryPoint(url, page, fallback=True, stored=self.stored.get((source, url)))
                        pages.append(page)
        if not pages:
            return Fallback(source, f"{reason}; its site's listing pages stand in (asked already)")
        names = ", ".join(page.url for page in pages)
        return Fallback(source, f"{reason}; no other entry point stands in: falling back to {names}", tuple(pages))

    def fallbacks(self, source: str) -> int:
        """How many entry points of ``source`` this crawl fell back from."""
        return sum(1 for name, _ in self.counted if name == source)

    # -- the end of a crawl --------------------------------------------------------------------
    def checks(self, new_urls: Iterable[str], complete: Iterable[str]) -> dict[str, list[EntryCheck]]:
        """Each source's checks of its polled entry points, with the new articles each named (those of
        ``new_urls``); for a source not in ``complete`` (cut by its budget, or the crawl cut short) only the
        failures, since "nothing new" means nothing there."""
        found: dict[tuple[str, str], int] = {}
        for url in new_urls:
            for key in self.named.get(url, ()):
                found[key] = found.get(key, 0) + 1
        finished = set(complete)
        result: dict[str, list[EntryCheck]] = {}
        for source, points in self.entry_points.items():
            for point in points.values():
                check = point.check
                if check is None or (source not in finished and check.outcome not in FAILED_OUTCOMES):
                    continue
                new = found.get((source, point.url), 0)
                result.setdefault(source, []).append(
                    EntryCheck(check.url, check.kind, check.outcome, check.status, check.error, new, check.fallback)
                )
        return result

    def save(self, session: Session, run_id: int, source_ids: Mapping[str, int], complete: Iterable[str]) -> None:
        """Save what this crawl learnt of each entry point's health (see :meth:`checks`)."""
        for source, checks in self.checks(new_article_urls(session, run_id), complete).items():
            source_id = source_ids.get(source)
            if source_id is not None:
                save_entry_checks(session, source_id, checks)


def tag(meta: dict[str, Any], parent: Mapping[str, Any]) -> None:
    """Mark a request (its ``meta``) as descending from the entry point of ``parent`` (a request's meta)."""
    if ENTRY_META in parent:
        meta[ENTRY_META] = parent[ENTRY_META]
        meta[FALLBACK_META] = parent.get(FALLBACK_META, False)


def tag_entry_point(meta: dict[str, Any], page: EntryPage, fallback: bool = False) -> None:
    """Mark a request (its ``meta``) as the poll of entry point ``page`` itself."""
    meta.update({ENTRY_META: canonical_url(page.url), ROOT_META: True, FALLBACK_META: fallback})


__all__ = ["ENTRY_META", "FALLBACK_META", "ROOT_META", "Fallback", "FallbackChain", "tag", "tag_entry_point"]
