"""Geodesic areas of many geometries at once (``gis.crs.geodesic_areas_m2``, measured on the authalic sphere
where edges are short) against pyproj's geodesic area of each geometry through its own geometry interface."""

from __future__ import annotations

import numpy as np
import pytest
import shapely
from pyproj import Geod

from gis.crs import AUTHALIC_EDGE_DEG, geodesic_areas_m2
from tests.large_layer import redline_polygons

WGS84 = Geod(ellps="WGS84")


def _pyproj(geoms) -> np.ndarray:
    """pyproj's areas; it subtracts a hole only if it winds against its shell, so the rings are oriented first."""
    return np.array([0.0 if g is None else abs(WGS84.geometry_area_perimeter(shapely.orient_polygons(g))[0])
                     for g in geoms])


def test_areas_of_a_real_dataset_agree_with_pyproj(store):
    zones = store.snapshot("2024-06-30").zones
    geoms = zones.geometry.values
    got, want = geodesic_areas_m2(geoms), _pyproj(geoms)
    polygonal = want > 0
    assert polygonal.sum() > 100
    assert np.allclose(got, want, rtol=1e-7, atol=2.0)


def test_areas_of_generated_patches_with_holes_and_parts_agree_with_pyproj():
    polygons = redline_polygons(400, seed=3)
    pairs = [shapely.MultiPolygon([a, b]) for a, b in zip(polygons[::2], polygons[1::2])]
    # wound either way: areas do not depend on orientation
    flipped = [shapely.reverse(p) for p in polygons[:50]]
    geoms = np.array([*polygons, *pairs, *flipped], dtype=object)
    assert any(len(p.interiors) for p in polygons)
    assert np.allclose(geodesic_areas_m2(geoms), _pyproj(geoms), rtol=1e-7, atol=2.0)  # pyproj's own rounding: about 0.1 m² a vertex


@pytest.mark.parametrize("size", [0.001, 0.3, 2.0, 8.0])
def test_long_edges_and_small_parcels_agree_with_pyproj(size):
    """Boxes whose edges are longer than AUTHALIC_EDGE_DEG (measured as geodesic polygons) and smaller ones."""
    rng = np.random.default_rng(int(size * 1000))
    corners = np.column_stack([rng.uniform(75, 90, 30), rng.uniform(36, 46, 30)])
    boxes = shapely.box(corners[:, 0], corners[:, 1], corners[:, 0] + size, corners[:, 1] + size / 2)
    densified = shapely.segmentize(boxes, AUTHALIC_EDGE_DEG / 3)
    geoms = np.concatenate([boxes, densified])
    assert np.allclose(geodesic_areas_m2(geoms), _pyproj(geoms), rtol=1e-7, atol=2.0)  # pyproj's own rounding: about 0.1 m² a vertex


def test_points_lines_empties_and_collections():
    square = shapely.box(86.0, 44.0, 86.01, 44.01)
    geoms = np.array([None, shapely.Point(86, 44), shapely.LineString([(86, 44), (87, 45)]), shapely.Polygon(),
                      shapely.GeometryCollection([square, shapely.Point(1, 1), shapely.MultiPolygon([square])]),
                      square], dtype=object)
    got = geodesic_areas_m2(geoms)
    one = abs(WGS84.geometry_area_perimeter(square)[0])
    assert got[:4].tolist() == [0.0, 0.0, 0.0, 0.0]
    assert got[4] == pytest.approx(2 * one, rel=1e-9) and got[5] == pytest.approx(one, rel=1e-9)
    assert geodesic_areas_m2([]).shape == (0,)
