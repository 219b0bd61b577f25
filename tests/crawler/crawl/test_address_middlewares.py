"""The address policy's middlewares one by one, as Scrapy builds them (the project's settings, a real
configuration): the origins allowed, a refusal counted each time and logged once per source and host, and a
lookup the resolver emptied turned into a refusal rather than a network error to retry."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Iterator
from pathlib import Path

import pytest
from scrapy import Request
from scrapy.exceptions import CannotResolveHostError

from crawler.config import Config
from crawler.crawl.addresses import (
    PROCESS_ADDRESSES,
    AddressPolicyMiddleware,
    AddressRefused,
    ResolvedAddressMiddleware,
)
from crawler.crawl.requests import article_request
from crawler.text.addresses import Refusal
from tests.crawler.crawl.components import make_config, make_crawler


@pytest.fixture
def config(tmp_path: Path) -> Config:
    return make_config(tmp_path)


@pytest.fixture(autouse=True)
def _process_addresses() -> Iterator[None]:
    """The process-wide policy and refusals as they were before the test."""
    policy, refused = PROCESS_ADDRESSES.policy, dict(PROCESS_ADDRESSES.refused)
    yield
    PROCESS_ADDRESSES.policy, PROCESS_ADDRESSES.refused = policy, refused


@pytest.mark.parametrize(
    ("url", "allowed"),
    [
        ("http://127.0.0.40:8040/2025/01/01/a.html", True),  # alpha's origin
        ("http://2130706472:8040/2025/01/01/a.html", True),  # alpha's origin, spelt as one number
        ("http://127.0.0.41:8041/news/b.html", True),  # beta's origin
        ("http://127.0.0.40:8041/a.html", False),  # alpha's host, beta's port
        ("http://127.0.0.40:22/", False),
        ("http://0x7f.1:8040/", False),
        ("http://[::ffff:127.0.0.40]:8040/", False),  # the same address, but no source names this host
        ("https://www.example.org/a.html", True),
    ],
)
def test_internal_addresses_are_fetched_only_on_the_sources_origins(config: Config, url: str, allowed: bool) -> None:
    middleware = AddressPolicyMiddleware.from_crawler(make_crawler(config))
    assert PROCESS_ADDRESSES.policy == middleware.policy  # what the resolver judges connections by
    if allowed:
        assert middleware.process_request(Request(url)) is None
    else:
        with pytest.raises(AddressRefused):
            middleware.process_request(Request(url))


def test_a_refusal_is_counted_each_time_and_logged_once_per_source_and_host(
    config: Config, caplog: pytest.LogCaptureFixture
) -> None:
    crawler = make_crawler(config)
    middleware = AddressPolicyMiddleware.from_crawler(crawler)
    alpha, beta = config.source("alpha"), config.source("beta")
    requests = [
        article_request("http://127.0.0.1:6379/2025/01/01/a.html", alpha, "feed"),
        article_request("http://127.0.0.1:6379/2025/01/02/b.html", alpha, "feed"),
        article_request("http://127.0.0.1:5432/2025/01/03/c.html", alpha, "feed"),  # same host, another port
        article_request("http://127.0.0.1:6379/2025/01/04/d.html", beta, "listing"),
        article_request("http://10.0.0.1/2025/01/05/e.html", alpha, "feed"),
    ]
    with caplog.at_level(logging.INFO, logger="crawler.crawl.addresses"):
        for request in requests:
            with pytest.raises(AddressRefused, match="internal address not configured as a source"):
                middleware.process_request(request)
    assert crawler.stats.get_value("ai4s/refused/internal_address") == len(requests)
    assert [record.getMessage() for record in caplog.records] == [
        "Source alpha: refused http://127.0.0.1:6379/2025/01/01/a.html: "
        "internal address not configured as a source: 127.0.0.1 (loopback)",
        "Source beta: refused http://127.0.0.1:6379/2025/01/04/d.html: "
        "internal address not configured as a source: 127.0.0.1 (loopback)",
        "Source alpha: refused http://10.0.0.1/2025/01/05/e.html: "
        "internal address not configured as a source: 10.0.0.1 (private)",
    ]


def test_a_proxy_the_environment_names_may_be_internal_while_the_proxy_middleware_is_on(
    config: Config, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("http_proxy", "http://10.0.0.5:3128")
    proxy = Request("http://10.0.0.5:3128/")
    judged = AddressPolicyMiddleware.from_crawler(make_crawler(config)).process_request(proxy)
    assert judged is not None and asyncio.run(judged) is None  # behind a proxy, names are resolved here: not refused
    without = AddressPolicyMiddleware.from_crawler(make_crawler(config, HTTPPROXY_ENABLED=False))
    with pytest.raises(AddressRefused):
        without.process_request(proxy)


def test_a_lookup_the_resolver_emptied_is_a_refusal_not_a_network_error(config: Config) -> None:
    crawler = make_crawler(config)
    middleware = ResolvedAddressMiddleware.from_crawler(crawler)
    reason = "internal address not configured as a source: intranet.example is 10.0.0.7 (private)"
    PROCESS_ADDRESSES.refused[("intranet.example", 80)] = Refusal("internal_address", "intranet.example", reason)
    refused = article_request("http://Intranet.Example/2025/01/01/a.html", config.source("alpha"), "feed")
    with pytest.raises(AddressRefused, match="10.0.0.7"):
        middleware.process_exception(refused, CannotResolveHostError("no results for hostname lookup"))
    assert crawler.stats.get_value("ai4s/refused/internal_address") == 1
    # the same host on another port was not refused: a lookup that failed there is a network error
    other_port = Request("http://intranet.example:8080/2025/01/01/a.html")
    assert middleware.process_exception(other_port, CannotResolveHostError("no results")) is None
    assert middleware.process_exception(refused, TimeoutError("timed out")) is None
