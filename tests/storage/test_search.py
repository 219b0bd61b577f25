"""Full-text search over the stored articles, on SQLite (FTS5 trigram) and PostgreSQL (pg_trgm): Chinese
without word boundaries, traditional and simplified alike, one hit per story, the filters, an index kept
up to date by every writer of an article's text and filled by the migration for corpora stored before it."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import insert, select, text

from storage import Database, NewArticle
from storage.db import make_engine
from storage.models import Article, Source
from storage.repository import ArticleFields, replace_article_fields, replace_text, store_article
from storage.search import reindex_articles, search_stories
from storage.searchtext import indexed_body, query_terms, search_form
from storage.stories import join_story, start_story
from tests.localweb import load_corpus
from tests.storage.test_migrations import alembic_to

T0 = datetime(2024, 5, 1, 8, tzinfo=UTC)


def new_article(
    url: str, title: str, body: str, *, source: str = "xinhua", language: str = "zh", relevant: bool = True
) -> NewArticle:
    return NewArticle(
        source=source, url=url, canonical_url=url, title=title, text=body, language=language, relevant=relevant
    )


def store(database: Database, *articles: NewArticle) -> list[int]:
    with database.session() as session, session.begin():
        return [store_article(session, article).article_id for article in articles]


def found(database: Database, query: str, **filters: object) -> list[int]:
    """The article ids of the hits of ``query``, best first."""
    with database.session() as session:
        return [hit.article_id for hit in search_stories(session, query, limit=1000, **filters)]  # type: ignore[arg-type]


ZH = "中国科学院发布了基于人工智能的天气预报大模型，预报精度显著提升。研究团队表示，该模型将用于台风路径预测。"
ZH_TRADITIONAL = (
    "中國科學院發佈了基於人工智慧的天氣預報大模型，預報精度顯著提升。研究團隊表示，該模型將用於颱風路徑預測。"
)
EN = (
    "Researchers trained a machine-learning model on decades of protein structures to design new enzymes for catalysis."
)


def test_chinese_matches_without_word_boundaries_in_either_script(database: Database) -> None:
    simplified, traditional, english = store(
        database,
        new_article("http://a.example/1", "气象大模型", ZH),
        new_article("http://b.example/1", "氣象大模型發佈", ZH_TRADITIONAL + " 另一篇。", source="udn"),
        new_article("http://c.example/1", "Enzymes by design", EN, source="nature", language="en"),
    )

    assert set(found(database, "天气预报")) == {simplified, traditional}  # a word inside a sentence
    assert set(found(database, "天氣預報")) == {simplified, traditional}  # the traditional query too
    assert set(found(database, "台风路径")) == {simplified, traditional}  # 颱風 is 台风 once simplified
    assert found(database, "PROTEIN structures") == [english]  # case folded, every term required
    assert found(database, '"protein structures"') == [english]  # a quoted phrase
    assert found(database, '"structures protein"') == []
    assert found(database, "protein 天气") == []


def test_terms_shorter_than_a_trigram_are_found_too(database: Database) -> None:
    weather, english = store(
        database,
        new_article("http://a.example/1", "气象", ZH),
        new_article("http://c.example/1", "Enzymes", EN + " AI helps.", source="nature", language="en"),
    )

    assert found(database, "台风") == [weather]  # two characters: no trigram, LIKE over the indexed text
    assert found(database, "ai") == [english]
    assert found(database, "ai enzymes") == [english]  # a short term beside a long one
    assert found(database, "颱") == [weather]


def test_one_hit_per_story_with_its_copies_and_the_title_ranks_first(database: Database) -> None:
    original, copy, in_text_only = store(
        database,
        new_article("http://a.example/1", "天气预报大模型", ZH, source="xinhua"),
        new_article("http://b.example/2", "天气预报大模型（转载）", ZH + " 转载。", source="sina"),
        new_article("http://c.example/3", "研究团队", "今天的天气预报说，" + ZH[:20], source="people"),
    )
    with database.session() as session, session.begin():
        story = start_story(session, original, T0)
        join_story(session, copy, story, T0)
        hits = search_stories(session, "天气预报")

    assert [hit.story_id for hit in hits].count(story) == 1
    assert hits[0].story_id == story  # the term in the headline ranks above a mention in the text
    assert {c.article_id for c in hits[0].copies} == {original, copy}
    assert hits[0].outlets[0] in {"xinhua", "sina"} and set(hits[0].outlets) == {"xinhua", "sina"}
    assert hits[1].article_id == in_text_only and hits[1].copies == []
    assert "天气预报" in hits[1].excerpt


def test_the_filters(database: Database) -> None:
    zh, en, off_topic = store(
        database,
        new_article("http://a.example/1", "模型", ZH + " model", source="xinhua"),
        new_article("http://c.example/1", "Model", EN, source="nature", language="en"),
        new_article(
            "http://d.example/1", "model", "An off-topic model.", source="nature", language="en", relevant=False
        ),
    )
    with database.engine.begin() as connection:  # the Chinese article was seen long ago
        connection.execute(text("UPDATE articles SET first_seen = :t WHERE id = :id"), {"t": T0, "id": zh})

    assert set(found(database, "model")) == {zh, en}
    assert set(found(database, "model", include_off_topic=True)) == {zh, en, off_topic}
    assert found(database, "model", sources=["xinhua"]) == [zh]
    assert found(database, "model", languages=["en"]) == [en]
    assert found(database, "model", since=T0 + timedelta(days=1)) == [en]


def test_every_writer_of_the_text_keeps_the_index(database: Database) -> None:
    (cleaned, reprocessed) = store(
        database,
        new_article("http://a.example/1", "天气", ZH + " 导航栏 首页 登录"),
        new_article("http://b.example/1", "Enzymes", EN, source="nature", language="en"),
    )
    assert found(database, "导航栏") == [cleaned]
    with database.session() as session, session.begin():
        assert replace_text(session, cleaned, ZH)  # template cleaning
        fields = ArticleFields(
            title="Catalysts by design", text="A new extractor found the text about zeolite catalysts.",
            author=None, site_name=None, published=None, language="en", encoding=None, relevance=None,
            relevant=True, evidence=None, credited_source=None, minhash=None, shingles=None,
        )  # fmt: skip
        assert replace_article_fields(session, reprocessed, fields).outcome == "changed"  # reprocessing

    assert found(database, "导航栏") == []
    assert found(database, "天气预报") == [cleaned]
    assert found(database, "enzymes") == []
    assert found(database, "zeolite") == [reprocessed]


def test_the_migration_indexes_the_articles_stored_before_it(db_url_any: str) -> None:
    engine = make_engine(db_url_any)
    alembic_to(engine, "0009")
    with engine.begin() as connection:
        source_id = connection.execute(insert(Source).values(name="udn", created_at=T0).returning(Source.id)).scalar()
        for number, body in enumerate((ZH_TRADITIONAL, EN)):
            connection.execute(
                insert(Article).values(
                    source_id=source_id, url=f"http://b.example/{number}", canonical_url=f"http://b.example/{number}",
                    url_hash=f"u{number}", content_hash=f"c{number}", title=None, text=body, first_seen=T0,
                    last_seen=T0, relevant=True,
                )
            )  # fmt: skip
    engine.dispose()

    with Database(db_url_any) as database:  # migrates to the head
        assert len(found(database, "天气预报")) == 1
        assert len(found(database, "enzymes")) == 1
        with database.session() as session:
            tables = {row[0] for row in session.execute(text("SELECT title FROM article_search"))}
        assert tables == {""}


def test_search_form_folds_script_width_and_case() -> None:
    assert search_form("ＡＩ　氣象  Model") == "ai 气象 model"
    # a Latin term opens with a space (a word start), a Chinese one does not (no word boundaries)
    assert query_terms('  "Machine  Learning" 氣象 ai AI ') == [" machine learning", "气象", " ai"]
    assert query_terms("machine-learning, “AI”") == [" machine learning", " ai"]
    assert indexed_body(None, "Text") == ("", " text")
    # punctuation made spaces, and a space before a Latin word right after Chinese
    assert indexed_body("AI模型：", "他说，用AI-based模型（2024年）") == (
        " ai模型",
        " ai模型\n 他说 用 ai based模型 2024年",
    )


def test_a_latin_term_matches_at_word_starts_only_on_either_database(database: Database) -> None:
    said, ai, in_chinese, prefix = store(
        database,
        new_article("http://a.example/1", "Quotes", "The minister said the plan would work.", language="en"),
        new_article("http://b.example/1", "Models", "An AI model forecasts the weather.", language="en"),
        new_article("http://c.example/1", "模型", "研究团队用AI预测台风路径。"),
        new_article("http://d.example/1", "Agents", "Aiming higher: agents plan experiments.", language="en"),
    )

    assert set(found(database, "ai")) == {ai, in_chinese, prefix}  # not inside "said"; at a word start after 用
    assert set(found(database, "said")) == {said}
    assert found(database, "aid") == []  # inside "said" only: a word start is needed
    assert set(found(database, "aim")) == {prefix}  # a word start, not a whole word
    assert found(database, "ai model") == [ai]
    assert found(database, '"ai-model"') == [ai]  # punctuation in a term matches spaces in the text
    assert found(database, "用ai") == [in_chinese]
    with database.session() as session:
        [hit] = search_stories(session, "said")
    assert hit.excerpt.startswith("The minister said")


def test_the_index_is_filled_again_on_request_and_by_the_migration_of_word_starts(db_url_any: str) -> None:
    with Database(db_url_any) as database:
        said, ai = store(
            database,
            new_article("http://a.example/1", "Quotes", "He said so.", language="en"),
            new_article("http://b.example/1", "", "AI model.", language="en"),
        )
        with database.engine.begin() as connection:  # the form the index held before word starts
            connection.execute(text("UPDATE article_search SET title = '', body = 'he said so.' WHERE article_id = :i"),
                               {"i": said})  # fmt: skip
            connection.execute(text("UPDATE article_search SET title = '', body = 'ai model.' WHERE article_id = :i"),
                               {"i": ai})  # fmt: skip
        assert found(database, "ai") == []
        with database.engine.begin() as connection:
            assert reindex_articles(connection) == 2
        assert found(database, "ai") == [ai] and found(database, "said") == [said]
        with database.engine.begin() as connection:
            connection.execute(text("UPDATE article_search SET body = 'ai model.' WHERE article_id = :i"), {"i": ai})
    engine = make_engine(db_url_any)
    alembic_to(engine, "0013", down=True)
    alembic_to(engine, "head")
    engine.dispose()
    with Database(db_url_any) as database:
        assert found(database, "ai") == [ai]


# -- the same results on both databases -------------------------------------------------------------

QUERIES = ("人工智能", "气象", "模型", "科学", "AI", "data", "climate", "protein", "learning model", "中国 科学")


def test_the_hits_are_those_of_a_plain_substring_search_over_the_corpus(database: Database, corpus_dir: Path) -> None:
    pages = [page for page in load_corpus(corpus_dir) if page.body.strip()][:150]
    store(
        database,
        *(
            new_article(
                f"http://corpus.example/{page.source}/{page.id}", page.title or "", page.body, source=page.source
            )
            for page in pages
        ),
    )
    with database.session() as session:
        ids = {url: article_id for url, article_id in session.execute(select(Article.url, Article.id))}
    stored = {f"http://corpus.example/{page.source}/{page.id}": page for page in pages}  # a repeated text is not
    bodies = {ids[url]: indexed_body(page.title, page.body) for url, page in stored.items() if url in ids}

    for query in QUERIES:
        terms = query_terms(query)
        expected = {article for article, (_, body) in bodies.items() if all(term in body for term in terms)}
        hits = found(database, query)
        assert set(hits) == expected, query
        in_title = [sum(term in bodies[article][0] for term in terms) for article in hits]
        assert in_title == sorted(in_title, reverse=True), query  # more terms in the headline first
    assert any(found(database, query) for query in QUERIES)


@pytest.mark.parametrize("query", ["", "   ", '""'])
def test_an_empty_query_finds_nothing(database: Database, query: str) -> None:
    store(database, new_article("http://a.example/1", "气象", ZH))
    assert found(database, query) == []
