"""OGC API ``datetime`` as an instant or an interval, read by OWSLib from a real server on a store of several
versions and dated zones, against the zones in force day by day as the store's GeoPackage says (its tables read
with pandas and pyogrio, the in-force rule applied here on every day of the interval)."""

from __future__ import annotations

import datetime as dt
import sqlite3

import httpx
import pandas as pd
import pyogrio
import pytest
import shapely
from owslib.ogcapi.features import Features

from tests.api_support import start_server
from tests.zone_samples import sample_zones

KIND = "water_body"
#: Before and after every date of the store: what an open end of an interval reaches, day by day.
FIRST_DAY, LAST_DAY = dt.date(2015, 1, 1), dt.date(2029, 12, 31)

#: Versions in the order they are imported: (effective_from, zones as (id, valid_from, valid_to)). The fourth
#: takes effect between the first two: in force from 2020-06-01 until the second's 2022-01-01.
VERSIONS = [
    ("2018-01-01", [("A", None, None), ("B", None, "2020-01-01"), ("C", "2021-06-01", None),
                    ("D", "2019-03-01", "2019-09-01")]),
    ("2022-01-01", [("A", None, None), ("E", None, None), ("F", "2023-01-01", "2023-07-01")]),
    ("2024-01-01", [("E", None, None), ("G", None, "2025-06-01")]),
    ("2020-06-01", [("H", None, None), ("C", None, None)]),
]


def _zones(effective_from: str, rows: list[tuple]) -> pd.DataFrame:
    template = sample_zones(KIND).iloc[[0]]
    frames = []
    for i, (zone_id, start, end) in enumerate(rows):
        zone = template.copy()
        zone["zone_id"], zone["valid_from"], zone["valid_to"] = zone_id, start, end
        zone["name"] = f"{zone_id} of {effective_from}"  # tells which version a served feature comes from
        zone["geometry"] = [shapely.box(86 + i * 0.1, 44, 86.05 + i * 0.1, 44.05)]
        frames.append(zone)
    return pd.concat(frames, ignore_index=True)


@pytest.fixture(scope="module")
def store_path(tmp_path_factory):
    from gis.store import init_store, open_store

    path = tmp_path_factory.mktemp("datetime") / "store.gpkg"
    init_store(path).close()
    with open_store(path) as store:
        for effective_from, rows in VERSIONS:
            store.import_layer(_zones(effective_from, rows), KIND, source=f"{effective_from}.geojson",
                               effective_from=effective_from)
    return path


@pytest.fixture(scope="module")
def server(store_path, tmp_path_factory):
    server = start_server(tmp_path_factory, "datetime-api", store=str(store_path))
    yield server
    server.stop()


def _in_force_by_day(path) -> dict[dt.date, dict[str, str]]:
    """Day -> {zone id: name} of the features in force, from the GeoPackage's tables: the version in force is
    the one of the latest (effective_from, version) on or before the day; of its features, those with
    valid_from <= day < valid_to."""
    with sqlite3.connect(path) as con:
        versions = pd.read_sql(f"SELECT id, version, effective_from FROM layer_versions WHERE kind = '{KIND}'", con)
        links = pd.read_sql("SELECT version_id, fid FROM layer_features", con)
    zones = pyogrio.read_dataframe(path, layer="zones", columns=["zone_id", "name", "valid_from", "valid_to"],
                                   read_geometry=False, fid_as_index=True)
    members = links.merge(zones, left_on="fid", right_index=True)
    days = {}
    day = FIRST_DAY
    while day <= LAST_DAY:
        iso = day.isoformat()
        candidates = versions[versions["effective_from"] <= iso].sort_values(["effective_from", "version"])
        held = {}
        if len(candidates):
            chosen = members[members["version_id"] == candidates["id"].iloc[-1]]
            for row in chosen.itertuples():
                if (pd.isna(row.valid_from) or row.valid_from <= iso) and (pd.isna(row.valid_to) or iso < row.valid_to):
                    held[row.zone_id] = row.name
        days[day] = held
        day += dt.timedelta(days=1)
    return days


@pytest.fixture(scope="module")
def by_day(store_path):
    return _in_force_by_day(store_path)


def _expected(by_day, first: dt.date | None, last: dt.date | None) -> dict[str, str]:
    """Zone id -> name of the features in force some day from first to last (inclusive), as last seen."""
    seen = {}
    for day, held in sorted(by_day.items()):
        if (first is None or first <= day) and (last is None or day <= last):
            seen.update(held)
    return seen


@pytest.mark.parametrize(("value", "first", "last"), [
    ("2019-01-01/2019-12-31", "2019-01-01", "2019-12-31"),
    ("../2018-06-30", None, "2018-06-30"),
    ("/2017-12-31", None, "2017-12-31"),  # before every version: nothing
    ("2021-06-01/", "2021-06-01", None),
    ("2023-07-01/..", "2023-07-01", None),
    ("2019-09-01/2020-06-01", "2019-09-01", "2020-06-01"),  # D ends the day before (excluded); H starts the last day
    ("2020-01-01/2020-01-01", "2020-01-01", "2020-01-01"),  # B's valid_to is excluded
    ("2019-05-01T00:00:00Z/2022-01-01T08:00:00+08:00", "2019-05-01", "2022-01-01"),
    ("2022-01-01/2023-03-01", "2022-01-01", "2023-03-01"),
    ("2019-05-01", "2019-05-01", "2019-05-01"),
    ("2024-06-30T12:00:00+08:00", "2024-06-30", "2024-06-30"),
])
def test_datetime_selects_the_features_in_force_some_day_of_it(server, by_day, value, first, last):
    day = dt.date.fromisoformat
    want = _expected(by_day, first and day(first), last and day(last))
    page = Features(server.url + "/ogc").collection_items(KIND, datetime_=value, limit=100)
    got = {f["id"]: f["properties"]["name"] for f in page["features"]}
    assert got == want and page["numberMatched"] == len(want)
    for feature in page["features"]:  # each is readable alone with the same datetime
        one = httpx.get(f"{server.url}/ogc/collections/{KIND}/items/{feature['id']}", params={"datetime": value})
        assert one.json()["properties"]["name"] == feature["properties"]["name"]


@pytest.mark.parametrize("value", ["20240630", "2024-07-01/2024-06-30", "2024-06-30T12:00:00Z/2024-06-30T06:00:00Z",
                                   "2024-06-30T12:00:00", "2024-W26", "2024-06-31", "../..", "/", "2024-06-30/2024/07/01"])
def test_datetime_not_rfc3339_or_backwards_is_400_naming_it(server, value):
    answer = httpx.get(f"{server.url}/ogc/collections/{KIND}/items", params={"datetime": value})
    assert answer.status_code == 400 and answer.headers["content-type"].startswith("application/problem+json")
    body = answer.json()
    assert body["field"] == "datetime" and body["value"] == value
    zh, _, en = body["detail"].partition(" / ")
    assert "datetime" in zh and value in zh and "RFC 3339" in zh and "日期" in zh  # Chinese first
    assert "RFC 3339" in en and "interval" in en
    assert "2024-01-01/2024-06-30" in body["fix"] and "../2024-06-30" in body["fix"]



def test_temporal_extent_starts_on_the_first_day_anything_is_in_force(server, by_day):
    """The collection's temporal extent covers every day ``datetime`` finds features on, not only the current
    version's: no feature is in force the day before it starts, some are on its first day, and it stays open
    while features are in force on the last day looked at."""
    ogc = Features(server.url + "/ogc")
    [[start, end]] = ogc.collection(KIND)["extent"]["temporal"]["interval"]
    first = dt.date.fromisoformat(start.removesuffix("T00:00:00Z"))
    before = ogc.collection_items(KIND, datetime_=f"../{first - dt.timedelta(days=1)}", limit=100)
    assert before["numberMatched"] == 0
    assert ogc.collection_items(KIND, datetime_=first.isoformat(), limit=100)["numberMatched"] > 0
    assert first <= FIRST_DAY <= min(day for day, held in by_day.items() if held)  # before the versions imported here
    assert by_day[LAST_DAY] and end is None
