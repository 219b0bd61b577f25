"""Tests of the script facts (crawler/text/script.py): which characters are CJK, and the weighted length."""

from __future__ import annotations

import re
from itertools import combinations
from pathlib import Path

import pytest

from crawler.text import script
from crawler.text.extract import MIN_ARTICLE_CHARS, detect_language
from crawler.text.script import (
    CJK_CHAR,
    HAN_CHAR,
    character_class,
    is_cjk,
    is_han,
    is_unspaced,
    is_unspaced_text,
    weighted_length,
)

ROOT = Path(__file__).resolve().parents[3]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("AI for Science", 14),
        ("科学智能", 8),  # one Chinese character carries about a word
        ("AI驱动的科学研究", 2 + 2 * 7),
        ("科學智能", 8),  # traditional characters too
        ("ひらがなカタカナ", 16),
        ("과학 지능", 9),  # Hangul syllables count double, the space once
        ("。，、「」", 5),  # punctuation is not a word
        ("二〇二四年", 10),  # 〇 is a Han numeral
        ("\U00020000\U0002a700", 4),  # ideographs beyond the Basic Multilingual Plane (extensions B, C)
        ("", 0),
    ],
)
def test_weighted_length_counts_cjk_characters_twice(text: str, expected: int) -> None:
    assert weighted_length(text) == expected


def test_the_script_sets_do_not_overlap() -> None:
    named = {
        "HAN": script.HAN,
        "KANA": script.KANA,
        "BOPOMOFO": script.BOPOMOFO,
        "HANGUL": script.HANGUL,
        "CJK_PUNCTUATION": script.CJK_PUNCTUATION,
    }
    for (name_a, a), (name_b, b) in combinations(named.items(), 2):
        for low_a, high_a in a:
            for low_b, high_b in b:
                assert high_a < low_b or high_b < low_a, f"{name_a} and {name_b} share {low_b:#x}..{high_a:#x}"


@pytest.mark.parametrize(
    ("char", "cjk", "han", "unspaced", "unspaced_text"),
    [
        ("中", True, True, True, True),
        ("〇", True, True, True, True),
        ("か", True, False, True, True),
        ("한", True, False, False, False),  # Korean is written with spaces
        ("ㄅ", False, False, True, True),  # bopomofo: unspaced, but a sound, not a word
        ("。", False, False, False, True),
        ("，", False, False, False, True),
        ("a", False, False, False, False),
        (" ", False, False, False, False),
    ],
)
def test_character_predicates(char: str, cjk: bool, han: bool, unspaced: bool, unspaced_text: bool) -> None:
    assert (is_cjk(char), is_han(char), is_unspaced(char), is_unspaced_text(char)) == (
        cjk,
        han,
        unspaced,
        unspaced_text,
    )
    assert bool(CJK_CHAR.fullmatch(char)) == cjk
    assert bool(HAN_CHAR.fullmatch(char)) == han


def test_character_class_matches_exactly_its_ranges() -> None:
    pattern = re.compile(f"[{character_class(((0x41, 0x43), (0x4E00, 0x4E01)))}]")
    assert [c for c in "@ABCD一丁七" if pattern.fullmatch(c)] == ["A", "B", "C", "一", "丁"]


def test_detect_language_tells_the_cjk_languages_apart_by_script() -> None:
    assert detect_language("人工智能驱动的科学研究正在改变材料和药物的发现方式。" * 3) == "zh"
    assert detect_language("人工知能による科学研究は、材料と薬の発見を変えつつある。" * 3) == "ja"
    assert detect_language("인공지능 기반 과학 연구가 신소재와 신약 발견을 바꾸고 있다." * 3) == "ko"


def test_a_short_chinese_article_is_long_enough_where_as_many_latin_letters_are_not() -> None:
    half = MIN_ARTICLE_CHARS // 2
    assert weighted_length("科" * half) >= MIN_ARTICLE_CHARS > weighted_length("a" * half)


def test_no_other_module_spells_cjk_character_ranges() -> None:
    """The ranges live in crawler/text/script.py only: a copy elsewhere drifts (it did, in six modules)."""
    spelled = re.compile(r"\\u(?:3040|3400|4e00|9fff|ac00)|0x(?:3400|4E00|9FFF|AC00)\b", re.IGNORECASE)
    offenders = [
        f"{path.relative_to(ROOT)}:{number}"
        for folder in ("crawler", "storage")
        for path in sorted((ROOT / folder).rglob("*.py"))
        if path.name != "script.py"
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1)
        if spelled.search(line)
    ]
    assert offenders == []
