"""MinHash libraries for near-duplicate fingerprints: the product's datasketch path against rensa
(a Rust MinHash) and other datasketch variants, on real article texts, in one run.

    python3 benchmarks/minhash_libs.py [--texts N] [--repeat R] [--json FILE]

1. **Texts**: article bodies from the test corpus (``--corpus``, else ``$AI4S_TEST_CORPUS``, else
   ``../shared/corpus`` next to the project), read where they lie: the ground-truth ``body`` of
   pages with ``body_complete: true`` (``<source>/<id>.json`` listed in ``index.jsonl``) and the
   texts of ``relevance/*.json``, Chinese and English only, as many Chinese as possible up to half
   of ``--texts``, in a seeded order. Texts with fewer than ``MIN_SHINGLES`` shingles are left
   out (the product gives them no signature).
2. **Shingles**: ``crawler.stories.fingerprint.shingle_set(text)`` once per text, timed (it is part of the
   product's per-article fingerprint cost, whatever the MinHash library).
3. **Speed**: each method signs every text's shingle set, ``--repeat`` rounds (methods in a
   rotating order); ms/doc wall clock and CPU (``process_time``), median of the rounds, and the
   ratio to (a) in the same run. Every method returns the signature as it would be stored:
   ``NUM_PERM`` little-endian uint32 values.
4. **Quality**: near copies made from each text (sentences dropped or replaced, the last 20% cut,
   a source line added, a mix of these, and a heavy rewrite near the threshold) and unrelated
   pairs (another text of the same language); each signature family's estimated Jaccard
   (the share of equal values, as ``crawler.stories.fingerprint.jaccard``) against the exact Jaccard of the
   shingle sets; decisions at ``COPY_JACCARD`` and by the whole ``is_copy`` rule (with
   containment) against the same rule on exact figures; copies the 32x4 LSH bands would miss.

Prints a table; ``--json FILE`` also writes every figure. Without rensa the datasketch rows still
run (``pip install rensa`` for the others). rensa is not a project dependency.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import platform
import random
import re
import statistics
import sys
import time
import zlib
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

PROJECT_ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(PROJECT_ROOT))

import datasketch  # noqa: E402
from bench_support import resolve_corpus  # noqa: E402
from datasketch import LeanMinHash, MinHash  # noqa: E402

from crawler.stories.fingerprint import (  # noqa: E402
    BANDS,
    COPY_CONTAINMENT,
    COPY_JACCARD,
    MIN_SHINGLES,
    MINHASH_SEED,
    NUM_PERM,
    Fingerprint,
    band_keys,
    containment,
    is_copy,
    minhash_values,
    permutations,
    shingle_set,
    shingles_fingerprint,
)

try:
    import rensa
except ImportError:  # the datasketch rows still run
    rensa = None

SIGNATURE_BYTES = NUM_PERM * 4  # what every method below stores: NUM_PERM uint32 values
SOURCE_LINES = {"zh": ["来源：新华网", "本文转载自澎湃新闻"], "en": ["Source: Reuters", "Originally published by AP"]}
_SENTENCE = re.compile(r"[^。！？!?.\n]*(?:[。！？!?.]+|\n|$)")


# --- corpus -----------------------------------------------------------------------------------


@dataclass
class Text:
    name: str
    lang: str  # "zh" or "en"
    body: str
    shingles: set[str] = field(default_factory=set)


def _lang(code: str | None) -> str | None:
    code = (code or "").lower()
    return "zh" if code.startswith("zh") else "en" if code.startswith("en") else None


def candidate_texts(corpus: Path) -> list[Text]:
    """Every complete Chinese or English body of the corpus, sorted by name."""
    texts = []
    for line in (corpus / "index.jsonl").read_text(encoding="utf-8").splitlines():
        if not line.strip():
            continue
        row = json.loads(line)
        lang = _lang(row.get("language"))
        meta_file = corpus / row["source"] / f"{row['id']}.json"
        if lang is None or not meta_file.is_file():
            continue
        meta = json.loads(meta_file.read_text(encoding="utf-8"))
        if meta.get("body") and meta.get("body_complete"):
            texts.append(Text(f"{row['source']}/{row['id']}", lang, meta["body"]))
    for meta_file in sorted((corpus / "relevance").glob("*.json")):
        meta = json.loads(meta_file.read_text(encoding="utf-8"))
        lang = _lang(meta.get("lang"))
        if lang and meta.get("body"):
            texts.append(Text(f"relevance/{meta_file.stem}", lang, meta["body"]))
    return sorted(texts, key=lambda t: t.name)


def choose_texts(candidates: list[Text], count: int, seed: int) -> tuple[list[Text], int]:
    """``count`` texts with enough shingles: Chinese up to half, English for the rest (seeded order).
    Also returns how many candidates were too short."""
    usable, short = [], 0
    for text in candidates:
        text.shingles = shingle_set(text.body)
        if len(text.shingles) >= MIN_SHINGLES:
            usable.append(text)
        else:
            short += 1
    rng = random.Random(seed)
    by_lang = {lang: [t for t in usable if t.lang == lang] for lang in ("zh", "en")}
    for texts in by_lang.values():
        rng.shuffle(texts)
    zh = by_lang["zh"][: min(len(by_lang["zh"]), count // 2)]
    en = by_lang["en"][: count - len(zh)]
    zh = by_lang["zh"][: count - len(en)]  # fewer English than asked: more Chinese
    chosen = zh + en
    rng.shuffle(chosen)
    return chosen, short


# --- methods ----------------------------------------------------------------------------------

PERMUTATIONS = permutations()
_TEMPLATE = MinHash(num_perm=NUM_PERM, seed=MINHASH_SEED, permutations=PERMUTATIONS, scheme="affine32")


def ds_product(shingles: set[str]) -> bytes:
    """(a) datasketch's own ``MinHash`` with the product's permutations (the product's path until it adopted (c2))."""
    minhash = MinHash(num_perm=NUM_PERM, seed=MINHASH_SEED, permutations=PERMUTATIONS, scheme="affine32")
    minhash.update_batch([s.encode("utf-8") for s in shingles])
    return minhash.hashvalues.astype("<u4").tobytes()


def ds_full_fingerprint(shingles: set[str]) -> bytes:
    """The product's whole ``shingles_fingerprint``: (c2) plus the 32 band keys."""
    found = shingles_fingerprint(shingles, "")  # without the lead's keys (no text here): the signature's bands
    assert found is not None
    return found.signature


def ds_template_copy(shingles: set[str]) -> bytes:
    """(c1) datasketch, a copy of one prepared MinHash per document (what ``MinHash.bulk`` does)."""
    minhash = _TEMPLATE.copy()
    minhash.update_batch([s.encode("utf-8") for s in shingles])
    return minhash.hashvalues.astype("<u4").tobytes()


def ds_crc32(shingles: set[str]) -> bytes:
    """(c3) datasketch with ``hashfunc=zlib.crc32`` instead of SHA-1 (other signatures)."""
    minhash = MinHash(
        num_perm=NUM_PERM, seed=MINHASH_SEED, permutations=PERMUTATIONS, scheme="affine32", hashfunc=zlib.crc32
    )
    minhash.update_batch([s.encode("utf-8") for s in shingles])
    return minhash.hashvalues.astype("<u4").tobytes()


def numpy_same(shingles: set[str]) -> bytes:
    """(c2) datasketch's algorithm in a few numpy lines (``crawler.stories.fingerprint.minhash_values``, the
    product's): SHA-1 digests joined into one buffer, fmix, affine permutations, column minimum.
    Bit-identical to (a), checked on every text."""
    return minhash_values(shingles).astype("<u4").tobytes()


def rensa_r(shingles: set[str]) -> bytes:
    """(b1) rensa ``RMinHash(num_perm, seed)``, ``update`` with the shingle strings, ``digest``."""
    minhash = rensa.RMinHash(NUM_PERM, MINHASH_SEED)
    minhash.update(shingles)
    return np.asarray(minhash.digest(), dtype="<u4").tobytes()


def rensa_c(shingles: set[str]) -> bytes:
    """(b2) rensa ``CMinHash(num_perm, seed)`` (C-MinHash), 32-bit ``digest``."""
    minhash = rensa.CMinHash(NUM_PERM, MINHASH_SEED)
    minhash.update(shingles)
    return np.asarray(minhash.digest(), dtype="<u4").tobytes()


def ds_bulk(sets: list[set[str]]) -> list[bytes]:
    """(c1') ``MinHash.bulk`` over all the texts at once (batch API)."""
    data = [[s.encode("utf-8") for s in shingles] for shingles in sets]
    found = MinHash.bulk(data, num_perm=NUM_PERM, seed=MINHASH_SEED, permutations=PERMUTATIONS, scheme="affine32")
    return [m.hashvalues.astype("<u4").tobytes() for m in found]


def rensa_r_batch(sets: list[set[str]]) -> list[bytes]:
    """(b1') ``RMinHash.digests_from_token_sets`` over all the texts at once (batch API)."""
    digests = rensa.RMinHash.digests_from_token_sets(sets, NUM_PERM, MINHASH_SEED)
    return [np.asarray(d, dtype="<u4").tobytes() for d in digests]


@dataclass
class Method:
    key: str
    label: str
    family: str  # methods of one family give the same signatures
    per_doc: Callable[[set[str]], bytes] | None = None
    batch: Callable[[list[set[str]]], list[bytes]] | None = None
    note: str = ""


def methods(with_rensa: bool) -> list[Method]:
    found = [
        Method("a", "(a) datasketch MinHash", "datasketch", ds_product, note="update_batch, fixed permutations"),
        Method("a+", "product: (c2) + band keys", "datasketch", ds_full_fingerprint, note="shingles_fingerprint()"),
        Method("c1", "(c1) datasketch, template copy", "datasketch", ds_template_copy, note="same signatures"),
        Method("c1'", "(c1') datasketch MinHash.bulk", "datasketch", batch=ds_bulk, note="batch; same signatures"),
        Method("c2", "(c2) numpy, the product's", "datasketch", numpy_same, note="bit-identical to (a)"),
        Method("c3", "(c3) datasketch, crc32 hash", "datasketch-crc32", ds_crc32, note="other signatures"),
    ]
    if with_rensa:
        found += [
            Method("b1", "(b1) rensa RMinHash", "rensa-R", rensa_r, note=f"rensa {rensa_version()}"),
            Method("b2", "(b2) rensa CMinHash", "rensa-C", rensa_c, note="digest() as u32"),
            Method("b1'", "(b1') rensa digests_from_token_sets", "rensa-R", batch=rensa_r_batch, note="batch"),
        ]
    return found


def rensa_version() -> str:
    try:
        from importlib.metadata import version

        return version("rensa")
    except Exception:  # noqa: BLE001 - only for the report
        return "?"


def sign_all(method: Method, sets: list[set[str]]) -> list[bytes]:
    if method.batch is not None:
        return method.batch(sets)
    assert method.per_doc is not None
    return [method.per_doc(s) for s in sets]


# --- speed ------------------------------------------------------------------------------------


def time_speed(texts: list[Text], chosen: list[Method], repeat: int) -> dict[str, dict[str, Any]]:
    """Median wall and CPU ms/doc over ``repeat`` rounds, per method, and for ``shingle_set``."""
    sets = [t.shingles for t in texts]
    rounds: dict[str, list[tuple[float, float]]] = {m.key: [] for m in chosen}
    rounds["shingles"] = []
    for method in chosen:  # warm-up (imports, first allocations), untimed
        sign_all(method, sets[:5])
    for r in range(repeat):
        start, cpu = time.perf_counter(), time.process_time()
        for text in texts:
            shingle_set(text.body)
        rounds["shingles"].append((time.perf_counter() - start, time.process_time() - cpu))
        order = chosen[r % len(chosen) :] + chosen[: r % len(chosen)]
        for method in order:
            start, cpu = time.perf_counter(), time.process_time()
            sign_all(method, sets)
            rounds[method.key].append((time.perf_counter() - start, time.process_time() - cpu))
    n = len(texts)
    result = {}
    for key, values in rounds.items():
        wall = statistics.median(v[0] for v in values) * 1000 / n
        cpu = statistics.median(v[1] for v in values) * 1000 / n
        result[key] = {"wall_ms": wall, "cpu_ms": cpu, "rounds": [[w * 1000 / n, c * 1000 / n] for w, c in values]}
    base = result["a"]
    for values in result.values():
        values["ratio_wall"] = values["wall_ms"] / base["wall_ms"]
        values["ratio_cpu"] = values["cpu_ms"] / base["cpu_ms"]
    return result


# --- quality ----------------------------------------------------------------------------------


def sentences(text: str) -> list[str]:
    return [s for s in _SENTENCE.findall(text) if s.strip()]


def _pick(rng: random.Random, count: int, share: tuple[float, float]) -> set[int]:
    k = max(1, round(count * rng.uniform(*share)))
    return set(rng.sample(range(count), min(k, count)))


def make_pairs(texts: list[Text], seed: int) -> list[tuple[str, Text, str]]:
    """(kind, original, other text) for every text: near copies of it and one unrelated text."""
    rng = random.Random(seed)
    by_lang = {lang: [t for t in texts if t.lang == lang] for lang in ("zh", "en")}
    donors = {lang: [s for t in group for s in sentences(t.body)] for lang, group in by_lang.items()}
    pairs = []
    for text in texts:
        parts = sentences(text.body)
        pool = donors[text.lang]

        def replaced(share: tuple[float, float], parts: list[str] = parts, pool: list[str] = pool) -> list[str]:
            chosen = _pick(rng, len(parts), share)
            return [rng.choice(pool) if i in chosen else s for i, s in enumerate(parts)]

        def dropped(share: tuple[float, float], parts: list[str] = parts) -> list[str]:
            chosen = _pick(rng, len(parts), share)
            kept = [s for i, s in enumerate(parts) if i not in chosen]
            return kept or parts[:1]

        def cut(parts: list[str]) -> list[str]:
            total, kept, length = sum(len(s) for s in parts), [], 0
            for s in parts:
                if kept and length + len(s) > 0.8 * total:
                    break
                kept.append(s)
                length += len(s)
            return kept

        source = rng.choice(SOURCE_LINES[text.lang]) + "\n"
        variants = {
            "drop 5-10%": "".join(dropped((0.05, 0.10))),
            "replace 5-10%": "".join(replaced((0.05, 0.10))),
            "cut last 20%": "".join(cut(parts)),
            "source line": source + text.body,
            "mixed": source + "".join(cut(dropped((0.03, 0.06)))),
            "heavy rewrite": "".join(replaced((0.25, 0.55))),
        }
        for kind, body in variants.items():
            pairs.append((kind, text, body))
        other = rng.choice([t for t in by_lang[text.lang] if t is not text] or [text])
        pairs.append(("unrelated", text, other.body))
    return pairs


def copy_rule(similarity: float, size_a: int, size_b: int) -> bool:
    """``crawler.stories.fingerprint.is_copy`` on a given Jaccard (the exact one, for the reference decision)."""
    if similarity >= COPY_JACCARD:
        return True
    if min(size_a, size_b) >= 3 * MIN_SHINGLES:
        return containment(similarity, size_a, size_b) >= COPY_CONTAINMENT
    return False


def ideal_mae(similarity: float) -> float:
    """Expected |estimate - J| of an ideal MinHash of NUM_PERM independent permutations (binomial)."""
    k = NUM_PERM
    return sum(
        math.comb(k, x) * similarity**x * (1 - similarity) ** (k - x) * abs(x / k - similarity) for x in range(k + 1)
    )


def measure_quality(texts: list[Text], chosen: list[Method], seed: int) -> dict[str, Any]:
    families: dict[str, Method] = {}
    for method in chosen:
        if method.per_doc is not None and method.family not in families:
            families[method.family] = method
    pairs = []
    for kind, text, body in make_pairs(texts, seed):
        other = shingle_set(body)
        if len(other) < MIN_SHINGLES:
            continue
        exact = len(text.shingles & other) / len(text.shingles | other)
        pairs.append((kind, text, other, exact))
    kinds = sorted({p[0] for p in pairs}, key=lambda k: (k == "unrelated", k))
    originals: dict[str, dict[str, bytes]] = {f: {} for f in families}
    keys_of: dict[bytes, set[int]] = {}
    report: dict[str, Any] = {"pairs": len(pairs), "families": {}, "exact_by_kind": {}}
    ideal = [(p[0], p[3], ideal_mae(p[3])) for p in pairs]
    report["ideal_mae"] = {
        "near": statistics.fmean(v for k, _, v in ideal if k != "unrelated"),
        "unrelated": statistics.fmean(v for k, _, v in ideal if k == "unrelated"),
        "zone_0.3_0.7": statistics.fmean([v for _, j, v in ideal if 0.3 <= j <= 0.7] or [float("nan")]),
        "by_kind": {kind: statistics.fmean(v for k, _, v in ideal if k == kind) for kind in kinds},
    }
    for kind in kinds:
        values = [p[3] for p in pairs if p[0] == kind]
        report["exact_by_kind"][kind] = {
            "pairs": len(values),
            "mean": statistics.fmean(values),
            "min": min(values),
            "max": max(values),
            "copies": sum(copy_rule(p[3], len(p[1].shingles), len(p[2])) for p in pairs if p[0] == kind),
        }
    for family, method in families.items():
        assert method.per_doc is not None
        rows = []
        for kind, text, other, exact in pairs:
            if text.name not in originals[family]:
                originals[family][text.name] = method.per_doc(text.shingles)
            sig_a, sig_b = originals[family][text.name], method.per_doc(other)
            values_a, values_b = np.frombuffer(sig_a, dtype="<u4"), np.frombuffer(sig_b, dtype="<u4")
            estimate = float(np.mean(values_a == values_b))
            est_copy, _ = is_copy(Fingerprint(sig_a, len(text.shingles), ()), sig_b, len(other))
            if sig_a not in keys_of:
                keys_of[sig_a] = set(band_keys(values_a))
            candidate = not keys_of[sig_a].isdisjoint(band_keys(values_b))
            rows.append(
                {
                    "kind": kind,
                    "exact": exact,
                    "estimate": estimate,
                    "j_exact": exact >= COPY_JACCARD,
                    "j_est": estimate >= COPY_JACCARD,
                    "rule_exact": copy_rule(exact, len(text.shingles), len(other)),
                    "rule_est": est_copy,
                    "candidate": candidate,
                }
            )
        report["families"][family] = summarise(rows, kinds)
    return report


def summarise(rows: list[dict[str, Any]], kinds: list[str]) -> dict[str, Any]:
    def errors(subset: list[dict[str, Any]]) -> dict[str, float]:
        diffs = [r["estimate"] - r["exact"] for r in subset]
        if not diffs:
            return {"pairs": 0, "mae": float("nan"), "max": float("nan"), "bias": float("nan")}
        return {
            "pairs": len(diffs),
            "mae": statistics.fmean(abs(d) for d in diffs),
            "max": max(abs(d) for d in diffs),
            "bias": statistics.fmean(diffs),
        }

    near = [r for r in rows if r["kind"] != "unrelated"]
    unrelated = [r for r in rows if r["kind"] == "unrelated"]
    zone = [r for r in rows if 0.3 <= r["exact"] <= 0.7]
    copies = [r for r in rows if r["rule_exact"]]
    return {
        "near": errors(near),
        "unrelated": errors(unrelated),
        "zone_0.3_0.7": errors(zone),
        "by_kind": {k: errors([r for r in rows if r["kind"] == k]) for k in kinds},
        "j_disagree": sum(r["j_exact"] != r["j_est"] for r in rows),
        "j_false_copy": sum(r["j_est"] and not r["j_exact"] for r in rows),
        "j_missed": sum(r["j_exact"] and not r["j_est"] for r in rows),
        "rule_disagree": sum(r["rule_exact"] != r["rule_est"] for r in rows),
        "rule_false_copy": sum(r["rule_est"] and not r["rule_exact"] for r in rows),
        "rule_missed": sum(r["rule_exact"] and not r["rule_est"] for r in rows),
        "copies": len(copies),
        "not_candidates": sum(not r["candidate"] for r in copies),
        "j_exact_copies": sum(r["j_exact"] for r in rows),
    }


# --- report -----------------------------------------------------------------------------------


def identical_signatures(texts: list[Text], chosen: list[Method]) -> dict[str, bool]:
    """Whether each method gives exactly the product's signatures (on every text)."""
    sets = [t.shingles for t in texts]
    reference = sign_all(chosen[0], sets)
    return {m.key: sign_all(m, sets) == reference for m in chosen}


def signature_sizes() -> dict[str, Any]:
    sample = MinHash(num_perm=NUM_PERM, seed=MINHASH_SEED, permutations=PERMUTATIONS, scheme="affine32")
    sample.update_batch([b"a", b"b"])
    sizes: dict[str, Any] = {
        "stored_signature": SIGNATURE_BYTES,
        "band_keys": BANDS * 8,
        "datasketch_LeanMinHash_bytesize": LeanMinHash(sample).bytesize(),
    }
    if rensa is not None:
        sizes["rensa_C_digest_u64"] = NUM_PERM * 8
    return sizes


def print_report(result: dict[str, Any]) -> None:
    speed, quality, meta = result["speed"], result["quality"], result["meta"]
    print(
        f"MinHash libraries: {meta['texts']} texts ({meta['zh']} Chinese, {meta['en']} English; "
        f"{meta['short']} corpus texts under {MIN_SHINGLES} shingles left out), "
        f"shingles/text median {meta['shingles_median']}, mean {meta['shingles_mean']:.0f}, max {meta['shingles_max']}"
    )
    print(
        f"num_perm={NUM_PERM}, seed={MINHASH_SEED}, datasketch {meta['datasketch']}, "
        f"rensa {meta['rensa'] or 'not installed'}, "
        f"Python {meta['python']}, {meta['cpus']} CPUs, median of {meta['repeat']} rounds"
    )
    print()
    sh = speed["shingles"]
    print(f"shingle_set(text) (any library; context): {sh['wall_ms']:.3f} ms/doc wall, {sh['cpu_ms']:.3f} CPU")
    print()
    header = f"{'method':<38} {'ms/doc':>8} {'CPU ms':>8} {'x (a)':>7} {'x (a) CPU':>9} {'= (a)':>6}  note"
    print(header)
    print("-" * len(header))
    for m in result["methods"]:
        s = speed[m["key"]]
        same = "yes" if m["identical"] else "no"
        print(
            f"{m['label']:<38} {s['wall_ms']:>8.3f} {s['cpu_ms']:>8.3f} {s['ratio_wall']:>7.2f} "
            f"{s['ratio_cpu']:>9.2f} {same:>6}  {m['note']}"
        )
    a = speed["a"]["wall_ms"] + sh["wall_ms"]
    print(f"\nper-article fingerprint today (shingle_set + (a)): {a:.3f} ms/doc wall")
    for key in ("b1", "b2", "c2"):
        if key in speed:
            total = speed[key]["wall_ms"] + sh["wall_ms"]
            print(f"  with {key} instead of (a): {total:.3f} ms/doc ({total / a:.2f} x)")
    print()
    print(f"quality: {quality['pairs']} pairs; exact Jaccard of the shingle sets by kind of pair:")
    for kind, v in quality["exact_by_kind"].items():
        print(
            f"  {kind:<14} {v['pairs']:>5} pairs  exact J mean {v['mean']:.3f} "
            f"[{v['min']:.3f}, {v['max']:.3f}]  copies by is_copy on exact J: {v['copies']}"
        )
    print()
    header = (
        f"{'signatures':<18} {'near MAE':>8} {'max':>6} {'bias':>7} {'unrel MAE':>9} {'max':>6} "
        f"{'0.3-0.7 MAE':>11} {'J>=0.5 wrong':>13} {'is_copy wrong':>14} {'no band hit':>12}"
    )
    print(header)
    print("-" * len(header))
    ideal = quality["ideal_mae"]
    for family, f in quality["families"].items():
        j_wrong = f"{f['j_false_copy']}+{f['j_missed']}/{f['j_exact_copies']}"
        rule_wrong = f"{f['rule_false_copy']}+{f['rule_missed']}/{f['copies']}"
        print(
            f"{family:<18} {f['near']['mae']:>8.4f} {f['near']['max']:>6.3f} {f['near']['bias']:>+7.4f} "
            f"{f['unrelated']['mae']:>9.4f} {f['unrelated']['max']:>6.3f} {f['zone_0.3_0.7']['mae']:>11.4f} "
            f"{j_wrong:>13} {rule_wrong:>14} {f['not_candidates']:>7}/{f['copies']}"
        )
    print(
        f"{'ideal (binomial)':<18} {ideal['near']:>8.4f} {'':>6} {'':>7} {ideal['unrelated']:>9.4f} {'':>6} "
        f"{ideal['zone_0.3_0.7']:>11.4f}"
    )
    print(
        "  (wrong = false copies + missed copies / copies by the exact figure; no band hit = exact copies\n"
        f"   sharing none of the {BANDS} band keys, i.e. LSH would never compare them; ideal = the expected\n"
        f"   error of a MinHash of {NUM_PERM} truly independent permutations on the same pairs)"
    )
    print("\nMAE by kind of pair:")
    kinds = list(quality["exact_by_kind"])
    print(f"  {'signatures':<18} " + " ".join(f"{k:>14}" for k in kinds))
    for family, f in quality["families"].items():
        print(f"  {family:<18} " + " ".join(f"{f['by_kind'][k]['mae']:>14.4f}" for k in kinds))
    print(f"  {'ideal (binomial)':<18} " + " ".join(f"{ideal['by_kind'][k]:>14.4f}" for k in kinds))
    sizes = result["sizes"]
    print(
        f"\nsize: every method stores {sizes['stored_signature']} bytes of signature per article "
        f"(NUM_PERM uint32) + {sizes['band_keys']} bytes of band keys in {BANDS} story_bands rows; "
        f"datasketch LeanMinHash.bytesize() {sizes['datasketch_LeanMinHash_bytesize']}"
        + (f"; rensa CMinHash digest_u64 would be {sizes['rensa_C_digest_u64']}" if rensa is not None else "")
    )
    print(
        "compatibility: only (c1), (c1') and (c2) give the stored signatures. Any other row changes every\n"
        "  signature, and old and new ones must never be compared. `ai4s stories rebuild` reuses stored\n"
        "  signatures and only fingerprints articles with none (minhash and shingles NULL), so a switch needs\n"
        "  those columns cleared (a migration) and every stored text fingerprinted again, then the rebuild.\n"
        "  rensa also versions its algorithm (ALGORITHM_VERSION; 0.5.0 changed R/C-MinHash digests and asks\n"
        "  to rebuild persisted signatures), so rensa upgrades would have to be pinned and treated the same way."
    )
    if rensa is None:
        print("\nrensa is not installed: `pip install rensa` (not a project dependency) for rows (b1), (b2), (b1').")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0], formatter_class=argparse.RawTextHelpFormatter
    )
    parser.add_argument("--texts", type=int, default=400, help="texts to use, Chinese up to half (default 400)")
    parser.add_argument("--repeat", type=int, default=5, help="timing rounds; the median is reported (default 5)")
    parser.add_argument(
        "--corpus", help="test corpus directory (default: $AI4S_TEST_CORPUS, else ../shared/corpus next to the project)"
    )
    parser.add_argument("--seed", type=int, default=0, help="choice of texts and of the edits (default 0)")
    parser.add_argument("--json", metavar="FILE", help="also write every figure to FILE")
    args = parser.parse_args(argv)

    corpus = resolve_corpus(args.corpus)
    if not (corpus / "index.jsonl").is_file():
        print(
            f"minhash_libs: this benchmark needs the test corpus (<source>/<id>.json with ground-truth bodies, "
            f"listed in index.jsonl), and there is none at {corpus}.\n"
            "Put it at ../shared/corpus next to the project, or pass --corpus DIR, or set AI4S_TEST_CORPUS.",
            file=sys.stderr,
        )
        return 2
    texts, short = choose_texts(candidate_texts(corpus), args.texts, args.seed)
    if not texts:
        print(f"minhash_libs: no Chinese or English complete body in {corpus}", file=sys.stderr)
        return 2
    if rensa is None:
        print("minhash_libs: rensa is not installed (`pip install rensa`); running the datasketch rows only.\n")
    chosen = methods(rensa is not None)
    identical = identical_signatures(texts, chosen)
    if not identical["c2"]:
        print("minhash_libs: warning: the numpy re-implementation (c2) differs from (a)", file=sys.stderr)
    counts = [len(t.shingles) for t in texts]
    meta = {
        "texts": len(texts),
        "zh": sum(t.lang == "zh" for t in texts),
        "en": sum(t.lang == "en" for t in texts),
        "short": short,
        "shingles_median": int(statistics.median(counts)),
        "shingles_mean": statistics.fmean(counts),
        "shingles_max": max(counts),
        "repeat": args.repeat,
        "seed": args.seed,
        "corpus": str(corpus),
        "datasketch": datasketch.__version__,
        "rensa": rensa_version() if rensa is not None else None,
        "python": platform.python_version(),
        "cpus": os.cpu_count(),
    }
    speed = time_speed(texts, chosen, args.repeat)
    quality = measure_quality(texts, chosen, args.seed)
    result = {
        "meta": meta,
        "methods": [
            {"key": m.key, "label": m.label, "family": m.family, "note": m.note, "identical": identical[m.key]}
            for m in chosen
        ],
        "speed": speed,
        "quality": quality,
        "sizes": signature_sizes(),
    }
    print_report(result)
    if args.json:
        Path(args.json).parent.mkdir(parents=True, exist_ok=True)
        Path(args.json).write_text(json.dumps(result, indent=2), encoding="utf-8")
        print(f"\nwrote {args.json}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
