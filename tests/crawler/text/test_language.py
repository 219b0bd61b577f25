"""Language identification of extracted text: by script for Chinese, Japanese and Korean, else by model."""

from __future__ import annotations

from pathlib import Path

from crawler.text.extract import detect_language
from tests.localweb import load_corpus


def test_chinese_news_with_a_japanese_or_korean_name_or_a_katakana_dot_stays_chinese() -> None:
    dotted = "新华社北京电 中国科学院・人工智能研究所今天发布了新的科学大模型，用于材料发现。" * 3
    body = "研究团队利用人工智能模型预测蛋白质结构，并在新材料发现中取得进展，相关成果发表在国际期刊上。" * 4
    named = f"据日本共同社报道，索尼（ソニー）与三星电子（삼성전자）合作研发科学计算芯片。{body}"
    assert detect_language(dotted) == "zh"
    assert detect_language(named) == "zh"


def test_japanese_and_korean_prose_are_told_from_chinese() -> None:
    assert detect_language("東京大学の研究チームは、人工知能を使って新しい材料を発見したと発表した。" * 3) == "ja"
    assert detect_language("서울대학교 연구팀은 인공지능을 이용해 새로운 물질을 발견했다고 밝혔다." * 3) == "ko"


def test_latin_script_text_goes_to_the_language_model() -> None:
    assert detect_language("Researchers used machine learning to design new materials for batteries. " * 4) == "en"
    assert (
        detect_language("Die Forscher nutzten künstliche Intelligenz, um neue Materialien zu entdecken. " * 4) == "de"
    )


def test_on_real_articles_the_language_is_the_one_the_corpus_labels(corpus_dir: Path) -> None:
    pages = [page for page in load_corpus(corpus_dir) if page.body and page.meta.get("language")]
    wrong = [page.id for page in pages if detect_language(page.body) != page.language.split("-")[0]]
    assert len(pages) >= 500
    assert len(wrong) <= 0.03 * len(pages), wrong  # 11 of 600 (English read as Zulu or Xhosa, German as English)


def test_a_chinese_article_after_an_english_abstract_is_chinese() -> None:
    abstract = "Researchers used machine learning to design new materials for batteries. " * 13  # 962 characters
    article = "研究团队利用人工智能模型预测蛋白质结构，并在新材料发现中取得进展，相关成果发表在国际期刊上。" * 45
    assert detect_language(abstract + article) == "zh"
