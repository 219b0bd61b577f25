"""The digest's health footer names the sources silent for longer than their usual gap between articles
(and only those the digest is about), in every format; a digest stored before it said so renders as it did."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

from crawler.digest.build import build_digest
from crawler.digest.render import render
from storage import Database, NewArticle
from storage.models import utcnow
from storage.repository import save_run_counts, start_run, store_article


def test_the_footer_names_a_source_silent_for_several_of_its_usual_gaps(tmp_path: Path) -> None:
    now = utcnow()
    with Database(f"sqlite:///{tmp_path / 'corpus.sqlite3'}") as database:
        with database.session() as session, session.begin():
            run_id = start_run(session, ["quiet", "busy"])
            for source, first_day in (("quiet", 4), ("busy", 0)):
                save_run_counts(session, run_id, source, {})
                for number in range(6):
                    url = f"http://{source}.example/{number}"
                    published = now - timedelta(days=first_day + number, hours=2)
                    article = NewArticle(source, url, url, "t", f"{source} {number}", published=published)
                    store_article(session, article, run_id=run_id)
        with database.session() as session:
            digest = build_digest(session, now - timedelta(days=1), now)
            only_busy = build_digest(session, now - timedelta(days=1), now, sources=["busy"])
    (quiet,) = digest["health"]["silent_sources"]
    assert (quiet["source"], quiet["silent_for"], quiet["usual_gap"]) == ("quiet", "4d2h", "1d")
    assert "silent sources: quiet (nothing new for 4d2h, usually every 1d)" in render(digest, "md")
    assert "Silent sources: quiet (nothing new for 4d2h, usually every 1d)." in render(digest, "html")
    assert only_busy["health"]["silent_sources"] == []
    del digest["health"]["silent_sources"]  # a digest delivered before the footer named silent sources
    assert "silent" not in render(digest, "md").lower()
