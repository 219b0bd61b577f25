"""The address policy: which hosts and addresses the crawler may connect to. Pure.

A host is read as a URL parser of a browser reads it (the WHATWG URL standard): every IPv4
spelling that resolvers accept (``2130706433``, ``0x7f.1``, ``017700000001``, ``127.1``), IPv6 in
brackets (IPv4-mapped and IPv4-compatible forms included), a trailing dot, percent-escapes and
full-width characters. An address is public, or internal of a kind (loopback, private, link-local,
unique-local, multicast, unspecified, reserved, or an IPv6 form of an internal IPv4 address).

:class:`AddressPolicy` allows every public address, and an internal one only on an exact origin
(scheme, host and port) that a source's configured URL names: a source served from
``http://127.0.0.2:8000`` allows that origin, not ``127.0.0.2`` on another port nor ``127.0.0.1:8000``.
It judges a URL as written (:meth:`AddressPolicy.check_url`: literal addresses and ``localhost``)
and an address a host name resolved to, when the crawl connects (:meth:`AddressPolicy.check_connection`).
"""

from __future__ import annotations

import ipaddress
import re
import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass
from functools import lru_cache
from typing import NamedTuple
from urllib.parse import unquote, urlsplit

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address

#: The port of each scheme fetched, where a URL names none.
DEFAULT_PORTS = {"http": 80, "https": 443}
_HEX = re.compile(r"[0-9a-f]*")
_OCTAL = re.compile(r"[0-7]*")
_DECIMAL = re.compile(r"[0-9]+")
#: IPv6 prefixes that carry an IPv4 address in their last 32 bits (RFC 6052 NAT64, RFC 4291 IPv4-compatible).
_NAT64 = ipaddress.IPv6Network("64:ff9b::/96")
_IPV4_COMPATIBLE = ipaddress.IPv6Network("::/96")
_UNIQUE_LOCAL = ipaddress.IPv6Network("fc00::/7")


class MalformedHost(ValueError):
    """A host that ends in a number but is no valid IPv4 address (``999.1``, ``1.2.3.4.5``)."""


@lru_cache(maxsize=1024)  # a page's links name few hosts: each is read once
def normal_host(host: str) -> str:
    """``host`` as a URL parser reads it: percent-escapes decoded, full-width forms folded, lower case,
    no brackets or trailing dot, and an IP address in its one canonical spelling (``0x7f.1`` is
    ``127.0.0.1``). A malformed address is returned folded but otherwise as written."""
    folded = unicodedata.normalize("NFKC", unquote(host)).replace("\u3002", ".").lower().strip()
    folded = folded.removeprefix("[").removesuffix("]")
    try:
        address = host_address(folded)
    except MalformedHost:
        return folded.rstrip(".")
    return str(address) if address is not None else folded.rstrip(".")


def host_address(host: str) -> IPAddress | None:
    """The IP address ``host`` spells, in any spelling a URL parser accepts; ``None`` for a host name.

    Raises :class:`MalformedHost` for a host that ends in a number but is no IPv4 address.
    """
    host = host.strip().lower().removeprefix("[").removesuffix("]")
    if ":" in host:
        try:
            return ipaddress.IPv6Address(host)
        except ValueError as exc:
            raise MalformedHost(f"not an IPv6 address: {host}") from exc
    parts = host.split(".")
    if len(parts) > 1 and parts[-1] == "":
        parts.pop()
    if not _is_ipv4_number(parts[-1]):
        return None  # a name: only resolving it says where it leads
    numbers = [_ipv4_number(part) for part in parts]
    if len(numbers) > 4 or any(number is None for number in numbers):
        raise MalformedHost(f"not an IPv4 address: {host}")
    *leading, last = [number for number in numbers if number is not None]
    if any(number > 255 for number in leading) or last >= 256 ** (5 - len(numbers)):
        raise MalformedHost(f"not an IPv4 address: {host}")
    value = last + sum(number << (8 * (3 - index)) for index, number in enumerate(leading))
    return ipaddress.IPv4Address(value)


def _is_ipv4_number(part: str) -> bool:
    """Whether the last label of a host makes it an IPv4 address (all digits, or a ``0x`` number)."""
    return bool(_DECIMAL.fullmatch(part)) or _ipv4_number(part) is not None


def _ipv4_number(part: str) -> int | None:
    """One part of an IPv4 address: decimal, ``0x`` hexadecimal or ``0``-prefixed octal; ``None`` if it is none."""
    if not part:
        return None
    if part[:2] == "0x":
        digits = part[2:]
        if not _HEX.fullmatch(digits):
            return None
        return int(digits, 16) if digits else 0
    if len(part) > 1 and part[0] == "0":
        digits = part[1:]
        return int(digits, 8) if _OCTAL.fullmatch(digits) else None
    return int(part) if _DECIMAL.fullmatch(part) else None


def _embedded_ipv4(address: ipaddress.IPv6Address) -> ipaddress.IPv4Address | None:
    """The IPv4 address an IPv6 address stands for (IPv4-mapped, IPv4-compatible, NAT64, 6to4), if any."""
    if address.ipv4_mapped is not None:
        return address.ipv4_mapped
    if address.sixtofour is not None:
        return address.sixtofour
    if address in _NAT64 or (address in _IPV4_COMPATIBLE and int(address) > 1):
        return ipaddress.IPv4Address(int(address) & 0xFFFFFFFF)
    return None


def address_kind(address: IPAddress) -> str | None:
    """What kind of internal address ``address`` is (``loopback``, ``private``, ...), or ``None`` when it is public."""
    if isinstance(address, ipaddress.IPv6Address):
        embedded = _embedded_ipv4(address)
        if embedded is not None:
            kind = address_kind(embedded)
            if kind is not None:
                return f"IPv4-{'mapped' if address.ipv4_mapped is not None else 'embedded'} {kind}"
            if address.ipv4_mapped is not None:
                return None  # ::ffff:a.b.c.d connects to the public a.b.c.d
    if address.is_unspecified:
        return "unspecified"
    if address.is_loopback:
        return "loopback"
    if address.is_link_local:
        return "link-local"
    if address.is_multicast:
        return "multicast"
    if isinstance(address, ipaddress.IPv6Address) and address in _UNIQUE_LOCAL:
        return "unique-local"
    if address.is_reserved:
        return "reserved"
    if address.is_private:
        return "private"
    if not address.is_global:
        return "non-public"
    return None


def is_loopback_name(host: str) -> bool:
    """Whether ``host`` is ``localhost`` or a name under it (RFC 6761: they always mean the machine itself)."""
    host = normal_host(host)
    return host == "localhost" or host.endswith(".localhost")


@lru_cache(maxsize=1024)
def host_kind(host: str) -> str | None:
    """What kind of internal host ``host`` is as written (an internal address in any spelling, ``localhost``,
    or ``malformed``), or ``None`` for a public address or a host name that only resolving can judge."""
    if is_loopback_name(host):
        return "loopback"
    try:
        address = host_address(normal_host(host))
    except MalformedHost:
        return "malformed"
    return address_kind(address) if address is not None else None


def is_internal_host(host: str) -> bool:
    """True for a host that is internal as written: loopback, private, link-local and other non-public
    addresses in any spelling, ``localhost``. Other host names are not resolved here."""
    return host_kind(host) is not None


class Origin(NamedTuple):
    """Where a URL connects to: scheme, host (its :func:`normal_host`) and port (the scheme's default if none)."""

    scheme: str
    host: str
    port: int

    @property
    def netloc(self) -> str:
        """Host and port as a URL writes them: an IPv6 host in brackets, no port where it is the scheme's default."""
        host = f"[{self.host}]" if ":" in self.host else self.host
        return host if self.port == DEFAULT_PORTS[self.scheme] else f"{host}:{self.port}"


def origin_of(url: str) -> Origin | None:
    """The origin of an http(s) URL; ``None`` for another scheme, no host or a bad port."""
    parts = urlsplit(url.strip())
    scheme = parts.scheme.lower()
    if scheme not in DEFAULT_PORTS or not parts.hostname:
        return None
    try:
        port = parts.port or DEFAULT_PORTS[scheme]
    except ValueError:
        return None
    return Origin(scheme, normal_host(parts.hostname), port)


@dataclass(frozen=True)
class Refusal:
    """Why a URL or a connection is refused: its ``category`` (a stats key: ``scheme``, ``internal_address``,
    ``malformed_address``), the host as written and the reason in words."""

    category: str
    host: str
    reason: str

    def __str__(self) -> str:
        return self.reason


@dataclass(frozen=True)
class AddressPolicy:
    """Public addresses are allowed; an internal one only on an origin of ``allowed`` (those of the sources'
    configured URLs). Without origins, nothing internal is allowed."""

    allowed: frozenset[Origin] = frozenset()

    @classmethod
    def from_urls(cls, urls: Iterable[str]) -> AddressPolicy:
        """The policy that allows the origins of ``urls`` (a source's feeds, sitemaps and start pages)."""
        return cls(frozenset(origin for origin in map(origin_of, urls) if origin is not None))

    def check_url(self, url: str) -> Refusal | None:
        """Why ``url`` may not be fetched, judged as written; ``None`` when it may (a host name is judged
        again, by the address it resolves to, when the crawl connects)."""
        origin = origin_of(url)
        if origin is None:
            return Refusal("scheme", "", f"not an http(s) URL: {url}")
        kind = host_kind(origin.host)
        if kind is None or origin in self.allowed:
            return None
        written = urlsplit(url.strip()).hostname or ""
        if kind == "malformed":
            return Refusal("malformed_address", written, f"not a valid address: {written}")
        return Refusal("internal_address", written, _internal(written, origin.host, kind))

    def allows(self, url: str) -> bool:
        """Whether ``url`` may be fetched (:meth:`check_url` finds no reason to refuse it)."""
        return self.check_url(url) is None

    def check_connection(self, host: str, port: int, address: IPAddress) -> Refusal | None:
        """Why connecting to ``address`` for ``host:port`` is refused; ``None`` when the address is public or a
        source names that host and port. (The scheme is not known there: :meth:`check_url` judged it.)"""
        kind = address_kind(address)
        if kind is None:
            return None
        name = normal_host(host)
        if any(origin.host == name and origin.port == port for origin in self.allowed):
            return None
        return Refusal("internal_address", host, _internal(host, str(address), kind))


def _internal(written: str, address: str, kind: str) -> str:
    """The reason given for an internal address (``internal address not configured as a source: 127.0.0.1
    (loopback)``)."""
    where = address if written.lower().strip("[]") == address else f"{written} is {address}"
    return f"internal address not configured as a source: {where} ({kind})"
