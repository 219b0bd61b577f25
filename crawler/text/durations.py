"""Durations as people write them and read them: the one grammar of ``every``, ``min_every``,
``max_every``, ``--since`` and ``--digest-every``, and the formatters of intervals and moments. Pure.

A duration is a number and a unit: ``s`` (or ``sec``), ``m`` (or ``min``), ``h``, ``d`` or ``w``,
as in ``"90s"``, ``"30m"``, ``"1.5h"``, ``"1d"``, ``"2w"``. A schedule is a duration (an interval)
or a 5-field cron expression.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime

#: Seconds in each unit of the grammar, by the spelling accepted.
UNIT_SECONDS = {"s": 1, "sec": 1, "m": 60, "min": 60, "h": 3600, "d": 86400, "w": 604800}
EXAMPLES = '"90s", "30m", "1.5h", "1d" or "2w"'

_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(" + "|".join(sorted(UNIT_SECONDS, key=len, reverse=True)) + r")\s*$")
_CRON_FIELD = re.compile(r"^[0-9*/,\-A-Za-z?]+$")
#: The fields of a cron expression: name, lowest and highest value, and the names a value may have instead.
_CRON_FIELDS = (
    ("minute", 0, 59, ()),
    ("hour", 0, 23, ()),
    ("day of month", 1, 31, ()),
    ("month", 1, 12, ("jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec")),
    ("day of week", 0, 7, ("sun", "mon", "tue", "wed", "thu", "fri", "sat")),
)
#: Units of :func:`describe_interval`, largest first.
_DESCRIBED_UNITS = (("d", 86400), ("h", 3600), ("m", 60), ("s", 1))


def parse_duration(text: str) -> float:
    """Seconds of a duration such as ``"90s"``, ``"30m"``, ``"1.5h"``, ``"2w"``; :class:`ValueError` if not one."""
    match = _DURATION.match(text)
    if not match:
        raise ValueError(f"expected a duration such as {EXAMPLES}")
    seconds = float(match.group(1)) * UNIT_SECONDS[match.group(2)]
    if seconds <= 0:
        raise ValueError("a duration must be longer than zero")
    return seconds


def is_cron_expression(text: str) -> bool:
    """True when ``text`` has the shape of a 5-field cron expression (:func:`check_cron_values` checks its values)."""
    fields = text.split()
    return len(fields) == 5 and all(_CRON_FIELD.match(field) for field in fields)


def check_cron_values(text: str) -> None:
    """Raise :class:`ValueError` naming the first value of the cron expression ``text`` outside its field's
    range (``61 25 * * *``: minute 61), or a step, name or range that cron does not accept."""
    for value, (field, low, high, names) in zip(text.split(), _CRON_FIELDS, strict=True):
        for part in value.lower().split(","):
            span, slash, step = part.partition("/")
            if slash and not (step.isdigit() and int(step) >= 1):
                raise ValueError(f"{field} {part!r}: the step after '/' is a whole number of at least 1")
            if span in ("*", "?"):
                continue
            bounds = span.split("-")
            if len(bounds) > 2:
                raise ValueError(f"{field} {part!r} is not a value or a range")
            for bound in bounds:
                if bound in names:
                    continue
                if not bound.isdigit():
                    raise ValueError(f"{field} {bound!r} is not a number{' or a name' if names else ''}")
                if not low <= int(bound) <= high:
                    raise ValueError(f"{field} {bound} is out of range ({low}-{high})")


def parse_schedule(text: str) -> float | None:
    """Seconds of an interval schedule (a duration), or ``None`` for a 5-field cron expression.

    Raises :class:`ValueError` for anything that is neither.
    """
    if _DURATION.match(text):
        return parse_duration(text)
    if is_cron_expression(text):
        check_cron_values(text)
        return None
    raise ValueError(f"expected an interval such as {EXAMPLES}, or a 5-field cron expression")


def describe_interval(seconds: float) -> str:
    """``90`` → ``"1m30s"``; ``7200`` → ``"2h"`` (the two largest units)."""
    seconds = round(seconds)
    parts = []
    for unit, size in _DESCRIBED_UNITS:
        if seconds >= size:
            parts.append(f"{seconds // size}{unit}")
            seconds %= size
    return "".join(parts[:2]) or "0s"


def describe_moment(moment: datetime | None, now: datetime) -> str:
    """A moment in UTC and how far it is from ``now``: ``2026-11-22 08:00:00 UTC (in 5m)``."""
    if moment is None:
        return "never"
    delta = (moment.astimezone(UTC) - now).total_seconds()
    relative = f"in {describe_interval(delta)}" if delta > 0 else f"{describe_interval(-delta)} ago"
    return f"{moment.astimezone(UTC):%Y-%m-%d %H:%M:%S} UTC ({relative})"
