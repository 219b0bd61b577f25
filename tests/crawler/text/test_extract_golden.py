"""Golden extraction tests: real pages of the test corpus give the article fields that were checked against its
ground truth.

Each ``golden/*.json`` names one page of ``../shared/corpus`` (the page is read from there, never copied here), how
it is served (URL, header charset, content type) and the fields :func:`extract_article` gave for it: title,
published date, language, charset, and the text by its length, first and last 80 characters and SHA-256. Beside
them, ``checked_against_truth`` keeps the title and body token F1 against the corpus ground truth (and, for pages
with only snippets of truth, how many must-contain snippets were found and must-not-contain snippets leaked); a
field known to be wrong says why in ``known_wrong``. Published dates are days (trafilatura finds no time of day), kept
as midnight UTC; each was checked against the day in the truth where it has one.

When extraction changes on purpose, rewrite the expected fields and read the F1 figures in the diff:

    python3 -m tests.crawler.text.test_extract_golden --write
"""

from __future__ import annotations

import argparse
import gzip
import hashlib
import json
import sys
from pathlib import Path
from typing import Any

import pytest

from crawler.text.extract import ExtractedArticle, extract_article
from tests.conftest import find_corpus_dir
from tests.textmetrics import token_f1

GOLDEN_DIR = Path(__file__).resolve().parent / "golden"
GOLDEN_FILES = sorted(GOLDEN_DIR.glob("*.json"))
#: How many characters of the text's start and end are kept in the expected fields.
EDGE = 80


def read_golden(path: Path) -> dict[str, Any]:
    """One golden file."""
    return json.loads(path.read_text(encoding="utf-8"))


def read_page(corpus: Path, source: str, page_id: str) -> tuple[dict[str, Any], bytes]:
    """The ground truth and the page bytes of one corpus page."""
    truth = json.loads((corpus / source / f"{page_id}.json").read_text(encoding="utf-8"))
    return truth, gzip.decompress((corpus / source / truth["html_file"]).read_bytes())


def extract(golden: dict[str, Any], body: bytes) -> ExtractedArticle:
    """The article in the page, served as the golden file says."""
    request = golden["request"]
    article = extract_article(body, request["url"], request["header_charset"], request["content_type"])
    assert isinstance(article, ExtractedArticle), f"no article extracted: {article}"
    return article


def text_fields(text: str) -> dict[str, Any]:
    """What the golden file keeps of a text: length, first and last characters, SHA-256."""
    return {
        "length": len(text),
        "first": text[:EDGE],
        "last": text[-EDGE:],
        "sha256": hashlib.sha256(text.encode("utf-8")).hexdigest(),
    }


def article_fields(article: ExtractedArticle) -> dict[str, Any]:
    """The fields compared: title, published date, language, charset and the text."""
    return {
        "title": article.title,
        "published": article.published.isoformat() if article.published else None,
        "language": article.language,
        "encoding": article.encoding,
        "text": text_fields(article.text),
    }


def truth_check(article: ExtractedArticle, truth: dict[str, Any]) -> dict[str, Any]:
    """How the extracted article compares with the corpus ground truth."""
    check: dict[str, Any] = {
        "title_f1": round(token_f1(article.title or "", truth["title"]), 3) if truth["title"] else None,
        "title_truth": truth["title_origin"],
        "body_f1": round(token_f1(article.text, truth["body"]), 3) if truth["body"] else None,
    }
    if truth["must_contain"] or truth["must_not_contain"]:
        check["must_contain_found"] = f"{sum(s in article.text for s in truth['must_contain'])} of "
        check["must_contain_found"] += str(len(truth["must_contain"]))
        check["must_not_contain_leaked"] = f"{sum(s in article.text for s in truth['must_not_contain'])} of "
        check["must_not_contain_leaked"] += str(len(truth["must_not_contain"]))
    check |= {"published_truth": truth["published"], "language_label": truth["language"]}
    return check


@pytest.mark.parametrize("golden_file", GOLDEN_FILES, ids=[path.stem for path in GOLDEN_FILES])
def test_a_saved_news_page_gives_the_title_date_language_charset_and_text_checked_by_hand(
    golden_file: Path, corpus_dir: Path
) -> None:
    golden = read_golden(golden_file)
    page = golden["corpus"]
    truth, body = read_page(corpus_dir, page["source"], page["id"])
    assert hashlib.sha256(body).hexdigest() == page["sha256"], f"the corpus page {page} changed: check it again"

    got = article_fields(extract(golden, body))

    expected, known_wrong = golden["expected"], golden.get("known_wrong", {})
    for field in ("title", "published", "language", "encoding"):
        assert got[field] == expected[field], (
            f"{field}: extracted {got[field]!r}, checked {expected[field]!r}{known(known_wrong, field)}"
        )
    assert got["text"] == expected["text"], (
        f"the text changed (now {got['text']['length']} characters, was {expected['text']['length']}); "
        f"starts {got['text']['first']!r}, ends {got['text']['last']!r}{known(known_wrong, 'text')}; "
        "if on purpose, rewrite with --write and compare the F1 in the diff"
    )


def known(known_wrong: dict[str, str], field: str) -> str:
    """The note of a field known to be wrong, for a failure message (a fix fails the test too)."""
    return f" (known wrong: {known_wrong[field]})" if field in known_wrong else ""


def test_the_golden_pages_cover_several_languages_and_legacy_charsets() -> None:
    goldens = [read_golden(path) for path in GOLDEN_FILES]
    assert len(goldens) >= 8
    languages = {golden["expected"]["language"] for golden in goldens}
    encodings = {golden["expected"]["encoding"] for golden in goldens}
    assert {"zh", "en", "de", "ja"} <= languages
    assert {"utf-8", "gb18030", "cp1252", "cp1250"} <= encodings
    assert any(golden["request"]["header_charset"] is None for golden in goldens), "no page left to sniffing"


def write_goldens(corpus: Path) -> None:
    """Rewrite the expected fields and the truth check of every golden file from the extraction as it is now."""
    for path in GOLDEN_FILES:
        golden = read_golden(path)
        page = golden["corpus"]
        truth, body = read_page(corpus, page["source"], page["id"])
        article = extract(golden, body)
        page["sha256"] = hashlib.sha256(body).hexdigest()
        golden["expected"] = article_fields(article)
        golden["checked_against_truth"] = truth_check(article, truth)
        path.write_text(json.dumps(golden, ensure_ascii=False, indent=2) + "\n", encoding="utf-8")
        print(f"{path.name}: {json.dumps(golden['checked_against_truth'], ensure_ascii=False)}")


def main() -> None:
    """``--write``: rewrite the golden files from the corpus."""
    parser = argparse.ArgumentParser(description="Rewrite the golden extraction files from the test corpus.")
    parser.add_argument("--write", action="store_true", help="rewrite expected fields and truth checks")
    options = parser.parse_args()
    corpus = find_corpus_dir()
    if not options.write or corpus is None:
        sys.exit("nothing done: pass --write, with the corpus in ../shared/corpus or $AI4S_TEST_CORPUS")
    write_goldens(corpus)


if __name__ == "__main__":
    main()
