"""Where the broker URL comes from (the environment or a file, never a command line that ``ps``
shows) and how it is written in logs (its password masked)."""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path

from kombu.utils.url import maybe_sanitize_url

#: The environment variable with the broker URL (``redis://:PASSWORD@HOST:PORT/N``).
BROKER_ENV = "AI4S_BROKER_URL"


class BrokerError(ValueError):
    """The broker URL is missing, unreadable or not a Redis URL."""


def broker_url(broker_file: Path | None = None, environ: Mapping[str, str] | None = None) -> str | None:
    """The broker URL from ``broker_file`` (its first non-blank line) or else ``$AI4S_BROKER_URL``;
    ``None`` when neither gives one (no cluster)."""
    environ = os.environ if environ is None else environ
    if broker_file is not None:
        try:
            lines = broker_file.read_text(encoding="utf-8").splitlines()
        except OSError as exc:
            raise BrokerError(f"cannot read the broker file {broker_file}: {exc.strerror or exc}") from None
        url = next((line.strip() for line in lines if line.strip() and not line.lstrip().startswith("#")), "")
        if not url:
            raise BrokerError(f"the broker file {broker_file} holds no URL")
    else:
        url = environ.get(BROKER_ENV, "").strip()
        if not url:
            return None
    if not url.startswith(("redis://", "rediss://")):
        raise BrokerError(f"the broker must be a Redis URL (redis://...), not {masked(url)!r}")
    return url


def masked(url: str) -> str:
    """``url`` as it may appear in a log: its password replaced by ``**``."""
    return str(maybe_sanitize_url(url))
