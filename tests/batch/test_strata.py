"""Stratum and suggested action per row: the real rule engine once per class of rows, equal to `assess`."""

from __future__ import annotations

import datetime as dt
import math
from pathlib import Path

import numpy as np
import pyarrow as pa
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from osteocare.batch import strata
from osteocare.batch.population import batches
from osteocare.batch.screen import screen_batch, screen_file
from osteocare.core.assessment import assess
from osteocare.core.errors import InputError, KnowledgeError
from osteocare.core.guidelines import available_guidelines
from osteocare.core.guidelines.conditions import resolve_ref
from osteocare.core.knowledge import load
from osteocare.core.records import parse_record

AS_OF = dt.date(2026, 6, 1)


@pytest.fixture(scope="module")
def population() -> pa.RecordBatch:
    return next(batches(4000, seed=11, chunk_rows=4000))


@pytest.mark.parametrize("guideline", available_guidelines())
def test_it_gives_every_row_of_a_generated_population_the_stratum_assess_gives(
    population: pa.RecordBatch, guideline: str
) -> None:
    out = screen_batch(population, guideline, AS_OF).to_pylist()
    rows = population.to_pylist()
    checked = 0
    for row, got in list(zip(rows, out, strict=True))[::25]:
        if got["error"] is not None:
            assert got["stratum"] is None and got["action"] is None
            continue
        rec = {k: v for k, v in row.items() if v is not None and not (isinstance(v, float) and math.isnan(v))}
        a = assess(parse_record(rec), guideline=guideline, as_of=AS_OF)
        assert a.recommendation is not None
        s = a.recommendation["stratum"]
        assert (got["stratum"], got["stratum_label"], got["stratum_status"]) == (s["stratum"], s["label"], s["status"])
        checked += 1
    assert checked > 100


def test_it_evaluates_the_rules_once_per_class_and_reuses_the_answer_across_chunks(population: pa.RecordBatch) -> None:
    day = dt.date(2026, 6, 2)  # a fresh memo
    screen_batch(population, "bhof-2022", day)
    p = strata.plan("bhof-2022", day)
    classes = len(p.strata)
    assert 0 < classes < population.num_rows / 10
    screen_batch(population, "bhof-2022", day)
    assert len(p.strata) == classes


def test_it_codes_each_fact_against_the_thresholds_the_guideline_compares_it_with() -> None:
    reads = strata.guideline_reads("endocrine-society-2019")
    es = load("endocrine-society-2019")
    assert reads.thresholds["hip_spine_t_score"] == {es.value("t_osteoporosis"), es.value("t_normal_above")}
    assert reads.thresholds["frax_mof_percent"] == {es.value("frax_mof_high")}
    assert "fractures" in reads.structures
    assert reads.literals["sex"] == ["female"]
    codes, radix = strata._code(pa.array([-2.6, -2.5, -2.4, None], pa.float64()).to_numpy(zero_copy_only=False),
                                [-2.5])
    assert list(codes) == [3, 2, 1, 0] and radix == 4


def test_every_guideline_can_be_screened() -> None:
    for g in available_guidelines():
        assert strata.Plan(g, AS_OF).facts


def test_a_guideline_fact_without_a_batch_mapping_stops_the_run_with_a_clear_message(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delitem(strata.BATCH_FACTS, "hip_spine_t_score")
    with pytest.raises(KnowledgeError, match="hip_spine_t_score"):
        strata.Plan("endocrine-society-2019", AS_OF)


def test_the_action_convention_is_data_whose_rules_cite_existing_knowledge_facts() -> None:
    kf = load(strata.ACTIONS_ID)
    actions, rules = strata.action_rules()
    assert set(actions) == {"refer", "treat", "measure_bmd", "lifestyle", "no_action"}
    for r in kf.data["rules"]:
        assert kf.fact(r["id"]).status == "convention"
        for ref in r["uses"]:
            resolve_ref(ref, kf)
    assert rules[-1].when == {}  # the last rule catches every row


def test_the_summary_counts_strata_and_actions_and_explains_the_status(tmp_path: Path) -> None:
    src = tmp_path / "in.csv"
    src.write_text("id,sex,age,bmi,prior_fracture,lumbar_spine_t_score,frax_mof_percent,frax_hip_percent\n"
                   "1,female,70,25,1,-3.0,25,4\n2,female,70,25,0,-0.5,5,0.5\n3,female,250,25,0,,,\n")
    s = screen_file(src, tmp_path / "out.csv", guideline="endocrine-society-2019", as_of=AS_OF)
    assert s.counts["stratum"] == {"very_high": 1, "low": 1, "(none)": 1}
    assert s.counts["action"] == {"refer": 1, "lifestyle": 1, "(none)": 1}
    assert any("status: unverified" in n and "(2 rows)" in n for n in s.notes)
    assert any("screening-actions" in n for n in s.notes)


def test_an_unknown_guideline_is_refused_before_anything_is_written(tmp_path: Path) -> None:
    src = tmp_path / "in.csv"
    src.write_text("id,sex,age\n1,female,70\n")
    with pytest.raises(InputError, match="--guideline"):
        screen_file(src, tmp_path / "out.csv", guideline="who-knows")
    assert not (tmp_path / "out.csv").exists()


@settings(max_examples=200, deadline=None)
@given(st.lists(st.one_of(st.floats(allow_nan=True), st.sampled_from([-2.5, -2.4999999999999996, -0.0, 0.0, 20.0])),
                min_size=1, max_size=60),
       st.lists(st.sampled_from([-2.5, -1.0, 0.0, 3.0, 20.0, 10.0]), unique=True, max_size=4))
def test_the_threshold_codes_are_the_comparisons_with_every_threshold(values: list[float],
                                                                       thresholds: list[float]) -> None:
    v = np.array(values)
    want = np.ones(v.shape, dtype=np.int64)  # the numpy expression the compiled pass replaced
    with np.errstate(invalid="ignore"):
        for t in thresholds:
            want += v < t
            want += v <= t
    want[np.isnan(v)] = 0
    got, radix = strata._code(v, thresholds)
    assert got.dtype == np.int16 and got.tolist() == want.tolist()  # 2-byte codes (strata._CODE_DTYPE)
    assert radix == 2 + 2 * len(thresholds) and (got < radix).all()


def test_a_fact_with_more_codes_than_two_bytes_hold_gets_eight_byte_codes() -> None:
    thresholds = [float(t) for t in range(20_000)]  # 40,002 codes: more than an int16 holds
    v = np.array([-1.0, 0.0, 0.5, 19_999.0, 25_000.0, np.nan])
    got, radix = strata._code(v, thresholds)
    assert radix == 40_002 and got.dtype == np.int64
    assert got.tolist() == [1 + 2 * 20_000, 1 + 2 * 19_999 + 1, 1 + 2 * 19_999, 2, 1, 0]
