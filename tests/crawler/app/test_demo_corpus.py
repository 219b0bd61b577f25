"""``ai4s demo`` keeps its corpus where it says, and with ``--serve`` its web, so that the commands its
closing hints suggest (``stories`` and ``digest`` among them) work on it, links included."""

from __future__ import annotations

import os
import re
import shlex
import signal
import subprocess
import sys
import threading
import urllib.error
import urllib.request
from pathlib import Path

from tests.crawler.support import PROJECT_ROOT

#: Seconds the whole demo may take before the test gives up on it (a shared, slow machine included).
DEMO_TIMEOUT = 900


def run_hint(hint: str, env: dict[str, str], cwd: Path) -> subprocess.CompletedProcess[str]:
    """The hint ``ai4s ...`` run as the user would, as ``python -m crawler ...``."""
    program, *args = shlex.split(hint)
    assert program == "ai4s"
    return subprocess.run(
        [sys.executable, "-m", "crawler", *args], cwd=cwd, env=env, capture_output=True, text=True, timeout=300
    )


def test_the_demo_keeps_its_corpus_and_its_web_so_that_its_hints_work(tmp_path: Path) -> None:
    env = {
        **os.environ,
        "XDG_DATA_HOME": str(tmp_path / "data"),  # the user's data directory, under the test's folder
        "PYTHONPATH": os.pathsep.join(filter(None, [str(PROJECT_ROOT), os.environ.get("PYTHONPATH")])),
    }
    corpus = tmp_path / "data" / "ai4s-monitor" / "demo" / "corpus.sqlite3"
    db_url = f"sqlite:///{corpus}"
    with (tmp_path / "demo.err").open("w") as errors:
        demo = subprocess.Popen(
            [sys.executable, "-m", "crawler", "demo", "--rounds", "1", "--serve"],
            cwd=tmp_path,
            env=env,
            stdout=subprocess.PIPE,
            stderr=errors,
            text=True,
        )
    watchdog = threading.Timer(DEMO_TIMEOUT, demo.kill)
    watchdog.start()
    try:
        assert demo.stdout is not None
        printed = []
        for line in demo.stdout:
            printed.append(line.rstrip("\n"))
            if "Ctrl-C to stop" in line:
                break
        output = "\n".join(printed)
        assert "Ctrl-C to stop" in output, output + (tmp_path / "demo.err").read_text()
        assert f"Corpus (kept): {db_url}" in output and corpus.is_file()
        hints = [line.strip() for line in printed if line.startswith("  ai4s ")]
        assert {hint.split()[1] for hint in hints} >= {"stats", "stories", "digest", "export"}
        assert all(hint.endswith(f"--db {db_url}") for hint in hints)

        results = {hint: run_hint(hint, env, tmp_path) for hint in hints}
        for hint, result in results.items():
            assert result.returncode == 0, (hint, result.stderr[-2000:])
            assert "Traceback" not in result.stderr and f"database: {db_url}" in result.stderr.splitlines()
        stories = results[f"ai4s stories --db {db_url}"].stdout
        assert "5 most recent stories" in stories
        digest = results[f"ai4s digest --db {db_url}"].stdout
        assert len(re.findall(r"^### \d+\. \[", digest, flags=re.MULTILINE)) == 5, digest  # one per story
        # a link per story, and one more for the repost of a Xinhua story on demo-portal ("Also reported by");
        # the top stories at the head link to some of them again
        links = sorted(set(re.findall(r"\]\(<(http://127\.0\.0\.\d+:\d+/[^>]+)>\)", digest)))
        assert len(links) == 6, digest
        assert (tmp_path / "demo-digest.html").is_file()
        # the web still serves: the digest's links lead to the articles
        for link in links:
            with urllib.request.urlopen(link, timeout=30) as answer:
                assert answer.status == 200
    finally:
        demo.send_signal(signal.SIGINT)  # Ctrl-C
        demo.wait(timeout=60)
        watchdog.cancel()
        if demo.stdout is not None:
            demo.stdout.close()
    assert demo.returncode == 0
    assert "Traceback" not in (tmp_path / "demo.err").read_text()
    try:
        urllib.request.urlopen(links[0], timeout=10)
        stopped = False
    except urllib.error.URLError:
        stopped = True
    assert stopped, "the demo web still answers after Ctrl-C"
    # the corpus outlives the demo
    after = run_hint(f"ai4s stories --db {db_url}", env, tmp_path)
    assert after.returncode == 0 and "5 most recent stories" in after.stdout
