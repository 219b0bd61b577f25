"""What the benchmarks share: where the test corpus is, and readings of /proc and of the crawl's
SQLite database. Imported by the benchmark scripts (run as ``python3 benchmarks/NAME.py``, so this
directory is on ``sys.path``)."""

from __future__ import annotations

import os
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

PROJECT_ROOT = Path(__file__).resolve().parents[1]
_TICKS = os.sysconf("SC_CLK_TCK")


def resolve_corpus(option: str | None) -> Path:
    """The corpus directory: ``--corpus``, else ``$AI4S_TEST_CORPUS``, else ``../shared/corpus``."""
    chosen = option or os.environ.get("AI4S_TEST_CORPUS") or str(PROJECT_ROOT.parent / "shared" / "corpus")
    return Path(chosen).expanduser().resolve()


def proc_stat(pid: int) -> tuple[int, float] | None:
    """``(ppid, utime + stime in seconds)`` of ``pid``, or ``None`` if it is gone."""
    try:
        text = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    fields = text[text.rfind(")") + 2 :].split()
    return int(fields[1]), (int(fields[11]) + int(fields[12])) / _TICKS


def proc_tree_cpu(pid: int) -> float | None:
    """CPU seconds of ``pid`` and of its children it has waited for (utime + stime + cutime + cstime), or
    ``None`` if it is gone: summed over a process tree, a child that ends and is reaped moves its time into
    its parent's, so the sum goes on counting it."""
    try:
        text = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    fields = text[text.rfind(")") + 2 :].split()
    return sum(int(value) for value in fields[11:15]) / _TICKS


def wait_or_kill(process: subprocess.Popen[bytes], timeout: float, label: str) -> None:
    """Wait for ``process`` up to ``timeout`` seconds; kill it when it takes longer (saying so on stderr,
    as ``label took more than ...``) or when the wait is interrupted (then re-raise)."""
    try:
        process.wait(timeout)
    except subprocess.TimeoutExpired:
        print(f"{label} took more than {timeout:g} s; killed", file=sys.stderr)
        process.kill()
        process.wait()
    except BaseException:
        process.kill()
        process.wait()
        raise


def children_by_parent() -> dict[int, list[int]]:
    """Parent pid -> child pids, from one scan of ``/proc``."""
    children: dict[int, list[int]] = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            stat = proc_stat(int(entry))
            if stat is not None:
                children.setdefault(stat[0], []).append(int(entry))
    return children


def descendants(root: int) -> list[int]:
    """``root`` and every process descending from it, from one scan of ``/proc``."""
    children = children_by_parent()
    found, todo = [], [root]
    while todo:
        pid = todo.pop()
        found.append(pid)
        todo.extend(children.get(pid, []))
    return found


def proc_values(pid: int, name: str, keys: tuple[str, ...]) -> dict[str, int]:
    """The first number of each of ``keys`` in ``/proc/<pid>/<name>`` (``kB`` in ``status`` and
    ``smaps_rollup``); empty if the process is gone."""
    values: dict[str, int] = {}
    try:
        with open(f"/proc/{pid}/{name}") as handle:
            for line in handle:
                key, _, rest = line.partition(":")
                if key in keys:
                    values[key] = int(rest.split()[0])
    except (OSError, ValueError, IndexError):
        return {}
    return values


def parse_db_time(value: Any) -> datetime | None:
    """A timestamp as SQLite holds it (ISO text in UTC; SQLAlchemy drops the zone), aware."""
    if value is None:
        return None
    parsed = datetime.fromisoformat(str(value))
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)
