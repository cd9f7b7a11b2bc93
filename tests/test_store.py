"""The versioned store, on GeoPackage and on a real PostGIS server: round trips, versions, atomicity."""

from __future__ import annotations

import glob
import hashlib
import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import psycopg
import pyogrio
import pytest
import shapely
import shapely.affinity
from geopandas.testing import assert_geodataframe_equal

from gis.errors import FieldError, GeometryError, ReadOnlyStoreError, StoreError, VersionNotFoundError
from gis.kinds import KINDS
from gis.store import create_store, open_store, verify_store
from gis.zones import validate_zones
from tests.delivery_samples import as_zones, delivery, next_delivery
from tests.first_layout import write_first_layout_gpkg, write_first_layout_postgis
from tests.import_worker import big_layer
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


# -- an import that holds nothing new -------------------------------------------------------------------------

def _history(store) -> list[dict]:
    return [v.to_dict() for v in store.versions()]


def test_an_import_identical_to_the_version_in_force_makes_none(new_store):
    """Same zones, source and coverage as the version in force: no version, the one kept is given back and said;
    a date or note left out is taken as that version's. Each difference that matters makes a version."""
    _, store = new_store
    zones = sample_zones("water_body")
    area = shapely.box(85.5, 43.5, 88.0, 45.0)
    first = store.import_layer(zones, "water_body", source="2019.shp", effective_from="2019-06-01", coverage=area,
                               note="首版")
    assert first.created and first.version == 1 and "已新建第 1 版" in first.message
    before = _history(store)

    for again in (store.import_layer(zones.copy(), "water_body", source="2019.shp", effective_from="2019-06-01",
                                     coverage=area, note="首版"),
                  store.import_layer(zones.copy(), "water_body", source="2019.shp", coverage=area)):
        assert not again.created and again.version == 1 and again.content_sha256 == first.content_sha256
        assert again.message == "与现行第 1 版内容相同，未新建版本 / identical to version 1 in force; no new version"
        assert again.imported_at == first.imported_at and again.effective_from == "2019-06-01"
        assert _history(store) == before  # nothing written, not even the version row
    assert verify_store(store) == []

    # What differs makes a version: a field, a vertex, the file, the coverage, the note given, the date given.
    renamed = zones.copy()
    renamed.loc[1, "name"] = "新名称"
    moved = zones.copy()
    coords = shapely.get_coordinates(moved.geometry.iloc[0])
    coords[1] += 1e-6
    moved.loc[0, "geometry"] = shapely.set_coordinates(moved.geometry.iloc[0], coords)
    differing = [
        (renamed, dict(source="2019.shp", coverage=area)),
        (zones, dict(source="2019.shp", coverage=area)),  # back to the first zones: a change from the last one
        (moved, dict(source="2019.shp", coverage=area)),
        (moved, dict(source="2019-重发.shp", coverage=area)),
        (moved, dict(source="2019-重发.shp", coverage=None)),
        (moved, dict(source="2019-重发.shp", note="更正")),
        (moved, dict(source="2019-重发.shp", note="更正", effective_from="2020-01-01")),  # a re-issue
    ]
    for number, (frame, options) in enumerate(differing, start=2):
        made = store.import_layer(frame.copy(), "water_body", **{"effective_from": "2019-06-01", **options})
        assert made.created and made.version == number, (number, options)
        repeated = store.import_layer(frame.copy(), "water_body", **{"effective_from": "2019-06-01", **options})
        assert not repeated.created and repeated.version == number, (number, options)
    assert [v.version for v in store.versions("water_body")] == list(range(1, len(differing) + 2))
    reissue = store.versions("water_body")[-1]
    assert [n["value"] for n in reissue.notices if n["code"] == "same_content"] == [len(differing)]
    assert verify_store(store) == []


def test_the_same_zones_again_are_a_version_where_they_would_change_what_is_in_force(new_store):
    """Compared with the version in force on the import's date, not with any version of the same zones: A, then
    B from the same day, then A again is a return to A (a version); A from a past date A was in force on is not."""
    _, store = new_store
    a = sample_zones("water_body")
    b = sample_zones("water_body", x0=87.0)
    store.import_layer(a, "water_body", source="a.shp", effective_from="2020-01-01")
    store.import_layer(b, "water_body", source="a.shp", effective_from="2020-01-01")
    back = store.import_layer(a, "water_body", source="a.shp", effective_from="2020-01-01")
    assert back.created and back.version == 3 and store.in_force("2021-01-01")["water_body"].version == 3
    store.import_layer(b, "water_body", source="a.shp", effective_from="2022-01-01")
    past = store.import_layer(a, "water_body", source="a.shp", effective_from="2020-01-01")
    assert not past.created and past.version == 3
    assert past.message == ("与第 3 版（自 2020-01-01 起生效）内容相同，未新建版本 / identical to version 3 (in force "
                            "from 2020-01-01); no new version")
    assert [v.version for v in store.versions("water_body")] == [1, 2, 3, 4]


def test_an_identical_import_committed_meanwhile_is_seen_under_the_lock(new_store, monkeypatch):
    """Two imports of one file at once: the second, having found nothing before another committed, asks again
    under the back end's lock and writes nothing."""
    _, store = new_store
    zones = sample_zones("chp_plant")
    store.import_layer(zones, "chp_plant", source="plants.gpkg", effective_from="2024-01-01")
    before = _history(store)
    asked = []
    real = store._copied_version

    def not_yet(*args, **kwargs):  # the first look, as if the other import had not committed yet
        asked.append(kwargs)
        return None if len(asked) == 1 else real(*args, **kwargs)

    monkeypatch.setattr(store, "_copied_version", not_yet)
    again = store.import_layer(zones, "chp_plant", source="plants.gpkg", effective_from="2024-01-01")
    assert len(asked) == 2 and not again.created and again.version == 1
    assert _history(store) == before
    assert verify_store(store) == []


def test_an_identical_import_of_20000_polygons_compares_digests_only(new_store, monkeypatch):
    """A real-size layer imported again: the check reads no feature from the store and writes nothing, whatever
    the layer's size (the version's digest is compared with the file's)."""
    _, store = new_store
    layer = big_layer(20_000)
    first = store.import_layer(layer, "livestock_ban_zone", source="禁养区.shp", effective_from="2024-01-01")
    before = _history(store)

    def refused(*args, **kwargs):
        raise AssertionError("an unchanged import must not read or write features")

    for name in ("_read_versions", "_write_version", "_members", "features", "catalogue"):
        monkeypatch.setattr(store, name, refused)
    again = store.import_layer(layer, "livestock_ban_zone", source="禁养区.shp", effective_from="2024-01-01")
    assert not again.created and again.version == first.version == 1 and again.feature_count == 20_000
    assert _history(store) == before


@pytest.mark.slow
def test_two_processes_importing_one_layer_at_once_make_one_version(tmp_path):
    """Both read and validate the file before either writes; the lock lets one of them write."""
    location = str(tmp_path / "store.gpkg")
    create_store(location).close()
    workers = [_start_worker(location, 5_000) for _ in range(2)]
    assert [worker.wait(timeout=300) for worker in workers] == [0, 0]
    assert [v.version for v in open_store(location).versions("livestock_ban_zone")] == [1]


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
    with pytest.raises(ReadOnlyStoreError, match="read-only"):
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
    """The killed import is a new version sharing 30,000 features with the one before and adding 30,000: the
    store keeps its versions, its features, its links and its R-tree as they were."""
    location = tmp_path / "store.gpkg"
    store = create_store(location)
    store.import_layer(sample_zones("water_body"), "water_body", source="w.shp")
    store.import_layer(big_layer(30_000), "livestock_ban_zone", source="v1.shp")
    versions_before = [v.to_dict() for v in store.versions()]
    bytes_before = _file_digest(location)
    snapshot_before = store.snapshot().zones
    tables = ("zones", "layer_features", "zones_rtree")
    counts_before = [_query(str(location), f"SELECT count(*) FROM {t}")[0][0] for t in tables]
    journal = Path(f"{location}-journal")

    def staging_started() -> bool:
        return bool(glob.glob(str(tmp_path / ".store.gpkg.import-*"))) and not journal.exists()

    proc = _start_worker(str(location), 60_000)
    _kill_when(proc, staging_started if phase == "staging" else journal.exists)

    if phase == "staging":
        assert _file_digest(location) == bytes_before  # the store file was not even touched
    reopened = open_store(location)  # opening rolls back SQLite's hot journal, if any
    assert [v.to_dict() for v in reopened.versions()] == versions_before
    assert [_query(str(location), f"SELECT count(*) FROM {t}")[0][0] for t in tables] == counts_before
    assert len(reopened.read("livestock_ban_zone")) == 30_000
    assert verify_store(reopened) == []
    assert_geodataframe_equal(reopened.snapshot().zones, snapshot_before)
    # And the store still takes the next import normally, sharing what it already holds.
    assert reopened.import_layer(big_layer(30_001), "livestock_ban_zone", source="next.shp").version == 2
    assert _query(str(location), "SELECT count(*) FROM zones")[0][0] == counts_before[0] + 1


@pytest.mark.slow
def test_gpkg_conversion_killed_midway_leaves_the_first_layout(tmp_path):
    """A first-layout store is converted in one transaction: killed inside it, the store is as it was, and the
    next writable open converts it."""
    location = tmp_path / "old.gpkg"
    written = write_first_layout_gpkg(str(location), [("livestock_ban_zone", big_layer(60_000), "2020-01-01"),
                                                      ("water_body", sample_zones("water_body"), "2020-01-01")])
    bytes_before = _file_digest(location)
    journal = Path(f"{location}-journal")
    proc = subprocess.Popen([sys.executable, "-c", "import sys; from gis.store import open_store; "
                             "print('ready', flush=True); open_store(sys.argv[1]).close()", str(location)],
                            cwd=REPO, stdout=subprocess.PIPE, text=True, env={**os.environ, "PYTHONPATH": str(REPO)})
    assert proc.stdout.readline().strip() == "ready"
    _kill_when(proc, journal.exists)

    with sqlite3.connect(location) as con:  # a writer rolls the hot journal back
        assert con.execute("SELECT value FROM ecozone_meta").fetchall() == [("ecozone-gpkg-1",)]
    assert _file_digest(location) == bytes_before
    with open_store(location) as converted:
        assert [v.to_dict() for v in converted.versions()] == [v.to_dict() for v, _ in written]
        assert verify_store(converted) == []
    assert _query(str(location), "SELECT value FROM ecozone_meta") == [("ecozone-gpkg-2",)]


@pytest.mark.slow
@pytest.mark.postgis
def test_postgis_import_killed_midway_leaves_store_as_it_was(postgres_db):
    store = create_store(postgres_db)
    store.import_layer(big_layer(30_000), "livestock_ban_zone", source="v1.shp")
    versions_before = [v.to_dict() for v in store.versions()]
    tables = ("zones", "layer_features")
    counts_before = [_query(postgres_db, f"SELECT count(*) FROM {{s}}{t}")[0][0] for t in tables]

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
    assert [_query(postgres_db, f"SELECT count(*) FROM {{s}}{t}")[0][0] for t in tables] == counts_before
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


# -- versions share the features they have in common --------------------------------------------------------

def _query(location, query: str, *params):
    """Rows of an SQL query on the store's own tables (GeoPackage: sqlite; PostGIS: schema ecozone)."""
    if location.startswith("postgresql://"):
        with psycopg.connect(location) as conn:
            return conn.execute(query.replace("?", "%s").replace("{s}", "ecozone."), params).fetchall()
    with sqlite3.connect(location) as con:
        return con.execute(query.replace("{s}", ""), params).fetchall()


def _links(location) -> int:
    """How many (version, feature) links the store holds (PostGIS keeps a version's as one array)."""
    if location.startswith("postgresql://"):
        return _query(location, "SELECT coalesce(sum(cardinality(fids)), 0) FROM {s}layer_features")[0][0]
    return _query(location, "SELECT count(*) FROM layer_features")[0][0]


def _distinct_features(frames) -> int:
    """How many different features the frames hold: an oracle written apart from the store's digests."""
    seen = set()
    for frame in frames:
        records = frame.drop(columns="geometry").to_dict("records")
        for record, wkb in zip(records, shapely.to_wkb(frame.geometry.values)):
            seen.add((json.dumps(record, sort_keys=True, ensure_ascii=False, default=str), wkb))
    return len(seen)


def _assert_reads_back(store, kind: str, version: int, expected) -> None:
    """The version as imported, bit for bit: every field, every vertex, in the import's order."""
    stored = store.read(kind, version)
    assert_geodataframe_equal(stored, expected, check_dtype=False)
    assert shapely.to_wkb(stored.geometry.values).tolist() == shapely.to_wkb(expected.geometry.values).tolist()
    assert stored["attributes"].tolist() == expected["attributes"].tolist()


def test_versions_share_unchanged_features_and_read_back_bit_for_bit(new_store):
    location, store = new_store
    first = as_zones(delivery(400))
    second = as_zones(next_delivery(delivery(400), 0.05))
    imported = [(first, "2019-01-01"), (second, "2022-01-01"), (first, "2024-01-01")]  # the third: the first again
    for zones, day in imported:
        store.import_layer(zones, "ecological_redline", source="hx.shp", effective_from=day)
        store.import_layer(sample_zones("water_body"), "water_body", source="w.shp", effective_from=day)

    for number, (zones, _) in enumerate(imported, start=1):
        expected, _ = validate_zones(zones, kind="ecological_redline")
        _assert_reads_back(store, "ecological_redline", number, expected)
    assert store.snapshot("2023-06-01").zones.query("kind == 'ecological_redline'")["zone_id"].tolist() \
        == second["zone_id"].tolist()
    # Stored once: as many features as there are different ones, however many versions hold them.
    assert _query(location, "SELECT count(*) FROM {s}zones WHERE kind = ?", "ecological_redline")[0][0] \
        == _distinct_features([validate_zones(z, kind="ecological_redline")[0] for z, _ in imported])
    assert _query(location, "SELECT count(*) FROM {s}zones WHERE kind = ?", "water_body")[0][0] == 3
    assert verify_store(store) == []

    # Reading near a place gives that version's features there, and only those (oracle: shapely on the import).
    bounds = (86.5, 44.0, 87.0, 44.6)
    version = store.versions("ecological_redline")[1]
    near = store.features([version], bounds)
    envelopes = shapely.bounds(second.geometry.values)
    meets = ((envelopes[:, 0] <= bounds[2]) & (envelopes[:, 2] >= bounds[0]) & (envelopes[:, 1] <= bounds[3])
             & (envelopes[:, 3] >= bounds[1]))
    assert 0 < meets.sum() < len(second)
    assert near["zone_id"].tolist() == second["zone_id"][meets].tolist()
    if not location.startswith("postgresql://"):  # every stored feature has its envelope in the R-tree
        stored = _query(location, "SELECT count(*) FROM zones")[0][0]
        assert _query(location, "SELECT count(*) FROM zones_rtree")[0][0] == stored


def test_a_new_version_changing_1pct_adds_about_1pct_to_the_geopackage(tmp_path):
    location = tmp_path / "store.gpkg"
    store = create_store(location)
    first = delivery(2000)
    store.import_layer(as_zones(first), "ecological_redline", source="v1.shp", effective_from="2021-01-01")
    before = location.stat().st_size
    second = next_delivery(first, 0.01)
    store.import_layer(as_zones(second), "ecological_redline", source="v2.shp", effective_from="2022-01-01")
    growth = location.stat().st_size - before
    assert growth < 0.05 * before, f"the 1 % change added {growth / before:.1%}"
    # The new features are those the change made (moved, re-typed, added): 15 of 2,000.
    assert _query(str(location), "SELECT count(*) FROM zones")[0][0] == _distinct_features(
        [validate_zones(as_zones(f), kind="ecological_redline")[0] for f in (first, second)]) == 2015
    assert verify_store(store) == []


def test_verify_names_the_features_that_differ_from_the_import(new_store):
    location, store = new_store
    first = as_zones(delivery(30))
    second = first.copy()
    second.loc[3, "geometry"] = shapely.affinity.translate(first.geometry.iloc[3], 0.001)
    second.loc[5, "name"] = "改名图斑"
    store.import_layer(first, "ecological_redline", source="v1.shp")
    store.import_layer(second, "ecological_redline", source="v2.shp")
    assert verify_store(store) == []

    is_pg = location.startswith("postgresql://")
    key = "id" if is_pg else "fid"

    def feature(zone_id: str, name: str) -> int:
        return _query(location, f"SELECT {key} FROM {{s}}zones WHERE zone_id = ? AND name = ?", zone_id, name)[0][0]

    shared = feature("HX-0001", first.loc[0, "name"])
    moved = _query(location, f"SELECT max({key}) FROM {{s}}zones WHERE zone_id = ?", "HX-0004")[0][0]
    only_first = feature("HX-0006", first.loc[5, "name"])
    if is_pg:
        with psycopg.connect(location) as conn:
            conn.execute("UPDATE ecozone.zones SET name = '篡改' WHERE id = %s", (shared,))
            conn.execute("UPDATE ecozone.zones SET geom = ST_Translate(geom, 0.0001, 0) WHERE id = %s", (moved,))
            conn.execute("DELETE FROM ecozone.zones WHERE id = %s", (only_first,))
    else:
        with sqlite3.connect(location) as con:
            con.execute("UPDATE zones SET name = '篡改' WHERE fid = ?", (shared,))
            con.execute("UPDATE zones SET geom = (SELECT geom FROM zones WHERE fid = ?) WHERE fid = ?", (shared, moved))
            con.execute("DELETE FROM zones WHERE fid = ?", (only_first,))
    problems = verify_store(open_store(location))
    text = "\n".join(problems)
    assert "要素 HX-0001（第 1 个" in text and "的字段与导入时不同" in text and "zone HX-0001: fields differ" in text
    assert sum("HX-0001" in p for p in problems) == 2  # shared: both versions say so
    assert [p for p in problems if "HX-0004" in p] == [
        f"ecological_redline v2: 要素 HX-0004（第 4 个，fid {moved}）的几何与导入时不同 / zone HX-0004: geometry differ "
        "from the import"]
    assert f"ecological_redline v1: 第 6 个要素（fid {only_first}）已不在要素表中" in text
    assert "ecological_redline v1: 存有 29 个要素，导入时为 30 个" in text
    assert not any("HX-0006" in p for p in problems if p.startswith("ecological_redline v2"))


# -- stores made before versions shared features -------------------------------------------------------------

def _first_layout_layers():
    first = as_zones(delivery(120, seed=11))
    second = first.copy()
    second.loc[7, "geometry"] = shapely.affinity.translate(first.geometry.iloc[7], 0.001)
    return [("ecological_redline", first, "2019-01-01"), ("water_body", sample_zones("water_body"), "2019-01-01"),
            ("ecological_redline", second, "2022-01-01")]


@pytest.mark.parametrize("backend", ["gpkg", pytest.param("postgis", marks=pytest.mark.postgis)])
def test_a_store_of_the_first_layout_is_read_as_it_is_then_converted(request, tmp_path, backend):
    if backend == "gpkg":
        location = str(tmp_path / "old.gpkg")
        written = write_first_layout_gpkg(location, _first_layout_layers())
        untouched = _file_digest(Path(location))
    else:
        location = request.getfixturevalue("postgres_db")
        written = write_first_layout_postgis(location, _first_layout_layers())
    rows = _query(location, "SELECT count(*) FROM {s}zones")[0][0]

    with open_store(location, read_only=True) as old:  # read as it is: nothing written
        assert [v.to_dict() for v in old.versions()] == [v.to_dict() for v, _ in written]
        for version, zones in written:
            _assert_reads_back(old, version.kind, version.version, zones)
        assert verify_store(old) == []
    if backend == "gpkg":
        assert _file_digest(Path(location)) == untouched

    with open_store(location) as converted:  # writable: converted in one transaction
        assert [v.to_dict() for v in converted.versions()] == [v.to_dict() for v, _ in written]
        for version, zones in written:
            _assert_reads_back(converted, version.kind, version.version, zones)
        assert verify_store(converted) == []
        # The rows stay (each version links its own); a new version shares them, storing only what changed.
        third = written[2][1].copy()
        third.loc[9, "name"] = "新名称"
        assert converted.import_layer(third, "ecological_redline", source="v3.shp").version == 3
        _assert_reads_back(converted, "ecological_redline", 3, validate_zones(third, kind="ecological_redline")[0])
        assert verify_store(converted) == []
    assert _query(location, "SELECT count(*) FROM {s}zones")[0][0] == rows + 1
    assert _links(location) == sum(v.feature_count for v, _ in written) + 120
    if backend == "gpkg":
        assert _query(location, "SELECT value FROM ecozone_meta WHERE key = 'format'") == [("ecozone-gpkg-2",)]
        assert _query(location, "SELECT count(*) FROM zones_rtree")[0][0] == rows + 1
        # GDAL still reads the feature table as such.
        assert len(pyogrio.read_dataframe(location, layer="zones")) == rows + 1
