"""Counts as people read them (crawler/text/wording.py)."""

from __future__ import annotations

from crawler.text.wording import plural


def test_one_is_singular_and_every_other_count_plural() -> None:
    assert [plural(1, "story"), plural(2, "story"), plural(0, "story")] == ["1 story", "2 stories", "0 stories"]
    assert [plural(1, "error"), plural(3, "error"), plural(2, "day"), plural(2, "copy")] == [
        "1 error",
        "3 errors",
        "2 days",
        "2 copies",
    ]


def test_a_phrase_changes_its_last_word_and_an_irregular_plural_is_given() -> None:
    assert plural(2, "failed run") == "2 failed runs" and plural(1, "failed run") == "1 failed run"
    assert plural(2, "most recent story") == "2 most recent stories" and plural(4, "batch") == "4 batches"
    assert plural(2, "person", "people") == "2 people" and plural(1, "person", "people") == "1 person"
