"""The pieces of a cluster that the cluster tests and the cluster benchmark both start: a real
``redis-server`` of their own on loopback, ``ai4s`` commands (workers, a daemon) each in a
process group of its own with its output in a file, and a tag on every request naming the crawl that
sent it (for the test sites' request logs). No pytest here, so that benchmarks can import it."""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any, TypeVar

import pytest

PROJECT_ROOT = Path(__file__).resolve().parents[1]
#: The password of the test Redis (the tests check that it never shows in a log).
REDIS_PASSWORD = "cluster-test-secret"
#: The request header that names the crawl which sent a request (its run id and process id).
CRAWL_HEADER = "X-Test-Crawl"


class CrawlTagMiddleware:
    """A Scrapy downloader middleware (for tests) that marks every request of a crawl with
    :data:`CRAWL_HEADER`, ``RUN_ID:PID``: workers run many crawls with one User-Agent, and a site's log
    must tell them apart."""

    def __init__(self, tag: str) -> None:
        self.tag = tag

    @classmethod
    def from_crawler(cls, crawler: Any) -> CrawlTagMiddleware:
        """The middleware of one crawl process."""
        return cls(f"{crawler.settings.get('AI4S_RUN_ID') or '-'}:{os.getpid()}")

    def process_request(self, request: Any) -> None:
        """Tag ``request`` (robots.txt requests too: they pass through the downloader middlewares)."""
        request.headers[CRAWL_HEADER] = self.tag


def crawl_tag_settings() -> list[str]:
    """The ``-s`` options that add :class:`CrawlTagMiddleware` to the crawler's own downloader middlewares (a
    ``-s`` dict replaces the project's, so it carries them all)."""
    from crawler.crawl import settings

    middlewares = {**settings.DOWNLOADER_MIDDLEWARES, f"{__name__}.CrawlTagMiddleware": 990}
    return ["-s", f"DOWNLOADER_MIDDLEWARES={json.dumps(middlewares)}"]


class RedisServer:
    """A ``redis-server`` on 127.0.0.1 without persistence: stopped, it comes back empty (a lost queue).

    ``port`` 0 picks a free port."""

    def __init__(self, directory: Path, port: int = 0, password: str = REDIS_PASSWORD) -> None:
        binary = shutil.which("redis-server")
        if binary is None:
            raise RuntimeError("redis-server is not installed (apt-get install redis-server)")
        self.binary = binary
        self.directory = directory
        self.password = password
        if not port:
            with socket.socket() as probe:
                probe.bind(("127.0.0.1", 0))
                port = probe.getsockname()[1]
        self.port = port
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        """The broker URL, with the password."""
        return f"redis://:{self.password}@127.0.0.1:{self.port}/0"

    def start(self) -> None:
        """Start the server and wait until it answers."""
        command = [
            self.binary, "--port", str(self.port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
            "--requirepass", self.password, "--dir", str(self.directory),
        ]  # fmt: skip
        with (self.directory / "redis.log").open("ab") as log:
            self.process = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                break
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=1):
                    return
            except OSError:
                time.sleep(0.1)
        raise RuntimeError(f"redis-server did not start on port {self.port} (see {self.directory / 'redis.log'})")

    def stop(self) -> None:
        """Stop the server (its queue is gone with it)."""
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            self.process.wait(timeout=30)
        self.process = None


class Process:
    """An ``ai4s`` command (``python -m crawler ARGS``) in its own process group, its output in a file."""

    def __init__(self, log: Path, *args: str, env: Mapping[str, str]) -> None:
        self.log_path = log
        with log.open("wb") as out:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "crawler", *args],
                cwd=PROJECT_ROOT,
                stdout=out,
                stderr=subprocess.STDOUT,
                env={**os.environ, **env},
                start_new_session=True,
            )

    @property
    def pid(self) -> int:
        """The command's process id (also its process group's)."""
        return self.process.pid

    def log(self) -> str:
        """What it wrote so far."""
        return self.log_path.read_text(encoding="utf-8", errors="replace")

    def kill(self) -> None:
        """``kill -9`` of its whole process group (a worker and its pool processes)."""
        try:
            os.killpg(self.process.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        self.process.wait(timeout=30)

    def stop(self) -> None:
        """SIGTERM, then ``kill -9`` if it does not end."""
        if self.process.poll() is not None:
            return
        try:
            os.killpg(self.process.pid, signal.SIGTERM)
            self.process.wait(timeout=60)
        except subprocess.TimeoutExpired:
            self.kill()


#: What a polled condition answers.
Found = TypeVar("Found")


def wait_until(condition: Callable[[], Found], timeout: float, what: str, logs: list[Process]) -> Found:
    """Poll ``condition`` and return its first true answer (the state it saw, which may have moved on since); fail
    with ``what`` and the processes' logs after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if found := condition():
            return found
        time.sleep(0.5)
    tails = "\n".join(f"--- {p.log_path.name}\n{p.log()[-3000:]}" for p in logs)
    pytest.fail(f"timed out after {timeout:.0f} s waiting for {what}\n{tails}")
