"""One page of a source under several URLs (one article in several sections, a link that changes at every poll)
is one article, and its paragraphs never become its source's template: a block is template when several of the
source's stories hold it, not several copies of one story. Three such copies had made the story's own paragraphs
template, and the stored text was cut to a fragment."""

from __future__ import annotations

import html
import re
from pathlib import Path

import pytest
from sqlalchemy import select

from crawler.app.webserver import LocalSite, Reply
from storage import Database
from storage.models import Article, FetchedUrl
from tests.crawler.support import ai4s
from tests.localweb import CorpusPage, load_corpus

FAST = ["-s", "DOWNLOAD_DELAY=0", "-s", "AUTOTHROTTLE_ENABLED=False", "-s", "AI4S_RETRY_BACKOFF_BASE=0.2"]


def paragraphs(page: CorpusPage) -> list[str]:
    """The ground truth's paragraphs."""
    return [line.strip() for line in page.body.splitlines() if line.strip()]


def written_once(page: CorpusPage, paragraph: str) -> bytes | None:
    """``paragraph`` as the page's markup writes it, if it does so exactly once."""
    raw = page.raw()
    for written in dict.fromkeys((paragraph, html.escape(paragraph, quote=False))):
        encoded = written.encode(page.encoding)
        if raw.count(encoded) == 1:
            return encoded
    return None


def usable(page: CorpusPage) -> bool:
    """A complete English UTF-8 page."""
    english = page.source in ("zyte-aeb", "fundus") and page.language == "en" and page.encoding == "utf-8"
    return english and page.problem() is None


def editable(page: CorpusPage) -> bool:
    """A usable page of at least nine paragraphs whose first and last thirds are each written once in its markup."""
    found = paragraphs(page)
    third = len(found) // 3
    return len(found) >= 9 and all(written_once(page, p) for p in found[:third] + found[len(found) - third :])


def edited(page: CorpusPage, dropped: range = range(0), note: str = "") -> bytes:
    """The page without its paragraphs at ``dropped`` and with ``note`` as a paragraph before its first."""
    raw = page.raw()
    found = paragraphs(page)
    for index in dropped:
        written = written_once(page, found[index])
        assert written is not None
        raw = raw.replace(written, b"")
    if note:
        first = written_once(page, found[dropped.stop if dropped and dropped.start == 0 else 0])
        assert first is not None
        raw = raw.replace(first, f"{note}</p><p>".encode() + first, 1)
    return raw


@pytest.fixture
def pages(corpus_dir: Path) -> list[CorpusPage]:
    """A page to copy (editable), then seven other pages of the same source."""
    chosen = [page for page in sorted(load_corpus(corpus_dir), key=lambda p: (p.source, p.id)) if usable(page)]
    copied = [page for page in chosen if editable(page)]
    if not copied or len(chosen) < 30:
        pytest.skip("the test corpus has too few complete English pages, or none written paragraph by paragraph")
    return [copied[0], *[page for page in chosen[::4] if page != copied[0]][:7]]


def crawl(site: LocalSite, paths: list[str], tmp_path: Path) -> str:
    """Crawl the site's ``paths`` through a sitemap into a new database; its URL."""
    entries = "".join(f"<url><loc>{site.url(path)}</loc></url>" for path in paths)
    body = f'<urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">{entries}</urlset>'
    site.add("/sitemap.xml", Reply(200, body.encode(), {"Content-Type": "application/xml"}))
    site.add("/robots.txt", Reply(200, b"User-agent: *\nAllow: /\n", {"Content-Type": "text/plain"}))
    sources = tmp_path / "sources.toml"
    sources.write_text(
        f'[[source]]\nname = "{site.name}"\nsitemaps = ["{site.url("/sitemap.xml")}"]\n', encoding="utf-8"
    )
    db_url = f"sqlite:///{tmp_path / 'corpus.sqlite3'}"
    with site:
        result = ai4s("crawl", "--sources", str(sources), "--db", db_url, *FAST, timeout=240)
    assert result.returncode == 0, result.stderr[-3000:]
    return db_url


def serve(site: LocalSite, path: str, raw: bytes) -> str:
    """Serve ``raw`` (UTF-8 HTML) at ``path``."""
    site.add(path, Reply(200, raw, {"Content-Type": "text/html; charset=utf-8"}))
    return path


def kept(text: str, page: CorpusPage, wanted: range) -> float:
    """The share of the page's paragraphs at ``wanted`` that ``text`` holds."""
    found = paragraphs(page)
    squeezed = re.sub(r"\s+", " ", text)
    return sum(re.sub(r"\s+", " ", found[index]) in squeezed for index in wanted) / len(wanted)


def test_one_page_in_three_sections_is_one_article_that_keeps_its_text(pages: list[CorpusPage], tmp_path: Path) -> None:
    site = LocalSite("sections", "127.0.0.74")
    tripled, others = pages[0], pages[1:]
    # each section's copy says which section it is in, so that no two are the same text
    copies = [
        serve(site, f"/{section}/2026/12/story.html", edited(tripled, note=f"Filed under {section} news."))
        for section in ("science", "technology", "world")
    ]
    paths = copies + [serve(site, f"/science/2026/12/{n}.html", page.raw()) for n, page in enumerate(others)]
    db_url = crawl(site, paths, tmp_path)
    with Database(db_url) as database, database.session() as session:
        texts = session.execute(select(Article.text)).scalars().all()
        outcomes = session.execute(select(FetchedUrl.outcome).where(FetchedUrl.url.like("%/story.html"))).scalars()
        assert sorted(outcomes) == ["article", "duplicate", "duplicate"]
    assert len(texts) == len(pages)
    (story,) = [text for text in texts if kept(text, tripled, range(len(paragraphs(tripled)))) > 0.5]
    assert kept(story, tripled, range(len(paragraphs(tripled)))) >= 0.9


def test_one_page_stored_under_three_urls_keeps_its_text_in_each(pages: list[CorpusPage], tmp_path: Path) -> None:
    """The same page under URLs no rule makes one (a query the site adds: a search keyword, in two encodings) is
    stored three times, its text a little different each time: its lines, on three of the source's articles, were
    taken for template and cut from every copy. A copy of one of the source's own articles of the same title (in
    its story) is not counted for the template."""
    site = LocalSite("queries", "127.0.0.75")
    tripled, others = pages[0], pages[1:]
    copies = [
        serve(site, f"/show.asp?aid=4{query}", edited(tripled, note=f"Searched for {word}."))
        for query, word in (("&kw=%D0%C2", "new"), ("", "nothing"), ("&kw=%E6%96%B0", "news"))
    ]
    paths = copies + [serve(site, f"/show.asp?aid={10 + n}", page.raw()) for n, page in enumerate(others)]
    db_url = crawl(site, paths, tmp_path)
    with Database(db_url) as database, database.session() as session:
        texts = session.execute(select(Article.text)).scalars().all()
    every = range(len(paragraphs(tripled)))
    stored = [text for text in texts if kept(text, tripled, every) > 0.3]
    assert len(stored) == 3 and all(kept(text, tripled, every) == 1.0 for text in stored), [
        kept(text, tripled, every) for text in stored
    ]


@pytest.mark.parametrize("one_title", [False, True], ids=["titles of their own", "one title, ids in the query"])
def test_briefs_that_share_a_long_footer_are_all_stored_teach_it_as_template_and_stay_apart(
    pages: list[CorpusPage], tmp_path: Path, one_title: bool
) -> None:
    # five briefs, each a paragraph of its own over a footer at least three times as long, as a university's
    # portal publishes notices (content.jsp?wbnewsid=…, often all "关于举办学术讲座的通知", with no date): before the
    # footer is learned, their texts are all but alike. They had been taken for one page (lost for good) and, as
    # editions of one article, kept the footer from being learned (all in one story).
    site = LocalSite("briefs", "127.0.0.77")
    footer_source, *brief_sources = pages[:6]
    footer = paragraphs(footer_source)[:12]
    briefs = [min(paragraphs(page), key=lambda text: abs(len(text) - 200)) for page in brief_sources]
    assert sum(map(len, footer)) >= 3 * max(map(len, briefs))
    paths = []
    for number, (page, brief) in enumerate(zip(brief_sources, briefs, strict=True)):
        body = "".join(f"<p>{html.escape(text)}</p>" for text in [brief, *footer])
        title = "Announcement of an academic lecture" if one_title else html.escape(page.display_title())
        markup = f"<!doctype html><html><head><title>{title}</title></head><body><article><h1>{title}</h1>{body}"
        path = f"/content.jsp?urltype=news.NewsContentUrl&wbnewsid={7001 + number}"
        paths.append(serve(site, path, f"{markup}</article></body></html>".encode()))
    db_url = crawl(site, paths, tmp_path)
    with Database(db_url) as database, database.session() as session:
        rows = session.execute(select(Article.text, Article.story_id)).all()
    assert len(rows) == len(briefs), "a brief was taken for another and never stored"
    assert len({story for _, story in rows}) == len(briefs), "briefs merged into one story through their footer"
    assert sum(footer[-1] in text for text, _ in rows) <= 2, "the footer was not learned as the site's template"


def test_notices_of_one_title_and_form_published_on_other_days_are_all_stored(
    pages: list[CorpusPage], tmp_path: Path
) -> None:
    # a seminar's weekly announcement: the same title, the same paragraphs around another speaker, another day
    site = LocalSite("notices", "127.0.0.78")
    body = paragraphs(pages[1])[:10]
    paths = []
    for number, (day, speaker) in enumerate([("2026-11-20", "Dr. Li Wei"), ("2026-11-27", "Dr. Anna Berg")]):
        own = f"This week's speaker is {speaker}, in room {101 + number}."
        text = "".join(f"<p>{html.escape(line)}</p>" for line in [own, *body])
        head = f'<title>Seminar announcement</title><meta property="article:published_time" content="{day}T09:00:00Z">'
        markup = f"<!doctype html><html><head>{head}</head><body><article><h1>Seminar announcement</h1>{text}"
        paths.append(serve(site, f"/notices/{4711 + number}.html", f"{markup}</article></body></html>".encode()))
    paths += [serve(site, f"/news/2026/12/{n}.html", other.raw()) for n, other in enumerate(pages[2:5])]
    db_url = crawl(site, paths, tmp_path)
    with Database(db_url) as database, database.session() as session:
        titles = session.execute(select(Article.title)).scalars().all()
    assert titles.count("Seminar announcement") == 2
