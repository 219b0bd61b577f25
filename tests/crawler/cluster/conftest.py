"""Fixtures of the cluster tests: a real ``redis-server`` of the test's own on a free loopback port, or on
``AI4S_TEST_REDIS_PORT`` when set (with a password, so that the tests can check it never shows), stopped
after the test."""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.clustersupport import RedisServer


@pytest.fixture
def redis_server(tmp_path: Path) -> Iterator[RedisServer]:
    """A started :class:`RedisServer`; fails under CI (``CI`` set) and skips elsewhere when there is no redis-server."""
    if shutil.which("redis-server") is None:
        message = "redis-server is not installed (apt-get install redis-server)"
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)
    directory = tmp_path / "redis"
    directory.mkdir()
    server = RedisServer(directory, port=int(os.environ.get("AI4S_TEST_REDIS_PORT") or 0))
    server.start()
    try:
        yield server
    finally:
        server.stop()
