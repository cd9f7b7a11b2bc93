"""Mapbox Vector Tiles of the zone layers, made on demand from the layers in force.

A tile (Web Mercator, XYZ numbering, 256 pixels of 16 units each) holds one MVT layer per zone kind, named
after the kind. Its zones are read through the store's spatial index for the tile's box plus a buffer of
10 pixels (outlines and point markers at a tile's edge are then drawn whole), clipped to that box,
simplified by half a screen pixel (``tolerance``) and snapped to the tile's integer grid. Each zone carries
``zone_id``, ``name``, ``subtype``, ``geometry_source``, a park's ``status`` on the date, and ``style``, the
position of its look in ``maps.style.style_table`` of its kind. Popups are not in tiles: a low-zoom tile of a
large layer holds thousands of zones and a popup is about a kilobyte, so the page asks for one on a click.

Tiles of a layer version are kept in a ``BoundedCache`` weighed in bytes. A saved page embeds the tiles of an
extent up to a zoom within a size bound (``embed``) and says what it left out.
"""

from __future__ import annotations

import base64
import math
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import mapbox_vector_tile
import numpy as np
import shapely
from pyproj import Transformer

from gis.cache import BoundedCache
from maps.assets import script_json
from maps.layers import Bounds, MapLayers
from maps.popups import zone_popup
from maps.style import park_status, style_index

__all__ = ["BUFFER", "EXTENT", "MAX_ZOOM", "MEDIA_TYPE", "TILES", "Embedded", "TileCache", "embed", "make_tile",
           "tile_bounds", "tile_lonlat_bounds", "tiles_covering", "tolerance"]

#: Units across a tile (the MVT default); a 256-pixel tile has 16 units per pixel.
EXTENT = 4096
TILE_PIXELS = 256
#: Units drawn beyond each edge: 10 pixels, more than the widest outline and the largest point marker.
BUFFER = 160
#: Deepest zoom served: a tile there is about 40 m across.
MAX_ZOOM = 20
MEDIA_TYPE = "application/vnd.mapbox-vector-tile"
#: Half the width of the Web Mercator world, metres (EPSG:3857).
HALF_WORLD = 20037508.342789244
#: Simplification tolerance, tile units: half a screen pixel.
_HALF_PIXEL = EXTENT / TILE_PIXELS / 2
_MAX_LAT = 85.05112878

_TO_MERCATOR = Transformer.from_crs("EPSG:4326", "EPSG:3857", always_xy=True)
_TO_LONLAT = Transformer.from_crs("EPSG:3857", "EPSG:4326", always_xy=True)

TileCache = BoundedCache[bytes]
#: Tiles of each kind by (store, kind, version, date, z, x, y), bounded in bytes (the server sets the bound).
TILES: TileCache = BoundedCache(64_000_000, weigh=lambda data: len(data) + 200)


def _check(z: int, x: int, y: int) -> None:
    if not 0 <= z <= MAX_ZOOM:
        raise ValueError(f"zoom {z} is outside 0–{MAX_ZOOM}")
    if not (0 <= x < 2**z and 0 <= y < 2**z):
        raise ValueError(f"tile {x}/{y} does not exist at zoom {z} (0–{2**z - 1})")


def tile_bounds(z: int, x: int, y: int) -> Bounds:
    """The tile's box in Web Mercator metres (EPSG:3857): minx, miny, maxx, maxy."""
    size = 2 * HALF_WORLD / 2**z
    west, north = -HALF_WORLD + x * size, HALF_WORLD - y * size
    return (west, north - size, west + size, north)


def tile_lonlat_bounds(z: int, x: int, y: int, buffer: float = 0) -> Bounds:
    """The tile's box in lon/lat degrees, grown by ``buffer`` tile units on each side."""
    minx, miny, maxx, maxy = tile_bounds(z, x, y)
    grow = buffer * (maxx - minx) / EXTENT
    # no further than the world's edge: past it the longitude wraps, and the box of a tile at the edge (every tile
    # of zooms 0 and 1) would run from east to west, meeting nothing
    lon0, lat0 = _TO_LONLAT.transform(max(minx - grow, -HALF_WORLD), max(miny - grow, -HALF_WORLD))
    lon1, lat1 = _TO_LONLAT.transform(min(maxx + grow, HALF_WORLD), min(maxy + grow, HALF_WORLD))
    return (lon0, lat0, lon1, lat1)


def tolerance(z: int) -> float:
    """How far, in Web Mercator metres, a tile's geometry may stray from the store's: half a pixel by
    simplification, plus half the diagonal of a tile unit by snapping to the grid."""
    unit = 2 * HALF_WORLD / 2**z / EXTENT
    return unit * (_HALF_PIXEL + math.sqrt(0.5))


def tiles_covering(bounds: Bounds, z: int) -> Iterator[tuple[int, int]]:
    """(x, y) of every tile of zoom ``z`` meeting the lon/lat ``bounds``."""
    lon0, lat0, lon1, lat1 = bounds
    mx0, my0 = _TO_MERCATOR.transform(max(lon0, -180.0), max(lat0, -_MAX_LAT))
    mx1, my1 = _TO_MERCATOR.transform(min(lon1, 180.0), min(lat1, _MAX_LAT))
    n = 2**z

    def index(metres: float) -> int:
        return min(max(int((metres + HALF_WORLD) / (2 * HALF_WORLD) * n), 0), n - 1)

    for x in range(index(mx0), index(mx1) + 1):
        for y in range(n - 1 - index(my1), n - 1 - index(my0) + 1):
            yield x, y


def _properties(kind: str, row: dict[str, Any], as_of) -> dict[str, Any]:
    status = park_status(row, as_of) if kind == "industrial_park" else None
    properties = {"zone_id": row["zone_id"], "name": row["name"], "subtype": row["subtype"],
                  "geometry_source": row["geometry_source"], "status": status,
                  "style": style_index(kind, row["subtype"], row["geometry_source"], status)}
    return {key: value for key, value in properties.items() if value is not None}


def _simplified(geoms: np.ndarray, tolerance: float) -> np.ndarray:
    """Polygons as a tile draws them: each ring simplified by ``tolerance`` (Douglas-Peucker, as a line from its
    first vertex back to it), snapped to the integer grid and turned so that a shell has a positive area by the
    surveyor's formula and a hole a negative one (the MVT rule; y grows downwards in a tile). A ring left with no
    area goes, with its polygon if it was the shell; a polygon left with nothing is drawn as a one-pixel square at
    its middle, so that a small zone (a contaminated site at a low zoom) stays on the map. Other geometries are
    only snapped.

    Rings are simplified as lines because GEOS (3.12 on) may also drop a ring's first vertex without checking the
    vertices dropped before against the new segment: an error of well over the tolerance. Rings are turned by
    their area, not by GEOS's orientation test, which a simplified ring crossing itself can fool."""
    out = shapely.transform(np.array(geoms, dtype=object), np.round)
    polygonal = np.flatnonzero(np.isin(shapely.get_type_id(out), (3, 6)))  # Polygon, MultiPolygon
    if not len(polygonal):
        return out
    parts, owner = shapely.get_parts(np.asarray(geoms, dtype=object)[polygonal], return_index=True)
    rings, part_of = shapely.get_rings(parts, return_index=True)
    coords, ring_of = shapely.get_coordinates(rings, return_index=True)
    lines = shapely.simplify(shapely.linestrings(coords, indices=ring_of), tolerance, preserve_topology=False)
    coords, ring_of = shapely.get_coordinates(lines, return_index=True)
    coords = np.round(coords)
    counts = np.bincount(ring_of, minlength=len(rings))
    same = ring_of[:-1] == ring_of[1:]
    cross = coords[:-1, 0] * coords[1:, 1] - coords[1:, 0] * coords[:-1, 1]
    area = np.bincount(ring_of[:-1][same], weights=cross[same], minlength=len(rings)) / 2
    ring_kept = (counts >= 4) & (area != 0)
    shell = np.r_[True, part_of[1:] != part_of[:-1]]
    # Turn the rings whose area has the wrong sign: reverse their coordinates in place.
    start = np.r_[0, np.cumsum(counts)[:-1]]
    turn = (shell & (area < 0)) | (~shell & (area > 0))
    position = np.arange(len(coords))
    flipped = turn[ring_of]
    position[flipped] = (2 * start[ring_of] + counts[ring_of] - 1 - position)[flipped]
    coords = coords[position]
    part_kept = np.zeros(len(parts), dtype=bool)
    part_kept[part_of[shell & ring_kept]] = True
    ring_kept &= part_kept[part_of]
    out[polygonal] = _pixel_squares(np.asarray(geoms, dtype=object)[polygonal])
    if not ring_kept.any():
        return out
    kept = ring_kept[ring_of]
    # Creating geometries by indices needs every index present: number the kept rings, parts and shapes anew.
    new_rings = shapely.linearrings(coords[kept], indices=(np.cumsum(ring_kept) - 1)[ring_of[kept]])
    polygons = shapely.polygons(new_rings, indices=(np.cumsum(part_kept) - 1)[part_of[ring_kept]])
    shaped = np.zeros(len(polygonal), dtype=bool)
    shaped[owner[part_kept]] = True
    out[polygonal[shaped]] = shapely.multipolygons(polygons, indices=(np.cumsum(shaped) - 1)[owner[part_kept]])
    return out


def _pixel_squares(geoms: np.ndarray) -> np.ndarray:
    """A one-pixel square (snapped, a shell's turn) around the middle of each non-empty polygon."""
    out = np.full(len(geoms), shapely.GeometryCollection(), dtype=object)
    present = ~shapely.is_empty(geoms)
    middle = np.round(shapely.get_coordinates(shapely.point_on_surface(geoms[present])))
    out[present] = shapely.box(middle[:, 0] - _HALF_PIXEL, middle[:, 1] - _HALF_PIXEL, middle[:, 0] + _HALF_PIXEL,
                               middle[:, 1] + _HALF_PIXEL, ccw=True)
    return out


def _clipped(geometries: np.ndarray, bounds: Bounds) -> np.ndarray:
    """The geometries cut to a box: GEOS's fast rectangle clip, or, where it fails (it can build a ring of three
    points), the exact intersection."""
    try:
        return shapely.clip_by_rect(geometries, *bounds)
    except shapely.errors.GEOSException:
        box = shapely.box(*bounds)
        out = np.empty(len(geometries), dtype=object)
        for i, geometry in enumerate(geometries):
            try:
                out[i] = shapely.clip_by_rect(geometry, *bounds)
            except shapely.errors.GEOSException:
                out[i] = shapely.intersection(geometry, box)
        return out


def _tile_geometries(geometries: np.ndarray, z: int, x: int, y: int) -> np.ndarray:
    """lon/lat geometries as drawn in tile z/x/y: in tile units (y down), clipped to the tile and its buffer,
    simplified by half a pixel, snapped to the integer grid; empty where nothing of one is left."""
    minx, _, maxx, maxy = tile_bounds(z, x, y)
    scale = EXTENT / (maxx - minx)

    def to_tile(lonlat: np.ndarray) -> np.ndarray:
        mx, my = _TO_MERCATOR.transform(lonlat[:, 0], lonlat[:, 1])
        return np.column_stack(((mx - minx) * scale, (maxy - my) * scale))  # y grows downwards in a tile

    # Cut in lon/lat, where the store's geometry is valid (a valid outline with a narrow neck may not be once
    # projected, and GEOS then cuts out the complement): meridians and parallels are straight in Web Mercator, so
    # the box is the tile's and its buffer's there too.
    geoms = _clipped(geometries, tile_lonlat_bounds(z, x, y, BUFFER))
    geoms = shapely.transform(geoms, to_tile)
    return _simplified(geoms, _HALF_PIXEL)


def _kind_tiles(layers: MapLayers, kinds: list[str], z: int, x: int, y: int) -> tuple[dict[str, bytes],
                                                                                       list[dict[str, Any]]]:
    """Each kind's tile at z/x/y (empty bytes where nothing is drawn), and the zones read for them."""
    zones = layers.zones(kinds, tile_lonlat_bounds(z, x, y, BUFFER))
    geoms = _tile_geometries(np.asarray(zones.geometry.values, dtype=object), z, x, y)
    columns = [name for name in zones.columns if name != zones.geometry.name]
    rows = [dict(zip(columns, values)) for values in zip(*(zones[name].tolist() for name in columns))]
    features: dict[str, list[dict[str, Any]]] = {}
    for row, geom in zip(rows, geoms):
        if not geom.is_empty:
            features.setdefault(row["kind"], []).append(
                {"geometry": geom, "properties": _properties(row["kind"], row, layers.as_of)})
    tiles = {kind: mapbox_vector_tile.encode({"name": kind, "features": features[kind]}, default_options={
        "extents": EXTENT, "y_coord_down": True, "check_winding_order": False}) if kind in features else b""
        for kind in kinds}
    return tiles, rows


def make_tile(layers: MapLayers, kinds: list[str], z: int, x: int, y: int,
              cache: TileCache | None = None) -> bytes:
    """The vector tile z/x/y of ``kinds`` (one MVT layer each, in the order given); ValueError for a tile that
    does not exist. Each kind's part is kept in ``cache`` under its layer version and date."""
    _check(z, x, y)
    parts: dict[str, bytes] = {}
    for kind in kinds:
        key = layers.tile_key(kind)
        found = cache.get((*key, z, x, y)) if cache is not None and key is not None else None
        if found is not None:
            parts[kind] = found
    missing = [kind for kind in kinds if kind not in parts]
    if missing:
        made, _ = _kind_tiles(layers, missing, z, x, y)
        for kind, data in made.items():
            key = layers.tile_key(kind)
            if cache is not None and key is not None:
                cache.put((*key, z, x, y), data)
        parts.update(made)
    # Encoded tiles concatenate into one: a tile is a message of repeated layers.
    return b"".join(parts[kind] for kind in kinds)


@dataclass
class Embedded:
    """Tiles and popups put into a saved page, and what was left out to keep it within its size bound."""

    tiles: dict[str, str] = field(default_factory=dict)  # "z/x/y" -> base64 MVT
    popups: dict[str, dict[str, str]] = field(default_factory=dict)  # kind -> zone_id -> HTML
    zooms: tuple[int, int] | None = None  # embedded zooms, first and last
    size: int = 0  # bytes of tiles and popups in the page
    left_out: list[str] = field(default_factory=list)  # sentences for the page and the command line, Chinese first


#: Shallowest zoom embedded: all of Xinjiang in one tile.
MIN_EMBED_ZOOM = 2
#: Most tiles one saved page may be made of, whatever its size bound (work bounded before it starts).
MAX_EMBED_TILES = 20_000


def _around(focus: Bounds, z: int) -> list[tuple[int, int]]:
    """Tiles of zoom ``z`` over ``focus`` and the 4 × 4 tiles (1,024 pixels) around its centre: a view opened
    on it is drawn from tiles of its zoom in the middle and, further out, from shallower ones magnified."""
    centre = ((focus[0] + focus[2]) / 2, (focus[1] + focus[3]) / 2)
    [(cx, cy)] = tiles_covering((*centre, *centre), z)
    n = 2**z
    window = {(x, y) for x in range(cx - 2, cx + 2) for y in range(cy - 2, cy + 2) if 0 <= x < n and 0 <= y < n}
    return sorted(window | set(tiles_covering(focus, z)))


def _entry_bytes(key: str, value: str) -> int:
    """Bytes of ``"key":"value",`` as the page's script carries it (``maps.assets.script_json``)."""
    return len(script_json(key).encode()) + len(script_json(value).encode()) + 2


def _zoom_tiles(layers: MapLayers, kinds: list[str], z: int, keys: list[tuple[int, int]],
                room: int) -> tuple[dict[str, str], list[dict[str, Any]], int, float | None]:
    """The tiles ``keys`` of zoom ``z`` (base64, by "z/x/y"; empty ones left out), the zones in them and their
    bytes, made until they no longer fit ``room`` bytes: then the last value is about what all would need."""
    level: dict[str, str] = {}
    rows: list[dict[str, Any]] = []
    size = 0
    for done, (x, y) in enumerate(keys, 1):
        made, zones = _kind_tiles(layers, kinds, z, x, y)
        data = b"".join(made[kind] for kind in kinds)
        if data:
            key = f"{z}/{x}/{y}"
            level[key] = base64.b64encode(data).decode()
            size += _entry_bytes(key, level[key])
            rows.extend(zones)
        if size > room:  # stop at once: the rest of the zoom would not fit either
            return level, rows, size, size * len(keys) / done
    return level, rows, size, None


def _too_large(z: int, have: float, needed: float, cap: float, magnified: bool) -> str:
    """Why zoom ``z`` was left out: the file so far and the zoom together (MB) exceed the bound, not the zoom alone."""
    total = have + needed
    zh, en = (f"更近的视图放大显示第 {z - 1} 级图块", f"closer views magnify the zoom {z - 1} tiles") if magnified \
        else ("地图上不显示区域", "the map shows no zones")
    return (f"第 {z} 级及更细的图块未嵌入：文件已有 {have:.1f} MB，加上该级约 {needed:.1f} MB 共约 {total:.1f} MB，"
            f"超过上限 {cap:g} MB；{zh} / zoom {z} and deeper not embedded: the file has {have:.1f} MB, with about "
            f"{needed:.1f} MB for zoom {z} it would be about {total:.1f} MB, over the {cap:g} MB bound; {en}")


def embed(layers: MapLayers, *, max_zoom: int, max_bytes: int, bounds: Bounds | None = None,
          focus: Bounds | None = None, focus_zoom: int | None = None, page_bytes: int = 0) -> Embedded:
    """The tiles of ``bounds`` (default: every zone) from zoom 2 to ``max_zoom``, then those of ``focus`` up
    to ``focus_zoom``, zoom by zoom while they and the ``page_bytes`` of the page around them fit ``max_bytes``;
    then the popups of the zones drawn, while they fit. Deeper zooms are drawn from the deepest embedded tile,
    magnified."""
    kinds = layers.kinds
    result = Embedded()
    extent = bounds or layers.bounds
    if not kinds or extent is None:
        return result
    plan = [(z, list(tiles_covering(extent, z))) for z in range(MIN_EMBED_ZOOM, max_zoom + 1)]
    if focus is not None and focus_zoom is not None:
        plan += [(z, _around(focus, z)) for z in range(max_zoom + 1, focus_zoom + 1)]
    rows: dict[str, dict[str, dict]] = {kind: {} for kind in kinds}
    deepest: dict[tuple[str, str], int] = {}  # (kind, zone id) -> the deepest zoom it is drawn at
    for z, wanted in plan:
        keys = [(x, y) for x, y in wanted if f"{z}/{x}/{y}" not in result.tiles]
        if len(result.tiles) + len(keys) > MAX_EMBED_TILES:
            result.left_out.append(f"第 {z} 级及更细的图块未嵌入（需 {len(keys)} 个图块，超过 {MAX_EMBED_TILES} 个） / zoom {z} "
                                   f"and deeper not embedded ({len(keys)} tiles needed, over {MAX_EMBED_TILES})")
            break
        level, level_rows, size, needed = _zoom_tiles(layers, kinds, z, keys, max_bytes - page_bytes - result.size)
        if needed is not None:
            result.left_out.append(_too_large(z, (page_bytes + result.size) / 1e6, needed / 1e6, max_bytes / 1e6,
                                              bool(result.zooms)))
            break
        result.tiles.update(level)
        result.size += size
        result.zooms = (result.zooms[0] if result.zooms else z, z)
        for row in level_rows:
            rows[row["kind"]].setdefault(row["zone_id"], row)
            deepest[(row["kind"], row["zone_id"])] = z
    omitted = 0
    result.popups = {kind: {} for kind in kinds}
    # the zones of the deepest tiles first: those in the extent asked for, not those of the province-wide tiles
    # of the first zooms, get their popups while the bytes last
    for kind, zone_id in sorted(deepest, key=lambda key: -deepest[key]):
        row = rows[kind][zone_id]
        html = zone_popup(row, park_status(row, layers.as_of) if kind == "industrial_park" else None)
        cost = _entry_bytes(zone_id, html)
        if page_bytes + result.size + cost > max_bytes:
            omitted += 1
            continue
        result.popups[kind][zone_id] = html
        result.size += cost
    if omitted:
        result.left_out.append(f"{omitted} 个区域的详细属性未嵌入（超过文件大小上限）：其弹窗只显示名称和编号 / the details of "
                               f"{omitted} zones not embedded (over the file size bound): their popups show name and id")
    return result
