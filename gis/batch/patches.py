"""Remote-sensing patches (人类活动遥感监测图斑): how much of each patch lies in each protected zone, and where.

For every patch (a polygon of a GIS file, read like any batch input: the file's CRS, Gauss-Krüger reprojected)
the pieces it shares with the zones of the protected kinds (red lines, reserve functional zones, natural
parks, drinking-water zones) are cut out, each with its geodesic area (m², WGS 84 ellipsoid, as PostGIS
geography measures it) and its share of the patch; the patch gets its totals inside red lines and inside
reserves, and the county and the prefecture or 兵团 division it lies in (the one it shares most area with).

Outputs by suffix: a GeoPackage with two layers, 图斑 (each patch with its totals) and 图斑区域相交 (the pieces,
with their polygons), and a 移交清单 workbook: one row per patch per zone met, grouped by division and county,
for handing each case to the office that answers for it.
"""

from __future__ import annotations

import datetime as dt
import math
import os
import re
from collections.abc import Callable, Collection, Sequence
from dataclasses import dataclass, field
from os import PathLike
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import shapely

from gis.batch.inputs import open_input
from gis.batch.outputs import OWN_LAYERS, checked_output, starts_formula
from gis.batch.spatial import PROTECTED_KINDS
from gis.check import covered_area
from gis.crs import geodesic_area_m2
from gis.kinds import KINDS
from gis.overlap import part_of_dimension, share_of
from gis.sites.gpkg import feature_tables
from gis.store import Store, open_store
from gis.store.base import iso_day
from gis.zones import written_day

__all__ = ["PATCH_OUTPUTS", "PatchSummary", "screen_patches"]

PATCH_OUTPUTS = (".gpkg", ".xlsx")

#: Subtypes of the administrative layer that answer for a patch: the county, then above it.
_COUNTY = ("county",)
_DIVISION = ("bingtuan_city", "prefecture")


@dataclass
class PatchSummary:
    """What a patch screening did."""

    patches: int
    patches_failed: int
    pieces: int
    outputs: list[str] = field(default_factory=list)
    as_of: str = ""


def screen_patches(input_path: str | PathLike, output_paths: str | PathLike | Sequence[str | PathLike], *,
                   store: Store | str | PathLike | None = None, as_of: dt.date | str | None = None,
                   progress: Callable[[int, int], None] | None = None, crs: Any = None) -> PatchSummary:
    """Cut every patch of ``input_path`` by the protected zones in force on ``as_of`` and write the outputs.

    Parameters
    ----------
    input_path
        Patches: .gpkg, .shp (or zipped), .geojson or .parquet, polygons in any declared CRS.
    output_paths
        ``.gpkg`` (layers 图斑 and 图斑区域相交) and/or ``.xlsx`` (移交清单).
    progress
        ``progress(done_patches, total)`` after each chunk and once more when the outputs are written.
    crs
        The CRS of every patch, overriding the file's (``screen_file``'s ``crs``).
    """
    if not isinstance(store, Store):
        store = open_store(store)
    day = iso_day(as_of)
    outputs = [checked_output(p, input_path, PATCH_OUTPUTS)
               for p in ([output_paths] if isinstance(output_paths, (str, PathLike)) else output_paths)]
    source = open_input(input_path, coverage=covered_area(store), crs=crs)
    # the input's own columns keep their values: one named as an added column (所在县市区 ...) is renamed
    header = [f"{name}（原）" if name in _ADDED else name for name in source.header]
    snapshot = store.snapshot(day)
    zones = snapshot.zones
    protected = zones[zones.kind.isin(PROTECTED_KINDS)].reset_index(drop=True)
    units = _Units(zones[zones.kind == "admin_division"])
    tree = shapely.STRtree(protected.geometry.values)
    coverage = _Coverage(snapshot.versions)
    patch_rows, piece_rows, failed = [], [], 0
    uncovered: dict[Any, list[str]] = {}  # by 图斑序号: the protected kinds whose layer does not cover the patch
    if progress is not None:
        progress(0, source.total)
    for chunk in source.chunks:
        places = units.of(chunk.geoms)
        met = _met(chunk.geoms, tree)
        for cells, row, geom, error, notice, where, zones_met in zip(
                chunk.cells, chunk.rows, chunk.geoms, chunk.errors, chunk.notices, places, met):
            attributes = dict(zip(header, cells))
            if error is None and geom is not None and geom.geom_type not in ("Polygon", "MultiPolygon"):
                error = (f"图斑应为面（多边形），该要素是 {geom.geom_type} / a patch is a polygon, this feature is a "
                         f"{geom.geom_type}。修正 / Fix: 把点、线要素从图斑文件中删去，或画成面 / remove points and lines "
                         "from the patch file, or draw them as polygons")
            if error is not None or geom is None:
                failed += 1
                patch_rows.append({**attributes, "图斑序号": row, "读取错误": error, "geometry": None})
                continue
            area = geodesic_area_m2(geom)
            pieces = _pieces(geom, area, zones_met, protected)
            uncovered[row] = coverage.uncovered(geom)
            unchecked = [kind for kind in uncovered[row] if kind in _TOTALS]
            patch_rows.append({**attributes, "图斑序号": row, **where, "图斑面积m²": round(area, 2),
                               **_totals(pieces, area, unchecked),
                               "涉及区域": "；".join(p["区域名称"] for p in pieces) or None,
                               "未核查": "、".join(KINDS[k].label_zh for k in unchecked) + "图层未覆盖图斑，面积未核查，"
                                        "不能视为无问题" if unchecked else None,
                               "读取提示": notice, "读取错误": None, "geometry": geom})
            piece_rows += [{**attributes, "图斑序号": row, **where, **piece, "图斑面积m²": round(area, 2)}
                           for piece in pieces]
        if progress is not None:
            progress(len(patch_rows), max(source.total, len(patch_rows)))
    patches = pd.DataFrame(patch_rows)
    pieces = pd.DataFrame(piece_rows, columns=[*header, "图斑序号", "所在地州市/师", "所在县市区",
                                               *_PIECE_COLUMNS, "图斑面积m²"])
    days = _date_fields(Path(input_path), header)
    _write_all(outputs, lambda path: _write_gpkg(path, patches, pieces, days) if path.suffix.lower() == ".gpkg" else
               _write_handover(path, pieces, patches, header, Path(input_path).name, store.name, day, failed,
                               uncovered))
    if progress is not None:
        progress(len(patches), len(patches))
    return PatchSummary(len(patches), failed, len(pieces), [str(p) for p in outputs], day)


def _write_all(outputs: list[Path], write: Callable[[Path], None]) -> None:
    """Each output written beside its path and then moved there, all or none: a stop (Ctrl-C) or a failure
    leaves no half-written file and no earlier file at those paths destroyed."""
    written: list[tuple[Path, Path]] = []
    try:
        for path in outputs:
            path.parent.mkdir(parents=True, exist_ok=True)
            partial = path.with_name(f".{path.stem}.partial{path.suffix}")
            written.append((partial, path))
            partial.unlink(missing_ok=True)
            write(partial)
        for partial, path in written:
            os.replace(partial, path)
    except BaseException:
        for partial, _ in written:
            partial.unlink(missing_ok=True)
        raise


def _date_fields(path: Path, header: Sequence[str]) -> set[str]:
    """The columns of ``header`` (the input's, in its order) that ``path`` declares as days without a time: a
    GeoPackage or GeoJSON Date field, a .dbf field of type D. GDAL reads them as date-times at midnight, as it
    reads a DateTime field; only the declaration tells them apart. (A GeoParquet date32 is read as days already.)"""
    import pyogrio
    from pyogrio.errors import DataLayerError, DataSourceError

    if path.suffix.lower() == ".parquet":
        return set()
    try:
        layer = feature_tables(path, source=path.name, max_features=None, max_bytes=None)[0][0] \
            if path.suffix.lower() == ".gpkg" else None
        kinds = pyogrio.read_info(path, layer=layer)["ogr_types"]  # by position: the names need the file's encoding
    except (DataSourceError, DataLayerError, OSError, ValueError, IndexError):
        return set()  # the input was read: a declaration that cannot be had leaves its dates date-times
    return {name for name, kind in zip(header, kinds) if kind == "OFTDate"} if len(kinds) == len(header) else set()


class _Coverage:
    """Where the protected layers in force are complete: a patch reaching beyond is not checked for that kind
    (its area inside is unknown, never 0). Red lines and reserves, whose totals each patch has, say so in 未核查;
    the other protected kinds only in 汇总, where their columns are then blank."""

    def __init__(self, versions: dict) -> None:
        self.areas = {}
        for kind in PROTECTED_KINDS:
            version = versions.get(kind)
            area = None if version is None else version.coverage
            if area is not None:
                shapely.prepare(area)
            self.areas[kind] = (version is not None, area)

    def uncovered(self, geom) -> list[str]:
        """The protected kinds whose layer is not in force, or does not cover the whole patch."""
        return [kind for kind, (in_force, area) in self.areas.items()
                if not in_force or (area is not None and not shapely.covers(area, geom))]


_PIECE_COLUMNS = ["区域类型", "区域名称", "功能分区", "相交面积m²", "占图斑比例%", "geometry"]


def _met(geoms: np.ndarray, tree: shapely.STRtree) -> list[np.ndarray]:
    """Per patch (none for a row not read), the protected zones it meets, in the tree's order."""
    geoms = np.asarray(geoms, dtype=object)
    read = np.flatnonzero(~shapely.is_missing(geoms))
    met: list[np.ndarray] = [np.empty(0, dtype=np.int64)] * len(geoms)
    if len(read):
        patch, zone = tree.query(geoms[read], predicate="intersects")
        order = np.lexsort((zone, patch))
        patch, zone = patch[order], zone[order]
        for p, zones in zip(np.unique(patch).tolist(), np.split(zone, np.flatnonzero(np.diff(patch)) + 1)):
            met[read[p]] = zones
    return met


def _pieces(geom, area: float, zones: np.ndarray, protected: pd.DataFrame) -> list[dict[str, Any]]:
    """The pieces ``geom`` (of geodesic ``area``) shares with each of the protected ``zones`` it meets (those
    with area), largest first; of pieces as large (a patch inside a red line and a reserve), the first by kind
    (``PROTECTED_KINDS``), then in the store's order."""
    found = []
    for index in zones.tolist():
        zone = protected.iloc[index]
        # the polygonal part only (ST_CollectionExtract(.., 3)): where the patch also shares an edge or a corner
        # with the zone, the intersection is a collection with those lines and points
        piece = part_of_dimension(shapely.intersection(geom, zone.geometry), 2)
        piece_area, share = share_of(geodesic_area_m2(piece), area)
        if piece_area <= 0:
            continue  # a shared edge or corner is no area inside the zone
        kind = KINDS[zone.kind].label_zh if zone.kind in KINDS else zone.kind
        found.append({"区域类型": kind, "区域名称": zone["name"], "_kind": zone.kind,
                      "功能分区": KINDS[zone.kind].subtype_label(zone.subtype) if zone.kind in KINDS else None,
                      "相交面积m²": round(piece_area, 2),
                      "占图斑比例%": None if share is None else round(share, 3), "geometry": piece})
    found.sort(key=lambda p: (-p["相交面积m²"], PROTECTED_KINDS.index(p["_kind"])))  # stable: then store order
    return found


#: The totals of a patch: the kinds and how their columns begin.
_TOTALS = {"ecological_redline": "红线内", "nature_reserve": "自然保护区内"}
#: Every column a patch screening adds: an input column of the same name is kept as NAME（原）.
_ADDED = {"图斑序号", "所在地州市/师", "所在县市区", "图斑面积m²", "涉及区域", "未核查", "读取提示", "读取错误", "geometry",
          "区域类型", "区域名称", "功能分区", "相交面积m²", "占图斑比例%",
          *(f"{label}{unit}" for label in _TOTALS.values() for unit in ("面积m²", "比例%"))}


def _totals(pieces: list[dict[str, Any]], area: float, unchecked: list[str]) -> dict[str, Any]:
    """Area inside red lines and inside reserves (the union of the pieces, so overlapping zones count once);
    none for a kind whose layer does not cover the patch."""
    totals = {}
    for kind, label in _TOTALS.items():
        if kind in unchecked:
            totals[f"{label}面积m²"] = totals[f"{label}比例%"] = None
            continue
        inside = [p["geometry"] for p in pieces if p["_kind"] == kind]
        inside, share = share_of(geodesic_area_m2(shapely.union_all(inside)) if inside else 0.0, area)
        totals[f"{label}面积m²"] = round(inside, 2)
        totals[f"{label}比例%"] = None if share is None else round(share, 3)
    for piece in pieces:
        del piece["_kind"]
    return totals


class _Units:
    """The counties and the prefectures and 兵团 divisions above them, to tell each patch where it lies."""

    def __init__(self, admin: pd.DataFrame) -> None:
        level = np.where(admin.subtype.isin(_COUNTY), 1, np.where(admin.subtype.isin(_DIVISION), 2, 0))
        keep = level > 0
        # prepared copies: a county has thousands of vertices and is tested against many patches
        self.geoms = shapely.from_wkb(shapely.to_wkb(admin.geometry.values[keep]))
        shapely.prepare(self.geoms)
        self.level = level[keep]
        self.bingtuan = admin.subtype.values[keep] == "bingtuan_city"
        self.names = admin["name"].to_numpy(dtype=object)[keep]

    def of(self, geoms: np.ndarray) -> list[dict[str, str | None]]:
        """Per patch (both None for a row not read), the division (prefecture or 兵团 city) and the county (a 兵团
        city answers as one for its land) it shares most area with. Sharing only an edge is not lying there."""
        geoms = np.asarray(geoms, dtype=object)
        found: list[dict[str, str | None]] = [{"所在地州市/师": None, "所在县市区": None} for _ in geoms]
        read = np.flatnonzero(~shapely.is_missing(geoms))
        if not len(read) or not len(self.geoms):
            return found
        unit, site = shapely.STRtree(geoms[read]).query(self.geoms, predicate="intersects")
        shared = shapely.area(geoms[read][site])  # a patch a unit covers shares all of itself
        partly = np.flatnonzero(~shapely.covers(self.geoms[unit], geoms[read][site]))
        shared[partly] = shapely.area(shapely.intersection(geoms[read][site[partly]], self.geoms[unit[partly]]))
        keep = shared > 0
        unit, site, shared = unit[keep], site[keep], shared[keep]
        for column, answers in (("所在地州市/师", self.level == 2), ("所在县市区", (self.level == 1) | self.bingtuan)):
            mine = answers[unit]
            u, s, a = unit[mine], site[mine], shared[mine]
            order = np.lexsort((u, -a, s))  # of each patch, the largest share first (then the layer's order)
            u, s = u[order], s[order]
            first = np.r_[True, s[1:] != s[:-1]] if len(s) else np.zeros(0, dtype=bool)
            for best, patch in zip(u[first].tolist(), s[first].tolist()):
                found[read[patch]][column] = self.names[best]
        return found


def _field_types(frame: pd.DataFrame, days: Collection[str] = ()) -> dict[str, Any]:
    """Per column of ``frame``, its GeoPackage field type: ``"day"`` (a Date field) where every value given is a
    day and the input declares the field a date (``days``, from ``_date_fields``) or gives days without a time (a
    GeoParquet date32), ``"date"`` (a DateTime field) where every value given is a date or a date-time (a
    delivery's 采集日期 field, which a GIS program filters by), the dtype of a column of numbers, ``"text"`` for the
    rest (a register's columns vary in type from row to row). A Date field stays a Date field: GDAL reads it as
    midnight, and a DateTime field would show 2024-03-05 00:00:00 where the delivery says 2024-03-05.

    Decided over every patch of the delivery, the same for both layers (the pieces are some of the patches: a date
    field blank on every piece is still a date field there). A text column of days as officers write them
    (2024/3/5, 2024年3月5日) stays text as the delivery gave it: a field holds one type, the odd 不详 or 2024年8月 of
    such a column would be lost as a date, and a GIS program compares these layers with the delivery field by
    field. The 移交清单 shows such a column as dates (``_day_columns``); both keep every value, and a date field
    is a date in both."""
    types: dict[str, Any] = {}
    for name in frame.columns:
        if name == "geometry":
            continue
        column = frame[name]
        given = column.dropna()
        if len(given) and all(isinstance(v, dt.date) for v in given):  # Timestamp and datetime are dates too
            timed = [v for v in given if isinstance(v, dt.datetime)]
            declared = name in days and all(v.time() == dt.time() and v.tzinfo is None for v in timed)
            types[name] = "day" if declared or not timed else "date"
        elif pd.api.types.is_float_dtype(column) or pd.api.types.is_integer_dtype(column):
            types[name] = column.dtype
        else:
            types[name] = "text"
    return types


def _typed(frame: pd.DataFrame, types: dict[str, Any]) -> pd.DataFrame:
    """``frame``'s columns of the types ``_field_types`` gave."""
    frame = frame.copy()
    for name, kind in types.items():
        if name not in frame:
            continue
        if kind == "day":  # Arrow's date32: pyogrio writes it as a Date field (a datetime64 only as a DateTime)
            frame[name] = pd.Series([v.date() if isinstance(v, dt.datetime) else v if isinstance(v, dt.date) else None
                                     for v in frame[name].tolist()], index=frame.index, dtype=pd.ArrowDtype(pa.date32()))
        elif kind == "date":
            frame[name] = pd.to_datetime(frame[name].astype(object).where(frame[name].notna(), None))
        elif kind == "text":
            frame[name] = frame[name].map(lambda v: None if _blank(v) else str(v))
        else:
            frame[name] = frame[name].astype(kind)
    return frame


def _write_gpkg(path: Path, patches: pd.DataFrame, pieces: pd.DataFrame, days: Collection[str] = ()) -> None:
    """The layers 图斑 and 图斑区域相交, their fields of the types ``_field_types`` gives (``days``: the input's Date
    fields), written through Arrow: pyogrio writes a Date field only so."""
    import geopandas as gpd
    import pyogrio

    path.unlink(missing_ok=True)
    types = {**_field_types(pieces, days), **_field_types(patches, days)}  # a column of both: as all the patches have it
    # polygonal layers are declared so, as GIS programs type a layer from its declaration: the pieces always
    # (``_pieces``), the patches when none holds another geometry (a patch not read has none)
    kinds = set(shapely.get_type_id(np.asarray(patches["geometry"], dtype=object)).tolist()) if len(patches) else set()
    polygonal = kinds <= {-1, shapely.GeometryType.POLYGON, shapely.GeometryType.MULTIPOLYGON}
    for layer, frame, declared in ((OWN_LAYERS[1], patches, "MultiPolygon" if polygonal else "Unknown"),
                                   (OWN_LAYERS[2], pieces, "MultiPolygon")):
        frame = gpd.GeoDataFrame(_typed(frame, types), geometry="geometry", crs="EPSG:4326")
        pyogrio.write_dataframe(frame, path, layer=layer, driver="GPKG", promote_to_multi=declared != "Unknown",
                                geometry_type=declared, append=layer != OWN_LAYERS[1], use_arrow=True)


def _write_handover(path: Path, pieces: pd.DataFrame, patches: pd.DataFrame, header: list[str], input_name: str,
                    store_name: str, day: str, failed: int, uncovered: dict[Any, list[str]]) -> None:
    """移交清单: one row per patch per zone met, grouped by division and county (bold header, frozen, filter); 汇总:
    the totals per county, per division (小计) and in all (合计), ecozone's measures and the input's own numbers
    (``_unit_totals``); the patches not read, and those a layer does not cover, each on a sheet of their own with
    the reason; 筛查信息: what was screened against what. The input's columns (``header``) of days
    (``_day_columns``) are dates on every sheet alike.

    The totals are a sheet of their own: rows of totals inside the list would be sorted and filtered with it (an
    officer sorting by date would scatter them) and counted as patches by whoever reads the list as a table."""
    from openpyxl import Workbook
    from openpyxl.styles import Font
    from openpyxl.utils import get_column_letter

    columns = [*_UNIT, "图斑序号", *[c for c in pieces.columns if c not in (*_UNIT, "图斑序号", "geometry")]]
    table = pieces.sort_values([*_UNIT, "图斑序号"], na_position="last", kind="stable")
    days = _day_columns(patches, header)  # once for the delivery: a column is of one type on every sheet
    book = Workbook()
    sheet = book.active
    sheet.title = "移交清单"
    _table(sheet, table, columns, days)
    sheet.auto_filter.ref = f"A1:{get_column_letter(len(columns))}{max(sheet.max_row, 2)}"
    totals = _unit_totals(pieces, patches, header, uncovered)
    sheet = book.create_sheet("汇总")
    _table(sheet, totals, [c for c in totals.columns if c != "_level"])
    for row, level in zip(sheet.iter_rows(min_row=2), totals["_level"]):
        for cell in row if level else ():
            cell.font = Font(bold=True)
    # the filter over the counties and their 小计 (a division's rows all name it), the 合计 below it always shown
    sheet.auto_filter.ref = f"A1:{get_column_letter(sheet.max_column)}{max(sheet.max_row - 1, 2)}"
    for title, column in (("读取失败图斑", "读取错误"), ("未核查图斑", "未核查")):
        listed = patches[patches[column].notna()] if column in patches else patches.iloc[:0]
        if len(listed):
            _listing(book.create_sheet(title), listed, column, days)
    summary = book.create_sheet("筛查信息")
    _table(summary, pd.DataFrame([
        ("输入文件", input_name), ("图斑数", len(patches)), ("读取失败图斑数", failed),
        ("涉及区域的图斑数", int(pieces["图斑序号"].nunique())), ("相交处数", len(pieces)),
        ("图层日期", dt.date.fromisoformat(day)), ("图层库", store_name)], columns=["项目", "值"]), ["项目", "值"])
    summary.column_dimensions["A"].width = 18
    book.save(path)


_UNIT = ["所在地州市/师", "所在县市区"]


def _unit_totals(pieces: pd.DataFrame, patches: pd.DataFrame, header: Sequence[str],
                 uncovered: dict[Any, list[str]]) -> pd.DataFrame:
    """The patches of the 移交清单 per county, then per division (小计, after its counties) and in all (合计, last):
    how many, their area, their area inside red lines and inside reserves (each patch's own, where overlapping
    zones count once) and in each other kind and functional zone met. A patch that a kind's layer does not cover
    (its own total of the kind unknown: listed in 未核查) has every column of that kind unknown, its functional
    zones' too (自然保护区实验区面积m² …), never 0 m²; a total is blank where any of its patches' is. ``_level``: 0
    for a county, 1 for 小计, 2 for 合计.

    After these, the sums of the input's own numbers (its 图斑面积, 面积（亩）, 变化面积 …: the columns of ``header``
    that ``_summed`` takes), each headed with the input's name (NAME（原） where that is one of the columns above),
    each patch counted once however many zones it meets. A blank of the input adds nothing; a total of blanks
    alone is blank."""
    listed = patches[patches["图斑序号"].isin(pieces["图斑序号"])]
    # reindexed: when no patch was read, the read patches' columns are not there at all
    per_patch = listed.reindex(columns=["图斑序号", *_UNIT, "图斑面积m²", *(f"{label}面积m²" for label in _TOTALS.values())])
    per_patch = per_patch.set_index("图斑序号").astype({f"{label}面积m²": float for label in _TOTALS.values()})
    others = pieces[pieces["区域类型"] != KINDS["ecological_redline"].label_zh]  # red lines: in 红线内面积m²
    zone = others["区域类型"] + others["功能分区"].fillna("") + "面积m²"
    by_zone = others.groupby(["图斑序号", zone])["相交面积m²"].sum().unstack(fill_value=0.0)
    order = [f"{KINDS[k].label_zh}{s}面积m²" for k in PROTECTED_KINDS for s in [*KINDS[k].subtypes.values(), ""]]
    by_zone = by_zone[sorted(by_zone.columns, key=lambda c: order.index(c) if c in order else len(order))]
    per_patch = per_patch.join(by_zone).fillna({c: 0.0 for c in by_zone.columns})
    # a patch its layer does not cover (``uncovered``: for red lines and reserves its own total unknown, listed in
    # 未核查) has the kind's zones unknown too, not 0 m²: a piece found there is only what the layer holds of it
    kind_of = {KINDS[k].label_zh: k for k in PROTECTED_KINDS}
    for column, label in dict(zip(zone, others["区域类型"])).items():
        unknown = [kind_of.get(label) in uncovered.get(row, ()) for row in per_patch.index]
        per_patch.loc[np.asarray(unknown, dtype=bool), column] = np.nan
    per_patch[_UNIT] = per_patch[_UNIT].astype(object).where(per_patch[_UNIT].notna(), "（无）")
    numbers = [c for c in per_patch.columns if c not in _UNIT]
    summed = _summed(patches, header)
    headings = {name: f"{name}（原）" if name in {*_UNIT, "图斑数", *numbers} else name for name in summed}
    given = listed.set_index("图斑序号").reindex(columns=list(summed)).rename(columns=headings)
    per_patch = per_patch.join(given.astype(float))
    rows = []

    def total(division, county, group: pd.DataFrame, level: int) -> None:
        rows.append({"所在地州市/师": division, "所在县市区": county, "图斑数": len(group),
                     **{c: round(group[c].sum(skipna=False), 2) for c in numbers},
                     **{headings[name]: _total(group[headings[name]], decimals) for name, decimals in summed.items()},
                     "_level": level})

    for division, counties in per_patch.groupby("所在地州市/师", sort=True):
        for county, group in counties.groupby("所在县市区", sort=True):
            total(division, county, group, 0)
        total(division, "小计", counties, 1)
    total("合计", None, per_patch, 2)
    return pd.DataFrame(rows, columns=[*_UNIT, "图斑数", *numbers, *headings.values(), "_level"])


def _summed(patches: pd.DataFrame, names: Sequence[str]) -> dict[str, int | None]:
    """The input's columns that 汇总 sums, each with the decimals its sums keep (None: whole numbers, summed as
    integers), decided over every patch of the delivery.

    A column is summed when every value it gives is a number (a blank gives none; a column with one text value, or
    none at all, is not summed) and it holds no ids or codes. In this order:

    1. a name that says it holds ids or codes (``_ID_NAME``: 编号, 代码, 序号, 标识码, 带号, ID, code, OBJECTID,
       TBBH, XZQDM …) is never summed, whatever else it says (图斑编号, 面积代码);
    2. a name that says it is a measure or a count (``_MEASURE_NAME``: 面积, 亩, 公顷, 平方米, 长度, 周长, 数量,
       户数, 人数, m², ㎡, area, length, TBMJ …) is summed whatever its digits: 占地面积 of whole m² all of four
       digits is an area, not a code;
    3. any other column is summed unless its values are whole numbers all of the same number of digits, four or
       more (行政区划 652301, 年度 2024, 20240305): counts and measures vary in length from patch to patch, codes
       keep theirs.

    The last rule looks at the values, not the field's type: an integer field with one blank is read as reals
    (652301.0), and a code summed would be a wrong figure where a measure left out (a column of whole areas all of
    one length under a name that does not say so) is only a missing one. A sum keeps the most decimals
    the column's values have (up to 10), so that 0.1 + 0.2 is 0.3 and no digit the delivery gave is rounded away;
    a column of integers sums to an integer."""
    summed: dict[str, int | None] = {}
    for name in names:
        if name not in patches or _ID_NAME.search(name):
            continue
        given = [v for v in patches[name].tolist() if not _blank(v)]
        if not given or not all(isinstance(v, (int, float, np.integer, np.floating))
                                and not isinstance(v, (bool, np.bool_)) for v in given):
            continue
        values = np.asarray(given, dtype=float)
        if not np.isfinite(values).all():
            continue
        if (values == np.round(values)).all():
            lengths = {len(str(abs(int(v)))) for v in values}
            if len(lengths) == 1 and lengths.pop() >= 4 and not _MEASURE_NAME.search(name):
                continue  # codes, all of one length
            if all(isinstance(v, (int, np.integer)) for v in given):
                summed[name] = None
                continue
        summed[name] = min(10, max(len(np.format_float_positional(v, trim="-").partition(".")[2]) for v in values))
    return summed


def _total(values: pd.Series, decimals: int | None) -> float | int | None:
    """The sum of a patch column's numbers given: None where none is, an integer for whole numbers (``_summed``)."""
    if values.notna().sum() == 0:
        return None
    total = values.sum()
    return int(round(total)) if decimals is None else round(float(total), decimals)


def _listing(sheet, patches: pd.DataFrame, reason: str, days: Collection[str]) -> None:
    """A sheet of patches with why they are listed: 图斑序号, the reason, then the input's columns."""
    _table(sheet, patches, ["图斑序号", reason, *[c for c in patches.columns if c not in ("图斑序号", reason, "geometry")
                                                 and patches[c].notna().any()]], days)


_DAY_FORMAT, _TIME_FORMAT = "yyyy-mm-dd", "yyyy-mm-dd hh:mm:ss"


def _table(sheet, frame: pd.DataFrame, columns: list[str], days: Collection[str] = ()) -> None:
    """``columns`` of ``frame`` under a bold, frozen header; in a column of days (``days``, from ``_day_columns``)
    each value that reads as a day as an Excel date, the others as given; text that would start a formula as text.

    Each date cell is formatted by its own value (``_number_format``), not by its column: a column of days with the
    odd value that has a time shows its plain days as days, not as 2024-01-01 00:00:00."""
    from openpyxl.styles import Font
    from openpyxl.utils import get_column_letter

    sheet.append(columns)
    for cell in sheet[1]:
        cell.font = Font(bold=True)
    values = [[_day_cell(v) for v in frame[name].tolist()] if name in days else [_cell(v) for v in frame[name].tolist()]
              for name in columns]
    for record in zip(*values):
        sheet.append(record)
    for row in sheet.iter_rows(min_row=2):
        for cell in row:
            if isinstance(cell.value, dt.date):
                cell.number_format = _number_format(cell.value)
            elif starts_formula(cell.value):
                cell.data_type = "s"
    for index, name in enumerate(columns, start=1):
        sheet.column_dimensions[get_column_letter(index)].width = max(12, 2 * len(str(name)) + 2)
    sheet.freeze_panes = "A2"


def _number_format(value: dt.date) -> str:
    """How a date cell shows ``value``: ``yyyy-mm-dd hh:mm:ss`` where it has a time of day, ``yyyy-mm-dd`` for a day.

    A date-time at midnight shows as its day, whatever it came from: a date field read through GDAL (a .dbf's type
    D comes as midnight), a day typed into a date-time field (a GIS program stores it at 00:00:00, and that is what
    an officer most likely typed), or text with 00:00. Excel holds a day and that day at 00:00:00 as the same number,
    so the cell loses nothing; it only is not shown as 2024-01-01 00:00:00 beside the days."""
    if isinstance(value, dt.datetime) and value.time() != dt.time():
        return _TIME_FORMAT
    return _DAY_FORMAT


#: What may follow a day written as text: a time of day (2024-03-05 10:30, 2024/3/5 10:30:15, 2024-03-05T10:30).
_TIME = re.compile(r"^(?:\s+|T)(\d{1,2}):(\d{2})(?::(\d{2})(?:\.(\d{1,6}))?)?$")
_DAY_TEXT = re.compile(r"^(\S+?)((?:\s|T\d).*)?$")
#: The years a value may be a day of: Excel holds no date before 1900, and 65230120 (a code) is no day of 6523.
_YEARS = range(1900, 2101)
#: Column names that say the column holds ids or codes: never read as days (``_day_columns``) nor summed (``_summed``).
_ID_NAME = re.compile(r"编号|编码|代码|序号|标识|号$|码$|(?i:(?:^|[^a-z])(?:id|code)(?:$|[^a-z])|(?:id|code|bh|bm|dm|bsm)$)")
#: Column names that say the column holds a measure or a count (图斑面积, 占地面积, 面积（亩）, 长度, 户数, TBMJ,
#: Shape_Area …): summed whatever its values look like (``_summed``), unless ``_ID_NAME`` says it holds codes.
_MEASURE_NAME = re.compile(r"面积|亩|公顷|平方米|平方千米|平方公里|长度|周长|宽度|数量|户数|人数|个数|m²|㎡"
                           r"|(?i:area|length|leng$|mj$)")


def _as_day(value: Any) -> dt.date | dt.datetime | None:
    """The day a cell holds, with its time of day where one is given: a date or datetime value, or text as officers
    write a day (``written_day``: 2024-03-05, 2024/3/5, 2024年3月5日, 20240305), with or without a time after it.
    None for a blank; ValueError for anything else (a number, other text, a day followed by other words, a year
    outside ``_YEARS``)."""
    if _blank(value):
        return None
    if isinstance(value, dt.datetime):  # a Timestamp too; its value kept (Excel has no time zones)
        day = pd.Timestamp(value).tz_localize(None).to_pydatetime()
    elif isinstance(value, dt.date):
        day = value
    elif isinstance(value, str):
        found = _DAY_TEXT.match(value.strip())
        if found is None:
            raise ValueError(value)  # text of spaces alone is kept as given, no day
        day = dt.date.fromisoformat(written_day(found.group(1)))  # ValueError for no day
        if found.group(2):
            time = _TIME.match(found.group(2))
            if time is None:
                raise ValueError(value)
            hour, minute, second, fraction = time.groups()
            day = dt.datetime.combine(day, dt.time(int(hour), int(minute), int(second or 0),
                                                   int((fraction or "0").ljust(6, "0"))))
    else:
        raise ValueError(value)
    if day.year not in _YEARS:
        raise ValueError(value)
    return day


def _day_columns(patches: pd.DataFrame, names: Sequence[str]) -> list[str]:
    """The input's columns to write as dates, decided once over every patch of the delivery, so that a column has
    one type on every sheet (each cell then formatted by its own value, ``_number_format``).

    A column is one of days when more of its values given read as days (``_as_day``: a date field, or text as
    officers write a day) than not, and its name does not say it holds codes (``_ID_NAME``). In such a column each
    value that reads as a day is an Excel date that sorts and filters by date, and each other value is kept as
    given in its own cell: the odd 不详 or 2024年8月 of a 监测时间 column neither turns the whole column to text (an
    officer would lose sorting by date for one cell) nor is lost or guessed as a day. A column of words with the odd
    day in it (a 备注 saying 2024-05-01 once) stays text throughout. Numbers are never days: a number field is a
    number field (20240305 as a number stays the number)."""
    columns = []
    for name in names:
        if name not in patches or _ID_NAME.search(name):
            continue
        days = others = 0
        values = patches[name].tolist()
        for seen, value in enumerate(values):
            if days + len(values) - seen <= others:
                break  # the rest can no longer make it a column of days (one of words stops halfway)
            try:
                day = _as_day(value)
            except ValueError:
                if not (isinstance(value, str) and not value.strip()):  # spaces alone: a blank, kept as given
                    others += 1
                continue
            if day is not None:
                days += 1
        if days > others:
            columns.append(name)
    return columns


def _day_cell(value: Any) -> Any:
    """A value of a column of days: its day (``_as_day``), or the value as given when it is no day (a date outside
    ``_YEARS`` as its ISO text: Excel would show another day)."""
    try:
        return _as_day(value)
    except ValueError:
        return value.isoformat() if isinstance(value, dt.date) else _cell(value)


def _blank(value: Any) -> bool:
    """Whether a patch's value is none given: None, NaN or NaT (pandas' blanks of its column types)."""
    return value is None or value is pd.NaT or (isinstance(value, float) and math.isnan(value))


def _cell(value: Any) -> Any:
    if _blank(value):
        return None
    if isinstance(value, (np.integer, np.floating)):
        return value.item()
    return value if isinstance(value, (int, float, str, dt.date, dt.datetime)) else str(value)
