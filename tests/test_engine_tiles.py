"""A check's cost follows the zones near the site: engines of tiles, read through the store's spatial index,
kept by the layer versions in force (not by the date) within a bound on their vertices."""

from __future__ import annotations

import threading

import numpy as np
import pytest
import shapely

from gis.check import check_site, search_radii
from gis.evidence import _layer_provenance, result_digest
from gis.overlap import TILE_DEG, TILE_MARGIN_DEG, OverlapEngine, _engines, set_engine_budget
from gis.rules import default_rule_packs
from gis.sites import read_site
from gis.store import init_store
from tests.overlap_zones import layer

SEARCH_KM, REACH_KM = search_radii(default_rule_packs())
FAR = (76.0, 39.4)  # near Kashgar, some 800 km from 石河子


def _far_layer(n: int) -> dict:
    """``n`` small squares on a grid near Kashgar."""
    rng = np.random.default_rng(5)
    x = FAR[0] + (np.arange(n) % 70) * 0.01 + rng.uniform(0, 0.002, n)
    y = FAR[1] + (np.arange(n) // 70) * 0.01
    return {f"far{i}": shapely.box(a, b, a + 0.006, b + 0.006) for i, (a, b) in enumerate(zip(x, y))}


@pytest.fixture(scope="module")
def big_store(tmp_path_factory):
    """A writable copy of the embedded dataset with a 3,000-polygon livestock-ban layer far from 石河子."""
    store = init_store(tmp_path_factory.mktemp("tiles") / "store.gpkg")
    store.import_layer(layer("livestock_ban_zone", _far_layer(3000)), "livestock_ban_zone", source="test",
                       effective_from="2020-01-01")
    yield store
    store.close()


def test_a_check_reads_only_the_zones_near_its_site(big_store, monkeypatch):
    read = []
    features = big_store.features
    monkeypatch.setattr(big_store, "features", lambda versions, bounds=None: read.append(
        (bounds, features(versions, bounds))) or read[-1][1])
    # What the GeoPackage gives through its R-tree is what was read: the whole layer never is.
    monkeypatch.setattr(big_store, "_read_versions", lambda *a, **k: pytest.fail("the whole store was read"))
    _engines.clear()
    result = check_site(read_site("86.0413, 44.3056"), {"industry": "热力"}, store=big_store, as_of="2024-06-30")
    assert result.verdict_label
    [(bounds, zones)] = read
    assert bounds is not None and bounds[2] - bounds[0] <= TILE_DEG + 2 * TILE_MARGIN_DEG + 1e-9
    assert not any(zone.startswith("far") for zone in zones["zone_id"])  # nothing of the far layer was read
    monkeypatch.undo()
    everything = big_store.features(list(big_store.in_force("2024-06-30").values()))
    assert len(zones) < len(everything) / 10


def test_tile_engines_answer_as_the_engine_of_the_whole_store(store):
    """Points, lines and parcels near tile edges and across the clipped outlines of large zones (the region,
    its prefectures and counties) are related, measured and placed at the distances the whole-store engine
    finds (itself checked against PostGIS in test_overlap_postgis)."""
    whole = OverlapEngine.for_store(store, "2024-06-30")
    rng = np.random.default_rng(3)
    zones = store.snapshot("2024-06-30").zones
    edges = shapely.get_coordinates(shapely.boundary(zones.geometry.values[zones["kind"] == "admin_division"]))
    picked = edges[rng.choice(len(edges), 60, replace=False)]
    on_tile_edge = np.column_stack([np.round(picked[:, 0] / TILE_DEG) * TILE_DEG + rng.normal(0, 0.01, 60),
                                    picked[:, 1]])
    sites = [shapely.Point(x, y) for x, y in np.vstack([picked, on_tile_edge])]
    sites += [shapely.Point(x, y).buffer(0.02, quad_segs=4) for x, y in picked[:20]]
    sites += [shapely.LineString([(x - 0.03, y - 0.02), (x + 0.03, y + 0.02)]) for x, y in on_tile_edge[:20]]
    for site in sites:
        tile = OverlapEngine.for_site(store, site, "2024-06-30", SEARCH_KM, REACH_KM)
        assert tile.region is not None
        a = whole.check(site, search_km=SEARCH_KM, reach_km=REACH_KM)
        b = tile.check(site, search_km=SEARCH_KM, reach_km=REACH_KM, as_of="2024-06-30")
        for layer_a, layer_b in zip(a.layers, b.layers):
            assert (layer_a.status, layer_a.version) == (layer_b.status, layer_b.version), (site, layer_a.kind)
            assert layer_b.covered_pct == pytest.approx(layer_a.covered_pct, rel=1e-9, abs=1e-9)
            assert layer_b.overlap_m2 == pytest.approx(layer_a.overlap_m2, rel=1e-9, abs=1e-6)
            got = {h.zone_id: h for h in layer_b.hits}
            assert list(got) == [h.zone_id for h in layer_a.hits], (site, layer_a.kind)
            for hit in layer_a.hits:
                assert got[hit.zone_id].relation is hit.relation
                assert got[hit.zone_id].distance_m == pytest.approx(hit.distance_m, abs=1e-6)
                assert got[hit.zone_id].overlap_m2 == pytest.approx(hit.overlap_m2, rel=1e-9, abs=1e-6)


def test_engines_are_kept_by_the_versions_in_force_not_by_the_date(store):
    site = shapely.Point(86.0413, 44.3056)
    first = OverlapEngine.for_site(store, site, "2024-06-30", SEARCH_KM, REACH_KM)
    assert OverlapEngine.for_site(store, site, "2025-01-15", SEARCH_KM, REACH_KM) is first
    # a site 30 m away shares the tile
    assert OverlapEngine.for_site(store, shapely.Point(86.0416, 44.3057), "2023-03-01", SEARCH_KM, REACH_KM) is first


def test_a_feature_is_checked_only_on_the_dates_it_is_valid(tmp_path):
    from gis.store import create_store

    store = create_store(tmp_path / "dated.gpkg")
    zones = layer("water_body", {"old": shapely.box(86.0, 44.3, 86.1, 44.4), "new": shapely.box(86.2, 44.3, 86.3, 44.4)})
    zones.loc[zones["zone_id"] == "old", "valid_to"] = "2022-01-01"
    zones.loc[zones["zone_id"] == "new", "valid_from"] = "2022-01-01"
    store.import_layer(zones, "water_body", source="test", effective_from="2020-01-01")
    for day, expected in (("2021-06-01", {"old"}), ("2023-06-01", {"new"})):
        result = check_site(read_site("86.15, 44.35"), store=store, as_of=day)
        assert {h.zone_id for h in result.overlap.layer("water_body").hits} == expected
        snapshot = store.snapshot(day).zones  # the store's own reading of the same dates
        assert set(snapshot["zone_id"]) == expected
    store.close()


def test_engines_are_kept_within_the_vertex_budget(store):
    _engines.clear()
    try:
        set_engine_budget(1)  # every new engine pushes the others out
        for lon in (80.0, 84.0, 88.0):
            OverlapEngine.for_site(store, shapely.Point(lon, 44.0), "2024-06-30", SEARCH_KM, REACH_KM)
        assert len(_engines._entries) == 1
        set_engine_budget(10**9)
        for lon in (80.0, 84.0, 88.0):
            OverlapEngine.for_site(store, shapely.Point(lon, 44.0), "2024-06-30", SEARCH_KM, REACH_KM)
        assert len(_engines._entries) == 3 and _engines.weight == sum(e.vertices for e, _ in _engines._entries.values())
    finally:
        set_engine_budget(8_000_000)


def test_a_check_is_answered_while_another_engine_is_built(big_store, monkeypatch):
    """An engine being built (here held until released) does not hold back a check whose engine is ready."""
    site = shapely.Point(86.0413, 44.3056)
    OverlapEngine.for_site(big_store, site, "2024-06-30", SEARCH_KM, REACH_KM)  # ready
    started, release = threading.Event(), threading.Event()
    features = big_store.features

    def slow(versions, bounds=None):
        started.set()
        release.wait(60)
        return features(versions, bounds)

    monkeypatch.setattr(big_store, "features", slow)
    _engines_far = []
    builder = threading.Thread(target=lambda: _engines_far.append(
        check_site(read_site("{}, {}".format(*FAR)), store=big_store, as_of="2024-06-30")))
    builder.start()
    assert started.wait(60)
    result = check_site(read_site("86.0413, 44.3056"), {"industry": "热力"}, store=big_store, as_of="2024-06-30")
    assert result.verdict_label and not _engines_far  # answered while the other engine is still being built
    release.set()
    builder.join(60)
    assert _engines_far and any(h.zone_id.startswith("far")
                                for h in _engines_far[0].overlap.layer("livestock_ban_zone").hits)


def test_the_server_keeps_engines_within_its_engine_vertices_setting(store, tmp_path, monkeypatch):
    """``ECOZONE_ENGINE_VERTICES`` bounds what the engines a server keeps hold: with a budget of about two tile
    engines, checks over five tiles keep at most that weight (or a single engine heavier than it)."""
    import asyncio

    from api.app import create_app
    from api.settings import Settings

    sites = [shapely.Point(lon, 44.0) for lon in (80.0, 82.0, 84.0, 86.0, 88.0)]
    _engines.clear()
    weights = [OverlapEngine.for_site(store, s, "2024-06-30", SEARCH_KM, REACH_KM).vertices for s in sites]
    budget = sorted(weights)[1] + sorted(weights)[2]
    monkeypatch.setenv("ECOZONE_ENGINE_VERTICES", str(budget))
    settings = Settings(jobs_dir=tmp_path / "jobs", audit=False)
    assert settings.engine_vertices == budget
    app = create_app(settings)

    async def serve_checks() -> list[tuple[int, int]]:
        kept = []
        async with app.router.lifespan_context(app):
            _engines.clear()
            for site in sites:
                OverlapEngine.for_site(store, site, "2024-06-30", SEARCH_KM, REACH_KM)
                entries = list(_engines._entries.values())
                kept.append((len(entries), sum(weight for _, weight in entries)))
        return kept

    try:
        kept = asyncio.run(serve_checks())
        assert all(weight <= budget or count == 1 for count, weight in kept), kept
        assert max(count for count, _ in kept) < len(sites)  # engines were let go
        assert max(count for count, _ in kept) >= 2  # the budget is not the default's one engine either
    finally:
        set_engine_budget(8_000_000)
        _engines.clear()


def test_a_one_off_check_prepares_only_its_search_area_and_answers_the_same(store, monkeypatch):
    """``ecozone check`` (one site, then the process ends) builds the engine of the site's search area, not of
    its tile: fewer zones read, the same answer as the tile's engine."""
    # near 石河子 and 乌鲁木齐, a parcel, and two points whose nearest county boundary (long edges) the one-off
    # engine's box cuts
    sites = ["86.0413, 44.3056", "87.6168, 43.8256", "86.05,44.25;86.08,44.25;86.08,44.28;86.05,44.28",
             "85.86614, 45.25188", "87.69223, 44.94269"]
    for text in sites:
        _engines.clear()
        read = []
        features = store.features
        monkeypatch.setattr(store, "features", lambda versions, bounds=None: read.append(bounds) or features(versions, bounds))
        one_off = check_site(read_site(text), {"industry": "热力"}, store=store, as_of="2024-06-30", shared_engine=False)
        shared = check_site(read_site(text), {"industry": "热力"}, store=store, as_of="2024-06-30")
        monkeypatch.undo()
        [own, tile] = read
        assert (own[2] - own[0]) * (own[3] - own[1]) < (tile[2] - tile[0]) * (tile[3] - tile[1]) / 2
        assert one_off.verdict == shared.verdict
        # the same to the last digit a report keeps: a report made by ``ecozone check`` verifies on a server
        layers = _layer_provenance(shared, store)
        assert result_digest(one_off, layers, []) == result_digest(shared, layers, [])
        assert one_off.model_dump() == shared.model_dump()
