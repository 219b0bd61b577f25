"""The publication date of an extracted article: the page's own tags and marked-up dates first; where they give
none, the date the feed or sitemap that named the page gave, else a search of the page's text."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from crawler.text.extract import ExtractedArticle, extract_article

URL = "https://lab.example/news/ai-climate-emulator"
PARAGRAPHS = "".join(
    f"<p>{sentence}</p>"
    for sentence in (
        "Researchers trained a neural emulator of the climate system on decades of simulations.",
        "It now reproduces regional rainfall patterns a thousand times faster than the model it learned from.",
        "The team says the emulator lets them run large ensembles of scenarios on a single workstation.",
        "Its errors stay within those of the physical model on every continent but Antarctica.",
        "The code and the trained weights are published under an open licence for other groups to test.",
    )
)


def page(head: str = "", dateline: str = "") -> bytes:
    body = f"<article><h1>AI emulates the climate</h1>{dateline}{PARAGRAPHS}</article>"
    return f"<html><head><title>AI emulates the climate</title>{head}</head><body>{body}</body></html>".encode()


def published(body: bytes, first_published: datetime | None = None) -> datetime | None:
    result = extract_article(body, URL, "utf-8", "text/html", first_published)
    assert isinstance(result, ExtractedArticle), result
    return result.published


FEED_DATE = datetime(2025, 3, 3, 8, 30, tzinfo=UTC)


def test_a_date_only_in_the_text_is_found_by_searching_it() -> None:
    assert published(page(dateline="<p>Posted on 12 May 2021 by the lab</p>")) == datetime(2021, 5, 12, tzinfo=UTC)


def test_the_feed_date_stands_in_for_the_search_of_the_text() -> None:
    assert published(page(dateline="<p>Posted on 12 May 2021 by the lab</p>"), FEED_DATE) == FEED_DATE
    assert published(page(), FEED_DATE) == FEED_DATE  # a page with no date at all


def test_the_date_the_page_declares_wins_over_the_feed() -> None:
    declared = '<meta property="article:published_time" content="2025-03-01T10:00:00+00:00">'
    assert published(page(head=declared), FEED_DATE) == datetime(2025, 3, 1, 10, tzinfo=UTC)


@pytest.mark.parametrize(
    "tagged",
    [
        '<meta property="article:published_time" content="{}">',
        '<script type="application/ld+json">{{"@context": "https://schema.org", "@graph": [{{"@type": "NewsArticle",'
        ' "headline": "AI emulates the climate", "datePublished": "{}"}}]}}</script>',
    ],
)
@pytest.mark.parametrize("moment", ["2026-02-27T23:30:00-08:00", "2026-02-28T01:15:00+08:00"])
def test_the_page_s_moment_of_publication_is_kept_with_its_time_and_zone(tagged: str, moment: str) -> None:
    # Before, the day alone was kept, at midnight UTC: 2026-02-28T01:15+08:00 (17:15 UTC on the 27th) was stored as
    # the 28th at midnight UTC, hours after the article came out.
    found = published(page(head=tagged.format(moment)))
    assert found == datetime.fromisoformat(moment) and found is not None and found.utcoffset() is not None


def test_the_page_s_moment_wins_over_the_feed_s_of_the_same_day() -> None:
    declared = '<meta property="article:published_time" content="2025-03-03T10:00:00+00:00">'
    assert published(page(head=declared), FEED_DATE) == datetime(2025, 3, 3, 10, tzinfo=UTC)  # the feed says 8:30


def test_the_feed_s_moment_is_kept_where_the_page_gives_its_day_alone() -> None:
    dated = "https://lab.example/news/2025/03/03/ai-climate-emulator.html"
    result = extract_article(page(), dated, "utf-8", "text/html", FEED_DATE)
    assert isinstance(result, ExtractedArticle) and result.published == FEED_DATE  # 8:30, not midnight
    other_day = datetime(2025, 3, 9, 8, 30, tzinfo=UTC)  # a feed's date of another day: the page's day stands
    result = extract_article(page(), dated, "utf-8", "text/html", other_day)
    assert isinstance(result, ExtractedArticle) and result.published == datetime(2025, 3, 3, tzinfo=UTC)


def test_the_timestamp_a_portal_shows_is_its_date_and_a_year_alone_is_not() -> None:
    # a Chinese portal of the 2000s: no dated tag, the time of publication printed above the article, a
    # copyright year below it (htmldate's search of the text took the copyright year: 2005-01-01)
    shown = "<p>2004年7月16日08:19 来源：新华网</p>"
    footer = "<p>Copyright © 2005 Portal. All rights reserved.</p>"
    body = page(dateline=shown).replace(b"</body>", footer.encode() + b"</body>")
    assert published(body) == datetime(2004, 7, 16, tzinfo=UTC)
    assert published(page(dateline="<p>Updated 2023-05-02 14:05</p>")) == datetime(2023, 5, 2, tzinfo=UTC)
    # the feed's date still stands in for whatever the text shows
    assert published(page(dateline=shown), FEED_DATE) == FEED_DATE
