"""Decoding on a Dask LocalCluster of two worker processes gives the single-process dataset."""

from __future__ import annotations

from pathlib import Path

import polars as pl
import pytest
from fastcap.dataset import ingest, open_dataset
from fastcap.dataset.layout import MANIFEST_DIR

distributed = pytest.importorskip("distributed")


def _parts(root: Path) -> dict[str, bytes]:
    return {
        p.relative_to(root).as_posix(): p.read_bytes()
        for p in root.rglob("*.parquet")
        if MANIFEST_DIR not in p.parts
    }


def _bytes_per_model(path: str) -> pl.DataFrame:
    frame = pl.scan_parquet(path, hive_partitioning=True)
    return frame.group_by("model").agg(body=pl.col("response_body").bin.size().sum()).collect()


@pytest.mark.slow
def test_local_cluster_matches_one_process(captures: list[Path], tmp_path: Path) -> None:
    single, fanned = tmp_path / "single", tmp_path / "dask"
    ingest(captures, single, jobs=1)
    with (
        distributed.LocalCluster(
            n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None
        ) as cluster,
        distributed.Client(cluster) as client,
    ):
        result = ingest(captures, fanned, client=client)
        assert (result.ingested, result.failed) == (3, 0)
        assert len(client.scheduler_info()["workers"]) == 2
        # docs/datasets.md: one Polars query per part file on the cluster, combined on the client.
        parts = client.gather(client.map(_bytes_per_model, open_dataset(fanned).files("exchanges")))
        combined = pl.concat(parts).group_by("model").agg(pl.col("body").sum()).sort("model")
        direct = (
            open_dataset(single)
            .exchanges.group_by("model")
            .agg(body=pl.col("response_body").bin.size().sum())
            .sort("model")
            .collect()
        )
        assert combined.equals(direct)
    a = open_dataset(single).calls_frame()
    b = open_dataset(fanned).calls_frame()
    assert a.equals(b)
    assert open_dataset(single).exchanges.collect().equals(open_dataset(fanned).exchanges.collect())
    assert _parts(single) == _parts(fanned)  # byte-identical part files


@pytest.mark.slow
def test_workers_option_starts_its_own_cluster(captures: list[Path], tmp_path: Path) -> None:
    result = ingest(captures[:2], tmp_path / "ds", workers=2)
    assert (result.ingested, result.failed) == (2, 0)
    assert ingest(captures[:2], tmp_path / "ds", workers=2).skipped == 2  # no cluster needed


@pytest.mark.slow
def test_scheduler_address(captures: list[Path], tmp_path: Path) -> None:
    with distributed.LocalCluster(
        n_workers=1, threads_per_worker=1, processes=True, dashboard_address=None
    ) as cluster:
        result = ingest(captures, tmp_path / "ds", scheduler=cluster.scheduler_address)
    assert (result.ingested, result.failed) == (3, 0)
    assert open_dataset(tmp_path / "ds").calls.collect().height == 21
