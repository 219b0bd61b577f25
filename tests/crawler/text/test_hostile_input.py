"""Hostile input to the pure text code: lines, titles and feeds made so that a pattern tries every way to match
them (each case took minutes before, or raised), and pages nested deeper than a recursive reader goes. Each case
runs in its own process and must end well inside a bound a hundred times what it needs: a guard against a crawl
held by one page, not a speed target (those are in ``benchmarks/``)."""

from __future__ import annotations

import subprocess
import sys
import textwrap

import pytest
from parsel import Selector

from crawler.text.extract import ExtractedArticle, extract_article
from crawler.text.pages import page_kind
from tests.crawler.support import PARAGRAPH

#: Seconds a case may take; each took a minute or more before, and takes under a tenth of a second now.
BOUND = 20

CASES = {
    # 和 joins names and starts one: without the "/文" after, every split of the line was tried
    "a line of names joined by 和": "from crawler.text.bylines import chinese_byline\n"
    "chinese_byline('王王' + ' 和王王' * 30 + 'X')",
    "a line of ten thousand names": "from crawler.text.bylines import chinese_byline\n"
    "chinese_byline('记者' + '张三、' * 20000)",
    "an author field of spaces": "from crawler.text.bylines import author_name\nauthor_name('x' + ' ' * 100000 + 'y')",
    "a title with a long run of digits": "from crawler.text.titles import headline\n"
    "headline('Some headline here | ' + '1' * 100000 + 'x')",
    "a title of thousands of separators": "from crawler.text.titles import headline\nheadline('ab | ' * 20000)",
    "a date followed by spaces": "from datetime import date\nfrom crawler.text.dates import shown_timestamp\n"
    "shown_timestamp(['2020年1月1日' + ' ' * 100000 + 'x'], date(2026, 1, 1))",
    "a credit line of spaces": "from crawler.stories.fingerprint import credited_source\n"
    "credited_source('来源' + ' ' * 3000 + '!')",
    "a line of dashes": "from crawler.text.normalize import strip_syndication_boilerplate\n"
    "strip_syndication_boilerplate('x' + '-' * 200000 + 'x')",
    "a line of editors' notes": "from crawler.text.normalize import strip_syndication_boilerplate\n"
    "strip_syndication_boilerplate('(编辑：张三)' * 20000 + 'x)')",
    "a feed of unclosed CDATA sections and a stray ampersand": "from crawler.text.feeds import parse_feed\n"
    "parse_feed(b'<rss><channel><item><link>http://x.example/a?a=1&b=2</link></item>'"
    " + b'<![CDATA[' * 100000 + b'</channel></rss>', 'http://x.example/rss')",
    # each item's base was read through every level above it: a 230 KB feed took three minutes
    "a feed of items under 2,000 levels of xml:base": "from crawler.text.feeds import parse_feed\n"
    "items = ''.join(f'<item><link>{n}.html</link></item>' for n in range(5000))\n"
    "feed = '<rss><channel>' + '<div xml:base=\"a/\">' * 2000 + items + '</div>' * 2000 + '</channel></rss>'\n"
    "assert len(parse_feed(feed.encode(), 'http://x.example/rss')) == 5000",
}


@pytest.mark.parametrize("code", CASES.values(), ids=CASES.keys())
def test_a_hostile_input_is_read_in_bounded_time(code: str) -> None:
    result = subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code)], capture_output=True, text=True, timeout=BOUND, check=False
    )
    assert result.returncode == 0, result.stderr[-2000:]


def nested_json_ld(levels: int) -> str:
    return '<script type="application/ld+json">' + '{"a": ' * levels + "1" + "}" * levels + "</script>"


def test_json_ld_nested_deeper_than_the_parser_goes_is_passed_over() -> None:
    html = (
        f"<html><head><title>AI finds a catalyst</title>{nested_json_ld(10000)}</head>"
        f"<body><article><h1>AI finds a catalyst</h1>{''.join(f'<p>{PARAGRAPH} Paragraph {i}.</p>' for i in range(6))}</article>"
        "</body></html>"
    )
    result = extract_article(html.encode(), "https://x.example/2025/01/01/catalyst.html", content_type="text/html")
    assert isinstance(result, ExtractedArticle) and result.title == "AI finds a catalyst"
    assert page_kind(Selector(text=html).root).is_article


def test_a_page_nested_deeper_than_the_shape_walk_goes_is_judged_on_what_it_declares() -> None:
    html = (
        '<html><head><meta property="og:type" content="article"></head><body>'
        + "<div>" * 1500
        + "".join(f"<p>{PARAGRAPH} Paragraph {i}.</p>" for i in range(6))
        + "</div>" * 1500
        + "</body></html>"
    )
    judged = page_kind(Selector(text=html).root)  # a RecursionError before, in the crawl's own process
    assert judged.kind == "article" and "too deeply nested to measure in full" in judged.evidence


@pytest.mark.parametrize("depth", [300, 1500])
def test_an_article_nested_deeper_than_256_elements_keeps_its_text(depth: int) -> None:
    # An old page's unclosed <font> tags nest its article that deep: the parser dropped everything below 256 levels,
    # and the article was recorded as a page without text, never fetched again.
    paragraphs = [f"{PARAGRAPH} Paragraph {i}." for i in range(6)]
    html = (
        "<html><head><title>AI finds a catalyst</title></head><body>"
        + "<font size='2'>" * depth
        + "".join(f"<p>{paragraph}</p>" for paragraph in paragraphs)
        + "</body></html>"
    )
    result = extract_article(html.encode(), "https://x.example/2025/01/01/catalyst.html", content_type="text/html")
    assert isinstance(result, ExtractedArticle), result
    assert all(f"Paragraph {i}." in result.text for i in range(len(paragraphs)))
