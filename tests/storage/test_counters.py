"""The run counters (storage/counters.py): defined once, and every other place agrees with them."""

from __future__ import annotations

import pytest
from sqlalchemy import Integer

from storage import Database
from storage.counters import COUNTERS, ENTRY_COUNTERS, RUN_COUNTERS, SUMMARY_COUNTERS, SourceRunCounts
from storage.models import CrawlRunSource
from storage.repository import run_counts, save_run_counts, start_run


def test_the_counter_columns_of_the_model_are_the_counters() -> None:
    columns = {column.name: column for column in CrawlRunSource.__table__.columns}
    counter_columns = set(columns) - {"id", "run_id", "source_id"}
    assert counter_columns == {counter.name for counter in COUNTERS}
    for name in counter_columns:
        assert isinstance(columns[name].type, Integer), name
        assert columns[name].default is not None and columns[name].default.arg == 0, name


def test_every_counter_is_either_a_page_or_an_entry_page_counter() -> None:
    names = [counter.name for counter in COUNTERS]
    assert len(names) == len(set(names))
    assert sorted(RUN_COUNTERS + ENTRY_COUNTERS) == sorted(names)
    assert not set(RUN_COUNTERS) & set(ENTRY_COUNTERS)
    assert all(name.startswith("entry_pages_") for name in ENTRY_COUNTERS)
    assert all(counter.header and counter.meaning for counter in COUNTERS)
    headers = [counter.header for counter in SUMMARY_COUNTERS]
    assert len(headers) == len(set(headers))  # two columns with one header could not be told apart


def test_the_counters_of_a_row_are_given_by_name_only() -> None:
    with pytest.raises(TypeError):
        SourceRunCounts("xinhua", 1, 2)  # type: ignore[misc]
    row = SourceRunCounts("xinhua", new_articles=2)
    assert row.new_articles == 2 and row.pages_fetched == 0


def test_each_counter_is_stored_and_read_back_under_its_own_name(database: Database) -> None:
    values = {name: 10 + index for index, name in enumerate(counter.name for counter in COUNTERS)}
    with database.session() as session, session.begin():
        run_id = start_run(session, ["xinhua"])
        save_run_counts(session, run_id, "xinhua", values)
    with database.session() as session:
        (row,) = run_counts(session, run_id)
    assert row.source == "xinhua"
    assert {name: getattr(row, name) for name in values} == values


def test_unreachable_means_every_entry_page_failed() -> None:
    assert SourceRunCounts("a", entry_pages_failed=2).unreachable
    assert not SourceRunCounts("a", entry_pages_failed=2, entry_pages_unchanged=1).unreachable
    assert not SourceRunCounts("a", entry_pages_failed=2, entry_pages_read=1).unreachable
    assert not SourceRunCounts("a").unreachable
