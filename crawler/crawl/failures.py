"""What a failed request of the crawl means: nothing fetched (robots.txt or the address policy said
no), or a fetch that failed, with the outcome the corpus records, the reason the log gives and the
wait a server asked for (``Retry-After``).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from scrapy.exceptions import CannotResolveHostError, DownloadTimeoutError, IgnoreRequest, ResponseDataLossError
from scrapy.spidermiddlewares.httperror import HttpError
from twisted.internet.error import DNSLookupError, TCPTimedOutError
from twisted.internet.error import TimeoutError as TwistedTimeoutError
from twisted.python.failure import Failure

from crawler.crawl.bodies import CorruptResponse
from crawler.crawl.middlewares import RedirectFailed, RedirectToNoUrl
from crawler.crawl.robots import RobotsTxtUnreachable
from crawler.text.dates import retry_after_seconds


@dataclass(frozen=True)
class FetchError:
    """A fetch that failed: how (``gone``, ``http_error`` or ``network_error``), why in words, the HTTP
    status if a server answered, and the earliest next try it allows (``Retry-After``), if it said."""

    outcome: str
    reason: str
    status: int | None = None
    not_before: datetime | None = None


def was_refused(failure: Failure) -> bool:
    """True when the request was never sent because robots.txt or the address policy refused it (not
    because the site's robots.txt could not be read, nor because the body came damaged: those are failures
    to fetch)."""
    return bool(failure.check(IgnoreRequest)) and not failure.check(HttpError, RobotsTxtUnreachable, CorruptResponse)


def fetch_error(failure: Failure) -> FetchError:
    """What the failed fetch of ``failure`` was: an HTTP error status, a redirect to no URL, a timeout, a DNS or other
    network error."""
    if failure.check(HttpError):
        response = failure.value.response
        status = response.status
        now = datetime.now(UTC)
        wait = retry_after_seconds(response.headers.get(b"Retry-After"), now)
        not_before = now + timedelta(seconds=wait) if wait else None
        return FetchError("gone" if status in (404, 410) else "http_error", f"HTTP {status}", status, not_before)
    # Scrapy 2.13 and later raise its own DownloadTimeoutError and CannotResolveHostError; Twisted's are kept
    # for the download handlers that still raise them
    if failure.check(DownloadTimeoutError, TwistedTimeoutError, TCPTimedOutError):
        return FetchError("network_error", "timed out")
    if failure.check(CannotResolveHostError, DNSLookupError):
        return FetchError("network_error", "DNS lookup failed")
    if failure.check(RedirectToNoUrl):  # the site may mend its Location: asked again, up to the most attempts
        return FetchError("http_error", failure.getErrorMessage(), failure.value.status)
    if failure.check(RedirectFailed):
        return FetchError("network_error", failure.getErrorMessage(), failure.value.status)
    if failure.check(RobotsTxtUnreachable, CorruptResponse):
        return FetchError("network_error", failure.getErrorMessage())
    if failure.check(ResponseDataLossError):
        return FetchError("network_error", "data loss: the body does not match its Content-Length")
    return FetchError("network_error", f"{failure.type.__name__}: {failure.getErrorMessage()}")
