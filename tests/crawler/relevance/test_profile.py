"""The topic profile and the relevance scorer: seeds, hard cases, scripts, broken profiles, labelled data."""

from __future__ import annotations

import os
import tomllib
from pathlib import Path

import opencc
import pytest

from crawler.relevance.build import build_profile, seed_files
from crawler.relevance.evaluate import evaluate, is_held_out, load_labelled
from crawler.relevance.profile import (
    DEFAULT_PROFILE,
    RelevanceScorer,
    TopicProfile,
    TopicsError,
    dump_profile,
    load_profile,
    parse_profile,
)
from tests.crawler.support import PROJECT_ROOT, ai4s_in_process

SEEDS = PROJECT_ROOT / "seeds"
DEMO_NEWS = PROJECT_ROOT / "crawler" / "app" / "demo_content"  # ordinary news written for the demo: no AI in it
LABELLED = Path(os.environ.get("AI4S_TEST_CORPUS") or PROJECT_ROOT.parent / "shared" / "corpus") / "relevance"


@pytest.fixture(scope="module")
def scorer() -> RelevanceScorer:
    return RelevanceScorer(load_profile(DEFAULT_PROFILE))


def seed(prefix: str) -> list[str]:
    return next(SEEDS.glob(f"{prefix}_*.txt")).read_text(encoding="utf-8").splitlines()


@pytest.mark.parametrize("prefix", ["000", "001", "002", "003", "004"])
def test_the_seed_articles_are_on_topic(scorer: RelevanceScorer, prefix: str) -> None:
    lines = seed(prefix)
    result = scorer.score(lines[0], "\n".join(lines))
    assert result.relevant and result.score >= 0.8
    assert result.evidence()  # and it says why


def test_the_2019_baai_objects365_report_alone_is_off_topic(scorer: RelevanceScorer) -> None:
    """Seed 002's related-reports section carries a 2019 report on BAAI's scholar programme and the
    Objects365 data set: AI, but not AI for Science."""
    lines = seed("002")
    start = next(i for i, line in enumerate(lines) if "智源学者计划" in line and "《" in line)
    title, body = lines[start].strip(" •《》"), "\n".join(lines[start + 1 :])
    assert "Objects365" in body
    result = scorer.score(title, body)
    assert not result.relevant, result.features


@pytest.mark.parametrize("prefix", ["001", "002", "004"])
def test_a_traditional_script_copy_scores_like_its_simplified_original(scorer: RelevanceScorer, prefix: str) -> None:
    to_traditional = opencc.OpenCC("s2t")
    lines = seed(prefix)
    simplified = scorer.score(lines[0], "\n".join(lines))
    traditional = scorer.score(to_traditional.convert(lines[0]), to_traditional.convert("\n".join(lines)))
    assert abs(simplified.score - traditional.score) < 0.01


def test_one_passing_mention_in_a_long_general_article_is_not_enough(scorer: RelevanceScorer) -> None:
    items = [tomllib.loads(p.read_text(encoding="utf-8")) for p in sorted(DEMO_NEWS.glob("news_*.toml"))]
    news = "\n".join(f"{item['title']}\n" + "\n".join(item["paragraphs"]) for item in items)
    assert len(news) > 3000
    footer = "\nAbout us: the city paper also sponsors the AI for Science reading club at the library."
    assert not scorer.score("City news roundup", news + footer).relevant
    # ...while the same words as the subject of a short article are.
    story = (
        "AI for Science: researchers use machine learning to predict protein structures. "
        "The AI model designs new enzymes and speeds up drug discovery in the laboratory. "
    ) * 3
    assert scorer.score("AI for Science speeds up protein design", story).relevant


@pytest.mark.parametrize(
    ("label", "headlines"),
    [
        ("Related stories", ["AI for Science: DeepMind’s AlphaFold 3 predicts structures of all life’s molecules"]),
        ("Related", ["AI4Science institute launches protein design platform", "AI for Science comes of age"]),
        ("相关阅读", ["AI for Science：北京科学智能研究院发布DPA-2分子模拟大模型", "科学智能峰会在京举行"]),
    ],
)
def test_a_related_box_of_ai_for_science_headlines_leaves_ordinary_news_off_topic(
    scorer: RelevanceScorer, label: str, headlines: list[str]
) -> None:
    for path in sorted(DEMO_NEWS.glob("news_*.toml")):
        item = tomllib.loads(path.read_text(encoding="utf-8"))
        body = "\n".join(item["paragraphs"])
        boxed = scorer.score(item["title"], body + "\n" + label + "\n" + "\n".join(headlines))
        assert not boxed.relevant and boxed.score == scorer.score(item["title"], body).score, path.name


def test_matching_respects_words_scripts_and_longest_terms(scorer: RelevanceScorer) -> None:
    facets = lambda text: {(h.term, h.facet) for h in scorer.score("", text).hits}  # noqa: E731
    assert ("ai", "ai") in facets("AI驱动的蛋白质研究")  # a Latin word next to CJK is still a word
    assert not any(term.startswith("gene") and facet == "science" for term, facet in facets("generative AI"))
    assert ("科学智能", "core") in facets("推動科學智能發展") and ("科学", "research") not in facets("推動科學智能發展")
    # a field inside an institution's name is not the article's field
    assert ("量子", "research") in facets("北京量子信息科学研究院的代表出席")


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("[[term]\ntext=", "not valid TOML"),
        ('[[term]]\ntext = "ai"\nfacet = "robots"', "term #1 ('ai'): key 'facet' must be one of"),
        ('[[term]]\nfacet = "ai"', "term #1: key 'text' must be a non-empty string"),
        ('[[term]]\ntext = "ai"\nfacet = "ai"\nweight = "high"', "term #1 ('ai'): key 'weight'"),
        ('[scoring]\nthreshold = 2\n[[term]]\ntext = "ai"\nfacet = "ai"', "threshold must be between 0 and 1"),
        ('[scoring]\nspeed = 1\n[[term]]\ntext = "ai"\nfacet = "ai"', "[scoring]: unknown key 'speed'"),
        ("[scoring]\nthreshold = 0.5", "no [[term]] entries"),
    ],
)
def test_a_broken_profile_gives_a_clear_error(tmp_path: Path, text: str, message: str) -> None:
    path = tmp_path / "topics.toml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(TopicsError) as caught:
        load_profile(path)
    assert str(caught.value).startswith(str(path)) and message in str(caught.value)
    result = ai4s_in_process("topics", "eval", "--profile", str(path), "--labelled", str(tmp_path))
    assert result.returncode == 2 and message in result.stderr and "Traceback" not in result.stderr


def test_the_profile_round_trips_and_builds_deterministically(tmp_path: Path) -> None:
    background = tmp_path / "background"
    background.mkdir()
    for path in DEMO_NEWS.glob("news_*.toml"):
        (background / f"{path.stem}.txt").write_text(path.read_text(encoding="utf-8"), encoding="utf-8")
    texts = [p.read_text(encoding="utf-8") for p in sorted(background.glob("*.txt"))]
    first = build_profile(SEEDS, SEEDS / "lexicon.toml", texts, top=30)
    second = build_profile(SEEDS, SEEDS / "lexicon.toml", texts, top=30)
    assert dump_profile(first) == dump_profile(second)
    facets = {t.facet for t in first.terms}
    assert {"core", "ai", "science", "research", "entity", "negative", "seed"} <= facets
    derived = [t for t in first.terms if t.facet == "seed"]
    assert derived and all(t.origin.startswith("seeds: ") for t in derived)
    assert len(seed_files(SEEDS)) == 5
    again = parse_profile(tomllib.loads(dump_profile(first)))
    assert isinstance(again, TopicProfile) and set(again.terms) == set(first.terms)


def test_the_shipped_profile_meets_the_aim_on_labelled_data(scorer: RelevanceScorer) -> None:
    """Precision and recall at least 0.9, overall and on the third of the texts held out of tuning."""
    if not LABELLED.is_dir():
        pytest.skip(f"labelled relevance texts not found in {LABELLED} (test data of ../shared/corpus)")
    texts = load_labelled(LABELLED)
    verdicts = [(t, scorer.score(t.title, t.body).relevant) for t in texts]
    overall = evaluate(verdicts)[-1]
    held_out = evaluate([(t, v) for t, v in verdicts if is_held_out(t.id)])[-1]
    assert overall.precision >= 0.9 and overall.recall >= 0.9, overall
    assert held_out.n >= 20 and held_out.precision >= 0.9 and held_out.recall >= 0.9, held_out


def test_ordinary_news_of_the_test_corpus_is_off_topic(scorer: RelevanceScorer) -> None:
    """The 600 ground-truth bodies of the extraction corpus are ordinary news and web pages (none on
    AI for Science): measured 1 flagged (a neuroscience explainer); allow up to 1%."""
    corpus = LABELLED.parent
    if not (corpus / "index.jsonl").is_file():
        pytest.skip(f"test corpus not found in {corpus}")
    import json

    bodies = []
    for path in sorted(corpus.glob("*/*.json")):
        if path.parent.name == "relevance":
            continue
        data = json.loads(path.read_text(encoding="utf-8"))
        if data.get("body"):
            bodies.append((data.get("title") or "", data["body"]))
    flagged = [title for title, body in bodies if scorer.score(title, body).relevant]
    assert len(bodies) >= 500 and len(flagged) <= len(bodies) // 100, flagged
