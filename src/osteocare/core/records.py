"""The patient record: the facts the core reads. Units are explicit in field names.

The flat top-level fields are a public contract shared with ``osteocare screen``'s CSV columns. The
structured lists (DXA exams, fractures, conditions, labs, medications ...) carry the history the treatment
engine reads. Validation turns every problem into an :class:`~osteocare.core.errors.InputError` naming the
field, the value and what is allowed.
"""

from __future__ import annotations

import datetime as dt
import math
import unicodedata
from functools import cache
from typing import Annotated, Any, Final, Literal, TypeVar, get_args

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    ValidationInfo,
    field_validator,
    model_validator,
)

from .errors import InputError
from .knowledge import all_files, load
from .limits import check_range
from .text import checked_text
from .units import canonical_lab_unit

#: The longest FRAX country model name a record keeps (the store's column width).
FRAX_COUNTRY_MAX_LENGTH = 64

Sex = Literal["female", "male"]
Ethnicity = Literal[
    "white",
    "indian",
    "pakistani",
    "bangladeshi",
    "other_asian",
    "black_caribbean",
    "black_african",
    "chinese",
    "other",
]
Smoking = Literal["non_smoker", "ex_smoker", "light", "moderate", "heavy"]
Alcohol = Literal["none", "lt1", "1to2", "3to6", "7to9", "gt9"]
MenopausalStatus = Literal["premenopausal", "perimenopausal", "postmenopausal"]
Site = Literal["femoral_neck", "total_hip", "lumbar_spine", "radius_33", "trochanter"]
Manufacturer = Literal["hologic", "ge_lunar", "norland"]
FractureSite = Literal[
    "hip", "vertebra", "wrist", "humerus", "pelvis", "rib", "ankle", "tibia_fibula", "femur_other",
    "clavicle", "other",
]

#: The 0/1 risk-factor flags of the public contract (QFracture definitions; docs/calculators.md).
FLAGS: tuple[str, ...] = (
    "antidepressant",
    "cancer",
    "asthma_copd",
    "care_home",
    "corticosteroids",
    "cvd",
    "dementia",
    "endocrine",
    "epilepsy",
    "falls",
    "prior_fracture",
    "hrt_oestrogen",
    "liver",
    "malabsorption",
    "parkinsons",
    "ra_sle",
    "renal",
    "type1_diabetes",
    "type2_diabetes",
    "parental_osteoporosis",
)

ETHNICITIES: tuple[str, ...] = get_args(Ethnicity)
SMOKING: tuple[str, ...] = get_args(Smoking)
ALCOHOL: tuple[str, ...] = get_args(Alcohol)


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)


def _id_form(value: str) -> str:
    """An id as the knowledge files write it: lower case, words joined by ``_`` (``Zoledronic acid`` ->
    ``zoledronic_acid``), so that a capital letter cannot hide an allergy from the contraindication check."""
    return "_".join(value.strip().lower().replace("-", " ").split())


def drug_file_ids() -> set[str]:
    """Drug ids defined by the drug knowledge files (``kind: drug``)."""
    return {str(kf.data["drug"]) for kf in all_files().values() if kf.kind == "drug"}


@cache
def known_drugs() -> tuple[str, ...]:
    """Drug ids a record may name: the drug knowledge files' and ``conditions.yaml``'s ``other_drugs``."""
    return tuple(sorted(drug_file_ids() | {str(d) for d in load("conditions").data.get("other_drugs", [])}))


@cache
def known_conditions() -> tuple[str, ...]:
    """Condition ids a record may name (``knowledge/conditions.yaml``)."""
    return tuple(sorted(str(c) for c in load("conditions").data["conditions"]))


#: Lab names a record may use that no knowledge file names yet (CONVENTION): the web form offers them
#: (``web/pages.py`` ``LAB_NAMES``). To move into a knowledge file's ``{lab}`` list.
LABS_WITHOUT_KNOWLEDGE: tuple[str, ...] = ("albumin",)


@cache
def known_labs() -> tuple[str, ...]:
    """Lab names a record may use: every lab of the code maps (``concept: lab``, e.g. the LOINC map), every
    name in a knowledge fact whose unit is ``{lab}`` (e.g. the monitoring labs of ``course/monitoring``) and
    :data:`LABS_WITHOUT_KNOWLEDGE`."""
    names = set(LABS_WITHOUT_KNOWLEDGE)
    for kf in all_files().values():
        for fact in kf.facts.values():
            v = fact.value
            if fact.unit == "{lab}":
                names |= {str(x) for x in (v.values() if isinstance(v, dict) else v)}
            elif kf.kind == "code_map" and isinstance(v, dict) and v.get("concept") == "lab" and v.get("lab"):
                names.add(str(v["lab"]))
    return tuple(sorted(names))


def _lab_limit(name: str, unit: str) -> str | None:
    """The plausibility limit of lab ``name`` in canonical ``unit``, if ``input-limits`` has one: named
    ``<lab>_<unit>`` with the unit's ``/`` as ``_`` (``creatinine`` in ``umol/L`` -> ``creatinine_umol_l``)."""
    key = f"{name}_{unit.lower().replace('/', '_')}"
    return key if key in load("input-limits").facts else None


#: the longest record id: the store's ``patients.record_id`` column is ``String(64)``
ID_MAX_LENGTH: Final = 64
#: characters a record id may not hold: they end or escape a URL path segment (``/patients/{record_id}``)
ID_FORBIDDEN_CHARS: Final = "/?#%\\"
#: Unicode categories a record id may not hold: control, format (invisible and bidirectional controls such
#: as U+202E), surrogate, private-use and unassigned characters, line and paragraph separators
_ID_FORBIDDEN_CATEGORIES: Final = frozenset({"Cc", "Cf", "Cs", "Co", "Cn", "Zl", "Zp"})
ID_ALLOWED: Final = (f"an id of 1 to {ID_MAX_LENGTH} characters, not only spaces and not '.' or '..': letters, "
                     "digits, spaces and punctuation other than / ? # % \\; no control, invisible or "
                     "bidirectional-text characters")


def check_record_id(value: str, field: str = "id") -> str:
    """``value`` without surrounding spaces if it can be a record id (stored in a 64-character column and
    opened at ``/patients/{record_id}``), else :class:`InputError` naming the field, the value and what is
    allowed (and the first character refused)."""
    v = value.strip()
    if not v or v in (".", ".."):
        raise InputError(field, value, ID_ALLOWED)
    if len(v) > ID_MAX_LENGTH:
        raise InputError(field, value, f"{ID_ALLOWED} (this one has {len(v)} characters)")
    for i, ch in enumerate(v):
        cat = unicodedata.category(ch)
        if ch in ID_FORBIDDEN_CHARS or cat in _ID_FORBIDDEN_CATEGORIES or (cat == "Zs" and ch != " "):
            raise InputError(field, value, f"{ID_ALLOWED} (character {i + 1} is U+{ord(ch):04X} {ch!r})")
    plain = unicodedata.normalize("NFKC", v)
    if plain != v:  # look-alikes would be two patients: a full-width digit, a decomposed letter (NFD), a ligature
        raise InputError(field, value, f"{ID_ALLOWED}, written in Unicode's normal form: {plain!r} (it looks the "
                         "same and would be another patient)")
    return v


def _one_of(field: str, value: str, allowed: tuple[str, ...]) -> str:
    norm = _id_form(value)
    if norm not in allowed:
        raise InputError(field, value, "one of " + ", ".join(allowed))
    return norm


#: a drug id of the knowledge files, however it is written (checked and normalised by :func:`_one_of`)
DrugId = Annotated[str, AfterValidator(lambda v: _one_of("drug", v, known_drugs()))]


def _not_before(field: str, later: dt.date | None, name: str, earlier: dt.date | None) -> None:
    if later is not None and earlier is not None and later < earlier:
        raise InputError(field, later.isoformat(), f"a date on or after {name} ({earlier.isoformat()})")


class DxaMeasurement(_Model):
    """One site of one DXA exam: raw BMD and/or the densitometer's own scores."""

    site: Site
    date: dt.date | None = None
    bmd_g_cm2: float | None = None
    t_score: float | None = Field(default=None, description="T-score as reported by the densitometer")
    z_score: float | None = None
    manufacturer: Manufacturer | None = None
    device_model: str | None = None
    reference: str | None = Field(default=None, description="Reference database of the reported T-score")
    evaluable_vertebrae: int | None = Field(default=None, ge=0, le=4)

    @field_validator("bmd_g_cm2")
    @classmethod
    def _bmd(cls, v: float | None) -> float | None:
        return check_range("bmd_g_cm2", v)

    @field_validator("t_score")
    @classmethod
    def _t(cls, v: float | None) -> float | None:
        return check_range("t_score", v)

    @field_validator("z_score")
    @classmethod
    def _z(cls, v: float | None) -> float | None:
        return check_range("z_score", v)


class Fracture(_Model):
    site: FractureSite
    date: dt.date | None = None
    fragility: bool = True
    on_treatment: bool = False


class Fall(_Model):
    date: dt.date | None = None
    injurious: bool = False


class Condition(_Model):
    code: str = Field(description="Condition id from knowledge/conditions (e.g. 'myocardial_infarction')")
    onset: dt.date | None = None
    resolved: dt.date | None = None

    @field_validator("code")
    @classmethod
    def _code(cls, v: str) -> str:
        return _one_of("code", v, known_conditions())

    @model_validator(mode="after")
    def _dates(self) -> Condition:
        _not_before("resolved", self.resolved, "onset", self.onset)
        return self


class Lab(_Model):
    """A laboratory result. The name is a lab of the knowledge (:func:`known_labs`; case, spaces and ``-``
    ignored, kept in the knowledge's form); the unit one the knowledge lists for that lab where it lists any
    (kept as written; :func:`~osteocare.core.units.canonical_lab_unit`); the value within the lab's
    plausibility limit where ``input-limits`` has one (creatinine)."""

    name: str = Field(description="Lab name (creatinine, calcium, vitamin_d_25oh, ...); case and spaces ignored")
    value: float
    unit: str
    date: dt.date | None = None

    @field_validator("name")
    @classmethod
    def _name(cls, v: str) -> str:
        return _one_of("name", v, known_labs())

    @model_validator(mode="after")
    def _unit_and_range(self) -> Lab:
        unit = canonical_lab_unit(self.name, self.unit, "unit")
        limit = None if unit is None else _lab_limit(self.name, unit)
        if limit is not None:
            check_range("value", self.value, limit)
        return self

    @field_validator("value", mode="before")
    @classmethod
    def _number(cls, v: Any) -> Any:
        return _plain_number("value", v)

    @field_validator("value")
    @classmethod
    def _measured(cls, v: float) -> float:
        if not math.isfinite(v) or v < 0:  # a concentration: a finite amount, none below zero
            raise InputError("value", v, "a measured amount: a finite number of at least 0")
        return v


class Medication(_Model):
    drug: DrugId = Field(description="Drug id from knowledge/drugs (e.g. 'alendronate'); case and spaces ignored")
    start: dt.date | None = None
    end: dt.date | None = None
    last_dose: dt.date | None = None

    @model_validator(mode="after")
    def _dates(self) -> Medication:
        _not_before("end", self.end, "start", self.start)
        _not_before("last_dose", self.last_dose, "start", self.start)
        return self


class Intolerance(_Model):
    drug: DrugId = Field(description="Drug id from knowledge/drugs (e.g. 'alendronate'); case and spaces ignored")
    reaction: str
    date: dt.date | None = None
    severity: Literal["mild", "moderate", "severe"] | None = None


def _plain_number(field: str, v: Any) -> Any:
    """Refuse true/false where a number is expected (pydantic would read ``true`` as 1)."""
    if isinstance(v, bool):
        raise InputError(field, v, "a number, not true or false")
    return v


class VertebraHeights(_Model):
    level: str = Field(description="e.g. T12, L1")
    date: dt.date | None = Field(default=None, description="Day of the radiograph or VFA the heights were read from")
    anterior_mm: float
    middle_mm: float | None = None
    posterior_mm: float

    @field_validator("anterior_mm", "middle_mm", "posterior_mm")
    @classmethod
    def _h(cls, v: float | None) -> float | None:
        return check_range("vertebral height (mm)", v, "vertebral_height_mm")


class PatientRecord(_Model):
    """Everything the core reads about one patient. Flat fields = the screening CSV columns."""

    id: str = Field(min_length=1, max_length=ID_MAX_LENGTH, description=ID_ALLOWED)
    sex: Sex
    age: int = Field(description="Whole years")
    bmi: float | None = None
    weight_kg: float | None = None
    height_cm: float | None = None
    ethnicity: Ethnicity | None = Field(
        default=None, description="QFracture ethnic group; not recorded -> the deployment default"
    )
    smoking: Smoking = "non_smoker"
    alcohol: Alcohol = "none"

    antidepressant: bool = False
    cancer: bool = False
    asthma_copd: bool = False
    care_home: bool = False
    corticosteroids: bool = False
    cvd: bool = False
    dementia: bool = False
    endocrine: bool = False
    epilepsy: bool = False
    falls: bool = False
    prior_fracture: bool = False
    hrt_oestrogen: bool = False
    liver: bool = False
    malabsorption: bool = False
    parkinsons: bool = False
    ra_sle: bool = False
    renal: bool = False
    type1_diabetes: bool = False
    type2_diabetes: bool = False
    parental_osteoporosis: bool = False

    years: int = 10
    femoral_neck_t_score: float | None = None
    total_hip_t_score: float | None = None
    lumbar_spine_t_score: float | None = None
    femoral_neck_bmd_g_cm2: float | None = None
    frax_mof_percent: float | None = None
    frax_hip_percent: float | None = None
    glucocorticoid_mg_per_day: float | None = None

    # Richer history (treatment engine).
    menopausal_status: MenopausalStatus | None = None
    densitometer_manufacturer: Manufacturer | None = Field(
        default=None, description="Manufacturer of the device that measured femoral_neck_bmd_g_cm2"
    )
    creatinine_umol_l: float | None = None
    creatinine_mg_dl: float | None = None
    glucocorticoid_months: float | None = Field(default=None, ge=0)
    frax_country: str | None = None
    frax_with_bmd: bool | None = None
    frax_glucocorticoids_ticked: bool | None = None
    dietary_calcium_mg_per_day: float | None = None
    dxa: list[DxaMeasurement] = Field(default_factory=list)
    fractures: list[Fracture] = Field(default_factory=list)
    falls_history: list[Fall] = Field(default_factory=list)
    conditions: list[Condition] = Field(default_factory=list)
    labs: list[Lab] = Field(default_factory=list)
    medications: list[Medication] = Field(default_factory=list)
    intolerances: list[Intolerance] = Field(default_factory=list)
    vertebrae: list[VertebraHeights] = Field(default_factory=list)
    falls_screen_answers: dict[str, bool] = Field(
        default_factory=dict,
        description="STEADI key questions asked and answered (id -> yes/no; ids in knowledge/lifestyle/steadi.yaml)",
    )
    falls_screen_brochure_items: list[str] | None = Field(
        default=None, description="Ids of the 'Stay Independent' brochure items answered yes (None: not asked)"
    )
    falls_screen_date: dt.date | None = Field(
        default=None, description="The day the falls screen (key questions, brochure) was recorded (None: not known); "
        "shown with the screen's result, never used as a re-screen interval (the knowledge gives none)"
    )
    guideline_categories: dict[str, Literal["low", "intermediate", "high", "very_high"]] = Field(
        default_factory=dict,
        description="Guideline id -> category read by the clinician from that guideline's own tool (e.g. NOGG)",
    )

    @field_validator("age", "years", "weight_kg", "height_cm", "bmi", "glucocorticoid_mg_per_day", "creatinine_umol_l",
                     "creatinine_mg_dl", "femoral_neck_bmd_g_cm2", "dietary_calcium_mg_per_day", "femoral_neck_t_score",
                     "total_hip_t_score", "lumbar_spine_t_score", "frax_mof_percent", "frax_hip_percent",
                     "glucocorticoid_months", mode="before")
    @classmethod
    def _not_bool(cls, v: Any, info: Any) -> Any:
        return _plain_number(info.field_name, v)

    @field_validator("id", mode="before")
    @classmethod
    def _id(cls, v: Any) -> Any:
        return check_record_id(v) if isinstance(v, str) else v

    @field_validator("frax_country", mode="before")
    @classmethod
    def _country(cls, v: Any, info: ValidationInfo) -> Any:
        """The FRAX country model's name as typed: one line of at most 64 characters (the store's column). A record
        read back from the store (validation context ``{"stored": True}``) keeps what it holds: one stored before
        this rule must stay readable, and correctable."""
        if not isinstance(v, str) or (info.context or {}).get("stored"):
            return v
        return checked_text("frax_country", v, max_length=FRAX_COUNTRY_MAX_LENGTH)

    @field_validator("age")
    @classmethod
    def _age(cls, v: int) -> int:
        check_range("age", v)
        return v

    @field_validator("falls_screen_answers")
    @classmethod
    def _steadi_questions(cls, v: dict[str, bool]) -> dict[str, bool]:
        known = tuple(load("steadi").data["key_questions"])
        for k in v:
            if k not in known:
                raise InputError("falls_screen_answers", k, "one of " + ", ".join(known))
        return v

    @field_validator("falls_screen_brochure_items")
    @classmethod
    def _steadi_items(cls, v: list[str] | None) -> list[str] | None:
        known = tuple(load("steadi").data["brochure_items"])
        for k in v or []:
            if k not in known:
                raise InputError("falls_screen_brochure_items", k, "one of " + ", ".join(known))
        return v

    @field_validator("guideline_categories")
    @classmethod
    def _guidelines(cls, v: dict[str, str]) -> dict[str, str]:
        known = tuple(sorted(kf.id for kf in all_files().values() if kf.kind == "guideline"))
        for k in v:
            if k not in known:
                raise InputError("guideline_categories", k, "a guideline id: one of " + ", ".join(known))
        return v

    @field_validator("weight_kg", "height_cm", "bmi", "glucocorticoid_mg_per_day", "creatinine_umol_l",
                     "creatinine_mg_dl", "femoral_neck_bmd_g_cm2", "dietary_calcium_mg_per_day")
    @classmethod
    def _plausible(cls, v: float | None, info: Any) -> float | None:
        name = info.field_name
        return check_range(name, v, "bmd_g_cm2" if name.endswith("bmd_g_cm2") else name)

    @field_validator("femoral_neck_t_score", "total_hip_t_score", "lumbar_spine_t_score")
    @classmethod
    def _tscore(cls, v: float | None, info: Any) -> float | None:
        return check_range(info.field_name, v, "t_score")

    @field_validator("frax_mof_percent", "frax_hip_percent")
    @classmethod
    def _frax(cls, v: float | None, info: Any) -> float | None:
        return check_range(info.field_name, v, "frax_percent")

    @field_validator("years")
    @classmethod
    def _years(cls, v: int) -> int:
        check_range("years", v)
        return v

    @model_validator(mode="after")
    def _body(self) -> PatientRecord:
        if self.bmi is None and (self.weight_kg is None) != (self.height_cm is None):
            missing = "height_cm" if self.height_cm is None else "weight_kg"
            raise InputError(missing, None, "both weight_kg and height_cm, or bmi")
        if self.creatinine_umol_l is not None and self.creatinine_mg_dl is not None:
            raise InputError("creatinine_mg_dl", self.creatinine_mg_dl,
                             "only one of creatinine_umol_l and creatinine_mg_dl")
        if self.sex == "male" and self.menopausal_status is not None:
            raise InputError("menopausal_status", self.menopausal_status, "no value for a male patient")
        if (self.frax_hip_percent is not None and self.frax_mof_percent is not None
                and self.frax_hip_percent > self.frax_mof_percent):
            raise InputError("frax_hip_percent", self.frax_hip_percent,
                             f"at most frax_mof_percent ({self.frax_mof_percent:g}): a major osteoporotic fracture "
                             "includes a hip fracture")
        if self.glucocorticoid_months is not None and self.glucocorticoid_months > 12 * (self.age + 1):
            raise InputError("glucocorticoid_months", self.glucocorticoid_months,
                             f"at most the patient's age in months ({12 * (self.age + 1)})")
        return self

    @property
    def bmi_kg_m2(self) -> float | None:
        """BMI as entered, else weight / height^2, not rounded (QFracture needs it unrounded)."""
        if self.bmi is not None:
            return self.bmi
        if self.weight_kg is not None and self.height_cm is not None:
            h = self.height_cm / 100.0
            bmi = self.weight_kg / (h * h)
            check_range("bmi (from weight_kg and height_cm)", bmi, "bmi")
            return bmi
        return None


#: the dated lists of a record, and the date of each entry that says when it became known
_DATED: tuple[tuple[str, str], ...] = (("dxa", "date"), ("labs", "date"), ("fractures", "date"),
                                       ("falls_history", "date"), ("medications", "start"), ("conditions", "onset"),
                                       ("intolerances", "date"), ("vertebrae", "date"))


def known_on(record: PatientRecord, as_of: dt.date) -> tuple[PatientRecord, list[str]]:
    """The record as it stood on ``as_of``: every DXA, lab, fracture, fall, medication, condition,
    intolerance and vertebral measurement dated after that day left out (it was not known then; a result must
    not rest on it), and a note naming each entry left out. The record itself is not changed."""
    update: dict[str, Any] = {}
    left: list[str] = []
    for name, date_field in _DATED:
        entries = getattr(record, name)
        keep = []
        for i, e in enumerate(entries):
            when = getattr(e, date_field)
            if when is not None and when > as_of:
                left.append(f"{name}[{i}] ({date_field} {when.isoformat()})")
            else:
                keep.append(e)
        if len(keep) != len(entries):
            update[name] = keep
    if not left:
        return record, []
    return record.model_copy(update=update), [
        f"Dated after the assessment date ({as_of.isoformat()}), so not used: {', '.join(left)}."]


#: pydantic's error types, in the words of the rest of OsteoCare's messages ("expected ...")
_KINDS: dict[str, str] = {
    "int_type": "a whole number", "int_parsing": "a whole number", "int_from_float": "a whole number",
    "float_type": "a number", "float_parsing": "a number", "finite_number": "a finite number",
    "bool_type": "true or false", "bool_parsing": "true or false",
    "string_type": "text", "date_type": "a date, YYYY-MM-DD", "date_parsing": "a date, YYYY-MM-DD",
    "date_from_datetime_parsing": "a date, YYYY-MM-DD", "date_from_datetime_inexact": "a date, YYYY-MM-DD",
    "list_type": "a list", "dict_type": "an object", "model_type": "an object", "model_attributes_type": "an object",
    "greater_than_equal": "a value of at least {ge}", "less_than_equal": "a value of at most {le}",
    "string_too_short": "text of at least {min_length} character(s)",
}


def _describe(err: dict[str, Any]) -> InputError:
    loc = ".".join(str(p) for p in err.get("loc", ())) or "record"
    value = err.get("input")
    ctx = err.get("ctx") or {}
    exc = ctx.get("error")
    if isinstance(exc, InputError):
        if loc != exc.field and loc != "record":
            # a field's own check names the field (loc ends with it); a model's check names a field within it
            field = loc if loc.endswith("." + exc.field) else f"{loc}.{exc.field}"
            exc = InputError(field, exc.value, exc.allowed, unit=exc.unit)
        return exc
    kind = err.get("type", "")
    if kind == "literal_error":
        allowed = "one of " + str(ctx.get("expected", ""))
    elif kind == "missing":
        allowed = "a value (this field is required)"
        value = None
    elif kind == "extra_forbidden":
        allowed = "no such field (unknown field; see `osteocare schema`)"
    elif kind in _KINDS:
        allowed = _KINDS[kind].format(**ctx)
    else:
        allowed = str(err.get("msg", "a valid value"))
    return InputError(loc, value, allowed)


class RecordErrors(InputError):
    """Several input problems at once; ``errors`` lists each as an :class:`InputError`."""

    def __init__(self, errors: list[InputError]) -> None:
        self.errors = errors
        first = errors[0]
        super().__init__(first.field, first.value, first.allowed, unit=first.unit)
        self.args = ("; ".join(str(e) for e in errors),)


def parse_record(data: Any) -> PatientRecord:
    """Validate a mapping into a :class:`PatientRecord` or raise :class:`RecordErrors`."""
    if not isinstance(data, dict):
        raise InputError("record", type(data).__name__, "a JSON object with the patient's fields")
    return parse_as(PatientRecord, data)


_M = TypeVar("_M", bound=BaseModel)


def parse_as(model: type[_M], data: dict[str, Any]) -> _M:
    """Validate ``data`` into ``model`` (a record or a part of one, e.g. :class:`Lab`), or raise its problems as
    :class:`RecordErrors`, each an :class:`InputError` naming the field, the value and what is allowed."""
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        raise RecordErrors(errors_of(exc)) from None


def errors_of(exc: ValidationError) -> list[InputError]:
    """pydantic's errors in OsteoCare's words: each an :class:`InputError` naming the field, the value given and
    what is allowed."""
    return [_describe(dict(e)) for e in exc.errors()]
