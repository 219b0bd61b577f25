"""Making a digest and delivering it: the period (``--since`` or since the last digest of that
name), the files, the mail, the chat messages, and the record that moves the name's mark; and what ``ai4s digest``
does (:func:`deliver_digest`: check the request, replay or make, hand the digest to standard output).

The record is saved only once the files are written and the mail and chat messages are sent, so a failed delivery
leaves the period to the next digest: no story is missed. The record holds the digest's data,
so a past digest renders the same again (``ai4s digest --replay ID``).
"""

from __future__ import annotations

import json
import os
import re
import secrets
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, TextIO

from crawler.digest.build import SETTLE, build_digest
from crawler.digest.chat import ChatError, check_notify_urls, notify, private_url
from crawler.digest.mail import SmtpSettings, build_message, send
from crawler.digest.render import EXTENSIONS, FORMATS, plural, render, subject
from crawler.text.dates import parse_date
from crawler.text.durations import EXAMPLES, parse_duration
from storage import Database
from storage.digests import get_digest_run, last_digest_until, recent_digest_payloads, save_digest_run
from storage.lock import DatabaseLock
from storage.repository import unknown_sources

#: How many recent digests the Atom feed file holds.
FEED_DIGESTS = 10
#: The period of a first ``--since-last`` digest, when none was delivered before under that name.
FIRST_PERIOD = timedelta(hours=24)
_NAME = re.compile(r"^[A-Za-z0-9_-]{1,64}$")


def parse_since(value: str, now: datetime) -> datetime:
    """A duration before ``now`` (``"24h"``, ``"90s"``, ``"2w"``), or an ISO date/time (UTC unless it says)."""
    try:
        return now - timedelta(seconds=parse_duration(value))
    except ValueError:
        moment = parse_date(value)  # not a duration: perhaps a date
    if moment is None:
        raise ValueError(f"--since expects a duration such as {EXAMPLES}, or an ISO date, not {value!r}")
    if moment > now:
        raise ValueError(f"--since {value} is in the future: a period starts before now")
    return moment


@dataclass
class DigestRequest:
    """Which digest to make and where it goes."""

    name: str = "default"
    since: str | None = None  # a duration before now or a date (None: the last 24 hours); not with since_last
    since_last: bool = False
    languages: list[str] = field(default_factory=list)
    sources: list[str] = field(default_factory=list)
    formats: list[str] = field(default_factory=lambda: ["md"])
    out: Path | None = None  # a file (one format) or a directory (file names by date)
    mail_to: list[str] = field(default_factory=list)
    notify: list[str] = field(default_factory=list)  # chat services (Apprise URLs) that get the Markdown digest
    settle: timedelta = SETTLE  # how much of the last moments a since-last digest leaves to the next
    feed: Path | None = None  # an Atom file of the recent digests of this name, replaced each time


class DigestRefused(ValueError):
    """A digest that cannot be made as asked (options that contradict each other, an unknown format, a
    digest to replay that does not exist): nothing was made."""


@dataclass
class Delivery:
    """A made digest: its record id, its data, the rendered formats, the files written, who got it."""

    run_id: int
    digest: dict[str, Any]
    rendered: dict[str, str]
    files: list[Path]
    mailed_to: list[str]
    notified: list[str] = field(default_factory=list)  # the chat services, their secrets hidden


def _write(path: Path, text: str) -> None:
    """Write ``text`` to ``path`` atomically (a reader never sees half a digest), with the permissions any
    new file gets (0644 under the usual umask: a web server under another user can serve the feed). A
    path that is not a regular file (``/dev/stdout``, a pipe) is written to as it is: it must not be replaced."""
    if path.exists() and not path.is_file():
        with path.open("w", encoding="utf-8") as stream:
            stream.write(text)
        return
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.parent / f".{path.name}.{secrets.token_hex(6)}.tmp"
    # os.open with 0o666 lets the umask decide, as open() does (mkstemp would make it 0600 whatever the umask)
    handle = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)
    try:
        with os.fdopen(handle, "w", encoding="utf-8") as stream:
            stream.write(text)
        os.replace(temporary, path)
    except BaseException:
        temporary.unlink(missing_ok=True)
        raise


def make_digest(
    database: Database,
    request: DigestRequest,
    now: datetime | None = None,
    emit: Callable[[dict[str, str]], None] | None = None,
) -> Delivery:
    """Build, render, write, ``emit`` (to standard output, say) and mail the digest, then record it,
    moving the mark of a ``since_last`` digest: a delivery that fails half-way moves nothing."""
    if not _NAME.match(request.name):
        raise ValueError(f"a digest name is letters, digits, '-' and '_' (at most 64), not {request.name!r}")
    if request.since_last:  # one --since-last digest of a name at a time, or two could send the same period
        with DatabaseLock(database.url, f"digest-{request.name}"):
            return _make_digest(database, request, now, emit)
    return _make_digest(database, request, now, emit)


def _make_digest(
    database: Database, request: DigestRequest, now: datetime | None, emit: Callable[[dict[str, str]], None] | None
) -> Delivery:
    now = now or datetime.now(UTC)
    # a --since-last digest leaves the last minute to the next one (see SETTLE): nothing in flight is missed
    until = now - request.settle if request.since_last else now
    formats = list(dict.fromkeys(request.formats + (["md", "html"] if request.mail_to else [])))
    formats = list(dict.fromkeys(formats + (["md"] if request.notify else [])))
    smtp = SmtpSettings.from_environment() if request.mail_to else None  # a missing server fails before anything
    check_notify_urls(request.notify)  # so does a chat URL Apprise does not know
    with database.session() as session:
        if request.since_last:
            since = last_digest_until(session, request.name) or until - FIRST_PERIOD
        else:
            since = parse_since(request.since or "24h", until)
        digest = build_digest(
            session,
            since,
            until,
            name=request.name,
            languages=request.languages,
            sources=request.sources,
            generated_at=now,
        )
    rendered = {fmt: render(digest, fmt) for fmt in formats}
    files: list[Path] = []
    if request.out is not None:
        for fmt in request.formats:
            if request.out.is_dir() or len(request.formats) > 1:
                request.out.mkdir(parents=True, exist_ok=True)
                path = request.out / f"digest-{request.name}-{until:%Y%m%d-%H%M%S}.{EXTENSIONS[fmt]}"
            else:
                path = request.out
            _write(path, rendered[fmt])
            files.append(path)
    if request.feed is not None:
        with database.session() as session:
            earlier = [json.loads(p) for p in recent_digest_payloads(session, request.name, FEED_DIGESTS - 1)]
        _write(request.feed, render(merge_for_feed([digest, *earlier]), "atom"))
        files.append(request.feed)
    if emit is not None:
        emit(rendered)
    if smtp is not None:
        send(smtp, build_message(smtp.sender, request.mail_to, subject(digest), rendered["md"], rendered["html"]))
    if request.notify:
        notify(request.notify, subject(digest), rendered["md"])
    with database.session() as session, session.begin():
        run_id = save_digest_run(
            session,
            request.name,
            since,
            until,
            continues=request.since_last,
            stories=digest["counts"]["stories"],
            payload=json.dumps(digest, ensure_ascii=False),
        )
    return Delivery(run_id, digest, rendered, files, list(request.mail_to), [private_url(u) for u in request.notify])


def check_request(request: DigestRequest) -> None:
    """Raise :class:`DigestRefused` when ``request`` contradicts itself or asks for an unknown format."""
    for fmt in request.formats:
        if fmt not in FORMATS:
            raise DigestRefused(f"unknown format {fmt!r} (supported: {', '.join(FORMATS)})")
    if request.since and request.since_last:
        raise DigestRefused("--since and --since-last exclude each other")
    try:
        check_notify_urls(request.notify)
    except ChatError as exc:
        raise DigestRefused(str(exc)) from None
    if request.since:
        try:
            parse_since(request.since, datetime.now(UTC))
        except ValueError as exc:
            raise DigestRefused(str(exc)) from None


def deliver_digest(
    db_url: str | None, request: DigestRequest, stdout: TextIO, replay_id: int | None = None
) -> Delivery | None:
    """Make and deliver the digest of ``request`` on the database at ``db_url`` (default: the configured one),
    to ``stdout`` when it names no ``out`` file; or, with ``replay_id``, render that delivered digest again
    (in the request's first format, to ``out`` or ``stdout``). The delivery made, if one was.

    Raises :class:`DigestRefused` before anything is made for a request that cannot be made as asked.
    """
    check_request(request)
    fmt = request.formats[0]
    with Database(db_url) as database:
        with database.session() as session:
            unknown = unknown_sources(session, request.sources)
        if unknown:
            raise DigestRefused(f"--source: no stored source named {', '.join(map(repr, unknown))}")
        if replay_id is not None:
            try:
                text = render(replay(database, replay_id), fmt)
            except LookupError as exc:
                raise DigestRefused(str(exc)) from None
            if request.out is None:
                stdout.write(text)
            else:
                with request.out.open("w", encoding="utf-8") as stream:
                    stream.write(text)
            return None

        def to_stdout(rendered: dict[str, str]) -> None:
            stdout.write(rendered[fmt])
            stdout.flush()  # written before the digest is recorded as delivered

        return make_digest(database, request, emit=None if request.out else to_stdout)


def describe_delivery(delivery: Delivery, request: DigestRequest) -> str:
    """One line saying which digest was delivered: its id and name, its stories, its period, where it went."""
    counts, period = delivery.digest["counts"], delivery.digest["period"]
    where = f"; written to {request.out}" if request.out else ""
    mailed = f"; mailed to {', '.join(delivery.mailed_to)}" if delivery.mailed_to else ""
    if delivery.notified:
        mailed += f"; sent to {', '.join(delivery.notified)}"
    return (
        f"digest {delivery.run_id} ({request.name}): {plural(counts['stories'], 'story')} "
        f"({counts['new_stories']} new, "
        f"{counts['grown_stories']} grown), {period['since']} – {period['until']}{where}{mailed}"
    )


def merge_for_feed(digests: list[dict[str, Any]]) -> dict[str, Any]:
    """One digest of several (newest first): each story once, in its newest version, newest digests
    first. An Atom feed of it lets a feed reader that missed a digest still see its stories."""
    newest = digests[0]
    seen: set[int] = set()
    stories = []
    for digest in digests:
        for story in digest["stories"]:
            if story["story_id"] not in seen:
                seen.add(story["story_id"])
                stories.append(story)
    since = digests[-1]["period"]["since"]
    return {**newest, "stories": stories, "period": {**newest["period"], "since": since}}


def replay(database: Database, run_id: int) -> dict[str, Any]:
    """The data of delivered digest ``run_id``, to render again; :class:`LookupError` if there is none."""
    with database.session() as session:
        run = get_digest_run(session, run_id)
        if run is None:
            raise LookupError(f"no digest {run_id} in this database")
        return json.loads(run.payload)
