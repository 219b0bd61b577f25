"""The crawl task of a cluster worker, called in this process: what it does with a job it cannot run."""

from __future__ import annotations

import socket
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
from celery.exceptions import Reject

from crawler.cluster import worker
from crawler.cluster.worker import WorkerSettings, crawl_source
from crawler.config import Config


def unreachable_port() -> int:
    """A loopback port nothing listens on (bound, then let go)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def unreachable_worker(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Make this process a worker whose sources file has source ``s00`` and whose database is unreachable."""
    sources = tmp_path / "sources.toml"
    sources.write_text('[[source]]\nname = "s00"\nfeeds = ["http://127.0.5.1:9/rss.xml"]\n', encoding="utf-8")
    config = Config(f"postgresql://ai4s@127.0.0.1:{unreachable_port()}/ai4s", sources, tmp_path / "topics.toml")
    monkeypatch.setattr(worker, "_settings", WorkerSettings(config=config, log_dir=tmp_path / "logs"))
    monkeypatch.setattr(worker, "REQUEUE_PAUSE", 0.0, raising=False)


TASK: Any = SimpleNamespace(request=SimpleNamespace(hostname="w1@machine", id="job-1"))


def test_a_job_whose_database_cannot_be_opened_goes_back_to_the_queue(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # the database is down for a moment (or a newer release upgraded it): the job must wait in the queue for a
    # worker that can run it, not end as a failure that acknowledges it and so drops it from the queue
    unreachable_worker(tmp_path, monkeypatch)
    with pytest.raises(Reject) as rejected:
        crawl_source(TASK, "s00", 7, 60.0)
    assert rejected.value.requeue
    assert "cannot open the database" in str(rejected.value.reason)


def test_a_job_of_a_source_this_worker_does_not_know_goes_back_to_the_queue_untouched(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # one worker started with an older sources file: the job is another worker's to run, and the source's run must
    # not end failed (the daemon took that for the source's failure and slowed its schedule down)
    unreachable_worker(tmp_path, monkeypatch)
    with pytest.raises(Reject) as rejected:
        crawl_source(TASK, "added-since", 7, 60.0)
    assert rejected.value.requeue
    assert "not in this worker's sources file" in str(rejected.value.reason)  # found before the database is opened
