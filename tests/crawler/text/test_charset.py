"""Charsets that lie: a page comes out as its author wrote it (decoded by what its bytes are) or is refused,
never as mojibake. Real corpus pages: its traditional-Chinese pages transcoded to Big5 and its GBK pages, served
with a header (and a meta) that say ISO-8859-1."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from crawler.text.charset import decode_html, is_implausible, looks_like_mojibake
from crawler.text.extract import ExtractedArticle, NotAnArticle, extract_article
from tests.localweb import CorpusPage, load_corpus, transcode_to_big5
from tests.textmetrics import token_f1

GB = ("gb2312", "gbk", "gb18030")


def lying_meta(raw: bytes, charset: bytes = b"iso-8859-1") -> bytes:
    """``raw`` with every ``<meta ... charset=...>`` saying ``charset``."""
    return re.sub(rb"(<meta\b[^>]*?charset\s*=\s*[\"']?)([A-Za-z0-9_:.-]+)", rb"\1" + charset, raw, flags=re.I)


def usable(corpus_dir: Path, accept: object) -> list[CorpusPage]:
    return [p for p in load_corpus(corpus_dir) if p.problem(allow_base=True) is None and accept(p)]  # type: ignore[operator]


@pytest.mark.parametrize("meta", ["big5", "iso-8859-1"])
def test_a_big5_page_served_as_iso_8859_1_is_decoded_as_big5(corpus_dir: Path, meta: str) -> None:
    pages = usable(corpus_dir, lambda p: p.language == "zh-Hant")
    assert pages, "the corpus has no usable zh-Hant page"
    for page in pages:
        big5 = transcode_to_big5(page.raw(), page.encoding)
        body = big5 if meta == "big5" else lying_meta(big5)
        decoded = decode_html(body, "ISO-8859-1")
        assert decoded.encoding == "big5hkscs", (page.id, decoded)
        assert decoded.text == body.decode("big5hkscs"), page.id  # what the bytes are, not what was said


def test_gbk_pages_served_as_iso_8859_1_are_decoded_as_gb18030(corpus_dir: Path) -> None:
    pages = usable(corpus_dir, lambda p: p.encoding in GB)[:25]
    assert len(pages) >= 10
    for page in pages:
        for body in (page.raw(), lying_meta(page.raw())):
            decoded = decode_html(body, "iso-8859-1")
            assert decoded.encoding == "gb18030", (page.id, decoded.encoding, decoded.reason)
            assert decoded.text == body.decode("gb18030", "replace"), page.id


def test_no_ground_truth_text_of_the_corpus_is_taken_for_mojibake(corpus_dir: Path) -> None:
    pages = load_corpus(corpus_dir)
    flagged = [p.id for p in pages if is_implausible(f"{p.title or ''}\n{p.body}")]
    assert flagged == []


def test_western_text_is_not_mojibake_and_cjk_read_byte_by_byte_is() -> None:
    assert not looks_like_mojibake("Le café était très réussi, déjà à côté de l'église. " * 10)
    assert not looks_like_mojibake("Ærø, Ødegård, Ålesund und die Straße nach Köln. " * 10)
    assert not looks_like_mojibake("科学智能——人工智能驱动的科学研究……“新范式”· 2026 年" * 10)
    assert looks_like_mojibake("人工智能驱动的科学研究".encode("gbk").decode("cp1252", "replace") * 3)
    assert looks_like_mojibake("人工智能驅動的科學研究".encode("big5").decode("latin-1") * 3)
    assert looks_like_mojibake("人工智能驱动的科学研究".encode().decode("cp1252", "replace") * 3)
    assert is_implausible("科学" + "\ufffd" * 30 + "研究") is not None


def test_a_page_whose_text_is_mojibake_is_not_an_article(corpus_dir: Path) -> None:
    # a CMS that stored GBK text as Latin-1 and serves it as UTF-8: valid UTF-8 bytes, mojibake text
    (page,) = usable(corpus_dir, lambda p: p.encoding in GB)[:1]
    mangled = page.raw().decode(page.encoding).encode(page.encoding).decode("latin-1").encode("utf-8")
    result = extract_article(lying_meta(mangled, b"utf-8"), "http://127.0.4.9/2024/01/01/x.html", "utf-8", "text/html")
    assert isinstance(result, NotAnArticle) and result.outcome == "network_error", result
    assert "mojibake" in result.reason
    right = extract_article(page.raw(), "http://127.0.4.9/2024/01/01/x.html", "iso-8859-1", "text/html")
    assert isinstance(right, ExtractedArticle) and token_f1(right.text, page.body) > 0.8


def utf8_chinese_pages(corpus_dir: Path) -> list[tuple[CorpusPage, bytes]]:
    """Chinese corpus pages as UTF-8 bytes (transcoded where the corpus keeps them in a GB charset)."""
    pages = usable(corpus_dir, lambda p: p.language == "zh-Hans" and p.encoding in (*GB, "utf-8"))[:20]
    if len(pages) < 5:
        pytest.skip("the test corpus has too few usable simplified-Chinese pages")
    return [(p, p.raw().decode(p.encoding, "replace").encode("utf-8")) for p in pages]


@pytest.mark.parametrize("damage", ["a stray byte", "the last character cut off"])
def test_utf8_with_a_few_bad_bytes_is_utf8_whatever_the_label_says(corpus_dir: Path, damage: str) -> None:
    for page, utf8 in utf8_chinese_pages(corpus_dir):
        middle = utf8.index(b"</head>") if b"</head>" in utf8 else len(utf8) // 2
        body = utf8[:middle] + b"\xa9" + utf8[middle:] if damage == "a stray byte" else utf8 + "镕".encode()[:2]
        for header, meta in (("gbk", None), (None, b"gb2312")):
            decoded = decode_html(lying_meta(body, meta) if meta else body, header)
            assert decoded.encoding == "utf-8", (page.id, header, decoded)
            assert is_implausible(decoded.text) is None, page.id


@pytest.mark.parametrize("label", ["rot13", "base64", "zlib", "undefined", "idna", "utf-16", "utf-32"])
def test_a_label_that_names_no_charset_of_the_bytes_is_passed_over(corpus_dir: Path, label: str) -> None:
    pages = usable(corpus_dir, lambda p: p.encoding in GB)[:10]
    assert len(pages) >= 5
    for page in pages:
        decoded = decode_html(page.raw(), label)  # rot13 and the like raised LookupError; utf-16 gave nonsense
        assert decoded.encoding == "gb18030", (page.id, decoded)
        assert decoded.text == page.raw().decode("gb18030", "replace"), page.id


def test_utf16_without_a_byte_order_mark_is_read_where_the_page_is_in_it() -> None:
    body = '<html><head><meta charset="utf-16le"></head><body><p>科学智能：人工智能驱动的科学研究</p></body></html>'
    assert decode_html(body.encode("utf-16-le"), "utf-16le").text == body


@pytest.mark.parametrize("header", [None, "utf-8"])
def test_an_undeclared_western_page_is_read_as_windows_1252_where_central_european_reads_it_as_well(
    header: str | None,
) -> None:
    text = (
        "<html><head><title>AI for science</title></head><body><p>“This changes how we do science,” said Dr. Núñez,"
        " whose team in the Ångström Laboratory worked with Prof. Søren on the naïve baseline and the façade of"
        " the pipeline, with Señor Peña.</p></body></html>"
    )
    decoded = decode_html(text.encode("cp1252"), header)
    assert decoded.text == text, decoded.encoding


@pytest.mark.parametrize(("header", "meta"), [("gbk", None), (None, b"gb2312")])
def test_a_big5_page_labelled_gbk_is_decoded_as_big5(corpus_dir: Path, header: str | None, meta: bytes | None) -> None:
    # Big5 bytes read as GB18030 without one error, so the label won: the text was nonsense in simplified characters
    pages = usable(corpus_dir, lambda p: p.language == "zh-Hant")
    assert pages, "the corpus has no usable zh-Hant page"
    for page in pages:
        big5 = transcode_to_big5(page.raw(), page.encoding)
        decoded = decode_html(lying_meta(big5, meta) if meta else big5, header)
        assert decoded.encoding == "big5hkscs", (page.id, decoded.encoding, decoded.reason)


def test_simplified_and_traditional_pages_in_gbk_stay_gbk(corpus_dir: Path) -> None:
    pages = usable(corpus_dir, lambda p: p.language in ("zh-Hans", "zh-Hant"))
    assert len(pages) >= 10
    for page in pages:
        text = page.raw().decode(page.encoding, "replace")
        body = text.encode("gb18030")
        assert decode_html(body, "gbk").encoding == "gb18030", page.id
