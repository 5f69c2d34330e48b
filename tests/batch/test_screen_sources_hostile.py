"""osteocare screen from hostile DATABASE sources and on a misbehaving Dask cluster: what an adversarial review
found (2026-12-07), kept as tests.

A table or option that cannot be read is refused with the option, the value and what is allowed, nothing is
written, and no wait is unbounded (a server that never answers, a locked table, a cluster without workers);
the Dask engine gives the local engine's rows, in its order, whatever the rows hold.
"""

from __future__ import annotations

import datetime as dt
import os
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import duckdb
import psycopg
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from osteocare.batch import screen as screen_mod
from osteocare.batch import sources
from osteocare.batch.screen import read_batches, screen_file
from osteocare.core.errors import InputError
from osteocare.store.testing import fresh_postgres_database

AS_OF = dt.date(2026, 6, 1)
SECRET = "s3cret-Hostile7"


def _cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "osteocare.cli", "screen", *args], capture_output=True, text=True)


def _within(seconds: float, fn: Callable[[], Any]) -> tuple[bool, BaseException | None, float]:
    """Run ``fn`` on a helper thread; (finished within ``seconds``, what it raised, seconds taken). A run that
    would wait for ever makes the test fail instead of hanging the suite."""
    box: list[BaseException | None] = [None]
    start = time.monotonic()

    def run() -> None:
        try:
            fn()
        except BaseException as exc:  # handed to the test
            box[0] = exc

    t = threading.Thread(target=run, daemon=True)
    t.start()
    t.join(seconds)
    return not t.is_alive(), box[0], time.monotonic() - start


# --- PostgreSQL ---------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def pg(postgres_server: None) -> Iterator[str]:
    """A fresh database with tables of hostile names and types; yields its libpq URL."""
    with fresh_postgres_database() as url:
        libpq = url.replace("postgresql+psycopg://", "postgresql://")
        with psycopg.connect(libpq, autocommit=True) as conn:
            conn.execute("CREATE TABLE canary (x int)")
            conn.execute("CREATE TABLE patients (id text, sex text, age int)")
            conn.execute("INSERT INTO patients VALUES ('1', 'female', 70), ('2', 'male', 71)")
            conn.execute('CREATE SCHEMA "My Schema"')
            conn.execute('CREATE TABLE "My Schema"."Pat.ients 2026" (id text, sex text, age int)')
            conn.execute("""INSERT INTO "My Schema"."Pat.ients 2026" VALUES ('q1', 'female', 72)""")
            conn.execute("CREATE TABLE nocols (patient text, gender text, years_old int)")
            conn.execute("CREATE TABLE typed (id int, sex text, age text, bmi numeric, falls text, cvd boolean, "
                         "weight_kg real, height_cm double precision, femoral_neck_t_score double precision, "
                         "years numeric(4,2), total_hip_t_score date)")
            conn.execute("""INSERT INTO typed VALUES
                (1, 'female', '70', 25.5, 'true', NULL, NULL, NULL, NULL, NULL, NULL),
                (2, 'male', ' 71 ', NULL, '0', true, 'Infinity', 170, NULL, NULL, NULL),
                (3, 'female', 'abc', NULL, '1', false, NULL, NULL, NULL, NULL, NULL),
                (4, 'female', '70', 'Infinity', '1', false, NULL, NULL, NULL, NULL, NULL),
                (5, 'female', '70', 'NaN', NULL, NULL, NULL, NULL, NULL, NULL, NULL),
                (6, 'female', '70', 25, NULL, NULL, NULL, NULL, '-Infinity', NULL, NULL),
                (7, 'female', '70', 25, NULL, NULL, NULL, NULL, NULL, 9.5, NULL),
                (8, 'female', '70', 25, NULL, NULL, NULL, NULL, NULL, NULL, '2020-01-01'),
                (9, NULL, NULL, 25, NULL, NULL, NULL, NULL, NULL, NULL, NULL),
                (10, 'female', '70', 25, NULL, NULL, NULL, NULL, -2.6, 10, NULL)""")
            conn.execute("CREATE TABLE padded (id char(6), sex varchar, age smallint, bmi real, "
                         "femoral_neck_t_score real, cancer boolean)")
            conn.execute("INSERT INTO padded VALUES ('A', 'female', 72, 25, -1.05, true), "
                         "('B/1', 'female', 72, 25, -2.45, false), ('C', 'female', 72, 25, -2.55, NULL)")
        yield libpq


@pytest.mark.parametrize("table", ['patients; DROP TABLE canary; --', 'patients"; DROP TABLE canary; --',
                                   '"patients""; DROP TABLE canary; --"', "x.patients; DROP TABLE canary"])
def test_a_table_name_is_quoted_as_a_name_never_run_as_sql(pg: str, tmp_path: Path, table: str) -> None:
    out = tmp_path / "o.parquet"
    with pytest.raises(InputError) as exc:
        screen_file(pg, out, table=table, as_of=AS_OF)
    assert exc.value.field == "--table" and exc.value.value == table
    with psycopg.connect(pg) as conn:
        assert conn.execute("SELECT to_regclass('canary') IS NOT NULL").fetchone() == (True,)
    assert not out.exists()


def test_a_name_with_dots_and_spaces_is_found_when_written_in_double_quotes(pg: str, tmp_path: Path) -> None:
    """Before: a part in double quotes was refused, so a table whose name holds a dot could not be screened."""
    out = tmp_path / "o.parquet"
    screen_file(pg, out, table='"My Schema"."Pat.ients 2026"', as_of=AS_OF)
    assert pq.read_table(out).select(["id", "error"]).to_pylist() == [{"id": "q1", "error": None}]
    assert sources.table_parts('"a""b".c') == ('a"b', "c")
    assert sources.table_parts('we"ird') == ('we"ird',)  # a quote inside an unquoted name is part of it
    for bad in ("My Schema.Pat.ients 2026", '"unclosed', '"a"b', "a..b", "a\x00b", ""):
        with pytest.raises(InputError, match="written in double quotes") as exc:
            sources.table_parts(bad)
        assert exc.value.field == "--table"


def test_a_table_without_the_required_columns_is_refused_naming_the_table_and_the_columns_found(
        pg: str, tmp_path: Path) -> None:
    """Before: the message said only ``--table``, not which table."""
    out = tmp_path / "o.parquet"
    with pytest.raises(InputError) as exc:
        screen_file(pg, out, table="nocols", as_of=AS_OF)
    assert exc.value.field == "--table nocols"
    assert "no column id, sex, age" in str(exc.value) and "'patient', 'gender', 'years_old'" in str(exc.value)
    proc = _cli(pg, "--table", "nocols", "--out", str(out), "--no-plot")
    assert proc.returncode == 2 and "--table nocols" in proc.stderr and "Traceback" not in proc.stderr
    assert not list(tmp_path.iterdir())


def test_columns_of_other_sql_types_flag_their_rows_as_a_file_would(pg: str, tmp_path: Path) -> None:
    out = tmp_path / "o.parquet"
    summary = screen_file(pg, out, table="typed", as_of=AS_OF)
    errors = {r["id"]: r["error"] for r in pq.read_table(out).select(["id", "error"]).to_pylist()}
    assert errors[1] == "falls: 'true' is not a number; expected 0 or 1"  # booleans as text: read as a CSV cell is
    assert errors[2] == "weight_kg: inf is not allowed; expected a value from 20 to 300 kg"
    assert errors[3] == "age: 'abc' is not a number; expected a whole number from 0 to 120 years"
    assert errors[4] == "bmi: 'Infinity' is not a number; expected a number from 10 to 80 kg/m2"  # numeric: its text
    assert errors[5] == "bmi: 'NaN' is not a number; expected a number from 10 to 80 kg/m2"
    assert errors[6].startswith("femoral_neck_t_score: -inf is not allowed")
    assert errors[7] == "years: 9.50 is not allowed; expected whole years"  # numeric(4,2): as its text
    assert errors[8] == ("total_hip_t_score: '2020-01-01' is not a number; expected a number from -8 to 6 "
                         "{T-score}")  # a date: read as its text
    assert errors[9].startswith("sex: missing")
    assert errors[10] is None
    assert summary.rows == 10 and summary.flagged == 9


def test_a_char_id_and_real_t_scores_score_as_assess_on_the_values_as_written(pg: str, tmp_path: Path) -> None:
    """PostgreSQL ``real`` is float32: -1.05 arrived as -1.0499999523 and was rounded to -1.0 (another WHO category);
    a ``char(6)`` id arrived padded with spaces, which assess takes off."""
    from osteocare.core.assessment import assess
    from osteocare.core.records import RecordErrors, parse_record

    out = tmp_path / "o.parquet"
    screen_file(pg, out, table="padded", guideline="bhof-2022", as_of=AS_OF)
    rows = pq.read_table(out).to_pylist()
    assert [r["id"] for r in rows] == ["A", "B/1   ", "C"]  # a refused id is kept as written, to be found
    with pytest.raises(RecordErrors) as exc:
        parse_record({"id": "B/1   ", "sex": "female", "age": 72})
    assert rows[1]["error"] == str(exc.value.errors[0])
    for row, t, cancer in ((rows[0], -1.05, True), (rows[2], -2.55, False)):
        a = assess(parse_record({"id": row["id"], "sex": "female", "age": 72, "bmi": 25.0, "femoral_neck_t_score": t,
                                 "cancer": cancer}), guideline="bhof-2022", as_of=AS_OF)
        assert a.recommendation is not None
        assert row["lowest_t_score"] == a.results["bone-density"].values["lowest_t_score"].value
        assert row["who_category"] == a.results["bone-density"].category
        assert row["stratum"] == a.recommendation["stratum"]["stratum"]
        assert row["qfracture_mof_percent"] == a.results["qfracture-2012"].values[
            "major_osteoporotic_fracture_percent"].value


def test_a_large_table_is_streamed_not_fetched_whole(pg: str) -> None:
    """After the first chunk the server is still sending (its COPY waits on the socket): the rows are not all
    fetched into memory at once."""
    with psycopg.connect(pg, autocommit=True) as conn:
        conn.execute("CREATE TABLE big AS SELECT lpad(g::text, 300, '0') AS id, 'female' AS sex, 70 AS age "
                     "FROM generate_series(1, 300000) g")  # about 100 MB of rows on the wire
    it = read_batches(pg, 1_000, table="big")
    try:
        first = next(it)
        assert first.num_rows == 1_000
        with psycopg.connect(pg) as conn:
            states = conn.execute(
                "SELECT state FROM pg_stat_activity WHERE datname = current_database() "
                "AND pid <> pg_backend_pid() AND query LIKE '%FROM \"big\"%'").fetchall()
        assert states == [("active",)]  # still sending: fetched whole, the query would be over ("idle in transaction")
    finally:
        it.close()  # type: ignore[attr-defined]


def test_a_server_that_never_answers_stops_the_run_after_the_connect_timeout(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A port that takes the connection and never replies: before, the run waited for ever."""
    monkeypatch.setattr(sources, "PG_CONNECT_TIMEOUT_S", 2)
    with socket.socket() as silent:
        silent.bind(("127.0.0.1", 0))
        silent.listen(8)
        url = f"postgresql://clinic:{SECRET}@127.0.0.1:{silent.getsockname()[1]}/registry"
        done, exc, took = _within(30, lambda: screen_file(url, tmp_path / "o.parquet", table="patients"))
    assert done, "the run was still waiting for the server after 30 s"
    assert isinstance(exc, InputError) and exc.field == "input" and took < 20
    assert SECRET not in str(exc) and "timeout" in str(exc).lower()
    assert not list(tmp_path.iterdir())


def test_a_table_locked_by_another_session_stops_the_run_after_the_lock_timeout(
        pg: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Before, a run behind another session's lock (a migration altering the table) waited for ever."""
    monkeypatch.setattr(sources, "PG_LOCK_TIMEOUT_S", 1)
    with psycopg.connect(pg) as holder:
        holder.execute("LOCK TABLE patients IN ACCESS EXCLUSIVE MODE")
        done, exc, _ = _within(30, lambda: screen_file(pg, tmp_path / "o.parquet", table="patients"))
        holder.rollback()
    assert done, "the run was still waiting for the lock after 30 s"
    assert isinstance(exc, InputError) and exc.field == "--table" and "lock timeout" in str(exc)
    assert not list(tmp_path.iterdir())


def test_wrong_credentials_exit_2_without_a_traceback_or_the_password(pg: str, tmp_path: Path) -> None:
    host_db = pg.split("@", 1)[1]
    out = tmp_path / "o.parquet"
    for url in (f"postgresql://no_such_role:{SECRET}@{host_db}", f"postgresql://postgres:{SECRET}@{host_db}_nope"):
        proc = _cli(url, "--table", "patients", "--out", str(out), "--no-plot")
        assert proc.returncode == 2, proc.stderr
        assert "Traceback" not in proc.stderr and SECRET not in proc.stdout + proc.stderr
        assert "input: 'postgresql://" in proc.stderr and "***" in proc.stderr
    assert not list(tmp_path.iterdir())


# --- DuckDB -------------------------------------------------------------------------------------------------


@pytest.fixture()
def duck(tmp_path: Path) -> Path:
    path = tmp_path / "clinic.duckdb"
    con = duckdb.connect(str(path))
    con.execute('CREATE SCHEMA "My Schema"')
    con.execute('CREATE TABLE "My Schema"."Pat.ients" (id VARCHAR, sex VARCHAR, age DOUBLE, falls DOUBLE, '
                "years HUGEINT, femoral_neck_t_score DECIMAL(4,1), frax_mof_percent DATE)")
    con.execute("""INSERT INTO "My Schema"."Pat.ients" VALUES ('1', 'female', 70, NULL, 10, -2.6, NULL),
        ('2', 'male', 'inf'::DOUBLE, NULL, NULL, NULL, NULL), ('3', 'female', 70, 2, NULL, NULL, NULL),
        ('4', 'female', 70, NULL, 99999999999999999999, NULL, NULL),
        ('5', 'female', 70, NULL, NULL, NULL, '2020-01-01')""")
    con.execute("CREATE TABLE nocols (patient VARCHAR)")
    con.close()
    return path


def test_a_duckdb_table_with_dots_in_its_name_and_odd_types(duck: Path, tmp_path: Path) -> None:
    out = tmp_path / "o.parquet"
    screen_file(duck, out, table='"My Schema"."Pat.ients"', as_of=AS_OF)
    errors = [r["error"] for r in pq.read_table(out).select(["error"]).to_pylist()]
    assert errors[0] is None
    assert errors[1] == "age: inf is not allowed; expected a value from 0 to 120 years"
    assert errors[2] == "falls: 2 is not allowed; expected 0 or 1"
    assert errors[3] == "years: 1e+20 is not allowed; expected a value from 1 to 10 years"
    assert errors[4] == "frax_mof_percent: '2020-01-01' is not a number; expected a number from 0 to 100 %"
    with pytest.raises(InputError) as exc:
        screen_file(duck, out, table="nocols")
    assert exc.value.field == "--table nocols"


def test_a_duckdb_file_open_for_writing_elsewhere_is_named_as_such(duck: Path, tmp_path: Path) -> None:
    """Before: 'expected a DuckDB database file' for a file that is one, only locked by its writer."""
    writer = subprocess.Popen([sys.executable, "-c", "import duckdb, sys, time; c = duckdb.connect(sys.argv[1]); "
                               "print('open', flush=True); time.sleep(60)", str(duck)], stdout=subprocess.PIPE, text=True)
    try:
        assert writer.stdout is not None and writer.stdout.readline().strip() == "open"
        out = tmp_path / "o.parquet"
        with pytest.raises(InputError, match="no other program has open for writing") as exc:
            screen_file(duck, out, table="nocols")
        assert exc.value.field == "input"
        proc = _cli(str(duck), "--table", "nocols", "--out", str(out), "--no-plot")
        assert proc.returncode == 2 and "open for writing" in proc.stderr and "Traceback" not in proc.stderr
        assert not out.exists()
    finally:
        writer.kill()
        writer.wait()


# --- Dask -----------------------------------------------------------------------------------------------------


def _small_file(folder: Path) -> Path:
    src = folder / "in.parquet"
    pq.write_table(pa.table({"id": ["1", "2"], "sex": ["female", "male"], "age": [70, 71]}), src)
    return src


@pytest.mark.parametrize("address", ["not an address", "127.0.0.1", "http://127.0.0.1:8786", "tls://127.0.0.1:1"])
def test_a_scheduler_address_dask_cannot_use_is_a_clear_error(tmp_path: Path, address: str) -> None:
    """Before: a ValueError or TypeError from inside Dask (a traceback on the command line)."""
    src = _small_file(tmp_path)
    out = tmp_path / "o.parquet"
    with pytest.raises(InputError, match="expected the address of a running Dask scheduler") as exc:
        screen_file(src, out, engine="dask", scheduler=address)
    assert exc.value.field == "--scheduler" and exc.value.value == address
    assert not out.exists()
    if address == "not an address":
        proc = _cli(str(src), "--out", str(out), "--engine", "dask", "--scheduler", address, "--no-plot")
        assert proc.returncode == 2 and "--scheduler: 'not an address'" in proc.stderr
        assert "Traceback" not in proc.stderr and not out.exists()


def test_an_unreachable_scheduler_is_given_up_after_the_connect_timeout(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(screen_mod, "DASK_CONNECT_TIMEOUT_S", 2)
    src = _small_file(tmp_path)
    done, exc, took = _within(60, lambda: screen_file(src, tmp_path / "o.parquet", engine="dask",
                                                      scheduler="tcp://127.0.0.1:1"))
    assert done and isinstance(exc, InputError) and exc.field == "--scheduler"
    assert took < 15, f"{took:.0f} s: the connect timeout is not the one set"
    assert not (tmp_path / "o.parquet").exists()


@pytest.fixture(scope="module")
def cluster() -> Iterator[Any]:
    distributed = pytest.importorskip("distributed")
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None) as c:
        yield c


def test_a_cluster_without_workers_stops_the_run_instead_of_waiting_for_ever(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    distributed = pytest.importorskip("distributed")
    monkeypatch.setattr(screen_mod, "DASK_NO_WORKER_TIMEOUT_S", 2)
    src = _small_file(tmp_path)
    out = tmp_path / "o.parquet"
    with distributed.LocalCluster(n_workers=0, processes=True, dashboard_address=None) as empty:
        done, exc, _ = _within(45, lambda: screen_file(src, out, engine="dask", scheduler=empty.scheduler_address))
    assert done, "the run was still waiting for a worker after 45 s"
    assert isinstance(exc, InputError) and exc.field == "--scheduler" and "at least one worker" in str(exc)
    assert not out.exists() and not list(tmp_path.glob(".*partial"))


def test_a_chunk_that_fails_on_the_cluster_is_a_clear_error(
        cluster: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A task failing on a worker (say, another osteocare version there): an error naming --scheduler, not the
    worker's traceback."""
    monkeypatch.setattr(screen_mod, "prepare_chunk", lambda *args: 1 / 0)  # a lambda: sent to the workers by value
    src = _small_file(tmp_path)
    out = tmp_path / "o.parquet"
    with pytest.raises(InputError, match=r"a chunk failed there: ZeroDivisionError") as exc:
        screen_file(src, out, engine="dask", scheduler=cluster.scheduler_address)
    assert exc.value.field == "--scheduler"
    assert not out.exists()


def test_a_worker_killed_mid_run_is_replaced_and_the_output_is_the_local_one(cluster: Any, tmp_path: Path) -> None:
    from distributed import Client

    from osteocare.batch.population import generate

    src = tmp_path / "pop.parquet"
    generate(6_000, src, seed=11, chunk_rows=1_000)
    local, remote = tmp_path / "local.parquet", tmp_path / "dask.parquet"
    s_local = screen_file(src, local, chunk_rows=500, as_of=AS_OF)
    with Client(cluster.scheduler_address, set_as_default=False) as client:
        pids = list(client.run(os.getpid).values())
    killed: list[int] = []

    def kill_one(n: int) -> None:
        if not killed:
            killed.append(pids[0])
            os.kill(pids[0], signal.SIGKILL)  # the nanny starts a new worker; its chunks run again

    s_dask = screen_file(src, remote, chunk_rows=500, as_of=AS_OF, engine="dask", scheduler=cluster.scheduler_address,
                         on_chunk=kill_one)
    assert killed
    assert pq.read_table(remote).to_pylist() == pq.read_table(local).to_pylist()
    assert s_dask.as_dict() == s_local.as_dict()


CELLS = st.one_of(st.none(), st.sampled_from(["", " ", "nan", "inf", "-1e400", "abc", "2", "0", "1", "70", "65.5",
                                              "-2.6", "24", "250", "x\x00y", "１"]))
ROW_COLUMNS = ("id", "sex", "age", "bmi", "falls", "femoral_neck_t_score", "frax_mof_percent", "frax_hip_percent",
               "years", "ethnicity")
ROW = st.fixed_dictionaries({
    "id": st.one_of(st.none(), st.sampled_from(["", " ", "a", "P01", "ü"])),
    "sex": st.one_of(st.none(), st.sampled_from(["female", " MALE ", "f", "", "x"])),
    "age": CELLS, "bmi": CELLS, "falls": CELLS, "femoral_neck_t_score": CELLS, "frax_mof_percent": CELLS,
    "frax_hip_percent": CELLS, "years": CELLS, "ethnicity": st.one_of(st.none(), st.sampled_from(["white", "y"])),
})


@settings(max_examples=12, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(rows=st.lists(ROW, min_size=0, max_size=25), chunk_rows=st.integers(1, 7), fmt=st.sampled_from(["parquet", "csv"]))
def test_the_dask_engine_gives_the_local_rows_in_the_local_order_on_hostile_rows(
        cluster: Any, rows: list[dict[str, str | None]], chunk_rows: int, fmt: str) -> None:
    table = pa.table({c: pa.array([r[c] for r in rows], pa.string()) for c in ROW_COLUMNS})
    with tempfile.TemporaryDirectory() as d:
        folder = Path(d)
        pq.write_table(table, folder / "in.parquet")
        local, remote = folder / f"local.{fmt}", folder / f"dask.{fmt}"
        s_local = screen_file(folder / "in.parquet", local, chunk_rows=chunk_rows, as_of=AS_OF)
        s_dask = screen_file(folder / "in.parquet", remote, chunk_rows=chunk_rows, as_of=AS_OF, engine="dask",
                             scheduler=cluster.scheduler_address)
        if fmt == "csv":
            assert remote.read_bytes() == local.read_bytes()
        else:
            assert pq.read_table(remote).to_pylist() == pq.read_table(local).to_pylist()
        assert s_dask.as_dict() == s_local.as_dict()
        assert s_local.rows == len(rows)
