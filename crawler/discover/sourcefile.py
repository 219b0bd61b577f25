"""A discovered outlet as a ``[[source]]`` table: printed, or added to a sources file with its comments kept.

The table says in comments where it came from and what each entry point yielded when it was checked, so a
reader of the sources file sees why it holds what it holds. Adding it edits the file with ``tomlkit``, which
keeps every comment, blank line and layout of what was there, and the result is read back as the crawl will
read it before anything is written.
"""

from __future__ import annotations

from pathlib import Path

import tomlkit
from tomlkit.items import Table

from crawler.discover.outlet import OutletReport
from crawler.sources import SourcesError, parse_sources
from crawler.text.urls import url_host

_KEYS = {"feed": "feeds", "sitemap": "sitemaps", "listing": "start_urls"}


def source_table(report: OutletReport, name: str | None = None) -> Table:
    """The ``[[source]]`` table of a usable ``report`` (named ``name``, else after the outlet's host)."""
    table = tomlkit.table()
    table.trivia.indent = "\n"  # a blank line before it, as between the tables of the shipped file
    table.add(tomlkit.comment(f"discovered {report.checked_at.date().isoformat()} from {report.url}"))
    table.add("name", name or report.name)
    if report.language:
        table.add("language", report.language)
    table.add("every", report.every)
    for kind, key in _KEYS.items():
        chosen = report.chosen(kind)
        if not chosen:
            continue
        for check in chosen:
            table.add(tomlkit.comment(f"{kind} {check.url}: {check.describe()} ({check.note})"))
        table.add(key, [check.url for check in chosen])
    return table


def source_block(report: OutletReport, name: str | None = None) -> str:
    """The TOML text of the ``[[source]]`` table of a usable ``report``."""
    document = tomlkit.document()
    tables = tomlkit.aot()
    tables.append(source_table(report, name))
    document.append("source", tables)
    return tomlkit.dumps(document).lstrip("\n")


def add_source(path: Path, report: OutletReport, name: str | None = None) -> str:
    """Add the source of a usable ``report`` to the sources file at ``path`` (made if missing), every
    comment and line of the file kept; returns the name it got. :class:`SourcesError` when the file
    already follows that outlet, or when the result would not load."""
    text = path.read_text(encoding="utf-8") if path.exists() else ""
    document = tomlkit.parse(text)
    existing = parse_sources(text, path) if document.get("source") else []
    hosts = {url_host(check.url) for check in report.checks if check.usable}
    for source in existing:
        if source.hosts & hosts:
            followed = ", ".join(sorted(source.hosts & hosts))
            raise SourcesError(f"{path}: source {source.name!r} already follows {followed}")
    wanted = name or report.name
    if name is None:
        taken = {source.name for source in existing}
        suffix = 2
        while wanted in taken:
            wanted, suffix = f"{report.name}_{suffix}", suffix + 1
    table = source_table(report, wanted)
    if "source" in document:
        document["source"].append(table)  # type: ignore[union-attr]
    else:
        tables = tomlkit.aot()
        tables.append(table)
        document.append("source", tables)
    new_text = tomlkit.dumps(document)
    parse_sources(new_text, path)  # what the crawl will read: a mistake raises before the file is touched
    path.write_text(new_text, encoding="utf-8")
    return wanted
