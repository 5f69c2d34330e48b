"""Where the 10 M-row peak's excess over the 1 M-row peak comes from: the same screening run fed in eight ways.

    .venv/bin/python benchmarks/screen_memory_inputs.py --workdir /tmp/bench --repeat 3

Every run is `screen_file` (real validation, scoring and Parquet writing, Parquet out) in a fresh process,
and its peak is that process's ``VmHWM``; only where the input chunks come from changes:

- ``file``: the file read as `osteocare screen` reads it (the Parquet reader runs during the run);
- ``first``: the 10 M-row file, but only its first N chunks (run length with the file held fixed);
- ``held``: the 10 M-row file's first 20 chunks (1 M rows of varied patients) read before the run and handed
  out in turn (no Parquet reading during the run; those 20 chunks, about 110 MB, are held in both sizes);
- ``held+read``: the same held chunks, while the file is read chunk by chunk on the reader thread as usual and
  each chunk read is dropped (the Parquet reader's work and memory, without its arrays flowing on);
- ``reuse``: the file's first chunk handed out again and again (no reading, no new input memory);
- ``cycle``: the 10 M-row file's first 20 chunks read again and again by the Parquet reader (the reader works
  as usual, but the long run sees no patient the short one has not);
- ``proc``: the file read by a second process (this script with ``--reader``), which sends each chunk as an
  Arrow IPC stream through a pipe; this process decodes it with Arrow's allocator (no Parquet reader here);
- ``proc+mmap``: the same, but each chunk is received into an anonymous memory mapping of its own and used
  in place (zero-copy), so the input buffers never touch Arrow's or glibc's allocator here and are unmapped
  when the chunk is done.

For the two ``proc`` modes the peak printed is this process's ``VmHWM`` plus the reader process's (an upper
bound: the libraries both map are counted twice); each run's two parts are printed too.

The short run has 20 chunks (1 M rows), the long one 200 (10 M rows). Runs alternate short and long within
each mode, and the ratio of the largest peaks (long / short) is printed per mode. Compare modes within one run
of this script: the machine's absolute level drifts (by 25 MB within half an hour here).
"""

from __future__ import annotations

import argparse
import itertools
import json
import mmap
import struct
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import osteocare.batch  # noqa: F401 - sets Arrow's allocator before pyarrow loads (light: no scoring code)

CHUNK_ROWS = 0  # osteocare.batch.screen.DEFAULT_CHUNK_ROWS, set in main() (the reader process is given it)

SHORT, LONG = 20, 200  # chunks: 1 M and 10 M rows
MODES = ("file", "first", "held", "held+read", "reuse", "cycle", "proc", "proc+mmap")


def child(mode: str, chunks: int, work: Path) -> dict[str, float]:
    import pyarrow as pa

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
    elif mode == "cycle":
        def feed(path, chunk_rows=CHUNK_ROWS, table=None):  # type: ignore[no-untyped-def]
            return itertools.islice(itertools.chain.from_iterable(
                itertools.islice(read(big, chunk_rows, table), SHORT) for _ in itertools.count()), chunks)
        screen.read_batches = feed
    elif mode in ("proc", "proc+mmap"):
        from osteocare.batch.columns import CATEGORY_INPUTS

        reader = subprocess.Popen([sys.executable, __file__, "--workdir", str(work), "--reader", str(big), str(chunks),
                                   "1" if mode == "proc+mmap" else "0", ",".join(CATEGORY_INPUTS), str(CHUNK_ROWS)],
                                  stdout=subprocess.PIPE)

        def feed(path, chunk_rows=CHUNK_ROWS, table=None):  # type: ignore[no-untyped-def]
            assert reader.stdout is not None
            return _framed(reader.stdout) if mode == "proc+mmap" else iter(pa.ipc.open_stream(reader.stdout))
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
    out = {"rows": rows, "seconds": time.perf_counter() - t, "peak_rss_mb": screen.peak_rss_mib()}
    if mode.startswith("proc"):
        assert reader.stdout is not None
        tail = reader.stdout.read()  # the reader's peak, after the last chunk
        if reader.wait() != 0:
            raise SystemExit(f"reader process failed ({reader.returncode})")
        out["main_mb"], out["reader_mb"] = out["peak_rss_mb"], json.loads(tail)["peak_rss_mb"]
        out["peak_rss_mb"] = out["main_mb"] + out["reader_mb"]
    return out


def _framed(f: Any) -> Iterator[Any]:
    """Chunks sent by :func:`reader` with framing: each read into a fresh anonymous mapping and decoded in
    place; the mapping goes when the last array that points into it does."""
    import pyarrow as pa

    while True:
        (n,) = struct.unpack("<q", f.read(8))
        if n == 0:
            return
        m = mmap.mmap(-1, n)
        view, got = memoryview(m), 0
        while got < n:
            got += f.readinto(view[got:])
        del view
        batch = pa.ipc.open_stream(pa.py_buffer(m)).read_next_batch()
        del m
        yield batch


def reader(path: Path, chunks: int, framed: bool, dictionaries: list[str]) -> None:
    """The reading process of the ``proc`` modes: pyarrow only (no scoring code, no numba), the file read as
    `screen` reads it (a reader per row group, the category columns as dictionaries), each chunk written to
    standard output; then this process's peak, as JSON."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    pf = pq.ParquetFile(path, read_dictionary=dictionaries)
    batches = itertools.islice(itertools.chain.from_iterable(
        pf.iter_batches(batch_size=CHUNK_ROWS, row_groups=[g]) for g in range(pf.metadata.num_row_groups)), chunks)
    out = sys.stdout.buffer
    if framed:
        for batch in batches:
            sink = pa.BufferOutputStream()
            with pa.ipc.new_stream(sink, batch.schema) as w:
                w.write_batch(batch)
            buf = sink.getvalue()
            out.write(struct.pack("<q", buf.size))
            out.write(buf)
        out.write(struct.pack("<q", 0))
    else:
        first = next(batches)
        with pa.ipc.new_stream(pa.PythonFile(out, mode="w"), first.schema) as w:
            w.write_batch(first)
            for batch in batches:
                w.write_batch(batch)
    with open("/proc/self/status", encoding="ascii") as f:
        peak = next(int(line.split()[1]) / 1024 for line in f if line.startswith("VmHWM:"))
    out.write(json.dumps({"peak_rss_mb": peak}).encode())
    out.flush()


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
    ap.add_argument("--reader", nargs=5, help=argparse.SUPPRESS)
    a = ap.parse_args()
    global CHUNK_ROWS
    if a.reader:
        CHUNK_ROWS = int(a.reader[4])
        reader(Path(a.reader[0]), int(a.reader[1]), a.reader[2] == "1", a.reader[3].split(","))
        return
    from osteocare.batch.screen import DEFAULT_CHUNK_ROWS

    CHUNK_ROWS = DEFAULT_CHUNK_ROWS
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
                if "main_mb" in r:
                    print(f"    {mode} {chunks} chunks: this process {r['main_mb']:.0f} MB + reader {r['reader_mb']:.0f} MB")
        s, lg = peaks[SHORT], peaks[LONG]
        print(f"  {mode:9s} 1 M rows {', '.join(f'{p:.0f}' for p in s)} | 10 M rows {', '.join(f'{p:.0f}' for p in lg)}"
              f" | largest 10 M / largest 1 M = {max(lg) / max(s):.3f}")


if __name__ == "__main__":
    main()
