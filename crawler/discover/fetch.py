"""The polite fetcher of ``ai4s sources discover``: a few dozen synchronous requests, as careful as a crawl.

Discovery reads a handful of pages of one site (its robots.txt, home page, feeds, sitemaps and section
pages), each answer deciding the next request, so it runs as plain blocking requests (urllib3), not as a
Scrapy crawl. It keeps the crawl's rules:

- **robots.txt** (RFC 9309, read by ``protego``, Scrapy's own parser): read once per origin before any
  other request there; a 4xx allows everything, a 5xx or no answer allows nothing; its ``Crawl-delay``
  spaces the requests to that origin (capped);
- **the address policy** (:class:`crawler.text.addresses.AddressPolicy`): every URL, every redirect hop,
  and the address a host name resolves to when the connection is made (the connection goes to the address
  that was checked, so a name cannot resolve once to a public address and then to an internal one);
- **limits**: a timeout per request, a size bound per body, a number of requests per outlet, and at most
  :data:`MAX_REDIRECTS` redirects.
"""

from __future__ import annotations

import ipaddress
import socket
import time
from dataclasses import dataclass, field
from urllib.parse import urljoin, urlsplit

import urllib3
from protego import Protego
from urllib3.connection import HTTPConnection, HTTPSConnection
from urllib3.connectionpool import HTTPConnectionPool, HTTPSConnectionPool

from crawler.text.addresses import AddressPolicy, Refusal
from crawler.text.discovery import robots_txt_unreachable

USER_AGENT = "ai4s-monitor/0.1 (news monitoring of AI for Science coverage; source discovery)"
#: The product token robots.txt rules are matched against.
ROBOTS_AGENT = "ai4s-monitor"
MAX_REDIRECTS = 5
#: The part of a robots.txt that is read (RFC 9309 §2.5).
MAX_ROBOTS_BYTES = 500 * 1024


class AddressRefusedError(Exception):
    """A connection the address policy refused (raised inside urllib3, so that it is not retried)."""

    def __init__(self, refusal: Refusal) -> None:
        super().__init__(str(refusal))
        self.refusal = refusal


@dataclass(frozen=True)
class Limits:
    """How much discovery may ask of one outlet."""

    timeout: float = 20.0  # seconds per request (connect and each read)
    max_bytes: int = 10 * 1024 * 1024  # of one body, decompressed
    max_requests: int = 40  # per outlet, robots.txt included
    max_crawl_delay: float = 10.0  # a robots.txt Crawl-delay is honoured up to this


@dataclass(frozen=True)
class Fetched:
    """One answer: the final URL, the status, the body (empty unless 2xx) and its content type; or ``error``
    (a refusal, a network failure, a budget spent) when there was no answer to use."""

    url: str
    status: int = 0
    body: bytes = b""
    content_type: str = ""
    charset: str | None = None
    error: str | None = None
    location: str | None = None  # where a redirect points

    @property
    def redirect(self) -> bool:
        """Whether the answer is a redirect with somewhere to go."""
        return self.error is None and self.status in (301, 302, 303, 307, 308) and bool(self.location)

    @property
    def ok(self) -> bool:
        """Whether the request got a 2xx answer."""
        return self.error is None and 200 <= self.status < 300


@dataclass
class _Robots:
    parser: Protego | None  # None: everything allowed (no robots.txt)
    allow_nothing: str | None = None  # why nothing is allowed (robots.txt unreachable)
    last_request: float = 0.0
    delay: float = 0.0


@dataclass
class Fetcher:
    """Fetches pages for the discovery of one outlet, within its :class:`Limits`, obeying robots.txt and the
    address policy; remembers what it asked (``requests``) and what it refused (``refused``)."""

    policy: AddressPolicy
    limits: Limits = field(default_factory=Limits)
    requests: list[str] = field(default_factory=list)
    refused: list[str] = field(default_factory=list)
    _robots: dict[str, _Robots] = field(default_factory=dict)
    _pool: urllib3.PoolManager | None = None

    def __post_init__(self) -> None:
        self._pool = _checked_pool_manager(self.policy, self.limits.timeout)

    def close(self) -> None:
        """Close the connections."""
        if self._pool is not None:
            self._pool.clear()

    @property
    def budget_left(self) -> int:
        """Requests that may still be made."""
        return self.limits.max_requests - len(self.requests)

    def robots_verdict(self, url: str) -> str | None:
        """Why robots.txt forbids ``url`` (reading the robots.txt of its origin first), or ``None``."""
        origin = _origin(url)
        robots = self._robots.get(origin)
        if robots is None:
            robots = self._robots[origin] = self._read_robots(origin)
        if robots.allow_nothing is not None:
            return robots.allow_nothing
        if robots.parser is not None and not robots.parser.can_fetch(url, ROBOTS_AGENT):
            return f"disallowed by {origin}/robots.txt"
        return None

    def robots_txt(self, url: str) -> Protego | None:
        """The parsed robots.txt of the origin of ``url`` (``None``: it has none or it is unreadable)."""
        self.robots_verdict(url)
        return self._robots[_origin(url)].parser

    def get(self, url: str) -> Fetched:
        """GET ``url`` as the rules allow, following redirects; a refusal or failure comes back as ``error``."""
        for _ in range(MAX_REDIRECTS + 1):
            refusal = self.policy.check_url(url)
            if refusal is not None:
                self.refused.append(url)
                return Fetched(url, error=f"refused: {refusal}")
            verdict = self.robots_verdict(url)
            if verdict is not None:
                return Fetched(url, error=verdict)
            answer = self._request(url, self._robots[_origin(url)])
            if answer.redirect:
                url = urljoin(url, answer.location or "")
                continue
            return answer
        return Fetched(url, error=f"more than {MAX_REDIRECTS} redirects")

    def _read_robots(self, origin: str) -> _Robots:
        """The robots.txt of ``origin`` as RFC 9309 reads it (4xx: allow all; 5xx or no answer: allow nothing)."""
        url = f"{origin}/robots.txt"
        if self.policy.check_url(url) is not None:
            self.refused.append(url)
            return _Robots(None, allow_nothing=f"refused: {self.policy.check_url(url)}")
        for _ in range(MAX_REDIRECTS + 1):
            answer = self._request(url, None, max_bytes=MAX_ROBOTS_BYTES)
            if answer.redirect:
                url = urljoin(url, answer.location or "")
                if self.policy.check_url(url) is not None:
                    self.refused.append(url)
                    return _Robots(None, allow_nothing=f"robots.txt redirected to a refused address: {url}")
                continue
            break
        if answer.error is not None or robots_txt_unreachable(answer.status) or answer.redirect:
            why = answer.error or f"status {answer.status}"
            return _Robots(None, allow_nothing=f"{origin}/robots.txt is unreachable ({why}): nothing may be fetched")
        if answer.status >= 400:
            return _Robots(None)
        parser = Protego.parse(answer.body.decode("utf-8-sig", errors="replace"))  # a byte order mark is no text
        delay = parser.crawl_delay(ROBOTS_AGENT) or 0.0
        return _Robots(parser, delay=min(float(delay), self.limits.max_crawl_delay))

    def _request(self, url: str, robots: _Robots | None, max_bytes: int | None = None) -> Fetched:
        """One GET, a redirect not followed."""
        if self.budget_left <= 0:
            return Fetched(url, error=f"request budget of {self.limits.max_requests} spent")
        if robots is not None and robots.delay:
            wait = robots.last_request + robots.delay - time.monotonic()
            if wait > 0:
                time.sleep(wait)
            robots.last_request = time.monotonic()
        self.requests.append(url)
        assert self._pool is not None
        limit = max_bytes or self.limits.max_bytes
        try:
            response = self._pool.request(
                "GET",
                url,
                headers={"User-Agent": USER_AGENT, "Accept-Encoding": "gzip, deflate"},
                redirect=False,
                retries=False,
                preload_content=False,
            )
        except AddressRefusedError as exc:
            self.refused.append(url)
            return Fetched(url, error=f"refused: {exc.refusal}")
        except (urllib3.exceptions.HTTPError, OSError) as exc:
            return Fetched(url, error=f"no answer: {type(exc).__name__}")
        complete = False  # a connection goes back to the pool only when its answer was read to the end
        try:
            if not 200 <= response.status < 300:
                complete = _drain_small(response)
            if response.status in (301, 302, 303, 307, 308):
                return Fetched(url, response.status, location=response.headers.get("Location") or None)
            if not 200 <= response.status < 300:
                return Fetched(url, response.status)
            chunks: list[bytes] = []
            size = 0
            deadline = time.monotonic() + self.limits.timeout
            complete = True
            # read1: what has come, at once; stream() waits for 64 KiB, and a server sending one byte a second kept
            # each wait under the per-read timeout for hours
            while chunk := response.read1(64 * 1024, decode_content=True):
                chunks.append(chunk)
                size += len(chunk)
                if size >= limit or time.monotonic() > deadline:
                    complete = False
                    break  # what came so far: a feed or sitemap cut short still names its first items
            content_type = response.headers.get("Content-Type", "")
            charset = None
            for part in content_type.split(";")[1:]:
                key, _, value = part.partition("=")
                if key.strip().lower() == "charset":
                    charset = value.strip().strip("\"'") or None
            return Fetched(url, response.status, b"".join(chunks)[:limit], content_type, charset)
        except (urllib3.exceptions.HTTPError, OSError) as exc:
            complete = False
            return Fetched(url, error=f"broken answer: {type(exc).__name__}")
        finally:
            if complete:
                response.release_conn()
            else:
                response.close()


#: An error page or redirect this small is read to its end, so that its connection can be used again.
_DRAINED_BYTES = 64 * 1024


def _drain_small(response: urllib3.BaseHTTPResponse) -> bool:
    """Read the small body of an answer whose body is not wanted; whether it was read to its end."""
    length = response.headers.get("Content-Length", "")
    if not length.isdigit() or int(length) > _DRAINED_BYTES:
        return False
    try:
        response.drain_conn()
    except (urllib3.exceptions.HTTPError, OSError):
        return False
    return True


def _origin(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}"


def _checked_pool_manager(policy: AddressPolicy, timeout: float) -> urllib3.PoolManager:
    """A pool manager whose connections go only to addresses the policy allows (checked at connection time)."""

    def checked_connect(connection: HTTPConnection) -> socket.socket:
        infos = socket.getaddrinfo(connection._dns_host, connection.port, type=socket.SOCK_STREAM)
        if not infos:
            raise OSError(f"{connection.host} resolves to no address")
        for *_, sockaddr in infos:
            address = ipaddress.ip_address(str(sockaddr[0]).split("%", 1)[0])
            refusal = policy.check_connection(connection.host, connection.port or 80, address)
            if refusal is not None:
                raise AddressRefusedError(refusal)
        return socket.create_connection((str(infos[0][4][0]), connection.port), timeout=timeout)

    class CheckedHTTPConnection(HTTPConnection):
        def _new_conn(self) -> socket.socket:
            return checked_connect(self)

    class CheckedHTTPSConnection(HTTPSConnection):
        def _new_conn(self) -> socket.socket:
            return checked_connect(self)

    class CheckedHTTPPool(HTTPConnectionPool):
        ConnectionCls = CheckedHTTPConnection

    class CheckedHTTPSPool(HTTPSConnectionPool):
        ConnectionCls = CheckedHTTPSConnection

    manager = urllib3.PoolManager(timeout=urllib3.Timeout(connect=timeout, read=timeout))
    manager.pool_classes_by_scheme = {"http": CheckedHTTPPool, "https": CheckedHTTPSPool}
    return manager
