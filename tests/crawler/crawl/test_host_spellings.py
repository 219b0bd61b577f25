"""One host under many spellings (:mod:`crawler.crawl.hosts`, :mod:`crawler.crawl.robots`): a real crawl of a
loopback site whose feed names its own articles under other spellings of its address (a decimal number, a hex
number, octal parts, a trailing dot) is polite to one host, not to one per spelling."""

from __future__ import annotations

import ipaddress
from pathlib import Path

from crawler.text.urls import canonical_url
from tests.crawler.crawl.test_fault_web import HTML, crawl, feed_source
from tests.crawler.support import article_html
from tests.faultweb import FaultSite, answer, rss

ADDRESS = "127.0.4.26"
NUMBER = int(ipaddress.IPv4Address(ADDRESS))
#: Spellings a URL parser reads as 127.0.4.26: each opens a host of its own to a crawler that keys on the text.
SPELLINGS = [str(NUMBER), hex(NUMBER), f"{ADDRESS}.", "0177.0.04.032", "127.0.1050"]


def test_every_spelling_of_a_host_shares_its_robots_txt_and_crawl_delay(tmp_path: Path) -> None:
    site = FaultSite("spellings", ADDRESS)
    site.add("/robots.txt", answer(200, b"User-agent: *\nCrawl-delay: 1\n", {"Content-Type": "text/plain"}))
    paths = [f"/2024/05/0{n + 1}/spelling-{n}.html" for n in range(len(SPELLINGS))]
    for n, path in enumerate(paths):
        site.add(path, answer(200, article_html(f"Spelling story {n}").encode(), HTML))
    links = [f"http://{host}:{site.port}{path}" for host, path in zip(SPELLINGS, paths, strict=True)]
    links.append(site.url(paths[0]))  # the first article again, as written in the sources
    site.add("/rss.xml", rss(*links))
    with site:
        result = crawl(tmp_path, feed_source("spellings", site))
    assert site.paths().count("/robots.txt") == 1, site.paths()
    records = site.records()
    assert sorted(record.path for record in records[1:]) == sorted(["/rss.xml", *paths])  # each article once
    arrivals = [record.arrived for record in records[1:]]  # after robots.txt
    gaps = [later - earlier for earlier, later in zip(arrivals, arrivals[1:], strict=False)]
    # as in test_crawl_delay_spaces_the_requests_to_its_host: a busy crawl process may send one a little late
    assert min(gaps) >= 0.85, gaps
    # one page, one identity: every spelling is stored as the dotted address
    assert sorted(result.articles) == sorted(site.url(path) for path in paths)
    assert all(canonical_url(link) == site.url(path) for link, path in zip(links, [*paths, paths[0]], strict=True))
