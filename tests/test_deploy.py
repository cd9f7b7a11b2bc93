"""The deployment files in ``api/deploy``: what can be checked without Docker or systemd running them.

The Dockerfile's COPY sources exist, it runs as a non-root user on a Debian base, and its CMD, run here as it
stands (on a free loopback port), serves an app whose HEALTHCHECK command then passes, and fails once the
server is gone. The compose file's commands parse as ``ecozone`` invocations, its ECOZONE_* variables are
settings, and its store-initialising command creates a PostGIS store once and leaves it alone the next time.
The systemd unit passes ``systemd-analyze verify`` and starts ``ecozone serve``; its example environment file
is valid settings.
"""

from __future__ import annotations

import configparser
import json
import os
import shlex
import shutil
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest
import typer.main
import yaml

from api.cli import app as cli_app
from api.settings import Settings
from tests.api_support import REPO, free_port

DEPLOY = REPO / "api" / "deploy"
SETTINGS = {f"ECOZONE_{name.upper()}" for name in Settings.model_fields}


def _dockerfile() -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) in order, continuation lines joined and comments dropped."""
    lines, current = [], ""
    for raw in (DEPLOY / "Dockerfile").read_text().splitlines():
        if raw.strip().startswith("#") or not raw.strip():
            continue
        current += raw.rstrip().removesuffix("\\") + " "
        if not raw.rstrip().endswith("\\"):
            lines.append(current.strip())
            current = ""
    return [(line.split(None, 1)[0].upper(), line.split(None, 1)[1]) for line in lines]


def _parses(args: list[str]) -> None:
    """``args`` (after the program name) parse as an ``ecozone`` command line: a typo in an option fails."""
    assert args, "no command"
    command = typer.main.get_command(cli_app)
    with command.make_context("ecozone", list(args), resilient_parsing=False) as context:
        sub = command.get_command(context, args[0])
        assert sub is not None, args
        sub.make_context(args[0], list(args[1:]), parent=context).close()


def _env_of(instructions) -> dict[str, str]:
    env: dict[str, str] = {}
    for name, arguments in instructions:
        if name == "ENV":
            env.update(pair.split("=", 1) for pair in shlex.split(arguments))
    return env


def test_the_dockerfile_copies_what_exists_and_runs_unprivileged_on_debian():
    instructions = _dockerfile()
    assert instructions[0][0] == "FROM" and "bookworm" in instructions[0][1]  # Debian 12
    copies = [shlex.split(arguments)[:-1] for name, arguments in instructions if name == "COPY"]
    assert copies
    for sources in copies:
        for source in sources:
            assert (REPO / source).exists(), source
    users = [arguments for name, arguments in instructions if name == "USER"]
    assert users and users[-1] not in {"root", "0"}
    assert any(name == "VOLUME" for name, _ in instructions)
    env = _env_of(instructions)
    assert {key for key in env if key.startswith("ECOZONE_")} <= SETTINGS
    assert [name for name, _ in instructions].count("CMD") == 1


def test_the_dockerfile_cmd_serves_and_its_healthcheck_passes_then_fails(tmp_path):
    instructions = _dockerfile()
    command = json.loads(next(arguments for name, arguments in instructions if name == "CMD"))
    check = next(arguments for name, arguments in instructions if name == "HEALTHCHECK")
    probe = json.loads(check[check.index("CMD") + 3:].strip())
    assert command[:2] == ["ecozone", "serve"]
    _parses(command[1:])
    port = free_port()
    # As it stands, with the port free here, the address loopback, and the volume a temporary folder.
    args = [arg.replace("0.0.0.0", "127.0.0.1") for arg in command[1:]]
    args[args.index("--port") + 1] = str(port)
    probe = [part.replace("8000", str(port)) for part in probe]
    env = {**os.environ, "PYTHONPATH": str(REPO),
           **{key: value.replace("/var/lib/ecozone", str(tmp_path)) for key, value in _env_of(instructions).items()}}
    log = tmp_path / "server.log"
    with open(log, "wb") as out:
        server = subprocess.Popen([sys.executable, "-c", "from api.cli import main; main()", *args], env=env,
                                  cwd=tmp_path, stdout=out, stderr=out)
    try:
        for _ in range(480):
            assert server.poll() is None, log.read_text()
            try:
                httpx.get(f"http://127.0.0.1:{port}/health", timeout=5)
                break
            except httpx.TransportError:
                time.sleep(0.25)
        passed = subprocess.run([sys.executable, *probe[1:]], env=env, capture_output=True, timeout=60)
        assert probe[0] == "python" and passed.returncode == 0, passed.stderr
        assert (tmp_path / "jobs").is_dir()  # the jobs went to the volume
        assert all(json.loads(line) for line in log.read_text().splitlines() if line.strip())  # JSON logs
    finally:
        server.terminate()
        server.wait(timeout=60)
    failed = subprocess.run([sys.executable, *probe[1:]], env=env, capture_output=True, timeout=60)
    assert failed.returncode != 0


def _compose() -> dict:
    return yaml.safe_load((DEPLOY / "compose.yaml").read_text())


def test_compose_runs_ecozone_on_postgis_without_a_password_in_any_url():
    services = _compose()["services"]
    assert {"postgis", "ecozone", "init-store"} <= set(services)
    built = services["init-store"]["build"]
    assert (DEPLOY / built["context"] / built["dockerfile"]).resolve() == (DEPLOY / "Dockerfile").resolve()
    assert services["postgis"]["healthcheck"]["test"]
    for name in ("ecozone", "init-store"):
        env = services[name]["environment"]
        assert {key for key in env if key.startswith("ECOZONE_")} <= SETTINGS
        store = env["ECOZONE_STORE"]
        assert store.startswith("postgresql://") and ":" not in store.split("//", 1)[1].split("@", 1)[0]
    assert services["ecozone"]["depends_on"]["init-store"]["condition"] == "service_completed_successfully"
    _parses(services["ecozone"]["command"][1:])


@pytest.mark.postgis
def test_the_compose_init_creates_the_store_once(postgres_db):
    from gis.store import open_store

    script = _compose()["services"]["init-store"]["command"][2].replace("$$", "$")  # compose's escape of $
    env = {**os.environ, "PYTHONPATH": str(REPO), "ECOZONE_STORE": postgres_db, "ECOZONE_AUDIT": "0",
           "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}"}
    if not shutil.which("ecozone", path=env["PATH"]):
        pytest.fail("the ecozone command is not installed (pip install -e .)")
    first = subprocess.run(["sh", "-c", script], env=env, capture_output=True, text=True, timeout=600)
    assert first.returncode == 0, first.stderr
    with open_store(postgres_db) as store:
        count = len(store.versions())
    assert count > 0
    again = subprocess.run(["sh", "-c", script], env=env, capture_output=True, text=True, timeout=600)
    assert again.returncode == 0, again.stderr
    with open_store(postgres_db) as store:
        assert len(store.versions()) == count


def test_the_systemd_unit_verifies_and_serves():
    unit = configparser.ConfigParser(strict=False, interpolation=None)
    unit.optionxform = str
    unit.read(DEPLOY / "ecozone.service")
    service = unit["Service"]
    assert service["User"] not in {"root", "0"}
    program, *args = shlex.split(service["ExecStart"])
    assert program.endswith("/ecozone")
    _parses(args)
    analyze = shutil.which("systemd-analyze")
    if analyze is None:
        pytest.skip("systemd-analyze is not installed")
    ecozone = shutil.which("ecozone") or pytest.fail("the ecozone command is not installed (pip install -e .)")
    here = DEPLOY / "ecozone.service"
    copy = Path(os.environ.get("TMPDIR", "/tmp")) / f"ecozone-verify-{os.getpid()}.service"
    copy.write_text(here.read_text().replace(program, ecozone))
    try:
        verified = subprocess.run([analyze, "verify", str(copy)], capture_output=True, text=True, timeout=120)
    finally:
        copy.unlink()
    assert verified.returncode == 0 and not verified.stderr.strip(), verified.stderr


def test_the_example_environment_file_is_valid_settings():
    settings = Settings(_env_file=DEPLOY / "ecozone.env.example")
    keys = [line.split("=", 1)[0] for line in (DEPLOY / "ecozone.env.example").read_text().splitlines()
            if line.strip() and not line.startswith("#")]
    assert {key for key in keys if key.startswith("ECOZONE_")} <= SETTINGS
    assert settings.store.startswith("postgresql://") and settings.write_keys
