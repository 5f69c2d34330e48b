"""The screening CSV encoder against Arrow's CSV writer (the reference): the same bytes, whatever the values."""

from __future__ import annotations

import pyarrow as pa
import pyarrow.csv as pacsv
from hypothesis import given, settings
from hypothesis import strategies as st

from osteocare.batch import csv_out
from osteocare.batch.population import batches
from osteocare.batch.screen import encode_csv, screen_batch


def _arrow(batch: pa.RecordBatch) -> bytes:
    sink = pa.BufferOutputStream()
    pacsv.write_csv(batch, sink, write_options=pacsv.WriteOptions(include_header=False))
    return sink.getvalue().to_pybytes()


def _ours(batch: pa.RecordBatch, slice_rows: int = 7) -> bytes:
    parts = csv_out.encode(batch, slice_rows)
    assert parts is not None
    return b"".join(p.tobytes() for p in parts)


texts = st.one_of(st.none(), st.text(alphabet=st.sampled_from('ab ,"\n\r\'é–中\t;'), max_size=12))
floats = st.one_of(st.none(), st.floats(allow_nan=True, allow_infinity=True), st.sampled_from([0.0, -0.0, 1e-300, 2.5]))


@settings(max_examples=150, deadline=None)
@given(st.integers(min_value=0, max_value=40).flatmap(lambda n: st.tuples(
    st.lists(texts, min_size=n, max_size=n),
    st.lists(floats, min_size=n, max_size=n),
    st.lists(st.one_of(st.none(), st.integers(-(2**40), 2**40)), min_size=n, max_size=n),
    st.lists(st.one_of(st.none(), st.sampled_from(["x", 'say "no"', "", "a,b", "ü"])), min_size=n, max_size=n),
)))
def test_it_writes_what_arrows_csv_writer_writes(cols: tuple[list, list, list, list]) -> None:
    s, f, i, d = cols
    batch = pa.RecordBatch.from_arrays(
        [pa.array(s, pa.string()), pa.array(f, pa.float64()), pa.array(i, pa.int64()),
         pa.array(d, pa.string()).dictionary_encode(), pa.array(f, pa.float64()).slice(0)],
        ["s", "f", "i", "d", "f2"],
    )
    assert _ours(batch) == _arrow(batch)


def test_few_distinct_numbers_are_written_as_arrow_writes_them() -> None:
    vals = [(-2.5 + k / 10) if k % 3 else None for k in range(200)]
    batch = pa.RecordBatch.from_arrays([pa.array(vals, pa.float64()), pa.array(range(200), pa.int32())], ["t", "k"])
    assert _ours(batch, 64) == _arrow(batch)


def test_screening_output_is_encoded_byte_for_byte_as_before() -> None:
    out = screen_batch(next(batches(3000)))
    assert b"".join(bytes(p) for p in encode_csv(out)) == _arrow(out)
    assert _ours(out.slice(1000, 1500), 333) == _arrow(out.slice(1000, 1500))


def test_a_column_type_it_does_not_handle_goes_to_arrows_writer() -> None:
    batch = pa.RecordBatch.from_arrays([pa.array([True, None, False])], ["b"])
    assert csv_out.encode(batch, 10) is None
    assert b"".join(bytes(p) for p in encode_csv(batch)) == _arrow(batch)


def test_a_buffer_handed_back_is_reused_and_the_text_stays_the_same() -> None:
    pool = csv_out.BufferPool(keep=4)
    out = screen_batch(next(batches(500)))
    first = csv_out.encode(out, 100, pool)
    assert first is not None
    want = b"".join(p.tobytes() for p in first)
    bases = {id(p.base) for p in first}
    for p in first:
        pool.give(p)
    again = csv_out.encode(out, 100, pool)
    assert again is not None
    assert b"".join(p.tobytes() for p in again) == want == _arrow(out)
    assert {id(p.base) for p in again[:4]} <= bases  # the pool kept four and gave them out again
    pool.give(b"not a pooled buffer")  # ignored
    pool.clear()
