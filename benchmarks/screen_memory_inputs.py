"""Where the 10 M-row peak's excess over the 1 M-row peak comes from: the same screening run fed in five ways.

    .venv/bin/python benchmarks/screen_memory_inputs.py --workdir /tmp/bench --repeat 3

Every run is `screen_file` (real validation, scoring and Parquet writing, Parquet out) in a fresh process,
and its peak is that process's ``VmHWM``; only where the input chunks come from changes:

- ``file``: the file read as `osteocare screen` reads it (the Parquet reader runs during the run);
- ``first``: the 10 M-row file, but only its first N chunks (run length with the file held fixed);
- ``held``: the 10 M-row file's first 20 chunks (1 M rows of varied patients) read before the run and handed
  out in turn (no Parquet reading during the run; those 20 chunks, about 110 MB, are held in both sizes);
- ``held+read``: the same held chunks, while the file is read chunk by chunk on the reader thread as usual and
  each chunk read is dropped (the Parquet reader's work and memory, without its arrays flowing on);
- ``reuse``: the file's first chunk handed out again and again (no reading, no new input memory).

The short run has 20 chunks (1 M rows), the long one 200 (10 M rows). Runs alternate short and long within
each mode, and the ratio of the largest peaks (long / short) is printed per mode. Compare modes within one run
of this script: the machine's absolute level drifts (by 25 MB within half an hour here).
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from pathlib import Path

from osteocare.batch.screen import DEFAULT_CHUNK_ROWS as CHUNK_ROWS  # its package sets Arrow's allocator first

SHORT, LONG = 20, 200  # chunks: 1 M and 10 M rows
MODES = ("file", "first", "held", "held+read", "reuse")


def child(mode: str, chunks: int, work: Path) -> dict[str, float]:
    import itertools

    import osteocare.batch.screen as screen
    from osteocare.batch.population import batches

    big = work / f"pop-{LONG * CHUNK_ROWS}.parquet"
    src = work / f"pop-{chunks * CHUNK_ROWS}.parquet" if mode == "file" else big
    screen.screen_batch(next(batches(1000)))  # warm up, as benchmarks/screen.py does
    read = screen.read_batches
    if mode == "first":
        def feed(path, chunk_rows=CHUNK_ROWS, table=None):  # type: ignore[no-untyped-def]
            return itertools.islice(read(path, chunk_rows, table), chunks)
        screen.read_batches = feed
    elif mode in ("held", "held+read", "reuse"):
        held = list(itertools.islice(read(big), 1 if mode == "reuse" else 20))

        def feed(path, chunk_rows=CHUNK_ROWS, table=None):  # type: ignore[no-untyped-def]
            if mode == "held+read":  # the file read chunk by chunk as usual, each chunk dropped for a held one
                return (held[i % len(held)] for i, _ in enumerate(itertools.islice(read(path), chunks)))
            return (held[i % len(held)] for i in range(chunks))
        screen.read_batches = feed
    t = time.perf_counter()
    rows = screen.screen_file(src, work / f"inputs-{mode}.parquet").rows
    return {"rows": rows, "seconds": time.perf_counter() - t, "peak_rss_mb": screen.peak_rss_mib()}


def run(mode: str, chunks: int, work: Path) -> dict[str, float]:
    out = subprocess.run([sys.executable, __file__, "--workdir", str(work), "--child", mode, str(chunks)],
                         capture_output=True, text=True)
    if out.returncode != 0:
        raise SystemExit(f"child {mode} {chunks} failed:\n{out.stderr}")
    return json.loads(out.stdout.strip().splitlines()[-1])


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--workdir", type=Path, required=True)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--modes", nargs="+", choices=MODES, default=list(MODES))
    ap.add_argument("--child", nargs=2, help=argparse.SUPPRESS)
    a = ap.parse_args()
    if a.child:
        print(json.dumps(child(a.child[0], int(a.child[1]), a.workdir)))
        return
    from osteocare.batch.population import generate

    a.workdir.mkdir(parents=True, exist_ok=True)
    for chunks in (SHORT, LONG):
        path = a.workdir / f"pop-{chunks * CHUNK_ROWS}.parquet"
        if not path.exists():
            generate(chunks * CHUNK_ROWS, path)
    print(f"peak memory (VmHWM, MB) of screen_file, {SHORT} vs {LONG} chunks of {CHUNK_ROWS:,} rows, "
          f"{a.repeat} alternating pairs per mode")
    for mode in a.modes:
        peaks: dict[int, list[float]] = {SHORT: [], LONG: []}
        for _ in range(a.repeat):
            for chunks in (SHORT, LONG):
                r = run(mode, chunks, a.workdir)
                assert r["rows"] == chunks * CHUNK_ROWS, r
                peaks[chunks].append(r["peak_rss_mb"])
        s, lg = peaks[SHORT], peaks[LONG]
        print(f"  {mode:9s} 1 M rows {', '.join(f'{p:.0f}' for p in s)} | 10 M rows {', '.join(f'{p:.0f}' for p in lg)}"
              f" | largest 10 M / largest 1 M = {max(lg) / max(s):.3f}")


if __name__ == "__main__":
    main()
