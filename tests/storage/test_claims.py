"""Claims on article URLs (storage.claims), on SQLite and PostgreSQL: a URL is one crawl's until that crawl
releases it or its claim lapses; overlapping batches claimed at once by two crawls give each URL to one."""

from __future__ import annotations

import threading
from datetime import timedelta

from sqlalchemy import func, select

from storage import Database
from storage.claims import claim_urls, release_claims, release_claims_of_sources
from storage.models import UrlClaim, utcnow
from storage.repository import known_among, record_fetch

URLS = [f"https://wire.example/story/{i}" for i in range(6)]


def claim(database: Database, urls: list[str], run: int, **options: object) -> set[str]:
    return database.transaction(lambda s: claim_urls(s, [(u, "src") for u in urls], run, **options))  # type: ignore[arg-type]


def test_a_url_claimed_by_a_live_crawl_is_not_another_crawls(database: Database) -> None:
    assert claim(database, URLS[:4], run=1) == set(URLS[:4])
    assert claim(database, URLS[2:], run=2) == set(URLS[4:])
    assert claim(database, URLS[:4], run=1) == set(URLS[:4])  # claiming again what is one's own is fine


def test_a_page_linking_more_urls_than_a_statement_binds_is_claimed_and_checked_whole(database: Database) -> None:
    # 70,000 URLs: five values each passes SQLite's and PostgreSQL's limits on one statement's parameters
    many = [f"https://wire.example/2024/05/01/story-{i}.html" for i in range(70_000)]
    assert claim(database, many[:10], run=2) == set(many[:10])
    assert claim(database, many, run=1) == set(many[10:])
    known = [many[5], many[69_999]]  # one in the first batch of the check, one in its last
    database.transaction(
        lambda s: [record_fetch(s, source="src", url=url, canonical_url=url, outcome="not_html") for url in known]
    )
    with database.session() as session:
        assert known_among(session, many, max_attempts=3) == set(known)


def test_a_lapsed_claim_is_taken_over(database: Database) -> None:
    past = utcnow() - timedelta(hours=1)
    assert claim(database, URLS[:2], run=1, now=past) == set(URLS[:2])
    assert claim(database, URLS[:3], run=2) == set(URLS[:3])
    with database.session() as session:
        owners = dict(session.execute(select(UrlClaim.url, UrlClaim.claimed_by)).all())
    assert owners == {url: 2 for url in URLS[:3]}


def test_released_claims_are_free_again(database: Database) -> None:
    claim(database, URLS[:3], run=1)
    claim(database, URLS[3:], run=3)
    assert database.transaction(lambda s: release_claims(s, 1)) == 3
    assert claim(database, URLS, run=2) == set(URLS[:3])
    # a crawl holding the source's cluster lock drops what other runs claimed for that source
    assert database.transaction(lambda s: release_claims_of_sources(s, ["src"], keep=2)) == 3
    assert claim(database, URLS, run=2) == set(URLS)


def test_overlapping_batches_claimed_at_once_give_each_url_to_one_crawl(database: Database) -> None:
    urls = [f"https://wire.example/a/{i}" for i in range(200)]
    results: dict[int, set[str]] = {}
    errors: list[BaseException] = []
    start = threading.Barrier(4)

    def crawl(run: int) -> None:
        batch = urls if run % 2 else list(reversed(urls))
        try:
            start.wait()
            got: set[str] = set()
            for i in range(0, len(batch), 25):
                got |= claim(database, batch[i : i + 25], run=run)
            results[run] = got
        except BaseException as error:  # reported below, with the test's own message
            errors.append(error)

    threads = [threading.Thread(target=crawl, args=(run,)) for run in range(1, 5)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert not errors, errors
    owners = [run for run, got in results.items() for _ in got]
    assert len(owners) == len(urls)  # no URL claimed twice, none lost
    assert set().union(*results.values()) == set(urls)
    with database.session() as session:
        assert session.execute(select(func.count()).select_from(UrlClaim)).scalar() == len(urls)


def test_the_claims_of_crawls_that_are_gone_are_dropped(database: Database) -> None:
    from storage.claims import release_claims_of_gone_runs
    from storage.repository import finish_run, start_run

    with database.session() as session, session.begin():
        ended, killed, live, ours = (start_run(session, ["src"], pid=100 + i, host="here") for i in range(4))
        finish_run(session, ended, "ok")
    for run, urls in ((ended, URLS[:1]), (killed, URLS[1:2]), (live, URLS[2:3]), (ours, URLS[3:4])):
        claim(database, urls, run=run)
    dropped = database.transaction(lambda s: release_claims_of_gone_runs(s, lambda run: run.id != killed, keep=ours))
    assert dropped == 2  # the ended run's and the killed one's; the live one's and our own stay
    assert claim(database, URLS, run=ours) == {URLS[0], URLS[1], URLS[3], URLS[4], URLS[5]}
