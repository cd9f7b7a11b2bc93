"""The overlap engine against PostGIS on the same zones: hits, areas, lengths and geodesic distances.

The zones are imported into a PostGIS store; the engine is built from that store's own snapshot, and every
figure is compared with SQL run on the server (``geography`` for areas and distances, spheroid on).
The deviations found are written to tests/_artifacts/overlap_vs_postgis.json.

The largest distance deviation (0.5 m, inside the 1 m bar) is PostGIS's, not the engine's: at 35.6° N it
reports 0 between "polygon 0.5 m north of H" and H, and 0 between the two nearly parallel edges alone,
while both are 0.5 m apart; its spherical edge test apparently takes them for one great circle.
"""

from __future__ import annotations

import json
import math
import uuid

import psycopg
import pytest
import shapely

from gis.overlap import OverlapEngine
from gis.store import create_store
from tests.delivery_samples import delivery
from tests.overlap_zones import east, layer, north, ring_with_hole

pytestmark = pytest.mark.postgis

DAY = "2021-06-01"
#: Centres from the south of Xinjiang (Kunlun, 35.6° N) to the north (Altay, 48.6° N).
CENTRES = [(80.0, 35.6), (82.9, 40.5), (86.0, 44.3), (87.0, 48.6)]
SEGMENT = 0.001  # ≈ 100 m between vertices, as in real layers (a 0.2° edge is kept on purpose: zone "L")

PAIRS_SQL = """
SELECT kind, zone_id, ST_Intersects(geom, s.g), ST_Distance(geom::geography, s.g::geography),
       ST_Area(ST_Intersection(geom, s.g)::geography), ST_Length(ST_Intersection(geom, s.g)::geography)
FROM ecozone.zones, (SELECT ST_GeomFromWKB(%(wkb)s, 4326) AS g) AS s
WHERE ST_Intersects(geom, s.g) OR ST_DWithin(geom::geography, s.g::geography, %(radius)s)
"""
UNION_SQL = """
SELECT kind, ST_Area(ST_Intersection(ST_Union(geom), s.g)::geography),
       ST_Length(ST_Intersection(ST_Union(geom), s.g)::geography)
FROM ecozone.zones, (SELECT ST_GeomFromWKB(%(wkb)s, 4326) AS g) AS s
WHERE ST_Intersects(geom, s.g) GROUP BY kind, s.g
"""


def _frame(x0: float, y0: float):
    """Units at a centre: u = 0.01° of latitude, ux = the same length in longitude."""
    return 0.01 / math.cos(math.radians(y0)), 0.01


def centre_zones(n: int, x0: float, y0: float) -> dict[str, dict[str, shapely.Geometry]]:
    """Zones at one centre: holed polygon, one overlapping it, multipolygon, long edges, a holed part."""
    ux, u = _frame(x0, y0)
    hole_zone = ring_with_hole(shapely.box(x0, y0, x0 + 6 * ux, y0 + 4 * u),
                               shapely.box(x0 + 2 * ux, y0 + 1.5 * u, x0 + 4 * ux, y0 + 2.5 * u))
    overlapping = shapely.Polygon([(x0 + 5 * ux, y0 + u), (x0 + 9 * ux, y0 + 0.5 * u),
                                   (x0 + 9.5 * ux, y0 + 3 * u), (x0 + 5.5 * ux, y0 + 3.5 * u)])
    multi = shapely.MultiPolygon([shapely.box(x0, y0 - 3 * u, x0 + 2 * ux, y0 - 1.5 * u),
                                  shapely.box(x0 + 3 * ux, y0 - 3 * u, x0 + 5 * ux, y0 - u)])
    long_edges = shapely.box(x0 + 15 * ux, y0, x0 + 15 * ux + 0.2, y0 + 0.08)
    part_with_hole = ring_with_hole(shapely.box(x0 - 8 * ux, y0, x0 - 6 * ux, y0 + 2 * u),
                                    shapely.box(x0 - 7.5 * ux, y0 + 0.5 * u, x0 - 6.5 * ux, y0 + 1.5 * u))
    triangle = shapely.Polygon([(x0 - 12 * ux, y0), (x0 - 10 * ux, y0), (x0 - 11 * ux, y0 + 2 * u)])
    def dense(g):
        return shapely.segmentize(g, SEGMENT)

    return {
        "ecological_redline": {f"H{n}": dense(hole_zone), f"O{n}": dense(overlapping), f"M{n}": dense(multi)},
        "water_body": {f"L{n}": long_edges, f"W{n}": dense(shapely.MultiPolygon([part_with_hole, triangle]))},
    }


def centre_sites(x0: float, y0: float) -> dict[str, shapely.Geometry]:
    """Sites touching, straddling and just outside (0.5 m, 30 m, 2 km) the zones of one centre."""
    ux, u = _frame(x0, y0)
    y1 = y0 + u
    lx0, lx1, ly1 = x0 + 15 * ux, x0 + 15 * ux + 0.2, y0 + 0.08
    lmid = (lx0 + lx1) / 2
    top = y0 + 4 * u
    return {
        "point inside H": shapely.Point(x0 + ux, y1),
        "point in H's hole": shapely.Point(x0 + 3 * ux, y0 + 2 * u),
        "point on H's west edge": shapely.Point(x0, y1),
        "point 0.5 m west of H": shapely.Point(east(x0, y1, -0.5), y1),
        "point 30 m west of H": shapely.Point(east(x0, y1, -30), y1),
        "point 2 km west of H": shapely.Point(east(x0, y1, -2000), y1),
        "point 2 km north of L's long edge": shapely.Point(lmid, north(lmid, ly1, 2000)),
        "point 30 m south of L's long edge": shapely.Point(lmid, north(lmid, y0, -30)),
        "point inside L": shapely.Point(lmid, y0 + 0.04),
        "point in W's hole": shapely.Point(x0 - 7 * ux, y1),
        "point 60 km east of H": shapely.Point(east(x0 + 6 * ux, y1, 60_000), y1),
        "point 95 km north of H": shapely.Point(x0 + ux, north(x0 + ux, top, 95_000)),
        "line through H's hole into O": shapely.LineString([(x0 - ux, y0 + 2 * u),
                                                            (x0 + 8 * ux, y0 + 2 * u)]),
        "line ending 30 m east of M": shapely.LineString([(x0 + 7 * ux, y0 - 2 * u),
                                                          (east(x0 + 5 * ux, y0 - 2 * u, 30), y0 - 2 * u)]),
        "line along H's west edge": shapely.LineString([(x0, y0 + 0.5 * u), (x0, y0 + 3 * u)]),
        "line across W's part with a hole": shapely.LineString([(x0 - 9 * ux, y0 + 0.3 * u),
                                                                (x0 - 5 * ux, y0 + 1.7 * u)]),
        "polygon straddling H's south edge": shapely.box(x0 + ux, y0 - 0.5 * u, x0 + 1.5 * ux, y0 + 0.5 * u),
        "polygon with a hole around M's first part": ring_with_hole(
            shapely.box(x0 - 0.5 * ux, y0 - 3.5 * u, x0 + 2.5 * ux, y0 - 1.2 * u),
            shapely.box(x0 - 0.4 * ux, y0 - 3.4 * u, x0 - 0.1 * ux, y0 - 3.1 * u)),
        "multipolygon in H∩O and across O's edge": shapely.MultiPolygon([
            shapely.box(x0 + 5.2 * ux, y0 + 1.5 * u, x0 + 5.8 * ux, y0 + 2.5 * u),
            shapely.box(x0 + 9 * ux, y0 + 1.5 * u, x0 + 10 * ux, y0 + 2 * u)]),
        "polygon sharing H's west edge": shapely.box(x0 - ux, y1, x0, y0 + 2 * u),
        "polygon 0.5 m north of H": shapely.box(x0 + ux, north(x0 + ux, top, 0.5), x0 + 2 * ux, top + u),
        "polygon 30 m north of H": shapely.box(x0 + ux, north(x0 + ux, top, 30), x0 + 2 * ux, top + u),
        "sliver 0.2 m into H": shapely.box(x0 + ux, north(x0 + ux, top, -0.2), x0 + 2 * ux, top + u),
        "polygon 30 m south of L": shapely.box(lmid - 0.05, north(lmid, y0, -1000),
                                               lmid + 0.05, north(lmid, y0, -30)),
        "polygon straddling L's west edge": shapely.box(lx0 - 0.01, y0 + 0.02, lx0 + 0.01, y0 + 0.04),
        "polygon 50 km south of M": shapely.box(x0, north(x0, y0 - 3 * u, -51_000), x0 + 2 * ux,
                                                north(x0, y0 - 3 * u, -50_000)),
    }


@pytest.fixture(scope="module")
def compared(postgres_server):
    """A PostGIS store with the zones of every centre, the engine built from it, and an open connection."""
    name = "overlap_" + uuid.uuid4().hex[:12]
    with psycopg.connect(postgres_server, autocommit=True) as admin:
        admin.execute(f'CREATE DATABASE "{name}"')
    url = postgres_server.rsplit("/", 1)[0] + "/" + name
    store = create_store(url)
    layers: dict[str, dict[str, shapely.Geometry]] = {}
    for n, (x0, y0) in enumerate(CENTRES):
        for kind, zones in centre_zones(n, x0, y0).items():
            layers.setdefault(kind, {}).update(zones)
    for kind, zones in layers.items():
        store.import_layer(layer(kind, zones), kind, source="test", effective_from="2020-01-01")
    conn = psycopg.connect(url, autocommit=True)
    yield OverlapEngine(store.snapshot(DAY)), conn, layers
    conn.close()
    store.close()
    with psycopg.connect(postgres_server, autocommit=True) as admin:
        admin.execute(f'DROP DATABASE "{name}" WITH (FORCE)')


def _sites():
    for x0, y0 in CENTRES:
        for label, site in centre_sites(x0, y0).items():
            yield f"{label} at {y0}° N", site


def test_the_zones_cover_every_shape_the_comparison_needs(compared):
    _, _, layers = compared
    zones = [g for kind in layers.values() for g in kind.values()]
    assert any(shapely.get_num_interior_rings(g) > 0 for g in zones)
    assert any(g.geom_type == "MultiPolygon" for g in zones)
    redlines = list(layers["ecological_redline"].values())
    assert any(shapely.area(shapely.intersection(a, b)) > 0 for a in redlines for b in redlines if a is not b)
    sites = [s for _, s in _sites()]
    assert len(sites) >= 25
    assert {s.geom_type for s in sites} == {"Point", "LineString", "Polygon", "MultiPolygon"}


#: The bars: distances within 1 m, areas and lengths within 0.1 %.
BARS = {"distance_m": 1.0, "area_pct": 0.1, "length_pct": 0.1, "union_area_pct": 0.1, "union_length_pct": 0.1}


class Deviations:
    """The largest deviation seen per quantity, and every one above its bar."""

    def __init__(self) -> None:
        self.worst = dict.fromkeys(BARS, 0.0)
        self.problems: list[str] = []

    def add(self, quantity: str, where: str, ours: float, theirs: float) -> None:
        if quantity == "distance_m":
            deviation = abs(ours - theirs)
        elif abs(theirs) < 0.01 and abs(ours) < 0.01:  # no shared area (m²) or length (m) on either side
            deviation = 0.0
        else:
            deviation = 100 * abs(ours - theirs) / max(abs(theirs), 0.01)
        self.worst[quantity] = max(self.worst[quantity], deviation)
        if deviation > BARS[quantity]:
            self.problems.append(f"{where}: {quantity} engine {ours:.4f}, PostGIS {theirs:.4f}")


@pytest.mark.parametrize("search_km", [10, 100])
def test_engine_agrees_with_postgis(compared, artifacts, search_km):
    engine, conn, _ = compared
    found, pairs = Deviations(), 0
    for label, site in _sites():
        wkb = shapely.to_wkb(site)
        result = engine.check(site, search_km=search_km)
        ours = {(c.kind, h.zone_id): h for c in result.layers for h in c.hits}
        rows = conn.execute(PAIRS_SQL, {"wkb": wkb, "radius": search_km * 1000})
        theirs = {(kind, zone_id): rest for kind, zone_id, *rest in rows}
        if set(ours) != set(theirs):
            found.problems.append(f"{label}: hits {sorted(ours)} != PostGIS {sorted(theirs)}")
            continue
        for key, (meets, distance, area, length) in theirs.items():
            pairs += 1
            hit, where = ours[key], f"{label} {key}"
            if meets != (hit.relation.value != "near"):
                found.problems.append(f"{where}: PostGIS intersects={meets}, engine {hit.relation.value}")
            found.add("distance_m", where, hit.distance_m, distance)
            if result.site_type == "polygon":
                found.add("area_pct", where, hit.overlap_m2, area)
            if result.site_type == "line":
                found.add("length_pct", where, hit.overlap_length_m, length)
        unions = {kind: (area, length) for kind, area, length in conn.execute(UNION_SQL, {"wkb": wkb})}
        for check in (c for c in result.layers if c.version is not None):
            area, length = unions.get(check.kind, (0.0, 0.0))
            if result.site_type == "polygon":
                found.add("union_area_pct", f"{label} {check.kind}", check.overlap_m2, area)
            if result.site_type == "line":
                found.add("union_length_pct", f"{label} {check.kind}", check.overlap_length_m, length)

    assert found.problems == []
    assert pairs > 100
    postgis, geos = conn.execute("SELECT postgis_lib_version(), postgis_geos_version()").fetchone()
    report = artifacts / "overlap_vs_postgis.json"
    runs = json.loads(report.read_text()) if report.exists() else {}
    runs[f"search_km={search_km}"] = {
        "sites": len(list(_sites())), "pairs": pairs, "postgis": postgis, "geos": geos, "worst": found.worst,
    }
    report.write_text(json.dumps(runs, indent=2))


def _postgis_pair(conn, site, zone_id):
    rows = conn.execute(PAIRS_SQL, {"wkb": shapely.to_wkb(site), "radius": 10_000}).fetchall()
    return next(row[2:] for row in rows if row[1] == zone_id)


def test_long_edges_are_great_circles_for_distance_as_in_postgis(compared):
    # 1 m north of the middle of L's 0.2° northern edge: outside the planar edge, but PostGIS geography takes
    # the edge as a great circle that bulges about 5 m poleward, so the distance is 0 there too.
    engine, conn, _ = compared
    x0, y0 = CENTRES[2]
    ux, _ = _frame(x0, y0)
    lmid, ly1 = x0 + 15 * ux + 0.1, y0 + 0.08
    site = shapely.Point(lmid, north(lmid, ly1, 1.0))
    hit = next(h for h in engine.check(site).layer("water_body").hits if h.zone_id == "L2")
    meets, distance, _, _ = _postgis_pair(conn, site, "L2")
    assert not meets and hit.relation.value == "near"
    assert distance == pytest.approx(0, abs=1e-6) and hit.distance_m == pytest.approx(0, abs=1e-6)
    # 30 m south of the southern edge: the great circle bulges away from the site, by the same 5 m.
    site = shapely.Point(lmid, north(lmid, y0, -30.0))
    hit = next(h for h in engine.check(site).layer("water_body").hits if h.zone_id == "L2")
    _, distance, _, _ = _postgis_pair(conn, site, "L2")
    assert distance == pytest.approx(34.8, abs=0.3) and hit.distance_m == pytest.approx(distance, abs=0.01)


def test_an_engine_of_part_of_the_area_measures_on_the_zones_own_edges(compared):
    """A tile's engine (or a one-off check's) cuts zones at its box; the cut makes new edges on the straight
    lon/lat line, which as great circles lie metres off the zone's own. Distances are still PostGIS's."""
    engine, conn, _ = compared
    x0, y0 = CENTRES[2]
    ux, _ = _frame(x0, y0)
    lmid = x0 + 15 * ux + 0.1
    site = shapely.Point(lmid, north(lmid, y0, -30.0))  # 30 m south of L2's 0.2° southern edge
    _, distance, _, _ = _postgis_pair(conn, site, "L2")
    for cut in (0.01, 0.03, 0.08):  # the box's western edge crosses L2's long edges this far west of the site
        part = OverlapEngine(engine.snapshot, region=(lmid - cut, y0 - 0.2, lmid + 0.3, y0 + 0.3))
        hit = next(h for h in part.check(site, search_km=0.1).layer("water_body").hits if h.zone_id == "L2")
        assert hit.distance_m == pytest.approx(distance, abs=0.01)
        assert hit.distance_m == next(h for h in engine.check(site, search_km=0.1).layer("water_body").hits
                                      if h.zone_id == "L2").distance_m


def test_batch_distance_rules_agree_with_st_dwithin(postgres_db):
    """The batch's distance conditions (5 km of a built-up area, 15 km of a CHP plant) for points scattered
    across the ring of each zone, most within 300 m of the radius: PostGIS ``ST_DWithin`` on geography says
    the same of every pair (pairs PostGIS puts within 1 m of the radius are left out: its own error bar)."""
    import numpy as np

    from gis.batch.spatial import BatchEngine
    from gis.rules import default_rule_packs
    from gis.store import open_store

    batch = BatchEngine.for_store(open_store(), DAY, default_rule_packs())
    rng = np.random.default_rng(23)
    xs, ys = [], []
    for zone in batch._within:
        radius = max(batch.radii[batch.kinds[zone]])
        boundary = shapely.get_coordinates(shapely.segmentize(batch._zones[zone].boundary
                                                              if batch._zones[zone].geom_type != "Point"
                                                              else batch._zones[zone], 0.01))
        anchor = boundary[rng.integers(len(boundary), size=150)]
        angle = rng.uniform(0, 2 * np.pi, 150)
        metres = np.where(rng.random(150) < 0.7, radius + rng.normal(0, 150, 150), rng.uniform(0, 2 * radius, 150))
        xs.append(anchor[:, 0] + metres * np.cos(angle) / (111_320 * np.cos(np.radians(anchor[:, 1]))))
        ys.append(anchor[:, 1] + metres * np.sin(angle) / 110_950)
    x, y = np.concatenate(xs), np.concatenate(ys)
    got = batch._within_keys(x, y)
    expected = np.zeros(len(x), dtype=np.uint64)
    unsure = np.zeros(len(x), dtype=bool)
    with psycopg.connect(postgres_db, autocommit=True) as conn:
        conn.execute("CREATE EXTENSION IF NOT EXISTS postgis")
        for zone in batch._within:
            wkb = shapely.to_wkb(batch._zones[zone])
            for radius in batch.radii[batch.kinds[zone]]:
                rows = conn.execute(
                    "SELECT i, ST_Distance(ST_GeomFromWKB(%s, 4326)::geography, "
                    "ST_SetSRID(ST_MakePoint(px, py), 4326)::geography) FROM unnest(%s::float8[], %s::float8[]) "
                    "WITH ORDINALITY AS p(px, py, i)", (wkb, x.tolist(), y.tolist())).fetchall()
                distance = np.array([d for _, d in sorted(rows)])
                within = np.array([w for (w,) in conn.execute(
                    "SELECT ST_DWithin(ST_GeomFromWKB(%s, 4326)::geography, "
                    "ST_SetSRID(ST_MakePoint(px, py), 4326)::geography, %s) FROM unnest(%s::float8[], "
                    "%s::float8[]) WITH ORDINALITY AS p(px, py, i) ORDER BY i",
                    (wkb, radius, x.tolist(), y.tolist())).fetchall()])
                with np.errstate(over="ignore"):
                    expected[within] += batch.keys[batch.radius_tags[radius], zone]
                unsure |= np.abs(distance - radius) < 1.0
    assert (np.abs(np.concatenate(ys)) > 0).all() and len(x) >= 150 * len(batch._within)
    sure = ~unsure
    assert sure.sum() > 0.95 * len(x)
    # a point is in the ring of at most a few zones; compare the sums of the rings' keys point by point
    np.testing.assert_array_equal(got[sure], expected[sure])


def test_distances_from_points_among_irregular_patches_agree_with_postgis(postgres_db):
    """Points among a delivery's irregular patches (about 170 vertices, holes, patches in two parts), dozens
    within 10 km of each: every patch PostGIS finds within 10 km is a hit, at PostGIS's geography distance. A
    point's distance is measured only on the outline pieces that may hold the nearest point (chosen by their
    envelopes); a piece wrongly left out would show here as a longer distance."""
    import numpy as np

    patches = delivery(80, seed=11, area=shapely.box(85.9, 44.2, 86.2, 44.4))
    store = create_store(postgres_db)
    store.import_layer(layer("ecological_redline", dict(zip(patches["编号"], patches.geometry))),
                       "ecological_redline", source="test", effective_from="2020-01-01")
    engine = OverlapEngine(store.snapshot(DAY))
    points = np.random.default_rng(5).uniform((85.85, 44.15), (86.25, 44.45), (120, 2))
    pairs, worst = 0, 0.0
    with psycopg.connect(postgres_db, autocommit=True) as conn:
        for x, y in points:
            site = shapely.Point(x, y)
            ours = {h.zone_id: h.distance_m
                    for h in engine.check(site, buffers_km=(10,), kinds=["ecological_redline"]).layers[0].hits}
            rows = conn.execute(PAIRS_SQL, {"wkb": shapely.to_wkb(site), "radius": 10_000}).fetchall()
            theirs = {zone_id: distance for _, zone_id, _, distance, _, _ in rows}
            clear = 10_000 - 1  # pairs within PostGIS's 1 m of the radius may fall either side of it
            assert {z for z, d in theirs.items() if d < clear} <= set(ours), (x, y)
            assert {z for z, d in ours.items() if d < clear} <= set(theirs), (x, y)
            for zone_id in set(ours) & set(theirs):
                worst = max(worst, abs(ours[zone_id] - theirs[zone_id]))
                pairs += 1
    store.close()
    assert pairs > 2000
    assert worst < 1.0
