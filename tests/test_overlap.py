"""The overlap engine on hand-made cases with known answers: relations, areas, lengths, coverage, caching."""

from __future__ import annotations

import math

import numpy as np
import pytest
import shapely

from gis.crs import GEOD
from gis.errors import CoordinateError, GeometryError, InputError, UnknownKindError
from gis.kinds import KINDS
from gis.overlap import OverlapEngine
from gis.results import Relation
from gis.store import create_store
from tests.overlap_zones import area_m2, east, layer, ring_with_hole

DAY = "2021-06-01"
HOLE = shapely.box(86.04, 44.32, 86.06, 44.34)
A = ring_with_hole(shapely.box(86.00, 44.30, 86.10, 44.36), HOLE)
B = shapely.box(86.08, 44.30, 86.14, 44.36)  # overlaps A between 86.08 and 86.10
C = shapely.box(86.20, 44.30, 86.21, 44.31)
PLANT = shapely.Point(86.30, 44.40)
WATER = shapely.box(85.95, 44.25, 86.00, 44.28)
WATER_COVERAGE = shapely.box(85.90, 44.20, 86.05, 44.50)


@pytest.fixture(scope="module")
def store(tmp_path_factory):
    store = create_store(tmp_path_factory.mktemp("overlap") / "zones.gpkg")
    store.import_layer(layer("ecological_redline", {"A": A, "B": B, "C": C}), "ecological_redline",
                       source="test", effective_from="2020-01-01")
    store.import_layer(layer("chp_plant", {"P": PLANT}), "chp_plant", source="test",
                       effective_from="2020-01-01")
    store.import_layer(layer("water_body", {"W": WATER}), "water_body", source="test",
                       effective_from="2020-01-01", coverage=WATER_COVERAGE)
    yield store
    store.close()


@pytest.fixture(scope="module")
def engine(store):
    return OverlapEngine.for_store(store, DAY)


def hits(result, kind="ecological_redline"):
    return {h.zone_id: h for h in result.layer(kind).hits}


# -- points -----------------------------------------------------------------------------------------------
def test_point_inside_a_zone(engine):
    result = engine.check(shapely.Point(86.02, 44.31))
    a = hits(result)["A"]
    assert a.relation is Relation.INSIDE and a.relation_zh == "位于区内"
    assert a.distance_m == 0 and a.ring_km == 1 and a.overlap_m2 is None and a.overlap_pct is None
    assert result.site_type == "point" and result.site_area_m2 is None
    assert hits(result)["B"].relation is Relation.NEAR  # 0.06° east, about 4.8 km
    assert hits(result)["B"].ring_km == 5


def test_point_on_the_boundary_touches(engine):
    assert hits(engine.check(shapely.Point(86.00, 44.33)))["A"].relation is Relation.TOUCHES


def test_point_3_km_away_is_near_with_its_geodesic_distance(engine):
    # The geodesic leaving a meridian due east is perpendicular to it, so its start is the nearest point.
    site = shapely.Point(east(86.00, 44.33, -3000), 44.33)
    a = hits(engine.check(site))["A"]
    assert a.relation is Relation.NEAR and a.relation_zh == "邻近"
    assert a.distance_m == pytest.approx(3000, abs=0.05)
    assert a.ring_km == 5


def test_multipoint_partly_inside_overlaps_and_wholly_inside_is_inside(engine):
    partly = shapely.MultiPoint([(86.02, 44.31), (85.90, 44.31)])
    on_edge = shapely.MultiPoint([(86.02, 44.31), (86.00, 44.31)])
    inside = shapely.MultiPoint([(86.02, 44.31), (86.01, 44.35)])
    assert hits(engine.check(partly))["A"].relation is Relation.OVERLAPS
    assert hits(engine.check(on_edge))["A"].relation is Relation.OVERLAPS  # one point in the interior
    assert hits(engine.check(inside))["A"].relation is Relation.INSIDE


# -- polygons ---------------------------------------------------------------------------------------------
def test_polygon_straddling_an_edge_overlaps_with_the_clipped_area(engine):
    site = shapely.box(85.99, 44.31, 86.01, 44.32)
    result = engine.check(site)
    a = hits(result)["A"]
    assert a.relation is Relation.OVERLAPS and a.relation_zh == "部分重叠"
    expected = area_m2(shapely.box(86.00, 44.31, 86.01, 44.32))
    assert a.overlap_m2 == pytest.approx(expected, rel=1e-9)
    assert result.site_area_m2 == pytest.approx(area_m2(site), rel=1e-9)
    assert a.overlap_pct == pytest.approx(100 * expected / area_m2(site), rel=1e-9)
    assert a.overlap_pct == pytest.approx(50, abs=0.01)


def test_site_containing_a_zone(engine):
    c = hits(engine.check(shapely.box(86.19, 44.29, 86.22, 44.32)))["C"]
    assert c.relation is Relation.CONTAINS and c.relation_zh == "包含该区"
    assert c.overlap_m2 == pytest.approx(area_m2(C), rel=1e-9)


def test_edge_to_edge_contact_touches_and_does_not_overlap(engine):
    result = engine.check(shapely.box(85.98, 44.31, 86.00, 44.32))
    a = hits(result)["A"]
    assert a.relation is Relation.TOUCHES and a.relation_zh == "边界接触"
    assert a.overlap_m2 == 0 and a.distance_m == 0
    assert result.layer("ecological_redline").overlap_m2 == 0


def test_sliver_below_the_tolerance_is_a_boundary_contact(engine):
    # 0.2 m deep along 1.1 km of A's west edge: an overlap by area, a contact by the 0.5 m tolerance.
    site = shapely.box(85.98, 44.31, east(86.00, 44.315, 0.2), 44.32)
    touching = hits(engine.check(site))["A"]
    assert touching.relation is Relation.TOUCHES
    assert touching.overlap_m2 == pytest.approx(0.2 * 1112, rel=0.01)  # reported, not hidden
    assert hits(engine.check(site, tolerance_m=0.1))["A"].relation is Relation.OVERLAPS
    assert hits(engine.check(site, tolerance_m=0))["A"].relation is Relation.OVERLAPS


def test_site_in_a_zones_hole_is_not_inside(engine):
    in_hole = engine.check(shapely.box(86.045, 44.325, 86.055, 44.335))
    a = hits(in_hole)["A"]
    assert a.relation is Relation.NEAR
    # 0.005° of longitude at 44.33° N to the hole's west edge (a meridian).
    assert a.distance_m == pytest.approx(GEOD.inv(86.04, 44.33, 86.045, 44.33)[2], abs=0.5)
    assert hits(engine.check(shapely.Point(86.05, 44.33)))["A"].relation is Relation.NEAR
    filling_the_hole = hits(engine.check(HOLE))["A"]
    assert filling_the_hole.relation is Relation.TOUCHES and filling_the_hole.overlap_m2 == 0


def test_multipolygon_site_in_two_zones(engine):
    left, right = shapely.box(86.01, 44.31, 86.02, 44.32), shapely.box(86.11, 44.31, 86.12, 44.32)
    result = engine.check(shapely.MultiPolygon([left, right]))
    found = hits(result)
    assert found["A"].relation is Relation.OVERLAPS and found["B"].relation is Relation.OVERLAPS
    assert found["A"].overlap_m2 == pytest.approx(area_m2(left), rel=1e-9)
    assert found["B"].overlap_m2 == pytest.approx(area_m2(right), rel=1e-9)
    check = result.layer("ecological_redline")
    assert check.overlap_m2 == pytest.approx(area_m2(left) + area_m2(right), rel=1e-9)
    assert check.overlap_pct == pytest.approx(100, rel=1e-9)


def test_polygon_inside_a_zone_and_equal_to_a_zone(engine):
    site = shapely.box(86.01, 44.31, 86.02, 44.35)
    a = hits(engine.check(site))["A"]
    assert a.relation is Relation.INSIDE and a.overlap_pct == pytest.approx(100)
    assert hits(engine.check(C))["C"].relation is Relation.INSIDE  # equal counts as inside


def test_overlapping_zones_of_one_layer_are_counted_once(engine):
    site = shapely.box(86.07, 44.31, 86.12, 44.33)
    check = engine.check(site).layer("ecological_redline")
    found = {h.zone_id: h for h in check.hits}
    assert found["A"].relation is Relation.OVERLAPS and found["B"].relation is Relation.OVERLAPS
    union = area_m2(shapely.intersection(shapely.union_all([A, B]), site))
    assert check.overlap_m2 == pytest.approx(union, rel=1e-6)  # vertex sets differ slightly
    twice = area_m2(shapely.intersection(shapely.intersection(A, B), site))
    assert found["A"].overlap_m2 + found["B"].overlap_m2 == pytest.approx(union + twice, rel=1e-6)
    assert check.overlap_pct == pytest.approx(100 * union / area_m2(site), rel=1e-6)


# -- lines ------------------------------------------------------------------------------------------------
def test_line_crossing_along_and_within_a_zone(engine):
    crossing = hits(engine.check(shapely.LineString([(85.99, 44.33), (86.03, 44.33)])))["A"]
    assert crossing.relation is Relation.OVERLAPS
    expected = GEOD.line_length([86.00, 86.03], [44.33, 44.33])
    assert crossing.overlap_length_m == pytest.approx(expected, rel=1e-9)
    assert crossing.overlap_m2 is None and crossing.overlap_pct is None

    along = hits(engine.check(shapely.LineString([(86.00, 44.31), (86.00, 44.35)])))["A"]
    assert along.relation is Relation.TOUCHES
    within = engine.check(shapely.LineString([(86.01, 44.31), (86.02, 44.35)]))
    assert hits(within)["A"].relation is Relation.INSIDE
    assert hits(within)["A"].overlap_length_m == pytest.approx(within.site_length_m, rel=1e-9)
    # A line that reaches 0.16 m into the zone touches it; with a 0.1 m tolerance it overlaps.
    poking = shapely.LineString([(85.99, 44.33), (86.000002, 44.33)])
    assert hits(engine.check(poking))["A"].relation is Relation.TOUCHES
    assert hits(engine.check(poking, tolerance_m=0.1))["A"].relation is Relation.OVERLAPS


def test_line_through_two_overlapping_zones_counts_the_shared_stretch_once(engine):
    site = shapely.LineString([(86.07, 44.33), (86.12, 44.33)])
    check = engine.check(site).layer("ecological_redline")
    expected = GEOD.line_length([86.07, 86.12], [44.33, 44.33])
    assert check.overlap_length_m == pytest.approx(expected, rel=1e-6)  # split at 86.08 and 86.10


# -- point zones ------------------------------------------------------------------------------------------
def test_point_zone_contained_equal_and_near(engine):
    assert hits(engine.check(PLANT.buffer(0.01)), "chp_plant")["P"].relation is Relation.CONTAINS
    assert hits(engine.check(PLANT), "chp_plant")["P"].relation is Relation.INSIDE
    near = hits(engine.check(shapely.Point(east(86.30, 44.40, 500), 44.40)), "chp_plant")["P"]
    assert near.relation is Relation.NEAR and near.distance_m == pytest.approx(500, abs=1e-4)


# -- rings, search radius, order ----------------------------------------------------------------------------
def test_hits_nearest_first_with_rings_and_the_search_radius(engine):
    site = shapely.Point(east(86.00, 44.33, -3000), 44.33)
    check = engine.check(site, buffers_km=(2, 4), search_km=15).layer("ecological_redline")
    distances = [h.distance_m for h in check.hits]
    assert distances == sorted(distances) and check.nearest == check.hits[0]
    assert [h.zone_id for h in check.hits] == ["A", "B"]  # C is 17 km away
    assert check.hits[0].ring_km == 4 and check.hits[1].ring_km is None  # B is ~9.4 km away
    assert engine.check(site, search_km=1).layer("ecological_redline").hits == []
    assert engine.check(site, search_km=1).layer("ecological_redline").nearest is None


def test_kinds_a_rule_measures_farther_are_searched_farther(engine):
    # 12 km from C's east edge, along the geodesic leaving it at right angles
    site = shapely.Point(GEOD.fwd(86.21, 44.305, 90.0, 12_000)[:2])
    _, _, to_plant = GEOD.inv(site.x, site.y, PLANT.x, PLANT.y)
    assert 10_000 < to_plant < 15_000
    result = engine.check(site, buffers_km=(1, 5, 10), reach_km={"chp_plant": 15})
    plant, redline = result.layer("chp_plant"), result.layer("ecological_redline")
    assert (plant.search_km, redline.search_km, result.search_km) == (15, 10, 10)
    assert [h.zone_id for h in plant.hits] == ["P"]
    assert plant.hits[0].distance_m == pytest.approx(to_plant, abs=1e-4)
    assert plant.hits[0].ring_km is None and redline.hits == []
    farther = engine.check(site, search_km=15, reach_km={"chp_plant": 5})  # a reach never narrows the search
    assert farther.layer("chp_plant").search_km == 15 and list(hits(farther)) == ["C"]
    assert hits(farther)["C"].distance_m == pytest.approx(12_000, abs=1e-4)


@pytest.mark.parametrize("reach_km, error", [
    ({"chp_plant": 0}, InputError), ({"chp_plant": 500}, InputError), ({"chp_plant": "15"}, InputError),
    ({"no_such_kind": 15}, UnknownKindError),
])
def test_bad_reach_is_refused(engine, reach_km, error):
    with pytest.raises(error) as raised:
        engine.check(shapely.Point(86.02, 44.31), reach_km=reach_km)
    assert raised.value.fix


# -- coverage and versions ------------------------------------------------------------------------------
def test_coverage_gives_partial_and_not_checked_never_clear(engine):
    half = engine.check(shapely.box(86.00, 44.31, 86.10, 44.32)).layer("water_body")
    assert half.status == "partial" and half.covered_pct == pytest.approx(50, abs=0.01)
    assert "未核查" in half.reason and "not checked" in half.reason

    outside = engine.check(shapely.Point(86.5, 44.3)).layer("water_body")
    assert outside.status == "not_checked" and outside.covered_pct == 0 and outside.hits == []
    assert "覆盖范围" in outside.reason and "outside the area covered" in outside.reason

    inside = engine.check(shapely.Point(85.97, 44.29)).layer("water_body")
    assert inside.status == "checked" and inside.reason is None and inside.covered_pct == 100
    assert engine.check(shapely.Point(85.97, 44.29)).layer("ecological_redline").status == "checked"


def test_line_partly_covered(engine):
    check = engine.check(shapely.LineString([(86.00, 44.4), (86.10, 44.4)])).layer("water_body")
    assert check.status == "partial" and check.covered_pct == pytest.approx(50, abs=0.01)


def test_layers_without_a_version_in_force_are_not_checked(store, engine):
    result = engine.check(shapely.Point(86.02, 44.31))
    assert [c.kind for c in result.layers] == list(KINDS)
    reserve = result.layer("nature_reserve")
    assert reserve.status == "not_checked" and reserve.version is None and reserve.hits == []
    assert DAY in reserve.reason and "无生效" in reserve.reason and "not checked" in reserve.reason
    assert set(result.versions) == {"ecological_redline", "chp_plant", "water_body"}

    before = OverlapEngine.for_store(store, "2019-12-31").check(shapely.Point(86.02, 44.31))
    assert {c.status for c in before.layers} == {"not_checked"} and before.versions == {}


def test_kinds_selects_layers(engine):
    result = engine.check(shapely.Point(86.30, 44.40), kinds=["chp_plant", "nature_reserve"])
    assert [c.kind for c in result.layers] == ["chp_plant", "nature_reserve"]
    assert result.versions == {"chp_plant": 1}
    with pytest.raises(UnknownKindError, match="red_line"):
        engine.check(shapely.Point(86.30, 44.40), kinds=["red_line"])


# -- preparation and caching -------------------------------------------------------------------------------
def test_engine_is_prepared_once_per_snapshot(tmp_path):
    store = create_store(tmp_path / "cache.gpkg")
    store.import_layer(layer("ecological_redline", {"A": A}), "ecological_redline", source="v1",
                       effective_from="2020-01-01")
    first = OverlapEngine.for_store(store, DAY)
    assert OverlapEngine.for_store(store, DAY) is first
    first.check(shapely.Point(86.11, 44.31))
    assert not shapely.is_prepared(first._geoms).any()  # shared by every thread: never prepared
    assert shapely.is_prepared(first._copies.zones(np.arange(len(first._geoms)))).all()  # this thread's

    store.import_layer(layer("ecological_redline", {"B": B}), "ecological_redline", source="v2",
                       effective_from="2021-01-01")
    second = OverlapEngine.for_store(store, DAY)
    assert second is not first and second.key == (("ecological_redline", 2),)
    assert set(hits(second.check(shapely.Point(86.11, 44.31)))) == {"B"}
    assert OverlapEngine.for_store(store, "2020-06-01").key == (("ecological_redline", 1),)
    store.close()


def test_features_valid_on_different_dates_get_different_engines(tmp_path):
    store = create_store(tmp_path / "dates.gpkg")
    zones = layer("ecological_redline", {"A": A, "B": B})
    zones["valid_to"] = ["2022-01-01", None]
    store.import_layer(zones, "ecological_redline", source="v1", effective_from="2020-01-01")
    site = shapely.Point(86.09, 44.31)  # in A and B
    assert set(hits(OverlapEngine.for_store(store, "2021-06-01").check(site))) == {"A", "B"}
    assert set(hits(OverlapEngine.for_store(store, "2023-06-01").check(site))) == {"B"}
    store.close()


# -- bad input -------------------------------------------------------------------------------------------
@pytest.mark.parametrize(("site", "error", "match"), [
    (shapely.Polygon(), GeometryError, "empty"),
    (shapely.Point(math.nan, 44.0), CoordinateError, "not a finite number"),
    (shapely.Point(29_500_000.0, 4_900_000.0), CoordinateError, "projected metres"),
    (shapely.Polygon([(86, 44), (86.1, 44.1), (86.1, 44), (86, 44.1)]), GeometryError, "invalid"),
    (shapely.GeometryCollection([shapely.Point(86, 44), shapely.box(86, 44, 86.1, 44.1)]), GeometryError,
     "GeometryCollection"),
    (shapely.LineString([(86, 44), (86, 44)]), GeometryError, "Too few points"),
    ("POINT (86 44)", GeometryError, "not a geometry"),
])
def test_bad_sites_are_refused_with_the_fix(engine, site, error, match):
    with pytest.raises(error, match=match) as raised:
        engine.check(site)
    assert raised.value.fix


@pytest.mark.parametrize("options", [
    {"buffers_km": ()}, {"buffers_km": (1, -5)}, {"buffers_km": ("a",)}, {"search_km": 0},
    {"search_km": 5000}, {"search_km": math.inf}, {"tolerance_m": -1}, {"tolerance_m": math.nan},
])
def test_bad_options_are_refused(engine, options):
    with pytest.raises(InputError) as raised:
        engine.check(shapely.Point(86.02, 44.31), **options)
    assert raised.value.field in options and raised.value.fix


def test_z_values_are_ignored_and_the_site_object_is_left_alone(engine):
    site = shapely.Point(86.02, 44.31, 500.0)
    assert hits(engine.check(site))["A"].relation is Relation.INSIDE
    assert not shapely.is_prepared(site)


def test_result_serialises_with_chinese_labels(engine):
    data = engine.check(shapely.box(85.99, 44.31, 86.01, 44.32)).model_dump(mode="json")
    check = next(c for c in data["layers"] if c["kind"] == "ecological_redline")
    assert check["label_zh"] == "生态保护红线"
    assert check["hits"][0]["relation"] == "overlaps" and check["hits"][0]["relation_zh"] == "部分重叠"
    assert np.isclose(check["overlap_pct"], 50, atol=0.01)
