"""The crawl summary table (crawler/app/tables.py): its columns and caption come from the counters."""

from __future__ import annotations

from rich.console import Console

from crawler.app.tables import summary_table
from storage.counters import SUMMARY_COUNTERS, SourceRunCounts


def rendered(table: object) -> str:
    console = Console(width=400, record=True, color_system=None)
    console.print(table)
    return console.export_text()


def test_the_summary_shows_each_summary_counter_under_its_header_with_a_total() -> None:
    rows = [
        SourceRunCounts("xinhua", **{c.name: 10 + i for i, c in enumerate(SUMMARY_COUNTERS)}),
        SourceRunCounts("sjtu", **{c.name: 100 + i for i, c in enumerate(SUMMARY_COUNTERS)}),
    ]
    lines = rendered(summary_table(rows, "crawl run 1: ok")).splitlines()
    header = next(line for line in lines if "source" in line)
    cells = [cell.strip() for cell in header.split("┃")[1:-1]]
    assert cells == ["source", *(c.header for c in SUMMARY_COUNTERS)]
    shown = {}
    for line in lines:
        cells = [cell.strip() for cell in line.split("│")[1:-1]]
        if cells:
            shown[cells[0]] = [int(cell) for cell in cells[1:]]
    for row in rows:
        assert shown[row.source] == [getattr(row, c.name) for c in SUMMARY_COUNTERS]
    assert shown["total"] == [a + b for a, b in zip(shown["xinhua"], shown["sjtu"], strict=True)]


def test_the_caption_says_what_every_column_counts() -> None:
    text = " ".join(rendered(summary_table([SourceRunCounts("xinhua")], "run")).split())
    for counter in SUMMARY_COUNTERS:
        assert f"{counter.header}: {counter.meaning}" in text


def test_the_stories_table_shows_headlines_without_pinyin_readings_as_the_digest_does() -> None:
    from datetime import UTC, datetime

    from crawler.app.tables import stories_table
    from storage.stories import Copy, StorySummary

    seen = datetime(2026, 11, 21, 8, tzinfo=UTC)
    head = Copy(1, "netease", "http://163.example/1", "新華網(wǎng)發(fā)布[科學]大模型", None, None, seen)
    text = rendered(stories_table([StorySummary(7, seen, seen, [head])]))
    assert "新華網發布[科學]大模型" in text and "wǎng" not in text


def test_search_results_show_headlines_and_passages_without_pinyin_readings_as_the_digest_does() -> None:
    from datetime import UTC, datetime

    from crawler.app.tables import search_records, search_table
    from storage.search import SearchHit
    from storage.stories import Copy

    seen = datetime(2026, 11, 21, 8, tzinfo=UTC)
    title, passage = "新華網(wǎng)發(fā)布[科學]大模型", "新華網(wǎng)消息：大模型預(yù)報天氣"
    copy = Copy(1, "netease", "http://163.example/1", title, None, None, seen)
    hit = SearchHit(7, 1, title, copy.url, "netease", "zh", None, seen, passage, [copy])
    text = rendered(search_table("大模型", [hit]))
    assert "新華網發布[科學]大模型" in text and "新華網消息：大模型預報天氣" in text and "wǎng" not in text
    [record] = search_records([hit])
    assert (record["title"], record["excerpt"], record["copies"][0]["title"]) == (
        "新華網發布[科學]大模型",
        "新華網消息：大模型預報天氣",
        "新華網發布[科學]大模型",
    )
