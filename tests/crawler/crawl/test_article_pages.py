"""An article is never an entry page (issue 11): on a site whose home page and section link real article pages under
every common URL shape, some of which look like listings' URLs, two crawls request no stored article page twice,
store every article, keep polling the section, and keep no article among the entry pages' children."""

from __future__ import annotations

import html
import json
import re
from pathlib import Path

import pytest
from sqlalchemy import select

from crawler.app.webserver import LocalSite, Reply, html_reply
from crawler.text.urls import canonical_url
from storage import Database
from storage.models import Article, CrawlRunSource, EntryPage, FetchedUrl
from tests.crawler.support import ai4s
from tests.localweb import CorpusPage, load_corpus

FAST = ["-s", "DOWNLOAD_DELAY=0", "-s", "AUTOTHROTTLE_ENABLED=False", "-s", "AI4S_RETRY_BACKOFF_BASE=0.2"]
#: Article paths, one per common shape; the first ones look like listings' URLs to the URL heuristics.
SHAPES = [
    "/{small}",  # a bare number, as a listing's page number would be: /870 is no page 870 of the home page
    "/ai-for-science/{small}",
    "/article/{word}",
    "/stories/{word}",
    "/{word}-report/",
    "/article/{slug}",
    "/news/{slug}.html",
    "/p/{slug}",
    "/?p={number}",
    "/2025/03/02/{slug}/",
    "/a/x{number}/",
    "/xwzx/content_{number}.htm",
]
OG_ARTICLE = '<meta property="og:type" content="article">'
JSON_LD = '<script type="application/ld+json">{"@context": "https://schema.org", "@type": "NewsArticle"}</script>'


def usable(page: CorpusPage) -> bool:
    """A complete English or simplified-Chinese corpus page in UTF-8 or GBK that a local site can serve as it is."""
    english = page.source in ("zyte-aeb", "fundus") and page.language == "en" and page.encoding == "utf-8"
    chinese = page.source == "cwced" and page.language == "zh-Hans"
    return (english or chinese) and page.problem() is None


class ArticleSite:
    """A news site: a home page marked ``og:type=article`` and a section page with a slug-like URL, both
    linking real article pages under the shapes of :data:`SHAPES`."""

    def __init__(self, pages: list[CorpusPage]) -> None:
        self.site = LocalSite("shapes", "127.0.0.61")
        self.pages = pages
        self.articles: list[tuple[str, str]] = []  # (path, title), newest last
        self.in_section: list[tuple[str, str]] = []
        self.site.add("/robots.txt", Reply(200, b"User-agent: *\nAllow: /\n", {"Content-Type": "text/plain"}))
        self.site.add("/", lambda _: self.listing("Home", self.articles + [("/ai-for-science/", "AI for Science")]))
        self.site.add("/ai-for-science/", lambda _: self.listing("AI for Science", self.in_section, teasers=True))

    def publish(self, count: int) -> list[str]:
        """Publish the next ``count`` pages (alternately on the home page and in the section); their paths."""
        paths = []
        for _ in range(count):
            index = len(self.articles) + len(self.in_section)
            page = self.pages[index]
            word = ["catalysts", "proteins", "climate", "materials", "genomes"][index % 5] + ("" if index < 5 else "s")
            slug = "-".join(re.findall(r"[a-z]+", page.display_title().lower())[:4]) or "story"
            path = SHAPES[index % len(SHAPES)].format(
                word=word, slug=f"{slug}-{index}", number=48213 + index, small=860 + index
            )
            raw = page.raw()
            if index % 3 == 1:  # some declare themselves, some do not
                head = (OG_ARTICLE + JSON_LD).encode(page.encoding)
                raw = re.sub(rb"(<head[^>]*>)", lambda m, head=head: m.group(1) + head, raw, count=1, flags=re.I)
            self.site.add(path, Reply(200, raw, {"Content-Type": f"text/html; charset={page.encoding}"}))
            (self.articles if index % 2 == 0 else self.in_section).append((path, page.display_title()))
            paths.append(path)
        return paths

    def listing(self, title: str, links: list[tuple[str, str]], teasers: bool = False) -> Reply:
        """A listing page (``og:type=article`` too, as some sites mark every page) of ``links``, newest first."""
        items = "".join(
            f'<li><a href="{path}">{text}</a>{"<p>A short teaser of the story.</p>" if teasers else ""}</li>'
            for path, text in reversed(links)
        )
        nav = '<nav><a href="/">Home</a> <a href="/ai-for-science/">AI for Science</a></nav>'
        return html_reply(
            f"<!doctype html><html><head><title>{title}</title>{OG_ARTICLE}</head>"
            f"<body>{nav}<h1>{title}</h1><ul>{items}</ul></body></html>"
        )

    def requests_of(self, path: str) -> int:
        """How many times ``path`` was requested."""
        return len(self.site.requests_for(path))


def stored(db_url: str) -> set[str]:
    """The canonical URLs of the stored articles."""
    with Database(db_url) as database, database.session() as session:
        return set(session.execute(select(Article.canonical_url)).scalars())


def entry_children(db_url: str) -> dict[str, list[str]]:
    """The canonical URLs of the entry pages each remembered entry page led to, by its URL."""
    with Database(db_url) as database, database.session() as session:
        rows = session.execute(select(EntryPage.url, EntryPage.children)).all()
    return {url: [canonical_url(child[0]) for child in json.loads(children or "[]")] for url, children in rows}


@pytest.fixture
def pages(corpus_dir: Path) -> list[CorpusPage]:
    chosen = [page for page in sorted(load_corpus(corpus_dir), key=lambda p: (p.source, p.id)) if usable(page)]
    if len(chosen) < 14:
        pytest.skip("the test corpus has too few complete English and Chinese pages")
    # every tenth, so that English (zyte-aeb, fundus) and Chinese (cwced) pages both come
    return chosen[::10][:14]


def test_articles_linked_like_listings_are_stored_once_and_never_polled(
    pages: list[CorpusPage], tmp_path: Path
) -> None:
    web = ArticleSite(pages)
    first = web.publish(10)
    sources = tmp_path / "sources.toml"
    db_url = f"sqlite:///{tmp_path / 'corpus.sqlite3'}"
    with web.site:
        sources.write_text(f'[[source]]\nname = "shapes"\nstart_urls = ["{web.site.url("/")}"]\n', encoding="utf-8")
        crawl = ("crawl", "--sources", str(sources), "--db", db_url, *FAST)
        result = ai4s(*crawl, timeout=240)
        assert result.returncode == 0, result.stderr[-3000:]
        assert {canonical_url(web.site.url(path)) for path in first} <= stored(db_url)
        second = web.publish(4)
        result = ai4s(*crawl, timeout=240)
        assert result.returncode == 0, result.stderr[-3000:]

        articles = first + second
        assert {canonical_url(web.site.url(path)) for path in articles} <= stored(db_url)
        assert {path: web.requests_of(path) for path in articles} == dict.fromkeys(articles, 1)
        assert web.requests_of("/ai-for-science/") == 2 and web.requests_of("/") == 2  # still polled
    article_urls = {canonical_url(web.site.url(path)) for path in articles}
    children = entry_children(db_url)
    assert canonical_url(web.site.url("/ai-for-science/")) in children[canonical_url(web.site.url("/"))]
    assert not article_urls & set(children), "an article page was kept as an entry page"
    assert not article_urls & {child for kids in children.values() for child in kids}


def test_a_dead_link_on_a_listing_is_an_error_once_and_never_requested_again(
    pages: list[CorpusPage], tmp_path: Path
) -> None:
    # a menu's page removed long ago (404) and a section closed (410), linked from the home page: each crawl had
    # requested them again and counted them among the source's errors
    web = ArticleSite(pages)
    web.publish(2)
    dead = [("/about-us/", "About us"), ("/old-section/", "Old section")]
    web.site.add("/", lambda _: web.listing("Home", web.articles + dead + [("/ai-for-science/", "AI for Science")]))
    web.site.add("/old-section/", Reply(410, b"<html><body>Gone</body></html>", {"Content-Type": "text/html"}))
    sources = tmp_path / "sources.toml"
    db_url = f"sqlite:///{tmp_path / 'corpus.sqlite3'}"
    with web.site:
        sources.write_text(f'[[source]]\nname = "shapes"\nstart_urls = ["{web.site.url("/")}"]\n', encoding="utf-8")
        crawl = ("crawl", "--sources", str(sources), "--db", db_url, *FAST)
        for _ in range(2):
            web.publish(1)  # the home page changes: it is read again, and its links followed
            result = ai4s(*crawl, timeout=240)
            assert result.returncode == 0, result.stderr[-3000:]
        assert web.requests_of("/about-us/") == 1 and web.requests_of("/old-section/") == 1
        assert web.requests_of("/") == 2
    with Database(db_url) as database, database.session() as session:
        errors = session.execute(select(CrawlRunSource.errors).order_by(CrawlRunSource.run_id)).scalars().all()
    assert errors == [2, 0]


def test_an_article_a_feed_gave_is_no_child_of_an_unchanged_home_page(pages: list[CorpusPage], tmp_path: Path) -> None:
    # The feed and the home page link the same articles; those whose URLs look like listings' are requested as
    # articles (the feed's link) and never judged as listings. Re-polls of an unchanged home page must not lead
    # to them either.
    web = ArticleSite(pages)
    paths = web.publish(10)
    items = "".join(
        f"<item><title>{title}</title><link>{web.site.url(path)}</link></item>" for path, title in web.articles
    )
    feed = f'<?xml version="1.0"?><rss version="2.0"><channel><title>shapes</title>{items}</channel></rss>'
    web.site.add("/rss.xml", Reply(200, feed.encode(), {"Content-Type": "application/rss+xml"}))
    web.site.extra_delay = lambda record: 1.0 if record.path == "/" else 0.0  # the feed's links are requested first
    sources = tmp_path / "sources.toml"
    db_url = f"sqlite:///{tmp_path / 'corpus.sqlite3'}"
    with web.site:
        sources.write_text(
            f'[[source]]\nname = "shapes"\nfeeds = ["{web.site.url("/rss.xml")}"]\nstart_urls = ["{web.site.url("/")}"]\n',
            encoding="utf-8",
        )
        crawl = ("crawl", "--sources", str(sources), "--db", db_url, *FAST)
        for _ in range(3):  # the second and third crawls find the home page and the feed unchanged
            result = ai4s(*crawl, timeout=240)
            assert result.returncode == 0, result.stderr[-3000:]
        assert {path: web.requests_of(path) for path in paths} == dict.fromkeys(paths, 1)
    article_urls = {canonical_url(web.site.url(path)) for path in paths}
    assert not article_urls & {child for kids in entry_children(db_url).values() for child in kids}


#: Links whose parameters change at every poll as real feeds give them (a cache buster, a share tag), by crawl.
ROTATING = [
    "?t={epoch}",  # a time as a cache buster
    "?_dc={epoch}123",  # ExtJS's
    "?rnd=0.{crawl}8419",  # a random draw
    "?v={epoch}",  # a version stamped with the time
    "?from={share}&isappinstalled=0",  # WeChat's share tag
    "?mpshare=1&scene=2{crawl}&srcid=05{crawl}2aaa",
    "?ref=feed_{crawl}",
    "?source={share}",
    "?sessid=9f8e7d6c5b{crawl}",
]
#: Pairs of different articles whose links differ only in a parameter that tags or tracks on other sites.
DISTINCT = [
    ("/article.pl?sid=07/01/23/1234217", "/article.pl?sid=07/01/24/0012345"),  # Slashcode
    ("/view.php?sid=a81f3c", "/view.php?sid=b92e4d"),
    ("/story.php?ref=A1234", "/story.php?ref=B5678"),
    ("/watch?v=dQw4w9WgXcQ", "/watch?v=9bZkp7q19f0"),
]


def test_links_that_change_at_every_poll_fetch_each_article_once_and_lose_none(
    corpus_dir: Path, tmp_path: Path
) -> None:
    chosen = [page for page in sorted(load_corpus(corpus_dir), key=lambda p: (p.source, p.id)) if usable(page)]
    if len(chosen) < 5 * (len(ROTATING) + 2 * len(DISTINCT)):
        pytest.skip("the test corpus has too few complete English and Chinese pages")
    site = LocalSite("rotating", "127.0.0.72")
    site.add("/robots.txt", Reply(200, b"User-agent: *\nAllow: /\n", {"Content-Type": "text/plain"}))
    served = iter(chosen[::5])
    rotating = [f"/news/2026/12/story-{number}.html" for number in range(len(ROTATING))]
    for path in rotating:
        page = next(served)
        site.add_prefix(path, Reply(200, page.raw(), {"Content-Type": f"text/html; charset={page.encoding}"}))
    distinct = [path for pair in DISTINCT for path in pair]
    for path in distinct:
        page = next(served)
        site.add(path, Reply(200, page.raw(), {"Content-Type": f"text/html; charset={page.encoding}"}))

    def feed(crawl: int) -> Reply:
        values = {"epoch": 1764748800 + 3600 * crawl, "crawl": crawl, "share": ["timeline", "groupmessage"][crawl % 2]}
        links = [path + query.format(**values) for path, query in zip(rotating, ROTATING, strict=True)] + distinct
        items = "".join(f"<item><title>t</title><link>{html.escape(site.url(link))}</link></item>" for link in links)
        return Reply(200, f"<rss><channel>{items}</channel></rss>".encode(), {"Content-Type": "application/rss+xml"})

    sources = tmp_path / "sources.toml"
    sources.write_text(f'[[source]]\nname = "rotating"\nfeeds = ["{site.url("/rss.xml")}"]\n', encoding="utf-8")
    db_url = f"sqlite:///{tmp_path / 'corpus.sqlite3'}"
    with site:
        for crawl in range(3):
            site.add("/rss.xml", feed(crawl))
            result = ai4s("crawl", "--sources", str(sources), "--db", db_url, *FAST, timeout=240)
            assert result.returncode == 0, result.stderr[-3000:]
        requested = {path: sum(record.path.startswith(path) for record in site.log) for path in rotating}
        requested.update({path: len(site.requests_for(path)) for path in distinct})
    assert requested == dict.fromkeys(rotating + distinct, 1)
    assert len(stored(db_url)) == len(rotating) + len(distinct)


def test_a_link_that_redirects_to_a_stored_article_does_not_download_it_again(
    pages: list[CorpusPage], tmp_path: Path
) -> None:
    # the known-URL filter saw the links of the feed, never the redirects Scrapy made of them: a feed's redirector
    # with a new token at every poll, or a link whose cache buster the site redirects away, downloaded the stored
    # article again at every crawl
    site = LocalSite("redirecting", "127.0.0.73")
    site.add("/robots.txt", Reply(200, b"User-agent: *\nAllow: /\n", {"Content-Type": "text/plain"}))
    articles = ["/news/2026/12/redirected.html", "/news/2026/12/busted.html"]
    replies = [Reply(200, page.raw(), {"Content-Type": f"text/html; charset={page.encoding}"}) for page in pages[:2]]
    site.add(articles[0], replies[0])
    site.add_prefix("/~r/feed/", Reply(302, b"", {"Location": site.url(articles[0])}))
    site.add(  # the page, at its URL without a query; any query is sent there
        articles[1],
        lambda record: Reply(301, b"", {"Location": site.url(articles[1])}) if "?" in record.path else replies[1],
    )
    sources = tmp_path / "sources.toml"
    sources.write_text(f'[[source]]\nname = "redirecting"\nfeeds = ["{site.url("/rss.xml")}"]\n', encoding="utf-8")
    db_url = f"sqlite:///{tmp_path / 'corpus.sqlite3'}"
    with site:
        for crawl in range(3):
            links = [f"/~r/feed/~3/token{crawl}/redirected", f"{articles[1]}?n={crawl}"]
            items = "".join(f"<item><title>t</title><link>{site.url(link)}</link></item>" for link in links)
            feed = f"<rss><channel>{items}</channel></rss>".encode()
            site.add("/rss.xml", Reply(200, feed, {"Content-Type": "application/rss+xml"}))
            result = ai4s("crawl", "--sources", str(sources), "--db", db_url, *FAST, timeout=240)
            assert result.returncode == 0, result.stderr[-3000:]
        assert {path: len(site.requests_for(path)) for path in articles} == dict.fromkeys(articles, 1)
        assert len(site.requests_for("/rss.xml")) == 3
    assert stored(db_url) == {canonical_url(site.url(path)) for path in articles}
    with Database(db_url) as database, database.session() as session:
        article_id = session.execute(select(Article.id).where(Article.url.like("%/redirected.html"))).scalar_one()
        redirector = canonical_url(site.url("/~r/feed/~3/token2/redirected"))
        record = session.execute(
            select(FetchedUrl.outcome, FetchedUrl.article_id).where(FetchedUrl.canonical_url == redirector)
        ).one()
    assert tuple(record) == ("duplicate", article_id)  # the link is a duplicate of that article


def test_a_listing_link_that_redirects_to_a_stored_article_does_not_download_it_again(
    pages: list[CorpusPage], tmp_path: Path
) -> None:
    # an old URL (/old/1, 301) or a redirector (/r?u=...) on a listing looks like no article: it was requested as
    # a linked listing, whose redirects were followed whatever their target, and the stored article was downloaded
    # again at every crawl
    site = LocalSite("relinked", "127.0.0.74")
    site.add("/robots.txt", Reply(200, b"User-agent: *\nAllow: /\n", {"Content-Type": "text/plain"}))
    articles = ["/story/ai-science-story-1", "/story/ai-science-story-2"]
    for path, page in zip(articles, pages, strict=False):
        site.add(path, Reply(200, page.raw(), {"Content-Type": f"text/html; charset={page.encoding}"}))
    site.add("/old/1", Reply(301, b"", {"Location": articles[0]}))
    site.add("/r", lambda record: Reply(302, b"", {"Location": record.path.partition("u=")[2].replace("%2F", "/")}))
    spellings = [
        articles,
        ["/old/1", "/r?u=%2Fstory%2Fai-science-story-2"],
        ["/old/1", "/r?u=%2Fstory%2Fai-science-story-2"],
    ]
    sources = tmp_path / "sources.toml"
    sources.write_text(f'[[source]]\nname = "relinked"\nstart_urls = ["{site.url("/news/")}"]\n', encoding="utf-8")
    db_url = f"sqlite:///{tmp_path / 'corpus.sqlite3'}"
    with site:
        for crawl, links in enumerate(spellings):
            items = "".join(f'<li><a href="{html.escape(link)}">Story {n}</a></li>' for n, link in enumerate(links))
            site.add("/news/", html_reply(f"<html><body><h1>News {crawl}</h1><ul>{items}</ul></body></html>"))
            result = ai4s("crawl", "--sources", str(sources), "--db", db_url, *FAST, timeout=240)
            assert result.returncode == 0, result.stderr[-3000:]
        assert {path: len(site.requests_for(path)) for path in articles} == dict.fromkeys(articles, 1)
        assert len(site.requests_for("/old/1")) == 1  # recorded as the article's duplicate: not asked again
    assert stored(db_url) == {canonical_url(site.url(path)) for path in articles}
