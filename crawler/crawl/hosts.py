"""Politeness per host, held where requests leave: the downloader's slot of a host (one per host, however a URL
spells it: ``127.0.0.1``, ``2130706433``, ``0x7f.1`` and ``127.0.0.1.`` are one slot, see :func:`host_slot_key`).

- ``Retry-After`` pauses the whole host: a 429 or 503 asking to wait (seconds or an HTTP date) stops every
  request to that host until then, not only the retry of the one URL that got it. The pause starts when the
  response arrives, before the host's slot sends its next request, so none slips through. A wait longer than
  ``AI4S_RETRY_AFTER_MAX`` seconds is not waited for in this crawl: the host's requests fail at once as
  :class:`HostDeferred` (article URLs are tried again at the next crawl; an entry page is not polled before
  the deadline).
- robots.txt's ``Crawl-delay`` is the least time between two requests to its host (capped at
  ``AI4S_CRAWL_DELAY_MAX`` seconds); the crawl's own delay, and AutoThrottle's, apply when longer.
"""

from __future__ import annotations

import logging
import time
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING

from scrapy import signals
from scrapy.core.downloader import Downloader, Slot
from scrapy.exceptions import IgnoreRequest
from scrapy.resolver import dnscache
from scrapy.utils.asyncio import call_later
from scrapy.utils.defer import deferred_from_coro
from scrapy.utils.httpobj import urlparse_cached
from twisted.python.failure import Failure

from crawler.crawl.context import CrawlContext
from crawler.text.addresses import normal_host
from crawler.text.dates import retry_after_seconds
from crawler.text.discovery import TOO_MANY_REQUESTS

if TYPE_CHECKING:
    from scrapy import Request
    from scrapy.crawler import Crawler
    from scrapy.http import Response

logger = logging.getLogger(__name__)

#: Statuses whose ``Retry-After`` speaks for the whole host (RFC 9110 §10.2.3: overloaded, or too many requests).
PAUSING_STATUSES = frozenset({429, 503})
#: The pause of a host that answers 429 without saying how long to wait (its requests had each backed off on
#: their own, the host answered at full rate: 90 requests in 26 s to a host answering nothing but 429).
TOO_MANY_REQUESTS_PAUSE = 5.0


class HostDeferred(IgnoreRequest):
    """A request not sent: its host asked to be left alone for longer than this crawl waits (``Retry-After``
    beyond ``AI4S_RETRY_AFTER_MAX``). ``until`` is when the host said it would answer again."""

    def __init__(self, host: str, until: datetime) -> None:
        super().__init__(f"deferred: host {host} asked not to be requested before {until:%Y-%m-%d %H:%M:%S} UTC")
        self.host = host
        self.until = until


def host_slot_key(request: Request) -> str:
    """The host of ``request`` as one spelling of it: the key of its download slot."""
    return normal_host(urlparse_cached(request).hostname or "")


class PoliteDownloader(Downloader):
    """Scrapy's downloader, whose host slots also wait for a host's ``Retry-After`` and its robots.txt
    ``Crawl-delay`` (see the module docstring)."""

    def __init__(self, crawler: Crawler) -> None:
        super().__init__(crawler)
        self.retry_after_max = self.settings.getfloat("AI4S_RETRY_AFTER_MAX", 60.0)
        self.crawl_delay_max = self.settings.getfloat("AI4S_CRAWL_DELAY_MAX", 30.0)
        #: Until when (``time.monotonic``) each host slot is paused, and for how long in all in this crawl.
        self.paused_until: dict[str, float] = {}
        self.paused_total: dict[str, float] = {}
        #: Hosts left for the next crawl, with the moment they said they would answer again.
        self.deferred_until: dict[str, datetime] = {}
        #: The least seconds between two requests to a host (its robots.txt ``Crawl-delay``, capped).
        self.crawl_delays: dict[str, float] = {}
        crawler.signals.connect(self.note_response, signal=signals.response_downloaded)

    def get_slot_key(self, request: Request) -> str:
        """The download slot of ``request``: its ``download_slot`` meta key if it has one, else its host in one
        spelling (Scrapy's key is the host as written: a site linking its pages under other spellings of its own
        address had a slot, a delay and a ``Retry-After`` pause per spelling, all sent to one server)."""
        meta_slot: str | None = request.meta.get(self.DOWNLOAD_SLOT)
        if meta_slot is not None:
            return meta_slot
        key = host_slot_key(request)
        if self.ip_concurrency:
            key = dnscache.get(key, key)
        return key

    def set_crawl_delay(self, request: Request, seconds: float) -> float:
        """Make ``seconds`` (capped at ``AI4S_CRAWL_DELAY_MAX``) the least time between two requests to the host
        of ``request``; the delay applied."""
        delay = min(max(0.0, seconds), self.crawl_delay_max)
        key = self.get_slot_key(request)
        if delay > 0:
            self.crawl_delays[key] = delay
            self.crawler.stats.set_value(f"ai4s/crawl_delay/{key}", delay)
        return delay

    def note_response(self, response: Response, request: Request) -> None:
        """Pause the host of a 429 or 503 that asks to wait (``Retry-After``), or defer it to the next crawl when
        its pauses would hold it longer than ``AI4S_RETRY_AFTER_MAX`` in all (one long wait, or a short one asked
        again and again: 60 pages each answering ``Retry-After: 10`` held a crawl for ten minutes). Runs as the
        response arrives, before the host's slot sends anything else."""
        if response.status not in PAUSING_STATUSES:
            return
        now = datetime.now(UTC)
        wait = retry_after_seconds(response.headers.get(b"Retry-After"), now)
        asked = "Retry-After"
        if not wait and response.status == TOO_MANY_REQUESTS:  # asks for fewer requests, without saying how long
            wait, asked = TOO_MANY_REQUESTS_PAUSE, "429 without Retry-After"
        if not wait:
            return
        key = request.meta.get(self.DOWNLOAD_SLOT) or self.get_slot_key(request)
        stats = self.crawler.stats
        # what this pause adds to the host's paused time (answers to requests sent together overlap)
        moment = time.monotonic()
        until_monotonic = moment + wait
        added = max(0.0, until_monotonic - max(moment, self.paused_until.get(key, 0.0)))
        if wait > self.retry_after_max or self.paused_total.get(key, 0.0) + added > self.retry_after_max:
            until = now + timedelta(seconds=wait)
            if key not in self.deferred_until:
                logger.warning(
                    "%s answered %d asking to wait %.0f s (%s), more than the %.0f s a crawl waits for one "
                    "host in all (%.0f s so far): nothing more of that host is requested in this crawl",
                    key,
                    response.status,
                    wait,
                    asked,
                    self.retry_after_max,
                    self.paused_total.get(key, 0.0),
                )
            self.deferred_until[key] = max(until, self.deferred_until.get(key, until))
            CrawlContext.of(self.crawler).defer_host(key, until)
            stats.inc_value("ai4s/hosts/deferred")
            return
        if until_monotonic > self.paused_until.get(key, 0.0):
            self.paused_total[key] = self.paused_total.get(key, 0.0) + added
            self.paused_until[key] = until_monotonic
            logger.info(
                "%s answered %d asking to wait %.1f s (%s): the host is paused", key, response.status, wait, asked
            )
            stats.inc_value("ai4s/hosts/paused")

    def needs_backout(self) -> bool:
        """Whether the downloader takes no more requests: Scrapy's rule, except that requests waiting in the queue
        of a paused host do not count (held there for the pause, they took every free place and stopped every
        other host's requests for the whole pause). The scheduler hands the requests in its own order, so a
        paused host may take more of its own meanwhile (a cap on those left out let it take every place again);
        they are sent once the pause ends, at the host's concurrency, before the downloader takes new ones."""
        if not self.total_concurrency:
            return False
        now = time.monotonic()
        waiting = sum(
            len(self.slots[key].queue) for key, until in self.paused_until.items() if until > now and key in self.slots
        )
        return len(self.active) - waiting >= self.total_concurrency

    def wait_before_next(self, key: str, slot: Slot) -> float:
        """Seconds the host slot ``key`` must still wait before its next request (0 when it may send now)."""
        now = time.monotonic()
        wait = self.paused_until.get(key, 0.0) - now
        crawl_delay = self.crawl_delays.get(key)
        if crawl_delay:
            wait = max(wait, crawl_delay - (now - slot.lastseen))
        return wait

    def _process_queue(self, slot: Slot) -> None:
        if slot.latercall or not slot.queue:
            return
        key = slot.queue[0][0].meta.get(self.DOWNLOAD_SLOT, "")
        until = self.deferred_until.get(key)
        if until is not None:
            while slot.queue:
                _, waiting = slot.queue.popleft()
                waiting.errback(Failure(HostDeferred(key, until)))
            return
        wait = self.wait_before_next(key, slot)
        if wait > 0:
            slot.latercall = call_later(wait, self._latercall, slot)
            return
        self._send_from(slot, self.crawl_delays.get(key, 0.0))

    def _send_from(self, slot: Slot, crawl_delay: float) -> None:
        """Scrapy's sending from a slot's queue, with two changes: a request counts against the slot's concurrency
        as soon as it is taken (Scrapy counts it when its download task starts, so a slot without a delay sent
        its whole queue at once, whatever ``CONCURRENT_REQUESTS_PER_DOMAIN`` said), and the host's
        ``Crawl-delay`` is the least delay (AutoThrottle lowers a slot's delay as it pleases)."""
        if crawl_delay and slot.delay < crawl_delay:
            slot.delay = crawl_delay
        now = time.monotonic()
        delay = slot.download_delay()
        if delay:
            penalty = delay - now + slot.lastseen
            if penalty > 0:
                slot.latercall = call_later(penalty, self._latercall, slot)
                return
        while slot.queue and slot.free_transfer_slots() > 0:
            slot.lastseen = now
            request, queue_dfd = slot.queue.popleft()
            slot.transferring.add(request)  # Scrapy's _download adds it again (a set) and removes it when done
            deferred_from_coro(self._wait_for_download(slot, request, queue_dfd))
            if delay:  # one request per delay: come back for the next one
                self._process_queue(slot)
                break
