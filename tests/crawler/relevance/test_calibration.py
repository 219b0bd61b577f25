"""Evaluating a profile file on labelled texts, and saving a calibrated threshold in it: the bias
shift that makes 0.5 the boundary, the file rewritten with its comments, the same verdicts after."""

from __future__ import annotations

import json
import math
import shutil
from pathlib import Path

import pytest

from crawler.relevance.build import facet_counts, profile_header, seed_files, write_profile
from crawler.relevance.evaluate import (
    evaluate_profile,
    is_held_out,
    load_labelled,
    rewrite_profile,
    score_all,
    split_parts,
    threshold_in_bias,
)
from crawler.relevance.profile import (
    DEFAULT_PROFILE,
    RelevanceScorer,
    Scoring,
    TopicProfile,
    TopicsError,
    dump_profile,
    load_profile,
)
from seeds import DEFAULT_LEXICON, SEEDS_DIR
from tests.crawler.corpus.corpora import corpus_texts


def logit(p: float) -> float:
    return math.log(p / (1 - p))


@pytest.fixture
def labelled(tmp_path: Path) -> Path:
    """Labelled texts in the development set's format: the seeds relevant, the demo's ordinary news negative."""
    folder = tmp_path / "labelled"
    folder.mkdir()
    for number, text in enumerate(corpus_texts()):
        label = "relevant" if text.source == "seeds" else "negative"
        item = {"id": f"t{number:02d}", "lang": text.language, "label": label, "title": text.title, "body": text.text}
        (folder / f"t{number:02d}.json").write_text(json.dumps(item, ensure_ascii=False), encoding="utf-8")
    return folder


@pytest.fixture
def profile_file(tmp_path: Path) -> Path:
    path = tmp_path / "topics.toml"
    shutil.copy(DEFAULT_PROFILE, path)
    return path


def test_a_threshold_folded_into_the_bias_moves_every_score_by_its_log_odds(labelled: Path) -> None:
    profile = load_profile(DEFAULT_PROFILE)
    texts = load_labelled(labelled)
    for threshold in (0.2, 0.35, 0.8):
        shifted = threshold_in_bias(profile.scoring, threshold)
        assert shifted.threshold == 0.5 and shifted.bias == round(profile.scoring.bias - logit(threshold), 3)
        assert {k: v for k, v in vars(shifted).items() if k not in ("bias", "threshold")} == {
            k: v for k, v in vars(profile.scoring).items() if k not in ("bias", "threshold")
        }
        before = dict(score_all(RelevanceScorer(profile), texts))
        after = dict(score_all(RelevanceScorer(TopicProfile(profile.terms, shifted)), texts))
        moved = [text for text in texts if 0.001 < before[text] < 0.999]  # scores are rounded to 4 decimals
        assert len(moved) >= len(texts) // 2
        for text in moved:
            expected = 1 / (1 + math.exp(-(logit(before[text]) - logit(threshold))))
            assert after[text] == pytest.approx(expected, abs=2e-3)
        for text in texts:
            if abs(before[text] - threshold) > 2e-3:  # the same verdict, now at 0.5
                assert (after[text] >= 0.5) == (before[text] >= threshold)


def test_rewriting_a_profile_keeps_its_comment_block(profile_file: Path) -> None:
    original = profile_file.read_text(encoding="utf-8")
    comments = [line for line in original.splitlines() if line.startswith("#")]
    assert comments
    profile = load_profile(profile_file)
    changed = TopicProfile(profile.terms[:3], Scoring(bias=-1.25, threshold=0.5))
    rewrite_profile(profile_file, changed)
    text = profile_file.read_text(encoding="utf-8")
    assert text.splitlines()[: len(comments)] == [line.rstrip() for line in comments]
    reloaded = load_profile(profile_file)
    assert reloaded.scoring == changed.scoring and reloaded.terms == changed.terms


def test_an_evaluation_reports_each_part_and_the_texts_it_gets_wrong(profile_file: Path, labelled: Path) -> None:
    evaluation = evaluate_profile(profile_file, labelled)
    texts = load_labelled(labelled)
    scored = score_all(RelevanceScorer(load_profile(profile_file)), texts)
    assert evaluation.calibration is None and evaluation.threshold == load_profile(profile_file).scoring.threshold
    assert [name for name, _ in evaluation.parts] == ["tuning", "held out", "all"]
    sizes = {name: rows[-1].n for name, rows in evaluation.parts}
    held_out = sum(is_held_out(t.id) for t in texts)
    assert sizes == {"tuning": len(texts) - held_out, "held out": held_out, "all": len(texts)}
    wrong = [(t, s) for t, s in scored if (s >= evaluation.threshold) != t.relevant]
    assert evaluation.wrong == sorted(wrong, key=lambda item: item[0].id)
    overall = evaluation.parts[-1][1][-1]
    assert overall.fp + overall.fn == len(evaluation.wrong)
    assert [name for name, _ in split_parts(scored)] == ["tuning", "held out", "all"]


def test_calibrating_and_writing_saves_the_threshold_as_a_bias_shift(profile_file: Path, labelled: Path) -> None:
    before = load_profile(profile_file)
    dry = evaluate_profile(profile_file, labelled, calibrate=True)
    assert dry.calibration is not None and dry.calibration.bias is None
    assert dry.calibration.previous == before.scoring.threshold and dry.threshold == dry.calibration.threshold
    assert load_profile(profile_file) == before  # only --write changes the file
    written = evaluate_profile(profile_file, labelled, calibrate=True, write=True)
    calibration = written.calibration
    assert calibration is not None and calibration.threshold == dry.threshold
    after = load_profile(profile_file)
    assert calibration.bias == (before.scoring.bias, after.scoring.bias)
    assert after.scoring == threshold_in_bias(before.scoring, dry.threshold) and written.threshold == 0.5
    assert {t.id for t, _ in written.wrong} == {t.id for t, _ in dry.wrong}  # the same verdicts, at 0.5 now


def test_a_profile_or_labelled_folder_that_cannot_be_used_is_refused(profile_file: Path, tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="no labelled texts"):
        evaluate_profile(profile_file, tmp_path / "empty")
    profile_file.write_text("[scoring]\nthreshold = 0.5\n", encoding="utf-8")
    with pytest.raises(TopicsError, match="no \\[\\[term\\]\\] entries"):
        evaluate_profile(profile_file, tmp_path)


def test_a_built_profile_keeps_the_scoring_of_the_file_it_replaces(tmp_path: Path) -> None:
    out = tmp_path / "topics.toml"
    kept = Scoring(bias=-3.25, threshold=0.45)
    out.write_text(dump_profile(TopicProfile(load_profile().terms[:1], kept)), encoding="utf-8")
    background = [text.text for text in corpus_texts() if text.source == "news"]
    profile = write_profile(SEEDS_DIR, DEFAULT_LEXICON, background, out, top=20)
    written = load_profile(out)
    assert written.scoring == kept == profile.scoring and set(written.terms) == set(profile.terms)
    header = profile_header([p.name for p in seed_files(SEEDS_DIR)], len(background))
    assert out.read_text(encoding="utf-8").startswith("\n".join(f"# {line}".rstrip() for line in header.splitlines()))
    assert f"({len(background)} background texts)" in header and "000_" in header
    counts = facet_counts(profile)
    assert sum(counts.values()) == len(profile.terms) and 0 < counts["seed"] <= 20
