"""Near-duplicate detection at scale: the cost per article of the database-held LSH index
(store + query + index, one transaction) at growing corpus sizes, the memory it takes, the
pairwise precision and recall of the story grouping on planted copies, and a brute-force
all-pairs baseline at 10k in the same run.

    python3 benchmarks/neardup_scale.py [--sizes 10000,100000,1000000] [--db-dir DIR]

For each size N:

1. **Corpus** (synthetic, fixed seed): random "articles" of 150-300 words from a Zipf-distributed
   vocabulary of Latin tokens (``w1234``), a first line of 8 words, paragraphs of 60 words.
   About 5% of the originals get 1-3 planted copies each (a different first line, 2-6 words
   replaced/inserted/deleted, and for 20% of copies the last 20% of the body cut off); the
   documents are shuffled, so the ground-truth story groups are known. Texts are regenerated
   from (seed, group, variant) whenever needed, never held in memory all at once.
2. **Fingerprints** (not part of the detection cost; in the product they are computed in the
   crawl's worker pool): the synthetic tokens are already in comparison form, so 3-word shingles
   are built from them directly and signed by ``crawler.stories.fingerprint.shingles_fingerprint`` (datasketch's
   MinHash, scheme affine32, with the product's permutations), band keys by
   ``crawler.stories.fingerprint.band_keys``. The run checks on a sample that this gives exactly what
   ``crawler.stories.fingerprint.fingerprint(text)`` gives, and says so. Computed by a process pool, written
   to files next to the database, read back in chunks.
3. **Detection**: a fresh SQLite file (``storage.Database``, migrated); in a child process (so its
   peak RSS is its own), for each document one transaction (``--per-txn`` documents with ``-t``)
   doing ``store_article`` + ``crawler.stories.assign.assign_story``, as the crawl's pipeline does. Only
   the transaction is timed; text generation and building the ``Fingerprint`` are not.
4. **Quality**: pairwise precision and recall of the stories against the planted groups (a pair
   is two documents in the same group).
5. **Baseline** (sizes up to ``--brute-max``, 10000 by default): every document compared with every
   earlier one (estimated Jaccard from the signatures, numpy-vectorised, the ``is_copy`` rule
   vectorised), joining the story of the most similar copy as ``assign_story`` does.

Prints a table and, with ``--json FILE``, writes every figure. ``--max-minutes M`` stops the
detection at a size after M minutes and reports what finished (marked ``partial``).
"""

from __future__ import annotations

import argparse
import json
import multiprocessing as mp
import os
import resource
import shutil
import sys
import tempfile
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

PROJECT_ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(PROJECT_ROOT))


from crawler.stories.assign import assign_story  # noqa: E402
from crawler.stories.fingerprint import (  # noqa: E402
    BANDS,
    COPY_CONTAINMENT,
    COPY_JACCARD,
    MIN_SHINGLES,
    NUM_PERM,
    WORD_SHINGLE,
    Fingerprint,
    fingerprint,
    shingles_fingerprint,
    token_shingles,
)
from storage import Database  # noqa: E402
from storage.repository import NewArticle, ensure_source, store_article  # noqa: E402

VOCABULARY = 50_000
ZIPF_EXPONENT = 1.0
HEADER_WORDS = 8
PARAGRAPH_WORDS = 60
COPY_SHARE = 0.05  # share of originals that get planted copies
TRUNCATED_SHARE = 0.2  # share of copies cut at the end
TRUNCATED_KEEP = 0.8
FP_CHUNK = 2000
SOURCE = "bench"

_CDF = np.cumsum(1.0 / np.arange(1, VOCABULARY + 1) ** ZIPF_EXPONENT)
_CDF /= _CDF[-1]


# -- corpus ---------------------------------------------------------------------------------
def plan_corpus(size: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """(group, variant) of each of ``size`` documents in stream order; variant 0 is the original."""
    rng = np.random.default_rng([seed, size])
    originals = int(size * 0.95) + 16  # about 1.05 x size documents, cut to size after shuffling
    copies = np.where(rng.random(originals) < COPY_SHARE, rng.integers(1, 4, originals), 0)
    groups = np.repeat(np.arange(originals, dtype=np.int64), copies + 1)
    starts = np.repeat(np.cumsum(copies + 1) - (copies + 1), copies + 1)
    variants = np.arange(len(groups)) - starts
    order = rng.permutation(len(groups))[:size]
    return groups[order].astype(np.int64), variants[order].astype(np.int64)


def _words(rng: np.random.Generator, n: int) -> list[str]:
    return [f"w{r}" for r in np.searchsorted(_CDF, rng.random(n))]


def document_tokens(seed: int, group: int, variant: int) -> tuple[list[str], list[str]]:
    """(first line, body) tokens of one document; copies are edited versions of their original."""
    rng = np.random.default_rng([seed, group])
    header = _words(rng, HEADER_WORDS)
    body = _words(rng, int(rng.integers(150, 301)))
    if variant == 0:
        return header, body
    edit = np.random.default_rng([seed, group, variant])
    header = _words(edit, HEADER_WORDS)  # a different first line
    for _ in range(int(edit.integers(2, 7))):
        op, at = int(edit.integers(0, 3)), int(edit.integers(0, len(body)))
        if op == 0:
            body[at] = _words(edit, 1)[0]
        elif op == 1:
            body.insert(at, _words(edit, 1)[0])
        else:
            del body[at]
    if edit.random() < TRUNCATED_SHARE:
        body = body[: int(len(body) * TRUNCATED_KEEP)]
    return header, body


def document_text(header: list[str], body: list[str]) -> str:
    paragraphs = [" ".join(body[i : i + PARAGRAPH_WORDS]) for i in range(0, len(body), PARAGRAPH_WORDS)]
    return " ".join(header) + "\n" + "\n\n".join(paragraphs)


# -- fingerprints ----------------------------------------------------------------------------
def fast_fingerprint(tokens: list[str]) -> Fingerprint | None:
    """``crawler.stories.fingerprint.fingerprint`` for tokens already in comparison form (no normalisation)."""
    return shingles_fingerprint(token_shingles(tokens), "")  # the signature's bands only, not the lead's keys


def _fingerprint_chunk(args: tuple[int, np.ndarray, np.ndarray]) -> tuple[np.ndarray, np.ndarray, np.ndarray, float]:
    seed, groups, variants = args
    n = len(groups)
    sigs = np.zeros((n, NUM_PERM), dtype="<u4")
    shingles = np.zeros(n, dtype=np.int32)
    keys = np.zeros((n, BANDS), dtype=np.int64)
    spent = 0.0
    for i in range(n):
        header, body = document_tokens(seed, int(groups[i]), int(variants[i]))
        t0 = time.perf_counter()
        fp = fast_fingerprint(header + body)
        spent += time.perf_counter() - t0
        assert fp is not None  # 150+ words always give 30+ shingles
        sigs[i] = np.frombuffer(fp.signature, dtype="<u4")
        shingles[i] = fp.shingles
        keys[i] = fp.band_keys
    return sigs, shingles, keys, spent


def verify_fast_path(seed: int, groups: np.ndarray, variants: np.ndarray, sample: int) -> tuple[int, int]:
    """How many of ``sample`` documents (copies first) get the same signature, shingle count and band keys both ways
    (the fast path makes no lead keys: the product's lead keys, which find a copy of a story's first part, are left
    out of this benchmark)."""
    idx = np.concatenate([np.flatnonzero(variants > 0)[: sample // 2], np.flatnonzero(variants == 0)])[:sample]
    same = 0
    for i in idx:
        header, body = document_tokens(seed, int(groups[i]), int(variants[i]))
        fast, product = fast_fingerprint(header + body), fingerprint(document_text(header, body))
        same += (fast is None and product is None) or (
            fast is not None
            and product is not None
            and (fast.signature, fast.shingles, fast.band_keys)
            == (product.signature, product.shingles, product.band_keys)
        )
    return same, len(idx)


def compute_fingerprints(
    seed: int, groups: np.ndarray, variants: np.ndarray, work: Path, workers: int
) -> dict[str, Any]:
    """Fingerprint every document with a process pool into ``work``/{sigs,shingles,keys}.bin."""
    chunks = [(seed, groups[i : i + FP_CHUNK], variants[i : i + FP_CHUNK]) for i in range(0, len(groups), FP_CHUNK)]
    t0 = time.perf_counter()
    spent = 0.0
    with (
        mp.get_context("fork").Pool(workers) as pool,
        open(work / "sigs.bin", "wb") as f_sig,
        open(work / "shingles.bin", "wb") as f_sh,
        open(work / "keys.bin", "wb") as f_key,
    ):
        for sigs, shingles, keys, dt in pool.imap(_fingerprint_chunk, chunks):
            f_sig.write(sigs.tobytes())
            f_sh.write(shingles.tobytes())
            f_key.write(keys.tobytes())
            spent += dt
    wall = time.perf_counter() - t0
    return {"fp_wall_s": wall, "fp_ms_per_doc_in_worker": spent / len(groups) * 1000, "fp_workers": workers}


def read_rows(work: Path, start: int, count: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Signatures, shingle counts and band keys of documents ``start`` .. ``start+count``."""
    sigs = np.fromfile(work / "sigs.bin", dtype="<u4", count=count * NUM_PERM, offset=start * NUM_PERM * 4)
    shingles = np.fromfile(work / "shingles.bin", dtype=np.int32, count=count, offset=start * 4)
    keys = np.fromfile(work / "keys.bin", dtype=np.int64, count=count * BANDS, offset=start * BANDS * 8)
    return sigs.reshape(-1, NUM_PERM), shingles, keys.reshape(-1, BANDS)


# -- detection (in a child process) ------------------------------------------------------------
def _rss_mb() -> float:
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return 0.0


def _peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux


def detect(
    seed: int, groups: np.ndarray, variants: np.ndarray, work: Path, db_path: Path, per_txn: int, max_s: float | None
) -> dict[str, Any]:
    """Store and assign every document; the story of each, times per article and memory."""
    n = len(groups)
    rss_start = _rss_mb()
    db = Database(f"sqlite:///{db_path}")
    with db.session() as s, s.begin():
        source_id = ensure_source(s, SOURCE)
    stories = np.full(n, -1, dtype=np.int64)
    article_ids = np.full(n, -1, dtype=np.int64)
    id_to_index: dict[int, int] = {}
    times = np.zeros(n, dtype=np.float64)
    exact_duplicates = 0
    chunk = 1000
    deadline = None if max_s is None else time.perf_counter() + max_s
    done = 0
    started = time.perf_counter()
    next_report = max(1, n // 10)
    for c0 in range(0, n, chunk):
        (
            sigs,
            shingles,
            keys,
        ) = read_rows(work, c0, min(chunk, n - c0))
        docs = []
        for j in range(len(shingles)):
            i = c0 + j
            header, body = document_tokens(seed, int(groups[i]), int(variants[i]))
            article = NewArticle(
                source=SOURCE,
                url=f"https://bench.example/{i}",
                canonical_url=f"https://bench.example/{i}",
                title=" ".join(header),
                text=document_text(header, body),
                language="en",
            )
            fp = Fingerprint(sigs[j].tobytes(), int(shingles[j]), tuple(int(k) for k in keys[j]))
            docs.append((i, article, fp))
        for b0 in range(0, len(docs), per_txn):
            batch = docs[b0 : b0 + per_txn]
            t0 = time.perf_counter()
            with db.session() as session, session.begin():
                for i, article, fp in batch:
                    stored = store_article(session, article, source_id=source_id)
                    if stored.created:
                        stories[i] = assign_story(session, stored.article_id, fp).story_id
                        article_ids[i] = stored.article_id
                        id_to_index[stored.article_id] = i
                    else:  # an exact copy: the product keeps the stored article (and its story)
                        exact_duplicates += 1
                        stories[i] = stories[id_to_index[stored.article_id]]
            dt = time.perf_counter() - t0
            times[batch[0][0] : batch[-1][0] + 1] = dt / len(batch)
            done = batch[-1][0] + 1
            if done >= next_report:
                last = times[max(0, done - n // 10) : done]
                print(
                    f"    {done:>9,} / {n:,} docs  {time.perf_counter() - started:7.1f} s  "
                    f"last decile {last.mean() * 1000:.2f} ms/article  RSS {_rss_mb():.0f} MB",
                    flush=True,
                )
                next_report += max(1, n // 10)
            if deadline is not None and time.perf_counter() > deadline:
                break
        if deadline is not None and time.perf_counter() > deadline:
            break
    db.close()
    tail = times[done - max(1, done // 10) : done]
    return {
        "done": done,
        "partial": done < n,
        "stories": stories[:done],
        "detect_s": float(times[:done].sum()),
        "ms_per_article": float(times[:done].mean() * 1000),
        "ms_per_article_last10": float(tail.mean() * 1000),
        "ms_per_article_first10": float(times[: max(1, done // 10)].mean() * 1000),
        "rss_start_mb": rss_start,
        "rss_end_mb": _rss_mb(),
        "peak_rss_mb": _peak_rss_mb(),
        "exact_duplicates": exact_duplicates,
    }


def _detect_child(conn: Any, *args: Any) -> None:
    try:
        conn.send(detect(*args))
    except BaseException as exc:  # report it to the parent rather than hang
        conn.send({"error": repr(exc)})
        raise
    finally:
        conn.close()


# -- quality and baseline -----------------------------------------------------------------------
def _pairs(labels: np.ndarray) -> int:
    _, counts = np.unique(labels, return_counts=True)
    return int((counts * (counts - 1) // 2).sum())


def pairwise_quality(predicted: np.ndarray, truth: np.ndarray) -> dict[str, float]:
    """Pairwise precision and recall of ``predicted`` clusters against ``truth``."""
    both = predicted.astype(np.int64) * (int(truth.max()) + 1) + truth.astype(np.int64)
    tp, pred, true = _pairs(both), _pairs(predicted), _pairs(truth)
    return {
        "true_pairs": true,
        "predicted_pairs": pred,
        "true_positive_pairs": tp,
        "precision": tp / pred if pred else 1.0,
        "recall": tp / true if true else 1.0,
    }


def brute_force(work: Path, n: int) -> dict[str, Any]:
    """All-pairs against every earlier document, same copy rule, same best-copy choice."""
    sigs, shingles, _ = read_rows(work, 0, n)
    shingles = shingles.astype(np.float64)
    stories = np.zeros(n, dtype=np.int64)
    times = np.zeros(n, dtype=np.float64)
    next_story = 0
    for i in range(n):
        t0 = time.perf_counter()
        best = -1
        if i:
            sim = (sigs[:i] == sigs[i]).mean(axis=1)
            copy = sim >= COPY_JACCARD
            small = np.minimum(shingles[:i], shingles[i])
            overlap = sim / (1 + sim) * (shingles[:i] + shingles[i])
            contained = np.minimum(1.0, overlap / np.maximum(1.0, small)) >= COPY_CONTAINMENT
            copy |= (small >= 3 * MIN_SHINGLES) & contained
            if copy.any():
                best = int(np.argmax(np.where(copy, sim, -1.0)))
        if best < 0:
            stories[i] = next_story
            next_story += 1
        else:
            stories[i] = stories[best]
        times[i] = time.perf_counter() - t0
    tail = times[n - max(1, n // 10) :]
    return {
        "stories": stories,
        "ms_per_article": float(times.mean() * 1000),
        "ms_per_article_last10": float(tail.mean() * 1000),
    }


# -- driver ----------------------------------------------------------------------------------------
@dataclass
class Row:
    size: int
    method: str
    docs: int
    ms_per_article: float
    ms_last10: float
    peak_rss_mb: float | None
    db_mb: float | None
    precision: float
    recall: float
    partial: bool = False
    extra: dict[str, Any] = field(default_factory=dict)


def run_size(size: int, args: argparse.Namespace, base: Path) -> list[Row]:
    print(f"\n== {size:,} documents ==", flush=True)
    groups, variants = plan_corpus(size, args.seed)
    planted = int((variants > 0).sum())
    in_groups = int(np.isin(groups, groups[variants > 0]).sum())
    print(f"  corpus: {size:,} docs, {planted:,} planted copies, {in_groups:,} docs in groups of 2+", flush=True)
    work = base / f"n{size}"
    if work.exists():
        shutil.rmtree(work)
    work.mkdir(parents=True)
    same, sample = verify_fast_path(args.seed, groups, variants, args.verify)
    print(
        f"  fingerprint path: tokens -> {WORD_SHINGLE}-word shingles -> shingles_fingerprint "
        f"(datasketch's MinHash, affine32, product permutations) -> band_keys; identical to "
        f"crawler.stories.fingerprint.fingerprint(text) on {same}/{sample} sample docs",
        flush=True,
    )
    if same != sample:
        raise SystemExit("the fast fingerprint path does not match the product's; refusing to go on")
    fp = compute_fingerprints(args.seed, groups, variants, work, args.workers)
    print(
        f"  fingerprints: {fp['fp_wall_s']:.1f} s wall with {fp['fp_workers']} workers, "
        f"{fp['fp_ms_per_doc_in_worker']:.3f} ms/doc in a worker (not part of detection)",
        flush=True,
    )
    db_path = work / "corpus.sqlite3"
    parent, child = mp.get_context("fork").Pipe(duplex=False)
    max_s = args.max_minutes * 60 if args.max_minutes else None
    proc = mp.get_context("fork").Process(
        target=_detect_child, args=(child, args.seed, groups, variants, work, db_path, args.per_txn, max_s)
    )
    print(f"  detection: {args.per_txn} document(s) per transaction, SQLite {db_path}", flush=True)
    proc.start()
    child.close()
    result = parent.recv()
    proc.join()
    if "error" in result:
        raise SystemExit(f"detection failed: {result['error']}")
    done = result["done"]
    db_mb = sum(p.stat().st_size for p in work.glob("corpus.sqlite3*")) / 2**20
    quality = pairwise_quality(result["stories"], groups[:done])
    print(
        f"  detection: {done:,} docs in {result['detect_s']:.1f} s; ms/article first 10% "
        f"{result['ms_per_article_first10']:.3f}, last 10% {result['ms_per_article_last10']:.3f}; "
        f"RSS at start {result['rss_start_mb']:.0f} MB, end {result['rss_end_mb']:.0f} MB, "
        f"peak {result['peak_rss_mb']:.0f} MB; "
        f"{result['exact_duplicates']} exact duplicates; pairs true {quality['true_pairs']:,}, "
        f"predicted {quality['predicted_pairs']:,}, both {quality['true_positive_pairs']:,}"
        + ("  (PARTIAL: time limit)" if result["partial"] else ""),
        flush=True,
    )
    extra = {k: v for k, v in result.items() if k != "stories"} | quality | fp | {"planted_copies": planted}
    rows = [
        Row(
            size,
            "LSH in DB",
            done,
            result["ms_per_article"],
            result["ms_per_article_last10"],
            result["peak_rss_mb"],
            db_mb,
            quality["precision"],
            quality["recall"],
            result["partial"],
            extra,
        )
    ]
    if size <= args.brute_max:
        brute = brute_force(work, size)
        bq = pairwise_quality(brute["stories"], groups)
        print(
            f"  brute force: {brute['ms_per_article']:.3f} ms/article, last 10% {brute['ms_per_article_last10']:.3f}",
            flush=True,
        )
        rows.append(
            Row(
                size,
                "brute force",
                size,
                brute["ms_per_article"],
                brute["ms_per_article_last10"],
                None,
                None,
                bq["precision"],
                bq["recall"],
                False,
                bq,
            )
        )
    if not args.keep:
        shutil.rmtree(work)
    return rows


def print_table(rows: list[Row]) -> None:
    print(
        "\n| size | method | docs | ms/article (all) | ms/article (last 10%) | peak RSS MB | DB MB "
        "| pair precision | pair recall |"
    )
    print("| ---: | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |")
    for r in rows:
        rss = f"{r.peak_rss_mb:.0f}" if r.peak_rss_mb is not None else "-"
        db = f"{r.db_mb:.0f}" if r.db_mb is not None else "-"
        docs = f"{r.docs:,}" + (" (partial)" if r.partial else "")
        print(
            f"| {r.size:,} | {r.method} | {docs} | {r.ms_per_article:.3f} | {r.ms_last10:.3f} | {rss} | {db} "
            f"| {r.precision:.4f} | {r.recall:.4f} |"
        )
    by = {(r.size, r.method): r for r in rows}
    for (size, method), brute in by.items():
        lsh = by.get((size, "LSH in DB"))
        if method == "brute force" and lsh:
            print(
                f"\nbrute force / LSH in DB at {size:,}: {brute.ms_per_article / lsh.ms_per_article:.2f}x overall, "
                f"{brute.ms_last10 / lsh.ms_last10:.2f}x over the last 10%"
            )
    lsh_rows = [r for r in rows if r.method == "LSH in DB"]
    if len(lsh_rows) > 1:
        first, last = lsh_rows[0], lsh_rows[-1]
        print(
            f"LSH in DB, last-10% cost at {last.docs:,} docs / at {first.docs:,} docs: "
            f"{last.ms_last10 / first.ms_last10:.2f}x"
        )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0], formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--sizes", default="10000,100000,1000000", help="corpus sizes, comma-separated")
    parser.add_argument(
        "--db-dir", type=Path, help="where the SQLite files go (kept); default a temporary directory (removed)"
    )
    parser.add_argument(
        "--per-txn", "-t", type=int, default=1, help="documents per transaction (default 1, as the crawl does)"
    )
    parser.add_argument(
        "--max-minutes", type=float, help="stop the detection at each size after this long; report what finished"
    )
    parser.add_argument(
        "--brute-max", type=int, default=10_000, help="run the brute-force baseline at sizes up to this"
    )
    parser.add_argument("--workers", type=int, default=os.cpu_count() or 1, help="fingerprinting processes")
    parser.add_argument(
        "--verify", type=int, default=300, help="sample docs checked against crawler.stories.fingerprint.fingerprint"
    )
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--keep", action="store_true", help="keep the SQLite files and fingerprint files")
    parser.add_argument("--json", type=Path, help="also write every figure to this file")
    args = parser.parse_args(argv)
    sizes = [int(s.replace("_", "")) for s in args.sizes.split(",") if s.strip()]
    if args.db_dir:
        base = args.db_dir.resolve()
        base.mkdir(parents=True, exist_ok=True)
        args.keep = True
    else:
        base = Path(tempfile.mkdtemp(prefix="ai4s-neardup-"))
    print(
        f"near-duplicate detection at scale: sizes {', '.join(f'{s:,}' for s in sizes)}; "
        f"NUM_PERM {NUM_PERM}, {BANDS} bands; vocabulary {VOCABULARY:,} (Zipf s={ZIPF_EXPONENT}); seed {args.seed}; "
        f"{os.cpu_count()} CPUs; work dir {base}",
        flush=True,
    )
    rows: list[Row] = []
    try:
        for i, size in enumerate(sizes):
            rows.extend(run_size(size, args, base))
            if i < len(sizes) - 1:
                print_table(rows)  # the table so far, should a later size be cut short
    finally:
        if rows:
            print_table(rows)
            if args.json:
                args.json.parent.mkdir(parents=True, exist_ok=True)
                args.json.write_text(json.dumps([asdict(r) for r in rows], indent=2, default=float))
        if not args.db_dir and not args.keep:
            shutil.rmtree(base, ignore_errors=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
