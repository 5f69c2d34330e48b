"""Writes the hand-made FHIR R4 test bundles of this folder. Run: ``uv run python tests/fhir/bundles/make_bundles.py``.

Each bundle exercises one group of code mappings or messy cases; the tests in ``tests/fhir`` say what each
resource must become. Resource ids name the case, so a test can look its report entry up by id.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

HERE = Path(__file__).parent
LOINC = "http://loinc.org"
SCT = "http://snomed.info/sct"
RXN = "http://www.nlm.nih.gov/research/umls/rxnorm"
ATC = "http://www.whocc.no/atc"
CM = "http://hl7.org/fhir/sid/icd-10-cm"
WHO = "http://hl7.org/fhir/sid/icd-10"
UCUM = "http://unitsofmeasure.org"
PAT = "urn:uuid:00000000-0000-0000-0000-00000000000"


def cc(system: str | None, code: str, display: str | None = None, text: str | None = None) -> dict[str, Any]:
    c: dict[str, Any] = {"code": code}
    if system:
        c["system"] = system
    if display:
        c["display"] = display
    out: dict[str, Any] = {"coding": [c]}
    if text:
        out["text"] = text
    return out


def qty(value: float, unit: str | None, ucum: bool = True) -> dict[str, Any]:
    q: dict[str, Any] = {"value": value}
    if unit is not None:
        q["unit"] = unit
        if ucum:
            q["system"] = UCUM
            q["code"] = unit
    return q


def patient(n: int, gender: str | None = "female", birth: str | None = "1950-03-15", **extra: Any) -> dict[str, Any]:
    r: dict[str, Any] = {"resourceType": "Patient", "id": f"p{n}"}
    if gender:
        r["gender"] = gender
    if birth:
        r["birthDate"] = birth
    r.update(extra)
    return r


def obs(oid: str, code: str, value: float | None, unit: str | None, date: str | None = "2024-05-02",
        subject: str | None = f"{PAT}1", display: str | None = None, body: str | None = None,
        category: str = "imaging", ucum: bool = True, **extra: Any) -> dict[str, Any]:
    r: dict[str, Any] = {
        "resourceType": "Observation", "id": oid, "status": "final",
        "category": [cc("http://terminology.hl7.org/CodeSystem/observation-category", category)],
        "code": cc(LOINC, code, display),
    }
    if subject:
        r["subject"] = {"reference": subject}
    if date:
        r["effectiveDateTime"] = date
    if value is not None:
        r["valueQuantity"] = qty(value, unit, ucum)
    if body:
        r["bodySite"] = {"text": body}
    r.update(extra)
    return r


def cond(cid: str, system: str | None, code: str, onset: str | None = "2023-01-10", subject: str = f"{PAT}1",
         **extra: Any) -> dict[str, Any]:
    r: dict[str, Any] = {"resourceType": "Condition", "id": cid, "code": cc(system, code),
                         "subject": {"reference": subject}}
    if onset:
        r["onsetDateTime"] = onset
    r.update(extra)
    return r


def med(mid: str, rtype: str, concept: dict[str, Any] | None, subject: str = f"{PAT}1", **extra: Any) -> dict[str, Any]:
    r: dict[str, Any] = {"resourceType": rtype, "id": mid, "subject": {"reference": subject}}
    if concept is not None:
        r["medicationCodeableConcept"] = concept
    r.update(extra)
    return r


def bundle(btype: str, resources: list[dict[str, Any]], full_urls: dict[str, str] | None = None,
           extra_entries: list[dict[str, Any]] | None = None) -> dict[str, Any]:
    entries = []
    for r in resources:
        e: dict[str, Any] = {"resource": r}
        if full_urls and r["id"] in full_urls:
            e["fullUrl"] = full_urls[r["id"]]
        elif r["resourceType"] == "Patient":
            e["fullUrl"] = PAT + r["id"][1:]
        else:
            digest = hashlib.sha1(r["id"].encode()).hexdigest()
            e["fullUrl"] = f"urn:uuid:{digest[:8]}-{digest[8:12]}-{digest[12:16]}-{digest[16:20]}-{digest[20:32]}"
        if btype == "transaction":
            e["request"] = {"method": "POST", "url": r["resourceType"]}
        if btype == "searchset":
            e["search"] = {"mode": "match" if r["resourceType"] != "Patient" else "include"}
        entries.append(e)
    entries += extra_entries or []
    return {"resourceType": "Bundle", "type": btype, "entry": entries}


# ------------------------------------------------------------------------------------------------ bundles
def dxa() -> dict[str, Any]:
    rs = [
        patient(1),
        obs("hip-bmd", "38261-4", 0.712, "g/cm2"),
        obs("hip-t", "38264-8", -2.1, "{T-score}"),
        obs("hip-z", "80933-5", -0.9, "{Z-score}"),
        obs("fn-t-neck", "38263-0", -2.6, "{T-score}", body="Left femoral neck"),
        obs("fn-bmd-nobody", "24701-5", 0.601, "g/cm2"),
        obs("troch-t", "38263-0", -1.8, "{T-score}", body="Left trochanter"),
        obs("ls-bmd-mg", "24966-4", 845, "mg/cm2", body="L1-L4"),
        obs("ls-t", "38267-1", -2.4, "{T-score}", body="L1-L4"),
        obs("ls-z", "85394-5", -1.1, "{Z-score}"),
        obs("radius33-t", "38265-5", -2.9, "{T-score}", display="DXA Radius and Ulna [T-score] Bone density",
            body="Left radius 33%"),
        obs("forearm-t-nobody", "80944-2", -3.1, "{T-score}"),
        obs("calc-t", "38266-3", -1.5, "{T-score}"),
        obs("bone-bmd", "46383-6", 0.9, "g/cm2"),
        obs("hip-left-t", "80946-7", -2.2, "{T-score}", date="2024-06-01"),
        obs("hip-right-t", "80945-9", -2.0, "{T-score}", date="2024-06-01"),
        obs("bmd-wrong-unit", "38261-4", 0.75, "g/cm-2", ucum=False, date="2023-01-01"),
        obs("t-no-unit", "38267-1", -1.0, None, date="2022-01-01"),
        obs("t-bad-unit", "38264-8", -1.0, "%", date="2022-01-01"),
        obs("t-implausible", "38264-8", -12.0, "{T-score}", date="2021-01-01"),
        {"resourceType": "Observation", "id": "dxa-panel", "status": "final", "code": cc(LOINC, "83311-1"),
         "subject": {"reference": f"{PAT}1"}, "effectiveDateTime": "2024-05-02",
         "hasMember": [{"reference": "Observation/hip-t"}]},
        {"resourceType": "DiagnosticReport", "id": "dxa-report", "status": "final", "code": cc(LOINC, "38269-7"),
         "subject": {"reference": f"{PAT}1"}, "effectiveDateTime": "2024-05-02",
         "result": [{"reference": "Observation/hip-t"}]},
        {"resourceType": "Procedure", "id": "dxa-scan", "status": "completed", "code": cc(SCT, "312681000"),
         "subject": {"reference": f"{PAT}1"}, "performedDateTime": "2024-05-02"},
    ]
    return bundle("collection", rs)


def labs() -> dict[str, Any]:
    lab = {"category": "laboratory"}
    rs = [
        patient(1, gender="male", birth="1948-11-30"),
        obs("creat-umol", "2160-0", 95, "umol/L", **lab),
        obs("creat-blood-mgdl", "38483-4", 1.1, "mg/dL", date="2023-03-01", **lab),
        obs("creat-bad-unit", "2160-0", 11, "mg/L", date="2023-03-02", **lab),
        obs("creat-implausible", "2160-0", 5000, "umol/L", date="2023-03-03", **lab),
        obs("ca-mmol", "17861-6", 2.35, "mmol/L", **lab),
        obs("ca-blood", "49765-1", 9.4, "mg/dL", **lab),
        obs("vitd-nmol", "62292-8", 48, "nmol/L", **lab),
        obs("vitd3-ngml", "1989-3", 21, "ng/mL", date="2023-02-01", **lab),
        obs("vitd2", "49054-0", 3, "ng/mL", **lab),
        obs("vitd-avoid", "14635-7", 50, "nmol/L", **lab),
        obs("egfr-2021", "98979-8", 62, "mL/min/{1.73_m2}", **lab),
        obs("egfr-2009", "62238-1", 60, "mL/min/{1.73_m2}", **lab),
        obs("egfr-mdrd-spelling", "33914-3", 58, "mL/min/1.73m2", ucum=False, **lab),
        obs("weight-g", "29463-7", 61500, "g", category="vital-signs"),
        obs("height-m", "8302-2", 1.62, "m", category="vital-signs"),
        obs("bmi-old", "39156-5", 22.0, "kg/m2", date="2020-01-01", category="vital-signs"),
        obs("weight-lb", "29463-7", 140, "[lb_av]", date="2024-06-01", category="vital-signs"),
        obs("comparator", "2160-0", 0, None, date="2023-03-04", valueQuantity={"value": 40, "comparator": "<",
                                                                               "unit": "umol/L"}, **lab),
        obs("absent", "62292-8", None, None, dataAbsentReason={"text": "not performed"}, **lab),
        obs("as-text", "17861-6", None, None, date="2023-05-05", valueString="9.1", **lab),
        obs("smoking-unknown-code", "72166-2", None, None, category="survey",
            valueCodeableConcept=cc(SCT, "266919005", "Never smoker")),
        {"resourceType": "Observation", "id": "bp-components", "status": "final", "code": cc(LOINC, "55284-4"),
         "subject": {"reference": f"{PAT}1"}, "effectiveDateTime": "2024-05-02",
         "component": [{"code": cc(LOINC, "8480-6"), "valueQuantity": qty(120, "mm[Hg]")}]},
    ]
    outcome = {"resource": {"resourceType": "OperationOutcome", "id": "oo",
                            "issue": [{"severity": "information", "code": "informational"}]},
               "search": {"mode": "outcome"}}
    return bundle("searchset", rs, extra_entries=[outcome])


def conditions() -> dict[str, Any]:
    rs = [
        patient(1),
        cond("sct-osteoporosis", SCT, "64859006"),
        cond("sct-osteopenia", SCT, "312894000", clinicalStatus=cc(None, "resolved")),
        cond("sct-vert-osteoporosis", SCT, "203438009"),
        cond("sct-fragility", SCT, "443165006", onset="2019-04-01"),
        cond("sct-vertebral", SCT, "15724005", onset="2018-02-02"),
        cond("sct-compression", SCT, "42942008", onset="2018-02-03"),
        cond("sct-hip", SCT, "5913000", onset="2017-01-01"),
        cond("sct-hip-synthea", SCT, "359817006", onset="2017-01-01"),
        cond("sct-femur", SCT, "704330001", onset="2016-01-01"),
        cond("sct-forearm", SCT, "65966004", onset="2015-01-01"),
        cond("sct-wrist", SCT, "263102004", onset="2014-01-01"),
        cond("sct-fall", SCT, "1912002", onset="2024-02-01"),
        cond("sct-accidental-fall", SCT, "217082002", onset="2024-03-01"),
        cond("sct-at-risk", SCT, "391040000"),
        cond("cm-m810", CM, "M81.0"),
        cond("cm-m818", CM, "M81.8"),
        cond("cm-m80-vertebra", CM, "M80.08XA", onset="2020-05-05"),
        cond("cm-m80-no-dot", CM, "M8000XA", onset="2020-06-06"),
        cond("cm-m808", CM, "M80.88XD", onset="2020-07-07"),
        cond("cm-m858", CM, "M85.851"),
        cond("who-m810", WHO, "M81.0"),
        cond("who-m800", WHO, "M80.0", onset="2021-08-08"),
        cond("who-m808", WHO, "M80.8", onset="2021-09-09"),
        cond("who-m818", WHO, "M81.8"),
        cond("who-m819", WHO, "M81.9"),
        cond("icd-no-system", None, "M81.0"),
        cond("icd-other-edition", "http://hl7.org/fhir/sid/icd-10-nl", "M81.0"),
        cond("refuted", SCT, "5913000", verificationStatus=cc(None, "refuted")),
        cond("provisional", SCT, "15724005", onset="2022-02-02", verificationStatus=cc(None, "provisional")),
        cond("onset-period", SCT, "263102004", onset=None, onsetPeriod={"start": "2013-03-03"}),
        cond("no-date", SCT, "65966004", onset=None),
        cond("recorded-only", SCT, "443165006", onset=None, recordedDate="2012-12-12"),
        cond("unknown-sct", SCT, "38341003"),
        {"resourceType": "Procedure", "id": "proc-hip-repair", "status": "completed",
         "code": cc(SCT, "00000000", "hip repair (code not known to OsteoCare)"),
         "reasonCode": [cc(SCT, "5913000")], "subject": {"reference": f"{PAT}1"},
         "performedDateTime": "2010-10-10"},
        {"resourceType": "Procedure", "id": "proc-not-done", "status": "not-done", "code": cc(SCT, "312681000"),
         "subject": {"reference": f"{PAT}1"}},
    ]
    return bundle("transaction", rs)


def medications() -> dict[str, Any]:
    period = {"start": "2022-01-10"}
    rs = [
        patient(1),
        med("rx-denosumab", "MedicationRequest", cc(RXN, "993452", "1 ML denosumab 60 MG/ML Prefilled Syringe"),
            status="active", intent="order", authoredOn="2022-01-10"),
        med("adm-dmab-1", "MedicationAdministration", cc(RXN, "993452"), status="completed",
            effectiveDateTime="2022-01-10"),
        med("adm-dmab-2", "MedicationAdministration", cc(RXN, "993452"), status="completed",
            effectiveDateTime="2022-07-12"),
        med("adm-dmab-not-done", "MedicationAdministration", cc(RXN, "993452"), status="not-done",
            effectiveDateTime="2023-01-12"),
        med("st-zoledronic-atc", "MedicationStatement", cc(ATC, "M05BA08", "zoledronic acid"), status="completed",
            effectivePeriod={"start": "2019-03-01", "end": "2019-03-01"}),
        med("rx-teriparatide", "MedicationRequest", cc(RXN, "110634"), status="stopped", intent="order",
            authoredOn="2016-01-01"),
        med("st-raloxifene-text", "MedicationStatement", {"text": "Raloxifene 60 mg tablet"}, status="active",
            effectivePeriod=period),
        med("rx-proposal", "MedicationRequest", cc(ATC, "M05BA04"), status="active", intent="proposal",
            authoredOn="2024-01-01"),
        med("rx-cancelled", "MedicationRequest", cc(ATC, "M05BA04"), status="cancelled", intent="order",
            authoredOn="2024-01-01"),
        med("rx-xgeva", "MedicationRequest", {"text": "1.7 ML denosumab 70 MG/ML Injection [Xgeva]"},
            status="active", intent="order", authoredOn="2023-01-01"),
        med("rx-zol-oncology", "MedicationRequest", cc(RXN, "1114085"), status="active", intent="order",
            authoredOn="2023-01-01"),
        med("rx-by-reference", "MedicationRequest", None, medicationReference={"reference": "Medication/med-ris"},
            status="active", intent="order", authoredOn="2021-05-05"),
        med("rx-contained", "MedicationRequest", None, medicationReference={"reference": "#m1"},
            contained=[{"resourceType": "Medication", "id": "m1", "code": cc(ATC, "M05BA06")}],
            status="active", intent="order", authoredOn="2020-05-05"),
        med("st-vitd", "MedicationStatement", cc(RXN, "994830", "Cholecalciferol 600 UNT"), status="active",
            effectiveDateTime="2021-01-01"),
        med("st-calcium", "MedicationStatement", cc(ATC, "A12AA04"), status="active", effectiveDateTime="2021-01-01"),
        med("rx-amoxicillin", "MedicationRequest", cc(RXN, "562251", "Amoxicillin 250 MG / Clavulanate 125 MG"),
            status="stopped", intent="order", authoredOn="2020-01-01"),
        med("st-dmab-atc-only", "MedicationStatement", cc(ATC, "M05BX04"), status="intended",
            effectiveDateTime="2024-01-01"),
        {"resourceType": "Medication", "id": "med-ris", "code": cc(ATC, "M05BA07", "risedronic acid")},
    ]
    return bundle("transaction", rs, full_urls={"med-ris": "http://ehr.example/fhir/Medication/med-ris"})


def messy() -> dict[str, Any]:
    rs = [
        patient(1, gender="unknown", birth="1950",
                extension=[{"url": "http://hl7.org/fhir/us/core/StructureDefinition/us-core-birthsex",
                            "valueCode": "F"}]),
        obs("no-date", "38267-1", -2.0, "{T-score}", date=None),
        obs("partial-date", "38264-8", -1.9, "{T-score}", date="2019-05"),
        obs("issued-only", "24966-4", 0.9, "g/cm2", date=None, issued="2018-04-04T10:00:00Z"),
        obs("future", "38264-8", -3.0, "{T-score}", date="2099-01-01"),
        obs("no-subject", "29463-7", 60, "kg", subject=None, category="vital-signs"),
        obs("bad-date", "8302-2", 160, "cm", category="vital-signs", date="yesterday"),
        obs("t-as-text", "38267-1", None, None, date="2014-04-04", valueString="-2.3"),
        obs("entered-in-error", "38264-8", -4.0, "{T-score}", status="entered-in-error"),
        obs("weight-lb-only", "29463-7", 150, "[lb_av]", date="2010-01-01", category="vital-signs"),
        {"resourceType": "Observation", "id": "bmd-component", "status": "final", "code": cc(LOINC, "38269-7"),
         "subject": {"reference": f"{PAT}1"}, "effectiveDateTime": "2017-07-07"},
        {"resourceType": "Observation", "id": "bmd-with-t-component", "status": "final",
         "code": cc(LOINC, "24966-4"), "subject": {"reference": f"{PAT}1"}, "effectiveDateTime": "2016-06-06",
         "valueQuantity": qty(0.88, "g/cm2"),
         "component": [{"code": cc(LOINC, "38267-1"), "valueQuantity": qty(-1.7, "{T-score}")},
                       {"code": cc(LOINC, "85394-5"), "valueQuantity": qty(-0.4, "{Z-score}")}]},
        {"resourceType": "Observation", "id": "other-patient", "status": "final", "code": cc(LOINC, "38267-1"),
         "subject": {"reference": "Patient/somebody-else"}, "valueQuantity": qty(-2.0, "{T-score}")},
        {"resourceType": "Basic", "id": "unknown-type", "code": cc(None, "x")},
        {"resourceType": "Observation", "id": "no-code", "status": "final", "subject": {"reference": f"{PAT}1"},
         "valueQuantity": qty(1, "1")},
        cond("cond-no-code", SCT, "", onset=None),
    ]
    b = bundle("collection", rs)
    b["entry"].append({"fullUrl": "urn:uuid:empty", "response": {"status": "201 Created"}})
    b["entry"].append({"resource": {"resourceType": "Bundle", "type": "collection", "entry": [
        {"resource": obs("nested", "38263-0", -2.2, "{T-score}", date="2015-05-05", body="femoral neck")}]}})
    return b


def two_patients() -> dict[str, Any]:
    base = "http://ehr.example/fhir"
    rs = [
        patient(1, gender="female", birth="1945-01-01"),
        patient(2, gender="male", birth="1955-01-01"),
        obs("a-t", "38267-1", -2.7, "{T-score}", subject=f"{base}/Patient/p1"),
        obs("b-t", "38267-1", -1.2, "{T-score}", subject="Patient/p2"),
        obs("orphan", "38267-1", -1.2, "{T-score}", subject=None),
    ]
    return bundle("searchset", rs, full_urls={"p1": f"{base}/Patient/p1", "p2": f"{base}/Patient/p2"})


def synthea_quirk() -> dict[str, Any]:
    rs = [
        patient(1, gender="male", birth="1940-02-02"),
        obs("synthea-display", "38265-5", -2.8, "{T-score}", display="DXA [T-score] Bone density",
            category="procedure"),
        obs("synthea-tagged", "38265-5", -2.6, "{T-score}", display="something else", date="2023-01-01",
            body="33% radius", meta={"tag": [{"system": "https://smarthealthit.org/tags", "code": "synthea-5-2019"}]}),
    ]
    return bundle("transaction", rs)


def no_patient() -> dict[str, Any]:
    return bundle("collection", [obs("lonely", "38267-1", -2.0, "{T-score}")])


def no_birthdate() -> dict[str, Any]:
    return bundle("collection", [patient(1, birth=None), obs("t", "38267-1", -2.0, "{T-score}")])


BUNDLES = {
    "dxa.json": dxa,
    "labs-and-units.json": labs,
    "conditions.json": conditions,
    "medications.json": medications,
    "messy.json": messy,
    "two-patients.json": two_patients,
    "synthea-quirk.json": synthea_quirk,
    "no-patient.json": no_patient,
    "no-birthdate.json": no_birthdate,
}


def main() -> None:
    for name, fn in BUNDLES.items():
        (HERE / name).write_text(json.dumps(fn(), indent=1) + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
