"""Processes that end with the process that started them: the extraction pools' fork servers and their workers
(the crawl's, and ``ai4s reprocess``'s). A parent ended by SIGKILL or the out-of-memory killer left them behind,
holding memory and its output pipes. Linux's parent-death signal ends each; elsewhere nothing is done.

A fork server imports :mod:`crawler.fork_server` first (the pools' preload), which names its parent; each worker
then calls :func:`end_worker_with_fork_server`. The parent's process id is handed down in the environment, so that
a fork server whose parent died before it asked the kernel (its parent is then already init) ends at once too.
"""

from __future__ import annotations

import ctypes
import os
import signal
import sys

#: The environment variable that names, to a fork server, the process that started it.
POOL_PARENT = "AI4S_POOL_PARENT"
#: prctl(2)'s option that has the kernel signal a process when the thread that forked it ends.
_PR_SET_PDEATHSIG = 1
#: This process's id, in a fork server (and so in each worker forked from it): a worker's parent to be.
_fork_server = 0


def end_with_parent(parent: int | None = None) -> None:
    """Have the kernel end this process when its parent does (Linux; elsewhere nothing); end it now if its
    parent is not ``parent`` (``None``: the parent it has when asked) any more."""
    if not sys.platform.startswith("linux"):
        return
    expected = parent or os.getppid()
    ctypes.CDLL(None, use_errno=True).prctl(_PR_SET_PDEATHSIG, signal.SIGKILL)
    if os.getppid() != expected:  # the parent ended before the kernel was asked
        os._exit(1)


def start_pools_here() -> None:
    """Name this process as the parent of the fork servers it starts from now on."""
    os.environ[POOL_PARENT] = str(os.getpid())


def end_fork_server_with_parent() -> None:
    """In a fork server: end with the process that started it (named by :func:`start_pools_here`)."""
    global _fork_server
    _fork_server = os.getpid()
    end_with_parent(int(os.environ.get(POOL_PARENT) or 0) or None)


def end_worker_with_fork_server() -> None:
    """In a worker forked from a fork server: end with that fork server."""
    end_with_parent(_fork_server or None)
