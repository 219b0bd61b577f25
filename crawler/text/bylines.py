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

from crawler.text.script import HAN, character_class

_HAN = character_class(HAN)

#: The common Chinese surnames, simplified, then the traditional forms of those that differ.
_SURNAMES = (
    "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗郑梁谢宋唐许韩冯邓曹彭曾肖田董袁潘于蒋蔡余杜叶程苏魏吕丁任沈姚卢"
    "姜崔钟谭陆汪范金石廖贾夏韦付傅方白邹孟熊秦邱江尹薛闫阎段雷侯龙史陶黎贺顾毛郝龚邵万钱严覃武戴莫孔向汤常温"
    "康施文牛樊葛邢安齐易乔伍庞颜倪庄聂章鲁岳翟殷詹申欧耿关兰焦俞左柳甘祝包宁尚符舒阮柯纪梅童凌毕单季裴霍涂成"
    "苗谷盛曲翁冉骆蓝路游辛靳管柴蒙鲍华喻祁蒲房滕屈饶解牟艾尤阳时穆农司卓古吉缪简车项连芦麦褚娄窦戚岑景党宫费"
    "卜冷晏席卫米柏宗瞿桂全佟应臧闵苟邬边卞姬师和仇栾隋商刁沙荣巫寇桑郎甄丛仲虞敖巩明佘池查麻苑迟邝封危支"
    "洪赖萧代惠"
    "劉叢吳呂喬單嚴塗婁孫宮寧嶽師張應於時楊榮欒歐湯溫畢盧竇範簡紀繆羅聶莊華萬葉蔣藍蘆蘇蘭衛許謝譚費賀賈趙車農連"
    "遊遲邊鄒鄔鄧鄭鄺錢鍾閆閔閻關陳陸陽鞏韋韓項顏顧餘饒馬馮駱魯鮑麥黃黨齊龍龐龔賴蕭鐘"
)
_COMPOUND_SURNAMES = "欧阳|司马|诸葛|上官|司徒|东方|皇甫|慕容|令狐|尉迟|长孙|宇文|夏侯|歐陽|司馬|諸葛|東方|尉遲|長孫"
#: Words of a reporter's role that a byline puts before the names, in either script ("第一作者" and "通讯作者"
#: of a paper the text reports on are scientists, not its authors).
_ROLES = (
    "记者|特约记者|通讯员|实习生|(?<!第一)(?<!通讯)(?<!共同)作者|撰稿人|撰文|撰稿|文字|采写"
    "|記者|特約記者|通訊員|實習生|(?<!第一)(?<!通訊)(?<!共同)作者|撰稿人|採寫"
)
#: Words that start with a surname and follow a role word in a sentence or a dateline, not names: the city
#: a reporter writes from ("本报记者 张三 成都报道") and what a reporter did ("记者关注到").
_NOT_NAMES = frozenset(
    "关注 关注到 连线 周末 简介 方面 查证 高兴 明确 时间 于是 何时 金融 黄金 石油 安全 成为 成功 江苏 安徽 武汉"
    " 成都 郑州 苏州 常州 温州 宁波 沈阳 兰州 石家庄 包头 万元 关于 关注了 蕭條 關注 連線 週末 簡介 時間".split()
)
#: A surname with a title, not a name: whom an interview's reporter asks ("记者：王局长，您好"), in either script.
_TITLED = re.compile(
    "(?:局长|院长|部长|市长|省长|县长|校长|所长|处长|科长|厂长|社长|主任|教授|博士|先生|女士|老师|书记|总|"
    "局長|院長|部長|市長|省長|縣長|校長|所長|處長|科長|廠長|主任|教授|博士|先生|女士|老師|書記|總)$"
)
#: What may end a byline right after a name (not a colon: a word before a colon is a label, "单位："), in
#: either script.
_AFTER_NAME = (
    r"(?=$|[\s、，,。；;）)】〕\]/／|｜]|报道|报导|摄影?|发自|电|实习生|通讯员|编辑|责编|文图|图文|整理|综合"
    r"|報道|報導|攝影?|發自|電|實習生|通訊員|編輯|責編|文圖|圖文|綜合"
    # the place and day of a dateline right after the name: "吳欣紜台北5日電", "张三北京报道"
    rf"|[{_HAN}]{{2,3}}(?:\d{{1,2}}日)?(?:电|電|报道|報導))"
)
_SEPARATOR = r"[\s、，,和及]+"
_NAME = rf"(?:(?:{_COMPOUND_SURNAMES})[{_HAN}]{{1,2}}|[{_SURNAMES}][{_HAN}]{{1,2}})"
#: Up to eight names, taken as found (atomic): 和 both joins names and starts one, and a line of them without the
#: "/文" after had every split tried (a line of 24 such names took 12 s).
_NAMES = rf"(?P<names>(?>{_NAME}{_AFTER_NAME}(?:{_SEPARATOR}{_NAME}{_AFTER_NAME}){{0,7}}))"
#: A byline: names after a role ("记者张三"), after "文/" or before "/文".
_BYLINES = (
    re.compile(rf"(?:{_ROLES})[\s:：|｜]*{_NAMES}"),
    re.compile(
        rf"(?<![{_HAN}])(?:(?:文[/／]图|图[/／]文|图文|文[/／]圖|圖[/／]文|圖文)[\s/／|｜:：]*|文\s*[/／|｜:：]\s*){_NAMES}"
    ),
    # not from the middle of a list of names (past eight names, a line gives no byline rather than its tail)
    re.compile(rf"(?<![{_HAN}、，,]){_NAMES}\s*[/／]\s*文(?![{_HAN}])"),
)
#: A caption's credit: "新华社记者 王五 摄".
_PHOTO_CREDIT = re.compile(r"[摄攝](?:影)?\s*+[)）]?+\s*+$")
#: Where a byline is looked for: the first and last lines of a text.
BYLINE_LINES = 4
#: A reporter's role as the label of a field ("作者：", "记者:"), how a page's info line names its authors: the
#: role right before a colon.
_COLON = re.compile("[:：]")
_ROLE_BEFORE_COLON = re.compile(rf"(?<!摄影)(?<!攝影)(?:{_ROLES})\s*$")  # a photographer is no author
#: The most characters between a colon and the start of the role it labels.
_LABEL_CHARS = 8


#: A reporter's role, with what joins it to the name, at the start of an author a tag or byline gave
#: ("作者 林可欣", "记者：张三", "文/李明").
_LEADING_ROLE = re.compile(
    r"^\s*(?:(?:本报|本報)?(?:特约|特約)?(?:记者|記者|作者|撰稿人?|通讯员|通訊員)\s*[：:/／|｜]?"
    r"|(?:文|文字|撰文)\s*[：:/／|｜])\s*(?=\S)"
)


def without_role(author: str) -> str:
    """``author`` without a Chinese reporter's role before the name ("作者 林可欣" → "林可欣")."""
    return _LEADING_ROLE.sub("", author, count=1)


#: The label of the field that follows an author's name on the same line ("李小龙 发表于：…", "张三 编辑：李四"), or
#: that a field starts with ("发布时间：…"): a few Han characters and a colon, after a space or at the start.
_FIELD_LABEL = re.compile(rf"(?:^|(?<!\s)\s++)[{_HAN}]{{1,6}}\s*+[:：]")
#: A forum's or blog's post line after the name, its colon gone ("作者：李小龙 发表于", "藍天 發表在 痞客邦 …"), in
#: either script.
_POSTED = re.compile(
    r"(?<!\s)\s++(?:(?:发表于|发表在|发布于|發表於|發表在|發佈於)(?:\s.*)?|(?:发表|发布|发表时间|发布时间|时间|發表|發佈|時間)\s*)$"
)
#: A field of a byline that names no author: when it was written ("Updated", "Published May 3"), a role
#: ("Staff Writer"), the site's account ("admin"), or a role word alone ("文", "作者").
_NO_AUTHOR = re.compile(
    r"(?:last\s+)?(?:updated|published|posted|modified)\b.*|(?:date|on)\b\W*\d.*"
    r"|(?:(?:staff|senior|chief|contributing|special|guest)\s+)?"
    r"(?:writer|reporter|correspondent|editor|contributor|columnist)s?"
    r"|admin(?:istrator)?|staff|webmaster|文|图|圖|文字|作者|记者|記者",
    re.IGNORECASE,
)


def author_name(author: str) -> str | None:
    """The authors named by the author a tag, JSON-LD or trafilatura's byline search gave, joined by "; ", or
    ``None``: without a reporter's role before a name, the next fields of its line ("作者：李小龙 发表于：…" →
    "李小龙"), a date, a role or an account ("Jane Doe; Staff Writer" → "Jane Doe", "Admin" → ``None``); a
    field another label starts ("责任编辑：…", "发布时间：…") names no author."""
    names = []
    for part in author.split(";"):
        name = without_role(part.strip())
        label = _FIELD_LABEL.search(name)
        if label:
            name = name[: label.start()]
        name = _POSTED.sub("", name).strip(" :：|｜,，")
        if name and not _NO_AUTHOR.fullmatch(name) and not any(char.isdigit() for char in name):
            names.append(name)
    return "; ".join(dict.fromkeys(names)) or None


def has_role_label(text: str) -> bool:
    """Whether ``text`` labels a field with a reporter's role ("作者：")."""
    return any(
        _ROLE_BEFORE_COLON.search(text, max(0, colon.start() - _LABEL_CHARS), colon.start())
        for colon in _COLON.finditer(text)
    )


def labelled_byline(line: str) -> str | None:
    """The reporters a short line of a page names after a role's label ("时间：2004年10月21日 作者：郭励弘 来源：…",
    the info line under a headline), joined by "; ", or ``None``: a role word in a sentence ("经记者查实")
    is no label."""
    return chinese_byline(line) if has_role_label(line) else None


def chinese_byline(text: str) -> str | None:
    """The reporters a Chinese news text names in its byline (first or last lines), joined by "; ", or ``None``."""
    lines = [line for line in text.splitlines() if line.strip()]
    candidates = lines[:BYLINE_LINES] + lines[BYLINE_LINES:][-BYLINE_LINES:]
    photographers: list[str] = []
    for line in candidates:
        names = [
            name
            for pattern in _BYLINES
            for found in pattern.finditer(line)
            for name in re.split(_SEPARATOR, found["names"].strip())
            if name and name not in _NOT_NAMES and not _TITLED.search(name)
        ]
        if names and _PHOTO_CREDIT.search(line):  # a caption's photographer, if no one wrote it
            photographers = photographers or names
        elif names:  # "（实习记者 樊亮 张明超 记者惠禾）": every reporter of the line
            return "; ".join(dict.fromkeys(names))
    return "; ".join(dict.fromkeys(photographers)) or None
