"""Stories in the database: copies join the story of their original, across a restart, on SQLite
and PostgreSQL; the listing puts the credited original first."""

from __future__ import annotations

from sqlalchemy import func, select

from crawler.dedup import assign_story
from crawler.neardup import credited_source, fingerprint
from crawler.normalize import to_traditional
from storage import Database, NewArticle
from storage.models import StoryBand
from storage.repository import store_article
from storage.stories import recent_stories
from tests.crawler.support import PROJECT_ROOT

SEED_001 = next((PROJECT_ROOT / "seeds").glob("001_*.txt")).read_text(encoding="utf-8")
SEED_002 = next((PROJECT_ROOT / "seeds").glob("002_*.txt")).read_text(encoding="utf-8")


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
    assert bands == 3 * 32


def test_the_credited_original_is_the_representative_even_when_seen_later(db_url_any: str) -> None:
    repost = "来源：新华网\n" + SEED_001 + "\n（责任编辑：王明）"
    with Database(db_url_any) as database:
        add(database, "portal", "http://portal.example/c.html", repost)
        _, story_id, joined = add(database, "xinhua", "http://xinhua.example/a.htm", SEED_001, "新华网")
        with database.session() as session:
            story = {s.id: s for s in recent_stories(session)}[story_id]
    assert joined and story.representative.source == "xinhua" and len(story.copies) == 2
