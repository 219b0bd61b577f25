"""scheduled job references after the layout move: the daemon's stored jobs call
crawler.schedule.daemon:crawl_job / digest_job instead of crawler.daemon:... (the downgrade points them back)

APScheduler's job store keeps each job as a pickled dict whose ``func`` is a textual reference
(``module:function``). A reference that no longer imports makes APScheduler drop the job when it
loads it ("Unable to restore job ... removing it"), and with it the job's next run time; rewritten
here, every job keeps its trigger and next run. Jobs of other functions, and rows this migration
cannot read, are left as they are.

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-01 09:00:00.000000
"""

from __future__ import annotations

import pickle
from collections.abc import Mapping
from typing import Any

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None

#: Where the job functions were (the release before the layout move) and where they are now.
MOVED_JOB_FUNCTIONS = {
    "crawler.daemon:crawl_job": "crawler.schedule.daemon:crawl_job",
    "crawler.daemon:digest_job": "crawler.schedule.daemon:digest_job",
}

jobs = sa.table(
    "apscheduler_jobs",
    sa.column("id", sa.Unicode(191)),
    sa.column("job_state", sa.LargeBinary()),
)


def upgrade() -> None:
    """Point the stored jobs at the functions' new module."""
    rewrite_job_functions(MOVED_JOB_FUNCTIONS)


def downgrade() -> None:
    """Point the stored jobs back at the module of the release before the move."""
    rewrite_job_functions({new: old for old, new in MOVED_JOB_FUNCTIONS.items()})


def rewrite_job_functions(references: Mapping[str, str]) -> None:
    """Point every stored job whose function is a key of ``references`` to the matching value."""
    connection = op.get_bind()
    for job_id, job_state in connection.execute(sa.select(jobs.c.id, jobs.c.job_state)).all():
        state = read_job_state(job_state)
        if state is None or state.get("func") not in references:
            continue
        state["func"] = references[state["func"]]
        # the protocol APScheduler's SQLAlchemyJobStore writes with (its default)
        rewritten = pickle.dumps(state, pickle.HIGHEST_PROTOCOL)
        connection.execute(jobs.update().where(jobs.c.id == job_id).values(job_state=rewritten))


def read_job_state(job_state: bytes) -> dict[str, Any] | None:
    """The unpickled state of a stored job; ``None`` when it cannot be read here."""
    try:
        # the trigger and time zone objects in it are APScheduler's and the standard library's:
        # the function itself is only named, so nothing of crawler is imported
        state = pickle.loads(job_state)  # the job store's own rows, read as APScheduler reads them
    except Exception:  # a row this migration cannot read is APScheduler's to judge, not ours
        return None
    return state if isinstance(state, dict) else None
