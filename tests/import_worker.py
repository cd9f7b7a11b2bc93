"""A separate process that imports a large layer, so that a test can kill it midway.

Usage: python tests/import_worker.py STORE N

The layer's features are the same for the same index whatever N, so a layer of N features shares the first M
with one of M imported before: the killed import both links stored features and adds new ones.
"""

from __future__ import annotations

import sys

import geopandas as gpd
import numpy as np
import shapely

from gis.store import open_store


def big_layer(n: int) -> gpd.GeoDataFrame:
    """``n`` small squares on a grid near Shihezi, as livestock-ban zones (square ``i`` the same for any ``n``)."""
    xs = 85.5 + (np.arange(n) % 500) * 0.002
    ys = 44.0 + (np.arange(n) // 500) * 0.002
    return gpd.GeoDataFrame(
        {"zone_id": [f"big-{i}" for i in range(n)], "name": ["禁养区"] * n, "attributes": [{}] * n},
        geometry=shapely.box(xs, ys, xs + 0.0015, ys + 0.0015),
        crs="EPSG:4326",
    )


if __name__ == "__main__":
    location, count = sys.argv[1], int(sys.argv[2])
    layer = big_layer(count)
    print("ready", flush=True)
    with open_store(location) as store:
        store.import_layer(layer, "livestock_ban_zone", source="big-import")
    print("done", flush=True)
