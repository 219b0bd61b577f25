"""The address policy in the crawl: every request, and every connection, is judged by
:class:`crawler.text.addresses.AddressPolicy` (internal addresses only on the origins the sources name).

Two places, one policy:

- :class:`AddressPolicyMiddleware` (first among the downloader middlewares) judges each request's URL as
  written, before robots.txt or anything else is asked for: the scheme, addresses in any spelling,
  ``localhost``. Redirects and meta refreshes make new requests, which pass it again.
- :class:`PolicyResolver` (Scrapy's ``TWISTED_DNS_RESOLVER``) judges the address each connection is
  about to be made to, after resolution, with the host and port it was asked for: a host name that
  resolves to an internal address (``/etc/hosts``, a DNS answer) yields no address, so nothing connects.
  It keeps Scrapy's resolver (its cache and timeout) underneath. :class:`ResolvedAddressMiddleware`
  turns the failed lookup it causes into an :class:`AddressRefused`, so that it is neither retried nor
  counted as a network error.

A refusal is counted (``ai4s/refused/<category>``; the spider counts it for the source as ``refused``),
logged once per source and host (:func:`note_refusal`), and raised as :class:`AddressRefused` (an
``IgnoreRequest``). Links that discovery left out for the same policy are counted and logged alike by the
spider, so that a refused link is one refusal wherever it was found.
"""

from __future__ import annotations

import asyncio
import ipaddress
import logging
import socket
from collections.abc import Coroutine, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, NoReturn
from urllib.request import getproxies

from scrapy.exceptions import CannotResolveHostError, IgnoreRequest
from scrapy.resolver import CachingThreadedResolver, HostResolution
from scrapy.utils.misc import load_object
from scrapy.utils.url import add_http_if_no_scheme
from twisted.internet.address import IPv4Address as TwistedIPv4Address
from twisted.internet.address import IPv6Address as TwistedIPv6Address
from twisted.internet.error import DNSLookupError
from twisted.internet.interfaces import IAddress, IHostnameResolver, IResolutionReceiver
from zope.interface import implementer, provider

from crawler.crawl.context import CrawlContext
from crawler.text.addresses import AddressPolicy, MalformedHost, Refusal, host_address, normal_host, origin_of

if TYPE_CHECKING:
    from scrapy import Request
    from scrapy.crawler import Crawler
    from scrapy.settings import BaseSettings
    from scrapy.statscollectors import StatsCollector
    from twisted.internet.base import ReactorBase

logger = logging.getLogger(__name__)


class AddressRefused(IgnoreRequest):
    """A request not sent: the address policy refused its URL (``url``), or the address its host resolved to."""

    def __init__(self, message: str, url: str = "") -> None:
        super().__init__(message)
        self.url = url


@dataclass
class ProcessAddresses:
    """What this process may connect to, and what the resolver refused. Scrapy's reactor, and the resolver
    installed on it, serve one crawl per process: the crawl's middleware sets the policy when it starts."""

    policy: AddressPolicy = AddressPolicy()  # until a crawl says otherwise, nothing internal
    refused: dict[tuple[str, int], Refusal] = field(default_factory=dict)  # by (normal host, port)


#: The policy of this process's connections.
PROCESS_ADDRESSES = ProcessAddresses()


def note_refusal(stats: StatsCollector, source: str | None, url: str, refusal: Refusal) -> None:
    """Count the refusal of ``url`` (``ai4s/refused/<category>``) and log it, once per source and host."""
    stats.inc_value(f"ai4s/refused/{refusal.category}")
    if source is None:  # the crawler's own robots.txt request: the source's request that caused it is logged
        logger.debug("Refused %s: %s", url, refusal)
        return
    once = f"ai4s/refused_hosts/{source}/{refusal.host}"
    if not stats.get_value(once):
        logger.warning("Source %s: refused %s: %s", source, url, refusal)
    stats.inc_value(once)


def refuse(stats: StatsCollector, request: Request, refusal: Refusal) -> NoReturn:
    """Count and log the refusal of ``request`` (:func:`note_refusal`), and raise :class:`AddressRefused`."""
    note_refusal(stats, request.meta.get("ai4s_source"), request.url, refusal)
    raise AddressRefused(f"{refusal}: {request.url}", request.url)


def environment_proxies(settings: BaseSettings) -> list[str]:
    """The proxies Scrapy's proxy middleware takes from the environment (``http_proxy``, ``https_proxy``) when it
    is enabled: the operator's choice, reachable even on an internal address (the crawl connects to them)."""
    if not settings.getbool("HTTPPROXY_ENABLED"):
        return []
    return [add_http_if_no_scheme(url) for scheme, url in getproxies().items() if scheme in ("http", "https")]


class AddressPolicyMiddleware:
    """Fetch only http(s); fetch internal addresses (in any spelling) only on the exact origins the configured
    sources name. Every request passes here, redirects and meta refreshes included."""

    def __init__(self, crawler: Crawler, policy: AddressPolicy) -> None:
        self.policy = policy
        self.stats = crawler.stats
        PROCESS_ADDRESSES.policy = policy
        #: Requests go through a proxy (``http_proxy``, ``https_proxy``): it resolves their host names, out of
        #: :class:`PolicyResolver`'s sight (which sees only the proxy's), so they are resolved and judged here.
        self.proxied = bool(environment_proxies(crawler.settings))
        resolver = crawler.settings.get("TWISTED_DNS_RESOLVER")
        if not issubclass(load_object(resolver), PolicyResolver):
            logger.warning(
                "TWISTED_DNS_RESOLVER is %s: host names are not judged by the address they resolve to", resolver
            )

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> AddressPolicyMiddleware:
        sources = CrawlContext.of(crawler).config.sources
        urls = [url for source in sources for url in source.entry_urls]
        return cls(crawler, AddressPolicy.from_urls(urls + environment_proxies(crawler.settings)))

    def process_request(self, request: Request) -> Coroutine[Any, Any, None] | None:
        """Raise :class:`AddressRefused` for a URL that the policy refuses as written, or, behind a proxy, by the
        addresses its host name resolves to (then a coroutine that does)."""
        refusal = self.policy.check_url(request.url)
        if refusal is not None:
            refuse(self.stats, request, refusal)
        return self._judge_resolved(request) if self.proxied else None

    async def _judge_resolved(self, request: Request) -> None:
        refusal = await asyncio.to_thread(resolved_refusal, self.policy, request.url)
        if refusal is not None:
            refuse(self.stats, request, refusal)


def resolved_refusal(policy: AddressPolicy, url: str) -> Refusal | None:
    """Why ``policy`` refuses ``url`` by an address its host name resolves to (``None``: none is refused, the URL
    names an address, or the name does not resolve here)."""
    origin = origin_of(url)
    if origin is None:
        return None
    try:
        if host_address(origin.host) is not None:
            return None  # an address, judged as written
        found = socket.getaddrinfo(origin.host, origin.port, type=socket.SOCK_STREAM)
    except (MalformedHost, OSError, UnicodeError):
        return None
    for *_, address in found:
        refusal = policy.check_connection(origin.host, origin.port, ipaddress.ip_address(str(address[0]).split("%")[0]))
        if refusal is not None:
            return refusal
    return None


class ResolvedAddressMiddleware:
    """Turns the failed lookup of a host whose addresses :class:`PolicyResolver` refused into
    :class:`AddressRefused` (placed before the retry middleware, so that it is not retried)."""

    def __init__(self, crawler: Crawler) -> None:
        self.stats = crawler.stats

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> ResolvedAddressMiddleware:
        return cls(crawler)

    def process_exception(self, request: Request, exception: Exception) -> None:
        """Raise :class:`AddressRefused` when ``exception`` is a lookup the address policy emptied."""
        if not isinstance(exception, (CannotResolveHostError, DNSLookupError)):
            return
        origin = origin_of(request.url)
        refusal = PROCESS_ADDRESSES.refused.get((origin.host, origin.port)) if origin else None
        if refusal is not None:
            refuse(self.stats, request, refusal)


@implementer(IHostnameResolver)
class PolicyResolver:
    """Scrapy's caching resolver, whose answers are judged by the process's address policy before any
    connection is made: an internal address is given only for a host and port a source names."""

    def __init__(self, reactor: ReactorBase, resolver: CachingThreadedResolver) -> None:
        self.reactor = reactor
        self.resolver = resolver
        self.names: Any = None  # the IHostnameResolver underneath (zope interfaces are not types to mypy)

    @classmethod
    def from_crawler(cls, crawler: Any, reactor: ReactorBase) -> PolicyResolver:
        return cls(reactor, CachingThreadedResolver.from_crawler(crawler, reactor))

    def install_on_reactor(self) -> None:
        """Install Scrapy's resolver, then this one over it, as the reactor's name resolver."""
        self.resolver.install_on_reactor()
        self.names = self.reactor.nameResolver
        self.reactor.installNameResolver(self)  # type: ignore[arg-type]

    def resolveHostName(  # noqa: N802 - Twisted's interface
        self,
        resolutionReceiver: IResolutionReceiver,  # noqa: N803
        hostName: str,  # noqa: N803
        portNumber: int = 0,  # noqa: N803
        addressTypes: Sequence[type[IAddress]] | None = None,  # noqa: N803
        transportSemantics: str = "TCP",  # noqa: N803
    ) -> Any:  # an IHostResolution
        """The addresses of ``hostName`` that the policy allows: an address in any spelling is read as the C
        library reads it (``0x7f.1`` is 127.0.0.1), a name is resolved by Scrapy's resolver."""
        assert self.names is not None, "install_on_reactor() first"
        judged = _JudgedResolution(resolutionReceiver, hostName, portNumber)
        try:
            literal = host_address(hostName)
        except MalformedHost:
            literal = None
        if literal is None:
            semantics = transportSemantics
            return self.names.resolveHostName(  # type: ignore[no-any-return]
                judged, hostName, portNumber=portNumber, addressTypes=addressTypes, transportSemantics=semantics
            )
        resolution = HostResolution(hostName)
        judged.resolutionBegan(resolution)
        if isinstance(literal, ipaddress.IPv4Address):
            judged.addressResolved(TwistedIPv4Address("TCP", str(literal), portNumber))
        else:
            judged.addressResolved(TwistedIPv6Address("TCP", str(literal), portNumber))
        judged.resolutionComplete()
        return resolution


@provider(IResolutionReceiver)
class _JudgedResolution:
    """Receives the addresses of one lookup and passes on those the policy allows for its host and port."""

    def __init__(self, receiver: Any, host: str, port: int) -> None:
        self.receiver = receiver  # an IResolutionReceiver
        self.host = host
        self.port = port

    def resolutionBegan(self, resolution: Any) -> None:  # noqa: N802 - Twisted's interface
        self.receiver.resolutionBegan(resolution)

    def addressResolved(self, address: Any) -> None:  # noqa: N802 - Twisted's interface (an IAddress)
        try:
            ip = ipaddress.ip_address(getattr(address, "host", ""))
        except ValueError:
            return  # not an IP address (a UNIX socket path): nothing the crawler connects to
        refusal = PROCESS_ADDRESSES.policy.check_connection(self.host, self.port, ip)
        if refusal is None:
            self.receiver.addressResolved(address)
            return
        PROCESS_ADDRESSES.refused[(normal_host(self.host), self.port)] = refusal

    def resolutionComplete(self) -> None:  # noqa: N802 - Twisted's interface
        self.receiver.resolutionComplete()
