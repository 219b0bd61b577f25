"""One crawl child, with real processes: stopped by SIGTERM, killed with its whole process group when
it ignores SIGTERM, stopped at its deadline; the liveness check of stale runs against /proc; the
crawl command line built from the configuration."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

from crawler.config import load_config
from crawler.schedule.supervise import ChildExit, CrawlChild, crawl_command, process_alive
from storage.models import CrawlRun

#: A child that ignores SIGTERM and starts a grandchild in its process group, whose pid it prints.
STUBBORN = """
import signal, subprocess, sys, time
signal.signal(signal.SIGTERM, signal.SIG_IGN)
grandchild = subprocess.Popen(["sleep", "60"])
print(grandchild.pid, flush=True)
time.sleep(60)
"""


def gone(pid: int, timeout: float = 5.0) -> bool:
    """Whether process ``pid`` is gone (or a zombie) within ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
        except (OSError, IndexError):
            return True
        if state in ("Z", "X"):
            return True
        time.sleep(0.05)
    return False


def test_a_child_that_obeys_sigterm_is_stopped_by_it(tmp_path: Path) -> None:
    child = CrawlChild("feedsite", ["sleep", "60"], tmp_path / "feedsite.stderr")
    stopping = threading.Event()
    stopping.set()  # the daemon is stopping
    started = time.monotonic()
    ended = child.wait(stopping, deadline=time.monotonic() + 60, stop_timeout=10)
    assert time.monotonic() - started < 5
    assert ended.code == -signal.SIGTERM
    assert ended.stopped == "stopped by the daemon: the daemon is stopping"


def test_a_cluster_workers_child_says_the_worker_stopped_it(tmp_path: Path) -> None:
    """A worker's crawl that ran over its time limit was recorded as stopped "by the daemon", which ran nothing."""
    child = CrawlChild("feedsite", ["sleep", "60"], tmp_path / "feedsite.stderr", supervisor="the worker")
    ended = child.wait(threading.Event(), deadline=time.monotonic(), stop_timeout=10)
    assert ended.code == -signal.SIGTERM
    assert ended.stopped == "stopped by the worker: it ran over its time limit"


def test_a_child_that_ignores_sigterm_is_killed_with_its_process_group(tmp_path: Path) -> None:
    stderr = tmp_path / "stubborn.stderr"
    child = CrawlChild("stubborn", [sys.executable, "-c", STUBBORN], stderr)
    # the child's stdout goes nowhere; read the grandchild from its process group instead
    deadline = time.monotonic() + 10
    grandchildren: list[int] = []
    while not grandchildren and time.monotonic() < deadline:
        grandchildren = [
            int(entry.name)
            for entry in Path("/proc").iterdir()
            if entry.name.isdigit() and int(entry.name) != child.pid and _process_group(int(entry.name)) == child.pid
        ]
        time.sleep(0.05)
    assert grandchildren, "the child did not start its grandchild"
    time.sleep(0.3)  # its SIGTERM handler is set before the grandchild starts
    started = time.monotonic()
    ended = child.stop("it ran over its time limit", stop_timeout=1.0)
    assert 1.0 <= time.monotonic() - started < 5
    assert ended.code == -signal.SIGKILL
    assert ended.stopped == "killed by the daemon (it ran over its time limit): it did not stop within 1 s"
    assert all(gone(pid) for pid in grandchildren)  # the kill reached its whole process group


def _process_group(pid: int) -> int | None:
    try:
        return os.getpgid(pid)
    except ProcessLookupError:
        return None


def test_a_child_past_its_deadline_is_stopped_and_one_that_ends_is_not(tmp_path: Path) -> None:
    stopping = threading.Event()
    slow = CrawlChild("slow", ["sleep", "60"], tmp_path / "slow.stderr")
    ended = slow.wait(stopping, deadline=time.monotonic() + 0.5, stop_timeout=10)
    assert ended.stopped == "stopped by the daemon: it ran over its time limit"
    quick = CrawlChild(
        "quick", [sys.executable, "-c", "import sys; sys.stderr.write('oops'); sys.exit(3)"], tmp_path / "q"
    )
    assert quick.wait(stopping, deadline=time.monotonic() + 60, stop_timeout=10) == ChildExit(3)
    assert (tmp_path / "q").read_text() == "oops"  # its stderr went to its file


def test_the_crawl_runs_in_its_own_session(tmp_path: Path) -> None:
    child = CrawlChild("feedsite", ["sleep", "60"], tmp_path / "feedsite.stderr")
    try:
        assert os.getsid(child.pid) == child.pid != os.getsid(0)  # Ctrl-C at a terminal reaches the daemon only
    finally:
        child.stop("the test ends", stop_timeout=5)


def test_a_stale_run_is_alive_only_while_an_ai4s_process_has_its_pid(tmp_path: Path) -> None:
    here = socket.gethostname()
    # a live process whose command line names ai4s: alive
    named = subprocess.Popen(["bash", "-c", "exec -a ai4s-crawl sleep 60"])
    # a live process of something else that got the pid: not the run's process
    other = subprocess.Popen(["sleep", "60"])
    # a process that ended but was not waited for: a zombie
    zombie = subprocess.Popen(["bash", "-c", "exec -a ai4s-crawl true"])
    try:
        deadline = time.monotonic() + 5
        while b"ai4s" not in Path(f"/proc/{named.pid}/cmdline").read_bytes() and time.monotonic() < deadline:
            time.sleep(0.05)
        assert gone(zombie.pid)
        assert process_alive(CrawlRun(pid=named.pid, host=here))
        assert not process_alive(CrawlRun(pid=other.pid, host=here))
        assert not process_alive(CrawlRun(pid=zombie.pid, host=here))
        assert not process_alive(CrawlRun(pid=os.getpid(), host=here))  # this process is not the one that left it
        assert not process_alive(CrawlRun(pid=None, host=here))
        assert process_alive(CrawlRun(pid=1, host="another-host.example"))  # cannot be checked from here
    finally:
        for process in (named, other, zombie):
            process.kill()
            process.wait()
    assert not process_alive(CrawlRun(pid=named.pid, host=here))


def test_the_crawl_command_passes_the_resolved_configuration(tmp_path: Path) -> None:
    sources = tmp_path / "sources.toml"
    sources.write_text('[[source]]\nname = "a"\nfeeds = ["http://a.example/rss"]\n', encoding="utf-8")
    config = load_config(
        sources_file=sources, settings={"DOWNLOAD_DELAY": "0.5", "AI4S_DB": "sqlite:///x.sqlite3"}, environ={}
    )
    command = crawl_command(config, "a", 7, tmp_path / "a.log", log_level="DEBUG", time_limit=120)
    assert command[:4] == [sys.executable, "-m", "crawler", "crawl"]

    def flag(name: str) -> str:
        return command[command.index(name) + 1]

    assert flag("--source") == "a" and flag("--db") == config.db_url == "sqlite:///x.sqlite3"
    assert flag("--sources") == str(sources) and flag("--topics") == str(config.topics_file)
    assert flag("--log-level") == "DEBUG" and flag("--log-file") == str(tmp_path / "a.log")
    settings = [command[i + 1] for i, part in enumerate(command) if part == "-s"]
    assert settings == [
        "DOWNLOAD_DELAY=0.5",
        "AI4S_RUN_ID=7",
        f"AI4S_PARENT_PID={os.getpid()}",
        "CLOSESPIDER_TIMEOUT=120",
    ]
