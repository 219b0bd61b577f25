"""Chinese bylines: the reporters a Chinese news text names after their role, in either script, and nobody where
the role word starts a sentence ("记者了解到"); an author's name without the role a byline puts before it."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from crawler.text.bylines import author_name, chinese_byline, labelled_byline, without_role
from crawler.text.extract import ExtractedArticle, extract_article

LEAD = "人工智能驱动的科学研究正在改变材料、生命和气候科学的研究方式。"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (f"新华社北京3月5日电（记者张三、李四）{LEAD}", "张三; 李四"),
        (f"光明日报记者 王建宏 张文攀\n{LEAD}", "王建宏; 张文攀"),
        (f"顶端新闻·河南商报记者马俊峰/文 受访者供图\n{LEAD}", "马俊峰"),
        (f"本报讯（实习记者 樊亮 张明超 记者 何静）{LEAD}", "樊亮; 张明超; 何静"),
        (f"文/李明\n{LEAD}", "李明"),
        (f"{LEAD}\n欧阳娜娜/文", "欧阳娜娜"),
        (f"本報記者 陳小明 報導\n{LEAD}", "陳小明"),
        (f"採寫：科技日報 記者 孫明源\n{LEAD}", "孫明源"),
        (f"{LEAD}\n作者：赵丽 单位：中国科学院", "赵丽"),
        # the place a reporter writes from, and the dateline of a news agency, are no names
        (f"本报记者 张三 成都报道\n{LEAD}", "张三"),
        (f"本报记者张三北京报道\n{LEAD}", "张三"),
        (f"（中央社記者吳欣紜台北5日電）{LEAD}", "吳欣紜"),
        (f"〔記者蕭玗欣／台北報導〕{LEAD}", "蕭玗欣"),
        # an intern is a reporter too; a caption's photographer only where no one else is named
        (f"（记者 张三 实习生 李四）{LEAD}", "张三; 李四"),
        (f"新华社记者 王五 摄\n新华社北京3月5日电（记者张三、李四）{LEAD}", "张三; 李四"),
        (f"新华社记者 王五 摄\n{LEAD}", "王五"),
        (f"作者 | 张三\n{LEAD}", "张三"),
        (f"文/图 张三\n{LEAD}", "张三"),
        (f"撰稿人：张三\n{LEAD}", "张三"),
    ],
)
def test_the_reporters_of_a_byline_are_found(text: str, expected: str) -> None:
    assert chinese_byline(text) == expected


@pytest.mark.parametrize(
    "text",
    [
        f"记者了解到，{LEAD}",
        f"记者从科技部获悉，{LEAD}",
        f"记者王毅外长表示，{LEAD}",  # no name ends there: 王毅外长 is not a byline
        f"记者向他们询问了{LEAD}",
        f"记者关注到，{LEAD}",
        f"记者周末电话采访了专家。{LEAD}",
        f"论文第一作者张三、通讯作者李四介绍，{LEAD}",  # the scientists of a paper, not the article's authors
        f"{LEAD}\n作者简介：研究员，长期从事材料研究",
        f"编辑：苏亮\n{LEAD}",  # an editor is not the author
        f"{LEAD}\n" + "\n".join(LEAD for _ in range(10)) + "\n（记者张三）\n" + "\n".join(LEAD for _ in range(10)),
        "The reporter John Smith wrote this article in English.",
        f"张一、李二、王三、赵四、钱五、孙六、周七、吴八、郑九/文\n{LEAD}",  # past eight names: not the list's tail
    ],
)
def test_no_byline_names_nobody(text: str) -> None:
    assert chinese_byline(text) is None


@pytest.mark.parametrize(
    ("author", "name"),
    [
        ("作者 林可欣", "林可欣"),
        ("记者：张三", "张三"),
        ("本报记者 王建宏", "王建宏"),
        ("記者 陳諾", "陳諾"),
        ("文/李明", "李明"),
        ("撰稿人：赵丽", "赵丽"),
        # no role, or a word that only starts as one, or nothing but a role
        ("Jane Doe", "Jane Doe"),
        ("文化部", "文化部"),
        ("文章", "文章"),
        ("作者", "作者"),
    ],
)
def test_a_reporter_s_role_before_an_author_s_name_goes(author: str, name: str) -> None:
    assert without_role(author) == name


@pytest.mark.parametrize(
    ("author", "names"),
    [
        # the next fields of a forum's, a blog's or a portal's post line
        ("作者：李小龙 发表于：", "李小龙"),
        ("作者：李小龙 发表于", "李小龙"),
        ("作者：李小龙 来源：新华网", "李小龙"),
        ("文; 张三 编辑：李四", "张三"),
        ("John Smith; Updated", "John Smith"),
        ("John Smith; Published May 3", "John Smith"),
        ("Jane Doe; Staff Writer", "Jane Doe"),
        # several authors stay
        ("Jane Doe; Max Mustermann", "Jane Doe; Max Mustermann"),
        ("On Kawara", "On Kawara"),  # a name that starts as a date's word
        ("Date Masamune", "Date Masamune"),
        ("作者：张三 李四", "张三 李四"),
        # no author at all: an account, a role word, another field
        ("Admin", None),
        ("作者", None),
        ("发布时间：", None),
        ("责任编辑：孔德明", None),
        ("2024-05-06", None),
    ],
)
def test_an_author_field_keeps_the_names_and_loses_the_rest_of_its_line(author: str, names: str | None) -> None:
    assert author_name(author) == names


PARAGRAPHS = "".join(f"<p>{LEAD}研究团队第{i}次公布了新的成果。</p>" for i in range(6))
TITLE = "科学智能助力新材料研发"


def author_of(body: str, lang: str = "zh-CN", title: str = TITLE) -> str | None:
    """The author of the article extracted from a page of ``body`` (no author tag)."""
    html = (
        f"<html lang='{lang}'><head><meta charset='utf-8'><title>{title}</title></head><body>{body}</body></html>"
    ).encode()
    article = extract_article(html, "https://news.example.cn/2025/05/06/c_1.htm", "utf-8", "text/html")
    assert isinstance(article, ExtractedArticle), article
    return article.author


def test_an_extracted_chinese_article_without_an_author_tag_has_its_reporters() -> None:
    byline = "<p>新华社上海5月6日电（记者周琳、郑钧天）</p>"
    assert author_of(f"<article><h1>{TITLE}</h1>{byline}{PARAGRAPHS}</article>") == "周琳; 郑钧天"


@pytest.mark.parametrize(
    ("info", "author"),
    [
        ("<div class='info'>时间：2004年10月21日14:18 作者：郭励弘 来源：经济参考报</div>", "郭励弘"),
        ("<div>2015-11-05 阅读：8169<br>来源:转载 作者:<a href='/u/1'>孙仲旻</a></div>", "孙仲旻"),  # after a <br>
        ("<td>编辑： 金金 来源： 21世纪经济报道 作者：宋怡 杨志华</td>", "宋怡; 杨志华"),
        ("<p>经记者查实，这则新闻的主角并不是河南师大的教师。</p>", None),  # a role word in a sentence: no label
        ("<div>编辑：苏亮</div>", None),  # an editor is not the author
    ],
)
def test_a_page_s_info_line_names_the_authors_its_text_does_not(info: str, author: str | None) -> None:
    assert author_of(f"<h1>{TITLE}</h1>{info}<div class='content'>{PARAGRAPHS}</div>") == author


def test_a_forum_post_line_gives_its_author_without_the_date_label() -> None:
    info = "<div class='author'>作者：李小龙 发表于：2010-03-01 12:00</div>"
    assert author_of(f"<h1>{TITLE}</h1>{info}<div class='content'>{PARAGRAPHS}</div>") == "李小龙"


@pytest.mark.parametrize(
    ("tag", "author"),
    [
        ("孔德明", "孔德明"),  # a Chinese name has no space
        ("新华网", None),  # the site's name, or an outlet's
        ("新华社", None),
        ("人民日报", None),
        ("央视新闻客户端", None),
        ("张三 李四", "张三 李四"),
        ("admin", None),  # an account
    ],
)
def test_a_chinese_author_tag_names_the_author(tag: str, author: str | None) -> None:
    body = f"<h1>{TITLE}</h1><div class='content'>{PARAGRAPHS}</div>"
    html = (
        f"<html lang='zh-CN'><head><meta charset='utf-8'><meta name='author' content='{tag}'>"
        f"<title>{TITLE}</title></head><body>{body}</body></html>"
    ).encode()
    article = extract_article(html, "https://news.example.cn/2025/05/06/c_1.htm", "utf-8", "text/html")
    assert isinstance(article, ExtractedArticle), article
    assert article.author == author


@pytest.mark.parametrize(
    ("before", "after"),
    [
        # another article's author in a list or a sidebar, before the headline or after the text
        ("<ul class='hot'><li><a href='/1.html'>热点新闻</a> 作者：王建国</li></ul>", ""),
        ("", "<div class='related-news'><p>相关阅读：量子计算新进展 作者：王建国</p></div>"),
        # a reader's comment
        ("", "<div class='comment-list'><span>作者：张小明</span> 2024-01-01 说得好！</div>"),
        # a photographer's credit
        ("", "<p class='credit'>摄影记者：何毅</p>"),
    ],
)
def test_no_author_is_taken_from_the_page_s_furniture_or_a_photo_credit(before: str, after: str) -> None:
    assert author_of(f"{before}<h1>{TITLE}</h1><div class='content'>{PARAGRAPHS}</div>{after}") is None


def test_an_interview_s_question_in_the_text_names_no_author() -> None:
    questions = "".join(
        f"<p>记者：王局长，您好。请谈谈第{i}个问题。</p><p>王局长：{LEAD}我们第{i}次公布了新的成果。</p>"
        for i in range(4)
    )
    assert author_of(f"<h1>专访：{TITLE}</h1><div class='content'>{questions}</div>") is None


def test_a_japanese_page_s_label_is_not_read_as_a_chinese_byline() -> None:
    paragraphs = "".join(
        f"<p>人工知能を使った研究が、材料科学の進め方を変えつつある。第{i}回の発表。</p>" for i in range(6)
    )
    body = f"<h1>AIが新素材開発を加速</h1><p>作者：田中 太郎</p><div class='content'>{paragraphs}</div>"
    assert author_of(body, lang="ja", title="AIが新素材開発を加速") is None


def test_a_line_names_reporters_only_after_their_role_s_label() -> None:
    assert labelled_byline("时间：2004年10月21日 作者：郭励弘") == "郭励弘"
    assert labelled_byline("经记者查实，这则新闻的主角并不是教师") is None


def test_on_the_chinese_corpus_pages_the_byline_names_the_reporter_the_dataset_names(corpus_dir: Path) -> None:
    """cwced's hand-copied authors: where the text's byline names someone, it is the dataset's author."""
    found = right = 0
    for truth_file in sorted((corpus_dir / "cwced").glob("*.json")):
        truth = json.loads(truth_file.read_text(encoding="utf-8"))
        names = chinese_byline(truth.get("body") or "")
        if names and truth.get("authors"):
            found += 1
            right += any(author in names.split("; ") for author in truth["authors"])
    assert found >= 5 and right >= found - 1, (found, right)
