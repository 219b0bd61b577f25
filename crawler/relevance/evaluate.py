"""Evaluation of the relevance scorer on labelled texts: precision, recall and F1 per language,
on a tuning part and a held-out part, and calibration of the threshold. Pure.

Labelled texts are JSON files with ``id, lang, label ("relevant" | "negative"), title, body``
(the format of the project's relevance development set). The held-out part is fixed by a
hash of each text's id, so it never changes from run to run and is never used for tuning.
"""

from __future__ import annotations

import hashlib
import json
import math
from dataclasses import dataclass, replace
from pathlib import Path

from crawler.relevance.profile import RelevanceScorer, Scoring, TopicProfile, dump_profile, load_profile


@dataclass(frozen=True)
class LabelledText:
    """A text with its label."""

    id: str
    lang: str
    relevant: bool
    kind: str
    title: str
    body: str


@dataclass(frozen=True)
class Scores:
    """Counts and rates of one group of texts."""

    group: str
    n: int
    tp: int
    fp: int
    fn: int

    @property
    def precision(self) -> float:
        """Share of the texts predicted relevant that are relevant (1.0 when none was predicted)."""
        return self.tp / (self.tp + self.fp) if self.tp + self.fp else 1.0

    @property
    def recall(self) -> float:
        """Share of the relevant texts predicted relevant (1.0 when there is none)."""
        return self.tp / (self.tp + self.fn) if self.tp + self.fn else 1.0

    @property
    def f1(self) -> float:
        """Harmonic mean of precision and recall."""
        p, r = self.precision, self.recall
        return 2 * p * r / (p + r) if p + r else 0.0


def load_labelled(directory: Path) -> list[LabelledText]:
    """The labelled texts (``*.json``) of ``directory``, by id."""
    texts = []
    for path in sorted(directory.glob("*.json")):
        data = json.loads(path.read_text(encoding="utf-8"))
        texts.append(
            LabelledText(
                data["id"],
                data["lang"],
                data["label"] == "relevant",
                data.get("kind", ""),
                data.get("title") or "",
                data["body"],
            )
        )
    return texts


def is_held_out(text_id: str, share: int = 3) -> bool:
    """True for the fixed third (by default) of texts kept out of tuning."""
    return int(hashlib.sha1(text_id.encode()).hexdigest(), 16) % share == 0


def evaluate(verdicts: list[tuple[LabelledText, bool]]) -> list[Scores]:
    """Scores per language and overall, from (text, predicted relevant) pairs."""
    groups: dict[str, list[tuple[LabelledText, bool]]] = {}
    for text, predicted in verdicts:
        groups.setdefault(text.lang, []).append((text, predicted))
    groups["all"] = list(verdicts)
    rows = []
    for name in sorted(groups, key=lambda g: (g == "all", g)):
        items = groups[name]
        rows.append(
            Scores(
                name,
                len(items),
                sum(1 for t, p in items if p and t.relevant),
                sum(1 for t, p in items if p and not t.relevant),
                sum(1 for t, p in items if not p and t.relevant),
            )
        )
    return rows


def score_all(scorer: RelevanceScorer, texts: list[LabelledText]) -> list[tuple[LabelledText, float]]:
    """Each text with its score."""
    return [(t, scorer.score(t.title, t.body).score) for t in texts]


def calibrate_threshold(scored: list[tuple[LabelledText, float]]) -> float:
    """The threshold that balances precision and recall best on ``scored``: the highest of the two's
    minimum, then the highest F1, then the widest gap between neighbouring scores (a threshold in
    a wide gap is the one least likely to move when the texts change)."""
    candidates = sorted({s for _, s in scored})
    best_key: tuple[float, float, float] = (-1.0, -1.0, -1.0)
    best = 0.5
    for low, high in zip([0.0, *candidates], [*candidates, 1.0], strict=True):
        threshold = (low + high) / 2
        if not 0 < threshold < 1:
            continue
        row = evaluate([(t, s >= threshold) for t, s in scored])[-1]
        key = (round(min(row.precision, row.recall), 6), round(row.f1, 6), high - low)
        if key > best_key:
            best_key, best = key, threshold
    return round(best, 4)


# -- evaluating a profile file, and saving a calibrated threshold in it ---------------------------
ScoredText = tuple[LabelledText, float]


def threshold_in_bias(scoring: Scoring, threshold: float) -> Scoring:
    """``scoring`` with ``threshold`` folded into its bias, so that 0.5 becomes the decision boundary:
    a text that scored ``threshold`` scores 0.5 after (the score is the logistic of bias plus features)."""
    shift = math.log(threshold / (1 - threshold))
    return replace(scoring, bias=round(scoring.bias - shift, 3), threshold=0.5)


def rewrite_profile(path: Path, profile: TopicProfile) -> None:
    """Write ``profile`` to ``path``, keeping the file's leading comment block."""
    header = []
    for line in path.read_text(encoding="utf-8").splitlines():
        if not line.startswith("#"):
            break
        header.append(line[1:].strip())
    path.write_text(dump_profile(profile, "\n".join(header)), encoding="utf-8")


def split_parts(scored: list[ScoredText]) -> list[tuple[str, list[ScoredText]]]:
    """The scored texts as three parts: ``tuning``, ``held out`` and ``all``."""
    tuning = [(t, s) for t, s in scored if not is_held_out(t.id)]
    held_out = [(t, s) for t, s in scored if is_held_out(t.id)]
    return [("tuning", tuning), ("held out", held_out), ("all", scored)]


@dataclass(frozen=True)
class Calibration:
    """A threshold chosen on the tuning part; with ``bias`` (before, after) when it was saved in the profile."""

    previous: float
    threshold: float
    bias: tuple[float, float] | None = None


@dataclass(frozen=True)
class ProfileEvaluation:
    """A profile's scores per part and language at its threshold, the texts it gets wrong, and its calibration."""

    path: Path
    threshold: float
    parts: list[tuple[str, list[Scores]]]
    wrong: list[ScoredText]
    calibration: Calibration | None = None


def evaluate_profile(path: Path, labelled: Path, calibrate: bool = False, write: bool = False) -> ProfileEvaluation:
    """Evaluate the profile at ``path`` on the labelled texts of the folder ``labelled``.

    With ``calibrate`` the threshold is chosen on the tuning part first; with ``write`` too, it is
    saved in the profile as a shift of the bias (threshold 0.5), and the saved profile is evaluated.
    Raises :class:`crawler.relevance.profile.TopicsError` for a broken profile and :class:`ValueError`
    when the folder holds no labelled texts.
    """
    profile = load_profile(path)
    texts = load_labelled(labelled) if labelled.is_dir() else []
    if not texts:
        raise ValueError(f"no labelled texts (*.json) in {labelled}")
    scored = score_all(RelevanceScorer(profile), texts)
    threshold = profile.scoring.threshold
    calibration = None
    if calibrate:
        threshold = calibrate_threshold(split_parts(scored)[0][1])
        calibration = Calibration(profile.scoring.threshold, threshold)
        if write:
            scoring = threshold_in_bias(profile.scoring, threshold)
            rewrite_profile(path, TopicProfile(profile.terms, scoring))
            calibration = replace(calibration, bias=(profile.scoring.bias, scoring.bias))
            # scored again as saved (term weights rounded in the file), so the report shows what is used
            saved = load_profile(path)
            threshold = saved.scoring.threshold
            scored = score_all(RelevanceScorer(saved), texts)
    parts = [(name, evaluate([(t, s >= threshold) for t, s in items])) for name, items in split_parts(scored)]
    wrong = sorted(((t, s) for t, s in scored if (s >= threshold) != t.relevant), key=lambda item: item[0].id)
    return ProfileEvaluation(path, threshold, parts, wrong, calibration)
