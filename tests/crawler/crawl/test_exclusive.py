"""Which sources a crawl may crawl when other crawls hold sources or hosts (crawler.crawl.exclusive), against
a real PostgreSQL: a held source is skipped at once, a busy host is waited for, a source's hosts are taken all
or none."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from crawler.crawl.exclusive import lock_sources
from crawler.sources import Source
from storage.advisory import HOST, SOURCE, AdvisoryLocks
from tests.databases import postgres_url


def source(name: str, *hosts: str) -> Source:
    return Source(name, feeds=tuple(f"https://{host}/feed.xml" for host in hosts), hosts=frozenset(hosts))


@pytest.fixture
def two_crawls() -> Iterator[tuple[AdvisoryLocks, AdvisoryLocks]]:
    """The lock connections of two crawl processes on the test PostgreSQL."""
    url = postgres_url()
    with AdvisoryLocks(url) as ours, AdvisoryLocks(url) as other:
        yield ours, other


def never_sleep(seconds: float) -> None:
    raise AssertionError("no wait was expected")


def test_a_source_another_crawl_holds_is_skipped_at_once(two_crawls: tuple[AdvisoryLocks, AdvisoryLocks]) -> None:
    ours, other = two_crawls
    assert other.try_lock(SOURCE, "nature")
    exclusion = lock_sources(ours, [source("nature", "nature.com"), source("cell", "cell.com")], 60, sleep=never_sleep)
    assert exclusion.kept == ["cell"]
    assert exclusion.skipped["nature"].startswith("skipped: another crawl of nature is running (server backend")
    assert (HOST, "cell.com") in ours.held and (HOST, "nature.com") not in ours.held


def test_a_busy_host_is_waited_for(two_crawls: tuple[AdvisoryLocks, AdvisoryLocks]) -> None:
    ours, other = two_crawls
    assert other.try_lock(HOST, "example.org")
    waits: list[float] = []

    def other_crawl_ends(seconds: float) -> None:
        waits.append(seconds)
        other.unlock(HOST, "example.org")

    exclusion = lock_sources(
        ours, [source("news", "example.org"), source("science", "example.org")], 60, 0.5, other_crawl_ends
    )
    assert exclusion.kept == ["news", "science"] and not exclusion.skipped
    assert waits == [0.5]
    assert not other.try_lock(HOST, "example.org")


def test_a_host_busy_past_the_wait_skips_its_source_and_frees_its_locks(
    two_crawls: tuple[AdvisoryLocks, AdvisoryLocks],
) -> None:
    ours, other = two_crawls
    assert other.try_lock(HOST, "b.example")
    exclusion = lock_sources(ours, [source("ab", "a.example", "b.example")], host_wait=0, sleep=never_sleep)
    assert exclusion.kept == []
    assert exclusion.skipped == {"ab": "skipped: another crawl was on host b.example for 0 s"}
    # all or none: the free host it took while trying is not kept, nor is the source
    assert ours.held == set()
    assert other.try_lock(HOST, "a.example") and other.try_lock(SOURCE, "ab")
