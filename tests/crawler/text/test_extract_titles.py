"""The title of an article whose page gives none in its tags (no Open Graph, no JSON-LD): found as trafilatura
finds it, but never in the page's furniture, whose headings templates give the same class names as headlines
(a comment form's "Leave a Reply", a hidden menu's title, a dropdown's teaser, the site's name)."""

from __future__ import annotations

from crawler.text.extract import ExtractedArticle, extract_article

URL = "https://blog.example/2025/03/ai-weather-model.html"
HEADLINE = "AI weather model beats the physics on ten-day forecasts"
PARAGRAPHS = "".join(
    f"<p>{sentence}</p>"
    for sentence in (
        "A neural network trained on forty years of reanalysis data now forecasts ten days ahead.",
        "Its errors are smaller than those of the physical model on most variables and lead times.",
        "The forecasters say it runs in a minute on one graphics card instead of hours on a supercomputer.",
        "Extreme events remain harder: the network smooths the peaks of the strongest storms.",
        "The weights are published so that other weather services can test the model themselves.",
    )
)


def title_of(html: str) -> str | None:
    result = extract_article(html.encode(), URL, "utf-8", "text/html")
    assert isinstance(result, ExtractedArticle), result
    return result.title


def test_a_comment_forms_heading_is_not_the_title() -> None:
    # WordPress: no <h1>, the post's title only in <title>, the reply form's heading classed as a title
    html = (
        f"<html><head><title>{HEADLINE} | Weather Notes</title></head><body>"
        f"<div class='post'>{PARAGRAPHS}</div>"
        "<div id='respond' class='comment-respond'>"
        "<h3 id='reply-title' class='comment-reply-title'>Leave a Reply</h3><form><textarea></textarea></form>"
        "</div></body></html>"
    )
    assert title_of(html) == HEADLINE


def test_a_hidden_menu_title_and_the_sites_name_are_not_the_title_though_the_layout_names_a_sidebar() -> None:
    # Drupal: the site's name and the page's title both in an <h1>, a hidden menu heading classed block-title,
    # and a body class naming the sidebar of the page's layout
    html = (
        "<html><head><title>Weather Notes</title></head><body class='not-front one-sidebar sidebar-second'>"
        "<header><h1 id='site-name' class='site-name'>Weather Notes</h1></header>"
        "<nav id='block-menu-1'><h2 class='element-invisible block-title'>Main menu</h2>"
        "<ul><li><a href='/'>Home</a></li></ul></nav>"
        f"<div id='main-content'><header><h1 class='page-title'>{HEADLINE}</h1></header>{PARAGRAPHS}</div>"
        "</body></html>"
    )
    assert title_of(html) == HEADLINE


def test_a_dropdown_teaser_is_not_the_title() -> None:
    html = (
        "<html><head></head><body>"
        "<div class='nav-dropdown'><h2 class='panel-title'>Take your next trip with us!</h2></div>"
        f"<h1>{HEADLINE}</h1>{PARAGRAPHS}<h1>See fewer ads</h1>"
        "</body></html>"
    )
    assert title_of(html) == HEADLINE


def test_a_headline_classed_as_a_title_in_the_article_is_still_the_title() -> None:
    html = (
        "<html><head><title>Blog | Weather Notes</title></head><body>"
        "<div id='content'><div class='post'>"
        f"<h2 class='entry-title'>{HEADLINE}</h2>{PARAGRAPHS}"
        "</div></div></body></html>"
    )
    assert title_of(html) == HEADLINE


def test_a_wrapper_of_the_whole_page_is_no_furniture_whatever_its_class_says() -> None:
    # class and id words of page-wide wrappers: Tailwind's overflow-hidden, Genesis's content-sidebar-wrap,
    # an off-canvas menu's push wrapper
    html = (
        "<html><head><title>Daily Times</title></head><body>"
        "<div id='menu-push' class='site-container content-sidebar-wrap overflow-hidden with-comments'>"
        "<h1 class='site-title'>Daily Times</h1>"
        f"<div class='post'><h1 class='entry-title'>{HEADLINE}</h1>{PARAGRAPHS}</div>"
        "</div></body></html>"
    )
    assert title_of(html) == HEADLINE


def test_an_old_blogs_sidebar_headings_are_not_the_title_of_a_page_without_one() -> None:
    # a blog of the 2000s (cwced): no <title>, the post's headline a bold link, the sidebar's sections <h1>s in a
    # menu: "导航" was taken as the title of every post
    html = (
        "<html><head></head><body><div id='header'><a href='/'>A linkist's notes</a></div>"
        "<div id='menu'><h1>导航</h1><ul><li><a href='/'>首页</a></li><li><a href='/rss'>订阅</a></li></ul>"
        "<h1>公告</h1><p>欢迎来访</p></div>"
        f"<div class='post'><a class='posttitle' href='/p/1'><b>{HEADLINE}</b></a>{PARAGRAPHS}</div>"
        "</body></html>"
    )
    assert title_of(html) not in ("导航", "公告")
