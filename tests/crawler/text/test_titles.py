"""Headlines: a page's title without the site's name its template joins to it, cut where the page's own heading
or the site's name says, and left whole where nothing does."""

from __future__ import annotations

from pathlib import Path

import lxml.html
import pytest

from crawler.text import extract
from crawler.text.charset import decode_html
from crawler.text.extract import page_metadata
from crawler.text.titles import headline
from tests.localweb import CorpusPage, load_corpus


@pytest.mark.parametrize(
    ("title", "site_name", "host", "expected"),
    [
        ("Quantum chip sets a speed record | Daily Science", "Daily Science", "www.dailyscience.example", None),
        ("Quantum chip sets a speed record - The Daily Science", "Daily Science", None, None),
        ("Forscher entwickeln KI für Klimamodelle - golem.de", None, "www.golem.de", None),
        ("Forscher entwickeln KI für Klimamodelle – DW – 13.06.2023", "Deutsche Welle", "www.dw.com", None),
        ("Forscher entwickeln KI für Klimamodelle : 31.10.2023, 10.19 Uhr - Nachrichten", "Nachrichten", None, None),
        ("人工智能助力新材料研发：科技日报", "科技日报", "www.stdaily.com", None),
        ("人工智能助力新材料研发-新华网", "新华网", "www.xinhuanet.com", None),
        ("人工智能助力新材料研发 | 新华网", "新华网", None, None),
        ("AI系统发现新抗生素-정치ㅣ한국일보", "한국일보", None, "AI系统发现新抗生素-정치"),
        # Chinese portals that no tag names: their name and channel read as such
        ("人工智能助力新材料研发-新华网", "xinhuanet.com", "www.xinhuanet.com", None),
        ("人工智能助力新材料研发_教育频道_中国青年网", None, "edu.youth.cn", None),
        ("人工智能助力新材料研发_新闻频道_央视网(cctv.com)", None, "news.cctv.com", None),
        ("人工智能助力新材料研发--科技日报", None, None, None),
        ("人工智能助力新材料研发__中国政府网", None, "www.gov.cn", None),  # an empty channel
        # a section's label between the headline and the site's name
        ("人工智能助力新材料研发 - 科技 - 人民网", None, "tech.people.com.cn", None),
        ("人工智能助力新材料研发_科学智能_上海交通大学新闻网", None, "news.sjtu.edu.cn", None),
        ("人工智能助力新材料研发_国务院文件_中国政府网", None, "www.gov.cn", None),
        ("Quantum chip sets a speed record - Research - Nature", "Nature", "www.nature.com", None),
        # no label: too long to be one, after the site's name, joined otherwise, or a headline's own last words
        ("Quantum chip - what it means for you - Nature", "Nature", None, "Quantum chip - what it means for you"),
        ("人工智能助力新材料研发_中国政府网_要闻", None, "www.gov.cn", "人工智能助力新材料研发_中国政府网_要闻"),
        ("外交部：中方坚决反对-新华网", None, "www.news.cn", "外交部：中方坚决反对"),
        ("科学智能——新的范式 - 新华网", None, "www.news.cn", "科学智能——新的范式"),
        ("上海合作组织-中亚峰会-新华网", None, "www.news.cn", "上海合作组织-中亚峰会"),
        ("Brexit - What Next - The Guardian", "The Guardian", None, "Brexit - What Next"),
        ("Würde des Lebens – ein Projekt | Große Fragen", "Große Fragen", None, "Würde des Lebens – ein Projekt"),
    ],
)
def test_the_site_name_after_the_headline_is_cut(
    title: str, site_name: str | None, host: str | None, expected: str | None
) -> None:
    cut = {
        "人": "人工智能助力新材料研发",
        "Q": "Quantum chip sets a speed record",
        "F": "Forscher entwickeln KI für Klimamodelle",
    }
    assert headline(title, (), site_name, host) == (expected or cut[title[0]])


def test_the_site_name_before_the_headline_is_cut() -> None:
    assert headline("Welt | KI findet neue Antibiotika im Boden", ["Welt"], None, "www.welt.de") == (
        "KI findet neue Antibiotika im Boden"
    )


def test_the_page_heading_marks_where_the_headline_ends() -> None:
    title = "Russia hits Kyiv with a ballistic missile - National | Globalnews.ca"
    assert headline(title, ["Russia hits Kyiv with a ballistic missile"], "Global News", "globalnews.ca") == (
        "Russia hits Kyiv with a ballistic missile"
    )
    # the heading is compared with width, case and spacing folded
    assert headline("ＡＩ  Finds Antibiotics | Lab News", ["ai finds antibiotics"]) == "ＡＩ  Finds Antibiotics"


@pytest.mark.parametrize(
    ("title", "headings", "site_name", "host"),
    [
        # a colon or a dash of the headline's own, and nothing naming the site after it
        ("Climate change: Labor on track to hit its 2030 target", [], "The West Australian", "thewest.com.au"),
        ("Israel - Gaza: what the ceasefire talks are about", [], "Example News", "news.example"),
        # a hyphen inside a word is no separator, even where the part after it is the site's name
        ("US-Zinsen setzen Dax zu", [], "Zinsen", None),
        # a kicker that is a piece of the site's name or a label of its host is no site's name
        ("China: new AI rules for research take effect", [], "China Daily", "www.chinadaily.com.cn"),
        ("Asia: new AI rules for research take effect", [], "Nikkei Asia", "asia.nikkei.com"),
        ("中国科学院院士：AI将改变科研范式", [], "中国科学院", "www.cas.cn"),
        # quotation marks are no separators, and a word that ends as a site's name does is not one
        ("Intelligence artificielle : « La science va changer » selon des chercheurs", [], "Le Monde", None),
        ("华为发布新的工业平台-物联网", [], None, None),
        # a site's logo in the <h1> is not the headline, nor is it taken for the site's name
        ("AI finds new antibiotics in soil samples | Welt", ["Welt"], None, None),
        # what would be left is too short to be a headline, or is the site's name too
        ("Home | Science Daily", [], "Science Daily", None),
        ("Science Daily - Science Daily", [], "Science Daily", None),
        # a sentence that mentions the site is not the site's name
        ("Die besten Blogs über KI in der Forschung laut Wday.ru: eine Liste", [], "Wday.ru", "wday.ru"),
        # a host's public suffix or an IP address names no site
        ("Quantum chip sets a speed record - Co.uk", [], None, "www.bbc.co.uk"),
        ("Quantum chip sets a speed record - 127", [], None, "127.0.0.1"),
        # a title that is the heading stays whole
        ("Kenia: Nairobi von unten", ["Kenia: Nairobi von unten"], None, None),
        ("Kenia: Nairobi von unten", ["Nairobi von unten"], None, None),
    ],
)
def test_a_title_with_nothing_naming_the_site_stays_whole(
    title: str, headings: list[str], site_name: str | None, host: str | None
) -> None:
    assert headline(title, headings, site_name, host) == title


def test_no_title_stays_no_title() -> None:
    assert headline(None, ["A heading"]) is None
    assert headline("   ", ["A heading"]) == "   "


def test_a_page_gives_its_headline_without_the_site_name() -> None:
    html = (
        "<html><head><title>Deep learning maps ocean currents | Ocean Science Weekly</title>"
        '<meta property="og:site_name" content="Ocean Science Weekly"></head>'
        "<body><h1>Deep learning maps ocean currents</h1><p>Text.</p></body></html>"
    )
    tree = lxml.html.fromstring(html)
    assert page_metadata(tree, "https://oceanweekly.example/2025/03/maps.html", False).title == (
        "Deep learning maps ocean currents"
    )


def _titles(pages: list[CorpusPage]) -> list[str]:
    """The title :func:`page_metadata` gives for each page, folded for comparing."""
    titles = []
    for page in pages:
        tree = lxml.html.fromstring(
            decode_html(page.raw(), page.encoding).text.encode("utf-8"), parser=lxml.html.HTMLParser(encoding="utf-8")
        )
        title = page_metadata(tree, page.original_url, search_text_for_date=False).title
        titles.append(" ".join((title or "").casefold().split()))
    return titles


def test_on_real_pages_the_headline_matches_the_dataset_title_more_often_than_the_raw_title(
    corpus_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Titles reviewed by the datasets' maintainers (fundus's parsers, trafilatura's evaluation set): the headline
    equals them on many more pages than the title the page's tags give, and is wrong on few where that was right."""
    pages = [
        page
        for page in load_corpus(corpus_dir)
        if page.source in ("fundus", "trafilatura") and page.meta.get("title_origin") == "dataset" and page.title
    ][::3]
    assert len(pages) >= 100
    truths = [" ".join((page.title or "").casefold().split()) for page in pages]
    headlines = _titles(pages)
    monkeypatch.setattr(extract, "headline", lambda title, *_: title)
    raw_titles = _titles(pages)
    raw_right = sum(raw == truth for raw, truth in zip(raw_titles, truths, strict=True))
    headline_right = sum(cut == truth for cut, truth in zip(headlines, truths, strict=True))
    lost = [(raw, cut) for raw, cut, truth in zip(raw_titles, headlines, truths, strict=True) if raw == truth != cut]
    assert headline_right >= raw_right + 0.08 * len(pages), (headline_right, raw_right, len(pages))
    assert len(lost) <= 0.03 * len(pages), lost
