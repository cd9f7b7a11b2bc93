"""Batch screening equals the single-site check row by row, on a register mixing every way a row gives its place.

About 2,300 random rows: points inside zones, near their edges and near built-up areas (the 5 km rule), points
far from any zone, small parcels as WKT, DMS text, Gauss-Krüger coordinates with the zone in the easting,
swapped longitude/latitude, unreadable cells, and facts drawn from the industry vocabulary. Each row is
screened by ``screen_file`` and then read and checked on its own (``read_site`` of the same cells,
``check_site`` of the same facts): verdict code, rules, zones, quantities and the reasons to review must be the same.
"""

from __future__ import annotations

import csv
import functools
import re

import numpy as np
import pytest
import shapely
from pyproj import Transformer

from gis.batch import screen_file
from gis.check import check_site
from gis.errors import EcozoneError
from gis.presentation import quantities_text, reasons_text
from gis.rules.model import Verdict
from gis.sites import read_site
from gis.store import open_store

AS_OF = "2024-01-01"
INDUSTRIES = ["火力发电", "4411", "热力生产和供应", "水泥制造", "C3011", "平板玻璃制造", "炼焦", "原油加工及石油制品制造",
              "有机化学原料制造", "炼钢", "铝冶炼", "牛的饲养", "污水处理及其再生利用", "皮革鞣制加工", "棉印染精加工",
              "纸浆制造", "风力发电", "太阳能发电", "房地产开发经营", "铸造", "", "其他"]
SCOPES = ["新建", "改扩建", "现有", "", "技改"]
FUELS = ["燃煤", "天然气", "", "生物质"]
FACTS = {"行业类别": "industry", "建设性质": "scope", "锅炉规模": "boiler_tph", "燃料": "fuel", "新增燃煤量": "coal_t",
         "装机容量": "power_mw"}
UNREADABLE = ["", "abc", "999", "87.6.1", "-"]
#: A register of one area (lon/lat box): 昌吉州 and 乌鲁木齐, where zones and layers' coverage end within its reach.
AREA = (86.0, 43.0, 89.5, 45.5)


def _dms(value: float, positive: str) -> str:
    degrees = int(value)
    minutes = int((value - degrees) * 60)
    seconds = (value - degrees - minutes / 60) * 3600
    return f"{degrees}°{minutes}′{seconds:.2f}″{positive}"


def _facts(rng: np.random.Generator) -> list[str]:
    boiler = str(rng.choice([4, 10, 20, 35, 65, 130])) if rng.random() < 0.4 else ""
    coal = f"{rng.uniform(100, 200_000):.0f}" if rng.random() < 0.3 else ""
    power = str(rng.choice([50, 300, 660])) if rng.random() < 0.1 else ""
    return [str(rng.choice(INDUSTRIES)), str(rng.choice(SCOPES)), boiler, str(rng.choice(FUELS)), coal, power]


@pytest.fixture(scope="module")
def register(tmp_path_factory):
    """Three registers (lon/lat/WKT columns; the rows of it in one area, 昌吉州 and 乌鲁木齐; X/Y/带号 columns)
    and the kind of place of every row."""
    rng = np.random.default_rng(19)
    folder = tmp_path_factory.mktemp("equivalence")
    zones = open_store().snapshot(AS_OF).zones
    zones = zones[zones.kind != "admin_division"]
    edges = shapely.get_coordinates(shapely.segmentize(zones.geometry.boundary.values, 0.02))
    inner = shapely.get_coordinates(zones.geometry.representative_point().values)
    built = shapely.get_coordinates(zones[zones.kind == "built_up_area"].geometry.representative_point().values)
    n = 2000
    kinds = rng.choice(["edge", "inside", "built", "far", "parcel", "dms", "swapped", "unreadable"], n,
                       p=[0.3, 0.12, 0.12, 0.1, 0.14, 0.08, 0.06, 0.08])
    rows, what, in_area = [], [], []
    for i, kind in enumerate(kinds):
        if kind in ("edge", "parcel", "dms", "swapped"):
            x, y = edges[rng.integers(len(edges))] + rng.normal(0, 0.01, 2)
        elif kind == "inside":
            x, y = inner[rng.integers(len(inner))]
        elif kind == "built":  # around the 5 km ring of a built-up area
            angle, metres = rng.uniform(0, 2 * np.pi), rng.uniform(3000, 9000)
            x, y = built[rng.integers(len(built))] + [metres * np.cos(angle) / 85_000, metres * np.sin(angle) / 111_000]
        else:
            x, y = rng.uniform(76, 95), rng.uniform(37, 48)
        lon, lat, wkt = f"{x:.6f}", f"{y:.6f}", ""
        if kind == "parcel":
            w, h = rng.uniform(0.001, 0.006, 2)
            lon, lat, wkt = "", "", shapely.box(x - w, y - h, x + w, y + h).wkt
        elif kind == "dms":
            lon, lat = _dms(x, "E"), _dms(y, "N")
        elif kind == "swapped":
            lon, lat = lat, lon
        elif kind == "unreadable":
            lon = str(rng.choice(UNREADABLE))
        rows.append([f"项目{i}", lon, lat, wkt, *_facts(rng)])
        what.append(kind)
        in_area.append(AREA[0] <= x <= AREA[2] and AREA[1] <= y <= AREA[3])
    table = folder / "register.csv"
    with open(table, "w", encoding="utf-8", newline="") as handle:
        csv.writer(handle).writerows([["项目名称", "经度", "纬度", "WKT", *FACTS], *rows])
    area_rows = [row for row, inside in zip(rows, in_area) if inside]
    area = folder / "area.csv"
    with open(area, "w", encoding="utf-8", newline="") as handle:
        csv.writer(handle).writerows([["项目名称", "经度", "纬度", "WKT", *FACTS], *area_rows])

    gk_rows = []
    for i in range(300):
        x, y = edges[rng.integers(len(edges))] + rng.normal(0, 0.01, 2)
        zone = int(round(x / 3))
        to_gk = Transformer.from_crs("EPSG:4490", f"+proj=tmerc +lat_0=0 +lon_0={3 * zone} +k=1 +x_0={zone}500000 "
                                     "+y_0=0 +ellps=GRS80 +units=m", always_xy=True)
        east, north = to_gk.transform(x, y)
        gk_rows.append([f"测绘{i}", f"{east:.2f}", f"{north:.2f}", str(zone), *_facts(rng)])
    gk = folder / "gk.csv"
    with open(gk, "w", encoding="utf-8", newline="") as handle:
        csv.writer(handle).writerows([["项目名称", "东坐标", "北坐标", "带号", *FACTS], *gk_rows])
    return {"table": (table, rows, what), "gk": (gk, gk_rows, ["gk"] * len(gk_rows)),
            "area": (area, area_rows, [k for k, inside in zip(what, in_area) if inside])}


def _screened(source, tmp_path) -> list[dict[str, str]]:
    out = tmp_path / f"{source.stem}.out.csv"
    screen_file(source, out, as_of=AS_OF, chunk_rows=700)
    with open(out, encoding="utf-8-sig", newline="") as handle:
        return list(csv.DictReader(handle))


def _single(row: list[str], kind: str, store):
    """The row read on its own (the same cells as text) and checked with its facts; None if unreadable."""
    if kind == "gk":
        text = f"{row[1]}, {row[2]}"
        gk_zone = int(row[3])
    else:
        text = row[3] or f"{row[1]}, {row[2]}"
        gk_zone = None
    try:
        site = read_site(text, gk_zone=gk_zone) if gk_zone else read_site(text)
    except EcozoneError:
        return None
    facts = {FACTS[name]: value for name, value in zip(FACTS, row[-len(FACTS):]) if value.strip()}
    return check_site(site, facts, store=store, as_of=AS_OF)


def _zone_names(text: str) -> set[str]:
    return set(re.findall(r"「([^」]*)」", text or ""))


@pytest.mark.parametrize("which, kept_places, forked",
                         [("table", None, False), ("gk", None, False), ("table", 40, False), ("table", None, True),
                          ("area", None, False)],
                         ids=["table", "gk", "table-places-forgotten", "table-checks-forked", "one-area"])
def test_every_row_equals_check_site(register, which, kept_places, forked, tmp_path, monkeypatch):
    """With ``kept_places``, the batch keeps that many places at most and forgets them all between chunks past
    it (each made again when met), as a register on a real layer with thousands of places does. With
    ``forked``, every chunk's exact checks are made by processes forked from this one, as a register over a
    real red line has them made. The register of one area is read ahead, so the batch prepares only the zones of
    its area (``BatchEngine.for_area``), cut where they leave it; the others have the whole store's."""
    import gis.batch
    from gis import forked as forking
    from gis.batch import verdicts
    from gis.batch.spatial import BatchEngine

    source, rows, kinds = register[which]
    monkeypatch.setattr(gis.batch, "_FEW_ROWS", 0)  # points keyed, as in a large register, however few the rows
    in_processes = []
    if forked:
        monkeypatch.setattr(verdicts, "_FORK_CHECKS", 1)
        spread = forking.ForkedMap.map

        def counted(self, arguments):
            results = spread(self, arguments)
            in_processes.append(0 if self._broken else sum(map(len, results)))
            return results

        monkeypatch.setattr(forking.ForkedMap, "map", counted)
    forgotten = []
    if kept_places is not None:
        monkeypatch.setattr(verdicts, "_KEPT_PLACES", kept_places)
        forget = verdicts.Screener._forget_places
        monkeypatch.setattr(verdicts.Screener, "_forget_places", lambda self: forgotten.append(forget(self)))
    areas = []
    prepare = BatchEngine.for_area.__func__
    monkeypatch.setattr(BatchEngine, "for_area", classmethod(lambda *args: areas.append(prepare(*args)) or areas[-1]))
    if which != "area":  # the whole store's zones, as a register too long to be read ahead has them
        monkeypatch.setattr(gis.batch, "_AREA_ROWS", 0)
    out = _screened(source, tmp_path)
    if which == "area":  # the zones of the area alone: fewer than the store's, some of them cut at its edge
        zones = open_store().snapshot(AS_OF).zones
        whole = dict(zip(zip(zones["kind"], zones["zone_id"]), zones.geometry.values))
        batch = areas[0] if len(areas) == 1 else None
        assert batch is not None and 0 < batch.n_zones < len(zones)
        cut = [key for key, geom in zip(zip(batch.kinds, batch.zone_ids), batch.engine._geoms)
               if not geom.equals(whole[key])]
        assert len(cut) >= 5, cut
    else:
        assert not areas
    assert len(forgotten) >= (2 if kept_places else 0)
    assert sum(in_processes) >= (500 if forked else 0), in_processes  # checks made by the forked processes
    assert len(out) == len(rows)
    assert [r["项目名称"] for r in out] == [row[0] for row in rows]
    store = open_store()
    compared = {kind: 0 for kind in set(kinds)}
    reasoned = 0
    for row, kind, got in zip(rows, kinds, out):
        result = _single(row, kind, store)
        where = (row[0], kind, got["读取错误"])
        if got["结论代码"] == "error":
            assert result is None, where
            continue
        assert result is not None, where
        compared[kind] += 1
        assert got["结论代码"] == result.verdict.value, where
        assert got["命中规则"] == "；".join(f"{h.rule_id} {h.verdict_label}：{h.title_zh}" for h in result.rules.hits), where
        assert got["计算量"] == quantities_text(result.rules.hits), where
        review = [h for h in result.rules.hits if h.verdict is Verdict.needs_review]
        assert got["需核查原因"] == reasons_text(review, result.rules.unchecked), where
        reasoned += bool(review) and bool(result.rules.unchecked)
        met = {h.name for layer in result.overlap.layers for h in layer.hits if h.relation.value != "near"}
        assert _zone_names(got["涉及区域"]) == met, where
    # every kind of row that can be read was compared, in numbers
    readable = {k: v for k, v in compared.items() if k not in ("unreadable", "far")}
    assert all(v >= (5 if which == "area" else 20) for v in readable.values()), compared
    assert sum(compared.values()) >= {"table": 1500, "gk": 250, "area": 250}[which], compared
    assert reasoned >= (300 if which == "table" else 25), reasoned  # rules to review and rules not checked


def test_rows_outside_the_covered_area_are_refused_as_the_site_reader_refuses_them(tmp_path):
    """The batch tells rows wholly outside the covered area by their columns; each text is the reader's own."""
    from gis.batch.inputs import _row_site, _TableRows, open_input
    from gis.check import covered_area

    rng = np.random.default_rng(5)
    coverage = covered_area(open_store())
    lon = np.concatenate([rng.uniform(70, 130, 300), rng.uniform(-180, 180, 50), [87.6, 43.8, 200.0]])
    lat = np.concatenate([rng.uniform(25, 55, 300), rng.uniform(-90, 90, 50), [43.8, 87.6, 40.0]])
    lon_text = [f"{v:.6f}" for v in lon]
    lat_text = [f"{v:.6f}" for v in lat]
    lon_text[-3:] = ["87.6", "43.8", "200"]  # inside; swapped; not degrees
    lat_text[-3:] = ["43.8", "87.6", "40"]
    source = tmp_path / "outside.csv"
    with open(source, "w", encoding="utf-8", newline="") as handle:
        csv.writer(handle).writerows([["名称", "经度", "纬度"], *[[f"p{i}", a, b] for i, (a, b) in
                                                             enumerate(zip(lon_text, lat_text))]])
    chunk = next(open_input(source, coverage=coverage).chunks)
    table = _TableRows(["名称", "经度", "纬度"], source.name, None, coverage=coverage)
    outside = ~coverage.contains(lon, lat) & ~coverage.contains(lat, lon)
    assert outside.sum() > 150
    for i, (cells, row) in enumerate(zip(chunk.cells, chunk.rows)):
        error, geom, _ = _row_site(lambda: table._site(cells, row), source.name, row, "经度/纬度")
        assert chunk.errors[i] == error, (i, lon_text[i], lat_text[i])
        if error is None:
            assert shapely.equals(chunk.geoms[i], geom), i


@pytest.mark.parametrize("suffix", [".parquet", ".gpkg"])
def test_features_outside_the_covered_area_are_refused_as_the_site_reader_refuses_them(tmp_path, suffix):
    """Point features of a lon/lat file wholly outside the covered area are told by their coordinates, all at
    once; each error text is the one the site reader gives the feature (``_vector_site``)."""
    import geopandas as gpd
    from pyproj import CRS

    from gis.batch.inputs import _row_site, _vector_site, open_input
    from gis.sites.model import file_crs_origin
    from gis.check import covered_area

    rng = np.random.default_rng(8)
    coverage = covered_area(open_store())
    lon = np.concatenate([rng.uniform(70, 130, 300), [87.6, 43.8]])
    lat = np.concatenate([rng.uniform(25, 55, 300), [43.8, 87.6]])  # inside; swapped
    source = tmp_path / f"points{suffix}"
    frame = gpd.GeoDataFrame({"名称": [f"p{i}" for i in range(len(lon))]}, geometry=shapely.points(lon, lat),
                             crs="EPSG:4326")
    frame.to_parquet(source) if suffix == ".parquet" else frame.to_file(source)
    chunk = next(open_input(source, coverage=coverage).chunks)
    outside = ~coverage.contains(lon, lat) & ~coverage.contains(lat, lon)
    assert outside.sum() > 150
    for i, row in enumerate(chunk.rows):
        work = functools.partial(_vector_site, shapely.Point(lon[i], lat[i]), CRS.from_epsg(4326), source.name,
                                 row, coverage, file_crs_origin(source))
        error, geom, _ = _row_site(work, source.name, row, "geometry")
        assert chunk.errors[i] == error, (i, lon[i], lat[i])
        if error is None:
            assert shapely.equals(chunk.geoms[i], geom), i


def test_facts_of_many_projects_equal_each_projects_own_facts():
    """The batch reads the facts of a chunk's project classes all at once (``facts_of_many``), sharing the
    tuples of missing facts between projects; each project's must be what the single check reads for it alone
    (``facts_of``), for 3,000 rows of varied facts."""
    import datetime as dt

    from gis.batch.verdicts import thresholds
    from gis.rules import default_rule_packs
    from gis.rules.evaluate import facts_of, facts_of_many, rule_book
    from gis.rules.project import read_projects

    rng = np.random.default_rng(5)
    rows = [_facts(rng) for _ in range(3_000)]
    cells = {fact: np.array([row[i] for row in rows], dtype=object) for i, fact in enumerate(FACTS.values())}
    packs = default_rule_packs()
    projects = read_projects(cells, len(rows), thresholds=thresholds(packs)).projects
    book = rule_book(packs, dt.date.fromisoformat(AS_OF))
    many = facts_of_many(book, projects)
    assert len(projects) > 300 and len(many) == len(projects)
    for project, facts in zip(projects, many):
        alone = facts_of(book, project)
        assert facts.codes.tolist() == alone.codes.tolist() and facts.missing == alone.missing, project
    assert facts_of_many(book, []) == []


def test_a_register_of_one_area_screens_as_the_whole_store_does(tmp_path, monkeypatch):
    """The zones of a register's own area are cut where they leave it; what the batch says must not change:
    the nearest red line of points beside a red-line edge 20 km long that the area cuts (the cut put a vertex on
    it, 3.8 m off), a parcel around the small part of 昆玉市 whose other parts lie beyond the area (it contains
    that part, it only overlaps the unit), and a red line whose own valid_to is past on the screening day (not
    met, not nearest). Every column equals the whole store's screening; the parcel's relations are check_site's."""
    import gis.batch
    import geopandas as gpd
    import pandas as pd

    from gis.store import init_store

    store_path = tmp_path / "store.gpkg"
    red = open_store().snapshot(AS_OF).zones.query("kind == 'ecological_redline'")
    expired = red.iloc[[0]].assign(zone_id="redline:expired", name="已废止红线", valid_to="2023-01-01",
                                   geometry=[shapely.box(87.30, 44.30, 87.34, 44.33)])
    with init_store(store_path) as store:
        store.import_layer(gpd.GeoDataFrame(pd.concat([red, expired]), crs=4326).drop(columns=["kind"]),
                           "ecological_redline", source="红线.gpkg", effective_from="2020-01-01")
    parcel = shapely.box(81.2702, 36.1403, 81.2748, 36.1448)
    registers = {
        "edge": [["A", "79.228917", "39.712407", ""], ["B", "79.220931", "39.714538", ""],
                 ["C", "79.222375", "39.719527", ""]],
        "parcel": [["地块", "", "", parcel.wkt]],
        "expired": [[f"P{i}", f"{87.31 + 0.002 * i:.6f}", f"{44.31 + 0.001 * i:.6f}", ""] for i in range(12)],
    }
    for name, rows in registers.items():
        source = tmp_path / f"{name}.csv"
        with open(source, "w", encoding="utf-8", newline="") as handle:
            csv.writer(handle).writerows([["项目名称", "经度", "纬度", "WKT", "行业类别"],
                                          *(row + ["水泥制造"] for row in rows)])
        screen_file(source, tmp_path / f"{name}.area.csv", as_of=AS_OF, store=store_path)
        with monkeypatch.context() as whole:
            whole.setattr(gis.batch, "_AREA_ROWS", 0)
            screen_file(source, tmp_path / f"{name}.whole.csv", as_of=AS_OF, store=store_path)
        area, everything = ((tmp_path / f"{name}.{way}.csv").read_bytes() for way in ("area", "whole"))
        assert area == everything, name
    with open(tmp_path / "expired.area.csv", encoding="utf-8-sig", newline="") as handle:
        assert not any("已废止红线" in "".join(row) for row in csv.reader(handle))
    with open(tmp_path / "parcel.area.csv", encoding="utf-8-sig", newline="") as handle:
        [row] = list(csv.DictReader(handle))
    units = open_store().snapshot(AS_OF).zones.query("name == '昆玉市'").geometry
    assert len(units) and not any(shapely.contains(parcel, unit) for unit in units)  # the oracle: it does not
    checked = check_site(read_site(parcel.wkt), {"industry": "水泥制造"}, store=open_store(store_path),
                         as_of=AS_OF).overlap
    said = {hit.name: hit.relation.value for layer in checked.layers for hit in layer.hits}
    assert said["昆玉市"] == "overlaps" and "行政区划「昆玉市」部分重叠" in row["涉及区域"]
