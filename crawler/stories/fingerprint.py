"""Near-duplicate fingerprints: MinHash signatures of shingles, LSH band keys, and the test that
decides whether two articles are copies of one story. Pure (no Scrapy, no database).

Texts are compared in their comparison form (:func:`crawler.text.normalize.normalize_for_comparison`:
boilerplate lines of syndication removed, traditional folded to simplified, pinyin annotations,
punctuation and spacing dropped). Shingles are runs of :data:`CJK_SHINGLE` characters for CJK
text and of :data:`WORD_SHINGLE` words for Latin-script text. A signature is a datasketch MinHash
of ``NUM_PERM`` 32-bit values (scheme ``affine32``, SHA-1 of each shingle), computed here in a few numpy
lines that give datasketch's values bit for bit (``tests/crawler/stories/test_fingerprint.py`` checks
them against datasketch): importing datasketch loads SciPy, 60 MiB and a third of a second in every
process that fingerprints, for nothing the product uses (``benchmarks/minhash_libs.py``, row (c2)).
Cut into ``BANDS`` bands of ``ROWS`` values, each band gives one
64-bit key, stored in the database: two articles sharing a key are candidates, and the
estimated Jaccard similarity (or containment, for a copy that kept only part of the story)
decides.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from functools import cache

import numpy as np

from crawler.text.normalize import normalize_for_comparison
from crawler.text.script import CJK, CJK_CHAR, character_class

NUM_PERM = 128
BANDS = 32
ROWS = 4  # BANDS * ROWS = NUM_PERM; a pair at Jaccard 0.5 becomes a candidate with p = 0.87, at 0.3 with 0.23
CJK_SHINGLE = 5
WORD_SHINGLE = 3
MIN_SHINGLES = 30  # shorter texts are too short to call copies: each stays its own story
#: A copy: estimated Jaccard similarity at least this...
COPY_JACCARD = 0.5
#: ...or the shorter text this much contained in the longer one (a copy that kept part of the story).
COPY_CONTAINMENT = 0.8
#: One source's two texts this alike (estimated Jaccard similarity) are one article: its page reached under two URLs.
SAME_TEXT_JACCARD = 0.9
#: Two texts this alike are copies whatever their openings; less alike ones (and one found contained in the other)
#: are copies only where one holds :data:`LEAD_KEPT` of the other's lead (:func:`keeps_a_lead`).
SURE_COPY_JACCARD = 0.8
#: A copy keeps its story's opening: this share of the shingles of one text's lead is in the other. Two pieces that
#: share only a closing paragraph (an institute's "about us" under each of its short releases) or a long statement
#: both quote share no opening, though their shared part makes them half alike. (At 0.75, copies of 150-word texts
#: with a new first line and a few words changed were missed: pair recall 0.937 in ``benchmarks/neardup_scale.py``
#: at 10,000 documents, 1.000 at 0.6.)
LEAD_KEPT = 0.6

#: A text's lead: its first ``LEAD_SHINGLES`` shingles, read from its first ``LEAD_CHARACTERS`` characters, give
#: ``LEAD_BANDS`` more band keys (of ``ROWS`` values of the lead's own MinHash). A copy that kept only the first
#: part of a story (a third, a half) shares too little of it to share a band of the whole text's signature, but
#: it shares the lead: so the two are compared, and containment decides. A pair of leads at Jaccard 0.75 (a line
#: added before the story) becomes a candidate with p = 0.96.
LEAD_SHINGLES = 150
LEAD_CHARACTERS = 1500
LEAD_BANDS = 8

#: A text is found contained in another (a copy of part of it) only from this many shingles on.
CONTAINED_SHINGLES = 3 * MIN_SHINGLES

#: A token: one CJK character, or a run of other characters up to a space.
_TOKEN = re.compile(f"[{character_class(CJK)}]|[^\\s{character_class(CJK)}]+")
#: Two texts this far apart (estimated Jaccard similarity below it) are unrelated: they share no passage.
UNRELATED_JACCARD = 0.05
#: The MinHash seed and the permutations it gives: fixed, so that the signatures stored in the database stay
#: comparable across runs (changing either means fingerprinting every stored article again).
MINHASH_SEED = 1


@cache
def permutations() -> tuple[np.ndarray, np.ndarray]:
    """The ``NUM_PERM`` affine permutations ``h -> a * h + b`` (mod 2**32) of :data:`MINHASH_SEED`, drawn as
    datasketch's ``MinHash(seed=MINHASH_SEED, scheme="affine32")`` draws them: ``a`` odd, so each is a bijection."""
    generator = np.random.RandomState(MINHASH_SEED)
    a = generator.randint(0, 1 << 31, NUM_PERM, dtype=np.uint32) * np.uint32(2) + np.uint32(1)
    b = generator.randint(0, 1 << 32, NUM_PERM, dtype=np.uint32)
    return a, b


def _premixed(values: np.ndarray) -> np.ndarray:
    """The MurmurHash3 finalizer on uint32 values: datasketch's pre-mix of each hash before the permutations."""
    values = values ^ (values >> np.uint32(16))
    values = values * np.uint32(0x85EBCA6B)
    values = values ^ (values >> np.uint32(13))
    values = values * np.uint32(0xC2B2AE35)
    return values ^ (values >> np.uint32(16))


def minhash_values(shingles: set[str]) -> np.ndarray:
    """The MinHash signature of a non-empty set of shingles: ``NUM_PERM`` uint32 values."""
    sha1 = hashlib.sha1
    digests = b"".join([sha1(shingle.encode("utf-8")).digest()[:4] for shingle in shingles])
    hashed = _premixed(np.frombuffer(digests, dtype="<u4").astype(np.uint32))
    a, b = permutations()
    # in chunks: one matrix of every shingle by every permutation took 2 GB for a 5 MB text
    return np.min(
        [(chunk[:, None] * a + b).min(axis=0) for chunk in np.array_split(hashed, _chunks(len(hashed)))], axis=0
    )


#: Shingles hashed by the permutations at once.
SHINGLES_AT_ONCE = 8192


def _chunks(shingles: int) -> int:
    """How many chunks of at most :data:`SHINGLES_AT_ONCE` shingles ``shingles`` make."""
    return max(1, -(-shingles // SHINGLES_AT_ONCE))


@dataclass(frozen=True)
class Fingerprint:
    """What near-duplicate detection keeps of an article."""

    signature: bytes  # NUM_PERM little-endian uint32 values
    shingles: int  # number of distinct shingles (for the containment estimate)
    band_keys: tuple[int, ...]  # BANDS signed 64-bit keys
    lead_keys: tuple[int, ...] = ()  # LEAD_BANDS signed 64-bit keys of the text's lead (none for a short text)

    @property
    def keys(self) -> tuple[int, ...]:
        """Every key the article is found by: its bands' and its lead's."""
        return self.band_keys + self.lead_keys


def shingle_set(text: str) -> set[str]:
    """The shingles of ``text`` in its comparison form."""
    return token_shingles(_TOKEN.findall(normalize_for_comparison(text)))


def token_shingles(tokens: list[str]) -> set[str]:
    """Shingles of a token sequence (one CJK character or one word a token): runs of characters
    where most tokens are CJK, runs of words otherwise."""
    return set(_shingles_in_order(tokens))


def _shingles_in_order(tokens: list[str]) -> list[str]:
    """The shingles of a token sequence (as :func:`token_shingles`), in the order of the text."""
    cjk = sum(1 for t in tokens if CJK_CHAR.match(t))
    size = CJK_SHINGLE if cjk * 2 >= len(tokens) else WORD_SHINGLE
    joiner = "" if size == CJK_SHINGLE else " "
    return [joiner.join(tokens[i : i + size]) for i in range(max(0, len(tokens) - size + 1))]


def band_keys(values: np.ndarray, first_band: int = 0) -> tuple[int, ...]:
    """One 64-bit key per band of ``ROWS`` values (the band's index, counted from ``first_band``, is part of the
    key)."""
    keys = []
    for band in range(len(values) // ROWS):
        chunk = values[band * ROWS : (band + 1) * ROWS].astype("<u4").tobytes()
        digest = hashlib.blake2b((first_band + band).to_bytes(2, "little") + chunk, digest_size=8).digest()
        keys.append(int.from_bytes(digest, "little", signed=True))
    return tuple(keys)


def lead_keys(text: str) -> tuple[int, ...]:
    """The band keys of the lead of an article's text (:data:`LEAD_SHINGLES`): the keys a copy that kept only
    the first part of the story shares with it."""
    lead = _shingles_in_order(_TOKEN.findall(normalize_for_comparison(text[:LEAD_CHARACTERS])))[:LEAD_SHINGLES]
    if len(lead) < MIN_SHINGLES:
        return ()
    return band_keys(minhash_values(set(lead))[: LEAD_BANDS * ROWS], first_band=BANDS)


def fingerprint(text: str) -> Fingerprint | None:
    """The fingerprint of an article's text, or ``None`` when it is too short to compare."""
    return shingles_fingerprint(shingle_set(text), text)


def shingles_fingerprint(shingles: set[str], text: str) -> Fingerprint | None:
    """The fingerprint of the set of shingles of ``text``, or ``None`` when there are too few to compare."""
    if len(shingles) < MIN_SHINGLES:
        return None
    values = minhash_values(shingles).astype("<u4")
    lead = _lead_keys_if_comparable(text, len(shingles))
    return Fingerprint(values.tobytes(), len(shingles), band_keys(values), lead)


def stored_fingerprint(signature: bytes, shingles: int, text: str) -> Fingerprint:
    """The fingerprint of an article from its stored signature and shingle count, and its text."""
    return Fingerprint(
        signature, shingles, band_keys(np.frombuffer(signature, dtype="<u4")), _lead_keys_if_comparable(text, shingles)
    )


def _lead_keys_if_comparable(text: str, shingles: int) -> tuple[int, ...]:
    """The lead's keys of a text long enough to be found contained in another (:func:`is_copy`), else none."""
    return lead_keys(text) if shingles >= CONTAINED_SHINGLES else ()


def jaccard(a: bytes, b: bytes) -> float:
    """Estimated Jaccard similarity of two signatures: the share of equal MinHash values."""
    return float(np.mean(np.frombuffer(a, dtype="<u4") == np.frombuffer(b, dtype="<u4")))


def containment(similarity: float, size_a: int, size_b: int) -> float:
    """Estimated share of the smaller shingle set found in the larger one, from Jaccard and set sizes."""
    overlap = similarity / (1 + similarity) * (size_a + size_b)
    return min(1.0, overlap / max(1, min(size_a, size_b)))


def is_copy(a: Fingerprint, b_signature: bytes, b_shingles: int) -> tuple[bool, float]:
    """Whether two articles are copies of one story, and their estimated Jaccard similarity."""
    similarity = jaccard(a.signature, b_signature)
    if similarity >= COPY_JACCARD:
        return True, similarity
    # Containment only for texts of comparable substance: a 40-shingle brief inside a long report
    # is not a copy of it.
    if min(a.shingles, b_shingles) >= CONTAINED_SHINGLES:
        return containment(similarity, a.shingles, b_shingles) >= COPY_CONTAINMENT, similarity
    return False, similarity


def ordered_shingles(text: str) -> list[str]:
    """The shingles of ``text`` in its comparison form, in the order of the text."""
    return _shingles_in_order(_TOKEN.findall(normalize_for_comparison(text)))


def keeps_a_lead(a: list[str], b: list[str]) -> bool:
    """Whether one of two texts (their :func:`ordered_shingles`) holds the other's lead: :data:`LEAD_KEPT` of the
    shingles of its first :data:`LEAD_SHINGLES`, or of its first third where that is shorter (a short release's
    own news before its institute's paragraph)."""
    return _lead_in(a, set(b)) or _lead_in(b, set(a))


def _lead_in(ordered: list[str], others: set[str]) -> bool:
    lead = set(ordered[: min(LEAD_SHINGLES, max(1, len(ordered) // 3))])
    return bool(lead) and len(lead & others) >= LEAD_KEPT * len(lead)


def is_unrelated(a: Fingerprint, b_signature: bytes, b_shingles: int) -> bool:
    """Whether two texts long enough to compare share no passage (a story that holds both is no story)."""
    return min(a.shingles, b_shingles) >= MIN_SHINGLES and jaccard(a.signature, b_signature) < UNRELATED_JACCARD


_CREDIT = re.compile(
    # \w already matches every Chinese character
    r"(?:来源|來源|转载自|轉載自|稿源|本文来自|source)\s*+[:：]?+\s*+[*“\"]?+\s*+([\w·.-]{2,20}?)(?:[*”\"\s,，。)]|$)",
    re.IGNORECASE,
)


def credited_source(text: str) -> str | None:
    """The outlet a copy credits (``来源：新华网``, ``本文转载自新华网``), if its first lines name one."""
    head = "\n".join(text.splitlines()[:8]) + "\n" + "\n".join(text.splitlines()[-5:])
    match = _CREDIT.search(head)
    if not match or match.group(1).strip().lower() in _NOT_OUTLETS:
        return None
    return match.group(1).strip()


_NOT_OUTLETS = frozenset({"original", "原创", "本站", "网络", "admin", "internet"})
