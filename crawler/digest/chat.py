"""Sending a digest to chat (Slack, Telegram, Discord, Feishu/Lark, DingTalk, WeCom, ntfy, any webhook)
through Apprise: each ``--notify URL`` is an Apprise URL (``slack://...``, ``tgram://...``,
``json://host/path`` for a plain JSON webhook). The Markdown digest is the message; the service's plugin
splits or shortens it to what the service takes. Errors name the service by its URL with its secrets
hidden (Apprise's privacy form), never the token."""

from __future__ import annotations

import logging
from collections.abc import Sequence

import apprise

logger = logging.getLogger(__name__)


class ChatError(RuntimeError):
    """A digest could not be sent to a chat service, or its URL is not one Apprise knows."""


def _service(url: str) -> apprise.Apprise:
    """An Apprise object for the one service at ``url``; :class:`ChatError` if Apprise does not know it."""
    service = apprise.Apprise()
    apprise_log = logging.getLogger("apprise")
    level, apprise_log.level = apprise_log.level, logging.CRITICAL  # it logs a URL it cannot parse whole, secrets too
    try:
        added = service.add(url)
    finally:
        apprise_log.setLevel(level)
    if not added:
        scheme = url.partition("://")[0] or url[:12]
        raise ChatError(f"not a chat URL Apprise knows (scheme {scheme!r}): see https://github.com/caronc/apprise/wiki")
    return service


def check_notify_urls(urls: Sequence[str]) -> None:
    """Raise :class:`ChatError` for the first URL Apprise cannot use (before anything is made)."""
    for url in urls:
        _service(url)


def private_url(url: str) -> str:
    """``url`` with its tokens and passwords hidden, to name the service in logs and errors."""
    try:
        return str(_service(url)[0].url(privacy=True)).split("?", 1)[0]
    except ChatError:
        return url.partition("://")[0] + "://…"


def notify(urls: Sequence[str], title: str, markdown: str) -> None:
    """Send the Markdown digest to every chat service in ``urls``; :class:`ChatError` naming those
    that failed (after trying them all)."""
    failed = []
    for url in urls:
        service = _service(url)
        if not service.notify(body=markdown, title=title, body_format=apprise.NotifyFormat.MARKDOWN):
            failed.append(private_url(url))
    if failed:
        raise ChatError(f"sending the digest to chat failed: {', '.join(failed)} (see the log for the reply)")
