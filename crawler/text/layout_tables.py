"""Tables that lay a page out, not data: their text as the lines a reader sees. Pure: no Scrapy, no database.

trafilatura (``include_tables=True``) writes every row of a table as one ``| cell | cell |`` line, the blocks of a
cell run together. On the portals that still lay their pages out with tables, the article sits in one cell: its
paragraphs, the editor's line, the comment prompt and the copyright came out as one line, which line by line
template learning (:mod:`crawler.text.template_blocks`) could never take apart, beside rows of empty cells
(``|  |  |``). :func:`unroll_layout_tables` rewrites trafilatura's extracted tree (``Document.body``) before it is
written as text: the cells of a layout table give their blocks as paragraphs of their own, and rows of empty
cells are dropped; a data table (short cells in a grid) keeps its rows.
"""

from __future__ import annotations

import re

from lxml.etree import _Element
from trafilatura.xml import xmltotxt

from crawler.text.script import weighted_length

#: trafilatura's elements that are blocks of their own (a line or more of the text); the others are inline.
_BLOCKS = frozenset({"p", "head", "list", "quote", "table", "code"})
#: A cell holding this many blocks (paragraphs, ``<br>``-separated runs) or more is a page's column, not a datum.
CELL_BLOCKS = 3
#: A cell holding text this long (CJK characters count double) is a page's column, not a datum: a paragraph
#: of prose, beyond the name, number or short phrase of a data table's cell.
CELL_CHARS = 160
#: A run of white space that breaks a line of the page's source: a space to the reader, as it was in the cell.
_SOURCE_BREAK = re.compile(r"\s*\n\s*")


def _text(element: _Element) -> str:
    """The text of ``element`` and its descendants, without the surrounding whitespace."""
    return "".join(element.itertext()).strip()


def _cell_blocks(cell: _Element) -> list[_Element]:
    """The blocks of a trafilatura ``<cell>``, taken out of it: its block children as they are, the inline text
    and elements between them (up to a block or an ``<lb>``) as ``<p>`` elements; none without text."""
    blocks: list[_Element] = []
    run = cell.makeelement("p")
    run.text = cell.text

    def close_run() -> None:
        if _text(run):
            blocks.append(run)

    for child in list(cell):
        if child.tag in _BLOCKS or child.tag == "lb":
            close_run()
            tail, child.tail = child.tail, None
            if child.tag != "lb" and _text(child):
                blocks.append(child)
            run = cell.makeelement("p")
            run.text = tail
        else:
            run.append(child)  # an inline element, with its tail
    close_run()
    for block in blocks:
        if block.getparent() is not None:
            block.getparent().remove(block)
        _join_source_lines(block)
    return blocks


def _join_source_lines(element: _Element) -> None:
    """Write the line breaks of the page's source in the text of ``element`` (but in code) as spaces, as a
    browser shows them and as trafilatura wrote them in a cell."""
    element.tail = element.tail and _SOURCE_BREAK.sub(" ", element.tail)
    if element.tag == "code":
        return
    element.text = element.text and _SOURCE_BREAK.sub(" ", element.text)
    for child in element:
        _join_source_lines(child)


def _is_column(cell: _Element, text: str) -> bool:
    """Whether a ``<cell>`` with the text ``text`` holds a column of a page (several blocks, or long text), not a
    datum."""
    if weighted_length(text) >= CELL_CHARS:
        return True
    return sum(child.tag in _BLOCKS or child.tag == "lb" for child in cell) + 1 >= CELL_BLOCKS


def _unrolled(table: _Element) -> list[_Element] | None:
    """What replaces a ``<table>`` of trafilatura's tree: its rows with text, if it is a data table; else the
    blocks of each row that holds a column or a single cell with text, and, in a ``<table>``, the runs of rows
    of several short cells (a menu, a line of dates and sources). ``None`` where the table stays as it is."""
    rows = [row for row in table if row.tag == "row"]
    if not rows or next(table.iterancestors("code"), None) is not None:
        return None  # the markup of a <pre>, written as it is, not a table trafilatura rewrote
    texts = [[(cell, _text(cell)) for cell in row if cell.tag == "cell"] for row in rows]
    filled = [[cell for cell, text in cells if text] for cells in texts]
    columns = [any(_is_column(cell, text) for cell, text in cells if text) for cells in texts]
    if not any(columns) and any(len(cells) > 1 for cells in filled):  # a data table
        if all(filled):
            return None
        kept = table.makeelement("table", table.attrib)
        kept.extend(row for row, cells in zip(rows, filled, strict=True) if cells)
        return [kept] if len(kept) else []
    replacement: list[_Element] = []
    grid: _Element | None = None
    for row, cells, column in zip(rows, filled, columns, strict=True):
        if not cells:
            continue
        if len(cells) > 1 and not column:
            if grid is None:
                grid = table.makeelement("table", table.attrib)
                replacement.append(grid)
            grid.append(row)
            continue
        grid = None
        for cell in cells:
            replacement.extend(_cell_blocks(cell))
    return replacement


def _replace(element: _Element, replacement: list[_Element]) -> None:
    """Put ``replacement`` in the place of ``element`` in its tree, keeping the text after it."""
    parent = element.getparent()
    if parent is None:
        return
    position = parent.index(element)
    tail = element.tail
    parent.remove(element)
    for offset, new in enumerate(replacement):
        parent.insert(position + offset, new)
    if tail and tail.strip():
        if replacement:
            replacement[-1].tail = f"{replacement[-1].tail or ''}{tail}"
        elif position > 0:
            parent[position - 1].tail = f"{parent[position - 1].tail or ''}{tail}"
        else:
            parent.text = f"{parent.text or ''}{tail}"


def unroll_layout_tables(body: _Element) -> bool:
    """Rewrite the layout tables of trafilatura's extracted tree ``body`` as the blocks a reader sees, and drop
    the rows of empty cells of every table; whether anything changed."""
    changed = False
    for table in reversed(list(body.iter("table"))):  # inner tables first: an outer cell then moves them whole
        replacement = _unrolled(table)
        if replacement is not None:
            _replace(table, replacement)
            changed = True
    return changed


def table_text(body: _Element) -> str | None:
    """The text of trafilatura's extracted tree ``body`` with its layout tables unrolled, or ``None`` where it
    has none to unroll (its text is then trafilatura's own)."""
    if body.find(".//table") is None or not unroll_layout_tables(body):
        return None
    return xmltotxt(body, False)
