"""Scrapy components as a crawl builds them, for component tests: a crawler with the project's
settings (``scrapy.utils.test.get_crawler``), its configuration from a small sources file, a
real SQLite file, and the crawl context, opened as at ``spider_opened``."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from scrapy.crawler import Crawler
from scrapy.utils.test import get_crawler

import crawler.crawl.settings as project_settings
from crawler.config import Config, load_config
from crawler.crawl.context import CrawlContext
from crawler.crawl.spiders.news import NewsSpider
from storage import Database

#: Two sources on loopback addresses of their own (no server listens: nothing is fetched).
SOURCES_TOML = """
[[source]]
name = "alpha"
feeds = ["http://127.0.0.40:8040/rss.xml"]
max_pages = 3

[[source]]
name = "beta"
start_urls = ["http://127.0.0.41:8041/news/"]
"""


def make_config(tmp_path: Path, sources_toml: str = SOURCES_TOML) -> Config:
    """The configuration of a crawl of ``sources_toml`` into ``tmp_path/corpus.sqlite3``."""
    tmp_path.mkdir(parents=True, exist_ok=True)
    sources = tmp_path / "sources.toml"
    sources.write_text(sources_toml, encoding="utf-8")
    return load_config(db=f"sqlite:///{tmp_path / 'corpus.sqlite3'}", sources_file=sources, environ={})


def make_crawler(config: Config, **settings: Any) -> Crawler:
    """A crawler with the project's settings, ``config`` and ``settings``, and its news spider."""
    project = {name: getattr(project_settings, name) for name in dir(project_settings) if name.isupper()}
    crawler = get_crawler(NewsSpider, {**project, "AI4S_CONFIG": config, **settings})
    crawler.spider = NewsSpider.from_crawler(crawler)
    return crawler


@contextmanager
def open_crawl(config: Config, **settings: Any) -> Iterator[Crawler]:
    """A crawler whose crawl context is open (the run started), closed as ``finished`` afterwards."""
    crawler = make_crawler(config, **settings)
    context = CrawlContext.of(crawler)
    context.spider_opened()
    try:
        yield crawler
    finally:
        context.spider_closed("finished")


@contextmanager
def corpus(config: Config) -> Iterator[Any]:
    """A session (in a transaction) on the crawl's database, to prepare or read it."""
    with Database(config.db_url) as database, database.session() as session, session.begin():
        yield session
