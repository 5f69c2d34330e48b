"""Resident memory of `osteocare screen` over a run, against the rows done: does it level off, or creep?

    .venv/bin/python benchmarks/screen_memory.py --workdir /tmp/bench --rows 1000000 10000000 50000000

Each size runs `screen_file` (Parquet in, Parquet out) in its own process; this process samples the child's
resident size (``/proc/PID/statm``, Linux) every ``--interval`` seconds and the rows the child has finished
(its ``on_chunk`` progress, one line per chunk on a pipe). Printed per size: the peak, the largest resident
size in each tenth of the rows, and the largest size in the last tenth less that in the second tenth, per
million rows (on a short run: the allocators still filling up; on a long one: a creep). ``--plot`` draws
resident size against rows done, one line per size, as a PNG. Peaks seen by sampling can miss a spike
between two samples; `benchmarks/screen.py` reports the kernel's high-water mark of each child's own
process image (``VmHWM``, :func:`osteocare.batch.screen.peak_rss_mib`).
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import threading
import time
from pathlib import Path

CHILD = """
import osteocare.batch  # first: it sets Arrow's allocator, which pyarrow reads once at load
import sys
from pathlib import Path
from osteocare.batch.screen import screen_file

done = 0
def on_chunk(n):
    global done
    done += n
    print(done, flush=True)

screen_file(Path(sys.argv[1]), Path(sys.argv[2]), on_chunk=on_chunk)
"""


def trace(src: Path, dst: Path, interval: float) -> list[tuple[int, float]]:
    """(rows done, resident MB) samples of one screening run in a child process."""
    p = subprocess.Popen([sys.executable, "-c", CHILD, str(src), str(dst)], stdout=subprocess.PIPE, text=True)
    done = [0]

    def read() -> None:
        assert p.stdout is not None
        for line in p.stdout:
            done[0] = int(line)

    reader = threading.Thread(target=read, daemon=True)
    reader.start()
    page_mb = os.sysconf("SC_PAGE_SIZE") / 2**20
    samples: list[tuple[int, float]] = []
    with open(f"/proc/{p.pid}/statm") as statm:
        while p.poll() is None:
            try:
                statm.seek(0)
                mb = int(statm.read().split()[1]) * page_mb
                if mb > 0:  # 0: the child has exited (a zombie has no resident pages)
                    samples.append((done[0], mb))
            except (OSError, ValueError, IndexError):  # the child has just exited
                break
            time.sleep(interval)
    reader.join()
    if p.returncode != 0:
        raise SystemExit(f"screen of {src} failed with exit code {p.returncode}")
    return samples


def tenths(samples: list[tuple[int, float]], rows: int) -> list[float]:
    """The largest resident size (MB) in each tenth of the rows (0 where no sample fell)."""
    out = [0.0] * 10
    for done, mb in samples:
        i = min(9, done * 10 // rows)
        out[i] = max(out[i], mb)
    return out


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--rows", type=int, nargs="+", default=[1_000_000, 10_000_000])
    ap.add_argument("--workdir", type=Path, required=True)
    ap.add_argument("--interval", type=float, default=0.01, help="seconds between samples")
    ap.add_argument("--plot", type=Path, default=None, help="PNG of resident size against rows done")
    a = ap.parse_args()
    if not sys.platform.startswith("linux"):
        raise SystemExit("this benchmark reads /proc (Linux only)")
    from osteocare.batch.population import generate

    a.workdir.mkdir(parents=True, exist_ok=True)
    curves: dict[int, list[tuple[int, float]]] = {}
    for n in a.rows:
        src = a.workdir / f"pop-{n}.parquet"
        if not src.exists():
            generate(n, src)
        s = trace(src, a.workdir / f"memory-{n}.parquet", a.interval)
        curves[n] = s
        t = tenths(s, n)
        # tenths without a sample (a short run whose progress jumps a whole tenth at a time) print as "-"
        change = (f"{(t[9] - t[1]) / (0.8 * n / 1e6):+.2f} MB per million rows" if t[1] and t[9]
                  else "- (no sample in one of them: too few chunks)")
        print(f"{n:,} rows: peak {max(mb for _, mb in s):.0f} MB; largest in each tenth of the rows: "
              + " ".join(f"{x:.0f}" if x else "-" for x in t) + f"; last tenth less the second: {change}")
    if a.plot:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt

        fig, ax = plt.subplots(figsize=(8, 4.5))
        for n, s in curves.items():
            ax.plot([d / 1e6 for d, _ in s], [mb for _, mb in s], label=f"{n:,} rows", linewidth=1)
        ax.set_xscale("symlog", linthresh=1)
        ax.set_xlabel("rows done (millions)")
        ax.set_ylabel("resident size (MB)")
        ax.set_title("osteocare screen: resident memory over a run (Parquet in and out)")
        ax.legend()
        ax.grid(alpha=0.3)
        fig.tight_layout()
        fig.savefig(a.plot, dpi=120)
        print(f"plot: {a.plot}")


if __name__ == "__main__":
    main()
