"""A site's template in extracted text: the blocks (lines) that recur on many pages of one source. Pure.

Extraction keeps some of a page's template: related headlines, promo boxes, copyright and licence
lines, editor boxes, share prompts. Each recurs, word for word, on many pages of the same site,
while an article's own paragraphs do not. A block is one line of extracted text; its key
(:func:`block_key`) is a 64-bit hash of the line with width, case, spacing and punctuation folded,
so the same line in another punctuation or width counts as the same block. Which keys are a
source's template is learned from counts kept in the database (see :mod:`crawler.corpus.templates`);
here the keys are made and the text is cleaned of the keys it is given.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Collection
from dataclasses import dataclass
from fractions import Fraction

from crawler.text.normalize import fold_width
from crawler.text.script import weighted_length

#: A block seen on at least this many stored articles of one source is that source's template...
TEMPLATE_PAGES = 3
#: ...but a block this long (CJK characters counted twice) is a sentence, and an article's own sentences recur too:
#: a series' intro, a statement several articles quote, a lead that follow-ups repeat. A sentence is template on...
TEMPLATE_SENTENCE_CHARS = 100
#: ...at least this many articles, when they are this share of the source's articles stored since it first showed
#: (a footer, a disclaimer, a newsletter promo is on every page)...
TEMPLATE_SENTENCE_PAGES = 5
TEMPLATE_SHARE = Fraction(2, 3)
#: ...or on this many, whatever their share (a section's own footer).
TEMPLATE_PAGES_WHATEVER_SHARE = 10

#: What a key leaves out of a line: spacing and punctuation (``\W`` keeps letters, digits and CJK characters).
_NOT_WORD = re.compile(r"[\W_]+")


def text_blocks(text: str) -> list[str]:
    """The blocks of an extracted text: its non-empty lines, stripped."""
    return [line.strip() for line in text.splitlines() if line.strip()]


def is_sentence(block: str) -> bool:
    """Whether a block is long enough to be a sentence of an article (:data:`TEMPLATE_SENTENCE_CHARS`)."""
    return weighted_length(block) >= TEMPLATE_SENTENCE_CHARS


def block_key(block: str) -> int | None:
    """The key of a block (a signed 64-bit integer), or ``None`` for a block with no letters or digits."""
    folded = _NOT_WORD.sub("", fold_width(block).lower())
    if not folded:
        return None
    digest = hashlib.blake2b(folded.encode("utf-8"), digest_size=8).digest()
    return int.from_bytes(digest, "little", signed=True)


@dataclass(frozen=True)
class KeyedBlocks:
    """An extracted text cut into its blocks, each with its key: made once a page, for cleaning and counting."""

    text: str
    blocks: tuple[tuple[str, int | None], ...]

    @classmethod
    def of(cls, text: str) -> KeyedBlocks:
        """The blocks of ``text`` and their keys."""
        return cls(text, tuple((block, block_key(block)) for block in text_blocks(text)))

    def samples(self) -> dict[int, str]:
        """Each distinct key, in the order of the text, with the first block that has it (a page counts once
        per block)."""
        samples: dict[int, str] = {}
        for block, key in self.blocks:
            if key is not None:
                samples.setdefault(key, block)
        return samples

    def sentences(self) -> frozenset[int]:
        """The keys of the blocks that are sentences (:data:`TEMPLATE_SENTENCE_CHARS` or longer)."""
        return frozenset(key for block, key in self.blocks if key is not None and is_sentence(block))

    def all_in(self, template: Collection[int]) -> bool:
        """Whether every block of the text (that has a key) is in ``template``: a page with no text of its own,
        where extraction found only what the source's other pages show too."""
        keys = [key for _, key in self.blocks if key is not None]
        return bool(keys) and all(key in template for key in keys)

    def own_length(self, other: Collection[int]) -> int:
        """The weighted length of the blocks whose key is not in ``other`` (another text's keys): what this text
        says that the other does not."""
        return sum(weighted_length(block) for block, key in self.blocks if key is not None and key not in other)

    def without(self, template: Collection[int]) -> CleanedText:
        """The text without the blocks whose key is in ``template``; never nothing: a text that is all template
        (a page with no text of its own) comes back whole."""
        if not template:
            return CleanedText(self.text, 0)
        kept = [block for block, key in self.blocks if key not in template]
        if not kept or len(kept) == len(self.blocks):
            return CleanedText(self.text, 0)
        return CleanedText("\n".join(kept), len(self.blocks) - len(kept))


def page_block_keys(text: str) -> tuple[int, ...]:
    """The distinct keys of a text's blocks, in their order (a page counts once per block)."""
    return tuple(KeyedBlocks.of(text).samples())


@dataclass(frozen=True)
class CleanedText:
    """A text without its template blocks, and how many blocks were removed (0: the text as it was)."""

    text: str
    removed: int


def remove_template(text: str, template: Collection[int]) -> CleanedText:
    """``text`` without the blocks whose key is in ``template``; never nothing: a text that is all template
    (a page with no text of its own) comes back whole."""
    return KeyedBlocks.of(text).without(template)
