"""Counts as people read them: the one plural rule of every line, table and digest that says how many. Pure."""

from __future__ import annotations


def plural_of(word: str) -> str:
    """The plural of an English noun: ``story`` → ``stories``, ``copy`` → ``copies``, ``error`` → ``errors``."""
    if word.endswith("y") and word[-2:-1] not in ("a", "e", "i", "o", "u"):
        return word[:-1] + "ies"
    if word.endswith(("s", "x", "ch", "sh")):
        return word + "es"
    return word + "s"


def plural(count: int, word: str, many: str | None = None) -> str:
    """``count`` and ``word`` as read: ``1 story``, ``2 stories``, ``0 errors`` (``many`` where the plural is
    irregular; for a phrase such as ``failed run`` only its last word changes)."""
    if count == 1:
        return f"{count} {word}"
    if many is None:
        head, _, last = word.rpartition(" ")
        many = f"{head} {plural_of(last)}" if head else plural_of(last)
    return f"{count} {many}"
