"""The digest in the formats people read: Markdown, self-contained HTML, JSON and Atom.

Titles and excerpts come from the open web, so every format treats them as untrusted:
Jinja2 escapes every value (HTML and XML by autoescape, Markdown by an escaping ``finalize``),
links are emitted only for http(s) URLs, the HTML carries a Content-Security-Policy that
allows no script at all, and the JSON escapes ``<``, ``>`` and ``&`` so that it stays inert
even when pasted into a page.
"""

from __future__ import annotations

import json
import re
from datetime import UTC
from functools import cache
from pathlib import Path
from typing import Any
from urllib.parse import quote

from jinja2 import Environment, FileSystemLoader, StrictUndefined, Template
from markupsafe import Markup, escape

from crawler.digest.display import clean_line, safe_url
from crawler.text.dates import parse_date
from crawler.text.wording import plural

FORMATS = ("md", "html", "json", "atom")
#: File name extension of each format.
EXTENSIONS = {"md": "md", "html": "html", "json": "json", "atom": "atom"}
TEMPLATES = Path(__file__).parent / "templates"

# Characters that start Markdown syntax anywhere in a line (emphasis, code, links and images, raw
# HTML and autolinks, tables, strikethrough, entities), and the block markers that only count at
# the start of a line (headings, lists, quotes); a backslash makes any of them literal.
_MARKDOWN_INLINE = re.compile(r"[\\`*_\[\]<>|~&]")
_MARKDOWN_BLOCK = re.compile(r"^(\s*\d*)([-+*#>.)])(?=\s|$)")
_URL_SAFE = ":/?#[]@!$&'*+,;=%~-._"
_ENTRY_HTML = (
    "<p>{{ s.outlet }} · {{ (s.published or s.first_seen) | when }}</p>"
    "{% if s.excerpt %}<p>{{ s.excerpt }}</p>{% endif %}"
    "{% if s.also_reported_by %}<p>Also reported by: {% for o in s.also_reported_by %}"
    '{% if o.url | safe_url %}<a href="{{ o.url | safe_url }}">{{ o.outlet }}</a>{% else %}{{ o.outlet }}{% endif %}'
    "{{ (' (%d)' % o.copies) if (o.copies | default(1)) > 1 }}{{ ', ' if not loop.last }}{% endfor %}</p>{% endif %}"
    "{% if s.terms %}<p>Matched: {{ s.terms | join(', ') }}</p>{% endif %}"
)


class MarkdownText(str):
    """Text that is already Markdown (a link built by :func:`markdown_link`): not escaped again."""


def markdown_escape(value: object) -> str:
    """``value`` as literal Markdown text: one line, every Markdown-significant character backslash-escaped."""
    if isinstance(value, MarkdownText):
        return value
    if value is None:
        return ""
    text = _MARKDOWN_INLINE.sub(lambda m: "\\" + m.group(), clean_line(str(value)))
    return _MARKDOWN_BLOCK.sub(lambda m: m.group(1) + "\\" + m.group(2), text)


def markdown_link(text: object, url: str | None) -> MarkdownText:
    """A Markdown link to ``url`` if it is http(s), else the escaped text alone."""
    label = markdown_escape(text)
    target = safe_url(url)
    if target is None:
        return MarkdownText(label)
    # inside <...> a destination may hold anything but line breaks and angle brackets: encode those (and spaces)
    destination = quote(target, safe=_URL_SAFE)
    return MarkdownText(f"[{label}](<{destination}>)")


def when(stamp: str | None) -> str:
    """``2026-11-22T08:00:00Z`` → ``2026-11-22 08:00 UTC``; a moment at midnight UTC exactly, which is
    how a date without a time is stored, → ``2026-11-22`` (no time is made up)."""
    moment = parse_date(stamp)
    if moment is None:
        return ""
    moment = moment.astimezone(UTC)
    if (moment.hour, moment.minute, moment.second, moment.microsecond) == (0, 0, 0, 0):
        return moment.strftime("%Y-%m-%d")
    return moment.strftime("%Y-%m-%d %H:%M UTC")


#: The colours of the chart's languages (the most frequent first), and of any further ones.
CHART_COLOURS = ("#0b57d0", "#d9480f", "#2b8a3e", "#862e9c", "#5c940d")
CHART_WIDTH, CHART_HEIGHT, CHART_TOP, CHART_BOTTOM, CHART_LEFT = 600, 170, 12, 24, 28


def chart_svg(chart: dict[str, Any] | None) -> Markup:
    """New stories per day by language as an inline SVG bar chart (stacked bars, a legend, no script)."""
    if not chart or not chart.get("series"):
        return Markup("")
    days, series = chart["days"], chart["series"]
    totals = [sum(values[i] for values in series.values()) for i in range(len(days))]
    peak = max(max(totals), 1)
    plot = CHART_HEIGHT - CHART_TOP - CHART_BOTTOM
    step = (CHART_WIDTH - CHART_LEFT) / len(days)
    parts = [
        f'<svg class="chart" viewBox="0 0 {CHART_WIDTH} {CHART_HEIGHT}" role="img" '
        f'aria-labelledby="chart-title" xmlns="http://www.w3.org/2000/svg" preserveAspectRatio="xMidYMid meet">',
        f'<title id="chart-title">New stories per day, last {len(days)} days, by language</title>',
        f'<line x1="{CHART_LEFT}" y1="{CHART_TOP + plot}" x2="{CHART_WIDTH}" y2="{CHART_TOP + plot}" '
        'stroke="#8c959f"/>',
        f'<text x="{CHART_LEFT - 4}" y="{CHART_TOP + 8}" text-anchor="end" font-size="11" fill="#57606a">{peak}</text>',
        f'<text x="{CHART_LEFT - 4}" y="{CHART_TOP + plot}" text-anchor="end" font-size="11" fill="#57606a">0</text>',
    ]
    colours = {lang: CHART_COLOURS[i % len(CHART_COLOURS)] for i, lang in enumerate(series)}
    for index, day in enumerate(days):
        bottom = CHART_TOP + plot
        for lang, values in series.items():
            if not values[index]:
                continue
            height = values[index] / peak * plot
            bottom -= height
            x = CHART_LEFT + index * step + 1
            parts.append(
                f'<rect x="{x:.1f}" y="{bottom:.1f}" width="{max(step - 2, 1):.1f}" height="{height:.1f}" '
                f'fill="{colours[lang]}"><title>{escape(day)}: {values[index]} {escape(lang)}</title></rect>'
            )
    for index in (0, len(days) - 1):
        anchor = "start" if index == 0 else "end"
        x = CHART_LEFT + (index + (0 if index == 0 else 1)) * step
        parts.append(
            f'<text x="{x:.1f}" y="{CHART_HEIGHT - 6}" text-anchor="{anchor}" font-size="11" fill="#57606a">'
            f"{escape(days[index])}</text>"
        )
    legend_x = CHART_WIDTH / 2 - 50 * len(series) / 2
    for number, lang in enumerate(series):
        x = legend_x + number * 60
        parts.append(f'<rect x="{x:.1f}" y="{CHART_HEIGHT - 16}" width="10" height="10" fill="{colours[lang]}"/>')
        parts.append(
            f'<text x="{x + 14:.1f}" y="{CHART_HEIGHT - 7}" font-size="11" fill="#1b1f24">{escape(lang)}</text>'
        )
    parts.append("</svg>")
    return Markup("".join(parts))


def sparkline(chart: dict[str, Any] | None) -> str:
    """New stories per day as a line of block characters, a dot for a day without (for Markdown and chat)."""
    if not chart or not chart.get("series"):
        return ""
    days = chart["days"]
    totals = [sum(values[i] for values in chart["series"].values()) for i in range(len(days))]
    peak = max(max(totals), 1)
    blocks = "·▁▂▃▄▅▆▇█"
    return "".join(blocks[0 if not n else max(1, round(n / peak * 8))] for n in totals)


def latest(entry: dict[str, Any]) -> str:
    """When the story of a digest entry last got a copy (ISO): the entry's Atom ``updated``, and its
    recency in the digest's order (:func:`crawler.digest.build.build_digest`)."""
    return max([entry["first_seen"], *(o.get("last_seen", o["first_seen"]) for o in entry["also_reported_by"])])


@cache
def _environment(kind: str) -> Environment:
    common: dict[str, Any] = {
        "loader": FileSystemLoader(TEMPLATES),
        "undefined": StrictUndefined,
        "keep_trailing_newline": True,
        "trim_blocks": False,
    }
    if kind == "md":
        environment = Environment(autoescape=False, finalize=markdown_escape, **common)  # noqa: S701 (Markdown)
        environment.filters["link"] = markdown_link
    else:
        environment = Environment(autoescape=True, **common)
        environment.filters["safe_url"] = safe_url
        environment.filters["entry_html"] = _entry_html
    environment.filters["when"] = when
    environment.filters["latest"] = latest
    environment.filters["plural"] = plural
    environment.filters["chart_svg"] = chart_svg
    environment.filters["sparkline"] = sparkline
    return environment


@cache
def _entry_template() -> Template:
    return _environment("html").from_string(_ENTRY_HTML)


def _entry_html(entry: dict[str, Any]) -> Markup:
    """A story as a small HTML fragment (the content of an Atom entry), escaped like the HTML digest."""
    return Markup(_entry_template().render(s=entry))


def render(digest: dict[str, Any], fmt: str) -> str:
    """The digest (as built by :func:`crawler.digest.build.build_digest`) in format ``fmt``."""
    if fmt == "json":
        text = json.dumps(digest, ensure_ascii=False, indent=2) + "\n"
        return text.replace("&", "\\u0026").replace("<", "\\u003c").replace(">", "\\u003e")
    if fmt not in FORMATS:
        raise ValueError(f"unknown digest format {fmt!r} (supported: {', '.join(FORMATS)})")
    template = _environment("md" if fmt == "md" else "html").get_template(f"digest.{fmt}.j2")
    return template.render(**{**DIGEST_DEFAULTS, **digest})


#: What a digest delivered before sections and the chart existed lacks (it renders as a flat list).
DIGEST_DEFAULTS: dict[str, Any] = {"top": [], "sections": [], "chart": None, "active_outlets": []}


def subject(digest: dict[str, Any]) -> str:
    """A one-line title for the digest (a mail subject)."""
    counts, period = digest["counts"], digest["period"]
    return (
        f"AI for Science digest: {plural(counts['stories'], 'story')}, "
        f"{when(period['since'])[:10]} – {when(period['until'])[:16]}"
    )
