"""``crawler.digest.render``: each format from a digest built here as plain data (no database, no crawl), read
back the way a reader's tool reads it (Markdown by a CommonMark renderer, HTML by lxml, Atom by an XML parser and
feedparser, JSON by ``json``), checking what the reader sees: the headlines, the outlets, the period and the crawl
health, and hostile titles, outlets and links shown as inert text."""

from __future__ import annotations

import copy
import json
from typing import Any

import feedparser
import lxml.html
import pytest
from lxml import etree
from markdown_it import MarkdownIt

from crawler.digest.render import FORMATS, render, subject

ATOM = {"a": "http://www.w3.org/2005/Atom"}
HOSTILE_HEADLINE = (
    '<script>alert("t")</script> [click me](javascript:alert(1)) <img src=x onerror=alert(2)> **AI for Science**'
)
HOSTILE_OUTLET = 'Evil <b onmouseover="alert(5)">Times</b>'
HOSTILE_EXCERPT = "# not a heading & <script>alert('excerpt')</script> ![pixel](http://tracker.example/p.png)"
HOSTILE_TERM = "<script>x</script>"
PROTEIN = "AI model predicts protein structures for drug discovery"
SUMMIT = "向着新一轮科学革命制高点攀登"


def story(story_id: int, headline: str, url: str | None, outlet: str, **fields: Any) -> dict[str, Any]:
    """One digest entry with the fields ``build_digest`` gives it."""
    entry = {
        "story_id": story_id,
        "headline": headline,
        "url": url,
        "outlet": outlet,
        "source": outlet.lower().replace(" ", "-"),
        "language": "en",
        "published": "2026-11-21T07:30:00Z",
        "first_seen": "2026-11-21T08:00:00Z",
        "story_first_seen": "2026-11-21T08:00:00Z",
        "relevance": 0.9,
        "excerpt": "Researchers trained a model on simulation data.",
        "terms": ["protein structure", "AI for Science"],
        "grew": False,
        "new_copies": 1,
        "copies": 1,
        "also_reported_by": [],
    }
    entry.update(fields)
    return entry


def reposted_by(outlet: str, url: str | None, title: str) -> dict[str, Any]:
    """An outlet that reported the same story."""
    return {
        "outlet": outlet,
        "source": outlet.lower(),
        "title": title,
        "url": url,
        "first_seen": "2026-11-21T09:15:00Z",
    }


def make_digest(stories: list[dict[str, Any]]) -> dict[str, Any]:
    """A digest (schema ``ai4s-digest/1``) of ``stories`` over one day, with one failed run."""
    return {
        "schema": "ai4s-digest/1",
        "name": "morning",
        "generated_at": "2026-11-22T08:00:05Z",
        "period": {"since": "2026-11-21T08:00:00Z", "until": "2026-11-22T08:00:00Z"},
        "filters": {"languages": [], "sources": []},
        "counts": {
            "stories": len(stories),
            "new_stories": sum(not s["grew"] for s in stories),
            "grown_stories": sum(s["grew"] for s in stories),
            "articles": sum(s["new_copies"] for s in stories),
            "outlets": len({o["outlet"] for s in stories for o in [s, *s["also_reported_by"]]}),
        },
        "stories": stories,
        "health": {
            "runs": 3,
            "runs_by_status": {"failed": 1, "finished": 2},
            "failed_runs": [
                {
                    "sources": "<b>slow</b>-wire",
                    "status": "failed",
                    "started_at": "2026-11-21T12:00:00Z",
                    "message": "x",
                }
            ],
            "unhealthy_sources": [{"source": "slow-wire", "failures": 3, "last_error": "timeout"}],
        },
    }


@pytest.fixture
def digest() -> dict[str, Any]:
    """Three stories: one grown with two more outlets, one in Chinese, one whose every field is hostile."""
    return make_digest(
        [
            story(
                1,
                PROTEIN,
                "https://science.example/protein?id=1&lang=en",
                "Science Daily",
                grew=True,
                new_copies=2,
                copies=3,
                also_reported_by=[
                    reposted_by("Lab News", "https://labnews.example/p", PROTEIN),
                    reposted_by("Offline Weekly", None, PROTEIN),
                ],
            ),
            story(
                2,
                SUMMIT,
                "http://news.example/zh/summit.html",
                "新华网",
                language="zh",
                excerpt="科学智能正在改变研究方式。",
            ),
            story(
                3,
                HOSTILE_HEADLINE,
                "javascript:alert(4)//http://evil.example/a.html",
                HOSTILE_OUTLET,
                excerpt=HOSTILE_EXCERPT,
                terms=[HOSTILE_TERM],
                also_reported_by=[reposted_by('Mirror"><script>alert(6)</script>', "javascript:alert(7)", "x")],
            ),
        ]
    )


def no_active_content(tree: lxml.html.HtmlElement) -> None:
    """No element that runs or loads anything, no event handler, and every link goes to http(s)."""
    assert not tree.xpath("//script | //img | //iframe | //object | //embed | //b | //strong")
    assert not [name for element in tree.iter() for name in element.attrib if name.lower().startswith("on")]
    links = [a.get("href", "") for a in tree.iter("a")]
    assert all(href.startswith(("http://", "https://")) for href in links), links


def test_markdown_shows_each_headline_with_its_link_and_outlets_and_hostile_text_as_text(
    digest: dict[str, Any],
) -> None:
    markdown = render(digest, "md")
    page = lxml.html.fromstring(MarkdownIt("commonmark", {"html": True}).render(markdown))

    assert [h.text_content() for h in page.iter("h1")] == ["AI for Science digest: 3 stories"]
    headings = [h.text_content() for h in page.iter("h2")]
    assert headings == [f"1. {PROTEIN} (grew: +2)", f"2. {SUMMIT}", f"3. {HOSTILE_HEADLINE}"]
    assert not page.xpath("//h3 | //h4")  # the excerpt's "# " did not become a heading
    links = {a.text_content(): a.get("href") for a in page.iter("a")}
    assert links == {
        PROTEIN: "https://science.example/protein?id=1&lang=en",
        "Lab News": "https://labnews.example/p",
        SUMMIT: "http://news.example/zh/summit.html",
    }
    text = page.text_content()
    assert "Also reported by: Lab News," in text and "Offline Weekly" in text
    assert f"{HOSTILE_OUTLET} · 2026-11-21 07:30 UTC" in text
    assert HOSTILE_EXCERPT in text and HOSTILE_TERM in text
    assert "2026-11-21 08:00 UTC – 2026-11-22 08:00 UTC" in text
    assert "1 failed" in text and "slow-wire" in text
    no_active_content(page)


def test_markdown_separates_the_other_outlets_with_a_comma_and_a_space(digest: dict[str, Any]) -> None:
    page = lxml.html.fromstring(MarkdownIt("commonmark").render(render(digest, "md")))
    assert "Also reported by: Lab News, Offline Weekly" in page.text_content()


def test_html_shows_each_story_with_its_outlets_and_hostile_text_inert(digest: dict[str, Any]) -> None:
    html = render(digest, "html")
    page = lxml.html.fromstring(html)

    assert "default-src 'none'" in page.xpath("//meta[@http-equiv='Content-Security-Policy']/@content")[0]
    articles = page.xpath("//main/article")
    assert [a.xpath("string(h2)") for a in articles] == [f"{PROTEIN} grew +2", SUMMIT, HOSTILE_HEADLINE]
    assert [a.xpath("h2/a/@href") for a in articles] == [
        ["https://science.example/protein?id=1&lang=en"],
        ["http://news.example/zh/summit.html"],
        [],  # a javascript: URL is no link
    ]
    assert articles[1].get("lang") == "zh"
    also = articles[0].xpath("p[@class='also']")[0]
    assert also.text_content() == "Also reported by: Lab News, Offline Weekly"
    assert also.xpath("a/@href") == ["https://labnews.example/p"]
    assert articles[2].xpath("string(div[@class='meta'])").startswith(HOSTILE_OUTLET)
    assert articles[2].xpath("string(p[@class='excerpt'])") == HOSTILE_EXCERPT
    assert 'Mirror"><script>alert(6)</script>' in articles[2].text_content()
    assert page.xpath("string(//header/h1)") == "AI for Science digest: 3 stories"
    assert "Failed: <b>slow</b>-wire (failed)" in page.xpath("string(//footer)")
    no_active_content(page)


def test_atom_has_one_entry_per_story_with_its_links_and_hostile_text_escaped(digest: dict[str, Any]) -> None:
    atom = render(digest, "atom")
    root = etree.fromstring(atom.encode("utf-8"))

    entries = root.xpath("a:entry", namespaces=ATOM)
    assert [e.xpath("string(a:title)", namespaces=ATOM) for e in entries] == [PROTEIN, SUMMIT, HOSTILE_HEADLINE]
    assert [e.xpath("string(a:id)", namespaces=ATOM) for e in entries] == [
        f"tag:ai4s-monitor,2026:story:{n}" for n in (1, 2, 3)
    ]
    assert [e.xpath("a:link/@href", namespaces=ATOM) for e in entries] == [
        ["https://science.example/protein?id=1&lang=en", "https://labnews.example/p"],
        ["http://news.example/zh/summit.html"],
        [],
    ]
    assert [e.xpath("string(a:author/a:name)", namespaces=ATOM) for e in entries] == [
        "Science Daily",
        "新华网",
        HOSTILE_OUTLET,
    ]
    assert entries[0].xpath("string(a:updated)", namespaces=ATOM) == "2026-11-21T09:15:00Z"  # its latest copy
    assert entries[1].get("{http://www.w3.org/XML/1998/namespace}lang") == "zh"
    assert entries[2].xpath("a:category/@term", namespaces=ATOM) == [HOSTILE_TERM]
    assert entries[2].xpath("string(a:summary)", namespaces=ATOM) == HOSTILE_EXCERPT
    for entry in entries:
        no_active_content(lxml.html.fromstring(entry.xpath("string(a:content)", namespaces=ATOM)))
    assert "<script" not in atom  # every hostile string is escaped in the XML itself

    feed = feedparser.parse(atom)
    assert not feed.bozo, feed.get("bozo_exception")
    assert [e.title for e in feed.entries] == [PROTEIN, SUMMIT, HOSTILE_HEADLINE]


def test_json_gives_the_digest_back_as_data_and_stays_inert_in_a_page(digest: dict[str, Any]) -> None:
    original = copy.deepcopy(digest)
    text = render(digest, "json")

    assert json.loads(text) == original
    assert not set("<>&") & set(text)  # escaped as \u003c, \u003e, \u0026: pasted into a page, it is no markup
    assert SUMMIT in text  # non-ASCII text stays readable


def test_an_empty_digest_says_nothing_is_new_in_every_format() -> None:
    empty = make_digest([])
    for fmt in ("md", "html"):
        assert "Nothing new on AI for Science in this period." in render(empty, fmt)
    root = etree.fromstring(render(empty, "atom").encode("utf-8"))
    assert root.xpath("a:entry", namespaces=ATOM) == []
    assert root.xpath("string(a:subtitle)", namespaces=ATOM).startswith("0 stories")
    assert json.loads(render(empty, "json"))["stories"] == []


def test_the_subject_line_gives_the_story_count_and_the_period(digest: dict[str, Any]) -> None:
    assert subject(digest) == "AI for Science digest: 3 stories, 2026-11-21 – 2026-11-22 08:00"


def test_an_unknown_format_is_refused_with_the_supported_ones(digest: dict[str, Any]) -> None:
    with pytest.raises(ValueError, match="unknown digest format 'pdf'.*md, html, json, atom"):
        render(digest, "pdf")
    assert FORMATS == ("md", "html", "json", "atom")
