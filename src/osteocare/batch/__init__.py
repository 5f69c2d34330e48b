"""Population screening in batch: chunked CSV/Parquet input and output, local threads or a Dask cluster.

Arrow's memory allocator is chosen here, before pyarrow is loaded, because Arrow reads these settings from the
environment once, when its library loads (``pa.set_memory_pool`` later reaches only the allocations that
pyarrow makes itself; Arrow's C++ code — the Parquet reader and writer, compute kernels — keeps the pool it
found at load time). A value the user has set is kept; when pyarrow is already loaded nothing is changed.
See :data:`ARROW_ALLOCATOR` and docs/screening-memory.md, "Memory: Arrow's allocator ...".
"""

from __future__ import annotations

import os
import sys
from collections.abc import MutableMapping

#: environment of Arrow's allocator for a screening process:
#: - every Arrow allocation from jemalloc (Arrow's default is its bundled mimalloc for its own C++ code and
#:   whatever ``set_memory_pool`` chose for pyarrow's, i.e. two allocators keeping memory side by side);
#: - one jemalloc arena (``narenas:1``): a page freed by one thread (the writer) is reused by another (the
#:   reader, the scoring threads) instead of waiting in that thread's arena;
#: - freed pages given back with ``MADV_DONTNEED`` once their decay time is up (``muzzy_decay_ms:0``); with
#:   Arrow's default (1 s) they were first marked ``MADV_FREE``, which the kernel takes back only under memory
#:   pressure, so they stayed in the resident size for another second.
ARROW_ALLOCATOR: dict[str, str] = {
    "ARROW_DEFAULT_MEMORY_POOL": "jemalloc",
    "JE_ARROW_MALLOC_CONF": "narenas:1,muzzy_decay_ms:0",
}


def set_arrow_allocator(environ: MutableMapping[str, str] = os.environ, platform: str = sys.platform) -> bool:
    """Put :data:`ARROW_ALLOCATOR` into ``environ`` where the user has not set them; False (nothing done)
    when pyarrow is already loaded, as its allocator is then fixed for this process, and off Linux, where
    pyarrow's wheels may have no jemalloc (Arrow would print a warning at load and keep its default)."""
    if "pyarrow" in sys.modules or not platform.startswith("linux"):
        return False
    for name, value in ARROW_ALLOCATOR.items():
        environ.setdefault(name, value)
    return True


set_arrow_allocator()
