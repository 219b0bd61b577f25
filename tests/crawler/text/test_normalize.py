"""Text normalisation for comparison: pinyin readings, script, width, boilerplate, on the real seed articles."""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path

import pytest

from crawler.text import normalize
from crawler.text.normalize import (
    fold_width,
    normalize_for_comparison,
    normalize_for_matching,
    strip_pinyin_annotations,
    strip_related_headlines,
    strip_syndication_boilerplate,
    to_simplified,
)
from tests.crawler.support import PROJECT_ROOT

SEEDS = PROJECT_ROOT / "seeds"
TONE_MARKED = re.compile("[āáǎàēéěèīíǐìōóǒòūúǔùǖǘǚǜ]")
#: A line of a story, around the boilerplate lines the tests put between two of it.
STORY_LINE = "国际科学智能联盟成立活动于5月9日在京举行，该联盟由北京大学等50余家单位共同发起。"


def seed(number: str) -> str:
    """The text of seed article ``number`` ("000" to "004")."""
    (path,) = SEEDS.glob(f"{number}_*.txt")
    return path.read_text(encoding="utf-8")


def seed_names() -> list[str]:
    return sorted(path.name for path in SEEDS.glob("[0-9][0-9][0-9]_*.txt"))


# --------------------------------------------------------------------------- pinyin readings


@pytest.mark.parametrize(
    ("annotated", "expected"),
    [
        ("新華網(wǎng)", "新華網"),
        ("學(xué)", "學"),
        ("聯(lián)盟", "聯盟"),
        ("領(lǐng)軍", "領軍"),
        ("學（xué）", "學"),  # full-width brackets
        ("學(xue2)習(xi2)", "學習"),  # tone numbers
        ("學習(xué xí)", "學習"),  # several syllables
        ("學習(xuéxí)", "學習"),
        ("綠(lǜ)色", "綠色"),
        ("學(XUÉ)", "學"),
        ("學(xu\u0301e)", "學"),  # tone mark as a combining character
        ("學﹙xué﹚", "學"),  # small brackets, which width folding turns into ASCII ones
    ],
)
def test_pinyin_readings_after_characters_are_removed(annotated: str, expected: str) -> None:
    assert strip_pinyin_annotations(annotated) == expected


@pytest.mark.parametrize(
    "text",
    [
        "國際科學智能聯盟(International AI for Science Union)",
        "《科學智能 (AI4S)全球發展觀察與展望》",
        "科學智能(AI4S)",
        "預訓練模型(DPA-1)",
        "這是一場AI for Science（科學智能）的頂尖學術盛會",
        "「人工智能驅動的科學研究」（AI for Science）專項",
        "計算機圖形學(CG)、騰訊人工智能實驗室(AI Lab)",
        "包括(a)算法和(e)數據",  # list markers are letters that happen to be pinyin syllables
        "北京 (Běijīng) 是首都",  # a gloss set off by a space belongs to the writer
        "(wǎng)開頭",  # nothing before the bracket to annotate
        "他問道?是嗎)",
        "https://example.com/a?id=3)",
    ],
)
def test_other_brackets_are_kept(text: str) -> None:
    assert strip_pinyin_annotations(text) == text


def test_no_reading_survives_in_the_annotated_seeds() -> None:
    for number in ("000", "003"):
        stripped = strip_pinyin_annotations(seed(number))
        assert TONE_MARKED.findall(stripped) == [], number
    assert strip_pinyin_annotations(seed("000")).startswith(
        "新華網北京5月9日電(記者凌紀偉)國際科學智能聯盟(International AI for Science Union)成立活動"
    )


def test_readings_glued_to_mojibake_go_with_the_broken_bracket() -> None:
    text = seed("003")
    assert "??苿?chuàng)發(fā)展" in text
    stripped = strip_pinyin_annotations(text)
    assert "這巨浪之中??苿發展需要科技共同體" in stripped
    assert "來源:消費日網" in stripped  # 報 itself was lost to the wrong charset before we saw it
    assert "騰訊AI Lab總經理钗≌J為" in stripped


def test_seeds_without_readings_are_unchanged() -> None:
    for number in ("001", "002", "004"):
        assert strip_pinyin_annotations(seed(number)) == seed(number)


# --------------------------------------------------------------------------- script and width


def test_to_simplified_converts_characters_and_phrases() -> None:
    assert to_simplified("國際科學智能聯盟成立活動於5月9日在京舉行") == "国际科学智能联盟成立活动于5月9日在京举行"
    assert to_simplified("標簽 推薦 財富更多》") == "标签 推荐 财富更多》"
    assert to_simplified("AI for Science 科学智能") == "AI for Science 科学智能"
    assert to_simplified("") == ""


def test_the_converter_is_built_once() -> None:
    assert normalize._t2s() is normalize._t2s()


def test_fold_width_makes_full_width_forms_half_width() -> None:
    assert fold_width("ＡＩ４Ｓ（科学智能）：２０２３！") == "AI4S(科学智能):2023!"
    assert fold_width("北京\u3000上海") == "北京 上海"
    assert fold_width("“AI for Science”，。") == "“AI for Science”,。"  # quotes and 。 have no half-width form


# --------------------------------------------------------------------------- matching


def test_matching_form_of_the_traditional_seed() -> None:
    matched = normalize_for_matching(seed("000"))
    assert "新华网北京5月9日电" in matched
    assert "国际科学智能联盟" in matched
    assert "international ai for science union" in matched
    assert "北京科学智能研究院" in matched
    assert "(wǎng)" not in matched and "網" not in matched


def test_matching_form_is_lower_case_on_one_line() -> None:
    matched = normalize_for_matching("  AI for Science\n\n  科學智能\t\u3000ＡＩ４Ｓ \u200b驅動  ")
    assert matched == "ai for science 科学智能 ai4s 驱动"


def test_matching_form_of_mixed_seeds() -> None:
    assert "ai for science加速科研范式变革" in normalize_for_matching(seed("001"))
    assert "腾讯人工智能科创联合体" in normalize_for_matching(seed("003"))
    assert "2023 “ai for science” pujiang innovation forum" in normalize_for_matching(seed("004"))


# --------------------------------------------------------------------------- boilerplate


def removed_lines(text: str) -> list[str]:
    """The lines of ``text`` that strip_syndication_boilerplate drops, checking the rest stays in order."""
    kept = strip_syndication_boilerplate(text).splitlines()
    removed, position = [], 0
    for line in text.splitlines():
        if position < len(kept) and kept[position] == line:
            position += 1
        else:
            removed.append(line)
    assert position == len(kept), "kept lines must be original lines, in order"
    return [line for line in removed if line.strip()]


def test_boilerplate_of_the_netease_repost() -> None:
    text = seed("000")
    lines = text.splitlines()
    assert removed_lines(text) == [
        "![]()",
        "![]()",
        "來源:新華網(wǎng)",
        lines[-2],  # 特別聲明:以上內容…為自媒體平臺“網易號”用戶上傳並發布,本平臺僅提供信息存儲服務。
        lines[-1],  # Notice: The content above … is uploaded and posted by a user of NetEase Hao…
    ]
    assert lines[-2].startswith("特別聲明:以上內(nèi)容(如有圖片或視頻亦包括在內(nèi))")
    assert lines[-1].startswith("Notice: The content above (including the pictures and videos if any)")
    stripped = strip_syndication_boilerplate(text)
    assert stripped.startswith(lines[0])
    assert "圖為國際科學(xué)智能聯(lián)盟成立活動現(xiàn)場" in stripped  # captions are text
    assert stripped.rstrip().endswith("為全球科技發(fā)展貢獻(xiàn)中國智慧。")


def test_boilerplate_of_the_xinhua_repost() -> None:
    text = seed("001")
    assert removed_lines(text) == [
        "***本文转载自新华网**",
        "新华网记者 凌纪伟",
        "![](https://pic.imgdb.cn/item/65f00e119f345e8d03e74d8a.png)",
        "![](https://pic.imgdb.cn/item/65f00e259f345e8d03e79e7b.png)",
        "![](https://pic.imgdb.cn/item/65f00e399f345e8d03e7f19f.png)",
    ]
    stripped = strip_syndication_boilerplate(text)
    assert stripped.startswith("# 向着新一轮科学革命制高点攀登——2023全球科学智能峰会观察\n")
    assert "新华网北京8月11日电 题：向着新一轮科学革命制高点攀登——2023全球科学智能峰会观察" in stripped
    assert "这是一场AI for Science（科学智能）的顶尖学术盛会。" in stripped


def test_boilerplate_and_navigation_of_the_consumer_daily_page() -> None:
    text = seed("003")
    assert removed_lines(text) == [
        "來源:消費(fèi)日?qǐng)?bào)網(wǎng)",
        "標(biāo)簽: AI生態(tài) 騰訊 科研",
        "推薦",
        "財(cái)富更多》",
        "動(dòng)態(tài)更多》",
        "熱點(diǎn)",
    ]
    stripped = strip_syndication_boilerplate(text)
    assert stripped.startswith("AI生態(tài)重要性凸顯 騰訊打造開放平臺(tái)助力科研建設(shè)\n")
    assert "4月8日,首屆騰訊STAC科創(chuàng)聯(lián)合大會(huì)" in stripped
    assert "發(fā)力人工智能 助力成渝地區(qū)雙城經(jīng)濟(jì)圈建設(shè)" in stripped  # a subheading is story


def test_boilerplate_of_the_university_page() -> None:
    text = seed("004")
    byline = next(line for line in text.splitlines() if line.startswith("Source:Original"))
    assert removed_lines(text) == [
        byline,  # Source:Original    Author:admin    Time:2023-08-02    View:58 (with no-break spaces)
        "Latest News",
        "沪公网安备 31010402009841号",
    ]
    stripped = strip_syndication_boilerplate(text)
    assert "2023 “AI for Science” Pujiang Innovation Forum Held" in stripped
    assert "On April 2, 2023, the 2023 “AI for Science” Pujiang Innovation Forum was held" in stripped
    assert stripped.rstrip().endswith("has taken shape in Zhangjiang.")


@pytest.mark.parametrize(
    "line",
    [
        "来源：新华网",
        "來源: 人民日報  責任編輯: 郭肖",
        "文章来源：科技日报 2023-05-17",
        "2023-08-11 10:23:45 来源：新华网",
        "*本文转载自新华网*",
        "本文来自微信公众号：墨子沙龙（ID：MiciusSalon），作者：王佳",
        "原标题：向着新一轮科学革命制高点攀登",
        "（原標題：國家網信辦等七部門生成式人工智慧服務管理暫行辦法出臺）",
        "责任编辑：王超",
        "【责编：萧潇、张妍】",
        "编辑：李楠",
        "编辑丨海腰",
        "作者丨刘杨楠",
        "新华社记者 张三 李四",
        "本报记者 张三 通讯员 李四",
        "□ 本报记者 葛灵丹",
        "文/记者 张三",
        "By Li Yan | China Daily",
        "Source: Xinhua",
        "Editor: Li Yan",
        "![图片](https://example.com/a.jpg)",
        "特别声明：以上内容(如有图片或视频亦包括在内)为自媒体平台“网易号”用户上传并发布，本平台仅提供信息存储服务。",
        "声明：该文观点仅代表作者本人，搜狐号系信息发布平台，搜狐仅提供信息存储空间服务。",
        "Copyright © 2023 Xinhua. All rights reserved.",
        "沪ICP备05052060号-1",
        "京公网安备 11010802020003号",
        "标签：人工智能 科学智能",
        "上一篇：科技部启动专项部署",
        "相关新闻",
        "返回顶部",
        "（完）",
    ],
)
def test_boilerplate_lines_of_chinese_portals_are_removed(line: str) -> None:
    story = STORY_LINE
    assert strip_syndication_boilerplate(f"{story}\n{line}\n{story}\n") == f"{story}\n{story}\n"


@pytest.mark.parametrize(
    "line",
    [
        "来自中国移动、百度、比亚迪等企业代表就联盟发展战略展开深入探讨。",
        "记者：您如何看待AI for Science的前景？",
        "记者手记",
        "本报记者实地探访人工智能实验室",
        "新华社北京5月9日电（记者张三）国际科学智能联盟成立。",
        "By 2030, China aims to lead the world in AI for Science.",
        "Editor's note: the forum was held in Shanghai.",
        "图为国际科学智能联盟成立活动现场",
        # a whole story extracted as one line is never dropped for the source note at its start
        "来源：新华网 " + "国际科学智能联盟成立活动于5月9日在京举行，该联盟由北京大学等单位共同发起。" * 6,
    ],
)
def test_story_lines_that_look_like_boilerplate_are_kept(line: str) -> None:
    story = STORY_LINE
    text = f"{story}\n{line}\n{story}\n"
    assert strip_syndication_boilerplate(text) == text


def test_an_editor_note_at_the_end_of_a_paragraph_is_cut_off() -> None:
    text = "他说，这是关键的一步。（责任编辑：王超）\n下一段。\n"
    assert strip_syndication_boilerplate(text) == "他说，这是关键的一步。\n下一段。\n"


def test_short_last_lines_go_only_after_a_known_footer() -> None:
    story = "北京大学将充分发挥学科交叉优势，联动全球顶尖力量，为科学智能领域提供核心支撑。"
    story_list = f"{story}\n算力\n算法\n数据\n"
    assert strip_syndication_boilerplate(story_list) == story_list
    footer = f"{story}\n\n推荐\n财经\n动态\n热点\n"
    assert strip_syndication_boilerplate(footer) == f"{story}\n\n"


# --------------------------------------------------------------------------- other articles' headlines

# Headlines of AI-for-Science articles, as a related box lists them: a different pair on every page.
RELATED_ZH = [
    "AI for Science：北京科学智能研究院发布DPA-2分子模拟大模型",
    "科学智能峰会在京举行 鄂维南：人工智能驱动科研范式变革",
    "科技部启动“人工智能驱动的科学研究”专项部署工作",
    "盘古气象大模型登上《自然》：AI天气预报超越传统数值方法",
]
RELATED_EN = [
    "AI for Science: DeepMind’s AlphaFold 3 predicts structures of all life’s molecules",
    "Microsoft Aurora foundation model beats weather forecasting systems",
    "Deep learning finds 2.2 million new crystals for materials science",
    "Tim Cook On Apple Being ‘Pulled Into The Enterprise’",
]
BOTH_STRIPS = pytest.mark.parametrize("strip", [strip_related_headlines, strip_syndication_boilerplate])


def story_of(number: str) -> str:
    """Seed article ``number`` without its boilerplate: the story alone."""
    return strip_syndication_boilerplate(seed(number))


@BOTH_STRIPS
@pytest.mark.parametrize("label", ["相关阅读", "相關閱讀：", "延伸阅读", "【推荐阅读】", "猜你喜欢"])
def test_a_chinese_related_box_under_its_label_is_removed(strip: Callable[[str], str], label: str) -> None:
    story = story_of("001")
    for pair in (RELATED_ZH[:2], RELATED_ZH[2:], [RELATED_ZH[3], RELATED_ZH[0]]):
        assert strip(story + label + "\n" + "\n".join(pair) + "\n") == story


@BOTH_STRIPS
@pytest.mark.parametrize("label", ["Related stories", "Related", "RELATED:", "See also", "You may also like"])
def test_an_english_related_box_under_its_label_is_removed(strip: Callable[[str], str], label: str) -> None:
    story = story_of("004")
    for pair in (RELATED_EN[:2], RELATED_EN[2:], [RELATED_EN[3], RELATED_EN[1]]):
        # a last story line after the box stays: only the headlines are the box's
        text = story + label + "\n" + "\n".join(pair) + "\nThe forum will be held again next spring.\n"
        assert strip(text) == story + "The forum will be held again next spring.\n"


@BOTH_STRIPS
def test_the_stories_own_subheadings_stay_and_only_the_box_goes(strip: Callable[[str], str]) -> None:
    # seed 003 has subheadings after ordinary lines ("发力人工智能 助力成渝地区双城经济圈建设"); a list of the
    # story's own short lines after "更多", which labels no list of other articles, stays too
    last = "这三者缺一不可，他说，联合体将在三个方向上同时发力。\n"
    story = story_of("003") + "更多\n算力\n算法\n数据\n" + last
    kept = strip(story + "相关阅读\n" + "\n".join(RELATED_ZH[:2]) + "\n")
    assert kept == strip(story)
    assert "发力人工智能 助力成渝地区双城经济圈建设" in normalize_for_matching(kept)
    assert kept.endswith("\n算力\n算法\n数据\n" + last)


@BOTH_STRIPS
@pytest.mark.parametrize(
    "line",
    [
        f"Read more: {RELATED_EN[0]}",
        f"**Read more:** {RELATED_EN[3]}",
        f"RELATED: {RELATED_EN[1]}",
        f"See also: {RELATED_EN[2]}",
        f"相关阅读：{RELATED_ZH[0]}",
        f"延伸阅读：{RELATED_ZH[2]}",
        f"【推荐阅读】{RELATED_ZH[1]}",
    ],
)
def test_a_related_label_with_its_headline_on_one_line_is_removed(strip: Callable[[str], str], line: str) -> None:
    story = STORY_LINE
    assert strip(f"{story}\n{line}\n{story}\n") == f"{story}\n{story}\n"


@pytest.mark.parametrize(
    "text",
    [
        # a sentence, not a headline, after the label
        "Read more: the study, published in Nature on Monday, found that the model was right. It was.\n",
        "推荐：这本书值得一读。作者用十年时间走访了全国的实验室。\n",
        # the story goes on under a label with no list
        "相关阅读\n国际科学智能联盟成立活动于5月9日在京举行，该联盟由北京大学等50余家单位共同发起。\n",
    ],
)
def test_sentences_after_a_related_label_stay(text: str) -> None:
    assert strip_related_headlines(text) == text


# --------------------------------------------------------------------------- comparison

SIMPLIFIED_COPY_OF_000 = """\
新华网北京5月9日电（记者凌纪伟）国际科学智能联盟（International AI for Science Union）成立活动于5月9日在京举行。\
该联盟由北京大学、上海交通大学、中国科学技术大学、北京科学智能研究院等50余家顶尖高校、科研院所及行业领军企业共同发起，\
旨在通过人工智能技术驱动科研范式变革，加速科学发现与产业转化协同发展，开启“大科研时代”新篇章。

国际科学智能联盟的成立标志着我国在“AI for Science”领域迈出关键一步。联盟将以“智能”为罗盘，以“创新”为引擎，\
持续推动科学探索迈向更高维度，为全球科技发展贡献中国智慧。
【责任编辑：凌纪伟】
"""


def test_the_netease_repost_and_a_simplified_copy_compare_equal() -> None:
    lines = seed("000").splitlines()
    # the same two paragraphs as the repost carries them: traditional, pinyin, its own boilerplate
    repost = "\n".join([lines[0], lines[1], *lines[-4:]])
    assert lines[-4].startswith("國際科學(xué)智能聯(lián)盟的成立標(biāo)志著")
    assert normalize_for_comparison(repost) == normalize_for_comparison(SIMPLIFIED_COPY_OF_000)
    assert normalize_for_comparison(repost) != normalize_for_comparison(seed("001"))


def test_comparison_form_has_no_punctuation_and_spaces_only_between_latin_words() -> None:
    compared = normalize_for_comparison(seed("000"))
    assert compared.startswith("新华网北京5月9日电记者凌纪伟国际科学智能联盟international ai for science union成立活动")
    assert not any(char in compared for char in "，,。.“”()（）:：!?-\n")
    assert re.search(r"[\u4e00-\u9fff] |[^\x00-\x7f] [\u4e00-\u9fff]", compared) is None
    assert "来源" not in compared and "notice" not in compared and "网易号" not in compared
    english = normalize_for_comparison(seed("004"))
    assert "on april 2 2023 the 2023 ai for science pujiang innovation forum was held in zhangjiang" in english
    assert "source original" not in english and "view 58" not in english and "31010402009841" not in english


def test_comparison_ignores_width_script_and_spacing() -> None:
    variants = [
        "AI for Science：北京科学智能研究院发布DPA-1模型。",
        "ＡＩ ｆｏｒ Ｓｃｉｅｎｃｅ: 北京科學智能研究院 發布 DPA-1 模型!",
        "AI  for\nScience——北京科學(xué)智能研究院發(fā)布DPA-1模型",
    ]
    assert {normalize_for_comparison(text) for text in variants} == {"ai for science北京科学智能研究院发布dpa 1模型"}


@pytest.mark.parametrize(
    "note",
    [
        "编者按：人工智能正在深刻改变科学研究的范式，本报特转载新华网记者的现场观察，以飨读者。",
        "【编者按】人工智能正在深刻改变科学研究的范式，本报特转载新华网记者的现场观察，以飨读者。",
        "編者的話：人工智能正在深刻改變科學研究的範式，本報特轉載新華網記者的現場觀察。",
        "导读：人工智能正在深刻改变科学研究的范式。",
        "Editor’s Note: This story was first published by Xinhua and is republished with permission.",
        "[Editor's note] This story was first published by Xinhua.",
    ],
)
def test_an_editors_note_above_the_story_is_left_out_of_the_comparison_form_only(note: str) -> None:
    story = story_of("001")
    assert normalize_for_comparison(f"{note}\n{story}") == normalize_for_comparison(story)
    assert strip_syndication_boilerplate(f"{note}\n{story}") == f"{note}\n{story}"  # the stored text keeps it
    # a note under its label standing alone, as some portals set it
    label, _, body = note.partition("：")
    if body:
        assert normalize_for_comparison(f"{label}\n{body}\n{story}") == normalize_for_comparison(story)
    # once the story has begun, a line that reads as a note is the story's
    first, _, rest = story.partition("\n")
    within = f"{first}\n{note}\n{rest}"
    assert normalize_for_comparison(within) != normalize_for_comparison(story)


# --------------------------------------------------------------------------- idempotence

FUNCTIONS: list[Callable[[str], str]] = [
    strip_pinyin_annotations,
    to_simplified,
    fold_width,
    normalize_for_matching,
    strip_syndication_boilerplate,
    normalize_for_comparison,
]
TRICKY = [
    "",
    "\n\n",
    "學(xué)(xué) 學習(xué xí)(xué xí)",
    "學\u200b(xué xí)",
    "⼀(yī)",  # a Kangxi radical, which width folding turns into 一
    "學(ｘｕé)",
    "故事。\n来源：新华网\n(责任编辑：A)(责编：B)\n",
    "最后一段很长的正文，讲述了国际科学智能联盟的成立和它的使命与愿景。\n\n推荐\n\n财经\n\n",
    "Copyright (c) 2014 IETF Trust\r\nAll rights reserved.\r\n",
]


@pytest.mark.parametrize("function", FUNCTIONS, ids=lambda function: function.__name__)
@pytest.mark.parametrize("name", [*seed_names(), *(f"tricky-{i}" for i in range(len(TRICKY)))])
def test_applying_twice_is_applying_once(function: Callable[[str], str], name: str) -> None:
    text = TRICKY[int(name.split("-")[1])] if name.startswith("tricky-") else (SEEDS / name).read_text(encoding="utf-8")
    once = function(text)
    assert function(once) == once


def test_seed_files_are_there() -> None:
    assert len(seed_names()) == 5
    assert all(Path(SEEDS / name).stat().st_size > 1000 for name in seed_names())


@pytest.mark.parametrize(
    ("label", "subhead"),
    [("Related stories", "What the forecasters say next"), ("相关阅读", "下一步的研究方向")],
)
def test_a_bare_label_left_without_its_list_takes_only_itself(label: str, subhead: str) -> None:
    # Extraction kept the box's label but not its links: the story's own subhead after it is no headline of another.
    before = "The model forecasts floods ten days ahead, the team reported on Monday in a peer-reviewed paper."
    after = "Researchers now plan to test the model on rivers in three more countries over the coming two years."
    text = f"{before}\n{label}\n{subhead}\n{after}"
    assert strip_related_headlines(text) == f"{before}\n{subhead}\n{after}"
