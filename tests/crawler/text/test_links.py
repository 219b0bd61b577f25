"""Article-URL and pagination heuristics, on URL shapes of real news sites."""

from __future__ import annotations

import pytest

from crawler.text.links import is_fetchable_link, is_pagination, looks_like_article


@pytest.mark.parametrize(
    "url",
    [
        "http://www.news.cn/tech/2023-08/11/c_1129800.htm",
        "http://scitech.people.com.cn/n1/2023/0811/c1007-40054467.html",
        "https://www.163.com/dy/article/I5DB7E63527FFA01E.html",
        "https://www.gov.cn/xinwen/2023-03/27/content_5748495.htm",
        "https://www.nytimes.com/2024/05/12/science/ai-protein-folding.html",
        "https://www.theguardian.com/science/2024/may/12/ai-for-science-summit-opens-in-beijing",
        "https://example.org/news/scientists-use-machine-learning-to-predict-materials",
        "https://example.org/article.php?id=48213",
        "https://example.org/article/ai-finds-catalysts",
        "https://example.org/news/ai-finds-new-catalysts.html",
        "https://example.org/p/quantum-chemistry",
        "https://example.org/?p=4821",
        "https://example.org/2025/03/02/catalysts/",
        "https://example.org/a/x7k2q9/",
        "https://www.sohu.com/a/871234567_121123",
        "http://www.example.cn/xwzx/content_12345.htm",
        "https://example.org/article/45",
        "https://example.org/story/873/",
        "https://example.org/archives/12345.html",
        "https://example.org/2024/03/15/ai-story/",
        "https://example.org/p/20120315",  # an id that reads as a date, under an article's parent
        "https://example.org/article/200512",
    ],
)
def test_article_urls(url: str) -> None:
    assert looks_like_article(url)


@pytest.mark.parametrize(
    "url",
    [
        "http://www.news.cn/tech/",
        "http://www.news.cn/tech/index.htm",
        "http://x.example/news/?page=2",
        "http://x.example/calendar/2024/01/",
        "http://x.example/tag/ai",
        "http://x.example/about/",
        "http://x.example/",
        "http://x.example/list_3.html",
        "http://x.example/?p=2",
        "http://x.example/p/science/",
        "http://x.example/news/science.html",
        "http://x.example/topics/ai-for-science/",
        "http://x.example/article/page/2/",
        "http://x.example/news/2024/03/15/",  # a day's archive
        "http://x.example/2024/03/",
        "http://x.example/news/2024/0315/",
        "http://x.example/topics/artificial-intelligence-for-science",  # a long slug, but a topic's
        "http://x.example/category/ai-research-and-development-news",
        "http://x.example/author/jane-doe-and-john-smith",
        "http://x.example/blog/12",  # a blog's twelfth page (Gatsby's pagination), no id
        "http://x.example/posts/57",
    ],
)
def test_listing_urls(url: str) -> None:
    assert not looks_like_article(url)


def test_pagination() -> None:
    assert is_pagination("http://x.example/news/?page=2", "http://x.example/news/")
    assert is_pagination("http://x.example/news/?page=3", "http://x.example/news/?page=2")
    assert is_pagination("http://x.example/tech/index_2.html", "http://x.example/tech/index.html")
    assert is_pagination("http://x.example/anything", "http://x.example/news/", link_text="下一页")
    assert is_pagination("http://x.example/anything", "http://x.example/news/", rel="next")
    assert is_pagination("http://x.example/tech/index_3.html", "http://x.example/tech/index_2.html")
    assert is_pagination("http://x.example/tech/list_2.html", "http://x.example/tech/")
    assert not is_pagination("http://x.example/news/story-4.html", "http://x.example/")  # an article, not page 4
    assert not is_pagination("http://x.example/about/", "http://x.example/news/")
    assert not is_pagination("http://x.example/news/?cat=sport", "http://x.example/news/")


@pytest.mark.parametrize(
    "label", ["Next »", "Next Page ›", "下一页>", "[下一页]", "下一页 >>", "【下一页】", "Older posts »"]
)
def test_a_decorated_next_label_is_pagination(label: str) -> None:
    """Arrows and brackets around "next" hid it: the next page was followed as a section, one level of ``max_depth``
    deeper each time, so a listing's fourth page and those after it were never read."""
    assert is_pagination("http://x.example/news/p2/", "http://x.example/news/", link_text=label)


@pytest.mark.parametrize("label", ["More »", "About »", "Next story: a protein folded", "Nexting"])
def test_other_labels_with_arrows_are_no_pagination(label: str) -> None:
    assert not is_pagination("http://x.example/science/", "http://x.example/news/", link_text=label)


@pytest.mark.parametrize(
    ("target", "current"),
    [
        ("/news/list.aspx?cid=3&PageIndex=2", "/news/list.aspx?cid=3"),
        ("/news/?PageNo=3", "/news/?PageNo=2"),
        ("/news/list.php?curpage=2", "/news/list.php"),
    ],
)
def test_page_parameters_in_any_case_number_pages(target: str, current: str) -> None:
    assert is_pagination(f"http://x.example{target}", f"http://x.example{current}")


def test_binary_links_are_not_crawled() -> None:
    assert not is_fetchable_link("http://x.example/files/report.pdf")
    assert not is_fetchable_link("http://x.example/img/photo.JPG")
    assert is_fetchable_link("http://x.example/2024/01/01/story.html")


@pytest.mark.parametrize(
    ("target", "current"),
    [
        ("/news/2/", "/news/"),
        ("/news/page/2/", "/news/"),
        ("/news/page/3", "/news/page/2/"),
        ("/news/3/", "/news/2/"),
        ("/news/2", "/news"),
        ("/news/2", "/news/index.html"),
    ],
)
def test_a_page_number_as_the_last_segment_is_the_listings_next_page(target: str, current: str) -> None:
    assert is_pagination(f"http://x.example{target}", f"http://x.example{current}")


@pytest.mark.parametrize(
    ("target", "current"),
    [
        ("/news/873", "/news/"),  # an article's id, not page 873
        ("/news/45", "/news/"),
        ("/video/123", "/news/"),  # another section's item
        ("/p/12", "/news/"),
        ("/news/2/", "/sport/"),
    ],
)
def test_a_number_far_past_the_current_page_or_of_another_listing_is_no_page(target: str, current: str) -> None:
    assert not is_pagination(f"http://x.example{target}", f"http://x.example{current}")
