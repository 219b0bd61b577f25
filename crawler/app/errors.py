"""How the command line ends on a mistake: one line on standard error naming the problem, and an exit code
that says whose it was. The one place that turns exceptions into messages, for every command.

Exit codes:

- ``0``: done (an empty result included: the command says so);
- ``1``: a failure at run time: the command was well formed but the world refused it (a database that
  cannot be reached or opened, a file that cannot be written, a crawl or a delivery that failed);
- ``2``: a usage mistake: the command line asks for something that cannot be (a malformed database
  URL, an unknown option value, a bad schedule, a period in the future, a name that matches nothing);
- ``3``: ``ai4s daemon`` only: another daemon holds the database;
- ``4``: ``ai4s crawl`` only: the crawl was interrupted (SIGTERM, Ctrl-C, its time limit) before its end.

A command raises :class:`UsageMistake` or :class:`RunFailure` for what it finds itself; the exceptions
the library raises for such cases (:func:`library_mistakes`) are mapped here too, so that a command does not
catch them one by one. Anything else is a bug and keeps its traceback.
"""

from __future__ import annotations

from typing import Any

import typer
from rich.console import Console
from rich.markup import escape
from typer.core import TyperGroup

USAGE = 2
FAILURE = 1
INTERRUPTED = 4


class CommandError(Exception):
    """A command that cannot go on, with the one line that says why and its exit code."""

    exit_code = FAILURE


class UsageMistake(CommandError):
    """The command line asks for something that cannot be: exit 2."""

    exit_code = USAGE


class RunFailure(CommandError):
    """A well-formed command that failed at run time: exit 1."""

    exit_code = FAILURE


def library_mistakes() -> tuple[tuple[type[Exception], ...], tuple[type[Exception], ...]]:
    """The library's exceptions that mean the command line was wrong (their message names the option and the
    value), and those that mean the world refused a well-formed command. Imported when a command fails, not
    on every start."""
    from crawler.config import ConfigError
    from crawler.relevance.profile import TopicsError
    from crawler.sources import SourcesError
    from storage.db import DatabaseUnavailable, DatabaseUrlError

    return (DatabaseUrlError, ConfigError, SourcesError, TopicsError), (DatabaseUnavailable,)


def explain(exc: BaseException) -> tuple[str, int] | None:
    """The message and exit code of ``exc`` when it is a mistake or a failure a user can meet; ``None`` for a bug."""
    if isinstance(exc, CommandError):
        return str(exc), exc.exit_code
    if isinstance(exc, OSError):  # a file or folder the command cannot write or read
        return _describe_os_error(exc), FAILURE
    usage_mistakes, run_failures = library_mistakes()
    if isinstance(exc, usage_mistakes):
        return str(exc), USAGE
    if isinstance(exc, run_failures):
        return str(exc), FAILURE
    return None


def report(message: str, exit_code: int) -> typer.Exit:
    """Print ``message`` as the command's one error line; the exit to raise."""
    Console(stderr=True).print(f"[bold red]error:[/] {escape(message)}", highlight=False, soft_wrap=True)
    return typer.Exit(exit_code)


class ErrorReportingGroup(TyperGroup):
    """The ``ai4s`` command group: a mistake or failure in any of its commands ends as :func:`report` says."""

    def invoke(self, ctx: Any) -> Any:  # a click context: typer 0.2x vendors its own click, so no public name
        """Run the command; an exception :func:`explain` knows becomes one line and its exit code (the
        command line's own exits and usage errors are none of those: they pass as they are)."""
        try:
            return super().invoke(ctx)
        except Exception as exc:
            explained = explain(exc)
            if explained is None:
                raise
            raise report(*explained) from None


def _describe_os_error(exc: OSError) -> str:
    """``out/x.jsonl: No such file or directory``: the file and what the system said of it."""
    if exc.filename is None:
        return exc.strerror or str(exc)
    return f"{exc.filename}: {exc.strerror or exc}"
