"""The log line of a run's counts (crawler/schedule/counts.py): every counter by its header, nouns in the number
they are counted in."""

from __future__ import annotations

from crawler.schedule.counts import describe_counts
from crawler.text.wording import plural_of
from storage.counters import COUNTERS, ENTRY_COUNTERS, RUN_COUNTERS


def test_describe_counts_names_each_value_by_its_header() -> None:
    values = {name: 10 + index for index, name in enumerate(counter.name for counter in COUNTERS)}
    line = describe_counts(values)
    pages, entry = line.split("; entry pages: ")
    by_word = {plural_of(counter.noun) if counter.noun else counter.header: counter.name for counter in COUNTERS}
    for part in pages.split(", ") + entry.split(", "):
        number, word = part.split(" ", 1)
        assert values[by_word[word]] == int(number), part
    assert len(pages.split(", ")) == len(RUN_COUNTERS) and len(entry.split(", ")) == len(ENTRY_COUNTERS)
    assert describe_counts({}).startswith("0 fetched, 0 new")


def test_one_of_a_counted_noun_is_singular() -> None:
    one = describe_counts({"errors": 1, "fallbacks": 1, "new_articles": 1})
    assert "1 error," in one and "1 fallback;" in one and "1 new," in one
    many = describe_counts({"errors": 2, "fallbacks": 3})
    assert "2 errors," in many and "3 fallbacks;" in many and "0 errors" in describe_counts({})
