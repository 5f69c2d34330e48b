"""A Parquet file written in parts (bounded writer memory) is the file Arrow's own writer makes, byte for byte.

The reference is Arrow's ``pq.ParquetWriter`` writing the same batches into one file; DuckDB, a second and
independent Parquet reader, reads the spliced file too.
"""

from __future__ import annotations

import errno
from pathlib import Path

import duckdb
import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from osteocare.batch import parquet_parts
from osteocare.batch.parquet_parts import REFUSED_OPTIONS, FooterError, PartedParquetWriter, _enc_zigzag, _unzigzag, _varint
from osteocare.batch.population import batches
from osteocare.batch.screen import Writer, screen_batch


def _mixed(n: int, seed: int) -> pa.RecordBatch:
    """Columns of many kinds: with nulls, dictionaries, nested lists, booleans, dates, large values."""
    rng = np.random.default_rng(seed)
    words = np.array(["a", "bb", "", "ccc", "Đ€"])
    return pa.RecordBatch.from_pydict({
        "i": pa.array(rng.integers(-2**62, 2**62, n), pa.int64(), mask=rng.random(n) < 0.1),
        "f": pa.array(rng.normal(size=n), pa.float64()),
        "s": pa.array(words[rng.integers(0, 5, n)].tolist(), pa.string()),
        "d": pa.array(words[rng.integers(0, 5, n)].tolist(), pa.string()).dictionary_encode(),
        "b": pa.array(rng.random(n) < 0.5, pa.bool_()),
        "day": pa.array(rng.integers(0, 30000, n).astype("int32"), pa.int32()).cast(pa.date32()),
        "l": pa.array([[int(x)] * int(x % 3) for x in rng.integers(0, 100, n)], pa.list_(pa.int64())),
    })


def _both(tmp_path: Path, parts: list[pa.RecordBatch], part_row_groups: int, **opts: object) -> tuple[bytes, bytes]:
    ref, spliced = tmp_path / "ref.parquet", tmp_path / "parts.parquet"
    with pq.ParquetWriter(ref, parts[0].schema, **opts) as w:
        for b in parts:
            w.write_batch(b)
    p = PartedParquetWriter(spliced, parts[0].schema, part_row_groups, **opts)
    for b in parts:
        p.write_batch(b)
    p.close()
    return ref.read_bytes(), spliced.read_bytes()


@settings(max_examples=25, deadline=None)
@given(sizes=st.lists(st.integers(0, 300), min_size=1, max_size=12), k=st.integers(1, 5),
       stats=st.booleans(), dictionary=st.booleans(), compression=st.sampled_from(["snappy", "zstd", "none"]))
def test_spliced_file_is_arrows_file_byte_for_byte(tmp_path_factory: pytest.TempPathFactory, sizes: list[int],
                                                   k: int, stats: bool, dictionary: bool, compression: str) -> None:
    tmp = tmp_path_factory.mktemp("parts")
    parts = [_mixed(n, seed) for seed, n in enumerate(sizes)]
    ref, spliced = _both(tmp, parts, k, write_statistics=stats, use_dictionary=dictionary, compression=compression)
    assert spliced == ref
    assert pq.read_table(tmp / "parts.parquet").equals(pa.Table.from_batches(parts))


def test_screening_output_in_parts_reads_back_everywhere(tmp_path: Path) -> None:
    outs = [screen_batch(b) for b in batches(7_500, chunk_rows=1_000)]
    dictionary = [f.name for f in outs[0].schema if not pa.types.is_floating(f.type)]
    stats = [f.name for f in outs[0].schema if not pa.types.is_dictionary(f.type)]
    ref, spliced = _both(tmp_path, outs, 3, use_dictionary=dictionary, write_statistics=stats)
    assert spliced == ref
    meta = pq.read_metadata(tmp_path / "parts.parquet")
    assert (meta.num_rows, meta.num_row_groups) == (7_500, 8)
    con = duckdb.connect()
    got = con.sql(f"SELECT * FROM read_parquet('{tmp_path / 'parts.parquet'}')").fetchall()
    want = con.sql(f"SELECT * FROM read_parquet('{tmp_path / 'ref.parquet'}')").fetchall()
    assert got == want and len(got) == 7_500
    assert pa.Table.from_batches(outs).column("id").to_pylist() == [r[0] for r in got]


def test_screen_writer_writes_in_parts_and_the_file_is_arrows(tmp_path: Path) -> None:
    outs = [screen_batch(b) for b in batches(40_000, chunk_rows=1_000)]  # 40 row groups: 3 parts of 16
    w = Writer(tmp_path / "out.parquet")
    for b in outs:
        w.write(b)
    w.close(True)
    assert pq.read_table(tmp_path / "out.parquet").to_pylist() == pa.Table.from_batches(outs).to_pylist()
    assert pq.read_metadata(tmp_path / "out.parquet").num_row_groups == 40
    assert [p.name for p in tmp_path.iterdir()] == ["out.parquet"]


def test_failed_run_leaves_nothing(tmp_path: Path) -> None:
    w = Writer(tmp_path / "out.parquet")
    for b in batches(3_000, chunk_rows=1_000):
        w.write(screen_batch(b))
    w.close(False)
    assert list(tmp_path.iterdir()) == []


def test_no_batch_no_file(tmp_path: Path) -> None:
    p = PartedParquetWriter(tmp_path / "x.parquet", pa.schema([("a", pa.int64())]))
    p.close()
    assert (tmp_path / "x.parquet").read_bytes() == b""


@pytest.mark.parametrize("option", REFUSED_OPTIONS)
def test_offsets_kept_elsewhere_are_refused(tmp_path: Path, option: str) -> None:
    with pytest.raises(ValueError, match=option):
        PartedParquetWriter(tmp_path / "x.parquet", pa.schema([("a", pa.int64())]), **{option: {"a": {}}})


def test_bad_part_size_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="part_row_groups: 0; allowed: 1 or more"):
        PartedParquetWriter(tmp_path / "x.parquet", pa.schema([("a", pa.int64())]), 0)


@given(st.integers(-2**63, 2**63 - 1))
def test_zigzag_varint_round_trip(n: int) -> None:
    enc = _enc_zigzag(n)
    v, end = _varint(enc, 0)
    assert (_unzigzag(v), end) == (n, len(enc))


def test_truncated_footer_is_an_error() -> None:
    with pytest.raises(FooterError, match="ends inside a number"):
        _varint(b"\x80\x80", 0)


def test_empty_row_groups_between_parts(tmp_path: Path) -> None:
    """Arrow writes 0 for the page offsets of a row group with no rows: they stay 0 in every part."""
    parts = [_mixed(n, seed) for seed, n in enumerate([3, 0, 3, 0, 0, 5])]
    for k in (1, 2):
        ref, spliced = _both(tmp_path, parts, k, use_dictionary=k == 1)
        assert spliced == ref


@pytest.mark.parametrize(("err", "copied"), [(errno.EXDEV, True), (errno.ENOSYS, True), (errno.ENOSPC, False)])
def test_copy_without_copy_file_range(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, err: int,
                                      copied: bool) -> None:
    """Where the kernel cannot copy between the files, Python copies; a real error (a full disk) stops."""
    def refuse(*_: object) -> int:
        raise OSError(err, "refused")

    monkeypatch.setattr(parquet_parts.os, "copy_file_range", refuse, raising=False)
    parts = [_mixed(50, seed) for seed in range(5)]
    if copied:
        ref, spliced = _both(tmp_path, parts, 2)
        assert spliced == ref
    else:
        with pytest.raises(OSError, match="refused"):
            _both(tmp_path, parts, 2)


def test_a_failed_writer_takes_no_more_and_leaves_no_part(tmp_path: Path) -> None:
    good = _mixed(10, 1)
    p = PartedParquetWriter(tmp_path / "x.parquet", good.schema, 2)
    p.write_batch(good)
    with pytest.raises((ValueError, pa.ArrowInvalid)):
        p.write_batch(pa.RecordBatch.from_pydict({"other": [1, 2]}))
    with pytest.raises(ValueError, match="on a failed Parquet writer"):
        p.write_batch(good)  # rows after a failed part would be lost silently
    with pytest.raises(ValueError, match="close of a failed Parquet writer"):
        p.close()
    p.close()  # closed: a no-op now
    p.abort()
    assert sorted(f.name for f in tmp_path.iterdir()) == ["x.parquet"]  # Writer removes it (tested above)
