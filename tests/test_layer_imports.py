"""Layer imports over HTTP and the command line: a zipped shapefile (ecozone's own export) imports back to the
same content digest, a zip of several layers or none is refused naming what it holds, a realistic official
layer (more than the 20 MiB upload limit) imports with the default settings, a body over its limit is a 413
saying the size sent, and a .shp without its .shx is refused naming the .shx.
"""

from __future__ import annotations

import io
import zipfile
from pathlib import Path

import geopandas as gpd
import numpy as np
import pytest
import shapely
from typer.testing import CliRunner

from api.cli import app
from gis.layer_files import read_layer_file
from gis.store import create_store, open_store
from tests.api_support import WRITE_KEY, start_server

KIND = "ecological_redline"
SHIHEZI = (86.0411, 44.3058)
UPLOAD_MAX = 256 * 1024
IMPORT_MAX = 1024 * 1024
WRITE = {"X-API-Key": WRITE_KEY}


def _zones(count: int, vertices: int = 24, seed: int = 3) -> gpd.GeoDataFrame:
    """Star-shaped (so valid) polygons near 石河子 with ``vertices`` each, in a red-line delivery's columns."""
    rng = np.random.default_rng(seed)
    x, y = SHIHEZI
    angles = np.linspace(0, 2 * np.pi, vertices, endpoint=False)
    shapes = []
    for i in range(count):
        cx, cy = x + (i % 40) * 0.012, y + (i // 40) * 0.012
        radii = 0.003 + rng.random(vertices) * 0.002
        shapes.append(shapely.Polygon(np.column_stack([cx + radii * np.cos(angles), cy + radii * np.sin(angles)])))
    return gpd.GeoDataFrame({"编号": [f"HX-{i:05d}" for i in range(count)], "名称": [f"红线图斑{i}" for i in range(count)],
                             "备注": ["水源涵养"] * count}, geometry=shapes, crs="EPSG:4490")


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    """A server on a store with one red-line version, small limits: uploads 256 KiB, layer imports 1 MiB."""
    folder = tmp_path_factory.mktemp("imports-store")
    location = folder / "store.gpkg"
    create_store(location).close()
    _zones(30).to_file(folder / "红线.gpkg")
    runner = CliRunner()
    result = runner.invoke(app, ["layers", "import", str(folder / "红线.gpkg"), "--kind", KIND, "--store", str(location),
                                 "--coverage", "all", "--effective-from", "2023-01-01"], env={"ECOZONE_AUDIT": "0"})
    assert result.exit_code == 0, result.output
    api = start_server(tmp_path_factory, "imports", store=str(location), write_keys=WRITE_KEY,
                       upload_max_bytes=str(UPLOAD_MAX), import_max_bytes=str(IMPORT_MAX),
                       audit_db=str(folder / "audit.sqlite"))
    api.location = location
    yield api
    api.stop()


def _post(http, files, **data):
    return http.post(f"/layers/{KIND}/versions", files=files, data={"coverage": "all", **data}, headers=WRITE)


def test_an_exported_shapefile_zip_imports_back_to_the_same_digest(server, tmp_path):
    """``GET export.shp`` then ``POST`` of that zip: 201, and the new version's content digest is the exported
    version's (the store's own digest, and the export's header); ``ecozone layers import FILE.zip`` alike."""
    with server.client() as http:
        exported = http.get(f"/layers/{KIND}/export.shp", params={"version": "1", "encoding": "gbk"})
        assert exported.status_code == 200 and exported.headers["x-ecozone-round-trip"] == "exact"
        original = open_store(server.location).versions(KIND)[0].content_sha256
        assert exported.headers["x-ecozone-content-sha256"] == original
        answer = _post(http, {"file": ("exp1.zip", exported.content, "application/zip")},
                       effective_from="2024-06-01")
        assert answer.status_code == 201, answer.text
        body = answer.json()
        assert body["created"] is True and body["content_sha256"] == original and body["feature_count"] == 30
        assert body["source"] == "exp1.zip"
        listed = http.get(f"/layers/{KIND}/versions").json()
        assert [v["content_sha256"] for v in listed] == [original, original]
    archive = tmp_path / "exp1.zip"
    archive.write_bytes(exported.content)
    result = CliRunner().invoke(app, ["layers", "import", str(archive), "--kind", KIND, "--store",
                                      str(server.location), "--coverage", "all", "--effective-from", "2024-07-01",
                                      "--format", "json"], env={"ECOZONE_AUDIT": "0"})
    assert result.exit_code == 0, result.output
    assert open_store(server.location).versions(KIND)[-1].content_sha256 == original


def _zip(members: dict[str, bytes]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, data in members.items():
            archive.writestr(name, data)
    return buffer.getvalue()


def _shapefile(folder: Path, stem: str = "hx") -> dict[str, bytes]:
    _zones(3).to_file(folder / f"{stem}.shp", encoding="UTF-8")
    return {path.name: path.read_bytes() for path in sorted(folder.glob(f"{stem}.*"))}


def test_a_zip_of_several_layers_or_none_is_refused_naming_what_it_holds(server, tmp_path):
    parts = _shapefile(tmp_path)
    _zones(3).to_file(tmp_path / "另一图层.gpkg")
    several = _zip({**parts, "另一图层.gpkg": (tmp_path / "另一图层.gpkg").read_bytes()})
    none = _zip({"说明.txt": "红线".encode(), "hx.dbf": parts["hx.dbf"]})
    before = open_store(server.location).versions(KIND)
    with server.client() as http:
        for content, named in ((several, ["hx.shp", "另一图层.gpkg"]), (none, ["说明.txt", "hx.dbf"])):
            answer = _post(http, {"file": ("交付.zip", content, "application/zip")})
            assert answer.status_code == 400, answer.text
            problem = answer.json()
            assert problem["field"] == "file" and sorted(problem["value"].split("、")) == sorted(named), problem
            assert all(name in problem["detail"] for name in named)
            assert problem["detail"].startswith("压缩包中") and " / the zip holds " in problem["detail"]
            assert "form field" not in (problem["fix"] or "")
    assert open_store(server.location).versions(KIND) == before
    (tmp_path / "交付.zip").write_bytes(several)
    result = CliRunner().invoke(app, ["layers", "import", str(tmp_path / "交付.zip"), "--kind", KIND, "--store",
                                      str(server.location)], env={"ECOZONE_AUDIT": "0"})
    assert result.exit_code != 0 and "hx.shp" in result.output and "另一图层.gpkg" in result.output


def test_a_zip_is_read_through_the_screening_zip_limits(server, tmp_path):
    """A member that inflates past the limit of every zip ecozone reads (``MAX_INFLATED_BYTES``) is a 413 naming
    the file, before anything is imported; a member name climbing out of its folder is a 400."""
    from gis.sites.limits import MAX_INFLATED_BYTES

    bomb = io.BytesIO()
    with zipfile.ZipFile(bomb, "w", zipfile.ZIP_DEFLATED) as archive, archive.open("红线.geojson", "w") as member:
        for _ in range(MAX_INFLATED_BYTES // (1 << 20) + 1):
            member.write(b" " * (1 << 20))
    climbing = _zip({"../红线.geojson": _zones(3).to_json().encode()})
    with server.client() as http:
        answer = _post(http, {"file": ("炸弹.zip", bomb.getvalue(), "application/zip")})
        assert answer.status_code == 413 and answer.json()["field"] == "file", answer.text
        assert f"{MAX_INFLATED_BYTES:,}" in answer.json()["detail"]
        answer = _post(http, {"file": ("越界.zip", climbing, "application/zip")})
        assert answer.status_code == 400 and answer.json()["field"] == "file", answer.text


def test_a_zipped_shapefile_whose_sidecars_differ_in_case_is_read(tmp_path):
    parts = _shapefile(tmp_path)
    archive = tmp_path / "delivery.zip"
    archive.write_bytes(_zip({("HX.SHP" if name.endswith(".shp") else name): data for name, data in parts.items()}))
    zones, _ = read_layer_file(archive, KIND)
    assert zones["name"].tolist() == ["红线图斑0", "红线图斑1", "红线图斑2"]
    # zipped on a Mac: Finder's __MACOSX/._ resource forks beside every member are no second layer
    mac = tmp_path / "mac.zip"
    mac.write_bytes(_zip({**parts, **{f"__MACOSX/._{name}": b"\x00\x05\x16\x07" for name in parts}}))
    zones, _ = read_layer_file(mac, KIND)
    assert len(zones) == 3


def test_a_shapefile_without_its_shx_is_refused_naming_the_shx(server, tmp_path):
    parts = _shapefile(tmp_path)
    with server.client() as http:
        for files in ([("file", (name, data)) for name, data in parts.items() if not name.endswith(".shx")],
                      {"file": ("hx.zip", _zip({n: d for n, d in parts.items() if not n.endswith(".shx")}))}):
            answer = _post(http, files)
            assert answer.status_code == 400, answer.text
            problem = answer.json()
            assert (problem["field"], problem["value"]) == ("file", "hx.shp"), problem
            assert problem["detail"].startswith("该 shapefile 缺少 .shx 文件（hx.shx）")
            assert "SHAPE_RESTORE_SHX" not in answer.text and ".shx" in problem["fix"]
            assert problem["fix"].index("一并发送") < problem["fix"].index("send it with")


def test_a_body_over_its_limit_is_413_saying_the_size_sent(server):
    """A layer import with a write key has the import limit, not the upload limit; over it, the 413's value is
    the bytes sent (the Content-Length), or "more than N" for a body cut off before its end."""
    with server.client() as http:
        between = b"x" * (UPLOAD_MAX + 100_000)  # over the upload limit, under the import limit: read, and refused
        answer = _post(http, {"file": ("a.geojson", between)})  # as a layer file, not as too large
        assert answer.status_code == 400, answer.text
        unkeyed = http.post(f"/layers/{KIND}/versions", files={"file": ("a.geojson", between)})
        assert unkeyed.status_code == 413 and unkeyed.json()["value"] == int(unkeyed.request.headers["content-length"])
        assert f"{UPLOAD_MAX:,}" in unkeyed.json()["detail"] and "ECOZONE_UPLOAD_MAX_BYTES" in unkeyed.json()["fix"]

        big = _post(http, {"file": ("a.geojson", b"x" * (IMPORT_MAX + 1))})
        assert big.status_code == 413, big.text
        problem = big.json()
        sent = int(big.request.headers["content-length"])
        assert problem["field"] == "body" and problem["value"] == sent > IMPORT_MAX
        assert f"{sent:,}" in problem["detail"] and f"{IMPORT_MAX:,}" in problem["detail"]
        assert "ECOZONE_IMPORT_MAX_BYTES" in problem["fix"]

        def chunks():  # a multipart body without a Content-Length, its file part longer than the limit
            yield b'--b\r\nContent-Disposition: form-data; name="file"; filename="a.geojson"\r\n\r\n'
            for _ in range(40):
                yield b" " * 65536

        cut = http.post(f"/layers/{KIND}/versions", content=chunks(),
                        headers={**WRITE, "content-type": "multipart/form-data; boundary=b"})
        assert cut.status_code == 413, cut.text
        value = cut.json()["value"]
        assert value.startswith("more than ") and int(value.removeprefix("more than ")) > IMPORT_MAX
        assert f"{IMPORT_MAX:,}" in cut.json()["detail"]


def test_a_screening_upload_whose_name_loses_its_extension_is_400_at_once(server):
    with server.client() as http:
        answer = http.post("/screen", files={"file": ("..csv", "项目名称,经度,纬度\n甲,86.04,44.30\n".encode())})
        assert answer.status_code == 400, answer.text
        assert (answer.json()["field"], answer.json()["value"]) == ("file", "..csv")


def test_an_official_layer_larger_than_the_upload_limit_imports_with_the_default_settings(tmp_path,
                                                                                          tmp_path_factory):
    """About 25 MB of GeoPackage (300 polygons of 5,200 vertices), more than the default 20 MiB upload limit:
    201 with the default limits, the features as sent."""
    path = tmp_path / "红线2024.gpkg"
    _zones(300, vertices=5200, seed=8).to_file(path)
    size = path.stat().st_size
    assert 20 * 1024 * 1024 < size < 30 * 1024 * 1024, size
    location = tmp_path / "store.gpkg"
    create_store(location).close()
    api = start_server(tmp_path_factory, "imports-default", store=str(location), write_keys=WRITE_KEY,
                       audit="0")
    try:
        with api.client() as http, open(path, "rb") as handle:
            answer = _post(http, {"file": (path.name, handle, "application/geopackage+sqlite3")})
        assert answer.status_code == 201, answer.text
        assert answer.json()["feature_count"] == 300
    finally:
        api.stop()
    stored = open_store(location).read(KIND)
    assert sum(len(g.exterior.coords) for g in stored.geometry.explode()) == 300 * 5201
