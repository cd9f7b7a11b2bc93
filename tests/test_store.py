"""The versioned store, on GeoPackage and on a real PostGIS server: round trips, versions, atomicity."""

from __future__ import annotations

import glob
import hashlib
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import psycopg
import pytest
import shapely
from geopandas.testing import assert_geodataframe_equal

from gis.errors import FieldError, GeometryError, ReadOnlyStoreError, StoreError, VersionNotFoundError
from gis.kinds import KINDS
from gis.store import create_store, open_store, verify_store
from gis.zones import validate_zones
from tests.zone_samples import sample_zones

WORKER = Path(__file__).with_name("import_worker.py")
REPO = Path(__file__).resolve().parents[1]


@pytest.fixture(params=["gpkg", pytest.param("postgis", marks=pytest.mark.postgis)])
def new_store(request, tmp_path):
    """A factory of empty stores of the parametrised back end (location, store)."""
    if request.param == "gpkg":
        location = str(tmp_path / "store.gpkg")
    else:
        location = request.getfixturevalue("postgres_db")
    store = create_store(location)
    yield location, store
    store.close()


@pytest.mark.parametrize("kind", list(KINDS))
def test_every_kind_round_trips_unchanged(new_store, kind):
    _, store = new_store
    zones = sample_zones(kind)
    expected, _ = validate_zones(zones, kind=kind)
    version = store.import_layer(zones, kind, source="samples.gpkg", effective_from="2020-01-01")
    assert version.version == 1 and version.feature_count == len(zones)

    stored = store.read(kind)
    assert_geodataframe_equal(stored, expected, check_dtype=False, normalize=True)
    # Not just topologically equal: every vertex comes back bit for bit, in the same order.
    assert all(shapely.equals_exact(a, b, tolerance=0) for a, b in zip(stored.geometry, zones.geometry))
    assert stored["attributes"].tolist() == zones["attributes"].tolist()
    assert verify_store(store) == []


def test_import_creates_versions_and_keeps_every_earlier_one(new_store):
    _, store = new_store
    first = sample_zones("water_body")
    second = sample_zones("water_body", x0=87.0).iloc[:2]
    second["name"] = ["蘑菇湖水库", "青格达水库"]
    coverage = shapely.box(85.5, 43.5, 88.0, 45.0)
    v1 = store.import_layer(first, "water_body", source="2019.shp", effective_from="2019-06-01", coverage=coverage)
    v2 = store.import_layer(second, "water_body", source="2021.shp", effective_from="2021-03-01", note="新版")

    assert (v1.version, v2.version) == (1, 2)
    assert shapely.equals(store.versions("water_body")[0].coverage, coverage)
    assert store.versions("water_body")[1].coverage is None  # complete wherever the store reaches
    assert [v.version for v in store.versions("water_body")] == [1, 2]
    assert store.read("water_body", 1)["name"].tolist() == first["name"].tolist()
    assert store.read("water_body")["name"].tolist() == ["蘑菇湖水库", "青格达水库"]

    # The layers in force on a date: the version effective then, and only the features valid then.
    assert store.in_force("2020-01-01")["water_body"].version == 1
    assert store.in_force("2022-01-01")["water_body"].version == 2
    assert "water_body" not in store.in_force("2019-05-31")
    in_2020 = store.snapshot("2020-01-01", kinds=["water_body"]).zones
    assert in_2020["zone_id"].tolist() == ["water_body:1", "water_body:2", "water_body:3"]
    in_2026 = store.snapshot("2026-01-01", kinds=["water_body"]).zones
    assert in_2026["zone_id"].tolist() == ["water_body:1"]  # feature 2 is valid only until 2025-01-01
    with pytest.raises(VersionNotFoundError, match="has no version 7"):
        store.read("water_body", 7)
    assert verify_store(store) == []


def test_an_import_by_another_process_is_seen_by_an_open_store(tmp_path):
    """Open stores keep their version list between calls; a commit by any other connection renews it."""
    location = str(tmp_path / "store.gpkg")
    create_store(location).import_layer(sample_zones("chp_plant"), "chp_plant", source="plants.gpkg")
    reader = open_store(location)
    assert [v.version for v in reader.versions("chp_plant")] == [1]
    worker = _start_worker(location, 10)  # another process imports a livestock_ban_zone version
    assert worker.wait(timeout=300) == 0
    assert {(v.kind, v.version) for v in reader.versions()} == {("chp_plant", 1), ("livestock_ban_zone", 1)}
    assert reader.in_force()["livestock_ban_zone"].feature_count == 10


def test_failed_import_leaves_the_store_as_it_was(new_store):
    _, store = new_store
    store.import_layer(sample_zones("chp_plant"), "chp_plant", source="plants.gpkg")
    before = [v.to_dict() for v in store.versions()], store.read("chp_plant")

    bad = sample_zones("chp_plant")
    bad.loc[2, "geometry"] = shapely.Point()
    with pytest.raises(GeometryError, match=r"no geometry \(file bad.gpkg, row 3 \(chp_plant:3\)"):
        store.import_layer(bad, "chp_plant", source="bad.gpkg")
    bad = sample_zones("chp_plant").drop(columns="attributes")
    with pytest.raises(FieldError, match="needs the attribute 'capacity_mw'"):
        store.import_layer(bad, "chp_plant", source="bad.gpkg")

    assert [v.to_dict() for v in store.versions()] == before[0]
    assert_geodataframe_equal(store.read("chp_plant"), before[1])


def test_invalid_geometry_is_repaired_and_reported(new_store):
    _, store = new_store
    zones = sample_zones("livestock_ban_zone")
    bowtie = shapely.Polygon([(86, 44), (86.2, 44.2), (86.2, 44), (86, 44.2)])
    zones.loc[0, "geometry"] = bowtie
    version = store.import_layer(zones, "livestock_ban_zone", source="bowtie.shp")
    (notice,) = version.notices
    assert notice["code"] == "geometry_repaired" and notice["row"] == "1 (livestock_ban_zone:1)"
    assert "Self-intersection" in notice["message"]
    repaired = store.read("livestock_ban_zone").geometry.iloc[0]
    assert repaired.is_valid and shapely.equals(repaired, shapely.make_valid(bowtie))


def test_embedded_default_store_is_read_only():
    store = open_store()
    assert store.read_only
    with pytest.raises(ReadOnlyStoreError, match="ecozone layers init"):
        store.import_layer(sample_zones("water_body"), "water_body", source="x.shp")


def test_store_is_never_created_over_an_existing_file(tmp_path):
    existing = tmp_path / "mine.gpkg"
    existing.write_bytes(b"precious")
    with pytest.raises(StoreError, match="never overwrites"):
        create_store(existing)
    assert existing.read_bytes() == b"precious"


# -- an import killed midway ------------------------------------------------------------------------------

def _start_worker(location: str, count: int) -> subprocess.Popen:
    proc = subprocess.Popen(
        [sys.executable, str(WORKER), location, str(count)], cwd=REPO, stdout=subprocess.PIPE, text=True,
        env={**os.environ, "PYTHONPATH": str(REPO)},
    )
    assert proc.stdout.readline().strip() == "ready"
    return proc


def _kill_when(proc: subprocess.Popen, condition, timeout: float = 120) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert proc.poll() is None, "the import finished before the test could kill it"
        assert time.monotonic() < deadline, "the import never reached the point to kill it at"
        time.sleep(0.001)
    proc.send_signal(signal.SIGKILL)
    proc.wait()


def _file_digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


@pytest.mark.slow
@pytest.mark.parametrize("phase", ["staging", "transaction"])
def test_gpkg_import_killed_midway_leaves_store_as_it_was(tmp_path, phase):
    location = tmp_path / "store.gpkg"
    store = create_store(location)
    store.import_layer(sample_zones("livestock_ban_zone"), "livestock_ban_zone", source="v1.shp")
    versions_before = [v.to_dict() for v in store.versions()]
    bytes_before = _file_digest(location)
    snapshot_before = store.snapshot().zones
    journal = Path(f"{location}-journal")

    def staging_started() -> bool:
        return bool(glob.glob(str(tmp_path / ".store.gpkg.import-*"))) and not journal.exists()

    proc = _start_worker(str(location), 60_000)
    _kill_when(proc, staging_started if phase == "staging" else journal.exists)

    if phase == "staging":
        assert _file_digest(location) == bytes_before  # the store file was not even touched
    reopened = open_store(location)  # opening rolls back SQLite's hot journal, if any
    assert [v.to_dict() for v in reopened.versions()] == versions_before
    assert len(reopened.read("livestock_ban_zone")) == 3
    assert verify_store(reopened) == []
    assert_geodataframe_equal(reopened.snapshot().zones, snapshot_before)
    # And the store still takes the next import normally.
    assert reopened.import_layer(sample_zones("water_body"), "water_body", source="next.shp").version == 1


@pytest.mark.slow
@pytest.mark.postgis
def test_postgis_import_killed_midway_leaves_store_as_it_was(postgres_db):
    store = create_store(postgres_db)
    store.import_layer(sample_zones("livestock_ban_zone"), "livestock_ban_zone", source="v1.shp")
    versions_before = [v.to_dict() for v in store.versions()]

    def copying() -> bool:
        row = store.conn.execute(
            "SELECT count(*) FROM pg_stat_activity WHERE state = 'active' AND query LIKE 'COPY%zones%'"
        ).fetchone()
        return row[0] > 0

    proc = _start_worker(postgres_db, 60_000)
    _kill_when(proc, copying)
    # The server notices the dropped client and aborts its transaction.
    deadline = time.monotonic() + 30
    while store.conn.execute("SELECT count(*) FROM pg_stat_activity WHERE query LIKE 'COPY%zones%'").fetchone()[0]:
        assert time.monotonic() < deadline
        time.sleep(0.05)
    assert [v.to_dict() for v in store.versions()] == versions_before
    assert store.conn.execute("SELECT count(*) FROM ecozone.zones").fetchone()[0] == 3
    assert verify_store(store) == []
    store.close()


@pytest.mark.postgis
def test_postgis_store_refuses_an_existing_schema(postgres_db):
    create_store(postgres_db).close()
    with pytest.raises(StoreError, match="already exists"):
        create_store(postgres_db)
    with psycopg.connect(postgres_db) as conn:
        assert conn.execute("SELECT count(*) FROM ecozone.layer_versions").fetchone()[0] == 0


@pytest.mark.postgis
@pytest.mark.slow
def test_default_dataset_round_trips_through_postgis(postgres_db):
    """Every kind of the embedded dataset, copied into PostGIS, reads back equal (and keeps its coverage)."""
    from gis.store import init_store

    default = open_store()
    with init_store(postgres_db) as copy:
        assert [v.to_dict() for v in copy.versions()] == [v.to_dict() for v in default.versions()]
        assert verify_store(copy) == []  # every version's digest recomputed from what PostGIS returns
        for version in default.versions():
            expected = default.read(version.kind, version.version)
            assert_geodataframe_equal(copy.read(version.kind, version.version), expected, check_dtype=False)
        with psycopg.connect(postgres_db) as conn:
            invalid = conn.execute("SELECT count(*) FROM ecozone.zones WHERE NOT ST_IsValid(geom)").fetchone()[0]
        assert invalid == 0  # PostGIS agrees that every stored geometry is valid


@pytest.mark.postgis
def test_postgis_stores_in_two_schemas_of_one_database_stay_apart(postgres_db):
    """A schema named in the URL is its own store, with its own location, so the same layer versions in two
    schemas never share a prepared engine."""
    from gis.overlap import OverlapEngine

    zones = sample_zones("ecological_redline")
    elsewhere = zones.assign(geometry=zones.geometry.translate(xoff=1.0))  # the same version number, moved
    other = f"{postgres_db}?schema=ecozone_other"
    create_store(postgres_db).import_layer(zones, "ecological_redline", source="a.shp")
    create_store(other).import_layer(elsewhere, "ecological_redline", source="b.shp")
    with open_store(postgres_db) as first, open_store(other) as second:
        assert first.location == postgres_db and second.location == other
        assert first.in_force().keys() == second.in_force().keys() == {"ecological_redline"}
        inside = zones.geometry.iloc[0].representative_point()
        first_hits = OverlapEngine.for_store(first).check(inside, search_km=1).layer("ecological_redline").hits
        second_hits = OverlapEngine.for_store(second).check(inside, search_km=1).layer("ecological_redline").hits
        assert first_hits and first_hits[0].relation == "inside"
        assert not second_hits
    with psycopg.connect(postgres_db) as conn:
        assert conn.execute("SELECT count(*) FROM ecozone_other.zones").fetchone()[0] == len(zones)
    with pytest.raises(StoreError, match="already exists") as error:
        create_store(other)
    assert "schema=ecozone_other" in str(error.value)


@pytest.mark.postgis
def test_postgis_store_sees_an_import_made_through_another_connection(postgres_db):
    """Versions are kept between calls, and read again once another connection commits an import."""
    reader = create_store(postgres_db)
    assert reader.versions() == []
    with open_store(postgres_db) as writer:
        writer.import_layer(sample_zones("water_body"), "water_body", source="w.shp")
    assert [(v.kind, v.version) for v in reader.versions()] == [("water_body", 1)]
    assert reader.in_force().keys() == {"water_body"}
    reader.close()


@pytest.mark.postgis
def test_postgis_location_hides_the_password_and_open_location_keeps_it(postgres_db):
    url = postgres_db.replace("://ecozone@", "://ecozone:s3cret@") + "?schema=ecozone_pw"
    create_store(url).close()
    with open_store(url) as store:
        assert "s3cret" not in store.location and "ecozone:***@" in store.location
        assert store.location.endswith("?schema=ecozone_pw")
        with open_store(store.open_location) as again:  # what a Dask worker opens
            assert "s3cret" in store.open_location and again.location == store.location
