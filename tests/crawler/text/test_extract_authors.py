"""Authors from the tags of library and scholarly metadata (``dc.creator``, ``citation_author``), one author a tag
written "Surname, Given names": each author's names in reading order, never two people made of one."""

from __future__ import annotations

import html
from pathlib import Path

import pytest

from crawler.text.extract import ExtractedArticle, extract_article
from tests.localweb import load_corpus

#: Real pages whose authors are tagged "Surname, Given names", with the authors their publisher names.
TAGGED_SURNAME_FIRST = {
    "fundus/uk_Nature_2026_02_07": "Rachel Brazil",
    "fundus/uk_Nature_2025_11_04": "Xiaoying You; Mariana Lenharo; Mohana Basu; Davide Castelvecchi; Jeff Tollefson",
}
BODY = "<p>" + "The team trained a model on decades of protein data and published the results today. " * 6 + "</p>"


def _page(head: str) -> bytes:
    return (
        f"<html><head><title>Protein models</title>{head}</head>"
        f"<body><article><h1>Protein models</h1>{BODY}</article></body></html>"
    ).encode()


def _meta(name: str, content: str) -> str:
    return f'<meta name="{name}" content="{html.escape(content)}">'


def test_real_pages_tagged_surname_first_name_their_authors_in_reading_order(corpus_dir: Path) -> None:
    pages = {f"{page.source}/{page.id}": page for page in load_corpus(corpus_dir)}
    missing = set(TAGGED_SURNAME_FIRST) - set(pages)
    if missing:
        pytest.skip(f"{', '.join(sorted(missing))} not in this corpus")
    for name, authors in TAGGED_SURNAME_FIRST.items():
        page = pages[name]
        article = extract_article(page.raw(), "https://www.nature.com/articles/x", page.encoding)
        assert isinstance(article, ExtractedArticle)
        assert article.author == authors, name


@pytest.mark.parametrize(
    ("head", "author"),
    [
        (_meta("citation_author", "Curie, Marie") + _meta("citation_author", "Curie, Pierre"), "Marie Curie; Pierre Curie"),
        (_meta("DC.creator", "van der Berg, Anna Maria"), "Anna Maria van der Berg"),
        (_meta("citation_author", "Doe, J."), "J. Doe"),
        # tags that are no "Surname, Given" pair are read as before
        (_meta("author", "Jane Doe, Staff Writer"), None),
        (_meta("dc.creator", "Jane Doe, Staff Writer"), "Jane Doe"),
        (_meta("dc.creator", "Li Wei, Xinhua"), "Li Wei; Xinhua"),
        (_meta("author", "Jane Doe") + _meta("dc.creator", "Doe, Jane"), "Jane Doe"),
    ],
)  # fmt: skip
def test_a_surname_first_tag_is_one_author(head: str, author: str | None) -> None:
    article = extract_article(_page(head), "https://journal.example/a/1", "utf-8", "text/html")
    assert isinstance(article, ExtractedArticle)
    if author is None:
        assert article.author is None or ";" not in article.author
    else:
        assert article.author == author
