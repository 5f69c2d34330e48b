"""osteocare screen on hostile input: what a reviewer's adversarial run found (2026-12-07), kept as tests.

Bad rows are flagged and the run goes on; a bad file or option is refused before anything is written, with
the field, the value and what is allowed; a row's result never depends on its neighbours or the chunk size.
"""

from __future__ import annotations

import csv
import datetime as dt
import json
import subprocess
import sys
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from osteocare.batch.screen import count_rows, screen_batch, screen_file
from osteocare.core.errors import InputError

AS_OF = dt.date(2026, 6, 1)
GOOD = "id,sex,age,weight_kg,height_cm\n1,female,65,68,165\n2,male,70,80,175\n"


def _cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "osteocare.cli", "screen", *args], capture_output=True, text=True)


def _rows(path: Path) -> list[dict[str, object]]:
    if path.suffix == ".csv":
        with path.open(newline="") as f:
            return list(csv.DictReader(f))
    return pq.read_table(path).to_pylist()


# --- the output path ------------------------------------------------------------------------------------


@pytest.mark.parametrize("name", ["in.csv", "in.parquet"])
def test_the_output_may_not_be_the_input(tmp_path: Path, name: str, monkeypatch: pytest.MonkeyPatch) -> None:
    src = tmp_path / name
    if name.endswith(".csv"):
        src.write_text(GOOD)
    else:
        pq.write_table(pa.table({"id": ["1"], "sex": ["female"], "age": [65]}), src)
    before = src.read_bytes()
    monkeypatch.chdir(tmp_path)
    for dst in (src, Path(name), tmp_path / "sub" / ".." / name):
        (tmp_path / "sub").mkdir(exist_ok=True)
        with pytest.raises(InputError) as exc:
            screen_file(src, dst, as_of=AS_OF)
        assert exc.value.field == "--out" and "other than the input" in str(exc.value)
    assert src.read_bytes() == before
    proc = _cli(str(src), "--out", name, "--no-plot")
    assert proc.returncode == 2 and "Traceback" not in proc.stderr
    assert src.read_bytes() == before


def test_an_output_folder_that_does_not_exist_or_a_folder_as_output_is_refused_before_reading(tmp_path: Path) -> None:
    src = tmp_path / "in.csv"
    src.write_text(GOOD)
    (tmp_path / "dir.csv").mkdir()
    for dst, words in ((tmp_path / "nope" / "out.csv", "existing folder"), (tmp_path / "dir.csv", "this is a folder"),
                       (tmp_path / "out", ".csv or .parquet")):
        with pytest.raises(InputError, match=words) as exc:
            screen_file(src, dst, as_of=AS_OF)
        assert exc.value.field == "--out"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["dir.csv", "in.csv"]


@pytest.mark.parametrize(("kwargs", "field"), [
    ({"chunk_rows": 0}, "--chunk-rows"), ({"chunk_rows": 5_000_001}, "--chunk-rows"),
    ({"chunk_rows": True}, "--chunk-rows"), ({"scheduler": "tcp://127.0.0.1:1"}, "--scheduler"),
    ({"engine": "dask"}, "--scheduler"),
])
def test_options_out_of_range_are_refused_naming_the_option(tmp_path: Path, kwargs: dict[str, object],
                                                            field: str) -> None:
    src = tmp_path / "in.csv"
    src.write_text(GOOD)
    with pytest.raises(InputError) as exc:
        screen_file(src, tmp_path / "out.csv", as_of=AS_OF, **kwargs)  # type: ignore[arg-type]
    assert exc.value.field == field
    assert "None" not in str(exc.value)
    assert list(tmp_path.iterdir()) == [src]


# --- files that cannot be screened ---------------------------------------------------------------------


@pytest.mark.parametrize("content", [b"not a parquet file at all", b"PAR1" + b"\0" * 40])
def test_a_corrupt_parquet_file_is_an_input_error_not_a_traceback(tmp_path: Path, content: bytes) -> None:
    src = tmp_path / "in.parquet"
    src.write_bytes(content)
    with pytest.raises(InputError, match="unreadable Parquet"):
        count_rows(src)
    proc = _cli(str(src), "--out", str(tmp_path / "out.csv"))
    assert proc.returncode == 2, proc.stderr
    assert "Traceback" not in proc.stderr and "unreadable Parquet" in proc.stderr
    assert list(tmp_path.iterdir()) == [src]


@pytest.mark.parametrize(("header", "missing", "hint"), [
    ("ID,SEX,AGE", "id, sex, age", "'ID' would be read as 'id'"),
    ("id,sex, age ", "age", "' age ' would be read as 'age'"),
    ("id;sex;age", "id, sex, age", "separated by semicolons"),
    ("id,sex,weight_kg", "age", "found: 'id', 'sex', 'weight_kg'"),
])
def test_a_missing_required_column_is_refused_once_naming_it_and_the_columns_found(
        tmp_path: Path, header: str, missing: str, hint: str) -> None:
    src = tmp_path / "in.csv"
    src.write_text(header + "\n" + "1,female,70\n" * 3)
    with pytest.raises(InputError) as exc:
        screen_file(src, tmp_path / "out.csv", as_of=AS_OF)
    assert f"no column {missing}" in str(exc.value) and hint in str(exc.value)
    assert list(tmp_path.iterdir()) == [src]
    table = pa.table({c.strip(): ["x"] for c in header.replace(";", ",").split(",")})
    pq.write_table(table.rename_columns(header.replace(";", ",").split(",")), tmp_path / "in.parquet")
    if ";" not in header:
        with pytest.raises(InputError, match=f"no column {missing}"):
            screen_file(tmp_path / "in.parquet", tmp_path / "out.csv", as_of=AS_OF)


def test_a_parquet_column_of_lists_or_twice_is_refused_naming_the_column(tmp_path: Path) -> None:
    nested = tmp_path / "nested.parquet"
    pq.write_table(pa.table({"id": ["1"], "sex": ["female"], "age": pa.array([[70]], pa.list_(pa.int64()))}), nested)
    with pytest.raises(InputError, match="column age") as exc:
        screen_file(nested, tmp_path / "out.csv", as_of=AS_OF)
    assert "list" in str(exc.value)
    twice = tmp_path / "twice.parquet"
    pq.write_table(pa.Table.from_arrays([pa.array(["1"]), pa.array(["female"]), pa.array([70]), pa.array([71])],
                                        names=["id", "sex", "age", "age"]), twice)
    with pytest.raises(InputError, match="column 'age' twice"):
        screen_file(twice, tmp_path / "out.csv", as_of=AS_OF)
    assert not (tmp_path / "out.csv").exists()


# --- bad cells: flagged, never fatal ---------------------------------------------------------------------


def test_bytes_that_are_not_utf8_flag_their_row_and_the_rest_are_scored(tmp_path: Path) -> None:
    src = tmp_path / "in.parquet"
    pq.write_table(pa.table({
        "id": pa.array([b"P1", b"P\xff2", b"P3"], pa.binary()),
        "sex": pa.array([b"female", b"male", b"f\xe9male"], pa.binary()),
        "age": [65, 70, 75], "bmi": [24.0, 25.0, 26.0],
    }), src)
    dst = tmp_path / "out.parquet"
    summary = screen_file(src, dst, as_of=AS_OF)
    rows = _rows(dst)
    assert [r["id"] for r in rows] == ["P1", "P\\xff2", "P3"]  # text, odd bytes escaped: the row is findable
    assert rows[0]["error"] is None and rows[0]["qfracture_mof_percent"] is not None
    assert rows[1]["error"] == "id: b'P\\xff2' is not UTF-8 text"
    assert rows[2]["error"] == "sex: b'f\\xe9male' is not UTF-8 text"
    assert rows[2]["qfracture_mof_percent"] is None
    assert summary.flag_reasons == {"id": 1, "sex": 1}
    assert pq.read_schema(dst).field("id").type == pa.string()


@pytest.mark.parametrize(("cell", "shown"), [("9.99999999", "9.99999999"), ("10.5", "10.5"), ("1e30", "1e30"),
                                                   ("1e309", "1e309"), (" 12 ", "12")])
def test_a_flagged_value_is_shown_as_given_not_rounded_into_the_allowed_range(cell: str, shown: str) -> None:
    batch = pa.RecordBatch.from_pydict({"id": ["1"], "sex": ["female"], "age": ["65"], "years": [cell]})
    error = screen_batch(batch, as_of=AS_OF).column("error")[0].as_py()
    assert error.startswith(f"years: {shown} is not allowed")


def test_no_numpy_warning_for_a_value_no_whole_number_can_hold() -> None:
    batch = pa.RecordBatch.from_pydict({"id": ["1", "2"], "sex": ["female"] * 2, "age": ["65"] * 2,
                                        "years": ["1e300", "-inf"]})
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("error")
        errors = screen_batch(batch, as_of=AS_OF).column("error").to_pylist()
    assert all(e.startswith("years:") for e in errors)


NUMBER_CELLS = st.one_of(
    st.sampled_from(["nan", "NaN", "inf", "-inf", "Infinity", "abc", "", " ", " -1.5 ", "1e3", "+2", ".5", "-2.5",
                     "0x10", "1,5", "--1"]),
    st.floats(-6, 6, allow_nan=False).map(lambda x: f"{x:.2f}"),
    st.none(),
)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(cells=st.lists(NUMBER_CELLS, min_size=1, max_size=12), flags=st.lists(
    st.sampled_from(["0", "1", "", "nan", "2", "1.0", " 1", "x", None]), min_size=12, max_size=12))
def test_a_rows_result_does_not_depend_on_the_other_rows_of_its_chunk(cells: list[str | None],
                                                                      flags: list[str | None]) -> None:
    """Arrow reads 'nan' and 'inf' as numbers but the careful path does not: a chunk must not take a path by
    what its other rows hold. Every row scored alone gives what it gives among the others."""
    n = len(cells)
    batch = pa.RecordBatch.from_pydict({
        "id": [str(i) for i in range(n)], "sex": ["female"] * n, "age": ["70"] * n, "bmi": ["24"] * n,
        "femoral_neck_t_score": pa.array(cells, pa.string()), "falls": pa.array(flags[:n], pa.string()),
    })
    together = screen_batch(batch, as_of=AS_OF).to_pylist()
    alone = [screen_batch(batch.slice(i, 1), as_of=AS_OF).to_pylist()[0] for i in range(n)]
    assert together == alone


# --- empty inputs and the record of the run --------------------------------------------------------------


@pytest.mark.parametrize("fmt", ["csv", "parquet"])
def test_an_input_without_rows_gives_an_output_with_the_columns_and_no_rows(tmp_path: Path, fmt: str) -> None:
    full, empty = tmp_path / f"full.{fmt}", tmp_path / f"empty.{fmt}"
    if fmt == "csv":
        full.write_text(GOOD)
        empty.write_text("id,sex,age,weight_kg,height_cm\n")
    else:
        pq.write_table(pa.table({"id": ["1"], "sex": ["female"], "age": [65]}), full)
        pq.write_table(pa.table({"id": pa.array([], pa.string()), "sex": pa.array([], pa.string()),
                                 "age": pa.array([], pa.int64())}), empty)
    out_full, out_empty = tmp_path / f"out_full.{fmt}", tmp_path / f"out_empty.{fmt}"
    screen_file(full, out_full, as_of=AS_OF)
    summary = screen_file(empty, out_empty, as_of=AS_OF)
    assert summary.rows == 0
    if fmt == "csv":
        assert out_empty.read_text().splitlines() == out_full.read_text().splitlines()[:1]
    else:
        assert pq.read_table(out_empty).num_rows == 0
        assert pq.read_schema(out_empty).names == pq.read_schema(out_full).names


def test_the_about_file_records_the_guideline_and_date_the_run_used(tmp_path: Path) -> None:
    src, dst = tmp_path / "in.csv", tmp_path / "out.csv"
    src.write_text(GOOD)
    proc = _cli(str(src), "--out", str(dst), "--no-plot")
    assert proc.returncode == 0, proc.stderr
    about = json.loads((tmp_path / "out.csv.about.json").read_text())
    from osteocare.core.guidelines import default_guideline

    assert about["guideline"] == default_guideline()
    assert about["as_of"] == dt.date.today().isoformat()
    proc = _cli(str(src), "--out", str(dst), "--no-plot", "--guideline", "nogg-2022", "--as-of", "2026-06-01")
    about = json.loads((tmp_path / "out.csv.about.json").read_text())
    assert (about["guideline"], about["as_of"]) == ("nogg-2022", "2026-06-01")


# --- CSV rows that Arrow's parser cannot take: flagged in place, not fatal --------------------------------

ROW_KINDS = {
    "good": (b"{i},female,{age}", None),
    "short": (b"{i},female", "columns: 2 values in this row; expected 3, one per column of the header"),
    "long": (b"{i},female,{age},extra", "columns: 4 values in this row; expected 3, one per column of the header"),
    "not utf-8": (b"{i},f\xe9male,{age}", "sex: b'f\\xe9male' is not UTF-8 text"),
    "lone value": (b"{i}", "columns: 1 value in this row; expected 3, one per column of the header"),
}


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(kinds=st.lists(st.sampled_from(sorted(ROW_KINDS)), min_size=1, max_size=25), block=st.integers(1, 300),
       blank=st.booleans())
def test_ragged_rows_and_bytes_that_are_not_utf8_are_flagged_where_they_stand(kinds: list[str], block: int,
                                                                              blank: bool) -> None:
    import tempfile

    from osteocare.batch.screen import _csv_batches

    lines = [ROW_KINDS[k][0].replace(b"{i}", b"P%d" % i).replace(b"{age}", b"%d" % (60 + i)) for i, k in
             enumerate(kinds)]
    body = b"id,sex,age\n" + (b"\n\n" if blank else b"\n").join(lines) + b"\n"
    with tempfile.TemporaryDirectory() as tmp:
        src = Path(tmp) / "in.csv"
        src.write_bytes(body)
        rows = [r for b in _csv_batches(src, 1000, block=block) for r in screen_batch(b, as_of=AS_OF).to_pylist()]
    assert [r["id"] for r in rows] == [f"P{i}" for i in range(len(kinds))]
    assert [r["error"] for r in rows] == [ROW_KINDS[k][1] for k in kinds]
    flagged = [r for r, k in zip(rows, kinds, strict=True) if k != "good"]
    assert all(v is None for r in flagged for c, v in r.items() if c not in ("id", "error", "warnings"))


def test_the_command_finishes_a_csv_with_ragged_rows_and_counts_them(tmp_path: Path) -> None:
    src, dst = tmp_path / "in.csv", tmp_path / "out.csv"
    src.write_bytes(b"id,sex,age,weight_kg,height_cm\n1,female,65,68,165\n2,male\n3,f\xe9male,70,60,160\n"
                    b"4,male,70,80,175,9\n5,female,70,60,160\n")
    proc = _cli(str(src), "--out", str(dst), "--no-plot")
    assert proc.returncode == 0, proc.stderr
    assert [r["id"] for r in _rows(dst)] == ["1", "2", "3", "4", "5"]
    about = json.loads((tmp_path / "out.csv.about.json").read_text())
    assert about["summary"]["flag_reasons"] == {"columns": 2, "sex": 1}
    assert about["summary"]["scored"] == 2
