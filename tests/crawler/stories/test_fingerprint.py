"""Near-duplicate detection: copies across scripts, annotations and templates match; different
stories on the same topic, and texts sharing only boilerplate, do not."""

from __future__ import annotations

import itertools
import re
from pathlib import Path

import pytest

from crawler.stories.fingerprint import (
    MINHASH_SEED,
    NUM_PERM,
    Fingerprint,
    credited_source,
    fingerprint,
    is_copy,
    jaccard,
    minhash_values,
    shingle_set,
)
from crawler.text.normalize import to_simplified, to_traditional
from tests.crawler.support import PROJECT_ROOT

SEEDS = sorted((PROJECT_ROOT / "seeds").glob("*.txt"))
_PINYIN = re.compile(r"\([a-zāáǎàēéěèīíǐìōóǒòūúǔùǖǘǚǜü ]+\)")


def fp(text: str) -> Fingerprint:
    result = fingerprint(text)
    assert result is not None, "text too short to fingerprint"
    return result


def copies(a: Fingerprint, b: Fingerprint) -> bool:
    return is_copy(a, b.signature, b.shingles)[0]


def test_seed_000_matches_a_simplified_copy_of_the_same_xinhua_text() -> None:
    """Seed 000 is a NetEase repost in traditional script with pinyin readings and a disclaimer; a
    plain simplified copy with another source line and editor line is the same story."""
    seed_000 = SEEDS[0].read_text(encoding="utf-8")
    lines = [line for line in seed_000.splitlines() if line.strip() and "網易" not in line and "NetEase" not in line]
    simplified = "来源：新华网\n" + to_simplified(_PINYIN.sub("", "\n".join(lines))) + "\n（责任编辑：李华）"
    assert copies(fp(seed_000), fp(simplified))


def test_different_stories_on_the_same_topic_do_not_match() -> None:
    """Seeds 000 and 001 are two different Xinhua stories on AI for Science; no two seeds match."""
    prints = [fp(path.read_text(encoding="utf-8")) for path in SEEDS]
    for a, b in itertools.combinations(prints, 2):
        assert not copies(a, b)
        assert jaccard(a.signature, b.signature) < 0.1


def test_a_copy_in_traditional_script_with_another_headline_matches() -> None:
    lines = SEEDS[1].read_text(encoding="utf-8").splitlines()
    repost = "【转载】AI for Science峰会观察\n" + to_traditional("\n".join(lines[1:]))
    assert copies(fp("\n".join(lines)), fp(repost))


def test_a_copy_that_kept_only_most_of_the_story_matches() -> None:
    text = SEEDS[2].read_text(encoding="utf-8")
    main_story = text.split("相关报告")[0]
    assert copies(fp(main_story), fp(main_story[: int(len(main_story) * 0.8)]))


def test_texts_that_share_only_long_boilerplate_do_not_match() -> None:
    disclaimer = (
        "特别声明：以上内容(如有图片或视频亦包括在内)为自媒体平台“网易号”用户上传并发布，本平台仅提供信息存储服务。\n"
        "Notice: The content above (including the pictures and videos if any) is uploaded and posted by a user of "
        "NetEase Hao, which is a social media platform and only provides information storage services.\n"
        "责任编辑：张三\n来源：新华网\nCopyright © 1997-2026 网易公司版权所有\n"
    )
    first = "青溪市地铁三号线今天开通运营，全长二十六公里，设站十九座，早晚高峰行车间隔四分钟。" * 3
    second = "省气象台发布寒潮蓝色预警，预计未来三天气温下降八到十度，北部地区有小到中雪。" * 3
    assert not copies(fp(first + "\n" + disclaimer * 3), fp(second + "\n" + disclaimer * 3))


def test_short_texts_are_not_fingerprinted() -> None:
    assert fingerprint("新华社北京电 简讯。") is None


@pytest.mark.parametrize(
    ("text", "outlet"),
    [
        ("来源：新华网\n正文", "新华网"),
        ("***本文转载自新华网**\n正文", "新华网"),
        ("Source:Original  Author:admin", None),
    ],
)
def test_credited_source(text: str, outlet: str | None) -> None:
    assert credited_source(text) == outlet


@pytest.mark.parametrize("seed_file", SEEDS[:6], ids=lambda path: path.stem)
def test_signatures_are_datasketch_minhash_values_bit_for_bit(seed_file: Path) -> None:
    """The numpy MinHash gives the values datasketch's ``MinHash(seed=MINHASH_SEED, scheme="affine32")`` gives
    (its own permutations, not ours): the signatures stored by earlier releases stay comparable."""
    datasketch = pytest.importorskip("datasketch", reason="datasketch is the reference of the signatures (test extra)")
    text = seed_file.read_text(encoding="utf-8")
    for shingles in (shingle_set(text), shingle_set(to_traditional(text)[: len(text) // 3]), {"a", "b c", "短"}):
        reference = datasketch.MinHash(num_perm=NUM_PERM, seed=MINHASH_SEED, scheme="affine32")
        reference.update_batch([shingle.encode("utf-8") for shingle in shingles])
        assert minhash_values(shingles).tolist() == reference.hashvalues.tolist()


EDITORS_NOTE = (
    "编者按：人工智能正在深刻改变科学研究的范式。近日，由北京科学智能研究院主办的2023全球科学智能峰会在北京召开，"
    "来自国内外的院士专家齐聚一堂，共话科学智能的未来。本报特转载新华网记者的现场观察，以飨读者。"
    "我们希望借此引发更多读者对这一新兴交叉领域的关注与思考，也欢迎读者朋友们在评论区留言，分享您对科学智能发展前景的看法与建议。"
)


def test_a_copy_opening_with_an_editors_note_shares_lead_keys_with_the_original() -> None:
    """A portal's copy that opens with a 164-character editor's note and keeps the first half of the story is
    found by the original's lead keys (the note alone filled the lead's 150 shingles); other stories are not."""
    original = SEEDS[1].read_text(encoding="utf-8")
    half = original[: len(original) // 2].rsplit("\n", 1)[0]
    copy = fp(EDITORS_NOTE + "\n" + half)
    assert set(copy.lead_keys) & set(fp(original).lead_keys)
    for other in (SEEDS[0], SEEDS[2], SEEDS[3]):
        assert not set(copy.lead_keys) & set(fp(other.read_text(encoding="utf-8")).lead_keys)
