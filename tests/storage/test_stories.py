"""Stories in the database: copies join the story of their original, across a restart, on SQLite
and PostgreSQL; the listing puts the credited original first."""

from __future__ import annotations

from sqlalchemy import func, select

from crawler.stories.assign import assign_story
from crawler.stories.fingerprint import credited_source, fingerprint
from crawler.text.normalize import to_traditional
from storage import Database, NewArticle
from storage.models import StoryBand
from storage.repository import store_article
from storage.stories import recent_stories
from tests.crawler.support import PROJECT_ROOT

SEED_001 = next((PROJECT_ROOT / "seeds").glob("001_*.txt")).read_text(encoding="utf-8")
SEED_002 = next((PROJECT_ROOT / "seeds").glob("002_*.txt")).read_text(encoding="utf-8")
SEED_003 = next((PROJECT_ROOT / "seeds").glob("003_*.txt")).read_text(encoding="utf-8")
SEED_004 = next((PROJECT_ROOT / "seeds").glob("004_*.txt")).read_text(encoding="utf-8")


def add(database: Database, source: str, url: str, text: str, site_name: str | None = None) -> tuple[int, int, bool]:
    with database.session() as session, session.begin():
        stored = store_article(
            session,
            NewArticle(
                source=source,
                url=url,
                canonical_url=url,
                title=text.splitlines()[0],
                text=text,
                site_name=site_name,
                credited_source=credited_source(text),
            ),
        )
        assignment = assign_story(session, stored.article_id, fingerprint(text))
    return stored.article_id, assignment.story_id, assignment.joined


def test_copies_join_the_story_of_the_original_even_after_a_restart(db_url_any: str) -> None:
    repost = "来源：新华网\n" + to_traditional(SEED_001) + "\n（責任編輯：王明）"
    with Database(db_url_any) as database:
        _, original_story, joined = add(database, "xinhua", "http://xinhua.example/a.htm", SEED_001, "新华网")
        _, other_story, _ = add(database, "gov", "http://gov.example/b.htm", SEED_002)
    assert not joined and other_story != original_story
    with Database(db_url_any) as reopened:  # a new process: nothing but the database carries over
        copy_id, copy_story, joined = add(reopened, "portal", "http://portal.example/c.html", repost)
        with reopened.session() as session:
            stories = {s.id: s for s in recent_stories(session)}
            bands = session.execute(select(func.count()).select_from(StoryBand)).scalar_one()
    assert joined and copy_story == original_story
    story = stories[original_story]
    assert [c.source for c in story.copies] == ["xinhua", "portal"] and story.outlets == ["xinhua", "portal"]
    assert story.representative.source == "xinhua"  # the outlet the copy credits
    assert bands == 3 * (32 + 8)  # the signature's bands and the lead's


def test_a_copy_that_kept_only_the_first_part_of_the_story_joins_it_whichever_comes_first(db_url_any: str) -> None:
    # a portal that runs the first third of a wire story shares too little of it for a band of the whole
    # signature: the lead's keys make the two compared, and containment decides
    def first_third(text: str) -> str:
        paragraphs = [line for line in text.splitlines() if line.strip()]
        return "\n".join(["来源：新华网", *paragraphs[: len(paragraphs) // 3]])

    with Database(db_url_any) as database:
        _, story, _ = add(database, "xinhua", "http://xinhua.example/a.htm", SEED_001, "新华网")
        _, part_story, part_joined = add(database, "portal", "http://portal.example/part.html", first_third(SEED_001))
        _, other_story, other_joined = add(database, "gov", "http://gov.example/b.htm", SEED_002)
        # the other way round, in the other script: the part first, then the whole story
        part = to_traditional(first_third(SEED_003))
        _, later_part_story, _ = add(database, "portal", "http://portal.example/part-2.html", part)
        _, whole_story, whole_joined = add(database, "xinhua", "http://xinhua.example/c.htm", SEED_003, "新华网")
    assert part_joined and part_story == story
    assert not other_joined and other_story != story
    assert whole_joined and whole_story == later_part_story != story


def test_a_roundup_that_reprints_two_pieces_does_not_make_them_one_story(db_url_any: str) -> None:
    roundup = f"今日科技要闻\n{SEED_001}\n{SEED_003}"  # two pieces of about the same length
    with Database(db_url_any) as database:
        _, roundup_story, _ = add(database, "briefing", "http://briefing.example/today.html", roundup)
        _, first_story, first_joined = add(database, "wire", "http://wire.example/1.html", SEED_001)
        _, second_story, second_joined = add(database, "wire", "http://wire.example/2.html", SEED_003)
        _, repost_story, repost_joined = add(
            database, "portal", "http://portal.example/2.html", "来源：新华网\n" + SEED_003
        )
    assert first_joined and first_story == roundup_story  # the first piece is in the roundup: a copy of it
    assert not second_joined and second_story != roundup_story  # the other piece shares nothing with the first
    assert repost_joined and repost_story == second_story  # and its reposts join it


def test_the_credited_original_is_the_representative_even_when_seen_later(db_url_any: str) -> None:
    repost = "来源：新华网\n" + SEED_001 + "\n（责任编辑：王明）"
    with Database(db_url_any) as database:
        add(database, "portal", "http://portal.example/c.html", repost)
        _, story_id, joined = add(database, "xinhua", "http://xinhua.example/a.htm", SEED_001, "新华网")
        with database.session() as session:
            story = {s.id: s for s in recent_stories(session)}[story_id]
    assert joined and story.representative.source == "xinhua" and len(story.copies) == 2


def test_copies_stored_at_the_same_moment_by_two_crawls_share_one_story(db_url_any: str) -> None:
    """The race of two processes storing copies together: each must not miss the other's story.
    Threads with their own connections stand for the processes; a barrier holds them where the
    race is (on PostgreSQL after storing the article; SQLite's single writer already makes the
    second wait there, so the barrier comes before)."""
    import threading

    copies = [SEED_001, "来源：新华网\n" + to_traditional(SEED_001), SEED_001 + "\n（责任编辑：李华）"]
    postgres = db_url_any.startswith("postgresql")
    barrier = threading.Barrier(len(copies), timeout=30)
    results: dict[int, tuple[int, bool]] = {}
    errors: list[BaseException] = []
    Database(db_url_any).close()

    def crawl(index: int, text: str) -> None:
        try:
            # migrated already (Alembic's start-up is not thread-safe; processes each run their own)
            with Database(db_url_any, auto_migrate=False) as database, database.session() as session, session.begin():
                if not postgres:
                    barrier.wait()
                stored = store_article(
                    session,
                    NewArticle(
                        source=f"outlet{index}",
                        url=f"http://o{index}.example/a",
                        canonical_url=f"http://o{index}.example/a",
                        title="t",
                        text=text,
                    ),
                )
                if postgres:
                    barrier.wait()
                assignment = assign_story(session, stored.article_id, fingerprint(text))
                results[index] = (assignment.story_id, assignment.joined)
        except BaseException as exc:  # reported by the main thread
            errors.append(exc)

    threads = [threading.Thread(target=crawl, args=(i, text)) for i, text in enumerate(copies)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert not errors, errors
    assert len({story for story, _ in results.values()}) == 1
    assert sorted(joined for _, joined in results.values()) == [False, True, True]


def test_rebuild_groups_the_articles_of_a_corpus_upgraded_from_before_stories(db_url_any: str) -> None:
    """A corpus made by the release before stories (revision 0002): after the upgrade each article is
    its own story; ``rebuild`` fingerprints them and groups the copies, keeping their times."""
    from pathlib import Path

    from alembic import command
    from alembic.config import Config
    from sqlalchemy import text as sql

    from crawler.stories.assign import rebuild_stories
    from storage.db import make_engine

    engine = make_engine(db_url_any)
    config = Config()
    config.set_main_option("script_location", str(Path(__import__("storage").__file__).parent / "migrations"))
    texts = [SEED_001, SEED_002, "来源：新华网\n" + to_traditional(SEED_001) + "\n（責任編輯：王明）", "Too short."]
    with engine.begin() as connection:
        config.attributes["connection"] = connection
        command.upgrade(config, "0002")
        connection.execute(sql("INSERT INTO sources (name, created_at) VALUES ('old', CURRENT_TIMESTAMP)"))
        for number, body in enumerate(texts, 1):
            connection.execute(
                sql(
                    "INSERT INTO articles (source_id, url, canonical_url, url_hash, title, text, content_hash, "
                    "first_seen, last_seen, relevant) VALUES (1, :url, :url, :hash, 't', :text, :hash, :seen, :seen, :yes)"
                ),
                {
                    "url": f"http://a/{number}",
                    "hash": f"h{number}",
                    "text": body,
                    "seen": f"2026-0{number}-01 08:00:00",
                    "yes": True,
                },
            )
    engine.dispose()
    with Database(db_url_any) as upgraded:
        with upgraded.session() as session:
            before = {s.id for s in recent_stories(session, limit=10)}
        assert len(before) == 4  # the migration made each older article its own story
        report = rebuild_stories(upgraded)
        with upgraded.session() as session:
            stories = recent_stories(session, limit=10)
    assert (report.articles, report.fingerprinted, report.stories, report.copies) == (4, 4, 3, 1)
    grouped = next(s for s in stories if len(s.copies) == 2)
    assert [c.url for c in grouped.copies] == ["http://a/1", "http://a/3"]
    assert grouped.first_seen.month == 1 and grouped.last_seen.month == 3
    assert {len(s.copies) for s in stories} == {1, 2} and len(stories) == 3


def _paragraphs(text: str) -> list[str]:
    return [line.strip() for line in text.splitlines() if len(line.strip()) > 40]


def test_short_releases_that_share_an_institute_s_closing_paragraph_are_different_stories(db_url_any: str) -> None:
    # An aggregator carries four short releases of one institute: a paragraph of news each (the opening paragraph of
    # four different seed stories), then the same "about us" paragraph and media contact. Their shared close made
    # them half alike, and they were one story: three headlines shown only as "also reported by".
    about = (
        "关于北京智源科学计算研究院：研究院成立于2019年，是一家致力于人工智能驱动的科学研究的新型研发机构，聚焦分子模拟、"
        "蛋白质结构预测、材料设计与气象预报等方向，建设了覆盖算力、数据、模型与软件的科学智能基础设施，已发布多个科学大模型"
        "与开源软件，服务国内外数百家高校、科研院所和企业，致力于推动科研范式变革，加速科学发现与产业转化。\n"
        "媒体联系：研究院品牌与传播部 电话010-12345678 邮箱press@example.org"
    )
    news = [_paragraphs(seed)[1][:90] for seed in (SEED_001, SEED_002, SEED_003)]
    news.append(_paragraphs(SEED_001)[3][:90])
    with Database(db_url_any) as database:
        stories = {
            add(database, "aggregator", f"http://agg.example/kx/{number}.shtml", f"{item}\n{about}")[1]
            for number, item in enumerate(news)
        }
    assert len(stories) == len(news)


def test_two_pieces_quoting_one_long_statement_are_different_stories(db_url_any: str) -> None:
    # Two outlets report on one event from their own angles, and both print the same long official statement.
    statement = "\n".join(_paragraphs(SEED_002)[2:])[:1700]
    first = "\n".join(_paragraphs(SEED_001))[:1000] + "\n" + statement
    second = "\n".join(_paragraphs(SEED_003))[:1000] + "\n" + statement
    brief = _paragraphs(SEED_004)[1]
    with Database(db_url_any) as database:
        _, one, _ = add(database, "daily", "http://daily.example/a.htm", first)
        _, other, joined = add(database, "weekly", "http://weekly.example/b.htm", second)
        # a short piece that quotes a part of it, inside the long one by containment
        _, short, short_joined = add(
            database, "wire", "http://wire.example/c.htm", brief[:150] + "\n" + statement[:650]
        )
    assert not joined and one != other
    assert not short_joined and short not in (one, other)


def test_a_repost_with_a_paragraph_of_its_own_before_the_story_is_still_a_copy(db_url_any: str) -> None:
    # The portal's own summary above the story, and the story's last third left out: less than the sure copy's
    # likeness, but the original's opening is all in the copy.
    paragraphs = _paragraphs(SEED_003)
    summary = "编者按：人工智能正在改变科学研究的方式，本刊特别关注这一领域的最新进展，以下为相关报道。" * 3
    repost = summary + "\n" + "\n".join(paragraphs[: len(paragraphs) * 2 // 3])
    with Database(db_url_any) as database:
        _, story, _ = add(database, "xiaofei", "http://xf.example/a.htm", SEED_003)
        _, copy_story, joined = add(database, "portal", "http://portal.example/b.html", repost)
    assert joined and copy_story == story
