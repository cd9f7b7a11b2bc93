"""The overlap engine: one site against every layer of a store version.

Each store version is prepared once (one STRtree over all zones, every zone geometry ``shapely.prepare``-d,
coverage polygons prepared) and reused for every check. A check asks the tree for the zones whose envelope
lies within the search radius, then runs exact work on those candidates only, vectorised where shapely
allows.

The measures follow what PostGIS computes on the same ``geometry(Geometry, 4326)`` data, so the two agree:

- predicates and intersections are planar in longitude/latitude (``ST_Intersects``, ``ST_Intersection`` on
  ``geometry``);
- areas are geodesic on WGS 84 (GeographicLib through pyproj), as
  ``ST_Area(ST_Intersection(a, b)::geography)``;
- distances are those of ``ST_Distance(a::geography, b::geography)``: PostGIS takes the edges of a geography
  as great circles, finds the nearest points on the sphere and measures that pair on the ellipsoid. Here the
  nearest points are found in a gnomonic projection centred on the site (in which great circles are straight
  lines, so shapely's planar ``shortest_line`` finds the same pair) and the pair is measured with
  ``Geod.inv``.

The two conventions differ only along long edges: a great-circle edge of length L leaves the straight
lon/lat edge by up to L² tan(φ) / (8 R), about 2 cm for 1 km, 2 m for 10 km and 5 m for a 0.2° east-west edge
at 44° N. Official layers have vertices metres apart, so there the difference vanishes; on a coarse layer a
site within that band can be ``near`` at 0 m, exactly as PostGIS reports it.
"""

from __future__ import annotations

import bisect
import contextlib
import datetime as dt
import math
import threading
from collections.abc import Hashable, Iterable, Iterator, Mapping, Sequence
from typing import NamedTuple

import numpy as np
import shapely

from gis.cache import BoundedCache
from gis.crs import GEOD, geodesic_area_m2
from gis.errors import CoordinateError, GeometryError, InputError
from gis.kinds import KINDS, get_kind
from gis.results import LayerCheck, OverlapResult, Relation, ZoneHit, non_default
from gis.store.base import Snapshot, Store, iso_day, valid_on
from gis.zones import OPEN_END

__all__ = ["MAX_SEARCH_KM", "OverlapEngine", "outline_pieces", "prepared_copies", "set_engine_budget", "share_of", "TILE_DEG", "TILE_MARGIN_DEG"]

#: Largest search radius accepted; distances were checked against PostGIS up to this radius.
MAX_SEARCH_KM = 100.0

_SITE_TYPES = {
    "Point": "point",
    "MultiPoint": "point",
    "LineString": "line",
    "MultiLineString": "line",
    "Polygon": "polygon",
    "MultiPolygon": "polygon",
}
_DIMENSION = {"point": 0, "line": 1, "polygon": 2}
_RANK = {r: i for i, r in enumerate(Relation)}
#: A hit made from its fields: validated as ``ZoneHit(**fields)`` is, without the keyword call (hundreds a check).
_validate_hit = ZoneHit.__pydantic_validator__.validate_python
_EARTH_RADIUS_M = 6_371_008.8  # only scales the gnomonic plane; distances are measured with GEOD
#: A check is answered by the engine of the square tile (of this many degrees) that holds the middle of its
#: search area, made of the zones within ``TILE_MARGIN_DEG`` of the tile, so that its cost follows the zones
#: near the site, not the size of the store. A search area reaching beyond the tile and its margin (a site or
#: a radius of more than about 25 km) gets an engine of its own area.
TILE_DEG = 0.5
TILE_MARGIN_DEG = 0.3

#: The engines kept, by the vertices they hold (the bulk of their memory, about 150 bytes each); the interfaces
#: set the bound from their settings (``set_engine_budget``).
DEFAULT_ENGINE_VERTICES = 8_000_000


class OverlapEngine:
    """Checks sites against the zones of one store snapshot (or of one area of it), prepared once.

    Parameters
    ----------
    snapshot
        Layer versions and their features (``Store.snapshot``, or every feature of the versions whatever
        their own dates, as ``for_site`` builds it: a check keeps the features valid on its date). Each
        layer's coverage comes from ``snapshot.versions[kind].coverage``.
    region
        (minx, miny, maxx, maxy) in degrees: the engine answers only checks whose search area lies within it,
        and keeps of each zone and coverage only what lies in it, so that a zone of the whole region costs
        what its part near the site costs. None: the whole store.

    Notes
    -----
    All zones go into a single STRtree (not one per kind): a check then costs one tree query and one
    vectorised pass over the candidates whatever the number of layers, and a ``kinds`` filter is a mask.

    One engine serves every thread of a process. What it shares is read-only (the trees, the outline
    pieces, the zone geometries, never prepared); the prepared geometries that make predicates fast are
    each thread's own (``_ThreadCopies``).
    """

    def __init__(self, snapshot: Snapshot, *, region: tuple[float, float, float, float] | None = None) -> None:
        self.snapshot = snapshot
        self.region = region
        zones = snapshot.zones
        geoms = whole = np.asarray(zones.geometry.values, dtype=object)
        if region is not None:
            geoms = _clipped(geoms, region)
            kept = ~shapely.is_empty(geoms)
            zones, geoms, whole = zones[kept], geoms[kept], whole[kept]
        self._geoms = geoms
        # Zones cut at the region: a site within it never contains one (the zone goes on beyond the region).
        self._cut = np.fromiter((g is not w for g, w in zip(geoms, whole)), dtype=bool, count=len(geoms))
        self._whole = whole
        self._tree = shapely.STRtree(self._geoms)
        self._kind_codes = {kind: code for code, kind in enumerate(KINDS)}
        self._kind_names = list(KINDS)
        self._kind_of = np.array([self._kind_codes[k] for k in zones["kind"]], dtype=np.int32)
        self._records = zones.drop(columns=zones.geometry.name).to_dict("records")
        self._zone_fields = [  # what a hit says of its zone, whatever the site
            non_default(ZoneHit, zone_id=r["zone_id"], kind=r["kind"], name=r["name"], subtype=r["subtype"],
                        subtype_label=KINDS[r["kind"]].subtype_label(r["subtype"]), jurisdiction=r["jurisdiction"],
                        geometry_source=r["geometry_source"], attributes=r["attributes"] or {},
                        source_doc=r["source_doc"], source_quote=r["source_quote"])
            for r in self._records
        ]
        ids = [fields["zone_id"] for fields in self._zone_fields]
        self._id_rank = np.empty(len(ids), dtype=np.int64)  # the zones in the order of their ids, for sorting
        self._id_rank[sorted(range(len(ids)), key=ids.__getitem__)] = np.arange(len(ids))
        # A feature's own dates: a check keeps the features valid on its day.
        self._valid_from = np.array([r["valid_from"] or "0000-01-01" for r in self._records], dtype="U10")
        self._valid_to = np.array([r["valid_to"] or OPEN_END for r in self._records], dtype="U10")
        self._dated = bool(len(self._records)) and bool(
            (self._valid_from > "0000-01-01").any() or (self._valid_to < OPEN_END).any())
        # Distances are taken on the zones' own edges, not on those of their cut at the region: a cut edge
        # is another great circle (tens of metres apart on a long boundary edge), and a check must measure
        # the same whichever engine answers it (a report is verified by checking again).
        self._outlines = _Outlines(whole, region)
        self._coverage = {kind: version.coverage for kind, version in snapshot.versions.items()}
        if region is not None:
            self._coverage = {kind: None if c is None else _clipped(np.array([c]), region)[0]
                              for kind, c in self._coverage.items()}
        self._coverage_kinds = np.array([k for k, c in self._coverage.items() if c is not None], dtype=object)
        self._coverages = np.array([self._coverage[kind] for kind in self._coverage_kinds], dtype=object)
        self._coverage_index = {kind: i for i, kind in enumerate(self._coverage_kinds)}
        self._copies = _ThreadCopies(self._geoms, self._coverages)
        self.vertices = int(shapely.get_num_coordinates(self._geoms).sum()
                            + shapely.get_num_coordinates(self._coverages).sum())

    @property
    def key(self) -> tuple[tuple[str, int], ...]:
        """The layer versions this engine was prepared from (``Snapshot.key``)."""
        return self.snapshot.key

    @classmethod
    def for_store(cls, store: Store, as_of: str | dt.date | None = None) -> OverlapEngine:
        """The engine of every zone of ``store`` in force on ``as_of`` (default today), prepared once: for
        batches, which meet zones everywhere and are of one date. A single check takes ``for_site``.

        Kept by the store, the date and the layer versions in force; a new import changes the versions, hence
        the key, so it is never served a stale engine.
        """
        day = iso_day(as_of)
        key = (store.location, day, _versions_key(store.in_force(day)))
        engine = _engines.get(key)
        if engine is None:
            with _builds.one(key):
                engine = _engines.get(key)
                if engine is None:
                    engine = cls(store.snapshot(day))
                    # An import between in_force() and snapshot(): file the engine under what it holds.
                    engine = _engines.put((store.location, day, engine.key), engine)
        return engine

    @classmethod
    def for_area(cls, store: Store, bounds: tuple[float, float, float, float], as_of: str | dt.date | None,
                 search_km: float) -> OverlapEngine:
        """The engine of the zones in force on ``as_of`` within ``search_km`` of sites inside ``bounds``
        (lon/lat): for a batch of one day whose sites lie in one area (a county's register). Not kept: the
        batch keeps what it makes of it. Unlike ``for_site``'s engines, which serve every day of their layer
        versions, it holds the features valid on that day only, as ``for_store``'s does."""
        day = iso_day(as_of)
        versions = store.in_force(day)
        region = _rounded_out(_grown(bounds, search_km * 1000))
        features = valid_on(store.features(list(versions.values()), bounds=region), day)
        return cls(Snapshot(day, versions, features), region=region)

    @classmethod
    def for_site(cls, store: Store, site: shapely.Geometry | tuple[float, float, float, float],
                 as_of: str | dt.date | None = None, search_km: float = 10.0,
                 reach_km: Mapping[str, float] | None = None, *, build: bool = True,
                 tile: bool = True) -> OverlapEngine | None:
        """The engine to check ``site`` (a geometry or its bounds) with this search radius and reach: the
        engine of the tile holding the middle of its search area, or of that area alone when it is larger
        than a tile and its margin. Built on first use from the zones the store finds there (through its
        spatial index), then kept (``set_engine_budget``). With ``build=False``, None unless it is kept
        already (a server checks on its event loop only what is ready). With ``tile=False``, the engine of
        the search area alone: for a process that checks one site and ends (``ecozone check``), where a dense
        layer would make the tile's engine cost several times the site's own."""
        day = iso_day(as_of)
        bounds = site.bounds if isinstance(site, shapely.Geometry) else tuple(site)
        reach = max([search_km, *(reach_km or {}).values()]) * 1000
        area = _grown(bounds, reach)
        region = _region_of(area) if tile else _rounded_out(area)
        versions = store.in_force(day)
        # By versions, not by date: every date between two imports shares the engine.
        key = (store.location, _versions_key(versions), region)
        engine = _engines.get(key)
        if engine is None and build:
            with _builds.one(key):  # one thread builds it, the others wait for it
                engine = _engines.get(key)
                if engine is None:
                    features = store.features(list(versions.values()), bounds=region)
                    engine = _engines.put(key, cls(Snapshot(day, versions, features), region=region))
        return engine

    def check(
        self,
        site: shapely.Geometry,
        *,
        buffers_km: Sequence[float] = (1, 5, 10),
        search_km: float | None = None,
        reach_km: Mapping[str, float] | None = None,
        tolerance_m: float = 0.5,
        kinds: Iterable[str] | None = None,
        as_of: str | dt.date | None = None,
    ) -> OverlapResult:
        """Relate a site to every zone of every layer within the search radius.

        Parameters
        ----------
        site
            Point, line or polygon (or multi-) in longitude/latitude, EPSG:4326 (CGCS2000 lon/lat is the
            same to a few cm). Z values are ignored.
        buffers_km
            Buffer rings for proximity reports; each hit gets the smallest ring that reaches it.
        search_km
            Zones up to this geodesic distance are reported as ``near``; default the largest ring. At most
            ``MAX_SEARCH_KM``.
        reach_km
            Kinds searched farther than ``search_km``, with their radius (km), e.g. ``{"chp_plant": 15}``
            for a rule about boilers within 15 km of a CHP plant. Each layer reports its search radius.
        tolerance_m
            Contact tolerance: a shared part narrower than this on average (polygon sites: 2 × area /
            perimeter of site ∩ zone) or shorter than this (line sites: length inside the zone) is a
            boundary contact (``touches``), not an overlap. Point sites are exact.
        kinds
            Layers to check; default every known kind (kinds without a version in force are
            ``not_checked``).
        as_of
            The date of the check: features outside their own ``valid_from``/``valid_to`` are left out.
            Default the snapshot's date.

        Returns
        -------
        OverlapResult
            One ``LayerCheck`` per kind, in the order of ``gis.kinds.KINDS`` (or of ``kinds``).

        Raises
        ------
        GeometryError
            Empty, invalid, degenerate or mixed-type site.
        CoordinateError
            Non-finite coordinates, or values that are not degrees (e.g. projected metres).
        InputError
            A bad ``buffers_km``, ``search_km``, ``reach_km`` or ``tolerance_m``.
        UnknownKindError
            A kind not in the vocabulary.
        """
        site, site_type = _checked_site(site)
        rings, search_m, tolerance_m = _checked_options(buffers_km, search_km, tolerance_m)
        reach_m = _checked_reach(reach_km, search_m)
        wanted = list(KINDS) if kinds is None else [get_kind(k).name for k in kinds]
        day = self.snapshot.as_of if as_of is None else iso_day(as_of)
        if self.region is not None:
            box = _search_bounds(site, max(reach_m.values()))
            if not (self.region[0] <= box[0] and self.region[1] <= box[1] and box[2] <= self.region[2]
                    and box[3] <= self.region[3]):
                raise InputError("项目地块的搜索范围超出了该计算引擎的范围 / the site's search area reaches beyond "
                                 "this engine's area", field="site", value=box,
                                 fix="用 OverlapEngine.for_site 取得计算引擎 / take the engine with "
                                     "OverlapEngine.for_site")
        site_measure = measure_in_dimension(site, site_type)
        shapely.prepare(site)

        found = self._find(site, site_type, site_measure, reach_m, tolerance_m, wanted, day)
        coverages = self._copies.coverages
        outside = set(self._coverage_kinds[~shapely.covers(coverages, site)])  # coverages not around it all
        layers = [
            self._layer_check(kind, site, site_type, site_measure, found.get(kind, []), rings, reach_m[kind],
                              kind in outside, day)
            for kind in wanted
        ]
        return OverlapResult(
            as_of=day,
            versions={k: v.version for k, v in self.snapshot.versions.items() if k in wanted},
            site_type=site_type,
            site_area_m2=site_measure if site_type == "polygon" else None,
            site_length_m=site_measure if site_type == "line" else None,
            buffers_km=[r / 1000 for r in rings],
            search_km=search_m / 1000,
            tolerance_m=tolerance_m,
            layers=layers,
        )

    # -- the steps of a check ------------------------------------------------------------------------------
    def _find(self, site, site_type, site_measure, reach_m, tolerance_m, wanted,
              day: str) -> dict[str, list[_Found]]:
        """Zones valid on ``day`` within their kind's search radius, by kind, with relation, shared part and
        its measure, distance; in the order of the hits."""
        reach_of_code = np.array([reach_m[kind] for kind in KINDS])
        candidates = self._tree.query(shapely.box(*_search_bounds(site, reach_of_code.max())))
        if self._dated:
            candidates = candidates[(self._valid_from[candidates] <= day) & (day < self._valid_to[candidates])]
        if len(set(wanted)) < len(KINDS):
            wanted_kind = np.zeros(len(KINDS), dtype=bool)
            wanted_kind[[self._kind_codes[k] for k in wanted]] = True
            candidates = candidates[wanted_kind[self._kind_of[candidates]]]
        meets = shapely.intersects(self._copies.zones(candidates), site)
        apart = candidates[~meets]
        apart, distance = self._outlines.distances(site, apart, reach_of_code[self._kind_of[apart]])
        near = distance <= reach_of_code[self._kind_of[apart]]

        touching, near_zones = candidates[meets], apart[near]
        relations, shared, measures = _relate(site, site_type, site_measure, self._copies.zones(touching),
                                              tolerance_m, self._cut[touching])
        zones = np.concatenate([touching, near_zones])
        relations += [Relation.NEAR] * len(near_zones)
        shared += [None] * len(near_zones)
        measure = np.concatenate([measures, np.zeros(len(near_zones))])
        distance = np.concatenate([np.zeros(len(touching)), distance[near]])
        # By kind, then in the order a report lists them: nearest first, then the closer relation, the larger
        # shared part, the zone id. Sorted as arrays: a check near a dense layer finds hundreds of zones.
        order = np.lexsort((self._id_rank[zones], -measure, [_RANK[r] for r in relations], distance,
                            self._kind_of[zones]))
        zones = zones[order]
        found: dict[str, list[_Found]] = {}
        for i, index, kind, m, d in zip(order.tolist(), zones.tolist(), self._kind_of[zones].tolist(),
                                        measure[order].tolist(), distance[order].tolist()):
            found.setdefault(self._kind_names[kind], []).append(_Found(index, relations[i], shared[i], m, d))
        return found

    def _layer_check(self, kind, site, site_type, site_measure, found, rings, search_m,
                     uncovered, day) -> LayerCheck:
        spec = KINDS[kind]
        version = self.snapshot.versions.get(kind)
        if version is None:
            return LayerCheck(
                kind=kind, label_zh=spec.label_zh, status="not_checked", search_km=search_m / 1000,
                reason=f"{day} 无生效的{spec.label_zh}图层，未核查 / "
                f"no version of this layer is in force on {day}; not checked",
            )
        status, reason, covered = "checked", None, 100.0
        if uncovered:
            status, reason, covered = self._uncovered_status(kind, version.version, site, site_type,
                                                             site_measure)
        hits = [self._hit(f, site_type, site_measure, rings) for f in found]
        shared = [f.shared for f in found if f.shared is not None]
        overlap = 0.0
        if any(f.relation is Relation.INSIDE for f in found):  # the site is all shared: no union to take
            overlap = site_measure
        elif shared and site_type != "point":  # a union of one part would still cost a pass over its vertices
            overlap = measure_in_dimension(shared[0] if len(shared) == 1 else shapely.union_all(shared), site_type)
        return LayerCheck(
            kind=kind, label_zh=spec.label_zh, version=version.version, status=status, reason=reason,
            covered_pct=covered, search_km=search_m / 1000, hits=hits,
            **_overlap_fields(site_type, overlap, site_measure),
        )

    def _uncovered_status(self, kind, version, site, site_type, site_measure) -> tuple[str, str, float]:
        """partial / not_checked, for a site that the layer's coverage does not wholly cover, from the share
        of the site inside it."""
        label = KINDS[kind].label_zh
        coverage = self._copies.coverages[self._coverage_index[kind]]
        pct = 0.0 if site.geom_type == "Point" else 100 * _covered_measure(site, site_type, coverage) / site_measure
        if pct == 0:
            return "not_checked", (
                f"项目位置不在{label}图层（第{version}版）覆盖范围内，未核查 / "
                f"the site lies outside the area covered by version {version} of this layer; not checked"
            ), 0.0
        return "partial", (
            f"项目仅 {pct:.1f}% 位于{label}图层（第{version}版）覆盖范围内，其余部分未核查 / "
            f"only {pct:.1f} % of the site lies in the area covered by version {version} of this layer; "
            "the rest is not checked"
        ), pct

    def _hit(self, found: _Found, site_type, site_measure, rings) -> ZoneHit:
        ring = bisect.bisect_left(rings, found.distance_m)  # the smallest ring reaching the zone
        return _validate_hit({
            **self._zone_fields[found.index],
            **_overlap_fields(site_type, found.measure, site_measure),
            "relation": found.relation,
            "relation_zh": found.relation.label_zh,  # given, so that the model need not call back for it
            "distance_m": found.distance_m,
            "ring_km": rings[ring] / 1000 if ring < len(rings) else None,
        })


def _overlap_fields(site_type: str, measure: float, site_measure: float) -> dict[str, float]:
    """What a hit or a layer says of the shared part: area and share for polygon sites, length for lines.
    The fields it leaves out keep their default, None."""
    if site_type == "polygon":
        area, pct = share_of(measure, site_measure)
        return {"overlap_m2": area, "overlap_pct": pct}
    return {"overlap_length_m": measure} if site_type == "line" else {}


class _ThreadCopies(threading.local):
    """This thread's prepared copies of the zones (made when the thread first meets a zone) and coverages.

    GEOS builds a prepared geometry's indexes lazily and keeps scratch state in them while it answers a
    predicate, so one prepared geometry used by two threads at once corrupts memory (two concurrent checks
    of parcels crashed the server). The shared zones are therefore never prepared; each thread prepares
    copies of what it tests, and keeps them as long as the thread and the engine live."""

    def __init__(self, zones: np.ndarray, coverages: np.ndarray) -> None:
        self._shared = zones
        self._copies = np.empty(len(zones), dtype=object)
        self._made = np.zeros(len(zones), dtype=bool)
        self.coverages = prepared_copies(coverages)

    def zones(self, indices: np.ndarray) -> np.ndarray:
        """The prepared copies of the zones at ``indices``."""
        missing = indices[~self._made[indices]]
        if len(missing):
            self._copies[missing] = prepared_copies(self._shared[missing])
            self._made[missing] = True
        return self._copies[indices]


def prepared_copies(geoms: np.ndarray) -> np.ndarray:
    """Prepared copies of ``geoms``, for one thread's predicates: the originals stay unprepared, shareable."""
    copies = shapely.from_wkb(shapely.to_wkb(geoms)) if len(geoms) else np.empty(0, dtype=object)
    shapely.prepare(copies)
    return copies


class _Found(NamedTuple):
    """A zone within the search radius: row, relation, shared part (None when apart), measure, distance.

    A tuple, as a check makes one per zone it finds: a frozen dataclass took five times as long to make."""

    index: int
    relation: Relation
    shared: shapely.Geometry | None
    measure: float  # area of ``shared`` (m², polygon sites) or length (m, line sites); 0 for point sites
    distance_m: float


_engines: BoundedCache[OverlapEngine] = BoundedCache(DEFAULT_ENGINE_VERTICES, weigh=lambda engine: engine.vertices)


def set_engine_budget(vertices: int) -> None:
    """Keep engines of at most ``vertices`` vertices in all (about 150 bytes each); the least recently used
    go first."""
    _engines.resize(vertices)


class _Builds:
    """One build at a time per key: a second thread asking for an engine being built waits for it."""

    def __init__(self) -> None:
        self._locks: dict[Hashable, threading.Lock] = {}
        self._guard = threading.Lock()

    @contextlib.contextmanager
    def one(self, key: Hashable) -> Iterator[None]:
        with self._guard:
            lock = self._locks.setdefault(key, threading.Lock())
        try:
            with lock:
                yield
        finally:
            with self._guard:
                if self._locks.get(key) is lock and not lock.locked():
                    del self._locks[key]


_builds = _Builds()


def _region_of(box: tuple[float, float, float, float]) -> tuple[float, float, float, float]:
    """The area of the engine for a search area: the tile holding its middle grown by the margin, or the
    search area itself (rounded out to 0.01°, so that near sites share it) when that does not hold it."""
    minx, miny, maxx, maxy = box
    x0 = math.floor((minx + maxx) / 2 / TILE_DEG) * TILE_DEG
    y0 = math.floor((miny + maxy) / 2 / TILE_DEG) * TILE_DEG
    region = tuple(round(v, 6) for v in (x0 - TILE_MARGIN_DEG, y0 - TILE_MARGIN_DEG, x0 + TILE_DEG + TILE_MARGIN_DEG,
                                         y0 + TILE_DEG + TILE_MARGIN_DEG))
    if region[0] <= minx and region[1] <= miny and maxx <= region[2] and maxy <= region[3]:
        return region
    return _rounded_out(box)


def _rounded_out(box: tuple[float, float, float, float]) -> tuple[float, float, float, float]:
    """A search area rounded out to 0.01°, so that near sites share its engine."""
    minx, miny, maxx, maxy = box
    return (math.floor(minx * 100) / 100, math.floor(miny * 100) / 100, math.ceil(maxx * 100) / 100,
            math.ceil(maxy * 100) / 100)


def _clipped(geoms: np.ndarray, region: tuple[float, float, float, float]) -> np.ndarray:
    """The parts of ``geoms`` within ``region``: geometries wholly inside are kept as they are (most zones),
    the others cut by the box (a valid overlay, as the engine's measures need valid zones)."""
    bounds = shapely.bounds(geoms) if len(geoms) else np.zeros((0, 4))
    inside = ((bounds[:, 0] >= region[0]) & (bounds[:, 1] >= region[1]) & (bounds[:, 2] <= region[2])
              & (bounds[:, 3] <= region[3]))
    out = geoms.copy()
    cut = np.flatnonzero(~inside)
    if len(cut):
        out[cut] = shapely.intersection(geoms[cut], shapely.box(*region))
    return out


def _versions_key(versions) -> tuple[tuple[str, int], ...]:
    return tuple(sorted((kind, v.version) for kind, v in versions.items()))


# -- relations and measures ----------------------------------------------------------------------------------
def _relate(site, site_type, site_measure, zones, tolerance_m, cut) -> tuple[list, list, list]:
    """Relation, shared part (site ∩ zone) and its measure, for zones that meet the site; see ``Relation``.
    ``cut``: per zone, whether it is a part cut at the engine's region (the site cannot contain all of it).

    The measure is the shared area for polygon sites, the shared length for line sites, 0 for point sites.
    """
    if site_type == "point":
        inside = shapely.contains_properly(zones, site)  # every point in the interior, none on the boundary
    else:
        inside = shapely.contains(zones, site)
    contains = ~inside & ~cut & shapely.contains(site, zones)
    rest = ~(inside | contains)
    shared = np.empty(len(zones), dtype=object)
    shared[inside] = site
    shared[contains] = zones[contains]
    shared[rest] = shapely.intersection(site, zones[rest])

    measure = np.zeros(len(zones))
    overlapping = np.zeros(len(zones), dtype=bool)
    if site_type == "point":
        overlapping[rest] = shapely.relate_pattern(site, zones[rest], "0********")
    else:
        measure[inside] = site_measure
        measure[~inside] = [measure_in_dimension(s, site_type) for s in shared[~inside]]
    if site_type == "line":
        # The length inside the zone: what the line shares with the zone less what runs along its boundary.
        on_edge = shapely.intersection(site, shapely.boundary(zones[rest]))
        overlapping[rest] = measure[rest] - np.array([geodesic_length_m(e) for e in on_edge]) > tolerance_m
    elif site_type == "polygon":
        # Mean width of the shared area, 2 × area / perimeter: w for a strip of width w, half a square's side.
        polygons = [part_of_dimension(s, 2) for s in shared[rest]]
        perimeter = np.array([0.0 if p.is_empty else geodesic_length_m(shapely.boundary(p)) for p in polygons])
        width = np.divide(2 * measure[rest], perimeter, out=np.zeros(len(perimeter)), where=perimeter > 0)
        overlapping[rest] = width > tolerance_m

    relations = [
        Relation.INSIDE if i else Relation.CONTAINS if c else Relation.OVERLAPS if o else Relation.TOUCHES
        for i, c, o in zip(inside, contains, overlapping)
    ]
    return relations, list(shared), [float(m) for m in measure]


def share_of(part_m2: float, whole_m2: float) -> tuple[float, float | None]:
    """The area of a part of a polygon and its % of the polygon (None for a polygon of no area), the part bounded
    by the whole: an overlay adds vertices where outlines cross or run along each other, and geodesic edges
    through more vertices enclose a hair more (up to 0.005 % of a patch), but no part exceeds its whole."""
    part_m2 = min(part_m2, whole_m2)
    return part_m2, (100 * part_m2 / whole_m2 if whole_m2 else None)


def part_of_dimension(geom: shapely.Geometry, dimension: int) -> shapely.Geometry:
    """The part of ``geom`` of one dimension (an intersection may mix polygons, lines and points)."""
    if shapely.get_type_id(geom) != shapely.GeometryType.GEOMETRYCOLLECTION:
        return geom if shapely.get_dimensions(geom) == dimension else shapely.GeometryCollection()
    parts = shapely.get_parts(geom)
    return shapely.union_all(parts[shapely.get_dimensions(parts) == dimension])


def _area_m2(geom: shapely.Geometry) -> float:
    return geodesic_area_m2(part_of_dimension(geom, 2))


def geodesic_length_m(geom: shapely.Geometry) -> float:
    lines = shapely.get_parts(part_of_dimension(geom, 1))
    return float(sum(GEOD.line_length(*shapely.get_coordinates(line).T) for line in lines))


def measure_in_dimension(geom: shapely.Geometry, site_type: str) -> float:
    """Size of a site (or of part of it) in its own dimension: points counted, lines in m, polygons in m²."""
    if site_type == "point":
        if isinstance(geom, (shapely.Point, shapely.MultiPoint)):  # a point site itself
            return 0.0 if geom.is_empty else float(shapely.get_num_geometries(geom))
        points = part_of_dimension(geom, 0)
        return float(shapely.get_num_geometries(points)) if not points.is_empty else 0.0
    return geodesic_length_m(geom) if site_type == "line" else _area_m2(geom)


# -- distances -----------------------------------------------------------------------------------------------
class _Gnomonic:
    """Central projection onto the plane tangent to the sphere at a centre: great circles become straight.

    Longitude/latitude are taken as spherical coordinates, as PostGIS does for geography edges.
    """

    @classmethod
    def around(cls, site: shapely.Geometry) -> _Gnomonic:
        """The plane centred on the middle of the site's envelope."""
        minx, miny, maxx, maxy = site.bounds
        return cls((minx + maxx) / 2, (miny + maxy) / 2)

    def __init__(self, lon0: float, lat0: float) -> None:
        lam, phi = math.radians(lon0), math.radians(lat0)
        cos_lam, sin_lam, cos_phi, sin_phi = math.cos(lam), math.sin(lam), math.cos(phi), math.sin(phi)
        # Rows: the east and north directions of the plane, then the centre, as unit vectors.
        self._basis = np.array([[-sin_lam, cos_lam, 0.0],
                                [-sin_phi * cos_lam, -sin_phi * sin_lam, cos_phi],
                                [cos_phi * cos_lam, cos_phi * sin_lam, sin_phi]])
        self._to_plane = self._basis.T * [_EARTH_RADIUS_M, _EARTH_RADIUS_M, 1.0]

    def forward(self, lonlat: np.ndarray) -> np.ndarray:
        return self.from_unit_vectors(_unit_vectors(lonlat))

    def from_unit_vectors(self, xyz: np.ndarray) -> np.ndarray:
        """``forward`` for points already on the unit sphere (``_unit_vectors``); the depth along the centre
        is positive within 90° of it, which holds for any zone near a site.

        The (n, 2) result is stored column by column, so that ``xy[:, 0]`` and ``xy[:, 1]`` are contiguous:
        arithmetic on whole columns is several times faster than on rows of two."""
        plane = xyz @ self._to_plane
        xy = np.empty((2, len(plane)))
        np.divide(plane[:, 0], plane[:, 2], out=xy[0])
        np.divide(plane[:, 1], plane[:, 2], out=xy[1])
        return xy.T

    def inverse(self, xy: np.ndarray) -> np.ndarray:
        v = (xy / _EARTH_RADIUS_M) @ self._basis[:2] + self._basis[2]
        return np.column_stack((
            np.degrees(np.arctan2(v[:, 1], v[:, 0])),
            np.degrees(np.arctan2(v[:, 2], np.hypot(v[:, 0], v[:, 1]))),
        ))


def geodesic_distances(site: shapely.Geometry, zones: np.ndarray) -> np.ndarray:
    """Geodesic distance in m from the site to each zone, as PostGIS geography ``ST_Distance`` measures it.

    The nearest pair is exact on the sphere for a point site (distance from the gnomonic centre grows
    monotonically with the plane distance); for lines and polygons the plane's distortion, about c² at an
    angular distance c from the centre, moves the chosen pair by a negligible amount within the search
    radius. The pair is then measured on the WGS 84 ellipsoid, as PostGIS does after its spherical search.
    Checked against PostGIS 3.3 within 1 m from 0.5 m to 95 km (tests/test_overlap_postgis.py).
    """
    plane = _Gnomonic.around(site)
    projected = shapely.transform(site, plane.forward)
    pairs = shapely.shortest_line(projected, shapely.transform(zones, plane.forward))
    return _pair_lengths_m(plane, pairs)


def _pair_lengths_m(plane: _Gnomonic, lines: np.ndarray) -> np.ndarray:
    """Geodesic length on WGS 84 of two-point lines given in the plane: the nearest pairs, picked in the
    plane as PostGIS's spherical search picks them, measured on the ellipsoid as PostGIS measures them."""
    if len(lines) == 0:
        return np.zeros(0)
    ends = plane.inverse(shapely.get_coordinates(lines)).reshape(-1, 2, 2)
    _, _, distance = GEOD.inv(ends[:, 0, 0], ends[:, 0, 1], ends[:, 1, 0], ends[:, 1, 1])
    return np.asarray(distance)


def outline_pieces(zones: np.ndarray, size: int = 32) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The outlines of ``zones`` cut into pieces of at most ``size`` vertices (the rings', then the lines', then
    the points'): the pieces' vertices one after the other, each piece's vertex count, and its zone's index.
    Consecutive pieces share their end vertex; a point is a piece of two equal vertices."""
    parts, part_zone = shapely.get_parts(zones, return_index=True)
    types = shapely.get_type_id(parts)
    polygon, point = types == shapely.GeometryType.POLYGON, types == shapely.GeometryType.POINT
    rings, ring_part = shapely.get_rings(parts[polygon], return_index=True)
    lines = np.concatenate([rings, parts[~polygon & ~point]])
    line_zone = np.concatenate([part_zone[polygon][ring_part], part_zone[~polygon & ~point]])
    coords, vertex_line = shapely.get_coordinates(lines, return_index=True)
    line_start = np.searchsorted(vertex_line, np.arange(len(lines)))
    line_count = np.bincount(vertex_line, minlength=len(lines))
    chunks = np.maximum(1, -(-(line_count - 1) // (size - 1)))  # pieces per line
    line_of = np.repeat(np.arange(len(lines)), chunks)
    k = np.arange(len(line_of)) - np.repeat(np.cumsum(chunks) - chunks, chunks)  # piece number in its line
    start = line_start[line_of] + k * (size - 1)
    length = np.minimum(size, line_count[line_of] - k * (size - 1))
    vertex = _ranges(start, length)
    points = np.repeat(shapely.get_coordinates(parts[point]), 2, axis=0)
    coords = np.concatenate([coords[vertex], points])
    length = np.concatenate([length, np.full(int(point.sum()), 2)])
    zone = np.concatenate([line_zone[line_of], part_zone[point]]).astype(np.int64)
    return coords, length, zone


class _Outlines:
    """The zones' outlines (rings, lines, points) cut into pieces of at most ``size`` vertices, indexed.

    A zone apart from a site is nearest to it somewhere on its outline, so a distance needs only the pieces
    near the site (as PostGIS's ST_Subdivide serves indexed queries), not the whole of a zone of tens of
    thousands of vertices. Consecutive pieces share their end vertex, so no edge is lost. Pieces are counted
    from the start of each whole ring, so the pieces near a site are the same whatever ``region`` is: with a
    region, only the pieces whose envelope meets it are kept.
    """

    def __init__(self, zones: np.ndarray, region: tuple[float, float, float, float] | None = None,
                 size: int = 32) -> None:
        self.zones = zones
        lonlat, length, zone = outline_pieces(zones, size)
        if region is not None and len(length):
            offsets = np.cumsum(length) - length
            low, high = np.minimum.reduceat(lonlat, offsets), np.maximum.reduceat(lonlat, offsets)
            keep = ((low[:, 0] <= region[2]) & (high[:, 0] >= region[0]) & (low[:, 1] <= region[3])
                    & (high[:, 1] >= region[1]))
            lonlat, length, zone = lonlat[_ranges(offsets[keep], length[keep])], length[keep], zone[keep]
        self.offsets, self.counts = np.concatenate([[0], np.cumsum(length)]), length
        self.pieces = shapely.linestrings(lonlat, indices=np.repeat(np.arange(len(length)), length))
        self.zone = zone
        self.bulge_m = _edge_bulge_m(lonlat, self.offsets)
        self.xyz = _unit_vectors(lonlat)  # so that projecting a piece needs no trigonometry
        self.bounds = shapely.bounds(self.pieces)
        self.tree = shapely.STRtree(self.pieces)

    def distances(self, site: shapely.Geometry, apart: np.ndarray,
                  reach_m: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(zones, geodesic distances in m) for the zones of ``apart`` with some outline piece in the search
        box of their radius ``reach_m`` (one per zone); every point within a radius lies in its box, so the
        zones without such a piece are beyond it."""
        # in the order of the outlines, whatever the tree: ties between pieces resolve alike in every engine
        pieces = np.sort(self.tree.query(shapely.box(*_search_bounds(site, reach_m.max(initial=0.0)))))
        reach_of_zone = np.full(len(self.zones), np.nan)
        reach_of_zone[apart] = reach_m
        piece_reach = reach_of_zone[self.zone[pieces]]
        wanted = ~np.isnan(piece_reach)
        for radius in sorted(set(reach_m.tolist()))[:-1]:  # zones searched less far: only pieces in their box
            minx, miny, maxx, maxy = _search_bounds(site, radius)
            b = self.bounds[pieces].T
            in_box = (b[0] <= maxx) & (b[2] >= minx) & (b[1] <= maxy) & (b[3] >= miny)
            wanted &= (piece_reach != radius) | in_box
        pieces = pieces[wanted]
        if not len(pieces):
            return np.zeros(0, dtype=np.int64), np.zeros(0)
        piece_zone = self.zone[pieces]
        order = np.argsort(piece_zone, kind="stable")  # each zone's pieces together
        pieces, piece_zone = pieces[order], piece_zone[order]
        starts_zone = np.concatenate(([True], piece_zone[1:] != piece_zone[:-1]))
        first = np.flatnonzero(starts_zone)  # each zone's first piece
        zones, piece_zone = piece_zone[first], np.cumsum(starts_zone) - 1  # piece_zone: index into zones
        bulge = np.maximum.reduceat(self.bulge_m[pieces], first)
        if isinstance(site, shapely.Point):  # most checks: only the pieces that may hold the nearest point
            keep = _may_be_nearest_to_point(self.bounds[pieces], first, piece_zone, site.x, site.y)
            pieces, piece_zone = pieces[keep], piece_zone[keep]
        plane = _Gnomonic.around(site)
        count = self.counts[pieces]
        xy = plane.from_unit_vectors(np.take(self.xyz, _ranges(self.offsets[pieces], count), axis=0))
        # Per zone, the pair nearest in the plane (as for the whole outline), measured on the ellipsoid.
        projected = None  # the site in the plane, when needed
        if isinstance(site, shapely.Point):  # most checks: at the plane's centre
            length, nearest = _nearest_to_centre(xy, count, piece_zone, len(zones))
            lon, lat = plane.inverse(nearest).T
            x, y = np.full(len(zones), site.x), np.full(len(zones), site.y)
            distance = np.asarray(GEOD.inv(x, y, lon, lat)[2])
        else:
            projected = shapely.transform(site, plane.forward)
            start = np.cumsum(count) - count
            keep = _may_hold_nearest(xy, start, piece_zone, projected)
            piece_zone, count = piece_zone[keep], count[keep]
            lines = shapely.linestrings(xy[_ranges(start[keep], count)],
                                        indices=np.repeat(np.arange(len(count)), count))
            pairs = shapely.shortest_line(projected, lines)
            length = shapely.length(pairs)
            order = np.lexsort((length, piece_zone))
            nearest_piece = order[np.searchsorted(piece_zone[order], np.arange(len(zones)))]  # per zone
            length, distance = length[nearest_piece], _pair_lengths_m(plane, pairs[nearest_piece])
        # A site can be apart from a zone's straight edges yet within its great-circle edges, where PostGIS
        # geography measures 0; only within an edge's bulge of the outline, so only then is the zone tested.
        within_bulge = np.flatnonzero(length <= bulge)
        if len(within_bulge):
            projected = shapely.transform(site, plane.forward) if projected is None else projected
            for i in within_bulge:
                if shapely.intersects(projected, shapely.transform(self.zones[zones[i]], plane.forward)):
                    distance[i] = 0.0
        return zones, distance


def _nearest_to_centre(xy: np.ndarray, count: np.ndarray, piece_zone: np.ndarray,
                       zones: int) -> tuple[np.ndarray, np.ndarray]:
    """For a point site at the plane's origin: per zone, the plane distance to its outline and the nearest
    point (x, y). Pieces are runs of ``count[i]`` vertices of ``xy`` of zone ``piece_zone[i]`` (sorted); every
    edge is tested at once, as shapely would test them one geometry at a time."""
    x, y = xy[:, 0], xy[:, 1]  # whole columns: einsum and row sums over (n, 2) blocks are slower
    ax, ay, dx, dy = x[:-1], y[:-1], np.diff(x), np.diff(y)  # consecutive vertices; pairs across pieces masked
    squared = dx * dx + dy * dy
    t = -(ax * dx + ay * dy) / np.where(squared > 0, squared, 1.0)
    np.clip(t, 0.0, 1.0, out=t)
    nx, ny = ax + t * dx, ay + t * dy
    r2 = nx * nx + ny * ny
    r2[np.cumsum(count)[:-1] - 1] = np.inf
    zone = np.repeat(piece_zone, count)[:-1]
    best = np.minimum.reduceat(r2, np.searchsorted(zone, np.arange(zones)))
    at = np.flatnonzero(r2 == best[zone])
    at = at[np.searchsorted(zone[at], np.arange(zones))]
    return np.sqrt(best), np.column_stack((nx[at], ny[at]))


def _may_be_nearest_to_point(bounds: np.ndarray, first: np.ndarray, piece_zone: np.ndarray, x: float,
                             y: float) -> np.ndarray:
    """Which pieces (envelopes ``bounds`` in lon/lat, sorted by zone, each zone's first at ``first``) may hold
    their zone's nearest point to the point (x, y): those whose envelope is no farther than the zone's
    envelopes' farthest corners are at the least (the distance to a vertex of that piece, hence to the zone,
    is no greater).

    Distances are taken on a plane of degrees of latitude, longitudes shrunk at the point's latitude: within a
    search radius it differs from the plane the nearest point is chosen in by well under the 1 % (and 1 m)
    margin given here, so a piece that may hold it is always kept, and every zone keeps one."""
    shrink = math.cos(math.radians(y))
    minx, miny, maxx, maxy = bounds.T
    low = np.hypot(np.maximum(0.0, np.maximum(minx - x, x - maxx)) * shrink,
                   np.maximum(0.0, np.maximum(miny - y, y - maxy)))
    high = np.hypot(np.maximum(np.abs(minx - x), np.abs(maxx - x)) * shrink,
                    np.maximum(np.abs(miny - y), np.abs(maxy - y)))
    bound = np.minimum.reduceat(high, first)
    return low * 0.99 <= bound[piece_zone] * 1.01 + 1e-5  # 1e-5° of latitude is about 1 m


def _may_hold_nearest(xy: np.ndarray, start: np.ndarray, piece_zone: np.ndarray,
                      site: shapely.Geometry) -> np.ndarray:
    """Which pieces (vertices ``xy[start[i]:start[i + 1]]`` in the plane, of zone ``piece_zone[i]``) may hold
    their zone's nearest point to the site: those whose envelope is no farther from the site's envelope than
    some vertex of the zone is from a vertex of the site. The others cannot, so they need no exact test."""
    low, high = np.minimum.reduceat(xy, start), np.maximum.reduceat(xy, start)
    minx, miny, maxx, maxy = site.bounds
    gap = np.hypot(np.maximum(0.0, np.maximum(low[:, 0] - maxx, minx - high[:, 0])),
                   np.maximum(0.0, np.maximum(low[:, 1] - maxy, miny - high[:, 1])))
    x, y = shapely.get_coordinates(site)[0]
    bound = np.full(piece_zone.max(initial=-1) + 1, np.inf)
    np.minimum.at(bound, piece_zone, np.hypot(xy[start, 0] - x, xy[start, 1] - y))
    return gap <= bound[piece_zone]


def _ranges(start: np.ndarray, count: np.ndarray) -> np.ndarray:
    """``start[0] .. start[0] + count[0] - 1``, then the next range, and so on, as one index array."""
    return np.repeat(start - np.cumsum(count) + count, count) + np.arange(count.sum())


def _edge_bulge_m(lonlat: np.ndarray, offsets: np.ndarray) -> np.ndarray:
    """Per piece (vertices ``offsets[i]:offsets[i + 1]``), a bound (twice the estimate, plus 1 m) on how far
    the great circle through any of its edges strays from the straight lon/lat edge: L² tan φ / (8 R) for an
    edge of length L at latitude φ."""
    if len(lonlat) < 2:
        return np.ones(len(offsets) - 1)
    # Every pair of consecutive vertices as an edge (whole columns, no copies of the pairs); those that join
    # two pieces count 0, so that each piece's maximum is that of the run of edges from its first vertex.
    lon, lat = np.ascontiguousarray(lonlat[:, 0]), np.ascontiguousarray(lonlat[:, 1])
    phi = np.radians(np.maximum(np.abs(lat[:-1]), np.abs(lat[1:])))
    dx, dy = np.diff(lon) * np.cos(phi), np.diff(lat)
    squared_m = (dx * dx + dy * dy) * (math.radians(1.0) * _EARTH_RADIUS_M) ** 2
    edge_bulge = squared_m * np.tan(np.minimum(phi, 1.5)) / (8 * _EARTH_RADIUS_M)
    edge_bulge[offsets[1:-1] - 1] = 0.0
    return 2 * np.maximum.reduceat(edge_bulge, np.minimum(offsets[:-1], len(edge_bulge) - 1)) + 1.0


def _unit_vectors(lonlat: np.ndarray) -> np.ndarray:
    """Longitude/latitude as points on the unit sphere (x towards 0°E, z towards the north pole)."""
    lam, phi = np.radians(lonlat[:, 0]), np.radians(lonlat[:, 1])
    return np.column_stack((np.cos(phi) * np.cos(lam), np.cos(phi) * np.sin(lam), np.sin(phi)))


def _covered_measure(site: shapely.Geometry, site_type: str, coverage: shapely.Geometry) -> float:
    """The measure of the part of the site inside a (prepared) layer coverage.

    Coverages are whole regions with tens of thousands of vertices: points are tested against the prepared
    polygon, and lines and polygons meet only the coverage's part in a box around the site.
    """
    if site_type == "point":
        return float(shapely.covers(coverage, shapely.get_parts(site)).sum())
    if not shapely.intersects(coverage, site):  # wholly outside, as most sites a layer does not cover are
        return 0.0
    local = _clip_one(coverage, shapely.box(*_search_bounds(site, 1.0)))
    try:
        shared = shapely.intersection(site, local)
    except shapely.errors.GEOSException:  # a clipped ring GEOS cannot overlay: take the whole coverage
        shared = shapely.intersection(site, coverage)
    return measure_in_dimension(shared, site_type)


def _clip_one(zone: shapely.Geometry, box: shapely.Geometry) -> shapely.Geometry:
    try:
        return shapely.clip_by_rect(zone, *box.bounds)
    except shapely.errors.GEOSException:
        return shapely.intersection(zone, box)


def _search_bounds(site: shapely.Geometry, search_m: float) -> tuple[float, float, float, float]:
    """The site's envelope grown by at least the search radius in every direction, in degrees."""
    return _grown(site.bounds, search_m)


def _grown(bounds: tuple[float, float, float, float], search_m: float) -> tuple[float, float, float, float]:
    """An envelope grown by at least ``search_m`` metres in every direction, in degrees."""
    minx, miny, maxx, maxy = bounds
    # The margin covers great-circle edges bulging out of their zone's planar envelope (≈200 m for 100 km).
    pad = search_m * 1.01 + 500.0
    dlat = pad / 110_000.0  # a degree of latitude is at least 110 574 m on WGS 84
    poleward = min(89.0, max(abs(miny - dlat), abs(maxy + dlat)))
    dlon = pad / (111_000.0 * math.cos(math.radians(poleward)))  # a degree of longitude ≥ 111 319 m × cos φ
    return minx - dlon, miny - dlat, maxx + dlon, maxy + dlat


# -- input checks --------------------------------------------------------------------------------------------
def _checked_site(site) -> tuple[shapely.Geometry, str]:
    """The site in 2D with its type (point / line / polygon), or an error saying what to fix."""
    if not isinstance(site, shapely.Geometry):
        raise GeometryError(
            "项目地块不是几何对象 / the site is not a geometry", field="geometry", value=type(site).__name__,
            fix="传入经纬度（EPSG:4326）的 shapely 几何，如用 gis.sites.read_site 读取的地块取 "
            "shapely.geometry.shape(site.geometry) / pass a shapely geometry in lon/lat (EPSG:4326), e.g. "
            "shapely.geometry.shape(site.geometry) for a site read with gis.sites.read_site",
        )
    site_type = _SITE_TYPES.get(site.geom_type)
    if site_type is None:
        raise GeometryError(
            f"项目地块应为点、线或面（或其中一种的多部件），不能是 {site.geom_type} / a site must be a point, line "
            f"or polygon (or a multi- of one of them), not a {site.geom_type}",
            field="geometry", value=site.geom_type,
            fix="把各部分分开核查，或只保留同一类型的部分 / check its parts separately, or keep only the parts of one "
                "type",
        )
    if site.is_empty:
        raise GeometryError(
            "项目地块的几何为空 / the site geometry is empty", field="geometry",
            fix="至少给出一个坐标 / give at least one coordinate"
        )
    site = shapely.force_2d(site)
    xy = shapely.get_coordinates(site)
    if not np.isfinite(xy).all():
        raise CoordinateError(
            "项目地块有坐标不是有限数值（NaN 或无穷大） / the site has a coordinate that is not a finite number "
            "(NaN or infinity)", field="geometry",
            value=tuple(xy[~np.isfinite(xy).all(axis=1)][0]), fix="删除或改正该顶点 / remove or correct that vertex",
        )
    outside = (np.abs(xy[:, 0]) > 180) | (np.abs(xy[:, 1]) > 90)
    if outside.any():
        raise CoordinateError(
            "项目地块的坐标不是以度为单位的经纬度（看似投影坐标，单位为米） / the site's coordinates are not "
            "longitude/latitude in degrees (they look like projected metres)",
            field="geometry", value=tuple(xy[outside][0]),
            fix="用 gis.sites.read_site 读取地块（可转换高斯-克吕格/CGCS2000 坐标），或先转换到 EPSG:4326 / read the "
            "site with gis.sites.read_site, which converts Gauss-Krüger/CGCS2000 coordinates, or transform it to "
            "EPSG:4326 first",
        )
    if not site.is_valid:
        raise GeometryError(
            f"项目地块的几何无效 / the site geometry is invalid ({shapely.is_valid_reason(site)})", field="geometry",
            fix="用 shapely.make_valid 修复，或用 gis.sites.read_site 读取（会修复并说明） / repair it with "
            "shapely.make_valid, or read it with gis.sites.read_site, which repairs and reports",
        )
    return site, site_type


def _checked_options(buffers_km, search_km, tolerance_m) -> tuple[list[float], float, float]:
    """Buffer rings (m, ascending), search radius (m) and tolerance (m), validated."""
    try:
        rings = sorted({float(b) for b in buffers_km})
    except (TypeError, ValueError):
        raise InputError(
            "缓冲距离应为公里数 / buffer rings must be numbers of km", field="buffers_km", value=buffers_km,
            fix="如 1,5,10 / e.g. 1,5,10"
        ) from None
    if not rings or not all(math.isfinite(b) and 0 < b <= MAX_SEARCH_KM for b in rings):
        raise InputError(
            f"缓冲距离应大于 0、不超过 {MAX_SEARCH_KM:g} 公里 / buffer rings must be between 0 and {MAX_SEARCH_KM:g} km",
            field="buffers_km", value=buffers_km, fix="如 1,5,10 / e.g. 1,5,10",
        )
    search = rings[-1] if search_km is None else search_km
    if not (isinstance(search, (int, float)) and math.isfinite(search) and 0 < search <= MAX_SEARCH_KM):
        raise InputError(
            f"搜索半径应大于 0、不超过 {MAX_SEARCH_KM:g} 公里 / the search radius must be more than 0 and at most "
            f"{MAX_SEARCH_KM:g} km", field="search_km", value=search_km, fix="如 10 / e.g. 10",
        )
    if not (isinstance(tolerance_m, (int, float)) and math.isfinite(tolerance_m) and tolerance_m >= 0):
        raise InputError(
            "边界接触容差应为不小于 0 的米数 / the contact tolerance must be a number of metres, 0 or more",
            field="tolerance_m", value=tolerance_m, fix="如 0.5 / e.g. 0.5",
        )
    return [b * 1000 for b in rings], float(search) * 1000, float(tolerance_m)


def _checked_reach(reach_km: Mapping[str, float] | None, search_m: float) -> dict[str, float]:
    """The search radius of every kind, m: ``search_m``, or farther where ``reach_km`` says so."""
    reach = dict.fromkeys(KINDS, search_m)
    for kind, km in (reach_km or {}).items():
        if not (isinstance(km, (int, float)) and math.isfinite(km) and 0 < km <= MAX_SEARCH_KM):
            raise InputError(
                f"搜索半径应大于 0、不超过 {MAX_SEARCH_KM:g} 公里 / a search radius must be more than 0 and at most "
                f"{MAX_SEARCH_KM:g} km", field="reach_km",
                value={kind: km}, fix="如 {'chp_plant': 15} / e.g. {'chp_plant': 15}",
            )
        reach[get_kind(kind).name] = max(search_m, km * 1000)
    return reach
