"""Sending a digest by e-mail over SMTP, configured by environment variables.

``AI4S_SMTP_HOST`` (required), ``AI4S_SMTP_PORT`` (default 587 with STARTTLS, 465 with
``AI4S_SMTP_SSL=1``, else 25), ``AI4S_SMTP_USER`` and ``AI4S_SMTP_PASSWORD`` (optional login),
``AI4S_SMTP_FROM`` (default the user, else ``ai4s-monitor@<host name>``), ``AI4S_SMTP_STARTTLS``
(``1`` to upgrade the connection; the default when a password is set and SSL is not), and
``AI4S_SMTP_SSL``. The password is never logged, printed or put in an error message.
"""

from __future__ import annotations

import os
import smtplib
import socket
import ssl
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from email.message import EmailMessage
from email.utils import formatdate, make_msgid


class MailError(RuntimeError):
    """A digest could not be sent; the message says why (never with the password)."""


def _flag(value: str | None) -> bool | None:
    if value is None or not value.strip():
        return None
    return value.strip().lower() in ("1", "true", "yes", "on")


@dataclass(frozen=True)
class SmtpSettings:
    """Where and how to send mail."""

    host: str
    port: int
    sender: str
    user: str | None = None
    password: str | None = field(default=None, repr=False)
    starttls: bool = False
    ssl: bool = False

    @classmethod
    def from_environment(cls, environ: Mapping[str, str] | None = None) -> SmtpSettings:
        """The settings from ``AI4S_SMTP_*`` variables; :class:`MailError` if the host is missing or wrong."""
        env = os.environ if environ is None else environ
        host = (env.get("AI4S_SMTP_HOST") or "").strip()
        if not host:
            raise MailError(
                "no SMTP server configured: set AI4S_SMTP_HOST (and AI4S_SMTP_PORT, _USER, _PASSWORD, _FROM)"
            )
        user = env.get("AI4S_SMTP_USER") or None
        password = env.get("AI4S_SMTP_PASSWORD") or None
        use_ssl = bool(_flag(env.get("AI4S_SMTP_SSL")))
        starttls = _flag(env.get("AI4S_SMTP_STARTTLS"))
        if starttls is None:
            starttls = bool(password) and not use_ssl
        default_port = 465 if use_ssl else 587 if starttls else 25
        try:
            port = int(env.get("AI4S_SMTP_PORT") or default_port)
        except ValueError:
            raise MailError(f"AI4S_SMTP_PORT must be a number, not {env.get('AI4S_SMTP_PORT')!r}") from None
        sender = env.get("AI4S_SMTP_FROM") or user or f"ai4s-monitor@{socket.gethostname()}"
        return cls(host, port, sender, user, password, starttls, use_ssl)


def build_message(sender: str, recipients: Sequence[str], subject: str, text: str, html: str) -> EmailMessage:
    """A multipart/alternative message: the Markdown digest as plain text, the HTML digest as HTML."""
    message = EmailMessage()
    message["Subject"] = subject
    message["From"] = sender
    message["To"] = ", ".join(recipients)
    message["Date"] = formatdate(localtime=False)
    message["Message-ID"] = make_msgid(domain=sender.rpartition("@")[2] or None)
    message.set_content(text, subtype="plain", charset="utf-8")
    message.add_alternative(html, subtype="html", charset="utf-8")
    return message


def send(settings: SmtpSettings, message: EmailMessage, timeout: float = 30.0) -> None:
    """Deliver ``message`` to its recipients; :class:`MailError` on any failure."""
    context = ssl.create_default_context()
    try:
        client: smtplib.SMTP
        if settings.ssl:
            client = smtplib.SMTP_SSL(settings.host, settings.port, timeout=timeout, context=context)
        else:
            client = smtplib.SMTP(settings.host, settings.port, timeout=timeout)
        with client:
            if settings.starttls:
                client.starttls(context=context)
            if settings.user and settings.password:
                client.login(settings.user, settings.password)
            refused = client.send_message(message)
    except smtplib.SMTPAuthenticationError as exc:
        raise MailError(
            f"the SMTP server {settings.host} refused the login of {settings.user!r} ({exc.smtp_code})"
        ) from None
    except (smtplib.SMTPException, OSError) as exc:
        raise MailError(
            f"sending through {settings.host}:{settings.port} failed: {type(exc).__name__}: {exc}"
        ) from None
    if refused:
        raise MailError(f"the SMTP server refused these recipients: {', '.join(sorted(refused))}")
