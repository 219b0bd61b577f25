"""Seeds → topic profile: the curated lexicon plus the terms the seed articles use far more often
than ordinary news does. Pure: reads the seeds and the lexicon, writes only the profile file it is asked to.

Distinctive terms are ranked by the log-odds ratio of their rate in the seeds against their
rate in a background of ordinary news, with an informative Dirichlet prior (Monroe, Colaresi
and Quinn 2008), and kept only when they occur in at least two seeds, so that no single
article's subject (one summit, one city) becomes the topic.
"""

from __future__ import annotations

import json
import math
import re
import tomllib
from collections import Counter
from collections.abc import Iterable, Iterator
from pathlib import Path

from crawler.relevance.profile import FACETS, Scoring, Term, TopicProfile, TopicsError, dump_profile, load_profile
from crawler.text.normalize import normalize_for_matching, strip_syndication_boilerplate
from crawler.text.script import HAN, character_class

_LATIN_WORD = re.compile(r"[a-z][a-z0-9+\-]{2,}")
_HAN_RUN = re.compile(f"[{character_class(HAN)}]+")
#: Function words and news furniture that are never topic terms.
STOPWORDS = frozenset(
    """the and for with that this from are was were have has had not but its their they them which who
    will would can could also into more than been over about after other such these those said says
    there what when where while being between through during each under within into our your his her
    time view source author admin original news latest season conference
    我们 他们 一个 以及 进行 通过 已经 可以 表示 目前 同时 其中 这些 这个 自己 没有 就是 还是 因为 所以 如果
    记者 报道 新华社 新华网 来源 编辑 责任编辑 日电 今天 昨天 今年 去年 相关 推荐 标签 更多 发布 举行 活动
    """.split()
)


def seed_files(seeds_dir: Path) -> list[Path]:
    """The seed articles of a seeds directory: its ``*.txt`` files, in name order."""
    return sorted(p for p in seeds_dir.glob("*.txt") if p.is_file())


def tokens(text: str) -> list[str]:
    """Candidate terms of a text: jieba words (two characters or more) for Chinese, words for Latin."""
    import jieba  # imported late: building its dictionary costs about a second

    jieba.setLogLevel(60)
    normal = normalize_for_matching(text)
    found: list[str] = []
    for run in _HAN_RUN.findall(normal):
        found.extend(w for w in jieba.lcut(run) if len(w) >= 2)
    found.extend(_LATIN_WORD.findall(_HAN_RUN.sub(" ", normal)))
    return [t for t in found if t not in STOPWORDS and not t.isdigit()]


def background_texts(root: Path) -> Iterator[str]:
    """Texts of ordinary news under ``root``: ``*.txt`` files and the ``body`` of ``*.json`` files
    (the test corpus's format), skipping any ``relevance`` folder (labelled data is not background)."""
    for path in sorted(root.rglob("*")):
        if "relevance" in path.parts or not path.is_file():
            continue
        if path.suffix == ".txt":
            yield path.read_text(encoding="utf-8", errors="replace")
        elif path.suffix == ".json":
            try:
                body = json.loads(path.read_text(encoding="utf-8")).get("body")
            except (ValueError, AttributeError):
                continue
            if isinstance(body, str):
                yield body


def distinctive_terms(
    seeds: dict[str, str], background: Iterable[str], top: int = 60, min_seeds: int = 2
) -> list[Term]:
    """The ``top`` terms most over-represented in the seeds against the background, as ``seed`` terms."""
    per_seed = {name: Counter(tokens(strip_syndication_boilerplate(text))) for name, text in seeds.items()}
    seed_counts: Counter[str] = Counter()
    for counts in per_seed.values():
        seed_counts.update(counts)
    back_counts: Counter[str] = Counter()
    for text in background:
        back_counts.update(tokens(text))
    n_seed, n_back = sum(seed_counts.values()), sum(back_counts.values())
    if not n_seed:
        raise TopicsError("the seed articles hold no text")
    prior_total = 1000.0
    scored = []
    for term, y in seed_counts.items():
        in_seeds = [name for name, counts in per_seed.items() if counts[term]]
        if len(in_seeds) < min_seeds:
            continue
        b = back_counts[term]
        alpha = prior_total * (y + b) / (n_seed + n_back)
        delta = math.log((y + alpha) / (n_seed + prior_total - y - alpha)) - math.log(
            (b + alpha) / (n_back + prior_total - b - alpha)
        )
        z = delta / math.sqrt(1 / (y + alpha) + 1 / (b + alpha))
        scored.append((z, term, in_seeds, b))
    scored.sort(key=lambda item: (-item[0], item[1]))
    best = scored[:top]
    if not best:
        return []
    top_z = best[0][0]
    terms = []
    for z, term, in_seeds, b in best:
        occurrences = ", ".join(f"{name} ×{per_seed[name][term]}" for name in in_seeds)
        rate = 10_000 * b / n_back if n_back else 0.0
        origin = f"seeds: {occurrences}; background {rate:.2f} per 10k words; log-odds z {z:.1f}"
        terms.append(Term(term, "seed", round(max(0.2, z / top_z), 2), origin))
    return terms


def load_lexicon(path: Path) -> list[Term]:
    """The curated terms of a lexicon file (one table per facet with ``weight`` and ``terms``)."""
    try:
        document = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, tomllib.TOMLDecodeError) as exc:
        raise TopicsError(f"{path}: cannot read the lexicon: {exc}") from None
    terms = []
    for facet, table in document.items():
        if facet not in FACETS or facet == "seed" or not isinstance(table, dict):
            raise TopicsError(
                f"{path}: [{facet}] is not a curated facet ({', '.join(f for f in FACETS if f != 'seed')})"
            )
        weight = float(table.get("weight", 1.0))
        for text in table.get("terms", []):
            terms.append(Term(normalize_for_matching(text), facet, weight, "curated"))
    return terms


def build_profile(
    seeds_dir: Path, lexicon_path: Path, background: Iterable[str], scoring: Scoring | None = None, top: int = 60
) -> TopicProfile:
    """The topic profile: curated lexicon first; seed terms not already in it; ``scoring`` kept."""
    seeds = {
        path.name.split("_")[0]: path.read_text(encoding="utf-8", errors="replace") for path in seed_files(seeds_dir)
    }
    if not seeds:
        raise TopicsError(f"no seed articles (*.txt) in {seeds_dir}")
    curated = load_lexicon(lexicon_path)
    known = {t.text for t in curated}
    derived = [t for t in distinctive_terms(seeds, background, top=top) if t.text not in known]
    unique: dict[tuple[str, str], Term] = {}
    for term in curated + derived:
        unique.setdefault((term.text, term.facet), term)
    return TopicProfile(tuple(unique.values()), scoring or Scoring())


# -- writing the profile file ---------------------------------------------------------------------
def profile_header(seed_names: list[str], background_count: int) -> str:
    """The comment block at the top of a built profile: what it is, how it was built, how to change it."""
    return (
        "Topic profile of ai4s-monitor: what counts as coverage of AI for Science.\n"
        "Built by `ai4s topics build` from the curated lexicon (seeds/lexicon.toml) and the terms that the\n"
        f"seed articles use far more than ordinary news ({background_count} background texts): "
        f"{', '.join(seed_names)}.\n"
        "Review changes in git; edit the lexicon or add seeds (`ai4s seeds add`) and rebuild. The [scoring]\n"
        "table is kept across rebuilds; `ai4s topics eval --calibrate --write` sets the threshold.\n"
        "Each [[term]]: text (normalised: simplified Chinese, lower case), facet, weight, origin."
    )


def facet_counts(profile: TopicProfile) -> dict[str, int]:
    """How many terms the profile has in each facet, in the order the facets first occur."""
    counts: dict[str, int] = {}
    for term in profile.terms:
        counts[term.facet] = counts.get(term.facet, 0) + 1
    return counts


def write_profile(seeds_dir: Path, lexicon_path: Path, background: list[str], out: Path, top: int = 60) -> TopicProfile:
    """Build the profile (:func:`build_profile`) and write it to ``out`` with its header; the
    ``[scoring]`` table of an existing ``out`` is kept. Raises :class:`TopicsError`."""
    scoring = load_profile(out).scoring if out.exists() else None
    profile = build_profile(seeds_dir, lexicon_path, background, scoring=scoring, top=top)
    header = profile_header([path.name for path in seed_files(seeds_dir)], len(background))
    out.write_text(dump_profile(profile, header), encoding="utf-8")
    return profile
