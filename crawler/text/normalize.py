"""Article text in the form used for comparison: relevance matching and near-duplicate detection.

Nothing here is for display. The same story arrives in simplified and traditional script, with
full-width or half-width punctuation, with pinyin readings inserted after characters (NetEase
网易号 reposts), and wrapped in each portal's own source lines, editor lines, disclaimers and
navigation. These functions fold those differences away:

- :func:`normalize_for_matching` is what the relevance scorer matches its terms against;
- :func:`normalize_for_comparison` is what near-duplicate detection compares;
- :func:`strip_pinyin_annotations`, :func:`to_simplified`, :func:`fold_width` and
  :func:`strip_syndication_boilerplate` are the steps, usable on their own;
- :func:`strip_related_headlines` takes other articles' headlines out of a text ("相关阅读" and the
  headlines under it, "Read more: <headline>"): the one step extraction applies to the text it stores.

The module is pure: no Scrapy, no database; OpenCC (the official ``opencc`` package) is its one
dependency outside the standard library.
"""

from __future__ import annotations

import re
import unicodedata
from functools import lru_cache

import opencc

from crawler.text.script import HAN, UNSPACED, character_class, is_han

__all__ = [
    "fold_width",
    "normalize_for_comparison",
    "normalize_for_matching",
    "strip_pinyin_annotations",
    "strip_related_headlines",
    "strip_syndication_boilerplate",
    "to_simplified",
]

# --------------------------------------------------------------------------- characters

# Invisible characters that split words without showing: they only ever get in the way of matching.
_ZERO_WIDTH = re.compile("[\u00ad\u200b-\u200d\u2060\ufeff]")
_WHITESPACE = re.compile(r"\s+")

# --------------------------------------------------------------------------- pinyin

# One toneless pinyin syllable ("v" stands for ü). Written per initial, so that English words in
# brackets rarely pass for pinyin; a reading must also carry tones (marks or digits), see _is_pinyin.
_SYLLABLE = (
    "(?:"
    "(?:a|o|e|ai|ei|ao|ou|an|en|ang|eng|er)"
    "|y(?:i|a|e|ao|ou|an|in|ang|ing|ong|u|ue|uan|un)"
    "|w(?:u|a|o|ai|ei|an|en|ang|eng)"
    "|[bpm](?:a|o|e|ai|ei|ao|ou|an|en|ang|eng|i|ie|iao|iu|ian|in|ing|u)"
    "|f(?:a|o|ei|ou|an|en|ang|eng|u|iao)"
    "|[dtnl](?:a|e|ai|ei|ao|ou|an|en|ang|eng|ong|i|ia|ie|iao|iu|ian|in|iang|ing|u|uo|ui|uan|un|v|ve)"
    "|[gkh](?:a|e|ai|ei|ao|ou|an|en|ang|eng|ong|u|ua|uo|uai|ui|uan|un|uang)"
    "|[jqx](?:i|ia|ie|iao|iu|ian|in|iang|ing|iong|u|ue|uan|un)"
    "|(?:zh|ch|sh)(?:a|e|i|ai|ei|ao|ou|an|en|ang|eng|ong|u|ua|uo|uai|ui|uan|un|uang)"
    "|r(?:a|e|i|ao|ou|an|en|ang|eng|ong|u|ua|uo|ui|uan|un)"
    "|[zcs](?:a|e|i|ai|ei|ao|ou|an|en|ang|eng|ong|u|uo|ui|uan|un)"
    ")"
)
_MARKED_WORD = re.compile(f"(?:{_SYLLABLE})+")  # tones given as marks (already removed)
_NUMBERED_WORD = re.compile(f"(?:{_SYLLABLE}[1-5])+")  # tones given as digits: xue2
_MARKED_SYLLABLE = re.compile(_SYLLABLE)
_TONE_MARKS = frozenset("\u0300\u0301\u0304\u030c")  # grave, acute, macron, caron (after NFD)
_WORD_SEPARATORS = re.compile(r"[\s'’]+")

_OPEN = "(（﹙⁽₍"
_CLOSE = ")）﹚⁾₎"
# Any short bracket; its body and the character before it decide, in _drop_bracketed_reading.
_BRACKETED = re.compile(f"[{_OPEN}](?P<body>[^{_OPEN}{_CLOSE}\\n]{{1,60}})[{_CLOSE}]")
# Mojibake that swallowed a character together with its opening bracket: "??苿?chuàng)".
_LATIN_LETTER = "a-zA-Z\u00c0-\u024f\u0300-\u036f\uff21-\uff3a\uff41-\uff5a"
_ORPHANED = re.compile(f"[?？﹖\ufffd](?P<body>[{_LATIN_LETTER}]{{1,10}})[{_CLOSE}]")


def _pinyin_words(body: str) -> tuple[list[str], bool] | None:
    """The toneless words of a candidate reading and whether it carried tone marks, or None if not pinyin-like."""
    folded = unicodedata.normalize("NFD", unicodedata.normalize("NFKC", body)).strip().lower()
    folded = folded.replace("u\u0308", "v")  # ü
    marked = any(char in _TONE_MARKS for char in folded)
    plain = "".join(char for char in folded if char not in _TONE_MARKS)
    words = [word for word in _WORD_SEPARATORS.split(plain) if word]
    if not words or not all(word.isascii() and word.isalnum() for word in words):
        return None
    return words, marked


def _is_pinyin(body: str) -> bool:
    """Whether a bracket body is a pinyin reading: syllables with tone marks, or every syllable with a tone digit."""
    parsed = _pinyin_words(body)
    if parsed is None:
        return False
    words, marked = parsed
    if marked:
        return all(_MARKED_WORD.fullmatch(word) for word in words)
    return all(_NUMBERED_WORD.fullmatch(word) for word in words)


def _is_single_marked_syllable(body: str) -> bool:
    """Whether a bracket body is one pinyin syllable with a tone mark, like ``chuàng``."""
    parsed = _pinyin_words(body)
    if parsed is None:
        return False
    words, marked = parsed
    return marked and len(words) == 1 and _MARKED_SYLLABLE.fullmatch(words[0]) is not None


def _drop_bracketed_reading(match: re.Match[str]) -> str:
    start = match.start()
    before = match.string[start - 1] if start else ""
    if not before or before.isspace():
        return match.group()  # a gloss set off by a space is the writer's, not an annotation
    if is_han(before):
        return "" if _is_pinyin(match.group("body")) else match.group()
    # After mojibake or another reading, accept only the unmistakable case: one tone-marked syllable.
    return "" if _is_single_marked_syllable(match.group("body")) else match.group()


def _drop_orphaned_reading(match: re.Match[str]) -> str:
    return "" if _is_single_marked_syllable(match.group("body")) else match.group()


def strip_pinyin_annotations(text: str) -> str:
    """Remove pinyin readings inserted in brackets after Chinese characters, as in ``新華網(wǎng)``."""
    for _ in range(4):  # a removal can bring a further reading next to a character; this settles in one or two
        stripped = _ORPHANED.sub(_drop_orphaned_reading, _BRACKETED.sub(_drop_bracketed_reading, text))
        if stripped == text:
            break
        text = stripped
    return text


# --------------------------------------------------------------------------- script and width


@lru_cache(maxsize=1)
def _t2s() -> opencc.OpenCC:
    """The one traditional-to-simplified converter (loading its dictionaries costs a few milliseconds)."""
    return opencc.OpenCC("t2s")


def to_simplified(text: str) -> str:
    """Convert traditional Chinese characters and phrases to simplified ones (OpenCC ``t2s``)."""
    return _t2s().convert(text) if text else text


@lru_cache(maxsize=1)
def _s2t() -> opencc.OpenCC:
    return opencc.OpenCC("s2t")


def to_traditional(text: str) -> str:
    """Simplified → traditional Chinese (OpenCC), for making test and demo copies of stories."""
    return _s2t().convert(text)


def fold_width(text: str) -> str:
    """Fold full-width letters, digits and punctuation (and other compatibility forms) with NFKC."""
    return unicodedata.normalize("NFKC", text)


def normalize_for_matching(text: str) -> str:
    """Text as the relevance scorer sees it: readings stripped, simplified, width-folded, lower case, one space."""
    return _WHITESPACE.sub(" ", _matching_form(text)).strip()


def _matching_form(text: str) -> str:
    """:func:`normalize_for_matching` but for its spacing: every line break kept, so that many lines can be
    converted in one pass (no step looks across a line break: readings, OpenCC's phrases, width forms)."""
    text = strip_pinyin_annotations(_ZERO_WIDTH.sub("", text))
    return fold_width(to_simplified(text)).lower()


# --------------------------------------------------------------------------- boilerplate

# Lines are tested in a key form: normalize_for_matching of the line (simplified, half-width,
# lower case), with decoration (Markdown emphasis, bullets, wrapping brackets) taken off both ends.
# Each kind of boilerplate is removed only from lines up to a length, so that text extracted as one
# long line (a whole story with its source line) is never dropped for a match at its start.
_KEY_DECORATION_START = re.compile(r"^[\s*#>_~\-–—•·・▪◆◇●○■□▶►★☆【\[(〔「『\"“]+")
_KEY_DECORATION_END = re.compile(r"(?<![\s*_~\-–—】\])〕」』\"”])[\s*_~\-–—】\])〕」』\"”]+$")
_SEP = r"\s*[:|丨]"  # after width folding "：" is ":"
_DATE = r"\d{4}\s*[-/.年]\s*\d{1,2}\s*[-/.月]\s*\d{1,2}\s*日?(?:\s*\d{1,2}:\d{2}(?::\d{2})?)?"
_META_KEYS_ZH = (
    "来源|文章来源|新闻来源|信息来源|稿件来源|内容来源|图片来源|视频来源|来源专题|出处|原标题|原文标题|"
    "原文链接|原文地址|原文网址|本文链接|责任编辑|责编|编辑|主编|值班编辑|审核|审校|编审|校对|终审|监制|"
    "编译者|编译|翻译|作者|撰稿|撰文|摄影|通讯员|供图|发布时间|发布日期|发表时间|更新时间|浏览次数|"
    "浏览量|阅读量|阅读数|点击量|点击数|字号"
)
_META_KEYS_EN = (
    "source|sources|author|authors|editor|editors|reporter|writer|photo|photos|posted|published|updated|"
    "release time|release date|publish time|publish date|date|time|views?|clicks?|hits"
)
_HAN = character_class(HAN)
_NAME = f"[{_HAN}·]{{2,4}}"  # a Chinese personal name; several are separated by spaces or 、
_ROLE = (  # "记者手记", "记者观察" are column headings, not names
    f"(?:特约|首席|实习|见习|摄影|驻[{_HAN}]{{1,6}})?(?:记者|通讯员)(?!手记|观察|调查|探访|走访|专访|连线|直击)"
)
_ORG = f"(?:本报|本刊|本台|本网|本站|[{_HAN}a-z0-9]{{1,12}}(?:社|网|报|台|刊|站|号|新闻|媒体))"
# (longest line removed, whether the line belongs to a page footer, pattern on the key)
_BOILERPLATE_BY_LENGTH: list[tuple[int, bool, re.Pattern[str]]] = [
    # navigation and calls to action: 财富更多》, 扫码关注
    (30, True, re.compile(r"更多\s*[>》»]+$")),
    (40, True, re.compile(r"^(?:点击|扫描|扫码|长按|识别).{0,20}(?:关注|二维码|原文|阅读|订阅|下载)")),
    # source, repost, editor and other metadata lines: 来源：新华网, 本文转载自新华网, 责任编辑：张三
    (200, False, re.compile(f"^(?:{_META_KEYS_ZH}){_SEP}")),
    (200, False, re.compile(f"^(?:{_META_KEYS_EN}){_SEP}")),
    (200, False, re.compile(r"^(?:本文|此文|该文)(?:系|为|是)?(?:转载|转自|转引|摘自|选自|原载|来自|来源|原文)")),
    (60, False, re.compile(r"^(?:转载|转自|转引|摘自|选自|原载)(?:于|自)?\s*:?\s*\S")),
    (200, False, re.compile(f"^{_DATE}\\s*(?:{_META_KEYS_ZH}|$)")),
    (200, True, re.compile(f"^(?:标签|关键词|关键字|tags?|keywords?){_SEP}")),
    (200, True, re.compile(f"^(?:上一篇|下一篇|上一条|下一条|previous|next)(?:文章|新闻| post| article)?{_SEP}")),
    # bylines standing alone: 新华网记者 凌纪伟, 本报记者 张三 通讯员 李四, 文/记者 张三
    (60, False, re.compile(f"^{_ORG}?(?:\\s*{_ROLE}\\s*{_NAME}(?:[\\s、,]+{_NAME}){{0,3}})+$")),
    (60, False, re.compile(r"^(?:文|图|摄|图文|文图|文/图)\s*/")),
    # copyright and licence lines: 沪ICP备…, 沪公网安备 31010402009841号, Copyright © 2023
    (200, True, re.compile(r"^(?:copyright|版权所有|all rights reserved|©|c\)\s*\d{4})")),
    (200, True, re.compile(r"(?:copyright\s*(?:©|\(c\)|\d{4})|©\s*\d{4}|all rights reserved)")),
    (200, True, re.compile(r"icp\s*[备证]|公网安备|网安备|不良信息举报")),
    (200, True, re.compile(r"(?:增值电信业务经营|互联网新闻信息服务|信息网络传播视听节目)许可证")),
    # disclaimers: 特别声明：以上内容…为自媒体平台“网易号”用户上传并发布…, Notice: The content above…
    (400, False, re.compile(f"^(?:特别声明|免责声明|版权声明|郑重声明|声明|notice|disclaimer){_SEP}")),
    (400, False, re.compile(r"仅提供信息(?:存储|发布)|仅代表作者(?:本人|个人)?(?:观点|立场)")),
    (400, False, re.compile(r"不代表本(?:网|站|平台|号)(?:观点|立场)")),
    (400, False, re.compile(r"(?:如有侵权|如涉及侵权|若有侵权).{0,20}(?:联系|删除)")),
    (400, False, re.compile(r"未经(?:书面)?(?:授权|许可).{0,20}(?:不得|禁止|严禁)(?:转载|使用|复制)")),
    (400, False, re.compile(r"is uploaded and posted by a user|only provides information storage")),
]
# An English byline, tested on the line as written: "By Li Yan | China Daily" (but not "By 2030, ...").
_BYLINE_EN = re.compile(r"^\W*By(?:\s+[A-Z][\w'.-]*){1,4}\s*(?:[|,/]|$)")
# Labels of a list of other articles (related, recommended, further reading): the short lines under one are
# headlines of other articles, different on every page, so never learned as the site's template.
_RELATED_LABELS = frozenset(
    """
    推荐 相关 相关新闻 相关阅读 相关推荐 相关文章 相关报道 相关链接 相关内容 热点推荐 热门推荐 热门文章 热点新闻
    猜你喜欢 延伸阅读 扩展阅读 推荐阅读 往期回顾 往期推荐 往期精选 精彩推荐 今日推荐 编辑推荐 为您推荐
    """.split()
) | frozenset(
    "related|related news|related articles|related stories|related content|related links|related posts|"
    "related reading|related coverage|read more|read next|read also|also read|see also|more stories|"
    "further reading|recommended|recommended reading|recommended stories|you may also like|you might also like|"
    "more on this story|more on this topic".split("|")
)
# Lines that are a navigation label and nothing else.
_NAVIGATION_LABELS = (
    frozenset(
        """
        热点 热门 最新 最新新闻 最新资讯 最新文章 分享 分享到 返回 返回顶部 返回首页 返回列表
        打印 打印本页 关闭 关闭窗口 收藏 点赞 评论 举报 纠错 完 全文完 end -end- 查看原文 阅读原文 阅读全文 展开全文
        """.split()
    )
    | frozenset("latest news|more|share|print|close|back to top".split("|"))
    | _RELATED_LABELS
)
# A related label with one headline after it on its line: "Read more: <headline>", "相关阅读：<headline>" (not
# the bare "推荐：", "相关：", which start a recommendation or a sentence as often).
_INLINE_LABELS = sorted(_RELATED_LABELS - {"推荐", "相关", "recommended"}, key=len, reverse=True)
_RELATED_INLINE = re.compile(
    "^(?:{})".format("|".join(map(re.escape, _INLINE_LABELS))) + r"\s*[:|丨>»】\]]+\s*(?P<headline>\S.*)$"
)
_LABEL_SEPARATOR = re.compile(r"\s*[:|丨]$")
# Some word of every related label, in either script and any case once width-folded: a text without one holds
# no related list, and is spared the conversion of its lines.
_MAY_HOLD_RELATED = re.compile(
    r"^\W*(?:相关|相關|阅读|閱讀|推荐|推薦|猜你|往期|热门|熱門|热点|熱點|延伸|扩展|擴展|编辑推荐|編輯推薦|精彩推荐|精彩推薦|今日推荐|今日推薦|为您推荐|為您推薦"
    "|related|recommended|read (?:more|next|also)|also read|see also|more stories|further reading"
    "|you m(?:ay|ight) also like|more on this)",
    re.IGNORECASE | re.MULTILINE,
)
# A headline ends no sentence (a full stop, perhaps inside closing quotes) and holds none: at most this many
# characters of mostly-CJK text without sentence punctuation (after width folding: 。!?;), or at most this many
# words of other text without a sentence's end followed by another.
_HEADLINE_MAX_CJK = 60
_HEADLINE_MAX_WORDS = 15
_HEADLINE_MAX_WORDS_INLINE = 25  # after "Read more:" the label says what the line is
_ENDS_SENTENCE = re.compile(r"[.!?。…;][\"'”’」』)）]*$")
_CJK_SENTENCE_INSIDE = re.compile(r"[。!?;]")
_LATIN_SENTENCE_INSIDE = re.compile(r"[.!?;]\s")
_CJK = re.compile(f"[{character_class(UNSPACED)}]")
# A line of story is long or ends a sentence; a short line without a sentence end may be a label.
_SHORT_LABEL_MAX = 12
_SENTENCE_END = re.compile(r"[.!?。…\"'”’」』)]$")
_STORY_LINE_MIN = 40
_IMAGE_MARKDOWN = re.compile(r"!\[[^\[\]\n]*\]\([^)\n]*\)")  # no [ in the alt text: each ![ is scanned once
#: Editors' notes are looked for in this many last characters of a line (a line of thousands of notes took seconds).
NOTES_TAIL = 200
#: The brackets that close an editor's note: a line can end with a note only if it ends with one of them.
_NOTE_CLOSE = ")）】]〕"
_TRAILING_EDITOR_NOTES = re.compile(
    r"(?:\s*[(（【\[〔]\s*(?:责任编辑|責任編輯|责编|責編|编辑|編輯|编校|編校)\s*[:：][^()（）【】\[\]〔〕\n]{1,30}"
    f"[{re.escape(_NOTE_CLOSE)}])+\\s*$"
)
_NOTE_ENDS = tuple(_NOTE_CLOSE)  # for str.endswith


def _line_keys(lines: list[str]) -> tuple[list[str], list[str]]:
    """Each line in :func:`normalize_for_matching`'s form, and its key (that form without decoration at either
    end), converted in one pass over all the lines."""
    forms = _matching_form("\n".join(lines)).split("\n")
    if len(forms) != len(lines):  # a conversion that made or took a line break: line by line instead
        forms = [_matching_form(line) for line in lines]
    matching = [_WHITESPACE.sub(" ", form).strip() for form in forms]
    return matching, [_key(form) for form in matching]


def _key(form: str) -> str:
    """A line's key: its matching form without decoration at either end."""
    return _KEY_DECORATION_END.sub("", _KEY_DECORATION_START.sub("", form))


def _boilerplate_kind(line: str, key: str) -> str | None:
    """``"footer"`` (navigation, tags, licence), ``"meta"`` (source, editor, byline, disclaimer) or None."""
    if key in _NAVIGATION_LABELS:
        return "footer"
    for limit, footer, pattern in _BOILERPLATE_BY_LENGTH:
        if len(key) <= limit and pattern.search(key):
            return "footer" if footer else "meta"
    return "meta" if len(key) <= 80 and _BYLINE_EN.match(line) else None


def _is_story_line(key: str) -> bool:
    return len(key) >= _STORY_LINE_MIN or (len(key) > _SHORT_LABEL_MAX and bool(_SENTENCE_END.search(key)))


def _is_short_label(key: str) -> bool:
    return len(key) <= _SHORT_LABEL_MAX and not _SENTENCE_END.search(key)


def _is_headline(key: str, max_words: int = _HEADLINE_MAX_WORDS) -> bool:
    """Whether a line's key reads as a headline: short, ending no sentence and holding none."""
    if not key or _ENDS_SENTENCE.search(key):
        return False
    letters = len(key) - key.count(" ")
    if len(_CJK.findall(key)) * 2 >= letters:
        return len(key) <= _HEADLINE_MAX_CJK and not _CJK_SENTENCE_INSIDE.search(key)
    return len(key.split()) <= max_words and not _LATIN_SENTENCE_INSIDE.search(key)


def _related_lines(keys: list[str]) -> set[int]:
    """The indexes of the lines (given by their keys) that are other articles' headlines: a related label on a
    line of its own (perhaps with a colon) and the run of headlines under it, up to the first line that is no
    headline; and a related label followed by one headline on its line ("Read more: <headline>")."""
    related: set[int] = set()
    run: list[int] | None = None  # the label and the headlines so far, while under a related label
    for index, key in enumerate(keys):
        if not key:
            continue  # blank lines neither end a run nor belong to it
        if _LABEL_SEPARATOR.sub("", key) in _RELATED_LABELS:
            run = [index]
            continue
        inline = _RELATED_INLINE.match(key)
        if inline and _is_headline(inline.group("headline"), _HEADLINE_MAX_WORDS_INLINE):
            related.add(index)
            run = None
            continue
        if run is not None and _is_headline(key):
            run.append(index)
            continue
        if run is not None and len(run) > 2:
            related.update(run)  # a label with nothing listed under it is left to the boilerplate rules
        elif run is not None and len(run) == 2:
            related.add(run[0])  # one short line, then the story goes on: the story's subhead after a bare label
        run = None
    if run is not None and len(run) > 1:
        related.update(run)
    return related


def strip_related_headlines(text: str) -> str:
    """Remove other articles' headlines from ``text``: a related or recommended list under its label ("相关阅读",
    "Related stories") and a label with one headline on its line ("Read more: <headline>")."""
    if not _MAY_HOLD_RELATED.search(fold_width(text)):
        return text
    lines = text.splitlines(keepends=True)
    _, keys = _line_keys([line.splitlines()[0] for line in lines])
    related = _related_lines(keys)
    if not related:
        return text
    return "".join(line for index, line in enumerate(lines) if index not in related)


def strip_syndication_boilerplate(text: str) -> str:
    """Remove repost boilerplate lines (source, editor, byline, disclaimer, licence, navigation, images)."""
    return "".join(line for line, _ in _story_lines(text))


def _story_lines(text: str) -> list[tuple[str, str]]:
    """The lines of ``text`` that :func:`strip_syndication_boilerplate` keeps, each with its line break, and in
    :func:`normalize_for_matching`'s form."""
    lines: list[tuple[str, str]] = []  # (line as written, its line break)
    for raw in text.splitlines(keepends=True):
        body = raw.splitlines()[0]
        line = _IMAGE_MARKDOWN.sub("", body) if "![" in body else body
        if line.rstrip().endswith(_NOTE_ENDS):  # the only lines the note's pattern can match: tested first, cheaply
            line = line[:-NOTES_TAIL] + _TRAILING_EDITOR_NOTES.sub("", line[-NOTES_TAIL:])
        if body.strip() and not line.strip():
            continue  # the line was only image markers or an editor note
        lines.append((line, raw[len(body) :]))
    matching, keys = _line_keys([line for line, _ in lines])
    related = _related_lines(keys)
    kept: list[tuple[str, str, str]] = []  # (line with its line break, matching form, key)
    footer_after = -1  # a footer line was removed after this many kept lines
    for index, ((line, end), form, key) in enumerate(zip(lines, matching, keys, strict=True)):
        kind = "footer" if index in related else _boilerplate_kind(line, key) if key else None
        if kind is None:
            kept.append((line + end, form, key))
        elif kind == "footer":
            footer_after = len(kept)
    # Once the page footer has begun after the story's last line, its unknown labels go too
    # ("推荐", "动态", "财经"); without a known footer line, short last lines may be a list of the story's.
    story = [index for index, (_, _, key) in enumerate(kept) if _is_story_line(key)]
    if story and footer_after > story[-1]:
        last = story[-1]
        kept = kept[: last + 1] + [
            kept_line for kept_line in kept[last + 1 :] if not kept_line[2] or not _is_short_label(kept_line[2])
        ]
    return [(line, form) for line, form, _ in kept]


# --------------------------------------------------------------------------- comparison


def _is_punctuation_or_symbol(char: str) -> bool:
    return unicodedata.category(char)[0] in "PS"


def _character_ranges(codes: list[int]) -> str:
    """A regular expression's character class body for sorted code points, as runs ``a-z``."""
    runs: list[tuple[int, int]] = []
    for code in codes:
        if runs and runs[-1][1] == code - 1:
            runs[-1] = (runs[-1][0], code)
        else:
            runs.append((code, code))
    return "".join(re.escape(chr(a)) + (f"-{re.escape(chr(b))}" if b > a else "") for a, b in runs)


#: Every punctuation or symbol character of the Basic Multilingual Plane, as one character class (about 200
#: runs: one C-level pass, faster than str.translate's dictionary lookup per character).
_PUNCTUATION = re.compile(
    f"[{_character_ranges([code for code in range(0x10000) if _is_punctuation_or_symbol(chr(code))])}]"
)
_UNSPACED = character_class(UNSPACED)
#: A space with an unspaced-script character (Han, kana, bopomofo) on either side separates no words.
_SPACE_BY_UNSPACED = re.compile(f"(?<=[{_UNSPACED}]) | (?=[{_UNSPACED}])")


#: An editor's note or a summary a portal puts above a story it reposts (tested on the key of a line): 编者按：…,
#: 【编者按】…, 编者的话, 导读：…, Editor's note: …
_EDITORS_NOTE = re.compile(r"^(?:编者按语?|编者的话|编者注|导读|editor['’]?s['’]? notes?)(?:\s*[:|丨】\]\-–—]|\s|$)")


def _without_opening_notes(forms: list[str]) -> list[str]:
    """The lines (in matching form) without the editor's notes above the story: note lines before its first line
    (and the paragraph under a note's label standing alone), never a line after the story has begun."""
    start, under_label = 0, False
    for index, form in enumerate(forms):
        key = _key(form)
        if not key:
            continue
        note = _EDITORS_NOTE.match(key)
        if note or under_label:
            start, under_label = index + 1, note is not None and not key[note.end() :].strip(" :|丨】]-–—")
        elif _is_story_line(key):
            break
    return forms[start:]


def normalize_for_comparison(text: str) -> str:
    """Text for near-duplicate detection: no boilerplate, no editor's note above the story, matching-normalised,
    no punctuation, no spaces in CJK."""
    # the kept lines, each converted once
    matching = " ".join(_without_opening_notes([form for _, form in _story_lines(text)]))
    # 著 is both zhù (显著) and the particle zhe (标志着): OpenCC keeps the traditional 著 where
    # simplified text writes 着, so the two scripts only meet when 着 folds to 著.
    text = _PUNCTUATION.sub(" ", _WHITESPACE.sub(" ", matching).strip().replace("着", "著"))
    if max(text, default="") > "\uffff":  # emoji and other symbols beyond the BMP: rare, tested one by one
        text = "".join(" " if char > "\uffff" and _is_punctuation_or_symbol(char) else char for char in text)
    text = " ".join(text.split())
    # Spaces separate words only in spaced scripts (Latin, digits, Cyrillic, Hangul...).
    return _SPACE_BY_UNSPACED.sub("", text)
