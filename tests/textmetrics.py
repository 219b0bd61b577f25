"""Tolerant comparison of extracted text with ground truth: token F1 (CJK characters are tokens)."""

from __future__ import annotations

import re
from collections import Counter

_TOKEN = re.compile(r"[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff\u3040-\u30ff]|\w+", re.UNICODE)


def tokens(text: str) -> list[str]:
    """Lower-cased word tokens; each CJK character is a token of its own."""
    return _TOKEN.findall(text.lower())


def token_f1(extracted: str, truth: str) -> float:
    """Harmonic mean of token precision and recall of ``extracted`` against ``truth`` (0..1)."""
    got, want = Counter(tokens(extracted)), Counter(tokens(truth))
    overlap = sum((got & want).values())
    if not overlap:
        return 0.0
    precision, recall = overlap / sum(got.values()), overlap / sum(want.values())
    return 2 * precision * recall / (precision + recall)
