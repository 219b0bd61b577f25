"""Running ``ai4s daemon`` in tests: a real process, its log in a file, and waiting on the database."""

from __future__ import annotations

import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import pytest
from sqlalchemy import select

from storage import Database
from storage.models import CrawlRun
from tests.crawler.support import PROJECT_ROOT

FAST = [
    "-s", "DOWNLOAD_DELAY=0.05",
    "-s", "AUTOTHROTTLE_START_DELAY=0.05",
    "-s", "AI4S_RETRY_BACKOFF_BASE=0.2",
    "-s", "AI4S_EXTRACT_WORKERS=1",
]  # fmt: skip
STOP_TIMEOUT = 20.0  # seconds a crawl gets to close cleanly: room for a loaded 2-core machine, where 10 was seen short


class DaemonProcess:
    """One ``ai4s daemon`` process, its stderr in a file."""

    count = 0

    def __init__(self, tmp: Path, sources: Path, db_url: str, *extra: str) -> None:
        DaemonProcess.count += 1
        self.log_path = tmp / f"daemon-{DaemonProcess.count}.log"
        command = [
            sys.executable, "-m", "crawler", "daemon",
            "--sources", str(sources), "--db", db_url, "--log-dir", str(tmp / "logs"),
            "--stop-timeout", str(STOP_TIMEOUT), *FAST, *extra,
        ]  # fmt: skip
        with self.log_path.open("wb") as log:
            self.process = subprocess.Popen(command, cwd=PROJECT_ROOT, stdout=log, stderr=subprocess.STDOUT)

    def log(self) -> str:
        """What the daemon logged so far."""
        return self.log_path.read_text(encoding="utf-8", errors="replace")

    def terminate(self, timeout: float = STOP_TIMEOUT + 20) -> tuple[int, float]:
        """SIGTERM, then wait: the exit code and the seconds it took to exit."""
        started = time.monotonic()
        self.process.send_signal(signal.SIGTERM)
        code = self.process.wait(timeout=timeout)
        return code, time.monotonic() - started

    def kill(self) -> None:
        """``kill -9``."""
        self.process.kill()
        self.process.wait(timeout=10)

    def ensure_stopped(self) -> None:
        if self.process.poll() is None:
            self.process.kill()
            self.process.wait(timeout=10)


def wait_until(condition: Callable[[], object], timeout: float, what: str, daemon: DaemonProcess | None = None) -> None:
    """Poll ``condition`` until it is true; fail with ``what`` (and the daemon's log) after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(0.3)
    tail = daemon.log()[-4000:] if daemon else ""
    pytest.fail(f"timed out after {timeout:.0f} s waiting for {what}\n{tail}")


def runs(db_url: str, source: str | None = None) -> list[CrawlRun]:
    """Crawl-run rows (of ``source`` if given), oldest first."""
    with Database(db_url) as database, database.session() as session:
        query = select(CrawlRun).order_by(CrawlRun.id)
        if source:
            query = query.where(CrawlRun.sources == source)
        return list(session.execute(query).scalars())


def finished_runs(db_url: str, source: str, status: str = "ok") -> int:
    """How many runs of ``source`` ended with ``status``."""
    return sum(1 for run in runs(db_url, source) if run.status == status)
