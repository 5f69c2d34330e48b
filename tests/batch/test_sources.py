"""A database table as the screening source: PostgreSQL (the real test server) and DuckDB.

The reference is the same patients in a Parquet file, screened the way the file tests check against `assess`:
a table must give the same output rows, flags and messages included.
"""

from __future__ import annotations

import datetime as dt
import io
import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import duckdb
import psycopg
import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.parquet as pq
import pytest

from osteocare.batch.population import batches
from osteocare.batch.screen import count_rows, read_batches, screen_file
from osteocare.batch.sources import describe, rechunk
from osteocare.core.errors import InputError
from osteocare.store.testing import fresh_postgres_database

AS_OF = dt.date(2026, 6, 1)
ROWS = 6_000
BOOL_FLAGS = ("prior_fracture", "falls", "corticosteroids", "cvd", "parental_osteoporosis")  # boolean in the tables
NUMERIC_T = "lumbar_spine_t_score"  # a NUMERIC / DECIMAL column in the tables


def _patients() -> pa.Table:
    """Generated patients (some with a bad sex, as generated) and three rows with bad values of our own."""
    t = pa.Table.from_batches(list(batches(ROWS, seed=7)))
    extra = t.slice(0, 3).to_pylist()
    extra[0].update(id="bad-age", age=250)
    extra[1].update(id="bad-flag", cancer=2)  # a smallint flag column in PostgreSQL: 2 is not 0/1
    extra[2].update(id="no-sex", sex=None)
    rows = pa.Table.from_pylist(extra, schema=t.schema)
    t = pa.concat_tables([t, rows]).combine_chunks()
    # empty flags in every seventh row of the boolean columns (empty = 0, as in a file)
    for name in BOOL_FLAGS:
        vals = [None if i % 7 == 3 else v for i, v in enumerate(t[name].to_pylist())]
        t = t.set_column(t.schema.get_field_index(name), name, pa.array(vals, t.schema.field(name).type))
    # the reference file: booleans as 0/1 and the T-score rounded to one decimal, as the tables hold them
    return t.set_column(t.schema.get_field_index(NUMERIC_T), NUMERIC_T,
                        pa.array([None if v is None else round(v, 1) for v in t[NUMERIC_T].to_pylist()], pa.float64()))


@pytest.fixture(scope="module")
def patients() -> pa.Table:
    return _patients()


@pytest.fixture(scope="module")
def reference(patients: pa.Table, tmp_path_factory: pytest.TempPathFactory) -> pa.Table:
    folder = tmp_path_factory.mktemp("reference")
    pq.write_table(patients, folder / "in.parquet")
    screen_file(folder / "in.parquet", folder / "out.parquet", as_of=AS_OF)
    out = pq.read_table(folder / "out.parquet")
    assert out.num_rows == patients.num_rows
    return out


def _pg_type(field: pa.Field) -> str:
    if field.name in BOOL_FLAGS:
        return "boolean"
    if field.name == NUMERIC_T:
        return "numeric(4,1)"
    if pa.types.is_string(field.type):
        return "text"
    if pa.types.is_integer(field.type):
        return "smallint" if field.type.bit_width <= 16 else "integer"
    return "double precision"


@pytest.fixture(scope="module")
def pg_table(postgres_server: None, patients: pa.Table) -> Iterator[str]:
    """A fresh database with the patients in table screening.patients (booleans, numeric, text, numbers) and
    one extra column the screen must ignore; yields the database URL."""
    with fresh_postgres_database() as url:
        libpq = url.replace("postgresql+psycopg://", "postgresql://")
        with psycopg.connect(libpq, autocommit=True) as conn:
            # parallel plans even for this small table, so that a screen that allowed them would get the
            # workers' rows in a varying order (the screen turns them off)
            db = conn.execute("SELECT current_database()").fetchone()[0]  # type: ignore[index]
            for setting in ("parallel_setup_cost", "parallel_tuple_cost", "min_parallel_table_scan_size"):
                conn.execute(f'ALTER DATABASE "{db}" SET {setting} = 0')
            cols = ", ".join(f'"{f.name}" {_pg_type(f)}' for f in patients.schema)
            conn.execute("CREATE SCHEMA screening")
            conn.execute(f"CREATE TABLE screening.patients ({cols}, ward text DEFAULT 'B2')")
            cast = patients
            for name in BOOL_FLAGS:
                i = cast.schema.get_field_index(name)
                cast = cast.set_column(i, name, pa.array([None if v is None else v == 1 for v in cast[name].to_pylist()]))
            buf = io.BytesIO()
            pacsv.write_csv(cast, buf)
            names = ", ".join(f'"{n}"' for n in patients.schema.names)
            with conn.cursor().copy(f"COPY screening.patients ({names}) FROM STDIN (FORMAT csv, HEADER true)") as cp:
                cp.write(buf.getvalue())
        yield libpq


@pytest.fixture(scope="module")
def duck_file(patients: pa.Table, tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("duck") / "clinic.duckdb"
    con = duckdb.connect(str(path))
    try:
        con.register("patients_arrow", patients)
        bools = {n: f'("{n}" = 1) AS "{n}"' for n in BOOL_FLAGS}
        cols = ", ".join(bools.get(n, f'CAST("{n}" AS DECIMAL(4,1)) AS "{n}"' if n == NUMERIC_T else f'"{n}"')
                         for n in patients.schema.names)
        con.execute(f"CREATE TABLE population AS SELECT {cols}, 'B2' AS ward FROM patients_arrow")
        types = dict(con.sql("SELECT column_name, data_type FROM information_schema.columns "
                             "WHERE table_name = 'population'").fetchall())
        assert types["falls"] == "BOOLEAN" and types[NUMERIC_T].startswith("DECIMAL")
    finally:
        con.close()
    return path


def _by_id(t: pa.Table) -> pa.Table:
    return t.sort_by("id")


def test_a_postgresql_table_gives_the_rows_its_patients_give_from_a_parquet_file(
        pg_table: str, reference: pa.Table, tmp_path: Path) -> None:
    out = tmp_path / "out.parquet"
    summary = screen_file(pg_table, out, table="screening.patients", as_of=AS_OF, chunk_rows=2_000)
    got = pq.read_table(out)
    assert got.schema.names == reference.schema.names  # the extra column "ward" is ignored, as in a file
    assert _by_id(got).to_pylist() == _by_id(reference).to_pylist()
    errors = {r["id"]: r["error"] for r in got.select(["id", "error"]).to_pylist()}
    assert errors["bad-age"] == "age: 250 is not allowed; expected a value from 0 to 120 years"
    assert errors["bad-flag"] == "cancer: 2 is not allowed; expected 0 or 1"
    assert errors["no-sex"].startswith("sex: missing")
    assert summary.rows == reference.num_rows and summary.flagged >= 3


def test_a_postgresql_table_is_read_in_chunks_of_exactly_chunk_rows_in_stored_order(pg_table: str, tmp_path: Path) -> None:
    sizes = [b.num_rows for b in read_batches(pg_table, 2_000, table="screening.patients")]
    assert sizes == [2_000, 2_000, 2_000, 3]
    with psycopg.connect(pg_table) as conn:
        plan = "\n".join(r[0] for r in conn.execute("EXPLAIN SELECT * FROM screening.patients").fetchall())
        stored = [r[0] for r in conn.execute("SELECT id FROM screening.patients ORDER BY ctid").fetchall()]
    assert "Gather" in plan  # the database would run the scan in parallel (fixture settings)
    assert count_rows(pg_table, "screening.patients") == ROWS + 3
    for run in range(3):
        out = tmp_path / f"{run}.parquet"
        screen_file(pg_table, out, table="screening.patients", as_of=AS_OF)
        assert pq.read_table(out)["id"].to_pylist() == stored


def test_a_missing_postgresql_table_is_a_clear_error_and_leaves_no_output(pg_table: str, tmp_path: Path) -> None:
    out = tmp_path / "out.parquet"
    with pytest.raises(InputError, match=r"--table: 'screening\.nope' is not allowed; expected a table or view"):
        screen_file(pg_table, out, table="screening.nope", as_of=AS_OF)
    assert not out.exists() and not list(tmp_path.iterdir())
    proc = subprocess.run([sys.executable, "-m", "osteocare.cli", "screen", pg_table, "--table", "nope",
                           "--out", str(out)], capture_output=True, text=True)
    assert proc.returncode != 0 and "--table: 'nope'" in proc.stderr
    assert not out.exists()


def test_an_unreachable_server_is_named_without_its_password(tmp_path: Path) -> None:
    url = "postgresql://clinic:s3cret-pw@127.0.0.1:1/screening"
    with pytest.raises(InputError) as exc:
        screen_file(url, tmp_path / "out.parquet", table="patients")
    assert "127.0.0.1:1" in str(exc.value) and "s3cret-pw" not in str(exc.value)
    assert describe(url) == "postgresql://clinic:***@127.0.0.1:1/screening"


def test_the_cli_screens_a_postgresql_table_and_records_the_source_without_a_password(
        pg_table: str, reference: pa.Table, tmp_path: Path) -> None:
    out = tmp_path / "s.parquet"
    proc = subprocess.run([sys.executable, "-m", "osteocare.cli", "screen", pg_table, "--table", "screening.patients",
                           "--out", str(out), "--as-of", AS_OF.isoformat(), "--no-plot"], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    assert pq.read_table(out).num_rows == reference.num_rows
    about = (tmp_path / "s.parquet.about.json").read_text()
    assert '"table": "screening.patients"' in about and '"input": "postgresql://' in about


def test_a_duckdb_table_gives_the_rows_of_the_parquet_file_in_the_same_order(
        duck_file: Path, reference: pa.Table, tmp_path: Path) -> None:
    out = tmp_path / "out.csv"
    screen_file(duck_file, out, table="population", as_of=AS_OF, chunk_rows=2_500)
    text = pacsv.ConvertOptions(column_types={"id": pa.string(), "error": pa.string()}, strings_can_be_null=True)
    got = pacsv.read_csv(out, convert_options=text)
    assert got.select(["id", "error"]).to_pylist() == reference.select(["id", "error"]).to_pylist()  # insertion order
    out_pq = tmp_path / "out.parquet"
    screen_file(duck_file, out_pq, table="population", as_of=AS_OF)
    assert pq.read_table(out_pq).to_pylist() == reference.to_pylist()
    assert count_rows(duck_file, "population") == ROWS + 3
    assert [b.num_rows for b in read_batches(duck_file, 2_500, table="population")] == [2_500, 2_500, 1_003]


@pytest.mark.parametrize(("table", "message"), [
    ("nope", "--table: 'nope' is not allowed; expected a table or view in that DuckDB file"),
    (None, "--table: '(none given)' is not allowed; expected the name of the table"),
    ("a.b.c", "--table: 'a.b.c' is not allowed; expected a table name, or schema.table"),
])
def test_a_bad_duckdb_table_is_a_clear_error(duck_file: Path, tmp_path: Path, table: str | None, message: str) -> None:
    out = tmp_path / "out.parquet"
    with pytest.raises(InputError, match=re.escape(message)):
        screen_file(duck_file, out, table=table)
    assert not out.exists()


def test_a_file_that_is_not_a_duckdb_database_and_a_table_for_a_file_are_clear_errors(tmp_path: Path) -> None:
    junk = tmp_path / "junk.duckdb"
    junk.write_text("id,sex\n")
    with pytest.raises(InputError, match="expected a DuckDB database file"):
        screen_file(junk, tmp_path / "o.parquet", table="t")
    with pytest.raises(InputError, match="expected an existing DuckDB database file"):
        screen_file(tmp_path / "missing.duckdb", tmp_path / "o.parquet", table="t")
    csv = tmp_path / "in.csv"
    csv.write_text("id,sex,age\n1,female,70\n")
    proc = subprocess.run([sys.executable, "-m", "osteocare.cli", "screen", str(csv), "--table", "t",
                           "--out", str(tmp_path / "o.csv")], capture_output=True, text=True)
    assert proc.returncode != 0 and "no --table for a CSV or Parquet file" in proc.stderr
    assert not (tmp_path / "o.csv").exists()


@pytest.mark.parametrize("sizes", [[7], [3, 4], [1, 1, 1, 1, 1, 1, 1], [10], [2, 0, 5, 3]])
@pytest.mark.parametrize("rows", [1, 3, 4, 10])
def test_rechunk_gives_the_same_rows_in_batches_of_the_size_asked(sizes: list[int], rows: int) -> None:
    start, parts = 0, []
    for n in sizes:
        parts.append(pa.record_batch({"i": list(range(start, start + n))}))
        start += n
    out = list(rechunk(parts, rows))
    assert [i for b in out for i in b.column("i").to_pylist()] == list(range(start))
    assert all(b.num_rows == rows for b in out[:-1]) and 0 < out[-1].num_rows <= rows


def test_other_postgresql_types_are_read_as_text(pg_table: str, reference: pa.Table, tmp_path: Path) -> None:
    """A uuid id, an enum sex, a date beside them: read as their text, not a crash."""
    with psycopg.connect(pg_table, autocommit=True) as conn:
        conn.execute("CREATE TYPE screening.sex AS ENUM ('female', 'male')")
        conn.execute("CREATE TABLE screening.typed AS SELECT gen_random_uuid() AS id, sex::screening.sex AS sex, "
                     "age, weight_kg, height_cm, falls, current_date AS seen, id AS old_id "
                     "FROM screening.patients WHERE sex IN ('female', 'male') LIMIT 50")
        rows = conn.execute("SELECT id::text, old_id FROM screening.typed").fetchall()
    out = tmp_path / "typed.parquet"
    screen_file(pg_table, out, table="screening.typed", as_of=AS_OF)
    got = pq.read_table(out)
    assert got["id"].to_pylist() == [r[0] for r in rows]
    assert got["error"].null_count == 50


@pytest.mark.parametrize("form", ["user:password@", "?password=", "unencoded @ in the password"])
def test_a_password_is_never_shown_or_recorded(pg_table: str, tmp_path: Path, form: str) -> None:
    """The test server trusts every connection, so a password in the URL is accepted and ignored."""
    secret = "s3cret-Pw9"
    host_db = pg_table.split("@", 1)[1]
    url = {"user:password@": f"postgresql://postgres:{secret}@{host_db}",
           "?password=": f"postgresql://postgres@{host_db}?password={secret}",
           "unencoded @ in the password": f"postgresql://postgres:p@{secret}@{host_db}"}[form]
    for table in ("screening.patients", "screening.nope"):
        out = tmp_path / f"{table}.parquet"
        proc = subprocess.run([sys.executable, "-m", "osteocare.cli", "screen", url, "--table", table, "--out", str(out),
                               "--as-of", AS_OF.isoformat(), "--no-plot"], capture_output=True, text=True)
        assert secret not in proc.stdout + proc.stderr
        about = tmp_path / f"{table}.parquet.about.json"
        if about.exists():
            assert secret not in about.read_text()
    unreachable = url.replace(host_db.split("/", 1)[0], "127.0.0.1:1")
    with pytest.raises(InputError) as exc:
        screen_file(unreachable, tmp_path / "o.parquet", table="patients")
    assert secret not in str(exc.value) and "127.0.0.1" in str(exc.value)


def _other_sessions(url: str) -> list[tuple[str, str]]:
    with psycopg.connect(url) as conn:
        return conn.execute("SELECT state, left(query, 40) FROM pg_stat_activity "  # type: ignore[return-value]
                            "WHERE datname = current_database() AND pid <> pg_backend_pid()").fetchall()


def test_a_run_that_fails_part_way_closes_its_connection_at_once(pg_table: str, tmp_path: Path) -> None:
    def boom(n: int) -> None:
        raise RuntimeError("stopped by the caller")

    with pytest.raises(RuntimeError) as kept:  # the exception (and its traceback) is kept alive
        screen_file(pg_table, tmp_path / "o.parquet", table="screening.patients", chunk_rows=500, on_chunk=boom)
    assert kept.value is not None
    assert _other_sessions(pg_table) == []
    assert not (tmp_path / "o.parquet").exists()


def test_a_duckdb_run_that_fails_part_way_releases_the_file(duck_file: Path, tmp_path: Path) -> None:
    def boom(n: int) -> None:
        raise RuntimeError("stopped by the caller")

    with pytest.raises(RuntimeError) as kept:
        screen_file(duck_file, tmp_path / "o.parquet", table="population", chunk_rows=500, on_chunk=boom)
    assert kept.value is not None
    duckdb.connect(str(duck_file)).close()  # read-write in this process: only once the read-only one is closed


def test_an_error_while_the_rows_stream_in_is_a_clear_error(pg_table: str, tmp_path: Path) -> None:
    with psycopg.connect(pg_table, autocommit=True) as conn:
        conn.execute("CREATE VIEW screening.broken AS SELECT id, sex, "
                     "age / (CASE WHEN id = 'P000004000' THEN 0 ELSE 1 END) AS age FROM screening.patients")
    out = tmp_path / "o.parquet"
    with pytest.raises(InputError, match=r"--table: 'screening\.broken' is not allowed; .*division by zero"):
        screen_file(pg_table, out, table="screening.broken")
    proc = subprocess.run([sys.executable, "-m", "osteocare.cli", "screen", pg_table, "--table", "screening.broken",
                           "--out", str(out)], capture_output=True, text=True)
    assert proc.returncode != 0 and "division by zero" in proc.stderr and "Traceback" not in proc.stderr
    assert not out.exists()


def test_empty_boolean_flags_in_a_parquet_file_count_as_0(tmp_path: Path) -> None:
    src = tmp_path / "in.parquet"
    pq.write_table(pa.table({"id": ["a", "b", "c", "d"], "sex": ["female"] * 4, "age": [70] * 4, "bmi": [24.0] * 4,
                             "falls": pa.array([None, False, True, True]),
                             "prior_fracture": pa.array([True, True, None, False])}), src)
    screen_file(src, tmp_path / "o.parquet", as_of=AS_OF)
    a, b, c, d = pq.read_table(tmp_path / "o.parquet").to_pylist()
    assert [r["error"] for r in (a, b, c, d)] == [None] * 4
    assert a["qfracture_mof_percent"] == b["qfracture_mof_percent"]  # empty = 0 = False
    assert c["qfracture_mof_percent"] == d["qfracture_mof_percent"]
    assert a["qfracture_mof_percent"] != c["qfracture_mof_percent"]
