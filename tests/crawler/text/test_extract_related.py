"""Other articles' headlines in an article's page ("Read more: <headline>" between its paragraphs, a related box
under its label) are not the article's text: extraction leaves them out of the text it gives for storing."""

from __future__ import annotations

from html import escape

import pytest

from crawler.text.extract import ExtractedArticle, extract_article

URL = "https://news.example/2025/03/ai-weather-model.html"
HEADLINE = "AI weather model beats the physics on ten-day forecasts"
SENTENCES = (
    "A neural network trained on forty years of reanalysis data now forecasts ten days ahead.",
    "Its errors are smaller than those of the physical model on most variables and lead times.",
    "The forecasters say it runs in a minute on one graphics card instead of hours on a supercomputer.",
    "Extreme events remain harder: the network smooths the peaks of the strongest storms.",
    "The weights are published so that other weather services can test the model themselves.",
)
OTHERS = (
    "The law that’s helping fuel Delhi’s deadly air pollution",
    "Tim Cook On Apple Being ‘Pulled Into The Enterprise’",
    "Zach Parise heating up, scores twice as Wild beat Sabres 4-1",
)


def text_of(paragraphs: list[str]) -> str:
    html = (
        f"<html><head><meta charset='utf-8'><title>{HEADLINE}</title></head><body><main><article>"
        f"<h1>{HEADLINE}</h1>{''.join(paragraphs)}</article></main></body></html>"
    )
    result = extract_article(html.encode(), URL, "utf-8", "text/html")
    assert isinstance(result, ExtractedArticle), result
    return result.text


@pytest.mark.parametrize(
    "related",
    [
        "<p><strong>Read more:</strong> <a href='/x.html'>{}</a></p>",
        "<p><strong>RELATED:</strong> <a href='/y.html'>{}</a></p>",
        "<p>Read more: <a href='/z.html'>{}</a></p>",
        "<p>See also: <a href='/z.html'>{}</a></p>",
    ],
)
def test_a_read_more_line_between_paragraphs_is_not_stored(related: str) -> None:
    paragraphs = [f"<p>{sentence}</p>" for sentence in SENTENCES]
    paragraphs.insert(2, related.format(escape(OTHERS[0])))
    paragraphs.append(related.format(escape(OTHERS[1])))
    text = text_of(paragraphs)
    assert not any(other in text for other in OTHERS)
    assert text == "\n".join(SENTENCES)


def test_a_related_box_after_the_story_is_not_stored() -> None:
    box = "<p>Related stories</p>" + "".join(f"<p><a href='/r.html'>{escape(other)}</a></p>" for other in OTHERS)
    assert text_of([f"<p>{sentence}</p>" for sentence in SENTENCES] + [box]) == "\n".join(SENTENCES)
