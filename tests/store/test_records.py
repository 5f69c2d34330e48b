"""The store persists everything the core reads and rebuilds the PatientRecord exactly."""

from __future__ import annotations

import datetime as dt

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError

from osteocare.core.records import FLAGS, PatientRecord
from osteocare.store import models as m
from osteocare.store.db import Database
from osteocare.store.records import (
    EXTRA_FIELDS,
    FLAT_FIELDS,
    LIST_FIELDS,
    age_on,
    load_patient,
    patient_from_record,
    record_of,
)


def full_record(rid: str = "P-1") -> PatientRecord:
    return PatientRecord.model_validate({
        "id": rid, "sex": "female", "age": 67, "weight_kg": 52.5, "height_cm": 151.0, "ethnicity": "other_asian",
        "smoking": "ex_smoker", "alcohol": "1to2", "corticosteroids": True, "ra_sle": True, "falls": True,
        "prior_fracture": True, "years": 10, "femoral_neck_t_score": -2.7, "total_hip_t_score": -2.2,
        "lumbar_spine_t_score": -3.1, "femoral_neck_bmd_g_cm2": 0.561, "frax_mof_percent": 21.5,
        "frax_hip_percent": 4.1, "glucocorticoid_mg_per_day": 7.5, "menopausal_status": "postmenopausal",
        "densitometer_manufacturer": "hologic", "creatinine_umol_l": 71.0, "glucocorticoid_months": 4.0,
        "frax_country": "Thailand (surrogate)", "frax_with_bmd": True, "frax_glucocorticoids_ticked": False,
        "dietary_calcium_mg_per_day": 450.0,
        "dxa": [
            {"site": "femoral_neck", "date": "2024-03-01", "bmd_g_cm2": 0.561, "t_score": -2.7, "z_score": -1.1,
             "manufacturer": "hologic", "device_model": "Horizon A", "reference": "NHANES III"},
            {"site": "lumbar_spine", "date": "2024-03-01", "bmd_g_cm2": 0.702, "t_score": -3.1,
             "manufacturer": "hologic", "device_model": "Horizon A", "reference": "NHANES III",
             "evaluable_vertebrae": 3},
            {"site": "total_hip", "date": None, "t_score": -2.2},
            {"site": "femoral_neck", "date": "2022-02-28", "t_score": -2.4, "manufacturer": "ge_lunar"},
        ],
        "fractures": [{"site": "vertebra", "date": "2023-11-30"}, {"site": "wrist", "fragility": False,
                                                                    "on_treatment": True}],
        "falls_history": [{"date": "2024-01-02", "injurious": True}, {}],
        "conditions": [{"code": "myocardial_infarction", "onset": "2020-02-29", "resolved": None},
                       {"code": "hypocalcaemia", "onset": "2024-01-01", "resolved": "2024-02-01"}],
        "labs": [{"name": "creatinine", "value": 71.0, "unit": "umol/L", "date": "2024-03-01"},
                 {"name": "vitamin_d_25oh", "value": 62.5, "unit": "nmol/L", "date": "2024-03-01"},
                 {"name": "calcium", "value": 2.31, "unit": "mmol/L"}],
        "medications": [{"drug": "alendronate", "start": "2018-01-01", "end": "2023-01-01", "last_dose": "2022-12-26"},
                        {"drug": "raloxifene"}],
        "intolerances": [{"drug": "alendronate", "reaction": "digestive irritation", "date": "2022-12-30",
                          "severity": "moderate"}],
        "vertebrae": [{"level": "L1", "anterior_mm": 18.2, "middle_mm": 19.0, "posterior_mm": 25.1},
                      {"level": "T12", "anterior_mm": 20.0, "posterior_mm": 22.0}],
    })


def save(db: Database, record: PatientRecord, **identity: object) -> None:
    with db.write() as s:
        s.add(patient_from_record(record, **identity))


def load(db: Database, rid: str, as_of: dt.date | None = None) -> PatientRecord:
    with db.read() as s:
        p = load_patient(s, rid)
        assert p is not None
        return record_of(p, as_of=as_of)


def test_every_record_field_has_a_home_in_the_store() -> None:
    assert set(PatientRecord.model_fields) == {"id", *FLAT_FIELDS, *EXTRA_FIELDS, *LIST_FIELDS}
    columns = set(m.Patient.__table__.columns.keys())
    assert set(FLAT_FIELDS) <= columns
    assert set(FLAGS) <= set(FLAT_FIELDS)
    assert {"age", "sex", "weight_kg", "femoral_neck_t_score", "creatinine_umol_l"} <= set(FLAT_FIELDS)


def test_fields_without_a_column_round_trip_through_the_extra_json(db: Database) -> None:
    extra = {k: v for k, v in {"falls_screen_answers": {"fallen_past_year": True},
                               "falls_screen_brochure_items": ["unsteady_walking"],
                               "guideline_categories": {"nogg-2022": "high"}}.items()
             if k in PatientRecord.model_fields}
    rec = PatientRecord.model_validate({"id": "x1", "sex": "female", "age": 71, **extra})
    save(db, rec)
    assert load(db, "x1") == rec


def test_it_rebuilds_a_full_record_exactly(db: Database) -> None:
    rec = full_record()
    save(db, rec)
    assert load(db, "P-1") == rec


def test_it_rebuilds_a_minimal_record_exactly(db: Database) -> None:
    rec = PatientRecord(id="min", sex="male", age=50)
    save(db, rec)
    assert load(db, "min") == rec


def test_it_groups_dxa_sites_into_exams_by_date_and_device(db: Database) -> None:
    save(db, full_record())
    with db.read() as s:
        p = load_patient(s, "P-1")
        assert p is not None
        assert [len(e.sites) for e in p.dxa_exams] == [2, 1, 1]
        assert p.dxa_exams[0].exam_date == dt.date(2024, 3, 1)


def test_age_comes_from_the_birth_date_on_the_as_of_date(db: Database) -> None:
    rec = PatientRecord(id="bd", sex="female", age=59)
    save(db, rec, birth_date=dt.date(1964, 2, 29))
    assert load(db, "bd", dt.date(2024, 2, 28)).age == 59
    assert load(db, "bd", dt.date(2024, 2, 29)).age == 60
    assert age_on(dt.date(1964, 2, 29), dt.date(2025, 2, 28)) == 60
    assert age_on(dt.date(1964, 2, 29), dt.date(2025, 3, 1)) == 61


def test_two_patients_cannot_share_a_record_id_and_the_failed_write_leaves_nothing(db: Database) -> None:
    save(db, full_record("dup"))
    with pytest.raises(IntegrityError), db.write() as s:
        s.add(patient_from_record(PatientRecord(id="other", sex="male", age=70)))
        s.add(patient_from_record(full_record("dup")))
    with db.read() as s:
        assert s.scalar(select(func.count()).select_from(m.Patient)) == 1
        assert s.scalar(select(func.count()).select_from(m.Lab)) == 3


def test_the_database_refuses_values_outside_the_allowed_sets(db: Database) -> None:
    save(db, PatientRecord(id="x", sex="female", age=60))
    with pytest.raises(IntegrityError), db.write() as s:
        p = s.scalars(select(m.Patient)).one()
        s.add(m.Reaction(patient_id=p.id, drug="denosumab", kind="bad_kind", severity="mild", recorded_by="t"))


floats = st.floats(allow_nan=False, allow_infinity=False, width=64)


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    t=st.one_of(st.none(), st.floats(min_value=-6.0, max_value=4.0, allow_nan=False)),
    bmd=st.one_of(st.none(), st.floats(min_value=0.2, max_value=1.6, allow_nan=False)),
    flags=st.lists(st.sampled_from(FLAGS), unique=True),
    day=st.dates(min_value=dt.date(1990, 1, 1), max_value=dt.date(2030, 12, 31)),
    value=st.floats(min_value=0, max_value=1e6, allow_nan=False),  # a lab value is an amount: none below 0
)
def test_floats_dates_and_flags_survive_the_round_trip_bit_for_bit(
    db: Database, t: float | None, bmd: float | None, flags: list[str], day: dt.date, value: float
) -> None:
    from osteocare.store.testing import empty_all_tables

    empty_all_tables(db)
    data: dict[str, object] = {"id": "h", "sex": "female", "age": 70, "femoral_neck_t_score": t,
                               "femoral_neck_bmd_g_cm2": bmd, **{f: True for f in flags},
                               "labs": [{"name": "pth", "value": value, "unit": "u", "date": day.isoformat()}],
                               "dxa": [{"site": "total_hip", "date": day.isoformat(), "t_score": t, "bmd_g_cm2": bmd}]}
    rec = PatientRecord.model_validate(data)
    save(db, rec)
    assert load(db, "h") == rec
