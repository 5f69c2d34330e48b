"""Screening throughput by source: a Parquet file, the same patients in a PostgreSQL table, in a DuckDB table.

    .venv/bin/python benchmarks/screen_sources.py --workdir /tmp/bench --rows 1000000

The population is generated (``generate-population``'s generator) into ``WORKDIR/pop-N.parquet`` if it is not
there, loaded into a new table on the PostgreSQL server (``--postgres``, default: the test server,
``OSTEOCARE_TEST_POSTGRES_URL`` or postgresql://postgres@127.0.0.1:5432/test; the table is dropped at the end)
and into ``WORKDIR/pop-N.duckdb``. Each source is screened to Parquet ``--repeat`` times, alternating, each run
in a fresh process; printed: the best rows per second of each, and each table's ratio to the file in the
same run. Loading time is not counted.
"""

from __future__ import annotations

import argparse
import io
import json
import os
import subprocess
import sys
import time
import uuid
from pathlib import Path

CHILD = """
import osteocare.batch  # first: it sets Arrow's allocator, which pyarrow reads once at load
import json, sys, time
from pathlib import Path
from osteocare.batch.population import batches
from osteocare.batch.screen import peak_rss_mib, screen_batch, screen_file
screen_batch(next(batches(1000)))  # warm up, as benchmarks/screen.py: knowledge files and compiled kernels loaded
t = time.perf_counter()
s = screen_file(sys.argv[1], Path(sys.argv[2]), table=sys.argv[3] or None)
print(json.dumps({"rows": s.rows, "seconds": time.perf_counter() - t,
                  "peak_rss_mb": peak_rss_mib()}))
"""


def run(src: str, dst: Path, table: str) -> dict[str, float]:
    out = subprocess.run([sys.executable, "-c", CHILD, src, str(dst), table], check=True, capture_output=True, text=True)
    result: dict[str, float] = json.loads(out.stdout.strip().splitlines()[-1])
    return result


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--workdir", type=Path, default=Path("/tmp/bench"))
    ap.add_argument("--rows", type=int, default=1_000_000)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--postgres", default=os.environ.get("OSTEOCARE_TEST_POSTGRES_URL", "")
                    or "postgresql://postgres@127.0.0.1:5432/test")
    args = ap.parse_args()

    import duckdb
    import psycopg
    import pyarrow as pa
    import pyarrow.csv as pacsv
    import pyarrow.parquet as pq

    from osteocare.batch.population import generate

    args.workdir.mkdir(parents=True, exist_ok=True)
    n = args.rows
    src = args.workdir / f"pop-{n}.parquet"
    if not src.exists():
        generate(n, src)
    duck = args.workdir / f"pop-{n}.duckdb"
    if not duck.exists():
        con = duckdb.connect(str(duck))
        con.execute(f"CREATE TABLE population AS SELECT * FROM read_parquet('{src}')")
        con.close()
    pg_url = args.postgres.replace("postgresql+psycopg://", "postgresql://")
    table = f"bench_population_{uuid.uuid4().hex[:8]}"
    t0 = time.perf_counter()
    with psycopg.connect(pg_url, autocommit=True) as conn:
        schema = pq.read_schema(src)
        cols = ", ".join(f'"{f.name}" ' + ("text" if pa.types.is_string(f.type) else "smallint" if f.type == pa.int8()
                                            else "integer" if pa.types.is_integer(f.type) else "double precision")
                         for f in schema)
        conn.execute(f"CREATE TABLE {table} ({cols})")
        pf = pq.ParquetFile(src)
        with conn.cursor().copy(f"COPY {table} FROM STDIN (FORMAT csv, HEADER true)") as cp:
            for i, batch in enumerate(pf.iter_batches(batch_size=100_000)):
                buf = io.BytesIO()
                pacsv.write_csv(batch, buf, write_options=pacsv.WriteOptions(include_header=i == 0))
                cp.write(buf.getvalue())
        conn.execute(f"ANALYZE {table}")
    print(f"{n:,} rows; loaded into PostgreSQL table {table} in {time.perf_counter() - t0:.1f} s (not counted)")
    sources = {"Parquet file": (str(src), ""), "PostgreSQL table": (pg_url, table),
               "DuckDB table": (str(duck), "population")}
    best: dict[str, float] = {}
    peaks: dict[str, float] = {}
    try:
        for _ in range(args.repeat):
            for name, (where, tbl) in sources.items():
                r = run(where, args.workdir / "sources-out.parquet", tbl)
                assert r["rows"] == n, (name, r)
                best[name] = max(best.get(name, 0.0), r["rows"] / r["seconds"])
                peaks[name] = max(peaks.get(name, 0.0), r["peak_rss_mb"])
    finally:
        with psycopg.connect(pg_url, autocommit=True) as conn:
            conn.execute(f"DROP TABLE IF EXISTS {table}")
    for name in sources:
        ratio = best[name] / best["Parquet file"]
        print(f"  {name:18} {best[name]:12,.0f} rows/s   {ratio:4.2f} x the file   peak {peaks[name]:.0f} MB")


if __name__ == "__main__":
    main()
