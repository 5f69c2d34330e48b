"""Repeated ids of a screening run, found with bounded memory at the end: partition files larger than a block are
split by further bits of the hash, and a file of one id again and again is read block by block. Checked against
the plain reading (the first row of each id; every later row with it repeats it)."""

from __future__ import annotations

from pathlib import Path

import pyarrow as pa
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from osteocare.batch import duplicates as dup


def _reference(chunks: list[list[str | None]]) -> tuple[int, list[tuple[int, int]]]:
    first: dict[str, int] = {}
    repeats: list[tuple[int, int]] = []
    row = 0
    for chunk in chunks:
        for v in chunk:
            if v is not None:
                if v in first:
                    repeats.append((row, first[v]))
                else:
                    first[v] = row
            row += 1
    return len(repeats), repeats[:dup.EXAMPLES]


def _tally(tmp: Path, chunks: list[list[str | None]]) -> dup.Repeats:
    t = dup.IdTally(tmp / ".ids")
    for chunk in chunks:
        t.add(dup.id_hashes(pa.array(chunk, pa.string())))
    out = t.finish()
    assert not (tmp / ".ids").exists()  # the partition files are removed
    return out


@pytest.mark.parametrize("block", [4, 1 << 17])
def test_one_id_again_and_again_is_counted_reading_block_by_block(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                                  block: int) -> None:
    monkeypatch.setattr(dup, "BLOCK", block)
    chunks = [["P1"] * 50, ["P1", None, "P2"] * 10]
    got = _tally(tmp_path, chunks)
    assert (got.rows, got.examples) == _reference(chunks)


@settings(max_examples=60, deadline=None)
@given(st.lists(st.lists(st.one_of(st.none(), st.sampled_from([f"P{i}" for i in range(40)]), st.text(max_size=6)),
                         max_size=40), min_size=1, max_size=6),
       st.sampled_from([2, 3, 8, 1 << 17]))
def test_repeats_match_the_plain_reading_whatever_the_block(tmp_path_factory: pytest.TempPathFactory,
                                                             chunks: list[list[str | None]], block: int) -> None:
    tmp = tmp_path_factory.mktemp("ids")
    old = dup.BLOCK
    dup.BLOCK = block
    try:
        got = _tally(tmp, chunks)
    finally:
        dup.BLOCK = old
    assert (got.rows, got.examples) == _reference(chunks)


def test_the_end_holds_about_a_block_of_distinct_ids_at_a_time(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """3,000 distinct ids with blocks of 4 records: every partition file is split until its parts are small, so the
    table of distinct ids never holds many more than a block (a split by the bits that had chose the partition made
    no progress, and the whole partition was read into one table)."""
    monkeypatch.setattr(dup, "BLOCK", 4)
    seen: list[int] = []
    real = dup._repeats

    def spy(*args: object) -> tuple[int, int]:
        found, known = real(*args)
        seen.append(known)
        return found, known

    monkeypatch.setattr(dup, "_repeats", spy)
    chunks = [[f"ID{i:05d}" for i in range(k, k + 500)] for k in range(0, 3000, 500)]
    got = _tally(tmp_path, chunks)
    assert (got.rows, got.examples) == (0, [])
    assert seen and max(seen) <= 4 * 4, max(seen)
