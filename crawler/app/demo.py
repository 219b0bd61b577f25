"""The offline demo news web behind ``ai4s demo``: three small news sites on loopback addresses.

It owns the *content* of the demo, not the crawl. :class:`DemoWeb` builds three sites with
:class:`crawler.app.webserver.LocalSite`, each on its own loopback address so that they are distinct
hosts to the crawler:

``demo-xinhua`` (127.0.0.1)
    A Chinese state-media site in UTF-8, discovered through an RSS 2.0 feed (``/rss/news.xml``).
``demo-portal`` (127.0.0.2)
    A Chinese news portal served in **GBK**, discovered through a listing page (``/news/``) with
    two pages of pagination; it also has about, contact and a robots-disallowed search page.
``demo-sjtu`` (127.0.0.3)
    An English university news site, discovered through ``sitemap.xml`` declared in robots.txt.

The articles are the five seed articles of ``seeds/`` (rendered as news pages, their noise kept)
and a few ordinary, invented non-AI news items from ``crawler/app/demo_content/*.toml``. Seed 001, a
Xinhua story, is served twice: on demo-xinhua and, reposted under another template and URL, on
demo-portal, so that the demo shows duplicate detection. Every page is rendered once, when the
web is built; serving is static. :func:`run_demo` serves it and crawls it, as ``ai4s demo`` does.

The demo keeps what it made in :func:`demo_dir` (the user's data directory): its corpus
(``corpus.sqlite3``, replaced by the next demo, whose pages have other ports) and its sources file, so
that ``ai4s stats``, ``stories``, ``digest`` and ``export`` can be tried on it afterwards.
"""

from __future__ import annotations

import re
import subprocess
import sys
import threading
import tomllib
import xml.etree.ElementTree as ET
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta, timezone
from email.utils import format_datetime
from pathlib import Path
from types import TracebackType

from jinja2 import Environment, FileSystemLoader, StrictUndefined
from platformdirs import user_data_dir

from crawler.app.webserver import LocalSite, Reply, html_reply
from seeds import SEEDS_DIR
from storage.db import APP_NAME

CONTENT_DIR = Path(__file__).resolve().parent / "demo_content"
BEIJING = timezone(timedelta(hours=8))
LISTING_PAGE_SIZE = 4
ATOM_NS = "http://www.w3.org/2005/Atom"
SITEMAP_NS = "http://www.sitemaps.org/schemas/sitemap/0.9"

_IMAGE_MARKER = re.compile(r"!\[[^\]]*\]\([^)]*\)")
_BOLD_MARKS = re.compile(r"\*{2,}")
_HEADING_MARK = re.compile(r"^#{1,6}\s+")
_SENTENCE_ENDS = ("。", "！", "？", "”", ".", "!", "?", '"')


@dataclass(frozen=True)
class SiteTheme:
    """How one demo site looks and where it lives: name, loopback host, charset, menu, template set."""

    name: str
    host: str
    display_name: str
    charset: str
    templates: str
    nav: tuple[tuple[str, str], ...]
    footer: str
    feed_path: str = ""


SITES: tuple[SiteTheme, ...] = (
    SiteTheme(
        name="demo-xinhua",
        host="127.0.0.1",
        display_name="新华网（演示）",
        charset="utf-8",
        templates="xinhua",
        nav=(("首页", "/"), ("科技", "/#tech"), ("城市", "/#city"), ("天气", "/#weather"), ("RSS", "/rss/news.xml")),
        footer="本站为 ai4s-monitor 离线演示站点：科技报道转自公开新闻，其余为演示用虚构新闻。",
        feed_path="/rss/news.xml",
    ),
    SiteTheme(
        name="demo-portal",
        host="127.0.0.2",
        display_name="门户新闻（演示）",
        charset="gbk",
        templates="portal",
        nav=(
            ("首页", "/"),
            ("新闻中心", "/news/"),
            ("科技", "/news/"),
            ("财经", "/news/"),
            ("体育", "/news/"),
            ("关于我们", "/about/"),
        ),
        footer="本站为 ai4s-monitor 离线演示站点，以 GBK 编码提供页面。",
    ),
    SiteTheme(
        name="demo-sjtu",
        host="127.0.0.3",
        display_name="University News (demo)",
        charset="utf-8",
        templates="sjtu",
        nav=(("Home", "/"), ("News", "/news/"), ("Conference Season", "/news/"), ("About", "/about/")),
        footer="An offline demo site of ai4s-monitor. 沪ICP备00000000号 (demo)",
    ),
)


@dataclass(frozen=True)
class DemoArticle:
    """One article page of the demo web: where it is served and what it says."""

    site: str
    path: str
    title: str
    paragraphs: tuple[str, ...]
    language: str
    section: str
    source: str
    published: date | datetime | None = None
    author: str = ""
    origin: str = ""

    @property
    def html_lang(self) -> str:
        """The ``<html lang>`` value of the page."""
        return self.language

    @property
    def published_iso(self) -> str:
        """The publication date or time in ISO 8601 (W3C), or "" when unknown."""
        return self.published.isoformat() if self.published is not None else ""

    @property
    def published_display(self) -> str:
        """The publication date or time as a news page prints it, or "" when unknown."""
        if isinstance(self.published, datetime):
            return self.published.strftime("%Y-%m-%d %H:%M")
        return self.published.isoformat() if self.published is not None else ""

    @property
    def summary(self) -> str:
        """A short excerpt for feeds and meta descriptions: the first full-sentence paragraph, cut to 120 characters."""
        sentences = (p for p in self.paragraphs if len(p) >= 20 and p.endswith(_SENTENCE_ENDS))
        text = next(sentences, self.paragraphs[0] if self.paragraphs else "")
        return text if len(text) <= 120 else text[:119].rstrip() + "…"

    @property
    def sort_key(self) -> tuple[bool, float]:
        """Ordering key, largest newest; undated articles sort below dated ones."""
        if self.published is None:
            return (False, 0.0)
        return (True, _as_datetime(self.published).timestamp())


def _as_datetime(value: date | datetime) -> datetime:
    """A timezone-aware datetime for a date (midnight, Beijing time) or a datetime."""
    if isinstance(value, datetime):
        return value if value.tzinfo else value.replace(tzinfo=BEIJING)
    return datetime.combine(value, time(0, 0), tzinfo=BEIJING)


def clean_seed_lines(text: str) -> list[str]:
    """The non-empty lines of a seed article with markdown image, bold and heading marks removed."""
    lines = []
    for raw in text.splitlines():
        line = _BOLD_MARKS.sub("", _IMAGE_MARKER.sub("", raw)).strip()
        line = _HEADING_MARK.sub("", line)
        if line:
            lines.append(line)
    return lines


def load_seed_pages(seeds_dir: Path = SEEDS_DIR, content_dir: Path = CONTENT_DIR) -> list[DemoArticle]:
    """The seed articles as demo pages, placed as ``demo_content/seed_pages.toml`` says."""
    placements = tomllib.loads((content_dir / "seed_pages.toml").read_text(encoding="utf-8"))["page"]
    pages = []
    for entry in placements:
        seed_file = seeds_dir / entry["seed"]
        if not seed_file.is_file():
            raise FileNotFoundError(f"seed article {seed_file} is missing: the demo web is built from seeds/")
        lines = clean_seed_lines(seed_file.read_text(encoding="utf-8"))
        if "title_line" in entry:
            title = lines.pop(entry["title_line"])
        else:
            title = entry["title"]
        if entry.get("script") == "traditional":  # a repost in traditional script, as HK/TW portals carry them
            from crawler.text.normalize import to_traditional

            title, lines = to_traditional(title), [to_traditional(line) for line in lines]
        lines += entry.get("extra_lines", [])
        pages.append(
            DemoArticle(
                site=entry["site"],
                path=entry["path"],
                title=title,
                paragraphs=tuple(lines),
                language=entry["language"],
                section=entry["section"],
                source=entry["source"],
                published=entry.get("published"),
                origin=f"seeds/{entry['seed']}",
            )
        )
    return pages


def load_demo_news(content_dir: Path = CONTENT_DIR) -> list[DemoArticle]:
    """The ordinary, invented news items of ``demo_content/news_*.toml``."""
    items = []
    for path in sorted(content_dir.glob("news_*.toml")):
        data = tomllib.loads(path.read_text(encoding="utf-8"))
        items.append(
            DemoArticle(
                site=data["site"],
                path=data["path"],
                title=data["title"],
                paragraphs=tuple(data["paragraphs"]),
                language=data["language"],
                section=data["section"],
                source=data["source"],
                published=data.get("published"),
                author=data.get("author", ""),
                origin=f"demo_content/{path.name}",
            )
        )
    return items


def rss_feed(
    title: str, home: str, self_url: str, language: str, articles: Iterable[DemoArticle], base_url: str
) -> bytes:
    """An RSS 2.0 document (UTF-8 bytes) listing ``articles``, dates in RFC 822."""
    ET.register_namespace("atom", ATOM_NS)
    rss = ET.Element("rss", {"version": "2.0"})
    channel = ET.SubElement(rss, "channel")
    ET.SubElement(channel, "title").text = title
    ET.SubElement(channel, "link").text = home
    ET.SubElement(channel, "description").text = f"{title} 最新新闻"
    ET.SubElement(channel, "language").text = language
    ET.SubElement(channel, f"{{{ATOM_NS}}}link", {"href": self_url, "rel": "self", "type": "application/rss+xml"})
    articles = sorted(articles, key=lambda a: a.sort_key, reverse=True)
    dates = [_as_datetime(a.published) for a in articles if a.published is not None]
    if dates:
        ET.SubElement(channel, "lastBuildDate").text = format_datetime(max(dates))
    for article in articles:
        item = ET.SubElement(channel, "item")
        link = base_url + article.path
        ET.SubElement(item, "title").text = article.title
        ET.SubElement(item, "link").text = link
        ET.SubElement(item, "guid", {"isPermaLink": "true"}).text = link
        ET.SubElement(item, "category").text = article.section
        if article.published is not None:
            ET.SubElement(item, "pubDate").text = format_datetime(_as_datetime(article.published))
        ET.SubElement(item, "description").text = article.summary
    return ET.tostring(rss, encoding="utf-8", xml_declaration=True)


def sitemap(articles: Iterable[DemoArticle], base_url: str) -> bytes:
    """A sitemaps.org urlset (UTF-8 bytes) of ``articles``, ``lastmod`` in W3C datetime."""
    urlset = ET.Element("urlset", {"xmlns": SITEMAP_NS})
    for article in sorted(articles, key=lambda a: a.sort_key, reverse=True):
        entry = ET.SubElement(urlset, "url")
        ET.SubElement(entry, "loc").text = base_url + article.path
        if article.published is not None:
            ET.SubElement(entry, "lastmod").text = article.published.isoformat()
    return ET.tostring(urlset, encoding="utf-8", xml_declaration=True)


def _xml_reply(body: bytes, content_type: str) -> Reply:
    """A 200 reply carrying an XML document."""
    return Reply(200, body, {"Content-Type": f"{content_type}; charset=utf-8"})


def _text_reply(text: str) -> Reply:
    """A 200 text/plain reply (robots.txt)."""
    return Reply(200, text.encode("utf-8"), {"Content-Type": "text/plain; charset=utf-8"})


class DemoWeb:
    """The demo news web: three sites bound on loopback at construction, serving after :meth:`start`."""

    def __init__(self, seeds_dir: Path = SEEDS_DIR, content_dir: Path = CONTENT_DIR) -> None:
        self.themes: dict[str, SiteTheme] = {theme.name: theme for theme in SITES}
        self.articles: list[DemoArticle] = load_seed_pages(seeds_dir, content_dir) + load_demo_news(content_dir)
        unknown = {a.site for a in self.articles} - set(self.themes)
        if unknown:
            raise ValueError(f"demo content names unknown sites: {sorted(unknown)}")
        self._env = Environment(
            loader=FileSystemLoader(content_dir),
            autoescape=True,
            undefined=StrictUndefined,
            keep_trailing_newline=True,
        )
        self.sites: dict[str, LocalSite] = {}
        try:
            for theme in SITES:
                self.sites[theme.name] = LocalSite(theme.name, theme.host, etags=True)
            self._build_xinhua()
            self._build_portal()
            self._build_sjtu()
        except BaseException:
            self.stop()
            raise

    # -- public surface ------------------------------------------------------------
    def start(self) -> None:
        """Start serving every site."""
        for site in self.sites.values():
            site.start()

    def stop(self) -> None:
        """Stop every site and release its port."""
        for site in self.sites.values():
            site.stop()

    def __enter__(self) -> DemoWeb:
        """Start serving; the web stops when the block ends."""
        self.start()
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        """Stop serving."""
        self.stop()

    def article_url(self, article: DemoArticle) -> str:
        """The absolute URL at which ``article`` is served."""
        return self.sites[article.site].url(article.path)

    def article_urls(self) -> list[str]:
        """The absolute URLs of every article page served, each once."""
        return sorted({self.article_url(article) for article in self.articles})

    def expected_article_count(self) -> int:
        """The number of article pages served (distinct URLs)."""
        return len(self.article_urls())

    def feed_url(self) -> str:
        """The RSS feed of demo-xinhua."""
        return self.sites["demo-xinhua"].url(self.themes["demo-xinhua"].feed_path)

    def listing_url(self) -> str:
        """The first listing page of demo-portal."""
        return self.sites["demo-portal"].url("/news/")

    def robots_url(self, site: str = "demo-sjtu") -> str:
        """The robots.txt of ``site`` (demo-sjtu's declares its sitemap)."""
        return self.sites[site].url("/robots.txt")

    def sources_toml(self) -> str:
        """A sources file (the ``seeds/sources.toml`` format) listing the demo sites and how to find their pages."""
        entries = [
            ("demo-xinhua", "zh", f"feeds = [{_toml_str(self.feed_url())}]"),
            ("demo-portal", "zh", f"start_urls = [{_toml_str(self.listing_url())}]\nmax_depth = 2\nmax_pages = 50"),
            ("demo-sjtu", "en", f"sitemaps = [{_toml_str(self.robots_url('demo-sjtu'))}]"),
        ]
        blocks = ["# Sources of the offline demo web (crawler/app/demo.py); ports change from run to run."]
        for name, language, discovery in entries:
            blocks.append(
                f'[[source]]\nname = {_toml_str(name)}\nlanguage = {_toml_str(language)}\nevery = "1h"\n{discovery}'
            )
        return "\n\n".join(blocks) + "\n"

    # -- building ------------------------------------------------------------------
    def _on(self, site: str) -> list[DemoArticle]:
        """The articles of ``site``, newest first."""
        return sorted((a for a in self.articles if a.site == site), key=lambda a: a.sort_key, reverse=True)

    def _render(self, theme: SiteTheme, template: str, **context: object) -> Reply:
        """Render ``<theme>_<template>.html.j2`` to an HTML reply in the site's charset."""
        html = self._env.get_template(f"{theme.templates}_{template}.html.j2").render(
            site=theme, charset=theme.charset, **context
        )
        # Characters the charset lacks become numeric references, as on real GBK sites.
        return html_reply(html.encode(theme.charset, errors="xmlcharrefreplace"), theme.charset)

    def _add_articles(self, theme: SiteTheme) -> None:
        """Serve every article of ``theme``'s site, each with a sidebar of the site's other stories."""
        site = self.sites[theme.name]
        articles = self._on(theme.name)
        for article in articles:
            related = [_link(other) for other in articles if other.path != article.path][:5]
            site.add(
                article.path,
                self._render(theme, "article", article=article, url=site.url(article.path), related=related),
            )

    def _build_xinhua(self) -> None:
        """demo-xinhua: home page, RSS 2.0 feed, articles, robots.txt."""
        theme = self.themes["demo-xinhua"]
        site = self.sites[theme.name]
        articles = self._on(theme.name)
        site.add("/robots.txt", _text_reply("User-agent: *\nDisallow: /search/\n"))
        site.add("/", self._render(theme, "index", items=[_link(a) for a in articles]))
        site.add(
            theme.feed_path,
            _xml_reply(
                rss_feed(
                    theme.display_name, site.url("/"), site.url(theme.feed_path), "zh-cn", articles, site.base_url
                ),
                "application/rss+xml",
            ),
        )
        self._add_articles(theme)

    def _build_portal(self) -> None:
        """demo-portal (GBK): home, a two-page listing, about/contact/search pages, articles, robots.txt."""
        theme = self.themes["demo-portal"]
        site = self.sites[theme.name]
        articles = self._on(theme.name)
        site.add("/robots.txt", _text_reply("User-agent: *\nDisallow: /search/\n"))
        chunks = [articles[i : i + LISTING_PAGE_SIZE] for i in range(0, len(articles), LISTING_PAGE_SIZE)]
        paths = ["/news/"] + [f"/news/index_{n}.html" for n in range(2, len(chunks) + 1)]
        pages = list(enumerate(paths, start=1))
        for number, (path, chunk) in enumerate(zip(paths, chunks, strict=True), start=1):
            site.add(
                path,
                self._render(
                    theme,
                    "list",
                    items=[_link(a) for a in chunk],
                    page=number,
                    pages=pages,
                    prev_path=paths[number - 2] if number > 1 else "",
                    next_path=paths[number] if number < len(paths) else "",
                ),
            )
        site.add(
            "/",
            self._render(
                theme, "page", heading="今日要闻", paragraphs=[], items=[_link(a) for a in articles[:LISTING_PAGE_SIZE]]
            ),
        )
        site.add(
            "/about/",
            self._render(
                theme,
                "page",
                heading="关于我们",
                items=[],
                paragraphs=[
                    "门户新闻（演示）是 ai4s-monitor 离线演示中的一个新闻门户，汇集科技、财经、体育等栏目的报道。",
                    "本站页面以 GBK 编码提供，用来演示爬虫对不同字符集的处理。",
                ],
            ),
        )
        site.add(
            "/contact/",
            self._render(
                theme,
                "page",
                heading="联系我们",
                items=[],
                paragraphs=[
                    "新闻热线：000-00000000（演示）",
                    "电子邮件：newsroom@portal.invalid",
                ],
            ),
        )
        site.add(
            "/search/",
            self._render(
                theme,
                "page",
                heading="搜索",
                items=[],
                paragraphs=[
                    "请输入关键词。（本页被 robots.txt 禁止抓取。）",
                ],
            ),
        )
        self._add_articles(theme)

    def _build_sjtu(self) -> None:
        """demo-sjtu: home, news list, about page, sitemap.xml declared in robots.txt, articles."""
        theme = self.themes["demo-sjtu"]
        site = self.sites[theme.name]
        articles = self._on(theme.name)
        site.add(
            "/robots.txt", _text_reply(f"User-agent: *\nDisallow: /admin/\n\nSitemap: {site.url('/sitemap.xml')}\n")
        )
        site.add("/sitemap.xml", _xml_reply(sitemap(articles, site.base_url), "application/xml"))
        items = [_link(a) for a in articles]
        site.add(
            "/",
            self._render(
                theme,
                "index",
                heading="University News",
                paragraphs=["News and events from the university, in English."],
                items=items[:3],
            ),
        )
        site.add("/news/", self._render(theme, "index", heading="Latest News", paragraphs=[], items=items))
        site.add(
            "/about/",
            self._render(
                theme,
                "index",
                heading="About",
                items=[],
                paragraphs=[
                    "This English-language university news site is part of the ai4s-monitor offline demo.",
                    "Its pages are listed in a sitemap that robots.txt declares.",
                ],
            ),
        )
        self._add_articles(theme)


def _link(article: DemoArticle) -> dict[str, str]:
    """The fields a listing or sidebar shows for ``article``."""
    shown = article.published.strftime("%Y-%m-%d") if article.published is not None else ""
    return {"path": article.path, "title": article.title, "date": shown}


def _toml_str(value: str) -> str:
    """``value`` as a TOML basic string."""
    escaped = value.replace("\\", "\\\\").replace('"', '\\"')
    return f'"{escaped}"'


class DemoError(RuntimeError):
    """A demo crawl failed; the message says which one and how it ended."""


def demo_dir() -> Path:
    """Where the demo keeps its corpus and its sources file: ``demo/`` in the user's data directory."""
    return Path(user_data_dir(APP_NAME)) / "demo"


def default_demo_db() -> Path:
    """The demo's own corpus, when no ``--db`` is given: a SQLite file in :func:`demo_dir`."""
    return demo_dir() / "corpus.sqlite3"


def remove_demo_corpus(path: Path) -> bool:
    """Delete the SQLite file ``path`` of an earlier demo (with its WAL files); whether there was one."""
    found = path.exists()
    for leftover in (path, path.with_name(path.name + "-wal"), path.with_name(path.name + "-shm")):
        leftover.unlink(missing_ok=True)
    return found


def run_demo(
    db_url: str | None,
    rounds: int,
    on_ready: Callable[[DemoWeb, Path], None] | None = None,
    on_round: Callable[[int], None] | None = None,
    on_done: Callable[[DemoWeb, str], None] | None = None,
) -> str:
    """Serve the demo web and crawl it ``rounds`` times into ``db_url`` (default: :func:`default_demo_db`,
    started afresh), each crawl an ``ai4s crawl`` process printing its summary; the database URL.

    ``on_ready`` gets the web and its sources file once it serves, ``on_round`` each round's number
    before its crawl, ``on_done`` the web and the database URL after the last crawl, while the web still
    serves (it may keep it serving: :func:`serve_until_interrupted`). Raises :class:`DemoError` when a
    crawl fails.
    """
    workdir = demo_dir()
    workdir.mkdir(parents=True, exist_ok=True)
    if db_url is None:
        remove_demo_corpus(default_demo_db())  # its articles are at the ports of an earlier demo web
        db_url = f"sqlite:///{default_demo_db()}"
    with DemoWeb() as web:
        sources_file = workdir / "sources.toml"
        sources_file.write_text(web.sources_toml(), encoding="utf-8")
        if on_ready:
            on_ready(web, sources_file)
        for round_number in range(1, rounds + 1):
            if on_round:
                on_round(round_number)
            # Each crawl in its own process: Scrapy's reactor runs once per process.
            result = subprocess.run(
                [sys.executable, "-m", "crawler", "crawl", "--sources", str(sources_file), "--db", db_url],
                check=False,
            )
            if result.returncode != 0:
                raise DemoError(f"crawl {round_number} failed (exit {result.returncode})")
        if on_done:
            on_done(web, db_url)
    return db_url


def serve_until_interrupted() -> None:
    """Block (the demo web serving from its own threads) until Ctrl-C."""
    try:
        threading.Event().wait()
    except KeyboardInterrupt:
        pass
