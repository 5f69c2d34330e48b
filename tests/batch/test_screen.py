"""osteocare screen: bad rows flagged with the reason, the rest scored like `assess` scores them."""

from __future__ import annotations

import csv
import datetime as dt
import json
import subprocess
import sys
from pathlib import Path

import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.parquet as pq
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from osteocare.batch.screen import screen_batch, screen_file
from osteocare.batch.strata import OSTA_CALCULATORS, choose_action
from osteocare.core.assessment import Assessment, assess
from osteocare.core.errors import InputError
from osteocare.core.guidelines import available_guidelines
from osteocare.core.records import FLAGS, parse_record

AS_OF = dt.date(2026, 6, 1)
# T-scores and FRAX values on and beside the guidelines' thresholds (T is rounded half away from zero first)
T_EDGES = [-3.5, -3.45, -3.55, -3.0, -3.05, -2.95, -2.5, -2.45, -2.55, -2.44, -1.0, -0.95, -1.05, -1.04]
FRAX_EDGES = [3.0, 2.9, 3.1, 4.5, 4.4, 4.6, 20.0, 19.9, 20.1, 30.0, 29.9, 30.1]

ROWS = """id,sex,age,weight_kg,height_cm,ethnicity,smoking,alcohol,prior_fracture,falls
1,female,65,68,165,white,non_smoker,none,0,0
2,female,250,68,165,white,non_smoker,none,0,0
3,male,70,92,175,,moderate,none,0,0
4,female,25,50,150,,,,,
5,female,70,abc,160,white,,,,1
6,female,70,60,160,martian,,,,
7,female,70,60,160,white,,,,2
,male,70,60,160,,,,,
"""


def _screen(tmp_path: Path, text: str, out_name: str = "out.csv") -> list[dict[str, str]]:
    src = tmp_path / "in.csv"
    src.write_text(text)
    dst = tmp_path / out_name
    screen_file(src, dst, chunk_rows=3)
    with dst.open() as f:
        return list(csv.DictReader(f))


def test_it_flags_each_bad_row_with_field_value_and_range_and_scores_the_rest(tmp_path: Path) -> None:
    rows = {r["id"] or "(none)": r for r in _screen(tmp_path, ROWS)}
    assert float(rows["1"]["qfracture_mof_percent"]) == pytest.approx(4.551261, abs=1e-6)  # reference vector 1
    assert rows["2"]["error"] == "age: 250 is not allowed; expected a value from 0 to 120 years"
    assert rows["2"]["qfracture_mof_percent"] == ""
    assert "not a number" in rows["5"]["error"] and "'abc'" in rows["5"]["error"]
    assert rows["6"]["error"].startswith("ethnicity: 'martian' is not allowed; expected one of white")
    assert rows["7"]["error"] == "falls: 2 is not allowed; expected 0 or 1"
    assert rows["(none)"]["error"].startswith("id: missing")
    assert "age below the model range 30-100" in rows["4"]["warnings"]
    assert rows["4"]["error"] == ""
    assert "ethnicity not recorded: other_asian used" in rows["3"]["warnings"]


def test_a_malformed_file_is_a_clear_error_and_leaves_no_output(tmp_path: Path) -> None:
    src = tmp_path / "in.csv"
    src.write_text('id,sex,age\n1,female,70\n2,"female,70\n')
    out = tmp_path / "out.csv"
    proc = subprocess.run([sys.executable, "-m", "osteocare.cli", "screen", str(src), "--out", str(out)],
                          capture_output=True, text=True)
    assert proc.returncode != 0
    assert "CSV" in proc.stderr
    assert not out.exists()


def test_it_reads_and_writes_parquet(tmp_path: Path) -> None:
    src = tmp_path / "in.parquet"
    pq.write_table(pa.table({"id": ["a", "b"], "sex": ["female", "male"], "age": [65, 70], "ethnicity": ["white", "white"],
                             "bmi": [68 / 1.65**2, 25.0]}), src)
    dst = tmp_path / "out.parquet"
    summary = screen_file(src, dst)
    t = pq.read_table(dst)
    assert summary.rows == 2 and summary.flagged == 0
    assert t.column("qfracture_mof_percent")[0].as_py() == pytest.approx(4.551261, abs=1e-6)


row_st = st.fixed_dictionaries(
    {
        "id": st.text("abc123", min_size=1, max_size=6),
        "sex": st.sampled_from(["female", "male"]),
        "age": st.integers(20, 105),
        "bmi": st.floats(15, 45, allow_nan=False),
        "ethnicity": st.sampled_from(["white", "indian", "other_asian", "chinese", "black_caribbean", "other"]),
        "smoking": st.sampled_from(["non_smoker", "ex_smoker", "light", "moderate", "heavy"]),
        "alcohol": st.sampled_from(["none", "lt1", "1to2", "3to6", "7to9", "gt9"]),
        "years": st.integers(1, 10),
    },
    optional={
        "weight_kg": st.integers(35, 110),
        **{f: st.booleans() for f in FLAGS},
        "femoral_neck_t_score": st.one_of(st.floats(-5, 2).map(lambda x: round(x, 1)), st.sampled_from(T_EDGES)),
        "total_hip_t_score": st.one_of(st.floats(-5, 2).map(lambda x: round(x, 1)), st.sampled_from(T_EDGES)),
        "lumbar_spine_t_score": st.one_of(st.floats(-5, 2).map(lambda x: round(x, 1)), st.sampled_from(T_EDGES)),
        "frax_mof_percent": st.one_of(st.floats(0, 60).map(lambda x: round(x, 1)), st.sampled_from(FRAX_EDGES)),
        "frax_hip_percent": st.one_of(st.floats(0, 30).map(lambda x: round(x, 1)), st.sampled_from(FRAX_EDGES)),
        "glucocorticoid_mg_per_day": st.sampled_from([0.0, 2.5, 5.0, 7.4, 7.5, 10.0]),
    },
)


def _expected_action(a: Assessment, guideline: str) -> tuple[str, str]:
    """The action the screening convention gives for assess's own results."""
    s = a.recommendation["stratum"] if a.recommendation else {}
    bd = a.results.get("bone-density")
    ost = next((a.results[k] for k in OSTA_CALCULATORS if k in a.results), None)
    action, _, reason, _ = choose_action(
        guideline=guideline, stratum=s["stratum"], label=s["label"], treat=s["treat"], status=s["status"],
        stratum_actions={f"{guideline}#{x['rule_id']}" for x in s["action"]}, missing=s["missing"],
        t_known=bd is not None and "lowest_t_score" in bd.values, osta_result=ost)
    return action, reason


@settings(max_examples=60, deadline=None)
@given(st.lists(row_st, min_size=1, max_size=20), st.sampled_from(available_guidelines()))
def test_every_screened_row_equals_assess_on_the_same_facts(rows: list[dict], guideline: str) -> None:
    for r in rows:  # weight with BMI: keep the record consistent (bmi wins, as in the record)
        r.pop("height_cm", None)
        if r.get("frax_hip_percent") is not None and r.get("frax_mof_percent") is not None:  # MOF includes hip
            r["frax_hip_percent"] = min(r["frax_hip_percent"], r["frax_mof_percent"])
    columns = {k: [r.get(k) for r in rows] for k in {k for r in rows for k in r}}
    for f in FLAGS:
        if f in columns:
            columns[f] = [None if v is None else int(v) for v in columns[f]]
    out = screen_batch(pa.RecordBatch.from_pydict(columns), guideline, AS_OF).to_pylist()
    for row, got in zip(rows, out, strict=True):
        a = assess(parse_record(row), guideline=guideline, as_of=AS_OF)
        assert a.recommendation is not None
        s = a.recommendation["stratum"]
        assert (got["stratum"], got["stratum_label"], got["stratum_status"]) == (s["stratum"], s["label"], s["status"])
        assert (got["action"], got["action_reason"]) == _expected_action(a, guideline)
        q = a.results.get("qfracture-2012")
        if q is None:
            assert got["qfracture_mof_percent"] is None
        else:
            assert got["qfracture_mof_percent"] == q.values["major_osteoporotic_fracture_percent"].value
            assert got["qfracture_hip_percent"] == q.values["hip_fracture_percent"].value
        assert got["error"] is None, json.dumps(row)
        bd = a.results.get("bone-density")
        if bd is not None and bd.category in ("normal", "low_bone_mass", "osteoporosis", "severe_osteoporosis"):
            assert got["who_category"] == bd.category
            assert got["lowest_t_score"] == pytest.approx(bd.values["lowest_t_score"].value)
        else:
            assert got["who_category"] is None
        ost = next((r for k, r in a.results.items() if k in ("osta", "ost-men", "ost-us-women")), None)
        if ost is None:
            assert got["osta_category"] is None
        else:
            assert (got["osta_category"], got["osta_index"]) == (ost.category, ost.values["index"].value)
        car = a.results.get("caroc-2010")
        assert got["caroc_category"] == (car.category if car is not None else None)


@pytest.mark.parametrize("threads", [1, 2, 3])
def test_the_threaded_pipeline_gives_the_same_output_as_one_chunk(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                                  threads: int) -> None:
    from osteocare.batch import screen
    from osteocare.batch.population import batches

    seen: list[int] = []
    real_local = screen._local

    def spy(batches_, guideline, as_of, fmt, n):  # type: ignore[no-untyped-def]
        seen.append(n)
        return real_local(batches_, guideline, as_of, fmt, n)

    monkeypatch.setattr(screen, "_local", spy)
    monkeypatch.setattr(screen, "scoring_threads", lambda: 4)  # the default, which threads= overrides
    batch = next(batches(3000, chunk_rows=3000))
    src = tmp_path / "in.parquet"
    pq.write_table(pa.Table.from_batches([batch]), src)
    dst = tmp_path / "out.parquet"
    # 31 chunks through read, score (1: on the calling thread), write threads
    summary = screen_file(src, dst, chunk_rows=97, as_of=AS_OF, threads=threads)
    assert seen == [threads]
    whole = pa.Table.from_batches([screen_batch(batch, None, AS_OF)])
    got = pq.read_table(dst)
    assert summary.rows == 3000
    for name in whole.column_names:
        assert got.column(name).to_pylist() == whole.column(name).to_pylist(), name


@pytest.mark.parametrize(("cores", "threads"), [(1, 1), (2, 1), (3, 2), (5, 4), (64, 4)])
def test_one_scoring_thread_per_core_but_one_up_to_four(cores: int, threads: int) -> None:
    from osteocare.batch.screen import MAX_SCORING_THREADS, scoring_threads

    assert MAX_SCORING_THREADS == 4
    assert scoring_threads(cores) == threads


def test_text_flags_other_than_0_and_1_are_flagged_and_empty_is_0(tmp_path: Path) -> None:
    text = "id,sex,age,bmi,falls,prior_fracture\n1,female,70,25, 1 ,\n2,female,70,25,1.0,0\n3,female,70,25,2,1\n"
    rows = {r["id"]: r for r in _screen(tmp_path, text)}
    assert rows["1"]["error"] == "" and rows["2"]["error"] == ""
    assert rows["1"]["qfracture_mof_percent"] == rows["2"]["qfracture_mof_percent"]
    assert rows["3"]["error"] == "falls: 2 is not allowed; expected 0 or 1"


def test_the_screen_run_caps_the_malloc_arenas_of_the_process_on_glibc(tmp_path: Path) -> None:
    # in a child process: the cap is process-wide and set once
    code = (
        "import ctypes, sys\n"
        "from pathlib import Path\n"
        "import osteocare.batch.screen as s\n"
        "calls = []\n"
        "real = s.tune_malloc\n"
        "s.tune_malloc = lambda *a: calls.append(a) or real(*a)\n"
        f"s.screen_file(Path({str(tmp_path / 'in.csv')!r}), Path({str(tmp_path / 'out.csv')!r}))\n"
        "try:\n"
        "    ctypes.CDLL(None).gnu_get_libc_version\n"
        "    glibc = sys.platform.startswith('linux')\n"
        "except AttributeError:\n"
        "    glibc = False\n"
        "print(len(calls), real() is glibc, real() is glibc)\n"
    )
    (tmp_path / "in.csv").write_text("id,sex,age,bmi\n1,female,70,25\n")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.split() == ["1", "True", "True"]


def _child_env(**extra: str) -> dict[str, str]:
    import os

    from osteocare.batch import ARROW_ALLOCATOR

    env = {k: v for k, v in os.environ.items() if k not in ARROW_ALLOCATOR}
    return {**env, **extra}


_ALLOCATOR_PROBE = (
    "import os, sys\n"
    "import osteocare.batch\n"
    "assert 'pyarrow' not in sys.modules\n"
    "import pyarrow as pa\n"
    "try:\n"
    "    pa.jemalloc_memory_pool()\n"
    "    jemalloc = True\n"
    "except NotImplementedError:\n"
    "    jemalloc = False\n"
    "print(pa.default_memory_pool().backend_name, jemalloc, os.environ.get('JE_ARROW_MALLOC_CONF'))\n"
)


def test_importing_screening_sets_arrows_allocator_before_pyarrow_loads() -> None:
    out = subprocess.run([sys.executable, "-c", _ALLOCATOR_PROBE], capture_output=True, text=True, check=True,
                         env=_child_env())
    backend, jemalloc, conf = out.stdout.split()
    # Arrow's own default is mimalloc: jemalloc here shows that the setting reached Arrow's C++ default pool
    if jemalloc == "True":
        assert backend == "jemalloc"
    assert conf == "narenas:1,muzzy_decay_ms:0"


def test_a_users_arrow_allocator_settings_are_kept() -> None:
    out = subprocess.run([sys.executable, "-c", _ALLOCATOR_PROBE], capture_output=True, text=True, check=True,
                         env=_child_env(ARROW_DEFAULT_MEMORY_POOL="system", JE_ARROW_MALLOC_CONF="narenas:2"))
    backend, _, conf = out.stdout.split()
    assert (backend, conf) == ("system", "narenas:2")


def test_the_allocator_is_left_alone_once_pyarrow_is_loaded() -> None:
    from osteocare.batch import set_arrow_allocator

    env: dict[str, str] = {}
    assert "pyarrow" in sys.modules  # this test module imported it
    assert set_arrow_allocator(env) is False and env == {}


def test_the_allocator_is_set_on_linux_only(monkeypatch: pytest.MonkeyPatch) -> None:
    from osteocare.batch import ARROW_ALLOCATOR, set_arrow_allocator

    monkeypatch.delitem(sys.modules, "pyarrow")  # as before pyarrow loads (restored after the test)
    for platform in ("darwin", "win32"):
        env: dict[str, str] = {}
        assert set_arrow_allocator(env, platform) is False and env == {}
    env = {"JE_ARROW_MALLOC_CONF": "narenas:2"}
    assert set_arrow_allocator(env, "linux") is True
    assert env == {**ARROW_ALLOCATOR, "JE_ARROW_MALLOC_CONF": "narenas:2"}


def _dense(batch: pa.RecordBatch) -> pa.Table:
    import pyarrow.compute as pc

    t = pa.Table.from_batches([batch])
    return pa.table({f.name: pc.cast(t[f.name], f.type.value_type) if pa.types.is_dictionary(f.type) else t[f.name]
                     for f in t.schema})


@pytest.mark.parametrize(("rows", "slice_rows"), [(40, 1), (40, 7), (3000, 1000), (3000, 2999), (3000, 3000),
                                                 (3000, 5000)])
def test_scoring_in_slices_gives_the_rows_of_one_call_on_the_whole_chunk(rows: int, slice_rows: int) -> None:
    from osteocare.batch.population import batches
    from osteocare.batch.screen import score_in_slices

    batch = next(batches(rows, seed=7, chunk_rows=rows))
    day = dt.date(2026, 12, 3)
    whole = screen_batch(batch, as_of=day)
    if rows == 3000:
        assert whole.column("error").null_count < whole.num_rows  # the sample has flagged rows
    sliced = score_in_slices(batch, as_of=day, slice_rows=slice_rows)
    assert sliced.schema == whole.schema
    assert _dense(sliced).equals(_dense(whole))


@pytest.mark.parametrize("with_id", [True, False])
def test_a_chunk_lets_go_of_its_input_once_validated(monkeypatch: pytest.MonkeyPatch, with_id: bool) -> None:
    """The scoring holds only ``id`` of the input (the output's first column), not the whole chunk, and the
    list it was handed in is empty by then; the rows are those of one call on the chunk."""
    import osteocare.batch.screen as screen
    from osteocare.batch.population import batches

    batch = next(batches(3000, seed=11, chunk_rows=3000))
    if not with_id:
        batch = batch.drop_columns(["id"])
    taken, seen = [batch], {}
    real = screen.score_chunk

    def spy(ids: pa.RecordBatch, c: object, **kw: object) -> pa.RecordBatch:
        seen["taken"], seen["columns"] = list(taken), ids.schema.names
        return real(ids, c, **kw)  # type: ignore[arg-type]

    monkeypatch.setattr(screen, "score_chunk", spy)
    out = screen._prepare_taken(taken, None, AS_OF, "parquet")
    assert seen == {"taken": [], "columns": ["id"] if with_id else []}
    assert out.batch is not None
    monkeypatch.undo()
    assert _dense(out.batch).equals(_dense(screen_batch(batch, None, AS_OF)))


@pytest.mark.parametrize("tokens", [1, 8])
def test_the_reading_stages_hold_no_chunk_they_have_handed_on(tokens: int) -> None:
    """Once the consumer has a chunk, neither the token gate (waiting for the next token: ``tokens=1``) nor the
    reader thread's queue keeps it (so the scoring's letting go frees it), while later chunks wait read ahead."""
    import threading
    import time
    import weakref

    import osteocare.batch.screen as screen

    class Chunk:
        pass

    made: list[weakref.ref[Chunk]] = []

    def make() -> Chunk:
        c = Chunk()
        made.append(weakref.ref(c))
        return c

    def source():  # type: ignore[no-untyped-def]
        for _ in range(4):
            yield make()

    closing = threading.Event()
    gen = screen._background(screen._gated(source(), threading.Semaphore(tokens), closing), 2)
    first = next(gen)
    assert made[0]() is first
    del first
    deadline = time.monotonic() + 5
    while made[0]() is not None and time.monotonic() < deadline:
        time.sleep(0.01)
    try:
        assert made[0]() is None
        if tokens > 1:
            assert made[1]() is not None  # read ahead, waiting in the queue
        else:
            assert len(made) == 1  # no token given back: nothing more read
    finally:
        closing.set()  # as screen_file does before closing: the gate stops waiting for a token
        gen.close()


def test_scoring_in_slices_refuses_a_slice_of_no_rows() -> None:
    from osteocare.batch.population import batches
    from osteocare.batch.screen import score_in_slices

    with pytest.raises(InputError, match="slice_rows: 0 is not allowed"):
        score_in_slices(next(batches(10)), slice_rows=0)


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="VmHWM and ru_maxrss across exec: Linux")
def test_peak_memory_of_a_child_is_its_own_not_its_parents() -> None:
    """A process started from a large one: ru_maxrss carries the parent's peak across exec; peak_rss_mib must
    not (the benchmarks report each measurement's own peak)."""
    probe = ("import resource, sys; sys.path[:0] = [p for p in sys.argv[1:]]\n"
             "from osteocare.batch.screen import peak_rss_mib\n"
             "print(peak_rss_mib(), resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)")
    ballast = bytearray(400 << 20)  # 400 MiB touched in this process
    ballast[:: 4096] = b"x" * len(ballast[:: 4096])
    out = subprocess.run([sys.executable, "-c", probe, *sys.path], check=True, capture_output=True, text=True)
    del ballast
    own, inherited = (float(x) for x in out.stdout.split())
    assert inherited > 400  # the kernel's behaviour this guards against: the parent's peak in ru_maxrss
    assert 1 < own < 250  # the child's own: an interpreter with numpy and pyarrow loaded


# --- CSV input read a block at a time ----------------------------------------------------------------------

CSV_CASES = {
    "plain": b"id,sex,age\n1,female,70\n2,male,65\n3,female,80\n",
    "no final newline": b"id,sex,age\n1,female,70\n2,male,65",
    "crlf": b"id,sex,age\r\n1,female,70\r\n2,male,65\r\n",
    "cr only": b"id,sex,age\r1,female,70\r2,male,65\r3,female,80",
    "bom, quotes, blank lines": b'\xef\xbb\xbf"id","sex","age"\n"a,1",female,70\n\n"b ""2""",male,\n\n',
    "long line": b"id,sex,age\n" + b"x" * 500 + b",female,70\n2,male,65\n",
    "header only": b"id,sex,age\n",
    "extra columns": b"id,note,age,sex\n1,anything at all,70,female\n2,,65,male\n",
    "quoted line breaks": (b'id,note,sex,age\n1,"first line\n999,male,50",female,70\n'
                           b'2,"a\r\nb ""q""\rc\n\n",male,65\n3,x,female,80\n'),
    "blank lines before the header": b"\n\r\n\nid,sex,age\n1,female,70\n",
    "bom, then a blank line": b"\xef\xbb\xbf\nid,sex,age\n1,female,70\n",
    "quoted line break in the header": b'id,"no\nte",sex,age\n1,x,female,70\n2,,male,65\n',
}


@pytest.mark.parametrize("name", sorted(CSV_CASES))
@pytest.mark.parametrize("block", [1, 7, 16, 64, 1 << 20])
def test_csv_read_a_block_at_a_time_gives_the_rows_of_arrows_whole_file_reader(
        tmp_path: Path, name: str, block: int) -> None:
    from osteocare.batch.columns import INPUT_COLUMNS
    from osteocare.batch.screen import _csv_batches

    src = tmp_path / "in.csv"
    src.write_bytes(CSV_CASES[name])
    whole_file = pacsv.ParseOptions(newlines_in_values=True)  # the reference: line breaks in values allowed
    names = pacsv.read_csv(src, parse_options=whole_file).column_names
    wanted = [c for c in names if c in INPUT_COLUMNS]
    whole = pacsv.read_csv(src, parse_options=whole_file, convert_options=pacsv.ConvertOptions(
        column_types={c: pa.string() for c in wanted}, strings_can_be_null=True, null_values=[""],
        include_columns=wanted))
    got = list(_csv_batches(src, 1000, block=block))
    assert all(b.schema == whole.schema for b in got)
    assert pa.Table.from_batches(got, whole.schema).equals(whole)
    assert sum(b.num_rows for b in got) == whole.num_rows


@settings(max_examples=60, deadline=None)
@given(rows=st.lists(st.tuples(st.text("ab1,\" \n\r", max_size=8), st.sampled_from(["female", "male", ""]),
                               st.integers(0, 130)), max_size=30),
       block=st.integers(1, 200))
def test_csv_pieces_never_lose_split_or_reorder_a_row(rows: list[tuple[str, str, int]], block: int) -> None:
    import io

    from osteocare.batch.screen import _csv_pieces

    def q(x: str) -> str:
        return '"' + x.replace('"', '""') + '"'

    body = "".join(f"{q(i)},{s},{a}\n" for i, s, a in rows).encode()
    pieces = [bytes(p) for p in _csv_pieces(io.BytesIO(body), block)]
    assert b"".join(pieces) == body
    assert all(p.endswith(b"\n") for p in pieces)  # rows end with \n; \r and \n inside quotes are not cuts
    assert all(p.count(b'"') % 2 == 0 for p in pieces)  # never inside a quoted value


def test_csv_input_is_read_without_holding_blocks_ahead(tmp_path: Path) -> None:
    """Arrow's streaming CSV reader read up to 32 blocks ahead of the parser (a 1 M-row file was held whole);
    the reader holds the block being parsed only."""
    from osteocare.batch.screen import read_batches

    src = tmp_path / "in.csv"
    row = b"123456,female,70,60,160,white,non_smoker,none,0,0," + b"x" * 50 + b"\n"
    with src.open("wb") as f:
        f.write(b"id,sex,age,weight_kg,height_cm,ethnicity,smoking,alcohol,prior_fracture,falls,note\n")
        f.write(row * ((48 << 20) // len(row)))  # 48 MB: 48 blocks of 1 MB (the smallest block)
    pool = pa.default_memory_pool()
    before = pool.bytes_allocated()
    batches = read_batches(src, chunk_rows=1000)
    first = next(batches)
    assert first.num_rows > 1000  # one 1 MB block
    held = pool.bytes_allocated() - before
    batches.close()
    assert held < 8 << 20, f"{held / 2**20:.0f} MB of Arrow memory after one batch of a 48 MB file"


@pytest.mark.parametrize(("text", "message"), [
    (b'id,sex,age\n1,"female,70\n2,male,65\n', "malformed CSV"),  # a quote left open to the end
    (b"id,sex,age,age\n1,female,70,71\n", "column 'age' twice"),
    (b"id,s\xffx,age\n1,female,70\n", "malformed CSV"),  # not UTF-8
    (b'id,sex,age\n1,female,70\n2,"male,65\n3,female,80\n', "is a quote left open"),  # open, not at the start
    (b"", "malformed CSV"),
])
def test_a_malformed_csv_is_an_input_error_naming_the_file(tmp_path: Path, text: bytes, message: str) -> None:
    from osteocare.batch.screen import read_batches

    src = tmp_path / "in.csv"
    src.write_bytes(text)
    with pytest.raises(InputError, match=message) as err:
        list(read_batches(src))
    assert str(src) in str(err.value)


def test_a_quote_left_open_is_refused_before_the_file_is_held_whole(tmp_path: Path,
                                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    import osteocare.batch.screen as screen

    monkeypatch.setattr(screen, "CSV_MAX_LINE_BYTES", 10_000)
    src = tmp_path / "in.csv"
    src.write_bytes(b'id,sex,age\n1,"female,70\n' + b"2,male,65\n" * 100_000)
    with pytest.raises(InputError, match="is a quote left open"):
        list(screen._csv_batches(src, 1000, block=1000))


@pytest.mark.parametrize(("threads", "engine"), [(0, "local"), (65, "local"), (-2, "local"), (True, "local"),
                                                 (2, "dask")])
def test_it_refuses_a_number_of_threads_outside_1_to_64_and_writes_nothing(tmp_path: Path, threads: int,
                                                                           engine: str) -> None:
    src = tmp_path / "in.csv"
    src.write_text(ROWS)
    dst = tmp_path / "out.csv"
    with pytest.raises(InputError) as exc:
        screen_file(src, dst, threads=threads, engine=engine,
                    scheduler="tcp://127.0.0.1:1" if engine == "dask" else None)
    assert exc.value.field == "--threads"
    assert exc.value.value == threads
    assert ("1 to 64" if engine == "local" else "dask") in str(exc.value)
    assert list(tmp_path.iterdir()) == [src]


def test_the_cli_threads_option_is_checked_and_used(tmp_path: Path) -> None:
    src = tmp_path / "in.csv"
    src.write_text(ROWS)
    cmd = [sys.executable, "-m", "osteocare.cli", "screen", str(src), "--no-plot", "--as-of", "2026-06-01"]
    bad = subprocess.run([*cmd, "--out", str(tmp_path / "bad.csv"), "--threads", "0"], capture_output=True, text=True)
    assert bad.returncode == 2
    assert "--threads: 0 is not allowed; expected a whole number from 1 to 64" in " ".join(bad.stderr.split())
    assert not (tmp_path / "bad.csv").exists()
    ok = subprocess.run([*cmd, "--out", str(tmp_path / "one.csv"), "--threads", "1"], capture_output=True, text=True)
    assert ok.returncode == 0, ok.stderr
    with open(tmp_path / "one.csv", newline="") as f:
        assert len(list(csv.DictReader(f))) == len(ROWS.strip().splitlines()) - 1
