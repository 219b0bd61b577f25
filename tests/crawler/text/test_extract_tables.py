"""Tables in a page: a table that lays the page out gives the lines a reader sees (each paragraph of the cell that
holds the article on a line of its own, no rows of empty cells), so a site's template can be learned line by
line; a table of data keeps its rows."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from crawler.text.extract import ExtractedArticle, extract_article
from tests.localweb import load_corpus

#: A real page of a Chinese portal laid out with tables: the article, its editor's line and the template's lines
#: after it (the links to write to the editor) in one cell of a table.
TABLE_LAYOUT_PAGE = "cwced/8baa71e3-7cfa"
URL = "https://portal.example/news/2025/03/01/1.html"


def _is_pipes_only(line: str) -> bool:
    return not re.sub(r"[|\s]", "", line)


def test_a_table_layout_page_gives_its_paragraphs_and_its_editors_line_as_lines_of_their_own(
    corpus_dir: Path,
) -> None:
    pages = {f"{page.source}/{page.id}": page for page in load_corpus(corpus_dir)}
    if TABLE_LAYOUT_PAGE not in pages:
        pytest.skip(f"{TABLE_LAYOUT_PAGE} is not in this corpus")
    page = pages[TABLE_LAYOUT_PAGE]
    article = extract_article(page.raw(), URL, page.encoding, "text/html")
    assert isinstance(article, ExtractedArticle)
    lines = [line.strip() for line in article.text.splitlines() if line.strip()]
    assert not [line for line in lines if _is_pipes_only(line)]
    assert "（ 责任编辑：刘林源 ）" in lines
    paragraphs = [line.strip() for line in page.body.splitlines() if line.strip()]
    assert len(paragraphs) >= 5
    assert sum(paragraph in lines for paragraph in paragraphs) >= 0.8 * len(paragraphs)
    longest = max(lines, key=len)
    assert len(longest) < 0.3 * len(article.text) and not longest.startswith("|")


ARTICLE = (
    "国家气候中心今天发布的报告显示，人工智能天气模型在十天预报上的误差已经小于传统数值模式。",
    "研究团队用四十年的再分析资料训练了一个神经网络，它在一张显卡上一分钟就能算完一次全球预报。",
    "专家指出，极端天气的峰值仍然较难预报，神经网络会把最强风暴的强度削平，还需要更多观测资料。",
)
EDITOR = "（责任编辑：王小明）"
COMMENT = "我要评论 已有0人参与，请文明上网，理性发言"


def _table_layout_page(data_table: str = "") -> str:
    paragraphs = "".join(f"<p>　　{paragraph}</p>" for paragraph in ARTICLE)
    return (
        "<html><head><title>人工智能天气模型十天预报超过传统模式_科技频道</title></head><body>"
        "<table width='960'><tr><td>科技前沿网</td><td><a href='/'>首页</a> | <a href='/k'>科技</a></td></tr></table>"
        "<table width='960'><tr><td width='680' valign='top'><table width='100%'>"
        "<tr><td align='center'><b>人工智能天气模型十天预报超过传统模式</b></td></tr>"
        "<tr><td>&nbsp;</td><td>&nbsp;</td></tr>"
        f"<tr><td class='content'>{paragraphs}{data_table}<p align='right'>{EDITOR}</p></td></tr>"
        f"<tr><td>{COMMENT}</td></tr></table></td>"
        "<td width='260' valign='top'><table><tr><td><b>最新新闻</b></td></tr>"
        "<tr><td>·<a href='/n/1'>春运首日铁路发送旅客超千万人次</a></td></tr></table></td></tr></table>"
        "<table width='960'><tr><td align='center'>关于我们 | 联系方式<br>版权所有 © 科技前沿报社</td></tr></table>"
        "</body></html>"
    )


def _lines(html: str) -> list[str]:
    article = extract_article(html.encode(), URL, "utf-8", "text/html")
    assert isinstance(article, ExtractedArticle), article
    return [line.strip() for line in article.text.splitlines() if line.strip()]


def test_the_cells_of_a_layout_table_give_their_paragraphs_and_the_templates_lines_on_lines_of_their_own() -> None:
    lines = _lines(_table_layout_page())
    assert [paragraph in lines for paragraph in ARTICLE] == [True, True, True]
    assert EDITOR in lines and COMMENT in lines and "版权所有 © 科技前沿报社" in lines
    assert not [line for line in lines if _is_pipes_only(line)]


DATA_TABLE = (
    "<table><tr><th>模型</th><th>十天预报误差</th><th>计算时间</th></tr>"
    "<tr><td>人工智能模型</td><td>1.8</td><td>1分钟</td></tr>"
    "<tr><td></td><td></td><td></td></tr>"
    "<tr><td>数值模式</td><td>2.3</td><td>3小时</td></tr></table>"
)


def test_a_data_table_keeps_its_rows_and_drops_its_empty_ones() -> None:
    lines = _lines(_table_layout_page(DATA_TABLE))
    rows = [line for line in lines if line.startswith("|")]
    assert [re.sub(r"\s+", " ", row) for row in rows if "---" not in row][-3:] == [
        "| 模型 | 十天预报误差 | 计算时间 |",
        "| 人工智能模型 | 1.8 | 1分钟 |",
        "| 数值模式 | 2.3 | 3小时 |",
    ]
    assert [paragraph in lines for paragraph in ARTICLE] == [True, True, True] and EDITOR in lines


def test_a_page_of_one_data_table_keeps_its_rows() -> None:
    rows = "".join(
        f"<tr><td>{station}</td><td>{rain}</td><td>{wind}</td></tr>"
        for station, rain, wind in (("北京", "12.5", "3级"), ("上海", "30.1", "4级"), ("广州", "55.0", "5级"))
    )
    html = (
        "<html><head><title>今日降水</title></head><body><article><h1>今日各地降水与风力</h1>"
        f"<p>{ARTICLE[0]}</p><table><tr><th>城市</th><th>降水（毫米）</th><th>风力</th></tr>{rows}</table>"
        f"<p>{ARTICLE[1]}</p><p>{ARTICLE[2]}</p></article></body></html>"
    )
    lines = _lines(html)
    assert "| 上海 | 30.1 | 4级 |" in [re.sub(r"\s+", " ", line) for line in lines]
    assert [paragraph in lines for paragraph in ARTICLE] == [True, True, True]
