"""Peak memory of a screening run, 1 M against 10 M rows, with and without concurrency between its stages.

    .venv/bin/python benchmarks/screen_memory_modes.py --workdir /tmp/bench --repeat 3
    .venv/bin/python benchmarks/screen_memory_modes.py --workdir /tmp/bench --modes seq --settings still

Each run is one fresh process (``VmHWM``, and the largest anonymous resident size sampled every 0.5 ms); the
two sizes alternate within each repeat, so that the machine's drift falls on both alike. Modes:

- ``screen``: ``screen_file`` as ``osteocare screen`` runs it (reader, scoring threads and writer overlap);
- ``threads1``: ``screen_file(threads=1)`` (``--threads 1``): one scoring thread, reader and writer threads;
- ``seq``: one thread does it all, chunk after chunk: read, validate and score, write (no overlap at all);
- ``phased``: two chunks read while nothing else runs, then both scored on two threads while the previous two
  are written (reading never meets scoring or writing).

``--settings still`` runs every process with the allocators giving freed memory back at once and Arrow on one
thread (``JE_ARROW_MALLOC_CONF=narenas:1,dirty_decay_ms:0,muzzy_decay_ms:0``,
``GLIBC_TUNABLES=glibc.malloc.mmap_threshold=131072``, ``OMP_NUM_THREADS=1``), so that what is resident is
close to what is live. The files come from ``benchmarks/screen.py`` (``pop-N.parquet`` in the work folder) or
are generated here.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import threading
import time
from pathlib import Path

MODES = ("screen", "threads1", "seq", "phased")
SETTINGS = {
    "default": {},
    "still": {"JE_ARROW_MALLOC_CONF": "narenas:1,dirty_decay_ms:0,muzzy_decay_ms:0",
              "GLIBC_TUNABLES": "glibc.malloc.mmap_threshold=131072", "OMP_NUM_THREADS": "1"},
}


def _sample_anon(top: list[float]) -> None:
    """Keep the largest anonymous resident size (MiB) seen in ``top[0]``, sampled every 0.5 ms."""
    page = os.sysconf("SC_PAGE_SIZE")

    def run() -> None:
        with open("/proc/self/statm", encoding="ascii") as f:
            while True:
                f.seek(0)
                fields = f.read().split()
                top[0] = max(top[0], (int(fields[1]) - int(fields[2])) * page / 2**20)
                time.sleep(0.0005)

    threading.Thread(target=run, daemon=True).start()


def child(mode: str, src: Path, dst: Path) -> dict[str, float]:
    import osteocare.batch  # noqa: F401, I001 - first: it sets Arrow's allocator, which pyarrow reads once at load

    import datetime as dt
    import itertools
    from concurrent.futures import ThreadPoolExecutor

    from osteocare.batch.population import batches
    from osteocare.batch.screen import (
        ScoredChunk, Summary, Writer, _prepare_taken, peak_rss_mib, read_batches, screen_batch, screen_file, tune_malloc,
    )
    from osteocare.core.guidelines import default_guideline

    top = [0.0]
    _sample_anon(top)
    screen_batch(next(batches(1000)))  # warm up, as benchmarks/screen.py does
    gid, day = default_guideline(), dt.date.today()
    t0 = time.perf_counter()
    if mode in ("screen", "threads1"):
        rows = screen_file(src, dst, threads=1 if mode == "threads1" else None).rows
    else:
        tune_malloc()
        w, s, rows = Writer(dst), Summary(), 0

        def write(outs: list[ScoredChunk]) -> None:
            for o in outs:
                w.write(o.batch)
                s.merge(o.summary)

        reader = read_batches(src)
        if mode == "seq":
            for b in reader:
                rows += b.num_rows
                write([_prepare_taken([b], gid, day, "parquet")])
                del b
        else:  # phased
            prev: list[ScoredChunk] = []
            with ThreadPoolExecutor(2) as pool, ThreadPoolExecutor(1) as out:
                while chunk := list(itertools.islice(reader, 2)):  # read: nothing else runs
                    rows += sum(b.num_rows for b in chunk)
                    futs = [pool.submit(_prepare_taken, [chunk.pop()], gid, day, "parquet") for _ in range(len(chunk))]
                    wrote = out.submit(write, prev)
                    prev = [f.result() for f in reversed(futs)]
                    del futs
                    wrote.result()
                write(prev)
                prev = []
        w.close(True)
    return {"rows": rows, "seconds": time.perf_counter() - t0, "peak_mb": peak_rss_mib(), "anon_mb": top[0]}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--workdir", type=Path, required=True)
    ap.add_argument("--rows", type=int, nargs=2, default=[1_000_000, 10_000_000])
    ap.add_argument("--modes", nargs="+", choices=MODES, default=list(MODES))
    ap.add_argument("--settings", choices=sorted(SETTINGS), default="default")
    ap.add_argument("--env", nargs="*", default=[], metavar="NAME=VALUE", help="more environment for every run")
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--child", nargs=3, help=argparse.SUPPRESS)
    a = ap.parse_args()
    if a.child:
        print(json.dumps(child(a.child[0], Path(a.child[1]), Path(a.child[2]))))
        return
    a.workdir.mkdir(parents=True, exist_ok=True)
    for n in a.rows:
        src = a.workdir / f"pop-{n}.parquet"
        if not src.exists():
            from osteocare.batch.population import generate

            generate(n, src)
    env = dict(os.environ, **SETTINGS[a.settings], **dict(e.split("=", 1) for e in a.env))
    got: dict[tuple[str, int], list[dict[str, float]]] = {}
    print(f"settings: {a.settings} {SETTINGS[a.settings] or ''} {' '.join(a.env)}")
    for _ in range(a.repeat):
        for mode in a.modes:
            for n in a.rows:
                cmd = [sys.executable, __file__, "--workdir", str(a.workdir), "--child", mode,
                       str(a.workdir / f"pop-{n}.parquet"), str(a.workdir / "modes-out.parquet")]
                out = subprocess.run(cmd, check=True, capture_output=True, text=True, env=env)
                r = json.loads(out.stdout.strip().splitlines()[-1])
                got.setdefault((mode, n), []).append(r)
                print(f"  {mode:9} {n:>11,} rows  {r['rows'] / r['seconds'] / 1e6:5.2f} M rows/s  "
                      f"peak {r['peak_mb']:6.1f} MB  anonymous {r['anon_mb']:6.1f} MB", flush=True)
    print("\nmode       peaks at small / large (MB)                      largest: large / small   M rows/s")
    for mode in a.modes:
        p = [[r["peak_mb"] for r in got[(mode, n)]] for n in a.rows]
        speed = [sum(r["rows"] / r["seconds"] for r in got[(mode, n)]) / len(got[(mode, n)]) / 1e6 for n in a.rows]
        print(f"{mode:9}  {', '.join(f'{x:.1f}' for x in p[0])} / {', '.join(f'{x:.1f}' for x in p[1])}"
              f"   {max(p[1]) / max(p[0]):.4f}   {speed[0]:.2f} / {speed[1]:.2f}")


if __name__ == "__main__":
    main()
