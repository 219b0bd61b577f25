"""The page classifier: real article pages of the corpus are articles; pages of headlines are listings, whatever
``og:type`` they claim; what a page declares decides only what its shape leaves open."""

from __future__ import annotations

import json
from pathlib import Path

import lxml.html
import pytest

from crawler.text.charset import decode_html
from crawler.text.pages import json_ld_types, page_kind
from tests.localweb import load_corpus

PARAGRAPH = (
    "Researchers at the institute used machine learning models to predict the structure of new catalysts, "
    "cutting the time needed for laboratory screening from months to days. "
)
ZH_PARAGRAPH = "研究人员利用机器学习模型预测新型催化剂的结构，将实验室筛选所需的时间从数月缩短到数天。"


def parse(html: str) -> lxml.html.HtmlElement:
    return lxml.html.fromstring(html.encode("utf-8"), parser=lxml.html.HTMLParser(encoding="utf-8"))


def page(body: str, head: str = "") -> lxml.html.HtmlElement:
    nav = "".join(f'<li><a href="/{name}/">{name.title()}</a></li>' for name in ("world", "science", "business"))
    return parse(
        f"<!doctype html><html><head><title>t</title>{head}</head><body><header><ul>{nav}</ul></header>"
        f"<main>{body}</main><footer><p>© News of the day. All rights reserved.</p></footer></body></html>"
    )


def headlines(count: int, teaser: str = "", language: str = "en") -> str:
    title = (
        "Scientists find a faster way to screen new catalysts"
        if language == "en"
        else "科学家找到筛选新型催化剂的更快方法"
    )
    return (
        "<ul>"
        + "".join(
            f'<li><a href="/article/story-{i}">{title} {i}</a>{f"<p>{teaser}</p>" if teaser else ""}'
            f"<span>2025-03-0{i % 9 + 1}</span></li>"
            for i in range(count)
        )
        + "</ul>"
    )


OG_ARTICLE = '<meta property="og:type" content="article">'


def test_a_page_of_headlines_is_a_listing_even_when_it_says_og_type_article() -> None:
    for body in (headlines(25), headlines(25, PARAGRAPH[:150]), headlines(30, ZH_PARAGRAPH, "zh")):
        kind = page_kind(page(body, OG_ARTICLE))
        assert kind.kind == "listing", kind.evidence
        assert kind.longest_list >= 25 and "og:type article" in kind.evidence


def test_an_article_with_links_in_its_sentences_and_a_related_box_is_an_article() -> None:
    inline = f'<p>{PARAGRAPH} As <a href="/2025/01/02/earlier-report.html">an earlier report by the same team</a> showed.</p>'
    body = f"<article><h1>Catalysts</h1>{PARAGRAPH * 2}{inline}<p>{PARAGRAPH}</p><p>{PARAGRAPH}</p></article>"
    kind = page_kind(page(body + "<aside><h2>Related</h2>" + headlines(6) + "</aside>"))
    assert kind.kind == "article" and kind.longest_run >= 500, kind.evidence


def test_a_short_article_is_an_article_when_its_shape_leaves_it_open_and_it_says_so() -> None:
    short = f"<article><h1>Briefly</h1><p>{PARAGRAPH[:150]}</p></article>"
    assert page_kind(page(short)).kind == "listing"
    assert page_kind(page(short, OG_ARTICLE)).kind == "article"


def test_json_ld_types_are_read_from_graphs_and_lists() -> None:
    graph = {"@context": "https://schema.org", "@graph": [{"@type": "WebPage"}, {"@type": ["NewsArticle"]}]}
    tree = page(
        "",
        f'<script type="application/ld+json">{json.dumps(graph)}</script>'
        '<script type="application/ld+json">[{"@type": "Organization"}]</script>'
        '<script type="application/ld+json">{not json</script>',
    )
    assert list(json_ld_types(tree)) == ["WebPage", "NewsArticle", "Organization"]


def test_a_collection_page_is_a_listing_and_a_json_ld_article_rescues_a_short_body() -> None:
    collection = '<script type="application/ld+json">{"@type": "CollectionPage"}</script>'
    long_body = f"<article>{''.join(f'<p>{PARAGRAPH}</p>' for _ in range(6))}</article>"
    assert page_kind(page(long_body, collection + OG_ARTICLE)).kind == "listing"
    news = '<script type="application/ld+json">{"@type": "NewsArticle"}</script>'
    body = f"<article><p>{PARAGRAPH}{PARAGRAPH[:60]}</p></article>" + headlines(12)
    assert page_kind(page(body, OG_ARTICLE)).kind == "listing"  # og:type alone: 12 headlines win
    assert page_kind(page(body, news)).kind == "article"


def test_a_chinese_article_body_of_br_separated_text_is_one_run() -> None:
    text = "<br>".join(ZH_PARAGRAPH for _ in range(8))
    kind = page_kind(page(f'<div class="content">{text}</div>' + headlines(8, language="zh")))
    assert kind.kind == "article" and kind.longest_run >= 8 * 2 * 30, kind.evidence


def test_real_article_pages_of_the_corpus_are_articles(corpus_dir: Path) -> None:
    pages = [p for p in load_corpus(corpus_dir) if p.source in ("cwced", "zyte-aeb")][:60]
    if len(pages) < 60:
        pytest.skip("the test corpus has fewer than 60 cwced and zyte-aeb pages")
    misses = []
    for corpus_page in pages:
        tree = parse(decode_html(corpus_page.raw(), corpus_page.encoding).text)
        kind = page_kind(tree)
        if not kind.is_article:
            misses.append((corpus_page.id, kind.evidence))
    assert len(misses) <= 1, misses  # one cwced page is a portal's front with a short story in its middle


def test_a_small_section_of_a_few_headlines_with_long_teasers_is_a_listing() -> None:
    # five items, each teaser as long as a short article's paragraph, nothing declared
    for body in (headlines(5, PARAGRAPH * 2), headlines(4, ZH_PARAGRAPH * 3, "zh"), headlines(3, PARAGRAPH * 2)):
        kind = page_kind(page(body))
        assert kind.kind == "listing", kind.evidence
