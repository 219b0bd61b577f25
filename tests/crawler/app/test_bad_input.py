"""Ordinary mistakes end in one line naming the problem, never a traceback, with exit code 2 for a usage
mistake and 1 for a failure at run time; a command says which database it used, and when it created it.

Each case runs the real command line in a subprocess, as a user meets it."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from sqlalchemy import make_url

from tests.crawler.support import PROJECT_ROOT

#: Every command that opens the corpus, with the arguments it needs besides ``--db``.
DATABASE_COMMANDS = [
    ("crawl",),
    ("daemon",),
    ("jobs",),
    ("digest",),
    ("export",),
    ("rescore",),
    ("reprocess",),
    ("stories",),
    ("stories", "rebuild"),
    ("stats",),
]
#: A loopback port nothing listens on: a connection to it is refused at once, offline.
REFUSING_PORT = 1


def ai4s(*args: str, cwd: Path = PROJECT_ROOT, timeout: float = 300) -> subprocess.CompletedProcess[str]:
    """``python -m crawler ARGS`` in a subprocess run from ``cwd``, output captured."""
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [str(PROJECT_ROOT), os.environ.get("PYTHONPATH")]))}
    return subprocess.run(
        [sys.executable, "-m", "crawler", *args],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


def error_line(result: subprocess.CompletedProcess[str]) -> str:
    """The one error line of a command that failed (and that nothing printed a traceback)."""
    assert "Traceback" not in result.stdout + result.stderr, result.stderr[-3000:]
    errors = [line for line in result.stderr.splitlines() if line.startswith("error: ")]
    assert len(errors) == 1, result.stderr[-3000:]
    return errors[0]


def sources_file(tmp_path: Path, every: str = "6h", *urls: str) -> Path:
    """A sources file of one source per URL (a feed each), all on the schedule ``every``."""
    path = tmp_path / "sources.toml"
    blocks = [
        f'[[source]]\nname = "dead-{number}"\nlanguage = "en"\nevery = "{every}"\nfeeds = ["{url}"]\n'
        for number, url in enumerate(urls or ["http://127.0.0.1:1/rss.xml"], start=1)
    ]
    path.write_text("\n".join(blocks), encoding="utf-8")
    return path


@pytest.mark.parametrize("command", DATABASE_COMMANDS, ids=" ".join)
def test_a_database_url_of_an_unknown_system_is_a_usage_mistake(command: tuple[str, ...]) -> None:
    result = ai4s(*command, "--db", "foo://x")
    assert result.returncode == 2
    assert error_line(result) == (
        "error: database 'foo://x': 'foo' is not supported "
        "(use sqlite or postgresql: sqlite:///FILE or postgresql://USER@HOST/NAME)"
    )
    assert "Unhandled error in Deferred" not in result.stderr and "crawl run" not in result.stdout


def test_a_database_that_is_neither_a_url_nor_a_path_is_refused_and_no_file_is_made(tmp_path: Path) -> None:
    result = ai4s("stats", "--db", "not-a-url", cwd=tmp_path)
    assert result.returncode == 2
    assert "database 'not-a-url' is neither a URL" in error_line(result)
    assert "./not-a-url for a file here" in result.stderr
    assert list(tmp_path.iterdir()) == []
    # a value that reads as a path is a SQLite file, as before
    as_path = ai4s("stats", "--db", "./corpus.db", cwd=tmp_path)
    assert as_path.returncode == 0, as_path.stderr
    assert (tmp_path / "corpus.db").is_file()


def test_an_unreachable_postgresql_server_is_a_failure_at_run_time() -> None:
    url = f"postgresql://postgres@127.0.0.1:{REFUSING_PORT}/nosuch"
    for command in (("stats",), ("crawl",), ("export",)):
        result = ai4s(*command, "--db", url)
        assert result.returncode == 1, command
        line = error_line(result)
        assert line.startswith(f"error: cannot open the database {url}: ") and "Connection refused" in line
        assert "crawl run" not in result.stdout  # the crawl did not start


def test_a_refused_login_is_named_without_the_password() -> None:
    server = os.environ.get("AI4S_TEST_POSTGRES_URL")
    if not server:
        pytest.skip("AI4S_TEST_POSTGRES_URL is not set: no PostgreSQL server to refuse a login")
    url = make_url(server).set(username="no_such_role_ai4s", password="secret-word")
    result = ai4s("stories", "--db", url.render_as_string(hide_password=False))
    assert result.returncode == 1
    line = error_line(result)
    assert 'role "no_such_role_ai4s" does not exist' in line and "***" in line
    assert "secret-word" not in result.stdout + result.stderr


def test_an_unwritable_or_foreign_database_file_is_a_failure_at_run_time(tmp_path: Path) -> None:
    a_file = tmp_path / "notes.txt"
    a_file.write_text("not a folder, not a database\n", encoding="utf-8")
    under_a_file = ai4s("export", "--db", f"sqlite:///{a_file}/corpus.sqlite3")
    assert under_a_file.returncode == 1
    assert error_line(under_a_file) == (
        f"error: cannot open the database sqlite:///{a_file}/corpus.sqlite3: Not a directory: {a_file}"
    )
    not_a_database = ai4s("stories", "--db", f"sqlite:///{a_file}")
    assert not_a_database.returncode == 1
    assert error_line(not_a_database) == f"error: cannot open the database sqlite:///{a_file}: file is not a database"


def test_an_export_into_a_missing_folder_is_a_failure_and_opens_no_database(tmp_path: Path) -> None:
    out = tmp_path / "missing" / "articles.jsonl"
    result = ai4s("export", "--db", f"sqlite:///{tmp_path / 'c.sqlite3'}", "--out", str(out))
    assert result.returncode == 1
    assert error_line(result) == f"error: {out}: No such file or directory"
    assert not (tmp_path / "c.sqlite3").exists()


@pytest.mark.parametrize("command", [("sources",), ("jobs",), ("crawl",), ("daemon",)], ids=" ".join)
def test_an_impossible_cron_schedule_is_refused_by_every_command_that_reads_it(
    tmp_path: Path, command: tuple[str, ...]
) -> None:
    sources = sources_file(tmp_path, "61 25 * * *")
    result = ai4s(*command, "--sources", str(sources), *(() if command == ("sources",) else ("--db", "x.sqlite3")))
    assert result.returncode == 2
    assert error_line(result) == (
        f"error: {sources}: source #1 ('dead-1'): key 'every' = '61 25 * * *': minute 61 is out of range (0-59)"
    )
    assert not (PROJECT_ROOT / "x.sqlite3").exists()


def test_a_period_in_the_future_is_a_usage_mistake(tmp_path: Path) -> None:
    db = f"sqlite:///{tmp_path / 'c.sqlite3'}"
    for command in ("digest", "reprocess"):
        result = ai4s(command, "--db", db, "--since", "2099-01-01")
        assert result.returncode == 2, command
        assert error_line(result) == "error: --since 2099-01-01 is in the future: a period starts before now"


def test_a_source_name_that_matches_nothing_is_a_usage_mistake(tmp_path: Path) -> None:
    db = f"sqlite:///{tmp_path / 'c.sqlite3'}"
    digest = ai4s("digest", "--db", db, "--source", "nosuch")
    assert digest.returncode == 2 and error_line(digest) == "error: --source: no stored source named 'nosuch'"
    reprocess = ai4s("reprocess", "--db", db, "--source", "nosuch")
    assert reprocess.returncode == 2 and error_line(reprocess) == "error: no stored source named 'nosuch'"
    crawl = ai4s("crawl", "--db", db, "--source", "nosuch")
    assert crawl.returncode == 2 and "no source named 'nosuch'" in error_line(crawl)


def test_each_command_names_its_database_once_and_warns_when_it_created_it(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'new.sqlite3'}"
    first = ai4s("stories", "--db", url)
    assert first.returncode == 0, first.stderr
    assert first.stderr.splitlines()[0] == f"warning: new empty database created: {url}"
    assert first.stderr.count(url) == 1
    for command in DATABASE_COMMANDS[2:]:  # crawl and the daemon would run: they name it the same way
        again = ai4s(*command, "--db", url)
        assert again.returncode == 0, (command, again.stderr)
        assert again.stderr.splitlines()[0] == f"database: {url}", command
        assert again.stderr.count(url) == 1 and "warning: new" not in again.stderr, command


def test_an_empty_export_says_so(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'empty.sqlite3'}"
    result = ai4s("export", "--db", url)
    assert result.returncode == 0 and result.stdout == ""
    assert result.stderr.splitlines()[1:] == [
        "nothing exported: the database holds no on-topic article (--all exports the off-topic ones too)"
    ]
    everything = ai4s("export", "--db", url, "--all")
    assert everything.stderr.splitlines()[1:] == ["nothing exported: the database holds no article"]


def test_a_crawl_of_unreachable_sources_prints_a_line_per_source_and_the_summary(tmp_path: Path) -> None:
    refused = f"http://127.0.0.1:{REFUSING_PORT}"
    sources = sources_file(tmp_path, "6h", f"{refused}/rss.xml", f"{refused}/news/feed.xml")
    db = f"sqlite:///{tmp_path / 'c.sqlite3'}"
    result = ai4s("crawl", "--sources", str(sources), "--db", db)
    assert result.returncode == 1
    assert error_line(result) == "error: the crawl failed: see the lines above"
    lines = result.stderr.splitlines()
    assert lines[0] == f"warning: new empty database created: {db}"
    per_source = lines[1:-1]
    assert len(per_source) == 2, result.stderr
    for name, url in (("dead-1", f"{refused}/rss.xml"), ("dead-2", f"{refused}/news/feed.xml")):
        (line,) = [line for line in per_source if f"Source {name}: feed {url} failed" in line]
        assert "robots.txt unreachable (DownloadConnectionRefusedError)" in line
    assert "crawl run 1: failed" in result.stdout
    assert any(line.startswith("│ dead-1 ") for line in result.stdout.splitlines())
    # the failed downloads' own records, tracebacks included, are DEBUG: in the log at that level only
    log = tmp_path / "crawl.log"
    logged = ai4s("crawl", "--sources", str(sources), "--db", db, "--log-level", "DEBUG", "--log-file", str(log))
    assert logged.returncode == 1 and error_line(logged) == f"error: the crawl failed: see {log}"
    text = log.read_text(encoding="utf-8")
    assert "[scrapy.downloadermiddlewares.retry] DEBUG: Gave up retrying" in text
    assert "[scrapy.downloadermiddlewares.robotstxt] DEBUG: Error downloading" in text
    assert "ERROR" not in text


def test_a_crawl_that_cannot_start_says_why_on_the_terminal_even_with_a_log_file(tmp_path: Path) -> None:
    sources = sources_file(tmp_path)
    db = f"sqlite:///{tmp_path / 'c.sqlite3'}"
    log = tmp_path / "crawl.log"
    result = ai4s("crawl", "--sources", str(sources), "--db", db, "-s", "AI4S_RUN_ID=999", "--log-file", str(log))
    assert result.returncode == 1
    assert error_line(result) == "error: the crawl could not start: crawl run 999 does not exist or is not running"
    assert result.stdout == ""  # no summary table of a crawl that never ran
    assert "ERROR: The crawl could not start: crawl run 999 does not exist" in log.read_text(encoding="utf-8")
