"""A headless Chromium driven through the DevTools protocol over its pipe (``--remote-debugging-pipe``: JSON
messages ended by NUL on file descriptors 3 and 4, so no WebSocket client is needed), to ask it what it drew:
the platform fonts that rendered the text of the elements of a page (``CSS.getPlatformFontsForNode``)."""

from __future__ import annotations

import json
import os
import select
import shutil
import subprocess
import tempfile
import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import lxml.html

#: The longest wait for one answer of the browser (a cold start on a loaded machine included).
ANSWER_TIMEOUT = 90.0


class DevToolsError(RuntimeError):
    """The browser answered with an error, closed its pipe or did not answer in time."""


@dataclass(frozen=True)
class RenderedText:
    """The text of one element and the platform fonts that drew it: ``(family, glyphs drawn)`` pairs."""

    text: str
    fonts: tuple[tuple[str, int], ...]


class _Pipe:
    """One browser's DevTools pipe: a command sent, its answer read (events in between are skipped)."""

    def __init__(self, send: int, receive: int) -> None:
        self.send, self.receive, self.pending, self.last_id = send, receive, b"", 0

    def call(self, method: str, params: Mapping[str, Any] | None = None, session: str | None = None) -> Any:
        self.last_id += 1
        message: dict[str, Any] = {"id": self.last_id, "method": method, "params": dict(params or {})}
        if session:
            message["sessionId"] = session
        os.write(self.send, json.dumps(message).encode() + b"\0")
        deadline = time.monotonic() + ANSWER_TIMEOUT
        while True:
            while b"\0" not in self.pending:
                ready, _, _ = select.select([self.receive], [], [], max(0.0, deadline - time.monotonic()))
                chunk = os.read(self.receive, 1 << 16) if ready else b""
                if not chunk:
                    raise DevToolsError(f"no answer to {method}: the browser closed its pipe or took too long")
                self.pending += chunk
            raw, self.pending = self.pending.split(b"\0", 1)
            answer = json.loads(raw)
            if answer.get("id") == self.last_id:
                if "error" in answer:
                    raise DevToolsError(f"{method}: {answer['error']}")
                return answer["result"]


def rendered_fonts(
    chromium: str, url: str, selector: str, *, env: Mapping[str, str] | None = None, width: int = 1280
) -> list[RenderedText]:
    """The elements of the page at ``url`` matching ``selector``, each with the platform fonts Chromium drew its
    text with (``env``: the browser's environment, where ``FONTCONFIG_FILE`` chooses the fonts it has)."""
    to_browser, from_browser = os.pipe(), os.pipe()

    def on_descriptors_3_and_4() -> None:  # in the child, before exec: where the pipe protocol expects them
        commands, answers = os.dup(to_browser[0]), os.dup(from_browser[1])
        os.dup2(commands, 3)
        os.dup2(answers, 4)
        os.set_inheritable(3, True)
        os.set_inheritable(4, True)

    profile = tempfile.mkdtemp(prefix="ai4s-chromium-")
    browser = subprocess.Popen(
        [
            chromium, "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
            "--disable-background-networking", "--disable-component-update", "--disable-sync", "--hide-scrollbars",
            f"--window-size={width},1400", f"--user-data-dir={profile}", "--remote-debugging-pipe", "about:blank",
        ],
        preexec_fn=on_descriptors_3_and_4, close_fds=False, env=None if env is None else dict(env),
        stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    os.close(to_browser[0])
    os.close(from_browser[1])
    pipe = _Pipe(to_browser[1], from_browser[0])
    try:
        target = pipe.call("Target.createTarget", {"url": url})["targetId"]
        session = pipe.call("Target.attachToTarget", {"targetId": target, "flatten": True})["sessionId"]
        # a new target is about:blank, complete, until the navigation to ``url`` commits
        loaded = f"location.href === {json.dumps(url)} && document.readyState === 'complete' && document.fonts.status === 'loaded'"
        deadline = time.monotonic() + ANSWER_TIMEOUT
        while not pipe.call("Runtime.evaluate", {"expression": loaded}, session)["result"].get("value"):
            if time.monotonic() > deadline:
                raise DevToolsError(f"{url} did not finish loading")
            time.sleep(0.1)
        pipe.call("DOM.enable", session=session)
        pipe.call("CSS.enable", session=session)
        root = pipe.call("DOM.getDocument", session=session)["root"]["nodeId"]
        nodes = pipe.call("DOM.querySelectorAll", {"nodeId": root, "selector": selector}, session)["nodeIds"]
        found = []
        for node in nodes:
            html = pipe.call("DOM.getOuterHTML", {"nodeId": node}, session)["outerHTML"]
            fonts = pipe.call("CSS.getPlatformFontsForNode", {"nodeId": node}, session)["fonts"]
            drawn = tuple((font["familyName"], int(font["glyphCount"])) for font in fonts)
            found.append(RenderedText(lxml.html.fromstring(html).text_content(), drawn))
        pipe.call("Browser.close")
        browser.wait(timeout=ANSWER_TIMEOUT)
        return found
    finally:
        if browser.poll() is None:
            browser.kill()
            browser.wait()
        os.close(to_browser[1])
        os.close(from_browser[0])
        shutil.rmtree(profile, ignore_errors=True)


def families_covering(characters: str, env: Mapping[str, str] | None = None) -> set[str]:
    """The font families fontconfig has (in ``env``) that hold a glyph for every one of ``characters``."""
    charset = " ".join(f"{ord(character):x}" for character in sorted(set(characters)))
    listed = subprocess.run(
        ["fc-list", f":charset={charset}", "family"],
        capture_output=True, text=True, check=True, env=None if env is None else dict(env),
    ).stdout  # fmt: skip
    return {family.strip() for line in listed.splitlines() for family in line.split(",") if family.strip()}
