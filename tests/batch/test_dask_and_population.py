"""Distributed screening gives the same rows in the same order; the generator is deterministic."""

from __future__ import annotations

from pathlib import Path

import duckdb
import pyarrow.parquet as pq
import pytest

from osteocare.batch.population import generate
from osteocare.batch.screen import screen_file
from osteocare.core.errors import InputError


def test_generate_population_is_deterministic_and_has_every_public_column(tmp_path: Path) -> None:
    a, b = tmp_path / "a.parquet", tmp_path / "b.parquet"
    generate(3000, a, seed=7, chunk_rows=1000)
    generate(3000, b, seed=7, chunk_rows=1000)
    ta, tb = pq.read_table(a), pq.read_table(b)
    assert ta.equals(tb)
    assert ta.num_rows == 3000
    for col in ("id", "sex", "age", "weight_kg", "height_cm", "ethnicity", "smoking", "alcohol", "prior_fracture",
                "parental_osteoporosis", "femoral_neck_t_score", "frax_mof_percent"):
        assert col in ta.column_names


def test_dask_engine_on_a_two_worker_local_cluster_gives_the_same_rows_in_the_same_order(tmp_path: Path) -> None:
    distributed = pytest.importorskip("distributed")
    src = tmp_path / "pop.parquet"
    generate(20_000, src, seed=3, chunk_rows=5000)
    local = tmp_path / "local.parquet"
    remote = tmp_path / "dask.parquet"
    s_local = screen_file(src, local, chunk_rows=3000)
    duck = tmp_path / "pop.duckdb"  # the same patients in a database table: read here, scored on the cluster
    con = duckdb.connect(str(duck))
    con.execute(f"CREATE TABLE population AS SELECT * FROM read_parquet('{src}')")
    con.close()
    from_table = tmp_path / "dask-table.parquet"
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None) as cluster:
        s_dask = screen_file(src, remote, chunk_rows=3000, engine="dask", scheduler=cluster.scheduler_address)
        screen_file(duck, from_table, chunk_rows=3000, engine="dask", scheduler=cluster.scheduler_address,
                    table="population")
    assert pq.read_table(local).equals(pq.read_table(remote))
    assert pq.read_table(from_table).to_pylist() == pq.read_table(local).to_pylist()
    assert s_local.as_dict() == s_dask.as_dict()
    assert s_dask.flagged > 0  # the generator plants a few data-entry errors


def test_dask_engine_needs_a_scheduler_address(tmp_path: Path) -> None:
    src = tmp_path / "pop.parquet"
    generate(10, src)
    with pytest.raises(InputError, match="--scheduler"):
        screen_file(src, tmp_path / "o.parquet", engine="dask")
    assert not (tmp_path / "o.parquet").exists()


def test_chunks_with_and_without_notes_share_one_output_schema(tmp_path: Path) -> None:
    import pyarrow as pa

    src = tmp_path / "in.parquet"
    # first chunk: no notes at all; second chunk: notes and a flagged row
    pq.write_table(pa.table({"id": ["1", "2", "3", "4"], "sex": ["female"] * 4, "age": [65, 65, 25, 250],
                             "bmi": [25.0] * 4, "ethnicity": ["white", "white", None, "white"]}), src)
    out = tmp_path / "out.parquet"
    screen_file(src, out, chunk_rows=2)
    t = pq.read_table(out)
    assert t.num_rows == 4
    assert t.column("error").to_pylist()[3].startswith("age: 250")
