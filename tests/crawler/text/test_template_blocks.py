"""Blocks of extracted text and their keys: the same line in another width, case, spacing or punctuation is
one block; removing template blocks keeps the rest in order and never leaves nothing."""

from __future__ import annotations

from crawler.text.extract import without_headline
from crawler.text.template_blocks import block_key, page_block_keys, remove_template, text_blocks

TEXT = "First paragraph of the story.\n\n  Related: Ten facts about AI  \nSecond paragraph.\n责任编辑：王明\n"


def test_blocks_are_the_non_empty_lines() -> None:
    assert text_blocks(TEXT) == [
        "First paragraph of the story.",
        "Related: Ten facts about AI",
        "Second paragraph.",
        "责任编辑：王明",
    ]


def test_a_line_in_another_width_case_or_punctuation_is_the_same_block() -> None:
    assert block_key("责任编辑：王明") == block_key("责任编辑: 王明") == block_key("【责任编辑：王明】")
    assert block_key("Related: Ten facts about AI") == block_key("RELATED — ten facts about AI!")
    assert block_key("Ｒｅｌａｔｅｄ： Ten facts about AI") == block_key("Related: Ten facts about AI")
    assert block_key("Related: Ten facts about AI") != block_key("Related: Eleven facts about AI")
    assert block_key("• · —") is None
    assert len(page_block_keys(TEXT + "Second paragraph!")) == 4  # a page counts a block once


def test_template_blocks_are_removed_the_rest_kept_in_order() -> None:
    template = {block_key("Related: Ten facts about AI"), block_key("责任编辑：王明")}
    cleaned = remove_template(TEXT, template)  # type: ignore[arg-type]
    assert cleaned.text == "First paragraph of the story.\nSecond paragraph."
    assert cleaned.removed == 2


def test_a_text_that_is_all_template_comes_back_whole() -> None:
    template = set(page_block_keys(TEXT))
    assert remove_template(TEXT, template).text == TEXT
    assert remove_template(TEXT, template).removed == 0
    assert remove_template(TEXT, set()).text == TEXT


def test_a_first_line_that_only_repeats_the_headline_is_not_text() -> None:
    body = "Scientists train a model to find catalysts\nThe first paragraph.\nThe second paragraph."
    assert (
        without_headline(body, "Scientists train a model to find catalysts!")
        == "The first paragraph.\nThe second paragraph."
    )
    assert without_headline(body, "Another headline") == body  # a first line of its own stays
    assert without_headline("江苏多地要求师生暂不返校\n正文。", "江苏多地要求师生暂不返校") == "正文。"
    assert without_headline("Only the headline", "Only the headline") == "Only the headline"  # never nothing
