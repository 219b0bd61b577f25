"""A page that names another page of its site as its own (``<link rel="canonical">``, ``og:url``) is that page's
article: a print edition and the article page it names are one article, whichever is fetched first, though their
texts differ by a paragraph. A template that names its home page, or one article, as every page's own merges
nothing: only a page whose text is a copy of the named article's is that article."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from sqlalchemy import select, update

from crawler.app.webserver import LocalSite, Reply
from crawler.text.urls import canonical_url
from storage import Database
from storage.models import Article, FetchedUrl
from storage.stories import story_copies
from tests.crawler.crawl.test_same_page import editable, edited, paragraphs, written_once
from tests.crawler.crawl.test_same_page import usable as complete_english
from tests.crawler.support import ai4s
from tests.localweb import CorpusPage, load_corpus

FAST = ["-s", "DOWNLOAD_DELAY=0", "-s", "AUTOTHROTTLE_ENABLED=False", "-s", "AI4S_RETRY_BACKOFF_BASE=0.2"]
_DECLARATIONS = re.compile(rb"<link[^>]+rel=[\"']?canonical[^>]*>|<meta[^>]+property=[\"']?og:url[^>]*>", re.IGNORECASE)


def without_last_paragraph(page: CorpusPage) -> bytes | None:
    """The page's bytes without its text's last paragraph (as a print edition leaves out a closing note), or
    ``None`` where that paragraph is not written once in the markup as it is."""
    written = written_once(page, paragraphs(page)[-1])
    return page.raw().replace(written, b"") if written else None


def usable(page: CorpusPage) -> bool:
    """A complete English UTF-8 page of at least eight paragraphs whose last is a small part of its text and
    written in its markup as it is."""
    if page.source not in ("zyte-aeb", "fundus") or page.language != "en" or page.encoding != "utf-8":
        return False
    if page.problem() is not None or len(paragraphs(page)) < 8:
        return False
    return len(paragraphs(page)[-1]) < 0.08 * len(page.body) and without_last_paragraph(page) is not None


def declaring(raw: bytes, named: str | None) -> bytes:
    """``raw`` with its own declarations of its URL replaced by a canonical link to ``named``."""
    raw = _DECLARATIONS.sub(b"", raw)
    if named is None:
        return raw
    link = f'<link rel="canonical" href="{named}">'.encode()
    return re.sub(rb"(<head[^>]*>)", lambda m: m.group(1) + link, raw, count=1, flags=re.IGNORECASE)


@pytest.fixture
def pages(corpus_dir: Path) -> list[CorpusPage]:
    chosen = [page for page in sorted(load_corpus(corpus_dir), key=lambda p: (p.source, p.id)) if usable(page)]
    if len(chosen) < 14:
        pytest.skip("the test corpus has too few long complete English pages to make print editions of")
    return chosen[::3][:14]


def serve(site: LocalSite, path: str, raw: bytes) -> str:
    """Serve ``raw`` (UTF-8 HTML) at ``path``; its URL."""
    return site.add(path, Reply(200, raw, {"Content-Type": "text/html; charset=utf-8"}))


def sitemap(site: LocalSite, urls: list[str]) -> None:
    """Make ``urls`` the site's sitemap."""
    entries = "".join(f"<url><loc>{url}</loc></url>" for url in urls)
    body = f'<urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">{entries}</urlset>'
    site.add("/sitemap.xml", Reply(200, body.encode(), {"Content-Type": "application/xml"}))


def article_of(session: object, url: str) -> int | None:
    """The article id the fetch of ``url`` found."""
    return session.execute(  # type: ignore[attr-defined]
        select(FetchedUrl.article_id).where(FetchedUrl.canonical_url == canonical_url(url))
    ).scalar_one()


def test_a_page_naming_another_of_its_site_as_its_own_is_that_article(pages: list[CorpusPage], tmp_path: Path) -> None:
    site = LocalSite("declared", "127.0.0.71")
    site.add("/robots.txt", Reply(200, b"User-agent: *\nAllow: /\n", {"Content-Type": "text/plain"}))
    articles, prints, others = [], [], []
    for number, page in enumerate(pages[:6]):
        article = site.url(f"/news/2026/{number}.html")
        articles.append(serve(site, f"/news/2026/{number}.html", declaring(page.raw(), article)))
        shorter = without_last_paragraph(page)
        assert shorter is not None
        # the print edition names the article page, relatively, and lacks the article's closing paragraph
        named = f"/news/2026/{number}.html" if number != 1 else article.replace("http://", "https://")  # spelled so
        prints.append(serve(site, f"/print/{number}.html", declaring(shorter, named)))
    first_named = site.url("/news/2026/6.html")
    for number, page in enumerate(pages[6:], start=6):
        # a template that names the home page, a listing or its first article as every page's own
        named = site.url("/") if number < 9 else site.url("/list.html") if number < 11 else first_named
        others.append(serve(site, f"/news/2026/{number}.html", declaring(page.raw(), named)))
    sources = tmp_path / "sources.toml"
    sources.write_text(f'[[source]]\nname = "declared"\nsitemaps = ["{site.url("/sitemap.xml")}"]\n', encoding="utf-8")
    db_url = f"sqlite:///{tmp_path / 'corpus.sqlite3'}"
    crawl = ("crawl", "--sources", str(sources), "--db", db_url, *FAST)
    with site:
        # first the article pages of three and the print editions of the other three; then everything
        sitemap(site, articles[:3] + prints[3:] + others)
        result = ai4s(*crawl, timeout=240)
        assert result.returncode == 0, result.stderr[-3000:]
        sitemap(site, articles + prints + others)
        result = ai4s(*crawl, timeout=240)
        assert result.returncode == 0, result.stderr[-3000:]
        assert all(len(site.requests_for(urlpath)) == 1 for urlpath in ("/print/0.html", "/news/2026/5.html"))

    with Database(db_url) as database, database.session() as session:
        stored = dict(session.execute(select(Article.canonical_url, Article.id)).all())
        for number, (article, printed) in enumerate(zip(articles, prints, strict=True)):
            # one article, known by the article page's URL even where the print edition came first
            assert canonical_url(article) in stored, f"page {number}: not under the article page's URL"
            assert canonical_url(printed) not in stored, f"page {number}: both editions stored"
            assert article_of(session, printed) == article_of(session, article) == stored[canonical_url(article)]
        # the home page and the one article named by every page merged no page: all eight are stored
        assert {canonical_url(url) for url in others} <= set(stored)
        assert len(stored) == 6 + len(others)
        story_ids = session.execute(select(Article.story_id)).scalars().all()
        copies = story_copies(session, story_ids)
        # a print edition is no other outlet's copy of the story
        assert all(len(copies[story_id]) == 1 for story_id in story_ids)
        declared = dict(session.execute(select(Article.id, Article.declared_hash)).all())
        session.execute(update(Article).values(declared_hash=None))  # as a database before migration 0016 holds them
        session.commit()
    # 'ai4s reprocess' gives the articles of such a database the names their kept pages give
    result = ai4s("reprocess", "--db", db_url, timeout=240)
    assert result.returncode == 0, result.stderr[-3000:]
    with Database(db_url) as database, database.session() as session:
        again = dict(session.execute(select(Article.id, Article.declared_hash)).all())
    assert any(declared.values())
    assert all(again[article_id] == name for article_id, name in declared.items() if name)


def test_a_longer_page_naming_a_shorter_one_keeps_its_own_text(corpus_dir: Path, tmp_path: Path) -> None:
    # a follow-up (or a full edition) that names an earlier, shorter page as its own holds more than that page:
    # it was taken for it (the copy test of stories: the shorter text contained in the longer) and its text lost
    ordered = sorted(load_corpus(corpus_dir), key=lambda p: (p.source, p.id))
    chosen = [page for page in ordered if complete_english(page) and editable(page)]
    if not chosen:
        pytest.skip("the test corpus has no complete English page written paragraph by paragraph")
    page = chosen[0]
    count = len(paragraphs(page))
    site = LocalSite("longer", "127.0.0.76")
    site.add("/robots.txt", Reply(200, b"User-agent: *\nAllow: /\n", {"Content-Type": "text/plain"}))
    first = serve(site, "/news/2026/first.html", declaring(edited(page, range(count - count // 3, count)), None))
    later = serve(site, "/news/2026/later.html", declaring(page.raw(), first))
    sources = tmp_path / "sources.toml"
    sources.write_text(f'[[source]]\nname = "longer"\nsitemaps = ["{site.url("/sitemap.xml")}"]\n', encoding="utf-8")
    db_url = f"sqlite:///{tmp_path / 'corpus.sqlite3'}"
    with site:
        for urls in ([first], [first, later]):
            sitemap(site, urls)
            result = ai4s("crawl", "--sources", str(sources), "--db", db_url, *FAST, timeout=240)
            assert result.returncode == 0, result.stderr[-3000:]
    with Database(db_url) as database, database.session() as session:
        stored = set(session.execute(select(Article.canonical_url)).scalars())
    assert stored == {canonical_url(first), canonical_url(later)}
