"""The digest people read: sections by theme, the top stories, the chart of new stories per day by
language (inline SVG, no script), the most active outlets, dates with the precision known, plurals,
excerpts without datelines or bullets, and one name per outlet."""

from __future__ import annotations

import copy
from datetime import UTC, datetime
from typing import Any

import lxml.html
import pytest
from markdown_it import MarkdownIt

from crawler.digest.build import lead_excerpt, outlet_names
from crawler.digest.render import plural, render, subject, when
from crawler.digest.themes import theme_of
from storage.digests import DigestCopy, PeriodStory
from tests.crawler.digest.test_render import make_digest, story

WEATHER = "AI weather model forecasts typhoon tracks a week ahead"
CATALYST = "新型人工智能平台发现高效催化剂材料"
SUMMIT = "2026科学智能峰会在京召开"


@pytest.fixture
def sectioned() -> dict[str, Any]:
    """Four stories in three themes, with the chart and the most active outlets a built digest has."""
    stories = [
        story(1, WEATHER, "https://wx.example/1", "Weather Desk", theme="weather"),
        story(2, CATALYST, "https://chem.example/2", "科技日报", language="zh", theme="materials"),
        story(3, SUMMIT, "https://news.example/3", "新华网", language="zh", theme="events"),
        story(4, "Storm surge model", "https://wx.example/4", "Weather Desk", theme="weather"),
    ]
    digest = make_digest(stories)
    days = [f"2026-10-{day:02d}" for day in range(24, 32)] + [f"2026-11-{day:02d}" for day in range(1, 23)]
    digest["top"] = [1, 2, 3]
    digest["sections"] = [
        {"key": "weather", "title": "Weather and climate", "stories": [1, 4]},
        {"key": "materials", "title": "Materials and chemistry", "stories": [2]},
        {"key": "events", "title": "Events", "stories": [3]},
    ]
    digest["chart"] = {"days": days, "series": {"zh": [i % 4 for i in range(30)], "en": [i % 3 for i in range(30)]}}
    digest["active_outlets"] = [{"outlet": "Weather Desk", "articles": 2}, {"outlet": "新华网", "articles": 1}]
    return digest


def test_html_has_top_stories_sections_and_an_inline_svg_chart(sectioned: dict[str, Any]) -> None:
    page = lxml.html.fromstring(render(sectioned, "html"))

    assert [li.text_content().split(" ")[0] for li in page.xpath("//section[@class='top']/ol/li")] == [
        "AI", CATALYST, SUMMIT,
    ]  # fmt: skip
    sections = page.xpath("//section[@class='theme']")
    assert [s.xpath("string(h2)") for s in sections] == [
        "Weather and climate 2",
        "Materials and chemistry 1",
        "Events 1",
    ]
    assert [a.xpath("string(h3)") for a in sections[0].xpath("article")] == [WEATHER, "Storm surge model"]
    chart = page.xpath("//section[@class='activity']//*[local-name()='svg']")
    assert len(chart) == 1
    bars = chart[0].xpath(".//*[local-name()='rect'][*[local-name()='title']]")
    assert len(bars) == sum(1 for s in sectioned["chart"]["series"].values() for n in s if n)
    assert {t.text for t in chart[0].xpath(".//*[local-name()='text']")} >= {"zh", "en", "2026-10-24", "2026-11-22"}
    assert "Weather Desk (2), 新华网 (1)" in page.xpath("string(//p[@class='outlets'])")
    assert not page.xpath("//script | //*[local-name()='script'] | //*[local-name()='foreignObject']")


def test_markdown_has_top_stories_sections_and_a_sparkline(sectioned: dict[str, Any]) -> None:
    markdown = render(sectioned, "md")
    page = lxml.html.fromstring(MarkdownIt("commonmark").render(markdown))

    h2 = [h.text_content() for h in page.iter("h2")]
    assert h2 == ["Top stories", "Weather and climate (2)", "Materials and chemistry (1)", "Events (1)"]
    assert [h.text_content() for h in page.iter("h3")] == [f"1. {WEATHER}", "2. Storm surge model", f"3. {CATALYST}",
                                                            f"4. {SUMMIT}"]  # fmt: skip
    assert "most active outlets: Weather Desk (2), 新华网 (1)" in page.text_content()
    assert len(page.xpath("string(//code)")) == 30  # one block character a day


def test_an_old_digest_without_sections_renders_as_a_list(sectioned: dict[str, Any]) -> None:
    old = copy.deepcopy(sectioned)
    for key in ("top", "sections", "chart", "active_outlets"):
        del old[key]
    page = lxml.html.fromstring(render(old, "html"))
    assert len(page.xpath("//main/article/h2")) == 4 and not page.xpath("//svg | //section")


def test_dates_show_the_precision_known_and_counts_their_plural() -> None:
    assert when("2026-08-11T00:00:00Z") == "2026-08-11"  # a day only: no made-up 00:00 UTC
    assert when("2026-08-11T06:30:00+08:00") == "2026-08-10 22:30 UTC"
    assert [plural(1, "story"), plural(2, "story"), plural(1, "error"), plural(0, "error")] == [
        "1 story", "2 stories", "1 error", "0 errors",
    ]  # fmt: skip
    one = make_digest([story(1, WEATHER, "https://wx.example/1", "Weather Desk")])
    assert subject(one).startswith("AI for Science digest: 1 story,")
    assert "digest: 1 story" in render(one, "md") and "1 new article from 1 outlet" in render(one, "md")


@pytest.mark.parametrize(
    ("text", "title", "lead"),
    [
        ("新华网北京8月11日电 题：人工智能助力天气预报\n中国气象局11日发布了新一代人工智能天气预报模型，预报时效延长到15天。",
         "人工智能助力天气预报", "中国气象局11日发布了新一代人工智能天气预报模型，预报时效延长到15天。"),
        ("新华社北京8月11日电（记者张三）中国科学院11日发布了科学大模型，可用于材料设计。",
         "科学大模型", "中国科学院11日发布了科学大模型，可用于材料设计。"),
        ("• Researchers used machine learning to find a catalyst that works three times faster.",
         "Catalyst", "Researchers used machine learning to find a catalyst that works three times faster."),
        ("BEIJING, Aug. 11 (Xinhua) -- Chinese scientists have used AI to forecast floods ten days ahead.",
         "Floods", "Chinese scientists have used AI to forecast floods ten days ahead."),
        ("AI forecasts floods A study in Nature reports that a model forecasts floods ten days ahead.",
         "AI forecasts floods", "A study in Nature reports that a model forecasts floods ten days ahead."),
    ],
)  # fmt: skip
def test_the_excerpt_starts_with_the_news(text: str, title: str, lead: str) -> None:
    assert lead_excerpt(text, title) == lead


def test_the_theme_of_a_story_comes_from_its_headline_lead_and_terms() -> None:
    assert theme_of("中國氣象局發佈人工智慧天氣預報大模型", "", []) == "weather"  # traditional script too
    assert theme_of("AI finds new catalysts", "The catalyst works.", ["catalys*"]) == "materials"
    assert theme_of("Ministry announces AI for Science funding", "", []) == "policy"
    assert theme_of("Excellent AI results", "", []) == "other"  # "cell" only at the start of a word...
    assert theme_of("AI maps every cell of the brain", "", []) == "life"  # ...which this is


def test_each_source_has_one_outlet_name() -> None:
    def copy_of(article_id: int, source: str, site_name: str | None) -> DigestCopy:
        seen = datetime(2026, 11, 21, tzinfo=UTC)
        return DigestCopy(article_id, 1, source, "http://x.example/", "t", site_name, None, None, seen, "zh", 0.9, None)

    stories = [
        PeriodStory(1, datetime(2026, 11, 21, tzinfo=UTC), [copy_of(1, "xinhua", "新华网"), copy_of(2, "sina", None)]),
        PeriodStory(2, datetime(2026, 11, 21, tzinfo=UTC), [copy_of(3, "xinhua", "www.news.cn"),
                                                            copy_of(4, "xinhua", "新华网")]),
    ]  # fmt: skip
    assert outlet_names(stories) == {"xinhua": "新华网", "sina": "sina"}
