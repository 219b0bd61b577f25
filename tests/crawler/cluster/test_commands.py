"""The cluster's commands: the broker URL from the environment or a file only, and ``ai4s workers``."""

from __future__ import annotations

import socket
from pathlib import Path

from sqlalchemy import text

from crawler.cluster.app import CRAWL_TASK, make_app, queue_state
from storage import Database
from storage.cluster import claim_queued_run, start_queued_run
from tests.clustersupport import REDIS_PASSWORD, Process, RedisServer, wait_until
from tests.crawler.support import ai4s_in_process
from tests.databases import postgres_url, reset_postgres


def test_a_broker_url_on_the_command_line_is_refused() -> None:
    result = ai4s_in_process("worker", "--broker", f"redis://:{REDIS_PASSWORD}@127.0.0.1:1/0")
    assert result.returncode == 2
    assert "--broker is refused" in result.stderr and "AI4S_BROKER_URL" in result.stderr
    assert REDIS_PASSWORD not in result.stderr


def test_a_worker_without_a_broker_or_with_sqlite_is_refused(tmp_path: Path) -> None:
    assert "no broker" in ai4s_in_process("worker", env={"AI4S_BROKER_URL": ""}).stderr
    broker_file = tmp_path / "broker"
    broker_file.write_text(f"# the queue\nredis://:{REDIS_PASSWORD}@127.0.0.1:1/0\n", encoding="utf-8")
    result = ai4s_in_process("worker", "--broker-file", str(broker_file), "--db", f"sqlite:///{tmp_path / 'c.db'}")
    assert result.returncode == 2 and "PostgreSQL" in result.stderr


def test_workers_shows_the_queue_and_each_workers_running_crawls(redis_server: RedisServer) -> None:
    db_url = postgres_url()
    reset_postgres(db_url)
    with Database(db_url) as database, database.session() as session, session.begin():
        waiting = start_queued_run(session, "waiting-source", "job-1")
        running = start_queued_run(session, "running-source", "job-2")
        assert claim_queued_run(session, running, "w7@machine", "job-2", 35.0)
    make_app(redis_server.url).send_task(CRAWL_TASK, args=["waiting-source", waiting, 60.0], task_id="job-1")
    result = ai4s_in_process("workers", "--db", db_url, env={"AI4S_BROKER_URL": redis_server.url})
    assert result.returncode == 0, result.stderr
    assert "1 crawl waiting in the queue" in result.stdout
    row = next(line for line in result.stdout.splitlines() if "w7@machine" in line)
    assert f"running-source (run {running})" in row and "alive" in row
    assert f"waiting-source (run {waiting})" in result.stdout  # sent, no worker yet


def test_workers_shows_an_idle_worker_that_answers_and_forgets_it_once_stopped(
    redis_server: RedisServer, tmp_path: Path
) -> None:
    db_url = postgres_url()
    reset_postgres(db_url)
    sources = tmp_path / "sources.toml"
    sources.write_text('[[source]]\nname = "s00"\nfeeds = ["http://127.0.5.1:9/rss.xml"]\n', encoding="utf-8")
    env = {"AI4S_BROKER_URL": redis_server.url}
    worker = Process(
        tmp_path / "worker.log", "worker", "--db", db_url, "--sources", str(sources), "--name", "idle9", env=env
    )
    name = f"idle9@{socket.gethostname()}"
    try:
        wait_until(lambda: "ready" in worker.log(), 120, "the worker to start", [worker])
        result = ai4s_in_process("workers", "--db", db_url, env=env)
        assert result.returncode == 0, result.stderr
        row = next((line for line in result.stdout.splitlines() if name in line), None)
        assert row is not None and "idle (answered a ping)" in row, result.stdout
    finally:
        worker.stop()
    after = ai4s_in_process("workers", "--db", db_url, env=env)
    assert after.returncode == 0 and name not in after.stdout


def test_a_worker_that_cannot_use_the_database_does_not_start_nor_take_jobs(
    redis_server: RedisServer, tmp_path: Path
) -> None:
    # a worker of an older release on a database a newer daemon upgraded: it took every job of the queue and failed
    # it at once (acknowledged: gone from the queue) while the workers that could run it were busy
    db_url = postgres_url()
    reset_postgres(db_url)
    with Database(db_url) as database, database.session() as session, session.begin():
        run_id = start_queued_run(session, "s00", "job-1")
        session.execute(text("UPDATE alembic_version SET version_num = '9999_from_the_future'"))
    make_app(redis_server.url).send_task(CRAWL_TASK, args=["s00", run_id, 60.0], task_id="job-1")
    sources = tmp_path / "sources.toml"
    sources.write_text('[[source]]\nname = "s00"\nfeeds = ["http://127.0.5.1:9/rss.xml"]\n', encoding="utf-8")
    worker = Process(
        tmp_path / "worker.log", "worker", "--db", db_url, "--sources", str(sources), "--name", "old1",
        env={"AI4S_BROKER_URL": redis_server.url},
    )  # fmt: skip
    try:
        wait_until(lambda: worker.process.poll() is not None, 60, "the worker to stop", [worker])
    finally:
        worker.stop()
    assert worker.process.returncode == 1
    assert "(revision 9999_from_the_future) was made by a newer release of ai4s-monitor" in worker.log()
    assert queue_state(make_app(redis_server.url)).waiting == {"job-1"}
