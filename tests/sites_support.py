"""Helpers shared by the site-reader tests: independent pyproj computations and file writers."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from pyproj import Geod, Transformer

GEOD = Geod(ellps="WGS84")

#: Places in Xinjiang (lon, lat) used across the tests.
PLACES = {
    "Urumqi": (87.6168, 43.8256),
    "Kashgar": (75.9897, 39.4704),
    "Hami": (93.5150, 42.8185),
    "Korla": (86.1746, 41.7259),
    "Shihezi": (86.0411, 44.3059),
    "Altay": (88.1396, 47.8484),
}


def square(lon: float, lat: float, half: float = 0.005) -> list[tuple[float, float]]:
    """A closed counter-clockwise square around (lon, lat)."""
    return [(lon - half, lat - half), (lon + half, lat - half), (lon + half, lat + half),
            (lon - half, lat + half), (lon - half, lat - half)]


def to_projected(lonlat: list[tuple[float, float]], epsg: int) -> list[tuple[float, float]]:
    """(easting, northing) of lon/lat points in ``epsg``, computed with pyproj directly."""
    transformer = Transformer.from_crs(4326, epsg, always_xy=True)
    return [transformer.transform(lon, lat) for lon, lat in lonlat]


def max_distance_m(coords, expected) -> float:
    """Largest geodesic distance between matching lon/lat vertices."""
    a = np.asarray(coords, dtype=float)
    b = np.asarray(expected, dtype=float)
    assert a.shape == b.shape, (a.shape, b.shape)
    _, _, dist = GEOD.inv(a[:, 0], a[:, 1], b[:, 0], b[:, 1])
    return float(np.max(np.abs(dist)))


def txt_file(path: Path, plots: list[list[tuple[int, float, float]]], *, header: dict[str, str] | None = None,
             encoding: str = "gbk", newline: str = "\r\n", names: list[str] | None = None) -> Path:
    """Write a 国土 TXT file; each plot is a list of (圈号, X north, Y east)."""
    fields = {"格式版本号": "1.01", "数据产生单位": "昌吉州自然资源局", "坐标系": "2000国家大地坐标系",
              "几度分带": "3", "投影类型": "高斯克吕格", "计量单位": "米", "精度": "0.01",
              "转换参数": "0,0,0,0,0,0,0"}
    fields.update(header or {})
    lines = ["[属性描述]"] + [f"{k}={v}" for k, v in fields.items() if v is not None] + ["[地块坐标]"]
    for index, plot in enumerate(plots):
        name = names[index] if names else f"地块{index + 1}"
        lines.append(f"{len(plot)},,{index + 1},{name},面,,工业用地,,@")
        lines += [f"J{i + 1},{ring},{x:.4f},{y:.4f}" for i, (ring, x, y) in enumerate(plot)]
    path.write_bytes((newline.join(lines) + newline).encode(encoding))
    return path


def gk_plot(lonlat: list[tuple[float, float]], epsg: int, ring: int = 1) -> list[tuple[int, float, float]]:
    """A 拐点 ring (圈号, X north, Y east) in ``epsg`` from lon/lat."""
    return [(ring, n, e) for e, n in to_projected(lonlat, epsg)]


def share_formulas(path: Path, column: str, *, results: dict[int, str] | None = None, drop_empty: bool = True) -> None:
    """Rewrite the formulas openpyxl wrote down ``column`` of the first sheet as one shared formula, as Excel
    and WPS store a formula filled down: the first cell (the master) keeps the text with ``t="shared"``, ``ref``
    and ``si``, the others hold ``<f t="shared" si="0"/>`` only. openpyxl writes an empty ``<v></v>`` after
    each formula: ``drop_empty`` leaves it out (no ``<v>`` at all, as other writers do). ``results`` gives the
    rows whose cell gets a saved result (``<v>text</v>``)."""
    import re
    import zipfile

    with zipfile.ZipFile(path) as archive:
        members = [(info, archive.read(info)) for info in archive.infolist()]
    cell = re.compile(rf'(<c r="{column}(\d+)"[^>]*>)<f>([^<]*)</f>(<v></v>|<v\s*/>)?')
    for index, (info, data) in enumerate(members):
        if info.filename != "xl/worksheets/sheet1.xml":
            continue
        text = data.decode("utf-8")
        rows = [int(m.group(2)) for m in cell.finditer(text)]
        assert rows, "no formula in the column"

        def shared(match: re.Match) -> str:
            row = int(match.group(2))
            value = f"<v>{(results or {})[row]}</v>" if row in (results or {}) else "" if drop_empty else "<v></v>"
            if row == rows[0]:
                formula = f'<f t="shared" ref="{column}{rows[0]}:{column}{rows[-1]}" si="0">{match.group(3)}</f>'
            else:
                formula = '<f t="shared" si="0"/>'
            return match.group(1) + formula + value

        members[index] = (info, cell.sub(shared, text).encode("utf-8"))
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
        for info, data in members:
            archive.writestr(info.filename, data)
