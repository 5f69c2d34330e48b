"""``osteocare generate-population``: a synthetic population for demos and benchmarks.

Deterministic for a seed; written in chunks so that 50 million rows need bounded memory. The shapes come
from ``synthetic_population.yaml`` (illustrative, not clinical facts). A small fraction of rows carries a
deliberate data-entry error so that screening's flags can be seen.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from functools import cache
from importlib import resources
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from ..core.errors import InputError
from ..core.knowledge import safe_load_yaml
from ..core.records import FLAGS
from .screen import Writer, file_format

DEFAULT_CHUNK = 500_000


@cache
def params() -> dict[str, Any]:
    text = resources.files("osteocare.batch").joinpath("synthetic_population.yaml").read_text(encoding="utf-8")
    out: dict[str, Any] = safe_load_yaml(text)
    return out


def _choice(rng: np.random.Generator, table: dict[str, float], n: int) -> np.ndarray:
    keys = np.array(list(table), dtype=object)
    p = np.array(list(table.values()), dtype=np.float64)
    return keys[rng.choice(len(keys), size=n, p=p / p.sum())]


def chunk(rng: np.random.Generator, start: int, n: int) -> pa.RecordBatch:
    p = params()
    female = rng.random(n) < p["female_fraction"]
    a = p["age"]
    age = np.floor(rng.triangular(a["low"], a["mode"], a["high"] + 1, n)).astype(np.int64)
    hf, hm = p["height_cm"]["female"], p["height_cm"]["male"]
    height = np.where(female, rng.normal(hf[0], hf[1], n), rng.normal(hm[0], hm[1], n)).round(1)
    bmi = rng.normal(p["bmi"][0], p["bmi"][1], n).clip(14, 45)
    weight = (bmi * (height / 100) ** 2).round(1)
    eth = _choice(rng, p["ethnicity"], n)
    eth = np.where(rng.random(n) < p["ethnicity_missing_fraction"], None, eth)
    smoking = np.where(female, _choice(rng, p["smoking"]["female"], n), _choice(rng, p["smoking"]["male"], n))
    alcohol = np.where(female, _choice(rng, p["alcohol"]["female"], n), _choice(rng, p["alcohol"]["male"], n))
    cols: dict[str, Any] = {
        "id": pc.binary_join_element_wise(
            "P", pc.utf8_lpad(pc.cast(pa.array(np.arange(start, start + n)), pa.string()), 9, "0"), ""
        ),
        "sex": np.where(female, "female", "male").astype(object),
        "age": age,
        "weight_kg": weight,
        "height_cm": height,
        "ethnicity": eth,
        "smoking": smoking,
        "alcohol": alcohol,
    }
    for f in FLAGS:
        prev = p["flags"][f]
        v = rng.random(n) < prev
        if f == "hrt_oestrogen":
            v &= female
        cols[f] = v.astype(np.int8)
    t = p["t_score"]
    has_dxa = rng.random(n) < p["dxa_fraction"]
    base = t["at_age_60"] + t["per_year"] * (age - 60) + rng.normal(0, t["sd"], n)
    for name, off in (("femoral_neck_t_score", 0.0), ("total_hip_t_score", t["hip_offset"]),
                      ("lumbar_spine_t_score", t["spine_offset"])):
        v = (base + off + rng.normal(0, 0.3, n)).clip(-5.5, 3).round(1)
        cols[name] = np.where(has_dxa, v, np.nan)
    has_frax = rng.random(n) < p["frax_fraction"]
    mof = (3 + 0.004 * (age - 40) ** 2 * np.exp(-0.35 * np.nan_to_num(base))).clip(1, 60).round(1)
    cols["frax_mof_percent"] = np.where(has_frax, mof, np.nan)
    cols["frax_hip_percent"] = np.where(has_frax, (mof * 0.3).round(1), np.nan)
    bad = np.flatnonzero(rng.random(n) < p["bad_row_fraction"])
    if bad.size:
        kinds = rng.integers(0, 3, bad.size)
        cols["age"] = cols["age"].astype(object)
        for i, k in zip(bad, kinds, strict=True):
            if k == 0:
                cols["age"][i] = 250  # typing error
            elif k == 1:
                cols["weight_kg"][i] = 5000.0  # grams typed as kilograms
            else:
                cols["sex"][i] = "unknown"
    arrays = {k: (v if isinstance(v, pa.Array) else pa.array(v, from_pandas=True)) for k, v in cols.items()}
    if arrays["age"].type != pa.int64():
        arrays["age"] = pa.array([int(x) for x in cols["age"]], pa.int64())
    return pa.RecordBatch.from_pydict(arrays)


def batches(n: int, *, seed: int = 1, chunk_rows: int = DEFAULT_CHUNK) -> Iterator[pa.RecordBatch]:
    rng = np.random.default_rng(seed)
    for start in range(0, n, chunk_rows):
        yield chunk(rng, start, min(chunk_rows, n - start))


#: seeds numpy's generator takes: whole numbers from 0 (any size; this bound keeps the option's text short)
SEED_MAX = 2**63 - 1


def check_generate(out: Path, seed: int) -> None:
    """Refuse, before anything is generated, an output path that cannot take the file (not .csv or .parquet, a
    folder, in a folder that does not exist) or a seed numpy cannot use (below 0)."""
    file_format(out, "--out")
    if out.is_dir():
        raise InputError("--out", str(out), "a file name (this is a folder)")
    if not out.parent.is_dir():
        raise InputError("--out", str(out), f"a file in an existing folder ({out.parent} does not exist)")
    if isinstance(seed, bool) or not isinstance(seed, int) or not 0 <= seed <= SEED_MAX:
        raise InputError("--seed", seed, f"a whole number from 0 to {SEED_MAX:,}")


def generate(n: int, out: Path, *, seed: int = 1, chunk_rows: int = DEFAULT_CHUNK,
             on_chunk: Callable[[int], None] | None = None) -> None:
    """Write ``n`` synthetic patients to ``out`` (CSV or Parquet); nothing is left there if it fails part-way."""
    check_generate(out, seed)
    writer = Writer(out, plain_floats=False)  # measured values with few distinct values: dictionary pages
    ok = False
    try:
        for b in batches(n, seed=seed, chunk_rows=chunk_rows):
            writer.write(b)
            if on_chunk:
                on_chunk(b.num_rows)
        ok = True
    finally:
        writer.close(ok)
