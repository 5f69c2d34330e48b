"""osteocare screen: what a review found on 2026-12-07 (afternoon), kept as tests.

Each screened row must equal ``assess`` on the same facts as they were written (float32 and decimal columns,
ids, columns written differently); a bad row is flagged with parse_record's reason and never stops the run; a
file that cannot be read is an error naming it (exit 2, nothing left behind).
"""

from __future__ import annotations

import csv
import datetime as dt
import decimal
import json
import subprocess
import sys
from collections import Counter
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.parquet as pq
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from osteocare.batch.screen import screen_batch, screen_file
from osteocare.core.assessment import assess
from osteocare.core.errors import InputError
from osteocare.core.limits import limit
from osteocare.core.records import RecordErrors, parse_record

AS_OF = dt.date(2026, 6, 1)
GUIDELINE = "bhof-2022"


def _cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "osteocare.cli", *args], capture_output=True, text=True)


def _rows(path: Path) -> list[dict[str, object]]:
    if path.suffix == ".csv":
        with path.open(newline="") as f:
            return list(csv.DictReader(f))
    return pq.read_table(path).to_pylist()


def _assessed(facts: dict[str, object]) -> dict[str, object]:
    """What ``assess`` gives for ``facts`` (a record), in the screening output's terms."""
    a = assess(parse_record(facts), guideline=GUIDELINE, as_of=AS_OF)
    bd = a.results.get("bone-density")
    assert a.recommendation is not None
    return {"lowest_t_score": bd.values["lowest_t_score"].value if bd and "lowest_t_score" in bd.values else None,
            "who_category": bd.category if bd and "lowest_t_score" in bd.values else None,
            "stratum": a.recommendation["stratum"]["stratum"]}


def _refusal(facts: dict[str, object]) -> str:
    """parse_record's first message for ``facts``."""
    with pytest.raises(RecordErrors) as exc:
        parse_record(facts)
    return str(exc.value.errors[0])


# --- 1. float32, float16 and decimal columns mean the value as written --------------------------------------

T_AS_WRITTEN = ["-1.05", "-2.45", "-2.55", "-1.04", "-0.95", "-3.05", "-2.5", "-1.15", "-3.45", "0.05"]


@pytest.mark.parametrize("kind", ["float32", "float16", "decimal", "duckdb REAL", "duckdb DECIMAL"])
def test_narrow_float_and_decimal_t_scores_score_as_assess_on_the_value_as_written(tmp_path: Path, kind: str) -> None:
    values = T_AS_WRITTEN
    if kind == "float16":  # float16 holds 3 significant digits: values it can tell apart
        values = ["-1.05", "-2.45", "-2.55", "-0.95", "-3.05", "-1.15"]
    n = len(values)
    base = {"id": [f"P{i}" for i in range(n)], "sex": ["female"] * n, "age": [72] * n, "bmi": [25.0] * n}
    if kind.startswith("duckdb"):
        duckdb = pytest.importorskip("duckdb")
        src = tmp_path / "db.duckdb"
        con = duckdb.connect(str(src))
        sql_type = "REAL" if kind.endswith("REAL") else "DECIMAL(4,2)"
        con.execute(f"CREATE TABLE p (id VARCHAR, sex VARCHAR, age INTEGER, bmi DOUBLE, femoral_neck_t_score {sql_type})")
        con.executemany("INSERT INTO p VALUES (?, ?, ?, ?, ?)",
                        [[f"P{i}", "female", 72, 25.0, v] for i, v in enumerate(values)])
        con.close()
        dst = tmp_path / "out.parquet"
        screen_file(src, dst, table="p", guideline=GUIDELINE, as_of=AS_OF)
    else:
        if kind == "decimal":
            col = pa.array([decimal.Decimal(v) for v in values], pa.decimal128(4, 2))
        else:
            col = pa.array(np.array([float(v) for v in values], dtype=np.float32 if kind == "float32" else np.float16))
        src = tmp_path / "in.parquet"
        pq.write_table(pa.table({**base, "femoral_neck_t_score": col}), src)
        dst = tmp_path / "out.parquet"
        screen_file(src, dst, guideline=GUIDELINE, as_of=AS_OF)
    for v, got in zip(values, _rows(dst), strict=True):
        want = _assessed({"id": "x", "sex": "female", "age": 72, "bmi": 25.0, "femoral_neck_t_score": float(v)})
        assert {k: got[k] for k in want} == want, v


def test_a_decimal_is_read_as_the_nearest_float_to_its_text() -> None:
    # Arrow's decimal -> float cast is off by one unit in the last place for these (e.g. -13309.000000000002)
    texts = ["-13309", "422626.3", "-823.579", "-999.3", "-98.74", "-9.9964", "-1.05"]
    batch = pa.RecordBatch.from_pydict({
        "id": [str(i) for i in range(len(texts))], "sex": ["female"] * len(texts), "age": [70] * len(texts),
        "bmi": pa.array([decimal.Decimal(t) for t in texts], pa.decimal128(12, 4))})
    from osteocare.batch.columns import read_columns

    assert read_columns(batch).bmi.tolist() == [float(t) for t in texts]


# --- 2. contract columns written differently; units ---------------------------------------------------------


@pytest.mark.parametrize("fmt", ["csv", "parquet"])
def test_a_contract_column_written_differently_is_refused_naming_what_it_would_be_read_as(tmp_path: Path,
                                                                                          fmt: str) -> None:
    names = ["id", "sex", "age", "BMI", "Femoral_Neck_T_Score", "frax_mof_percent "]
    src = tmp_path / f"in.{fmt}"
    if fmt == "csv":
        src.write_text(",".join(names) + "\nA,female,72,27.5,-3.1,25\n")
    else:
        pq.write_table(pa.Table.from_arrays([pa.array([v]) for v in ["A", "female", 72, 27.5, -3.1, 25.0]],
                                            names=names), src)
    out = tmp_path / "out.csv"
    proc = _cli("screen", str(src), "--out", str(out), "--no-plot")
    assert proc.returncode == 2, proc.stderr
    text = " ".join(proc.stderr.split())
    assert "Traceback" not in proc.stderr
    for name, key in (("BMI", "bmi"), ("Femoral_Neck_T_Score", "femoral_neck_t_score"),
                      ("frax_mof_percent ", "frax_mof_percent")):
        assert f"{name!r} would be read as {key!r}" in text
    assert sorted(p.name for p in tmp_path.iterdir()) == [src.name]


def test_a_column_also_written_in_contract_form_is_refused_too(tmp_path: Path) -> None:
    src = tmp_path / "in.csv"
    src.write_text("id,sex,age,bmi,BMI\nA,female,72,27.5,30\n")
    with pytest.raises(InputError, match="'BMI' would be read as 'bmi', which is also a column"):
        screen_file(src, tmp_path / "out.csv", as_of=AS_OF)


def test_a_column_in_another_unit_is_not_read_and_the_run_says_so(tmp_path: Path) -> None:
    src, dst = tmp_path / "in.csv", tmp_path / "out.csv"
    src.write_text("id,sex,age,bmi,weight_lb,height_m\nA,female,72,27.5,150,1.6\n")
    summary = screen_file(src, dst, guideline=GUIDELINE, as_of=AS_OF)
    notes = " ".join(summary.input_notes)
    assert "'weight_lb' is not read" in notes and "'weight_kg', in kg" in notes
    assert "'height_m' is not read" in notes and "'height_cm', in cm" in notes
    (row,) = _rows(dst)
    assert row["osta_index"] == ""  # OSTA needs weight_kg: nothing was converted from pounds
    proc = _cli("screen", str(src), "--out", str(dst), "--no-plot", "--as-of", "2026-06-01")
    assert proc.returncode == 0, proc.stderr
    assert "warning: column 'weight_lb' is not read" in " ".join(proc.stderr.split())
    about = json.loads((tmp_path / "out.csv.about.json").read_text())
    assert len(about["summary"]["input_notes"]) == 2


# --- 3. ids ---------------------------------------------------------------------------------------------

REFUSED_IDS = ["P/1", "..", ".", "a?b", "x" * 80, "a\nb", "P\u202e1", "P#2", "100%", "a\\b", "P\x001", "\x1c"]


@pytest.mark.parametrize("fmt", ["csv", "parquet"])
def test_ids_the_record_refuses_are_flagged_with_its_message(tmp_path: Path, fmt: str) -> None:
    ids = [*REFUSED_IDS, "P1", "x" * 64, "Nguyễn Văn A", " P5 ", "\u3000P6"]
    src = tmp_path / f"in.{fmt}"
    table = pa.table({"id": ids, "sex": ["female"] * len(ids), "age": [70] * len(ids), "bmi": [25.0] * len(ids)})
    if fmt == "csv":
        pacsv.write_csv(table, src)
    else:
        pq.write_table(table, src)
    dst = tmp_path / "out.parquet"
    summary = screen_file(src, dst, as_of=AS_OF, chunk_rows=3)
    rows = _rows(dst)
    for written, row in zip(ids, rows, strict=True):
        facts = {"id": written, "sex": "female", "age": 70, "bmi": 25.0}
        if written in REFUSED_IDS:
            assert row["error"] == _refusal(facts), repr(written)
            assert row["id"] == written and row["qfracture_mof_percent"] is None
        else:
            assert row["error"] is None, row["error"]
            assert row["id"] == parse_record(facts).id  # as assess reads it: ' P5 ' -> 'P5'
    assert summary.flag_reasons == {"id": len(REFUSED_IDS)}


def test_a_padded_char_id_from_a_database_is_written_as_assess_reads_it(tmp_path: Path) -> None:
    duckdb = pytest.importorskip("duckdb")
    src = tmp_path / "db.duckdb"
    con = duckdb.connect(str(src))
    con.execute("CREATE TABLE p (id VARCHAR, sex VARCHAR, age INTEGER)")
    con.execute("INSERT INTO p VALUES ('A     ', 'female', 70), ('  B', 'male', 71), ('C', 'male', 72)")
    con.close()
    dst = tmp_path / "out.parquet"
    screen_file(src, dst, table="p", as_of=AS_OF)
    assert [r["id"] for r in _rows(dst)] == ["A", "B", "C"]
    assert all(r["error"] is None for r in _rows(dst))


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(ids=st.lists(st.one_of(st.sampled_from(["P1", "P2", "P3", "0042", "42", "é", ""]), st.none()), max_size=40),
       chunk=st.integers(1, 7), fmt=st.sampled_from(["csv", "parquet"]))
def test_repeated_ids_are_counted_in_the_summary_whatever_the_chunks(tmp_path: Path, ids: list[str | None],
                                                                     chunk: int, fmt: str) -> None:
    n = len(ids)
    src, dst = tmp_path / "in.parquet", tmp_path / f"out.{fmt}"
    pq.write_table(pa.table({"id": pa.array(ids, pa.string()), "sex": ["female"] * n, "age": [70] * n}), src)
    summary = screen_file(src, dst, as_of=AS_OF, chunk_rows=chunk)
    seen: dict[str, int] = {}
    expected = []
    for i, v in enumerate(ids):
        if v is None:
            continue
        if v in seen:
            expected.append((i + 1, seen[v] + 1, v))
        else:
            seen[v] = i
    assert summary.repeated_ids == len(expected)
    assert summary.repeated_examples == expected[:5]
    assert summary.scored + summary.flagged == n  # repeated ids are scored; flagged only for their own reasons
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]  # no partition files left


def test_the_command_reports_repeated_ids_and_records_them(tmp_path: Path) -> None:
    src, dst = tmp_path / "in.csv", tmp_path / "out.csv"
    src.write_text("id,sex,age\nP7,female,70\nP8,male,71\nP7,female,70\n")
    proc = _cli("screen", str(src), "--out", str(dst), "--no-plot")
    assert proc.returncode == 0, proc.stderr
    assert "data row 3 has the id of data row 1 ('P7')" in " ".join(proc.stderr.split())
    about = json.loads((tmp_path / "out.csv.about.json").read_text())
    assert about["summary"]["repeated_ids"] == {"rows": 1, "first": [{"row": 3, "same_id_as_row": 1, "id": "P7"}]}


# --- 4, 5. CSV quoting as Arrow reads it -----------------------------------------------------------------


@pytest.mark.parametrize("chunk_rows", [1, 2, 1000])
def test_a_ragged_row_with_a_quoted_line_break_is_flagged_not_fatal(tmp_path: Path, chunk_rows: int) -> None:
    src, dst = tmp_path / "in.csv", tmp_path / "out.csv"
    src.write_text('id,sex,age,bmi\nA,female,72,25\nB,"female",70,24,"note\nwith newline"\nC,male,70,24\n')
    summary = screen_file(src, dst, as_of=AS_OF, chunk_rows=chunk_rows)
    rows = _rows(dst)
    assert [r["id"] for r in rows] == ["A", "B", "C"]
    assert rows[1]["error"] == "columns: 5 values in this row; expected 4, one per column of the header"
    assert summary.scored == 2


def _arrow_whole(path: Path) -> pa.Table:
    from osteocare.batch.columns import INPUT_COLUMNS

    parse = pacsv.ParseOptions(newlines_in_values=True)
    names = pacsv.read_csv(path, parse_options=parse).column_names
    wanted = [c for c in names if c in INPUT_COLUMNS]
    return pacsv.read_csv(path, parse_options=parse, convert_options=pacsv.ConvertOptions(
        column_types={c: pa.string() for c in wanted}, strings_can_be_null=True, null_values=[""],
        include_columns=wanted))


FIELD = st.one_of(
    st.text("ab1 '", max_size=5),  # unquoted
    st.text("ab1 '\"", max_size=6).filter(lambda t: not t.startswith('"')),  # unquoted, a stray quote inside
    st.text("ab1,\n\r\" '", max_size=6).map(lambda t: '"' + t.replace('"', '""') + '"'),  # quoted
)


@settings(max_examples=80, deadline=None)
@given(rows=st.lists(st.tuples(FIELD, st.sampled_from(["female", "male"]), st.integers(0, 130), FIELD),
                     min_size=1, max_size=25),
       block=st.integers(1, 120))
def test_quotes_inside_unquoted_fields_are_characters_at_any_block_size(rows: list[tuple[str, str, int, str]],
                                                                        block: int) -> None:
    """A quote opens a quoted value only at the start of a field, as in Arrow's parser: however the file is cut
    into blocks, the rows are those of Arrow's whole-file reader (the old count of quotes was thrown off by a
    stray quote, ``height 5'3"``, and stopped the run or merged rows depending on the block size)."""
    import tempfile

    from osteocare.batch.screen import _csv_batches

    body = "id,sex,age,note,more\n" + "".join(f"P{i},{s},{g},{a},{b}\n" for i, (a, s, g, b) in enumerate(rows))
    with tempfile.TemporaryDirectory() as tmp:
        src = Path(tmp) / "in.csv"
        src.write_bytes(body.encode())
        whole = _arrow_whole(src)
        got = pa.Table.from_batches(list(_csv_batches(src, 1000, block=block)), whole.schema)
    assert got.equals(whole)


def test_one_stray_quote_does_not_make_the_reader_hold_the_rest_of_the_file(tmp_path: Path,
                                                                           monkeypatch: pytest.MonkeyPatch) -> None:
    """With quotes counted, one ``5'3"`` made every later line break look inside quotes: the reader held the rest
    of the file and stopped at the line-length limit (64 MB; 10 kB here), as if a quote were left open."""
    import osteocare.batch.screen as screen

    monkeypatch.setattr(screen, "CSV_MAX_LINE_BYTES", 10_000)
    src, dst = tmp_path / "in.csv", tmp_path / "out.csv"
    lines = ["P0,female,63,25,height 5'3\"", *(f"P{i},male,70,24,ok" for i in range(1, 30_000))]
    src.write_text("id,sex,age,bmi,note\n" + "\n".join(lines) + "\n")
    batches = list(screen._csv_batches(src, 1000, block=1000))
    assert max(b.num_rows for b in batches) < 200 and sum(b.num_rows for b in batches) == 30_000
    summary = screen_file(src, dst, as_of=AS_OF, chunk_rows=7)
    assert summary.rows == 30_000 and summary.flagged == 0


@pytest.mark.parametrize(("text", "line"), [
    (b'id,sex,age\n1,female,70\n2,"male,65\n3,female,80\n', "line 3"),  # never closed
    (b'id,sex,age\n1,"female,70\n2,male,65\n3,"x",4\n', "line 2"),  # swallows rows up to a quote and text
])
def test_a_quote_left_open_is_refused_naming_its_line(tmp_path: Path, text: bytes, line: str) -> None:
    from osteocare.batch.screen import read_batches

    src = tmp_path / "in.csv"
    src.write_bytes(text)
    with pytest.raises(InputError, match=f"opened on {line}") as exc:
        list(read_batches(src))
    assert "quote left open" in str(exc.value)


# --- 6. files that cannot be read part-way -----------------------------------------------------------------


def _corrupt_second_row_group(path: Path) -> None:
    n = 1000
    pq.write_table(pa.table({"id": [f"P{i}" for i in range(n)], "sex": ["female"] * n, "age": list(range(n))}),
                   path, row_group_size=500, use_dictionary=False, compression="none")
    at = pq.ParquetFile(path).metadata.row_group(1).column(2).data_page_offset
    with path.open("r+b") as f:
        f.seek(at)
        f.write(b"\xff" * 16)


def test_a_corrupt_parquet_page_is_an_error_naming_the_file_and_row_group(tmp_path: Path) -> None:
    src = tmp_path / "in.parquet"
    _corrupt_second_row_group(src)
    with pytest.raises(InputError, match="row group 2 of 2") as exc:
        screen_file(src, tmp_path / "out.parquet", as_of=AS_OF, chunk_rows=100)
    assert str(src) in str(exc.value)
    proc = _cli("screen", str(src), "--out", str(tmp_path / "out.csv"), "--no-plot")
    assert proc.returncode == 2 and "Traceback" not in proc.stderr
    assert "unreadable Parquet" in proc.stderr
    assert sorted(p.name for p in tmp_path.iterdir()) == ["in.parquet"]


def test_an_input_that_is_a_folder_is_refused_naming_it(tmp_path: Path) -> None:
    (tmp_path / "in.csv").mkdir()
    proc = _cli("screen", str(tmp_path / "in.csv"), "--out", str(tmp_path / "out.csv"), "--no-plot")
    assert proc.returncode == 2 and "Traceback" not in proc.stderr
    assert "this is a folder" in proc.stderr
    assert sorted(p.name for p in tmp_path.iterdir()) == ["in.csv"]


# --- 7. generate-population ----------------------------------------------------------------------------


@pytest.mark.parametrize(("args", "words"), [
    (["--out", "{tmp}/nope/pop.parquet"], "does not exist"),
    (["--out", "{tmp}/dir.parquet"], "this is a folder"),
    (["--out", "{tmp}/pop.parquet", "--seed", "-1"], "--seed"),
])
def test_generate_population_refuses_a_bad_out_or_seed_before_writing(tmp_path: Path, args: list[str],
                                                                      words: str) -> None:
    (tmp_path / "dir.parquet").mkdir()
    proc = _cli("generate-population", "10", *[a.format(tmp=tmp_path) for a in args])
    assert proc.returncode == 2, proc.stderr
    assert "Traceback" not in proc.stderr and words in " ".join(proc.stderr.split())
    assert sorted(p.name for p in tmp_path.iterdir()) == ["dir.parquet"]


# --- 8, 9. true/false where a number goes; messages ------------------------------------------------------


def test_true_or_false_is_flagged_in_a_number_column_as_parse_record_does_and_read_in_a_flag_column() -> None:
    batch = pa.RecordBatch.from_pydict({
        "id": ["a", "b", "c"], "sex": ["female"] * 3, "age": pa.array([True, False, None], pa.bool_()),
        "bmi": [25.0] * 3})
    errors = screen_batch(batch, as_of=AS_OF).column("error").to_pylist()
    assert errors[0] == _refusal({"id": "a", "sex": "female", "age": True, "bmi": 25.0})
    assert errors[1] == _refusal({"id": "b", "sex": "female", "age": False, "bmi": 25.0})
    assert errors[2] == "age: missing; a value is required"
    flags = pa.RecordBatch.from_pydict({
        "id": ["a", "b"], "sex": ["female"] * 2, "age": [72, 72], "bmi": [25.0, 25.0],
        "cancer": pa.array([True, False]), "years": pa.array([True, None], pa.bool_())})
    out = screen_batch(flags, as_of=AS_OF).to_pylist()
    assert out[0]["error"] == _refusal({"id": "a", "sex": "female", "age": 72, "bmi": 25.0, "years": True})
    b = assess(parse_record({"id": "b", "sex": "female", "age": 72, "bmi": 25.0, "cancer": False}), as_of=AS_OF)
    assert out[1]["error"] is None
    assert out[1]["qfracture_mof_percent"] == b.results["qfracture-2012"].values["major_osteoporotic_fracture_percent"].value


def test_not_a_number_messages_name_what_is_allowed_and_values_are_shown_as_given() -> None:
    lo, hi, unit = limit("age")
    cells = {"cancer": ["true", "0", "0", "0"], "age": ["70", "0x46", "1e309", "70"], "bmi": ["25", "25", "25", "abc"]}
    batch = pa.RecordBatch.from_pydict({"id": ["1", "2", "3", "4"], "sex": ["female"] * 4, **cells})
    errors = screen_batch(batch, as_of=AS_OF).column("error").to_pylist()
    assert errors[0] == "cancer: 'true' is not a number; expected 0 or 1"
    assert errors[1] == f"age: '0x46' is not a number; expected a whole number from {lo:g} to {hi:g} {unit}"
    assert errors[2] == f"age: 1e309 is not allowed; expected a value from {lo:g} to {hi:g} {unit}"
    blo, bhi, bunit = limit("bmi")
    assert errors[3] == f"bmi: 'abc' is not a number; expected a number from {blo:g} to {bhi:g} {bunit}"


@settings(max_examples=40, deadline=None)
@given(ids=st.lists(st.sampled_from(["P1", "P/1", "..", " P2 ", "a\nb", "", None, "x" * 70, "Ä"]), min_size=1,
                    max_size=12))
def test_an_id_result_does_not_depend_on_the_other_rows_of_its_chunk(ids: list[str | None]) -> None:
    n = len(ids)
    batch = pa.RecordBatch.from_pydict({"id": pa.array(ids, pa.string()), "sex": ["female"] * n, "age": [70] * n})
    together = screen_batch(batch, as_of=AS_OF).to_pylist()
    alone = [screen_batch(batch.slice(i, 1), as_of=AS_OF).to_pylist()[0] for i in range(n)]
    assert together == alone
    assert Counter(r["error"] is None for r in together)[True] == sum(
        1 for v in ids if v is not None and v.strip() and v not in ("P/1", "..", "a\nb", "x" * 70))
