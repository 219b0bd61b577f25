"""Which characters belong to which East Asian script: the one place for CJK character ranges. Pure.

The sets are named for what the code means by them, because the modules need different ones:

- :data:`HAN`: Chinese characters (ideographs in every block, radicals, 々 〆 〇);
- :data:`KANA` and :data:`BOPOMOFO`: Japanese syllabaries and the Chinese phonetic alphabet;
- :data:`HANGUL`: Korean syllables;
- :data:`CJK` = Han, kana and Hangul: the characters that each carry about a word, so they count
  double in :func:`weighted_length`, are one token each in a fingerprint, and tell the language;
- :data:`UNSPACED` = Han, kana and bopomofo: scripts written without spaces between words
  (Korean is written with spaces, so Hangul is not in it);
- :data:`CJK_PUNCTUATION`: the CJK symbols and punctuation block and the full-width forms, which
  sit in unspaced text without spaces around them.

Each set is a tuple of inclusive code point ranges; :func:`character_class` turns one into the body
of a regular-expression character class.
"""

from __future__ import annotations

import re

Ranges = tuple[tuple[int, int], ...]

HAN: Ranges = (
    (0x2E80, 0x2FDF),  # CJK radicals supplement, Kangxi radicals (NFKC turns the latter into ideographs)
    (0x3005, 0x3007),  # 々 〆 〇
    (0x3400, 0x4DBF),  # extension A
    (0x4E00, 0x9FFF),  # unified ideographs
    (0xF900, 0xFAFF),  # compatibility ideographs
    (0x20000, 0x3134F),  # extensions B-G
)
KANA: Ranges = (
    (0x3040, 0x30FF),  # hiragana, katakana
    (0x31F0, 0x31FF),  # katakana phonetic extensions
)
BOPOMOFO: Ranges = ((0x3100, 0x312F),)
HANGUL: Ranges = ((0xAC00, 0xD7AF),)  # syllables
CJK_PUNCTUATION: Ranges = (
    (0x3000, 0x3004),  # CJK symbols and punctuation: the ideographic space, 、。〃 (々 〆 〇 are Han)
    (0x3008, 0x303F),  # 〈〉《》「」【】 and the rest of the block
    (0xFF00, 0xFFEF),  # half-width and full-width forms: ，！？（）
)

CJK: Ranges = HAN + KANA + HANGUL
UNSPACED: Ranges = HAN + KANA + BOPOMOFO


def character_class(ranges: Ranges) -> str:
    """The body of a regex character class matching ``ranges`` (put it inside ``[...]``)."""
    return "".join(f"{chr(low)}-{chr(high)}" for low, high in ranges)


#: One CJK character (Han, kana or Hangul).
CJK_CHAR = re.compile(f"[{character_class(CJK)}]")
#: One Han character.
HAN_CHAR = re.compile(f"[{character_class(HAN)}]")
#: One kana character.
KANA_CHAR = re.compile(f"[{character_class(KANA)}]")
#: One Hangul syllable.
HANGUL_CHAR = re.compile(f"[{character_class(HANGUL)}]")


def in_ranges(char: str, ranges: Ranges) -> bool:
    """True when the character ``char`` lies in one of ``ranges``."""
    code = ord(char)
    return any(low <= code <= high for low, high in ranges)


def is_cjk(char: str) -> bool:
    """True for a Han, kana or Hangul character."""
    return in_ranges(char, CJK)


def is_han(char: str) -> bool:
    """True for a Chinese character (an ideograph, a radical, 々 〆 〇)."""
    return in_ranges(char, HAN)


def is_unspaced(char: str) -> bool:
    """True for a character of a script written without spaces between words (Han, kana, bopomofo)."""
    return in_ranges(char, UNSPACED)


def is_unspaced_text(char: str) -> bool:
    """True for a character that joins unspaced text without a space: an unspaced script's, or CJK punctuation."""
    return in_ranges(char, UNSPACED) or in_ranges(char, CJK_PUNCTUATION)


def weighted_length(text: str) -> int:
    """The length of ``text`` with CJK characters counted twice (one CJK character carries about a word)."""
    return len(text) + len(CJK_CHAR.findall(text))
