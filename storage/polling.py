"""What the corpus remembers of entry pages (feeds, sitemaps, listing pages) between polls:
validators for conditional GET, a body hash, and the earliest next poll the site allows."""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from storage.hashing import url_hash
from storage.models import EntryPage, utcnow
from storage.repository import dialect_insert


@dataclass(frozen=True)
class EntryPageState:
    """One entry page as last polled."""

    url: str
    etag: str | None = None
    last_modified: str | None = None
    body_hash: str | None = None
    not_before: datetime | None = None
    poll_hint: float | None = None
    http_status: int | None = None
    unchanged_polls: int = 0
    children: tuple[tuple[str, str, int, int], ...] = ()  # (url, kind, depth, page) of the pages it led to


def load_entry_pages(session: Session, source_ids: list[int] | None = None) -> dict[str, EntryPageState]:
    """The remembered entry pages (of ``source_ids``, or all), by URL hash."""
    query = select(EntryPage)
    if source_ids is not None:
        query = query.where(EntryPage.source_id.in_(source_ids))
    return {
        row.url_hash: EntryPageState(
            url=row.url,
            etag=row.etag,
            last_modified=row.last_modified,
            body_hash=row.body_hash,
            not_before=row.not_before,
            poll_hint=row.poll_hint,
            http_status=row.http_status,
            unchanged_polls=row.unchanged_polls,
            children=tuple(tuple(child) for child in json.loads(row.children or "[]")),  # type: ignore[misc]
        )
        for row in session.execute(query).scalars()
    }


def save_entry_page(
    session: Session,
    canonical_url: str,
    source_id: int | None,
    *,
    changed: bool,
    etag: str | None = None,
    last_modified: str | None = None,
    body_hash: str | None = None,
    not_before: datetime | None = None,
    poll_hint: float | None = None,
    http_status: int | None = None,
    children: Sequence[tuple[str, str, int, int]] | None = None,
) -> None:
    """Remember a poll of an entry page (an upsert by URL hash).

    A changed page replaces the validators and hash and resets the unchanged count; an
    unchanged one (304, or the same body) keeps them (and its ``children``) and counts one more unchanged poll.
    ``not_before`` is always replaced: ``None`` lifts an earlier lower bound. ``poll_hint`` (a
    feed's ttl) is replaced when the page changed and kept when it did not.
    """
    now = utcnow()
    statement = dialect_insert(session, EntryPage).values(
        url_hash=url_hash(canonical_url),
        url=canonical_url,
        source_id=source_id,
        etag=etag,
        last_modified=last_modified,
        body_hash=body_hash,
        not_before=not_before,
        poll_hint=poll_hint,
        http_status=http_status,
        unchanged_polls=0 if changed else 1,
        children=json.dumps(children or [], ensure_ascii=False),
        last_fetched=now,
    )
    excluded = statement.excluded
    updates: dict = {"not_before": excluded.not_before, "http_status": excluded.http_status, "last_fetched": now}
    if changed:
        updates.update(
            etag=excluded.etag,
            last_modified=excluded.last_modified,
            body_hash=excluded.body_hash,
            children=excluded.children,
            poll_hint=excluded.poll_hint,
        )
        updates["unchanged_polls"] = 0
    else:
        updates["unchanged_polls"] = EntryPage.unchanged_polls + 1
    session.execute(statement.on_conflict_do_update(index_elements=[EntryPage.url_hash], set_=updates))
