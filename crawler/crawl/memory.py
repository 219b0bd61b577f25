"""How the crawl's processes give memory back. A crawl handles page bodies of a few hundred KiB by the thousand,
each copied, decoded and parsed, while small objects that live on are allocated between them. glibc serves an
allocation of 128 KiB or more from a mapping of its own, returned to the system when freed, but raises that
threshold to the size of every such block freed: from then on the bodies come from the heap, and the small
objects between them keep the freed space from going back. Keeping the threshold fixed keeps the bodies apart.

Measured by ``benchmarks/crawl_speed.py``: in the crawl process alone, peak PSS of the process tree on 600 pages
596–603 → 564 MiB, with no change of the rate beyond the noise; in the extraction workers too, 542 MiB, but
their CPU a page rose by about 5% (a mapping made and unmade for each large block), so they keep glibc's default.
"""

from __future__ import annotations

import ctypes
import ctypes.util

#: glibc's ``mallopt`` parameter: the size from which an allocation gets a mapping of its own.
M_MMAP_THRESHOLD = -3
#: glibc's own starting value, fixed (setting it turns glibc's raising of it off).
MMAP_THRESHOLD = 128 * 1024


def give_large_blocks_back() -> bool:
    """Make every allocation of :data:`MMAP_THRESHOLD` bytes or more a mapping that goes back to the system when
    freed, for this process and those it forks; whether the C library took the setting (glibc does; elsewhere
    nothing changes)."""
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        mallopt = libc.mallopt
    except (OSError, AttributeError):
        return False
    return bool(mallopt(M_MMAP_THRESHOLD, MMAP_THRESHOLD))
