"""One crawl child of the daemon: its command line, its process (started in its own process
group), waiting for it within a deadline, and stopping it (``SIGTERM``, then ``SIGKILL`` to the
whole group); and the check whether the process of a crawl run left ``running`` still lives.
"""

from __future__ import annotations

import logging
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from dataclasses import dataclass
from pathlib import Path

from crawler.config import Config
from storage.models import CrawlRun

logger = logging.getLogger("ai4s.daemon")

#: Seconds between two looks at a running child (and at whether the daemon is stopping).
POLL_INTERVAL = 0.25


def crawl_command(
    config: Config,
    source: str,
    run_id: int,
    log_file: Path,
    log_level: str = "INFO",
    time_limit: float = 3600.0,
) -> list[str]:
    """The ``ai4s crawl`` command line of one crawl of ``source`` in run ``run_id``: the config's
    resolved database, sources file and topic profile, its ``-s`` settings, then the run's own."""
    command = [
        sys.executable, "-m", "crawler", "crawl", "--source", source, "--db", config.db_url,
        "--sources", str(config.sources_file), "--topics", str(config.topics_file),
        "--log-level", log_level, "--log-file", str(log_file),
    ]  # fmt: skip
    overrides = {
        **config.settings,
        "AI4S_RUN_ID": str(run_id),
        "AI4S_PARENT_PID": str(os.getpid()),
        "CLOSESPIDER_TIMEOUT": str(time_limit),
    }
    for key, value in overrides.items():
        command += ["-s", f"{key}={value}"]
    return command


@dataclass(frozen=True)
class ChildExit:
    """How a child ended: its exit code, and why it was stopped (``None`` if it ended by itself)."""

    code: int
    stopped: str | None = None


class CrawlChild:
    """A child process in a new session, so that a terminal's Ctrl-C reaches the daemon only (which
    then stops its crawls) and a kill of its process group takes its own children (extraction workers) too.
    ``supervisor`` names who runs it, in the reasons it is stopped for ("the daemon", a cluster's "the worker")."""

    def __init__(self, name: str, command: list[str], stderr_path: Path, supervisor: str = "the daemon") -> None:
        self.name = name
        self.supervisor = supervisor
        with stderr_path.open("ab") as stderr:
            self.process = subprocess.Popen(
                command,
                stdin=subprocess.DEVNULL,
                stdout=subprocess.DEVNULL,
                stderr=stderr,
                start_new_session=True,
            )

    @property
    def pid(self) -> int:
        """The child's process id (also its process group's)."""
        return self.process.pid

    def wait(self, stopping: threading.Event, deadline: float, stop_timeout: float) -> ChildExit:
        """Wait for the child to end; stop it (:meth:`stop`) when ``stopping`` is set or the
        monotonic clock passes ``deadline``."""
        while True:
            try:
                return ChildExit(self.process.wait(timeout=POLL_INTERVAL))
            except subprocess.TimeoutExpired:
                pass
            if stopping.is_set():
                return self.stop(f"{self.supervisor} is stopping", stop_timeout)
            if time.monotonic() > deadline:
                return self.stop("it ran over its time limit", stop_timeout)

    def stop(self, why: str, stop_timeout: float) -> ChildExit:
        """``SIGTERM`` (a crawl then closes cleanly); ``SIGKILL`` to its process group after ``stop_timeout`` s."""
        logger.info("Source %s: stopping its crawl (pid %d) because %s", self.name, self.pid, why)
        self.process.send_signal(signal.SIGTERM)
        try:
            return ChildExit(self.process.wait(timeout=stop_timeout), f"stopped by {self.supervisor}: {why}")
        except subprocess.TimeoutExpired:
            logger.warning("Source %s: the crawl did not stop within %.0f s: killed", self.name, stop_timeout)
            try:
                os.killpg(self.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            return ChildExit(
                self.process.wait(), f"killed by {self.supervisor} ({why}): it did not stop within {stop_timeout:.0f} s"
            )


def process_alive(run: CrawlRun) -> bool:
    """True when the process of ``run`` may still be running: it is on another host (which cannot be
    checked from here), or a live ai4s process has its pid on this one (not a zombie left by a
    killed parent, not an unrelated process that got the pid later)."""
    if run.host and run.host != socket.gethostname():
        return True
    if not run.pid or run.pid == os.getpid():  # a pid reused by this very daemon: the old process is gone
        return False
    proc = Path(f"/proc/{run.pid}")
    if Path("/proc/self").exists():
        try:
            state = (proc / "stat").read_text().rsplit(")", 1)[1].split()[0]
            command = (proc / "cmdline").read_bytes()
        except (OSError, IndexError):
            return False
        return state not in ("Z", "X") and (b"crawler" in command or b"ai4s" in command)
    try:
        os.kill(run.pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True
