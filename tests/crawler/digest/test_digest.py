"""``ai4s digest`` on a corpus made by a real crawl of the demo news web (the seed stories, one of
them reposted by a second outlet in traditional script): one entry per story with all its
outlets, the period respected, every format readable (the HTML in a real headless Chromium,
the Atom by feedparser), hostile titles and links inert everywhere, mail delivered to a local
SMTP server, and ``--since-last`` neither missing nor repeating a story."""

from __future__ import annotations

import json
import os
import re
import shutil
import socket
import subprocess
import tempfile
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from email import message_from_bytes
from email.message import Message
from pathlib import Path

import feedparser
import lxml.html
import pytest
from lxml import etree
from markdown_it import MarkdownIt
from sqlalchemy import select, update

from crawler.app.demo import DemoWeb
from crawler.app.webserver import LocalSite, Reply
from crawler.digest.render import CHART_COLOURS
from storage import Database, NewArticle
from storage.models import Article, CrawlRun, Story
from storage.repository import store_article
from storage.stories import recent_stories, start_story
from tests.crawler.digest.devtools import RenderedText, families_covering, rendered_fonts
from tests.crawler.support import ai4s, ai4s_in_process

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
SUMMIT = "向着新一轮科学革命制高点攀登"  # the Xinhua story the demo portal reposts
HOSTILE_TITLE = (
    '<script>alert("t")</script> [click me](javascript:alert(1)) <img src=x onerror=alert(2)> **AI for Science**'
)


@pytest.fixture(scope="module")
def crawled(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A SQLite corpus made by crawling the demo web once; yields its URL."""
    tmp = tmp_path_factory.mktemp("digest")
    db_url = f"sqlite:///{tmp / 'corpus.sqlite3'}"
    with DemoWeb() as web:
        sources = tmp / "sources.toml"
        sources.write_text(web.sources_toml(), encoding="utf-8")
        result = ai4s("crawl", "--sources", str(sources), "--db", db_url, "-s", "DOWNLOAD_DELAY=0.05")
        assert result.returncode == 0, result.stderr[-3000:]
    yield db_url


@pytest.fixture
def corpus(crawled: str, tmp_path: Path) -> str:
    """A private copy of the crawled corpus (a test may add to it), as if crawled five minutes ago
    (a --since-last digest leaves the last minute to the next digest)."""
    copy = tmp_path / "corpus.sqlite3"
    with Database(crawled) as database, database.engine.connect() as connection:
        connection.exec_driver_sql(f"VACUUM INTO '{copy}'")
    with Database(f"sqlite:///{copy}") as database, database.session() as session, session.begin():
        for model in (Article, Story):
            for row_id, seen in session.execute(select(model.id, model.first_seen)).all():
                session.execute(update(model).where(model.id == row_id).values(first_seen=seen - timedelta(minutes=5)))
    return f"sqlite:///{copy}"


def digest_json(db_url: str, *args: str) -> dict:
    result = ai4s_in_process("digest", "--db", db_url, "--format", "json", *args)
    assert result.returncode == 0, result.stderr[-3000:]
    return json.loads(result.stdout)


def add_hostile_story(db_url: str) -> None:
    """An on-topic article whose title, site name and URL carry script, a javascript: link and Markdown."""
    text = (
        "Researchers used machine learning to discover new battery materials in an AI for Science programme. "
        "<script>alert('body')</script> [read more](javascript:alert(3)) The team trained graph neural networks "
        "on simulation data and tested the predictions in the laboratory, cutting screening time from months to days."
    )
    with Database(db_url) as database, database.session() as session, session.begin():
        stored = store_article(
            session,
            NewArticle(
                source="hostile",
                url="javascript:alert(4)//http://evil.example/a.html",
                canonical_url="javascript:alert(4)//http://evil.example/a.html",
                title=HOSTILE_TITLE,
                text=text,
                site_name='Evil <b onmouseover="alert(5)">Times</b>',
                relevance=0.99,
                relevant=True,
                evidence=json.dumps([{"term": "<script>x</script>", "facet": "core", "count": 1, "where": ["title"]}]),
            ),
        )
        start_story(session, stored.article_id)


# -- content ---------------------------------------------------------------------------------
def test_each_new_story_appears_once_with_all_its_outlets(crawled: str) -> None:
    digest = digest_json(crawled, "--since", "24h")
    headlines = [s["headline"] for s in digest["stories"]]
    assert digest["counts"]["stories"] == len(headlines) == 5  # the five seed stories; ordinary news is off-topic
    assert len(set(s["story_id"] for s in digest["stories"])) == 5
    (summit,) = [s for s in digest["stories"] if SUMMIT in s["headline"]]
    assert summit["source"] == "demo-xinhua"  # the original the repost credits is the representative
    assert [o["source"] for o in summit["also_reported_by"]] == ["demo-portal"]
    assert summit["copies"] == 2 and summit["url"].startswith("http://127.0.0.1:")
    assert all(s["excerpt"] and s["terms"] and s["url"].startswith("http") for s in digest["stories"])
    assert digest["counts"]["articles"] == 6 and digest["counts"]["outlets"] == 3
    assert digest["health"]["runs"] == 1 and digest["health"]["runs_by_status"] == {"ok": 1}
    relevance = [s["relevance"] for s in digest["stories"]]
    assert [round(r, 1) for r in relevance] == sorted((round(r, 1) for r in relevance), reverse=True)


def test_outlets_that_carry_a_story_word_for_word_are_its_copies_too(tmp_path: Path) -> None:
    # Two mirrors serve the Xinhua page's very bytes: whichever copy is stored first, the others are exact
    # duplicates, never stored again; the story still names every outlet that carried it.
    db_url = f"sqlite:///{tmp_path / 'corpus.sqlite3'}"
    with DemoWeb() as web:
        (summit,) = [a for a in web.articles if SUMMIT in a.title and a.site == "demo-xinhua"]
        page = web.sites["demo-xinhua"].routes[summit.path]
        mirrors = [LocalSite(name, host) for name, host in (("mirror-a", "127.0.0.62"), ("mirror-b", "127.0.0.63"))]
        blocks = [web.sources_toml()]
        for number, mirror in enumerate(mirrors):
            url = mirror.add(f"/world/{number}/wire-{number}.html", page)
            sitemap = (
                f'<urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9"><url><loc>{url}</loc></url></urlset>'
            )
            feed = mirror.add("/sitemap.xml", Reply(200, sitemap.encode(), {"Content-Type": "application/xml"}))
            blocks.append(f'[[source]]\nname = "{mirror.name}"\nlanguage = "zh"\nsitemaps = ["{feed}"]\n')
        sources = tmp_path / "sources.toml"
        sources.write_text("\n".join(blocks), encoding="utf-8")
        with mirrors[0], mirrors[1]:
            result = ai4s("crawl", "--sources", str(sources), "--db", db_url, "-s", "DOWNLOAD_DELAY=0.05")
        assert result.returncode == 0, result.stderr[-3000:]
    (story,) = [s for s in digest_json(db_url, "--since", "24h")["stories"] if SUMMIT in s["headline"]]
    outlets = [story["source"], *[o["source"] for o in story["also_reported_by"]]]
    assert sorted(outlets) == ["demo-portal", "demo-xinhua", "mirror-a", "mirror-b"]
    assert story["copies"] == 4
    with Database(db_url) as database, database.session() as session:
        (found,) = [s for s in recent_stories(session) if any(SUMMIT in (c.title or "") for c in s.copies)]
    assert sorted(found.outlets) == sorted(outlets)  # as 'ai4s stories' and 'ai4s search' show it


def test_an_outlet_with_several_copies_of_a_story_is_named_once_with_its_count(corpus: str, tmp_path: Path) -> None:
    with Database(corpus) as database, database.session() as session, session.begin():
        portal = session.execute(select(Article).where(Article.url.like("%/news/2023-08-11/%"))).scalar_one()
        for number in (2, 3):  # the portal posts the story twice more, under other URLs
            stored = store_article(
                session,
                NewArticle(
                    source="demo-portal",
                    url=f"{portal.url}?copy={number}",
                    canonical_url=f"{portal.canonical_url}?copy={number}",
                    title=portal.title,
                    text=f"{portal.text}\n（第{number}次转载）",
                    site_name=portal.site_name,
                    relevance=portal.relevance,
                    relevant=True,
                ),
            )
            session.execute(update(Article).where(Article.id == stored.article_id).values(story_id=portal.story_id))
    (summit,) = [s for s in digest_json(corpus, "--since", "24h")["stories"] if SUMMIT in s["headline"]]
    assert summit["copies"] == 4
    (portal_outlet,) = summit["also_reported_by"]
    assert portal_outlet["source"] == "demo-portal" and portal_outlet["copies"] == 3
    page = tmp_path / "digest.html"
    result = ai4s_in_process("digest", "--db", corpus, "--since", "24h", "--format", "html", "--out", str(page))
    assert result.returncode == 0, result.stderr[-2000:]
    also = [p.text_content() for p in lxml.html.parse(str(page)).getroot().find_class("also")]
    assert any(text.count(portal_outlet["outlet"]) == 1 and "(3)" in text for text in also), also


def test_two_outlets_of_one_site_name_are_named_apart(corpus: str) -> None:
    # Two universities' news sites both call themselves "News Center" and both repost the story.
    with Database(corpus) as database, database.session() as session, session.begin():
        portal = session.execute(select(Article).where(Article.url.like("%/news/2023-08-11/%"))).scalar_one()
        for source in ("uni-north", "uni-south"):
            stored = store_article(
                session,
                NewArticle(
                    source=source,
                    url=f"http://news.{source}.example/a/1.html",
                    canonical_url=f"http://news.{source}.example/a/1.html",
                    title=portal.title,
                    text=f"{portal.text}\n（来源：{source}）",
                    site_name="News Center",
                    relevance=portal.relevance,
                    relevant=True,
                ),
            )
            session.execute(update(Article).where(Article.id == stored.article_id).values(story_id=portal.story_id))
    digest = digest_json(corpus, "--since", "24h")
    (summit,) = [s for s in digest["stories"] if SUMMIT in s["headline"]]
    others = {o["source"]: o for o in summit["also_reported_by"]}
    assert {"uni-north", "uni-south"} <= set(others)
    names = [others["uni-north"]["outlet"], others["uni-south"]["outlet"]]
    assert len(set(names)) == 2 and all("News Center" in name for name in names), names
    assert all(others[source]["url"].startswith(f"http://news.{source}.") for source in ("uni-north", "uni-south"))
    active = {o["outlet"] for o in digest["active_outlets"]}
    assert set(names) <= active


def test_nothing_from_before_the_period_and_grown_stories_are_marked(corpus: str) -> None:
    week_ago = datetime.now(UTC) - timedelta(days=7)
    with Database(corpus) as database, database.session() as session, session.begin():
        # everything was seen a week ago, except the portal's repost of the summit story
        session.execute(update(Article).where(~Article.url.like("%/news/2023-08-11/%")).values(first_seen=week_ago))
        session.execute(update(Story).values(first_seen=week_ago))
    recent = digest_json(corpus, "--since", "24h")
    assert [s["headline"] for s in recent["stories"]] == [
        s["headline"] for s in recent["stories"] if SUMMIT in s["headline"]
    ]
    (summit,) = recent["stories"]
    assert summit["grew"] and summit["new_copies"] == 1 and recent["counts"]["grown_stories"] == 1
    assert len(digest_json(corpus, "--since", "8d")["stories"]) == 5
    assert digest_json(corpus, "--since", "8d", "--lang", "en")["counts"]["stories"] == 1  # the SJTU forum story
    assert {s["source"] for s in digest_json(corpus, "--since", "8d", "--source", "demo-sjtu")["stories"]} == {
        "demo-sjtu"
    }


def test_since_last_twice_gives_an_empty_second_digest_and_replay_is_identical(corpus: str, tmp_path: Path) -> None:
    first = ai4s_in_process(
        "digest",
        "--db",
        corpus,
        "--since-last",
        "--name",
        "weekly",
        "--format",
        "html",
        "--out",
        str(tmp_path / "1.html"),
    )
    assert first.returncode == 0, first.stderr
    database_line, delivered = first.stderr.splitlines()[:2]
    assert database_line == f"database: {corpus}"
    run_id = delivered.split()[1]
    second = digest_json(corpus, "--since-last", "--name", "weekly")
    assert second["counts"]["stories"] == 0 and second["stories"] == []
    assert (
        second["period"]["since"]
        == json.loads(ai4s_in_process("digest", "--db", corpus, "--replay", run_id, "--format", "json").stdout)[
            "period"
        ]["until"]
    )  # the second starts exactly where the first ended
    other = digest_json(corpus, "--since-last", "--name", "daily")  # another name keeps its own mark
    assert other["counts"]["stories"] == 5
    again = ai4s_in_process("digest", "--db", corpus, "--replay", run_id, "--format", "html")
    assert again.returncode == 0 and again.stdout == (tmp_path / "1.html").read_text(encoding="utf-8")


# -- formats -----------------------------------------------------------------------------------
def test_atom_parses_back_with_feedparser_with_one_entry_per_story(crawled: str) -> None:
    digest = digest_json(crawled)
    atom = ai4s_in_process("digest", "--db", crawled, "--format", "atom").stdout
    feed = feedparser.parse(atom)
    assert not feed.bozo, feed.get("bozo_exception")
    assert [e.title for e in feed.entries] == [s["headline"] for s in digest["stories"]]
    assert [e.link for e in feed.entries] == [s["url"] for s in digest["stories"]]
    summit = next(e for e in feed.entries if SUMMIT in e.title)
    assert any(link.rel == "related" and "127.0.0.2" in link.href for link in summit.links)
    assert all(e.id.startswith("tag:ai4s-monitor") and e.summary for e in feed.entries)


def test_markdown_renders_each_story_with_its_links(crawled: str) -> None:
    markdown = ai4s_in_process("digest", "--db", crawled, "--format", "md").stdout
    html = MarkdownIt("commonmark").render(markdown)
    page = lxml.html.fromstring(html)
    headings = [h.text_content() for h in page.iter("h3")]  # stories, under their sections' h2
    assert len(headings) == 5 and any(SUMMIT in h for h in headings)
    links = [a.get("href", "") for a in page.iter("a")]
    # 5 stories + 1 repost (the top stories link to stories again)
    assert len(set(links)) == 6 and all(href.startswith("http://127.0.0.") for href in links)


def _chromium(*args: str, timeout: float = 60) -> subprocess.CompletedProcess[str]:
    profile = tempfile.mkdtemp(prefix="ai4s-chromium-")
    try:
        return subprocess.run(
            [
                CHROMIUM or "chromium", "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic",
                "--no-first-run", "--disable-background-networking", "--disable-component-update", "--disable-sync",
                "--hide-scrollbars", f"--user-data-dir={profile}", *args,
            ],
            capture_output=True, text=True, timeout=timeout, check=False,
        )  # fmt: skip
    finally:
        shutil.rmtree(profile, ignore_errors=True)


@pytest.fixture
def chromium() -> None:
    if CHROMIUM is None:
        if os.environ.get("CI"):
            pytest.fail("chromium is not installed: .ci/run must install Debian's chromium for the digest tests")
        pytest.skip("no chromium on this machine (apt-get install chromium; .ci/run does)")


@pytest.mark.usefixtures("chromium")
def test_the_html_digest_renders_in_a_real_browser_on_a_phone_screen(crawled: str, tmp_path: Path) -> None:
    from PIL import Image

    digest = digest_json(crawled)
    page = tmp_path / "digest.html"
    assert ai4s_in_process("digest", "--db", crawled, "--format", "html", "--out", str(page)).returncode == 0
    shot = tmp_path / "shot.png"
    done = _chromium(f"--screenshot={shot}", "--window-size=412,1400", page.as_uri())
    assert shot.exists(), done.stderr[-2000:]
    image = Image.open(shot).convert("L")
    inked = sum(image.histogram()[:160]) / (image.width * image.height)
    assert image.size == (412, 1400) and inked > 0.01  # text, not a blank page
    # the chart is drawn, at a phone's width and at a desktop's: its bars' colours are on the screen
    bar_colours = {tuple(int(c[i : i + 2], 16) for i in (1, 3, 5)) for c in CHART_COLOURS}
    for width in (412, 1280):
        wide = tmp_path / f"shot-{width}.png"
        _chromium(f"--screenshot={wide}", f"--window-size={width},1400", page.as_uri())
        pixels = Image.open(wide).convert("RGB")
        colours = {colour for _, colour in pixels.getcolors(maxcolors=1 << 20) or []}
        assert colours & bar_colours, f"no chart bar at width {width}"
    dom = _chromium("--dump-dom", page.as_uri())
    live = lxml.html.fromstring(dom.stdout)
    assert live.xpath("//*[local-name()='svg']//*[local-name()='rect']")  # the chart, as the browser built it
    text = live.text_content()
    for story in digest["stories"]:
        assert story["headline"] in text
    # self-contained: nothing is loaded from anywhere (no src, no stylesheet link)
    source = page.read_text(encoding="utf-8")
    assert "src=" not in source and "<link" not in source and "@import" not in source


#: Chinese characters (CJK unified ideographs, their extension A and the compatibility ones).
CJK = re.compile(r"[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff]")


def drawn_as_glyphs(rendered: RenderedText) -> bool:
    """Whether every Chinese character of an element was drawn by a font that has a glyph for it (not as the
    empty box, .notdef, of a font without Chinese, which is what a browser draws when no font has it)."""
    chinese = "".join(CJK.findall(rendered.text))
    covering = families_covering(chinese)
    return sum(glyphs for family, glyphs in rendered.fonts if family in covering) >= len(chinese)


def fonts_without_chinese(directory: Path) -> dict[str, str]:
    """An environment whose fontconfig knows one font only, one without Chinese: a machine without CJK fonts."""
    chinese_files = set(subprocess.run(["fc-list", ":charset=4e2d", "file"], capture_output=True, text=True,
                                       check=True).stdout.split())  # fmt: skip
    latin_files = subprocess.run(["fc-list", ":lang=en", "file"], capture_output=True, text=True, check=True)
    candidates = sorted(name.rstrip(":") for name in latin_files.stdout.split() if name not in chinese_files)
    assert candidates, "fontconfig lists no font without Chinese to stand for a machine without CJK fonts"
    (directory / "fonts").mkdir()
    only = Path(candidates[0].rstrip(":"))
    (directory / "fonts" / only.name).symlink_to(only)
    config = directory / "fonts.conf"
    config.write_text(
        f'<?xml version="1.0"?>\n<fontconfig><dir>{directory / "fonts"}</dir>'
        f"<cachedir>{directory / 'fc-cache'}</cachedir></fontconfig>\n",
        encoding="utf-8",
    )
    return dict(os.environ, FONTCONFIG_FILE=str(config))


@pytest.mark.usefixtures("chromium")
def test_chinese_headlines_are_drawn_as_glyphs_not_empty_boxes(crawled: str, tmp_path: Path) -> None:
    page = tmp_path / "digest.html"
    assert ai4s_in_process("digest", "--db", crawled, "--format", "html", "--out", str(page)).returncode == 0
    assert CHROMIUM is not None
    headlines = "article h2 a, article h3 a"
    chinese = [found for found in rendered_fonts(CHROMIUM, page.as_uri(), headlines) if CJK.search(found.text)]
    assert any(SUMMIT in found.text for found in chinese)
    for found in chinese:
        assert drawn_as_glyphs(found), f"{found.text!r} drawn with {found.fonts}"
    # The same check in a browser on a machine without a CJK font fails: its Chinese is drawn as boxes by the
    # one font it has, which has no glyph for it.
    blind = rendered_fonts(CHROMIUM, page.as_uri(), headlines, env=fonts_without_chinese(tmp_path))
    summit = next(found for found in blind if SUMMIT in found.text)
    assert summit.fonts and not drawn_as_glyphs(summit), summit.fonts


# -- untrusted content ---------------------------------------------------------------------
@pytest.mark.usefixtures("chromium")
def test_hostile_titles_and_links_come_out_inert_in_every_format(corpus: str, tmp_path: Path) -> None:
    add_hostile_story(corpus)
    data = digest_json(corpus)
    hostile = next(s for s in data["stories"] if s["source"] == "hostile")
    assert hostile["url"] is None  # a javascript: URL is never given as a link
    assert "<script>" in hostile["headline"]  # JSON keeps the data as data...
    raw_json = ai4s_in_process("digest", "--db", corpus, "--format", "json").stdout
    # ...escaped so it stays inert even if pasted into a page; the javascript: URL is not there at all
    assert "<script" not in raw_json and "\\u003cscript" in raw_json and "alert(4)" not in raw_json

    html = ai4s_in_process("digest", "--db", corpus, "--format", "html").stdout
    page = lxml.html.fromstring(html)
    assert not page.xpath("//script") and not page.xpath("//img") and not page.xpath("//b")
    assert not [a for element in page.iter() for a in element.attrib if a.lower().startswith("on")]
    assert all(a.get("href", "").startswith("http") for a in page.iter("a"))
    assert "Content-Security-Policy" in html and "default-src 'none'" in html
    assert HOSTILE_TITLE in page.text_content()  # shown as text, as written
    (tmp_path / "h.html").write_text(html, encoding="utf-8")
    dom = _chromium("--dump-dom", (tmp_path / "h.html").as_uri()).stdout
    live = lxml.html.fromstring(dom)  # the page as the browser built it
    assert not live.xpath("//script | //img | //iframe | //object")
    assert not [a for element in live.iter() for a in element.attrib if a.lower().startswith("on")]
    assert HOSTILE_TITLE in live.text_content()

    markdown = ai4s_in_process("digest", "--db", corpus, "--format", "md").stdout
    rendered = lxml.html.fromstring(MarkdownIt("commonmark", {"html": True}).render(markdown))
    assert not rendered.xpath("//script") and not rendered.xpath("//img")
    assert all(a.get("href", "").startswith("http") for a in rendered.iter("a"))
    assert not any("click me" in a.text_content() for a in rendered.iter("a"))  # the injected link is text
    assert "javascript:alert(1)" in rendered.text_content()

    atom = ai4s_in_process("digest", "--db", corpus, "--format", "atom").stdout
    # the raw XML (feedparser below sanitises by itself, so it cannot be the only check)
    ns = {"a": "http://www.w3.org/2005/Atom"}
    root = etree.fromstring(atom.encode("utf-8"))
    assert all(href.startswith("http") for href in root.xpath("//a:link/@href", namespaces=ns))
    assert HOSTILE_TITLE in root.xpath("//a:entry/a:title/text()", namespaces=ns)
    for content in root.xpath("//a:entry/a:content/text()", namespaces=ns):
        fragment = lxml.html.fromstring(content)
        assert not fragment.xpath("//script | //img") and all(
            a.get("href", "").startswith("http") for a in fragment.iter("a")
        )
        assert not [a for element in fragment.iter() for a in element.attrib if a.lower().startswith("on")]
    feed = feedparser.parse(atom)
    assert not feed.bozo
    entry = next(e for e in feed.entries if "click me" in e.title)
    assert entry.title == HOSTILE_TITLE and not [link for link in entry.get("links", []) if "javascript" in link.href]
    content = lxml.html.fromstring(entry.content[0].value)
    assert not content.xpath("//script") and all(a.get("href", "").startswith("http") for a in content.iter("a"))
    assert "<script" not in atom.split("<content", 1)[0]  # outside content, escaped too


# -- delivery -----------------------------------------------------------------------------------
class _Inbox:
    def __init__(self) -> None:
        self.messages: list[tuple[str, list[str], Message]] = []

    async def handle_DATA(self, server: object, session: object, envelope: object) -> str:  # noqa: N802
        self.messages.append(
            (envelope.mail_from, list(envelope.rcpt_tos), message_from_bytes(envelope.original_content))  # type: ignore[attr-defined]
        )
        return "250 OK"


def test_the_digest_is_mailed_through_smtp_and_the_password_is_never_shown(crawled: str, tmp_path: Path) -> None:
    from aiosmtpd.controller import Controller
    from aiosmtpd.smtp import AuthResult, LoginPassword

    logins: list[tuple[bytes, bytes]] = []

    def authenticate(server: object, session: object, envelope: object, mechanism: str, data: object) -> AuthResult:
        if not isinstance(data, LoginPassword):
            return AuthResult(success=False, handled=False)
        logins.append((data.login, data.password))
        return AuthResult(success=data.password == b"s3cret-pass", handled=False)

    inbox = _Inbox()
    with socket.socket() as probe:  # aiosmtpd needs a port number before it binds
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    controller = Controller(
        inbox,
        hostname="127.0.0.1",
        port=port,
        authenticator=authenticate,
        auth_require_tls=False,
        auth_exclude_mechanism=["CRAM-MD5"],
    )
    controller.start()
    try:
        env = {
            "AI4S_SMTP_HOST": "127.0.0.1",
            "AI4S_SMTP_PORT": str(port),
            "AI4S_SMTP_USER": "digest-bot",
            "AI4S_SMTP_PASSWORD": "s3cret-pass",
            "AI4S_SMTP_STARTTLS": "0",
            "AI4S_SMTP_FROM": "digest@ai4s.example",
        }
        mail = ["digest", "--db", crawled, "--mail", "reader@ai4s.example"]
        result = ai4s_in_process(*mail, "--out", str(tmp_path / "mailed.md"), env=env)
        wrong = ai4s_in_process(*mail, env={**env, "AI4S_SMTP_PASSWORD": "wrong-pass"})
    finally:
        controller.stop()
    assert result.returncode == 0, result.stderr[-2000:]
    assert logins[0] == (b"digest-bot", b"s3cret-pass")
    ((sender, recipients, message),) = inbox.messages
    assert sender == "digest@ai4s.example" and recipients == ["reader@ai4s.example"]
    assert message["Subject"].startswith("AI for Science digest: 5 stories")
    parts = {
        part.get_content_type(): part.get_payload(decode=True).decode("utf-8")
        for part in message.walk()
        if not part.is_multipart()
    }
    assert set(parts) == {"text/plain", "text/html"} and SUMMIT in parts["text/html"] and SUMMIT in parts["text/plain"]
    assert wrong.returncode == 1 and "refused the login of 'digest-bot'" in wrong.stderr
    for output in (result.stdout, result.stderr, wrong.stdout, wrong.stderr):
        assert "s3cret-pass" not in output and "wrong-pass" not in output


def test_the_daemon_writes_a_digest_at_its_schedule_and_never_sends_a_story_twice(tmp_path: Path) -> None:
    from tests.crawler.schedule.daemons import DaemonProcess, wait_until

    db_url = f"sqlite:///{tmp_path / 'corpus.sqlite3'}"
    digests = tmp_path / "digests"
    with DemoWeb() as web:
        sources = tmp_path / "sources.toml"
        sources.write_text(web.sources_toml(), encoding="utf-8")
        # a digest leaves its last 2 seconds to the next: a story stored by a crawl still in flight (its
        # first_seen before the digest's end, its commit after the digest read) is not lost between the two
        daemon = DaemonProcess(
            tmp_path, sources, db_url, "--digest-every", "4s", "--digest-dir", str(digests), "--digest-settle", "2"
        )
        try:

            def delivered() -> list[dict]:
                return [json.loads(p.read_text(encoding="utf-8")) for p in sorted(digests.glob("digest-daemon-*.json"))]

            def crawled_all() -> bool:
                with Database(db_url) as database, database.session() as session:
                    statuses = list(session.execute(select(CrawlRun.status)).scalars())
                return statuses.count("ok") >= 3  # each of the three demo sources once

            wait_until(crawled_all, 150, "a crawl of each of the three demo sources", daemon)
            count = len(delivered())
            wait_until(lambda: len(delivered()) >= count + 2, 30, "two more digests", daemon)
            assert daemon.terminate()[0] == 0
        finally:
            daemon.ensure_stopped()
    # every seed story is sent once as new; it comes again only marked as grown, with its new copies
    sent = [story["story_id"] for d in delivered() for story in d["stories"] if not story["grew"]]
    assert len(sent) == len(set(sent)) == 5
    grown = [story for d in delivered() for story in d["stories"] if story["grew"]]
    assert all(story["story_id"] in sent and story["new_copies"] >= 1 for story in grown)
    periods = [(d["period"]["since"], d["period"]["until"]) for d in delivered()]
    assert all(a[1] == b[0] for a, b in zip(periods, periods[1:], strict=False))  # back to back: no gap, no overlap
    assert (digests / "digest-daemon.atom").exists() and not feedparser.parse(str(digests / "digest-daemon.atom")).bozo
    assert "Digest daemon (" in daemon.log()


def test_a_digest_written_to_a_device_leaves_the_device_in_place(crawled: str, tmp_path: Path) -> None:
    """``--out /dev/stdout`` (or a named pipe) is written to, never replaced by a file."""
    pipe = tmp_path / "pipe"
    os.mkfifo(pipe)
    reader = subprocess.Popen(["cat", str(pipe)], stdout=subprocess.PIPE, text=True)
    result = ai4s_in_process("digest", "--db", crawled, "--out", str(pipe))
    received = reader.communicate(timeout=60)[0]
    assert result.returncode == 0, result.stderr
    assert pipe.is_fifo() and SUMMIT in received


@pytest.mark.usefixtures("chromium")
def test_chinese_headlines_render_as_glyphs_not_boxes(crawled: str, tmp_path: Path) -> None:
    """With no CJK font every Chinese character is drawn as the same empty box: the page would look
    the same with all of them replaced by one character. With fonts (``.ci/run`` installs them) it does not."""
    import re

    from PIL import Image, ImageChops

    html = ai4s_in_process("digest", "--db", crawled, "--format", "html").stdout
    same = re.sub(r"[\u4e00-\u9fff]", "口", html)
    shots = []
    for name, page in (("real", html), ("same", same)):
        (tmp_path / f"{name}.html").write_text(page, encoding="utf-8")
        shot = tmp_path / f"{name}.png"
        _chromium(f"--screenshot={shot}", "--window-size=412,900", (tmp_path / f"{name}.html").as_uri())
        shots.append(Image.open(shot).convert("L"))
    assert ImageChops.difference(*shots).getbbox() is not None


def test_two_since_last_digests_of_one_name_cannot_run_at_once(corpus: str) -> None:
    from storage.lock import DatabaseLock

    with DatabaseLock(corpus, "digest-weekly"):  # another digest named "weekly" is being made
        busy = ai4s_in_process("digest", "--db", corpus, "--since-last", "--name", "weekly")
        other = ai4s_in_process("digest", "--db", corpus, "--since-last", "--name", "daily")
    assert busy.returncode == 1 and "another ai4s digest-weekly is running" in busy.stderr
    assert other.returncode == 0
    assert ai4s_in_process("digest", "--db", corpus, "--since-last", "--name", "weekly").returncode == 0
    bad = ai4s_in_process("digest", "--db", corpus, "--since-last", "--name", "../x")
    assert bad.returncode == 1 and "a digest name is letters" in bad.stderr
