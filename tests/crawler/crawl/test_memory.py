"""The crawl's processes give the memory of freed page bodies back to the system, even with small objects that
live on allocated between them."""

from __future__ import annotations

import subprocess
import sys

import pytest

#: Bodies of 230 KiB (a news page) with small objects kept between them, then the bodies freed; prints the
#: resident memory (MiB) before, at the peak and after. A 300 KiB block freed first is what raises glibc's
#: threshold in a crawl (the first large pages).
PATTERN = """
import sys
from crawler.crawl.memory import give_large_blocks_back
def resident():
    return int(open("/proc/self/status").read().split("VmRSS:")[1].split()[0]) // 1024
if sys.argv[1] == "given":
    assert give_large_blocks_back()
first = bytes(300 * 1024)
del first
before = resident()
bodies, kept = [], []
for _ in range(400):
    bodies.append(bytearray(230 * 1024))
    kept.append([object() for _ in range(50)])
peak = resident()
bodies.clear()
print(before, peak, resident())
"""


def resident_mib(mode: str) -> tuple[int, int, int]:
    """Resident memory before, at the peak and after :data:`PATTERN`, run in a new process (``given``: with
    :func:`crawler.crawl.memory.give_large_blocks_back`)."""
    out = subprocess.run([sys.executable, "-c", PATTERN, mode], capture_output=True, text=True, check=True, timeout=60)
    before, peak, after = map(int, out.stdout.split())
    return before, peak, after


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc and glibc's allocator")
def test_freed_page_bodies_go_back_to_the_system() -> None:
    before, peak, after = resident_mib("given")
    assert peak - before >= 80  # the bodies were there
    assert after - before <= 10  # and went back
    # without it, glibc keeps most of them (so this test would see the setting not taking)
    before, _, after = resident_mib("default")
    assert after - before >= 40
