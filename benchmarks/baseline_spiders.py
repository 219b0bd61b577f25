#!/usr/bin/env python3
"""The plain-Scrapy baselines of ``crawl_speed.py``: what a user gets without the product.

``python3 benchmarks/baseline_spiders.py MODE --out FILE SITEMAP_URL...`` crawls the pages the
sitemaps list with a plain :class:`scrapy.spiders.SitemapSpider` (none of the project's code) and
writes ``{"pages", "articles", "started", "finished"}`` (epoch seconds of the spider's opening and
closing) to ``FILE``. ``MODE`` is one of:

- ``fetch``: fetch only, no extraction (what the web and Scrapy can give);
- ``inline``: ``trafilatura.extract`` called in the callback, on the reactor thread: the naive
  20-line spider;
- ``pool``: ``trafilatura.extract`` in a 2-process ``concurrent.futures`` pool, awaited by the
  callback: the ceiling of Scrapy plus trafilatura on two cores.

An article is a page whose extracted text is 250 characters or longer. Scrapy settings come as
``-s NAME=VALUE`` (the benchmark passes the same politeness-off settings it gives the product).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import time
from concurrent.futures import ProcessPoolExecutor
from typing import Any

import trafilatura
from scrapy import signals
from scrapy.crawler import CrawlerProcess
from scrapy.spiders import SitemapSpider

#: Extracted text at least this long makes a page an article.
MIN_ARTICLE_CHARS = 250
#: Processes of the ``pool`` mode.
POOL_WORKERS = 2


def extract_length(html: str) -> int:
    """Characters of the text ``trafilatura.extract`` (default options) finds in ``html``."""
    return len(trafilatura.extract(html) or "")


class BaselineSpider(SitemapSpider):
    """Fetches what the sitemaps list and, by mode, extracts nothing, extracts inline or in the pool."""

    name = "baseline"

    def __init__(self, mode: str, sitemaps: list[str], pool: ProcessPoolExecutor | None = None, **kwargs: Any):
        super().__init__(**kwargs)
        self.mode, self.sitemap_urls, self.pool = mode, sitemaps, pool
        self.figures: dict[str, float] = {"pages": 0, "articles": 0}

    @classmethod
    def from_crawler(cls, crawler: Any, *args: Any, **kwargs: Any) -> BaselineSpider:
        spider = super().from_crawler(crawler, *args, **kwargs)
        # bound methods: Scrapy holds signal receivers by weak reference, so a lambda would be gone at once
        crawler.signals.connect(spider.opened, signals.spider_opened)
        crawler.signals.connect(spider.closed_at, signals.spider_closed)
        return spider

    def opened(self) -> None:
        """Note when the crawl starts."""
        self.figures["started"] = time.time()

    def closed_at(self) -> None:
        """Note when the crawl ends."""
        self.figures["finished"] = time.time()

    async def parse(self, response: Any) -> None:
        """Count the page and, by mode, extract its text."""
        if self.mode == "inline":
            length = extract_length(response.text)
        elif self.mode == "pool" and self.pool is not None:
            length = await asyncio.wrap_future(self.pool.submit(extract_length, response.text))
        else:
            length = 0
        self.figures["pages"] += 1
        self.figures["articles"] += length >= MIN_ARTICLE_CHARS


def main() -> None:
    """Run one baseline crawl and write its figures."""
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("mode", choices=("fetch", "inline", "pool"))
    parser.add_argument("sitemaps", nargs="+", help="sitemap URLs")
    parser.add_argument("--out", required=True, help="JSON file for the figures")
    parser.add_argument("-s", "--set", dest="settings", action="append", default=[], metavar="NAME=VALUE")
    args = parser.parse_args()
    settings: dict[str, Any] = {"LOG_LEVEL": "WARNING", "TELNETCONSOLE_ENABLED": False}
    settings.update(setting.split("=", 1) for setting in args.settings)
    pool = None
    if args.mode == "pool":  # started, and trafilatura loaded in it, before the crawl is timed
        pool = ProcessPoolExecutor(POOL_WORKERS)
        list(pool.map(extract_length, ["<html><body><p>warm up</p></body></html>"] * POOL_WORKERS))
    process = CrawlerProcess(settings)
    crawler = process.create_crawler(BaselineSpider)
    process.crawl(crawler, mode=args.mode, sitemaps=args.sitemaps, pool=pool)
    process.start()
    if pool is not None:
        pool.shutdown()
    with open(args.out, "w", encoding="utf-8") as out:
        json.dump(crawler.spider.figures, out)


if __name__ == "__main__":
    main()
