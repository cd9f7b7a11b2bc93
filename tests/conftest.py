"""Shared fixtures: a real PostgreSQL/PostGIS server started for the test session.

The server runs from Debian's packages (postgresql + postgresql-15-postgis-3), in a temporary data
directory on a free loopback port; as root it runs under the ``postgres`` account, as PostgreSQL
refuses root. Set ECOZONE_TEST_POSTGRES_URL to use a server you already run instead.
"""

from __future__ import annotations

import atexit
import glob
import os
import shutil
import socket
import subprocess
import tempfile
import uuid
from pathlib import Path

import pytest

ARTIFACTS = Path(__file__).parent / "_artifacts"

# The audit trail and the batch jobs default to the user's data folder (XDG): tests, and the commands and
# servers they start, keep theirs in a folder of their own.
_DATA_HOME = tempfile.mkdtemp(prefix="ecozone-test-data-")
os.environ["XDG_DATA_HOME"] = _DATA_HOME
atexit.register(shutil.rmtree, _DATA_HOME, ignore_errors=True)


def _pg_bin() -> Path:
    candidates = sorted(glob.glob("/usr/lib/postgresql/*/bin/pg_ctl"), reverse=True)
    if not candidates:
        pytest.fail(
            "PostgreSQL is not installed: apt-get install postgresql postgresql-15-postgis-3 "
            "(or set ECOZONE_TEST_POSTGRES_URL, or deselect with -m 'not postgis')"
        )
    return Path(candidates[0]).parent


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _run(args: list[str], as_postgres: bool) -> None:
    if as_postgres:
        args = ["runuser", "-u", "postgres", "--", *args]
    subprocess.run(args, check=True, capture_output=True, text=True)


@pytest.fixture(scope="session")
def postgres_server():
    """URL of a PostgreSQL server with PostGIS available, running for the whole session."""
    given = os.environ.get("ECOZONE_TEST_POSTGRES_URL")
    if given:
        yield given
        return
    bin_dir = _pg_bin()
    as_postgres = os.geteuid() == 0
    workdir = Path(tempfile.mkdtemp(prefix="ecozone-pg-"))
    data_dir, sock_dir = workdir / "data", workdir / "sock"
    sock_dir.mkdir()
    if as_postgres:
        shutil.chown(workdir, "postgres")
        shutil.chown(sock_dir, "postgres")
    port = _free_port()
    _run([str(bin_dir / "initdb"), "-D", str(data_dir), "-U", "ecozone", "--auth=trust", "-E", "UTF8",
          "--locale=C.UTF-8"], as_postgres)
    options = f"-p {port} -k {sock_dir} -c listen_addresses=127.0.0.1 -c fsync=off"
    _run([str(bin_dir / "pg_ctl"), "-D", str(data_dir), "-o", options, "-l", str(workdir / "log"), "-w",
          "start"], as_postgres)
    try:
        yield f"postgresql://ecozone@127.0.0.1:{port}/postgres"
    finally:
        _run([str(bin_dir / "pg_ctl"), "-D", str(data_dir), "-m", "immediate", "stop"], as_postgres)
        shutil.rmtree(workdir, ignore_errors=True)


@pytest.fixture
def postgres_db(postgres_server):
    """A fresh, empty database on the session server; its URL."""
    import psycopg

    name = "t_" + uuid.uuid4().hex[:12]
    with psycopg.connect(postgres_server, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    yield postgres_server.rsplit("/", 1)[0] + "/" + name
    with psycopg.connect(postgres_server, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE "{name}" WITH (FORCE)')


@pytest.fixture(scope="session")
def artifacts() -> Path:
    """Folder for files a person may want to look at after the run (screenshots, reports)."""
    ARTIFACTS.mkdir(exist_ok=True)
    return ARTIFACTS


@pytest.fixture(scope="session")
def store():
    """The embedded default dataset, opened once for the session (read-only)."""
    from gis.store import open_store

    with open_store() as opened:
        yield opened
