"""robots.txt as RFC 9309 reads it: Scrapy's robots.txt middleware, except that a robots.txt that
cannot be read is not taken as permission.

RFC 9309 §2.3.1: a robots.txt that answers 4xx ("unavailable") allows everything; one that answers
5xx, or does not answer at all ("unreachable": a network error, a timeout), means complete
disallow, until it can be read. 429 (Too Many Requests) is read as unreachable, as Google reads it: a site
that asks for fewer requests is not taken as allowing every page at once. Scrapy allows everything in both
cases. Each crawl asks again, so a site whose robots.txt recovers is crawled again at the next crawl.

Also: only the first 500 KiB of a robots.txt are parsed (RFC 9309 §2.5); its ``Crawl-delay`` is the least time
between two requests to its host (capped at ``AI4S_CRAWL_DELAY_MAX``, see :mod:`crawler.crawl.hosts`); every
request waits for the host's robots.txt (Scrapy let those that came while it was being fetched through, but
the first); redirects of robots.txt are followed as any (``REDIRECT_MAX_TIMES``, 5). robots.txt is read once per
host and port however a URL spells the host (``127.0.0.1``, ``2130706433``, ``127.0.0.1.``), and rules them all.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING
from urllib.parse import urlsplit, urlunsplit

from scrapy.downloadermiddlewares.robotstxt import RobotsTxtMiddleware
from scrapy.exceptions import IgnoreRequest
from scrapy.utils.httpobj import urlparse_cached
from scrapy.utils.misc import build_from_crawler
from twisted.internet.defer import Deferred

from crawler.crawl.addresses import AddressRefused
from crawler.crawl.hosts import HostDeferred, PoliteDownloader
from crawler.crawl.middlewares import RedirectFailed
from crawler.text.addresses import origin_of
from crawler.text.discovery import robots_txt_unreachable

if TYPE_CHECKING:
    from scrapy import Request
    from scrapy.crawler import Crawler
    from scrapy.http import Response
    from scrapy.robotstxt import RobotParser

logger = logging.getLogger(__name__)

#: The part of a robots.txt that is read (RFC 9309 §2.5 asks crawlers to parse at least 500 KiB).
MAX_ROBOTS_TXT_BYTES = 500 * 1024

#: What an unreachable robots.txt stands for.
DISALLOW_ALL = b"User-agent: *\nDisallow: /\n"


def robots_netloc(url: str) -> str:
    """The host and port whose robots.txt rules ``url``, with the host in one spelling (``127.0.0.1:8000`` for
    ``http://2130706433:8000/a``); the netloc as written when it is no http(s) origin."""
    origin = origin_of(url)
    if origin is None:
        return urlsplit(url).netloc
    return origin.netloc


class RobotsTxtUnreachable(IgnoreRequest):
    """A request not sent because its host's robots.txt could not be read (5xx, no answer): for the
    crawl a failure to reach the site, not a refusal by the site."""


class StrictRobotsTxtMiddleware(RobotsTxtMiddleware):
    """Scrapy's :class:`RobotsTxtMiddleware`, with an unreachable robots.txt (5xx, no answer) read
    as ``Disallow: /`` for its host during this crawl (counted as ``robotstxt/unreachable``); the
    requests it stops raise :class:`RobotsTxtUnreachable`."""

    def __init__(self, crawler: Crawler) -> None:
        super().__init__(crawler)
        #: Why the robots.txt of a host could not be read, by ``netloc``.
        self.unreachable: dict[str, str] = {}

    def process_request_2(self, rp: RobotParser | None, request: Request) -> None:
        """Refuse every request to a host whose robots.txt is unreachable; else Scrapy's check."""
        why = self.unreachable.get(robots_netloc(request.url))
        if why is not None:
            self._stats.inc_value("robotstxt/forbidden")
            raise RobotsTxtUnreachable(f"robots.txt unreachable ({why}): nothing of this host is fetched")
        super().process_request_2(rp, request)

    async def robot_parser(self, request: Request) -> RobotParser | None:
        """The parser of the robots.txt of ``request``'s host, read once per crawl for every spelling of the host.

        Scrapy keys robots.txt on the netloc as written: a site whose feed named its pages under six spellings of
        its own address had its robots.txt fetched six times at once, and each spelling its own ``Crawl-delay``.
        Scrapy's lookup is given the request with its host in one spelling (:func:`robots_netloc`).

        Every request that arrives while robots.txt is being fetched waits on one Deferred, and a Deferred hands
        its result to the first waiter only: Scrapy let the others through unchecked (with ``Disallow: /``, a
        site's second start page was requested). They take the parser stored by then."""
        parts = urlparse_cached(request)
        netloc = robots_netloc(request.url)
        if netloc != parts.netloc:
            request = request.replace(url=urlunsplit((parts.scheme, netloc, parts.path, parts.query, "")))
        parser = await super().robot_parser(request)
        if parser is None:
            stored = self._parsers.get(netloc)
            if stored is not None and not isinstance(stored, Deferred):
                parser = stored
        return parser

    async def _parse_robots(self, response: Response, netloc: str, request: Request) -> None:
        if len(response.body) > MAX_ROBOTS_TXT_BYTES:  # RFC 9309 §2.5: parse at least 500 KiB, no more
            response = response.replace(body=response.body[:MAX_ROBOTS_TXT_BYTES])
        if robots_txt_unreachable(response.status):
            # INFO: each source whose pages this stops says so in its own line (crawler.crawl.failures)
            logger.info(
                "robots.txt of %s answered %d: nothing of that host is fetched in this crawl (RFC 9309)",
                netloc,
                response.status,
            )
            self._stats.inc_value("robotstxt/unreachable")
            self.unreachable[netloc] = f"HTTP {response.status}"
            response = response.replace(body=DISALLOW_ALL)
        elif response.status >= 400:  # unavailable (RFC 9309 §2.3.1.3): whatever its error page says, no rule
            response = response.replace(body=b"")
        await super()._parse_robots(response, netloc, request)
        self._honour_crawl_delay(netloc, request)

    def _honour_crawl_delay(self, netloc: str, request: Request) -> None:
        """Make the host's ``Crawl-delay`` (for this crawler's user agent) its least delay between requests."""
        parser = self._parsers.get(netloc)
        protego = getattr(parser, "rp", None)  # Scrapy's Protego parser keeps the parsed rules there
        if protego is None or not hasattr(protego, "crawl_delay"):
            return
        agent = self._robotstxt_useragent or request.headers.get(b"User-Agent", self._default_useragent)
        if isinstance(agent, bytes):
            agent = agent.decode("latin-1")
        seconds = protego.crawl_delay(agent)
        downloader = getattr(self.crawler.engine, "downloader", None)
        if seconds and isinstance(downloader, PoliteDownloader):
            applied = downloader.set_crawl_delay(request, float(seconds))
            logger.info("robots.txt of %s asks for %s s between requests: %.1f s applied", netloc, seconds, applied)

    def _robots_error(self, exc: Exception, netloc: str) -> None:
        # refused by policy before any fetch (an internal address, a host deferred to the next crawl): nothing was
        # learnt, and the host's pages meet the same refusal; a redirect loop or more than five redirects is
        # robots.txt unavailable, as a 4xx (RFC 9309 2.3.1.2). Any other failure, a body cut short, a gzip bomb over
        # the size limit (IgnoreRequest too, from the decompression), is robots.txt unreachable; so is a robots.txt
        # that redirects to a refused address (an internal one): the host's own pages would not meet that refusal.
        redirected_away = isinstance(exc, AddressRefused) and robots_netloc(exc.url) not in ("", netloc)
        if isinstance(exc, (AddressRefused, HostDeferred, RedirectFailed)) and not redirected_away:
            super()._robots_error(exc, netloc)
            return
        logger.info(  # INFO, as above: the sources it stops say so
            "robots.txt of %s could not be fetched (%s): nothing of that host is fetched in this crawl (RFC 9309)",
            netloc,
            exc,
        )
        self._stats.inc_value("robotstxt/unreachable")
        self.unreachable[netloc] = type(exc).__name__
        deferred = self._parsers[netloc]
        parser = build_from_crawler(self._parserimpl, self.crawler, DISALLOW_ALL)
        self._parsers[netloc] = parser
        deferred.callback(parser)  # type: ignore[union-attr]
