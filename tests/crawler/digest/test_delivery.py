"""``deliver_digest``, what ``ai4s digest`` calls, on a real SQLite file: a request that cannot be made
is refused before any database is opened, a made digest goes to the given standard output before it is
recorded, and a replay renders the recorded digest again, to standard output or to a file."""

from __future__ import annotations

import io
import json
import re
from pathlib import Path

import pytest

from crawler.digest.delivery import DigestRefused, DigestRequest, deliver_digest, describe_delivery


@pytest.mark.parametrize(
    ("request_", "message"),
    [
        (DigestRequest(formats=["pdf"]), "unknown format 'pdf' (supported: md, html, json, atom)"),
        (DigestRequest(since="2d", since_last=True), "--since and --since-last exclude each other"),
    ],
)
def test_a_request_that_cannot_be_made_is_refused_before_the_database_is_opened(
    tmp_path: Path, request_: DigestRequest, message: str
) -> None:
    database = tmp_path / "corpus.sqlite3"
    stdout = io.StringIO()
    with pytest.raises(DigestRefused, match=re.escape(message)):
        deliver_digest(f"sqlite:///{database}", request_, stdout)
    assert not database.exists() and stdout.getvalue() == ""


def test_a_made_digest_goes_to_standard_output_and_replays_the_same(tmp_path: Path) -> None:
    db_url = f"sqlite:///{tmp_path / 'corpus.sqlite3'}"
    stdout = io.StringIO()
    request = DigestRequest(name="weekly", formats=["json"])
    delivery = deliver_digest(db_url, request, stdout)
    assert delivery is not None and delivery.files == []
    made = json.loads(stdout.getvalue())
    assert made["counts"]["stories"] == 0 and made == delivery.digest
    assert describe_delivery(delivery, request).startswith(f"digest {delivery.run_id} (weekly): 0 stories (0 new,")

    replayed = io.StringIO()
    assert deliver_digest(db_url, DigestRequest(formats=["json"]), replayed, replay_id=delivery.run_id) is None
    assert replayed.getvalue() == stdout.getvalue()
    page = tmp_path / "replayed.html"
    assert deliver_digest(db_url, DigestRequest(formats=["html"], out=page), stdout, replay_id=delivery.run_id) is None
    assert "<html" in page.read_text(encoding="utf-8") and replayed.getvalue() == stdout.getvalue()
    with pytest.raises(DigestRefused, match=f"no digest {delivery.run_id + 1} in this database"):
        deliver_digest(db_url, DigestRequest(), stdout, replay_id=delivery.run_id + 1)


def test_a_digest_written_to_a_file_leaves_standard_output_alone(tmp_path: Path) -> None:
    out = tmp_path / "digest.md"
    stdout = io.StringIO()
    request = DigestRequest(since="7d", out=out)
    delivery = deliver_digest(f"sqlite:///{tmp_path / 'corpus.sqlite3'}", request, stdout)
    assert delivery is not None and delivery.files == [out] and stdout.getvalue() == ""
    assert out.read_text(encoding="utf-8") == delivery.rendered["md"]
    assert describe_delivery(delivery, request).endswith(f"; written to {out}")
