"""The HTTP API under test: ``ecozone serve`` in a subprocess on a free loopback port.

A server in a thread of the test process made pyogrio hang (STYLE.md §9), and a subprocess is what users
run, so every API test talks real HTTP to a real uvicorn.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

REPO = Path(__file__).resolve().parents[1]
WRITE_KEY = "test-write-key"
READ_KEY = "test-read-key"
_STARTUP_POLLS = 240  # × 0.25 s: the store and the overlap engine are prepared at startup


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class ApiServer:
    """One ``ecozone serve`` process; ``restart`` keeps the port, the settings and the jobs folder."""

    def __init__(self, jobs_dir: Path, log: Path, workers: int = 1, log_level: str = "warning", **settings: str) -> None:
        self.port = free_port()
        self.workers = workers
        self.log_level = log_level  # "info" logs every request: what a test counts them by
        self.url = f"http://127.0.0.1:{self.port}"
        self.jobs_dir = jobs_dir
        self.log = log
        self.env = {**os.environ, "ECOZONE_JOBS_DIR": str(jobs_dir), "PYTHONPATH": str(REPO),
                    **{f"ECOZONE_{k.upper()}": v for k, v in settings.items()}}
        self.process: subprocess.Popen | None = None

    def start(self) -> ApiServer:
        with open(self.log, "ab") as out:
            self.process = subprocess.Popen(
                [sys.executable, "-c", "from api.cli import main; main()", "serve", "--host", "127.0.0.1",
                 "--port", str(self.port), "--workers", str(self.workers), "--log-level", self.log_level],
                env=self.env, cwd=REPO, stdout=out, stderr=subprocess.STDOUT,
            )
        for _ in range(_STARTUP_POLLS):
            if self.process.poll() is not None:
                raise RuntimeError(f"the server exited ({self.process.returncode}):\n{self.log.read_text()[-3000:]}")
            try:
                httpx.get(f"{self.url}/ogc/conformance", timeout=5)  # any answer: the app is up (keys may apply)
                return self
            except httpx.TransportError:
                time.sleep(0.25)
        self.stop()
        raise RuntimeError(f"the server did not come up:\n{self.log.read_text()[-3000:]}")

    def kill(self) -> None:
        """Stop the server the hard way (SIGKILL), as a crash or a power cut would."""
        self.process.send_signal(signal.SIGKILL)
        self.process.wait(timeout=30)

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.kill()

    def client(self, **kwargs) -> httpx.Client:
        return httpx.Client(base_url=self.url, timeout=120, **kwargs)


def start_server(tmp_path_factory: pytest.TempPathFactory, name: str, log_level: str = "warning",
                 **settings: str) -> ApiServer:
    folder = tmp_path_factory.mktemp(name)
    return ApiServer(folder / "jobs", folder / "server.log", log_level=log_level, **settings).start()


@pytest.fixture(scope="session")
def api_server(tmp_path_factory):
    """The server on the embedded dataset, writes enabled with ``WRITE_KEY`` (the store itself is read-only)."""
    server = start_server(tmp_path_factory, "api", write_keys=WRITE_KEY, upload_max_bytes=str(2 * 1024 * 1024),
                          max_vertices="5000", ogc_limit_max="50")
    yield server
    server.stop()


@pytest.fixture(scope="session")
def client(api_server):
    with api_server.client() as http:
        yield http


def xlsx_bytes(rows: list[list[str]]) -> bytes:
    """A minimal .xlsx of inline-string cells, written part by part: unlike a spreadsheet library's writer, it
    keeps cells longer than Excel's 32,767 characters, as a hostile file may have them."""
    import io
    import zipfile
    from xml.sax.saxutils import escape

    ns = "http://schemas.openxmlformats.org"
    head = '<?xml version="1.0" encoding="UTF-8"?>'

    def column(j: int) -> str:
        return "" if j < 0 else column(j // 26 - 1) + chr(65 + j % 26)

    body = "".join(f'<row r="{i + 1}">' + "".join(
        f'<c r="{column(j)}{i + 1}" t="inlineStr"><is><t>{escape(str(value))}</t></is></c>'
        for j, value in enumerate(row)) + "</row>" for i, row in enumerate(rows))
    parts = {
        "[Content_Types].xml": f'{head}<Types xmlns="{ns}/package/2006/content-types">'
        '<Default Extension="rels" ContentType="application/vnd.openxmlformats-package.relationships+xml"/>'
        '<Default Extension="xml" ContentType="application/xml"/>'
        '<Override PartName="/xl/workbook.xml" '
        'ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet.main+xml"/>'
        '<Override PartName="/xl/worksheets/sheet1.xml" '
        'ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.worksheet+xml"/></Types>',
        "_rels/.rels": f'{head}<Relationships xmlns="{ns}/package/2006/relationships"><Relationship Id="rId1" '
        f'Type="{ns}/officeDocument/2006/relationships/officeDocument" Target="xl/workbook.xml"/></Relationships>',
        "xl/workbook.xml": f'{head}<workbook xmlns="{ns}/spreadsheetml/2006/main" '
        f'xmlns:r="{ns}/officeDocument/2006/relationships"><sheets><sheet name="Sheet1" sheetId="1" r:id="rId1"/>'
        '</sheets></workbook>',
        "xl/_rels/workbook.xml.rels": f'{head}<Relationships xmlns="{ns}/package/2006/relationships"><Relationship '
        f'Id="rId1" Type="{ns}/officeDocument/2006/relationships/worksheet" Target="worksheets/sheet1.xml"/>'
        '</Relationships>',
        "xl/worksheets/sheet1.xml": f'{head}<worksheet xmlns="{ns}/spreadsheetml/2006/main"><sheetData>{body}'
        '</sheetData></worksheet>',
    }
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, text in parts.items():
            archive.writestr(name, text)
    return out.getvalue()


def nested_wkt(depth: int) -> str:
    """A point inside ``depth`` nested GEOMETRYCOLLECTIONs: a recursive parser's stack overflows on it."""
    return "GEOMETRYCOLLECTION(" * depth + "POINT (86.04 44.3)" + ")" * depth
