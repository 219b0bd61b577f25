"""The sources file: what it accepts, and clear errors for what it does not."""

from __future__ import annotations

from pathlib import Path

import pytest

from crawler.sources import DEFAULT_SOURCES_FILE, SourcesError, load_sources, parse_sources
from crawler.text.durations import parse_schedule

GOOD = """
[[source]]
name = "xinhua"
language = "zh"
every = "30m"
feeds = ["http://www.news.cn/rss/tech.xml"]
sitemaps = ["http://www.news.cn/robots.txt"]

[[source]]
name = "sjtu-en"
every = "0 8 * * 1-5"
start_urls = ["https://en.sjtu.edu.cn/news"]
max_depth = 1
max_pages = 40
"""


def test_a_good_file_gives_its_sources() -> None:
    xinhua, sjtu = parse_sources(GOOD)
    assert xinhua.name == "xinhua" and xinhua.feeds == ("http://www.news.cn/rss/tech.xml",)
    assert xinhua.hosts == {"www.news.cn"} and xinhua.max_depth == 2
    assert (sjtu.every, sjtu.max_depth, sjtu.max_pages, sjtu.language) == ("0 8 * * 1-5", 1, 40, None)


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ('[[source]]\nname = "a"\nfeedz = ["http://x/rss"]', "source #1 ('a'): unknown key 'feedz'"),
        ('[[source]]\nname = "a"', "source #1 ('a'): needs at least one of"),
        (
            '[[source]]\nname = "a"\nfeeds = ["ftp://x/rss"]',
            "source #1 ('a'): key 'feeds': 'ftp://x/rss' is not an http(s) URL",
        ),
        ('[[source]]\nname = "a"\nfeeds = "http://x/rss"\nevery = "often"', "source #1 ('a'): key 'every' = 'often'"),
        ('[[source]]\nname = "A b"\nfeeds = ["http://x/rss"]', "source #1 ('A b'): key 'name' must be"),
        ('[[source]]\nname = "a"\nfeeds = ["http://x/rss"]\nmax_pages = -1', "source #1 ('a'): key 'max_pages'"),
        ('[[source]]\nname = "a"\nfeeds = [1]', "source #1 ('a'): key 'feeds' must be a list of URLs"),
        (
            '[[source]]\nname = "a"\nfeeds = ["http://x/r"]\n[[source]]\nname = "a"\nfeeds = ["http://y/r"]',
            "source #2 ('a'): key 'name': 'a' is used twice",
        ),
        ("[[source]\nname=", "not valid TOML"),
        ('title = "x"', "unknown top-level key 'title'"),
    ],
)
def test_a_bad_file_is_rejected_with_the_source_and_key(body: str, message: str) -> None:
    with pytest.raises(SourcesError) as caught:
        parse_sources(body, "my.toml")
    assert str(caught.value).startswith("my.toml")
    assert message in str(caught.value)


def test_missing_file_and_unknown_source_name(tmp_path: Path) -> None:
    with pytest.raises(SourcesError, match="cannot read sources file"):
        load_sources(tmp_path / "absent.toml")
    path = tmp_path / "s.toml"
    path.write_text(GOOD, encoding="utf-8")
    assert [s.name for s in load_sources(path, ["sjtu-en"])] == ["sjtu-en"]
    with pytest.raises(SourcesError, match="no source named 'people'"):
        load_sources(path, ["people"])


def test_intervals() -> None:
    assert parse_schedule("90s") == 90 and parse_schedule("30m") == 1800 and parse_schedule("6h") == 21600
    assert parse_schedule("1d") == 86400 and parse_schedule("*/15 * * * *") is None
    with pytest.raises(ValueError):
        parse_schedule("0m")


def test_the_shipped_sources_file_is_valid() -> None:
    sources = load_sources(DEFAULT_SOURCES_FILE)
    assert len(sources) >= 5
    assert all(s.entry_urls for s in sources)
