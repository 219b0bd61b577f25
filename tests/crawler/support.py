"""Helpers shared by the crawler tests: running the command line as a user does (in a subprocess
where the command needs a process of its own, in this process where it does not), and small pages."""

from __future__ import annotations

import json
import logging
import signal
import subprocess
import sys
import time
import traceback
from collections.abc import Mapping
from pathlib import Path

from typer.testing import CliRunner

from crawler.app.cli import app

PROJECT_ROOT = Path(__file__).resolve().parents[2]
PARAGRAPH = (
    "Researchers at the institute used machine learning models to predict the structure of "
    "new catalysts, cutting the time needed for laboratory screening from months to days. "
)
#: The terminal width the in-process command line renders its tables for, so that what a test
#: reads does not depend on the terminal it runs in.
COLUMNS = "200"


def run_python_module(module: str, *args: str, timeout: float = 300) -> subprocess.CompletedProcess[str]:
    """``python -m MODULE ARGS`` in a subprocess from the project root, output captured."""
    return subprocess.run(
        [sys.executable, "-m", module, *args],
        cwd=PROJECT_ROOT,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


def ai4s(*args: str, timeout: float = 300) -> subprocess.CompletedProcess[str]:
    """The ``ai4s`` command line in a subprocess: for a crawl (Scrapy's reactor runs once per process),
    the demo, the daemon and the entry point itself."""
    return run_python_module("crawler", *args, timeout=timeout)


def ai4s_in_process(*args: str, env: Mapping[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    """The ``ai4s`` command line run in this process with typer's CliRunner, reported as :func:`ai4s`
    reports a subprocess: the exit code, standard output and standard error apart.

    ``env`` adds to this process's environment for the run only. What a subprocess would print on
    its standard error and the runner would not is put there too: the traceback of an exception
    that escapes the command, and the log records that Python's last-resort handler would write
    (WARNING and above), which pytest's own log handler would otherwise take.
    """
    log_to_stderr = _CurrentStandardError(logging.WARNING)
    root = logging.getLogger()
    root.addHandler(log_to_stderr)
    try:
        result = CliRunner().invoke(app, list(args), env={"COLUMNS": COLUMNS, **(env or {})}, prog_name="ai4s")
    finally:
        root.removeHandler(log_to_stderr)
    stderr = result.stderr
    if result.exception is not None and not isinstance(result.exception, SystemExit):
        stderr += "".join(traceback.format_exception(result.exception))
    return subprocess.CompletedProcess(["ai4s", *args], result.exit_code, result.stdout, stderr)


class _CurrentStandardError(logging.Handler):
    """Writes log records to whatever ``sys.stderr`` is when they come, as Python's last-resort handler does."""

    def emit(self, record: logging.LogRecord) -> None:
        try:
            sys.stderr.write(self.format(record) + "\n")
        except Exception:  # a handler never raises into the code that logs
            self.handleError(record)


def article_html(title: str) -> str:
    """A small English news article page with navigation around the article (its paragraphs name its title,
    so that articles of other titles are other texts, not copies of one)."""
    body = "".join(f"<p>{PARAGRAPH} {title}, paragraph {i}.</p>" for i in range(8))
    return (
        f"<!doctype html><html lang='en'><head><title>{title}</title></head><body>"
        f"<nav><a href='/'>Home</a></nav><article><h1>{title}</h1>{body}</article></body></html>"
    )


def link_farm_html(links: int = 60_000) -> str:
    """A page of nothing but ``links`` links, as a hostile or broken site serves (60,000 links, 4 MB: over ten seconds
    of extraction, a cost that grows faster than the page)."""
    anchors = "".join(f"<a href='/story/{n}.html'>AI model predicts protein structure {n}</a>" for n in range(links))
    return f"<!doctype html><html><head><title>Index</title></head><body>{anchors}</body></html>"


def table_rows(rendered: str, key_column: int = 0) -> dict[str, list[str]]:
    """The rows of a rich table as printed, by the text of their ``key_column`` (which must not wrap): a line
    whose key cell is empty continues the row above, its cells joined to that row's with spaces."""
    rows: list[list[str]] = []
    for line in rendered.splitlines():
        cells = [cell.strip() for cell in line.split("│")[1:-1]]
        if len(cells) <= key_column:
            continue
        if cells[key_column] or not rows:
            rows.append(cells)
        else:
            rows[-1] = [f"{before} {cell}".strip() for before, cell in zip(rows[-1], cells, strict=True)]
    return {row[key_column]: row for row in rows}


def _started_at(pid: int) -> int | None:
    """When process ``pid`` started (clock ticks after boot), or ``None`` if it has ended (a zombie, ended but
    not yet reaped by init, has ended)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().split(") ", 1)[1].split()
    except (FileNotFoundError, IndexError):
        return None
    return None if fields[0] == "Z" else int(fields[19])


def _still_running(pid: int, started: int | None) -> bool:
    """Whether the process ``pid`` seen at start time ``started`` still runs: a process that took its number since
    (the kernel reuses numbers, after 32,768 on many machines) is another one."""
    return started is not None and _started_at(pid) == started


def survivors_of_a_killed_pool(imports: str, pool: str, task: str) -> list[int]:
    """In a new Python process, start the pool of two workers that ``pool`` makes (after ``imports``), give it four
    calls of ``task`` (a callable and its arguments), kill the process with SIGKILL (no handler, no atexit: as the
    out-of-memory killer ends it), and give the fork server and the workers 15 s to end; the pids of those still
    running."""
    code = (
        "import json, multiprocessing.forkserver as fs, time\n"
        f"{imports}\n"
        f"pool = {pool}\n"
        f"for future in [pool.submit({task}) for _ in range(4)]: future.result()\n"
        "print(json.dumps([fs._forkserver._forkserver_pid, *pool._processes]), flush=True)\n"
        "time.sleep(600)\n"
    )
    parent = subprocess.Popen([sys.executable, "-c", code], cwd=PROJECT_ROOT, stdout=subprocess.PIPE, text=True)
    try:
        assert parent.stdout is not None
        processes = [(pid, _started_at(pid)) for pid in json.loads(parent.stdout.readline())]
        assert len(processes) == 3 and all(_still_running(*seen) for seen in processes)  # a fork server, 2 workers
    finally:
        parent.send_signal(signal.SIGKILL)
        parent.wait(timeout=30)
        if parent.stdout is not None:
            parent.stdout.close()
    deadline = time.monotonic() + 15
    while any(_still_running(*seen) for seen in processes) and time.monotonic() < deadline:
        time.sleep(0.1)
    return [pid for pid, started in processes if _still_running(pid, started)]
