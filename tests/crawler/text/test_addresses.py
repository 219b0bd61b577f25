"""The address policy, without a crawl: every spelling of an address a URL parser or a resolver accepts is
read as the address it is, internal addresses are told from public ones, and an internal address is allowed
only on the exact origin (scheme, host and port) a source names."""

from __future__ import annotations

import ipaddress

import pytest

from crawler.text.addresses import (
    AddressPolicy,
    MalformedHost,
    Origin,
    address_kind,
    host_address,
    host_kind,
    is_internal_host,
    normal_host,
    origin_of,
)

#: Spellings of 127.0.0.1 that browsers and the C library's resolver (inet_aton) read as that address.
LOOPBACK_SPELLINGS = [
    "127.0.0.1",
    "2130706433",  # one decimal number
    "0x7f000001",  # one hexadecimal number
    "017700000001",  # one octal number
    "0x7f.1",  # a.b with the last part filling 24 bits
    "127.1",
    "127.0.1",
    "0177.0.0.1",
    "0x7f.0x0.0.0x1",
    "0X7F.0.0.1",
    "127.0.0.1.",  # a trailing dot
    "127%2e0.0.1",  # a percent-escape
    "１２７。０。０。１",  # full-width digits and ideographic full stops
]


@pytest.mark.parametrize("spelling", LOOPBACK_SPELLINGS)
def test_every_spelling_of_an_ipv4_address_is_that_address(spelling: str) -> None:
    assert normal_host(spelling) == "127.0.0.1"
    assert host_kind(spelling) == "loopback"


@pytest.mark.parametrize(
    ("host", "address"),
    [
        ("[::1]", "::1"),
        ("[::ffff:127.0.0.1]", "::ffff:7f00:1"),
        ("[0:0:0:0:0:ffff:7f00:1]", "::ffff:7f00:1"),
        ("[::]", "::"),
        ("0", "0.0.0.0"),
        ("0x", "0.0.0.0"),
        ("10.1", "10.0.0.1"),
        ("3232235777", "192.168.1.1"),
        ("8.8.8.8", "8.8.8.8"),
    ],
)
def test_ip_hosts_are_read_in_every_form(host: str, address: str) -> None:
    assert str(host_address(host)) == address


@pytest.mark.parametrize("host", ["example.com", "news.cn", "vm", "localhost", "0abc.example", "x0x7f", "a.b.c.d.e"])
def test_host_names_are_no_addresses(host: str) -> None:
    assert host_address(host) is None


@pytest.mark.parametrize("host", ["999.1", "1.2.3.4.5", "256.0.0.1", "127.0.0.08", "0x7g.1", "1.16777216", "[::1::2]"])
def test_a_host_that_ends_in_a_number_but_is_no_address_is_malformed(host: str) -> None:
    with pytest.raises(MalformedHost):
        host_address(host)
    assert host_kind(host) == "malformed"


@pytest.mark.parametrize(
    ("address", "kind"),
    [
        ("127.0.0.1", "loopback"),
        ("127.9.9.9", "loopback"),
        ("::1", "loopback"),
        ("10.0.0.8", "private"),
        ("172.16.5.4", "private"),
        ("192.168.1.1", "private"),
        ("169.254.169.254", "link-local"),
        ("fe80::1", "link-local"),
        ("fd12:3456::1", "unique-local"),
        ("224.0.0.251", "multicast"),
        ("ff02::1", "multicast"),
        ("0.0.0.0", "unspecified"),
        ("::", "unspecified"),
        ("240.0.0.1", "reserved"),
        ("100.64.0.1", "non-public"),
        ("::ffff:127.0.0.1", "IPv4-mapped loopback"),
        ("::ffff:10.0.0.1", "IPv4-mapped private"),
        ("::127.0.0.1", "IPv4-embedded loopback"),  # IPv4-compatible
        ("64:ff9b::a9fe:a9fe", "IPv4-embedded link-local"),  # NAT64 of 169.254.169.254
        ("8.8.8.8", None),
        ("2001:4860:4860::8888", None),
        ("::ffff:8.8.8.8", None),
    ],
)
def test_addresses_are_public_or_internal_of_a_kind(address: str, kind: str | None) -> None:
    assert address_kind(ipaddress.ip_address(address)) == kind


@pytest.mark.parametrize("host", ["localhost", "LOCALHOST.", "news.localhost", "[::1]", "0x7f.1", "10.1", "0"])
def test_internal_hosts_as_written(host: str) -> None:
    assert is_internal_host(host)


@pytest.mark.parametrize("host", ["8.8.8.8", "news.cn", "www.gov.cn", "[2001:4860:4860::8888]", "localhost.example"])
def test_public_hosts_and_names_are_not_internal_as_written(host: str) -> None:
    assert not is_internal_host(host)


def test_the_origin_of_a_url_is_its_scheme_normal_host_and_port() -> None:
    assert origin_of("http://127.0.0.2:8000/feed.xml") == Origin("http", "127.0.0.2", 8000)
    assert origin_of("HTTPS://News.Example./a") == Origin("https", "news.example", 443)
    assert origin_of("http://2130706434:8000/") == Origin("http", "127.0.0.2", 8000)
    assert origin_of("http://[::1]/") == Origin("http", "::1", 80)
    assert origin_of("ftp://127.0.0.2/") is None
    assert origin_of("http://127.0.0.2:99999/") is None


SOURCE = AddressPolicy.from_urls(["http://127.0.0.2:8000/rss.xml", "https://news.example/sitemap.xml"])


@pytest.mark.parametrize(
    "url",
    [
        "http://127.0.0.2:8000/2025/01/01/a.html",  # the source's own origin
        "http://2130706434:8000/a.html",  # the same origin in another spelling
        "https://news.example:8443/a.html",  # public: any port
        "http://8.8.8.8/a.html",
        "http://some-name.example:22/",  # a name: judged when it is resolved
    ],
)
def test_public_addresses_and_the_sources_own_origins_are_allowed(url: str) -> None:
    assert SOURCE.check_url(url) is None and SOURCE.allows(url)


@pytest.mark.parametrize(
    ("url", "category", "said"),
    [
        ("http://127.0.0.2:8001/", "internal_address", "127.0.0.2 (loopback)"),  # another port of the source's host
        ("http://127.0.0.1:8000/", "internal_address", "127.0.0.1 (loopback)"),  # the port on another host
        ("https://127.0.0.2:8000/", "internal_address", "127.0.0.2 (loopback)"),  # another scheme
        ("http://0x7f.1:8000/", "internal_address", "0x7f.1 is 127.0.0.1 (loopback)"),
        ("http://localhost:8000/", "internal_address", "source: localhost (loopback)"),
        ("http://[::ffff:127.0.0.1]:8000/", "internal_address", "(IPv4-mapped loopback)"),
        ("http://127.0.0.2:8000@127.0.0.1:9/", "internal_address", "127.0.0.1 (loopback)"),  # user info is no host
        ("http://169.254.169.254/latest/meta-data/", "internal_address", "(link-local)"),
        ("http://999.1/", "malformed_address", "not a valid address: 999.1"),
        ("ftp://127.0.0.2:8000/", "scheme", "not an http(s) URL"),
        ("javascript:alert(1)", "scheme", "not an http(s) URL"),
    ],
)
def test_internal_addresses_off_the_sources_origins_are_refused(url: str, category: str, said: str) -> None:
    refusal = SOURCE.check_url(url)
    assert refusal is not None and not SOURCE.allows(url)
    assert refusal.category == category and said in str(refusal)
    assert AddressPolicy().check_url(url) is not None  # without sources, nothing internal at all


def test_a_connection_is_judged_by_the_address_a_name_resolved_to_with_its_host_and_port() -> None:
    loopback = ipaddress.ip_address("127.0.0.1")
    policy = AddressPolicy.from_urls(["http://localhost:8000/rss.xml"])
    assert policy.check_connection("localhost", 8000, loopback) is None
    assert policy.check_connection("LOCALHOST.", 8000, loopback) is None
    refused = policy.check_connection("localhost", 8001, loopback)
    assert refused is not None and str(refused) == (
        "internal address not configured as a source: localhost is 127.0.0.1 (loopback)"
    )
    assert policy.check_connection("intranet", 8000, ipaddress.ip_address("10.0.0.7")) is not None
    assert policy.check_connection("news.example", 443, ipaddress.ip_address("93.184.215.14")) is None
