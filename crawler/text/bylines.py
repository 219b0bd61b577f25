"""Reporters named in the byline of a Chinese news text: "新华社北京3月5日电（记者张三、李四）",
"本报记者 王建宏 张文攀", "文/李明", "马俊峰/文". Pure: no Scrapy, no database.

Chinese news names its reporters in the text rather than in a tag, where trafilatura's author search (made
for tags and bylines in Latin script) does not find them. A name is two or three Han characters after a
reporter's role, and it starts with a common surname: "记者了解到" (the reporter learned) names nobody. The
name must end where the byline does (punctuation, a space, the end of the line, or 报道 / 摄 / 电 …), so a
name is never cut out of a longer word.
"""

from __future__ import annotations

import re
from functools import cache

from crawler.text.script import HAN, character_class

#: The common Chinese surnames (simplified); their traditional forms are added by OpenCC.
_SURNAMES = (
    "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗郑梁谢宋唐许韩冯邓曹彭曾肖田董袁潘于蒋蔡余杜叶程苏魏吕丁任沈姚卢"
    "姜崔钟谭陆汪范金石廖贾夏韦付傅方白邹孟熊秦邱江尹薛闫阎段雷侯龙史陶黎贺顾毛郝龚邵万钱严覃武戴莫孔向汤常温"
    "康施文牛樊葛邢安齐易乔伍庞颜倪庄聂章鲁岳翟殷詹申欧耿关兰焦俞左柳甘祝包宁尚符舒阮柯纪梅童凌毕单季裴霍涂成"
    "苗谷盛曲翁冉骆蓝路游辛靳管柴蒙鲍华喻祁蒲房滕屈饶解牟艾尤阳时穆农司卓古吉缪简车项连芦麦褚娄窦戚岑景党宫费"
    "卜冷晏席卫米柏宗瞿桂全佟应臧闵苟邬边卞姬师和仇栾隋商刁沙荣巫寇桑郎甄丛仲虞敖巩明佘池查麻苑迟邝封危支"
)
_COMPOUND_SURNAMES = (
    "欧阳",
    "司马",
    "诸葛",
    "上官",
    "司徒",
    "东方",
    "皇甫",
    "慕容",
    "令狐",
    "尉迟",
    "长孙",
    "宇文",
    "夏侯",
)
#: Words of a reporter's role that a byline puts before the names.
_ROLES = "记者|特约记者|通讯员|作者|撰文|撰稿|文字|采写"
#: What may end a byline right after a name (not a colon: a word before a colon is a label, "单位：").
_AFTER_NAME = r"(?=$|[\s、，,。；;）)】\]/／|｜]|报道|报导|摄影?|发自|电|实习生|通讯员|编辑|责编|文图|图文|整理|综合)"
_SEPARATOR = r"[\s、，,和及]+"
_HAN = character_class(HAN)
#: Where a byline is looked for: the first and last lines of a text.
BYLINE_LINES = 4


@cache
def _patterns() -> tuple[re.Pattern[str], ...]:
    """The byline patterns, in simplified and traditional script (built once)."""
    import opencc

    to_traditional = opencc.OpenCC("s2t").convert
    surnames = set(_SURNAMES) | set(to_traditional(_SURNAMES))
    compounds = set(_COMPOUND_SURNAMES) | {to_traditional(name) for name in _COMPOUND_SURNAMES}
    single = "".join(sorted(surnames))
    name = rf"(?:(?:{'|'.join(sorted(compounds))})[{_HAN}]{{1,2}}|[{single}][{_HAN}]{{1,2}})"
    names = rf"(?P<names>{name}{_AFTER_NAME}(?:{_SEPARATOR}{name}{_AFTER_NAME})*)"
    roles = "|".join({*_ROLES.split("|"), *to_traditional(_ROLES).split("|")})
    after = to_traditional(_AFTER_NAME)
    names_both = names.replace(_AFTER_NAME, f"(?:{_AFTER_NAME}|{after})")
    return (
        re.compile(rf"(?:{roles})[\s:：]*{names_both}"),
        re.compile(rf"(?<![{_HAN}])文\s*[/／|｜]\s*{names_both}"),
        re.compile(rf"(?<![{_HAN}]){names_both}\s*[/／]\s*文(?![{_HAN}])"),
    )


def chinese_byline(text: str) -> str | None:
    """The reporters a Chinese news text names in its byline (first or last lines), joined by "; ", or ``None``."""
    lines = [line for line in text.splitlines() if line.strip()]
    candidates = lines[:BYLINE_LINES] + lines[BYLINE_LINES:][-BYLINE_LINES:]
    for line in candidates:
        names = [
            name
            for pattern in _patterns()
            for found in pattern.finditer(line)
            for name in re.split(_SEPARATOR, found["names"].strip())
            if name
        ]
        if names:  # "（实习记者 樊亮 张明超 记者惠禾）": every reporter of the line
            return "; ".join(dict.fromkeys(names))
    return None
