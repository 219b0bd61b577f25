"""Processes that end with their parent (crawler/children.py): a fork server whose parent is already gone when it
asks the kernel ends at once (its parent is then init, and the parent-death signal would never come)."""

from __future__ import annotations

import subprocess
import sys

import pytest

from tests.crawler.support import PROJECT_ROOT

START_A_POOL = """
import multiprocessing, os, sys
from crawler.children import POOL_PARENT, start_pools_here
context = multiprocessing.get_context("forkserver")
context.set_forkserver_preload(["crawler.fork_server"])
start_pools_here()
if sys.argv[1] == "gone":
    os.environ[POOL_PARENT] = "999999999"  # the process that started it, ended before the fork server asked
worker = context.Process(target=print, args=("a worker ran",))
try:
    worker.start()
    worker.join(20)
    print("exit code", worker.exitcode)
except Exception as exc:
    print("no worker:", type(exc).__name__)
"""


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="the kernel's parent-death signal is Linux's")
@pytest.mark.parametrize(("parent", "expected"), [("here", "a worker ran"), ("gone", "no worker")])
def test_a_fork_server_whose_parent_is_gone_ends_at_once(parent: str, expected: str) -> None:
    result = subprocess.run(
        [sys.executable, "-c", START_A_POOL, parent], cwd=PROJECT_ROOT, capture_output=True, text=True, timeout=60
    )
    assert expected in result.stdout, result.stdout + result.stderr
