"""The audit trail: checks from the command line and the API, a batch and an import through the API, keys
recorded by name with the secret nowhere, the chain of digests, tampering found, and replays after a new
layer version."""

from __future__ import annotations

import hashlib
import hmac
import io
import json
import os
import sqlite3
import stat
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from typer.testing import CliRunner

from api.app import create_app
from api.cli import app
from api.settings import Settings
from gis.audit import AuditTrail, read_key_file
from gis.check import CheckResult
from gis.errors import AuditError, StoreError
from gis.store import open_store
from tests.api_support import REPO, free_port
from tests.test_report import FACTS, SAMPLE, _import_without_shihezi_built_up, _rename_zone

runner = CliRunner()

READ_SECRET, WRITE_SECRET, BARE_SECRET = "alice-s3cret-6f1d", "ops-w2ite-91ac", "bare-k3y-77e0"


def test_cli_checks_are_recorded_unless_turned_off(tmp_path):
    db = tmp_path / "audit.sqlite"
    env = {"ECOZONE_AUDIT_DB": str(db)}
    done = runner.invoke(app, ["check", str(SAMPLE), *FACTS, "--format", "json"], env=env)
    assert done.exit_code == 0, done.output
    runner.invoke(app, ["check", str(SAMPLE), *FACTS, "--no-audit"], env=env)
    runner.invoke(app, ["check", "86.0413,44.3056"], env={**env, "ECOZONE_AUDIT": "0"})
    [record] = AuditTrail(db).records()
    assert (record.action, record.interface) == ("check", "cli") and record.key_name.startswith("user:")
    assert record.input_sha256 == hashlib.sha256(SAMPLE.read_bytes()).hexdigest()
    result = CheckResult.model_validate_json(done.stdout)
    assert record.verdict.startswith(result.verdict_label)
    in_force = open_store().in_force(result.as_of)
    assert record.layers == {kind: {"version": number, "sha256": in_force[kind].content_sha256}
                             for kind, number in result.overlap.versions.items()}
    # What a replay needs: the site as read, the facts, the options.
    assert record.details["site"]["geometry"] == result.site.geometry
    assert record.details["project"]["project"]["boiler_tph"] == 20

    listed = runner.invoke(app, ["audit", "--db", str(db), "--format", "json", "--since", result.as_of.isoformat()])
    assert [entry["id"] for entry in json.loads(listed.stdout)] == [record.id]
    assert json.loads(runner.invoke(app, ["audit", "--db", str(db), "--format", "json", "--since", "2999-01-01"])
                      .stdout) == []


def _screen_csv() -> bytes:
    return "项目名称,经度,纬度\n石河子锅炉,86.0413,44.3056\n乌鲁木齐某厂,87.6168,43.8256\n".encode("gbk")


@pytest.fixture
def keyed_server(tmp_path):
    """An app with named read and write keys (and a bare one) on a writable copy of the store."""
    copy = tmp_path / "store.gpkg"
    assert runner.invoke(app, ["layers", "init", str(copy)]).exit_code == 0
    db = tmp_path / "audit.sqlite"
    settings = Settings(store=str(copy), jobs_dir=tmp_path / "jobs", audit_db=db, job_workers=1,
                        read_keys=[f"alice:{READ_SECRET}", BARE_SECRET], write_keys=[f"ops:{WRITE_SECRET}"])
    with TestClient(create_app(settings)) as client:
        yield client, db, copy, tmp_path


def test_api_records_checks_batches_and_imports_by_key_name(keyed_server):
    client, db, copy, tmp_path = keyed_server
    body = {"site": "86.0413,44.3056", "project": {"industry": "热力", "boiler_tph": 20, "fuel": "coal"}}
    answers = [client.post("/check", json=body, headers={"X-API-Key": READ_SECRET}),
               client.post("/check", json=body),
               client.post("/check", json=body, headers={"X-API-Key": BARE_SECRET})]
    assert [a.status_code for a in answers] == [200, 200, 200]
    job = client.post("/screen", files={"file": ("permits.csv", _screen_csv(), "text/csv")},
                      headers={"X-API-Key": WRITE_SECRET})
    assert job.status_code == 202, job.text
    for _ in range(600):  # until the job has run (bounded)
        if client.get(f"/screen/{job.json()['id']}").json()["status"] in ("succeeded", "failed"):
            break
        time.sleep(0.1)
    frame = open_store(copy).read("livestock_ban_zone")
    layer = io.BytesIO()
    frame.assign(**{key: [a.get(key) for a in frame["attributes"]]
                    for key in sorted({k for a in frame["attributes"] for k in a})}) \
        .drop(columns=["attributes", "kind", "valid_from", "valid_to"]).to_file(layer, driver="GeoJSON")
    imported = client.post("/layers/livestock_ban_zone/versions", headers={"X-API-Key": WRITE_SECRET},
                           files={"file": ("禁养区.geojson", layer.getvalue(), "application/geo+json")},
                           data={"geometry_source": "illustrative"})
    assert imported.status_code == 201, imported.text

    listing = client.get("/audit", headers={"X-API-Key": READ_SECRET})
    assert listing.status_code == 200, listing.text
    records = listing.json()["records"]
    assert [(r["action"], r["key_name"]) for r in records] == [
        ("check", "alice"), ("check", None), ("check", "key-" + hashlib.sha256(BARE_SECRET.encode()).hexdigest()[:8]),
        ("batch", "ops"), ("batch_result", None), ("import", "ops")]
    check = records[0]
    assert check["interface"] == "api" and check["input_sha256"] == hashlib.sha256(b"86.0413,44.3056").hexdigest()
    assert check["verdict"].startswith(CheckResult.model_validate(answers[1].json()).verdict_label)
    assert records[3]["input_sha256"] == hashlib.sha256(_screen_csv()).hexdigest()
    results = {hashlib.sha256(client.get(f"/screen/{job.json()['id']}/result.{fmt}").content).hexdigest()
               for fmt in ("xlsx", "csv", "geojson")}
    assert records[4]["result_sha256"] in results and records[4]["verdict"]
    version = imported.json()
    assert records[5]["result_sha256"] == version["content_sha256"]
    assert records[5]["layers"] == {"livestock_ban_zone": {"version": version["version"],
                                                           "sha256": version["content_sha256"]}}
    chain = client.get("/audit/chain", headers={"X-API-Key": WRITE_SECRET}).json()
    assert chain["intact"] is True and chain["last_digest"] == records[-1]["digest"]
    kept = client.get("/audit/chain", params={"kept": records[2]["digest"][:16]}, headers={"X-API-Key": READ_SECRET})
    assert kept.json()["intact"] is True and kept.json()["kept_at"] == records[2]["id"]
    gone = client.get("/audit/chain", params={"kept": "0" * 64}, headers={"X-API-Key": READ_SECRET}).json()
    assert gone["intact"] is False and "0" * 64 in gone["reason"]
    bad = client.get("/audit/chain", params={"kept": "xyz"}, headers={"X-API-Key": READ_SECRET})
    assert bad.status_code == 400 and bad.json()["field"] == "kept"

    # The secrets are nowhere: not in the database (nor its write-ahead log), not in any answer.
    answers_text = listing.text + client.get("/audit?details=true", headers={"X-API-Key": READ_SECRET}).text
    stored = b"".join(path.read_bytes() for path in tmp_path.glob("audit.sqlite*"))
    for secret in (READ_SECRET, WRITE_SECRET, BARE_SECRET):
        assert secret.encode() not in stored and secret not in answers_text


def test_audit_needs_a_key(keyed_server, tmp_path):
    client = keyed_server[0]
    assert client.get("/audit").status_code == 401
    assert client.get("/audit", headers={"X-API-Key": "wrong"}).status_code == 403
    settings = Settings(jobs_dir=tmp_path / "jobs2", audit_db=tmp_path / "other.sqlite")
    with TestClient(create_app(settings)) as open_client:  # reads open, no key configured: not served
        assert open_client.get("/audit").status_code == 403


def test_the_chain_verifies_and_a_changed_row_is_found(tmp_path):
    db = tmp_path / "audit.sqlite"
    trail = AuditTrail(db)
    for n in range(5):
        trail.record("batch", "api", key_name="ops", input_sha256=f"{n:064x}", details={"n": n})
    assert trail.verify().intact and trail.verify().records == 5
    connection = sqlite3.connect(db)
    with pytest.raises(sqlite3.IntegrityError, match="append-only"):
        connection.execute("UPDATE audit SET key_name = 'mallory' WHERE id = 3")
    with pytest.raises(sqlite3.IntegrityError, match="append-only"):
        connection.execute("DELETE FROM audit WHERE id = 3")
    # Behind SQLite's back: the triggers dropped, a row changed.
    connection.execute("DROP TRIGGER audit_no_update")
    connection.execute("UPDATE audit SET key_name = 'mallory' WHERE id = 3")
    connection.commit()
    chain = AuditTrail(db).verify()
    assert not chain.intact and chain.broken_at == 3
    verified = runner.invoke(app, ["audit", "--db", str(db), "verify"])
    assert verified.exit_code == 1 and "#3" in verified.output


@pytest.mark.parametrize("removed", ["id = 2", "id >= 3"], ids=["from the middle", "the newest two"])
def test_rows_removed_are_found(tmp_path, removed):
    """A record removed from the middle breaks the chain at the next; the newest removed leave a valid shorter
    chain, which the numbers SQLite gave (4) tell. Either way the command line names the first record gone."""
    db = tmp_path / "audit.sqlite"
    trail = AuditTrail(db)
    for n in range(4):
        trail.record("import", "cli", details={"n": n})
    connection = sqlite3.connect(db)
    connection.execute("DROP TRIGGER audit_no_delete")
    connection.execute(f"DELETE FROM audit WHERE {removed}")
    connection.commit()
    chain = AuditTrail(db).verify()
    assert not chain.intact and chain.broken_at == 3
    verified = runner.invoke(app, ["audit", "--db", str(db), "verify"])
    assert verified.exit_code == 1 and "#3" in verified.output


def test_writers_in_threads_and_processes_keep_one_chain(tmp_path):
    db = tmp_path / "audit.sqlite"
    script = ("import sys; from gis.audit import AuditTrail; t = AuditTrail(sys.argv[1])\n"
              "for n in range(30): t.record('check', 'cli', key_name='proc', details={'n': n})")
    processes = [subprocess.Popen([sys.executable, "-c", script, str(db)]) for _ in range(2)]
    trail = AuditTrail(db)

    def write() -> None:
        for n in range(30):
            trail.record("check", "api", key_name="thread", details={"n": n})

    threads = [threading.Thread(target=write) for _ in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert all(process.wait(timeout=120) == 0 for process in processes)
    chain = trail.verify()
    assert chain.intact and chain.records == 150
    assert len({r.digest for r in trail.records(limit=1000)}) == 150


def test_replay_says_what_changed_after_a_new_layer_version(tmp_path):
    copy = tmp_path / "copy.gpkg"
    assert runner.invoke(app, ["layers", "init", str(copy)]).exit_code == 0
    db = tmp_path / "audit.sqlite"
    env = {"ECOZONE_AUDIT_DB": str(db)}
    assert runner.invoke(app, ["check", str(SAMPLE), *FACTS, "--store", str(copy)], env=env).exit_code == 0
    [record] = AuditTrail(db).records()
    same = runner.invoke(app, ["audit", "--db", str(db), "replay", str(record.id), "--store", str(copy)])
    assert same.exit_code == 0 and "结果一致" in same.output

    digest = _import_without_shihezi_built_up(copy, tmp_path)
    changed = runner.invoke(app, ["audit", "--db", str(db), "replay", str(record.id), "--store", str(copy)])
    assert changed.exit_code == 1, changed.output
    assert "结果已变化" in changed.output and "rule removed: BLR-02" in changed.output
    assert f"第 2 版（{digest[:12]}" in changed.output

    # The same over the API, with the trail the command line wrote.
    settings = Settings(store=str(copy), jobs_dir=tmp_path / "jobs", audit_db=db, read_keys=[f"alice:{READ_SECRET}"])
    with TestClient(create_app(settings)) as client:
        replayed = client.post(f"/audit/{record.id}/replay", headers={"X-API-Key": READ_SECRET})
        missing = client.post("/audit/999/replay", headers={"X-API-Key": READ_SECRET})
    assert replayed.status_code == 200 and replayed.json()["same"] is False
    assert any("BLR-02" in line for line in replayed.json()["changes"])
    assert missing.status_code == 404


def test_replay_names_a_zone_renamed_in_the_store_after_import(tmp_path):
    """The same layer versions with the same import digests: the zone's name in the result tells them apart."""
    copy = tmp_path / "copy.gpkg"
    assert runner.invoke(app, ["layers", "init", str(copy)]).exit_code == 0
    db = tmp_path / "audit.sqlite"
    assert runner.invoke(app, ["check", str(SAMPLE), *FACTS, "--store", str(copy)],
                         env={"ECOZONE_AUDIT_DB": str(db)}).exit_code == 0
    [record] = AuditTrail(db).records()
    _rename_zone(copy, "built_up:shihezi", "被改动的名称")
    changed = runner.invoke(app, ["audit", "--db", str(db), "replay", str(record.id), "--store", str(copy)])
    assert changed.exit_code == 1, changed.output
    assert "区域名称变化 / zone renamed: built_up:shihezi「石河子市城市建成区」→「被改动的名称」" in changed.output
    assert "图层库在导入后被改动" in changed.output


def test_a_bare_key_is_named_by_a_digest_and_names_never_hold_secrets():
    settings = Settings(read_keys=[f"alice:{READ_SECRET}", BARE_SECRET], write_keys=[f"ops:{WRITE_SECRET}"],
                        jobs_dir=Path("/nonexistent"))
    assert settings.read_keys == [READ_SECRET, BARE_SECRET] and settings.write_keys == [WRITE_SECRET]
    assert settings.key_name(READ_SECRET) == "alice" and settings.key_name(WRITE_SECRET) == "ops"
    assert settings.key_name(BARE_SECRET) == "key-" + hashlib.sha256(BARE_SECRET.encode()).hexdigest()[:8]
    assert settings.key_name("alice") is None and settings.key_name(None) is None


# The audit key: every record signed (an HMAC-SHA256 with it), so that rewriting records needs the key, not only
# the file, and removing the signatures (a downgrade) is found too.

_CHAINED = ("at", "action", "interface", "key_name", "input_sha256", "result_sha256", "verdict", "layers", "details")


def _plain_of(previous: str, row: dict) -> str:
    """The chain's digest (as a log before keys has it): SHA-256 of the fields joined by newlines."""
    text = "\n".join([previous, *("" if row[name] is None else str(row[name]) for name in _CHAINED)])
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def _mac_of(key: bytes, row: dict) -> str:
    """The documented signature, computed here independently: HMAC-SHA256 of the JSON array of the record's
    digest and its fields."""
    message = json.dumps([row["digest"], *(row[name] for name in _CHAINED)], ensure_ascii=False,
                         separators=(",", ":"))
    return hmac.new(key, message.encode("utf-8"), hashlib.sha256).hexdigest()


def _id_of(key: bytes) -> str:
    return hashlib.sha256(key).hexdigest()[:16]


def _keygen(path: Path) -> bytes:
    made = runner.invoke(app, ["audit", "keygen", str(path)])
    assert made.exit_code == 0, made.output
    assert _id_of(path.read_bytes()) in made.output  # the key id, never the key
    return path.read_bytes()


def _rows(db: Path) -> list[dict]:
    connection = sqlite3.connect(db)
    connection.row_factory = sqlite3.Row
    rows = [dict(row) for row in connection.execute("SELECT * FROM audit ORDER BY id")]
    connection.close()
    return rows


def _keyed_log(tmp_path: Path, records: int = 5) -> tuple[Path, bytes, Path]:
    key_file = tmp_path / "keys" / "audit.key"
    key_file.parent.mkdir()
    key = _keygen(key_file)
    db = tmp_path / "audit.sqlite"
    trail = AuditTrail(db, read_key_file(key_file))
    for n in range(records):
        trail.record("check", "api", key_name="ops" if n % 2 else None, input_sha256=f"{n:064x}",
                     verdict=f"禁止 {n}", details={"n": n, "名称": "石河子"})
    trail.close()
    return db, key, key_file


def _verify(db: Path, *args: str):
    return runner.invoke(app, ["audit", "--db", str(db), "verify", *args])


def test_signed_records_carry_an_hmac_over_the_documented_fields(tmp_path):
    db, key, key_file = _keyed_log(tmp_path)
    assert len(key) == 32 and os.stat(key_file).st_mode & 0o777 == 0o600
    previous = ""
    for row in _rows(db):
        assert row["previous"] == previous and row["digest"] == _plain_of(previous, row)  # the chain as ever
        assert (row["mac"], row["mac_key_id"]) == (_mac_of(key, row), _id_of(key))
        previous = row["digest"]
    chain = AuditTrail(db, key).verify()
    assert chain.intact and chain.signed and chain.records == 5 and chain.note is None
    assert chain.key_id == _id_of(key) and chain.last_digest == previous
    for args, env in ((["--key-file", str(key_file)], {}), ([], {"ECOZONE_AUDIT_KEY_FILE": str(key_file)})):
        verified = runner.invoke(app, ["audit", "--db", str(db), "verify", *args], env=env)
        assert verified.exit_code == 0 and "审计记录完整" in verified.output and chain.key_id in verified.output
        assert "every record signed" in verified.output
    stored = b"".join(path.read_bytes() for path in tmp_path.glob("audit.sqlite*"))
    assert key not in stored and key.hex().encode() not in stored


def _rewrite(db: Path, first: int, sign, *, verdict: str = "允许（被改写）", upto: int | None = None) -> None:
    """What someone with write access to the file (and not the key) does: the triggers dropped, record
    ``first``'s verdict changed, the plain digests from it on (to ``upto``) recomputed, and each record's signature
    set to ``sign(row)``: (mac, mac key id)."""
    connection = sqlite3.connect(db)
    for trigger in ("audit_no_update", "audit_signed_once", "audit_no_delete"):
        connection.execute(f"DROP TRIGGER IF EXISTS {trigger}")
    connection.row_factory = sqlite3.Row
    rows = [dict(row) for row in connection.execute("SELECT * FROM audit ORDER BY id")]
    previous = rows[first - 2]["digest"] if first > 1 else ""
    for row in rows[first - 1:upto]:
        if row["id"] == first:
            row["verdict"] = verdict
        row["previous"], row["digest"] = previous, _plain_of(previous, row)
        row["mac"], row["mac_key_id"] = sign(row)
        connection.execute("UPDATE audit SET verdict = ?, previous = ?, digest = ?, mac = ?, mac_key_id = ? "
                           "WHERE id = ?", (row["verdict"], previous, row["digest"], row["mac"], row["mac_key_id"],
                                            row["id"]))
        previous = row["digest"]
    connection.commit()
    connection.close()


def _keyed_check(db: Path, key_file: Path, *args: str):
    return runner.invoke(app, ["check", "86.0413,44.3056", *args],
                         env={"ECOZONE_AUDIT_DB": str(db), "ECOZONE_AUDIT_KEY_FILE": str(key_file)})


def test_the_downgrade_attack_is_found_also_after_a_keyed_write(tmp_path):
    """The tester's attack: record #3's verdict changed, #3-#6 rewritten as unsigned records with their plain
    digests recomputed, no key used. With the key it breaks at #3, and stays broken: a keyed writer refuses to
    write after unsigned records (it never signs them)."""
    db, key, key_file = _keyed_log(tmp_path, records=6)
    _rewrite(db, 3, lambda row: (None, None))
    chain = AuditTrail(db, key).verify()
    assert (chain.intact, chain.broken_at, chain.signed) == (False, 3, False) and "not signed with the key" in chain.reason
    verified = _verify(db, "--key-file", str(key_file))
    assert verified.exit_code == 1, verified.output
    assert "#3" in verified.output and "无密钥签名，记录被改写" in verified.output

    refused = _keyed_check(db, key_file)
    assert refused.exit_code == 2 and "are not signed though those before are" in refused.output
    assert len(_rows(db)) == 6 and AuditTrail(db, key).verify().broken_at == 3

    # The same, the signatures left as they were (now wrong): a keyed writer goes on, #3 still breaks.
    (tmp_path / "second").mkdir()
    db2, key2, key_file2 = _keyed_log(tmp_path / "second", records=6)
    _rewrite(db2, 3, lambda row: (row["mac"], row["mac_key_id"]))
    assert _keyed_check(db2, key_file2).exit_code == 0 and len(_rows(db2)) == 7
    chain = AuditTrail(db2, key2).verify()
    assert (chain.intact, chain.broken_at) == (False, 3) and "signature does not match" in chain.reason
    after = _verify(db2, "--key-file", str(key_file2))
    assert after.exit_code == 1 and "#3" in after.output and "keyed from" not in after.output


def test_every_signature_removed_is_never_signed_again_on_its_own(tmp_path):
    """All signatures removed, a record rewritten: the trail looks never signed. With the key, verify fails (no
    record signed with it); a keyed writer refuses it rather than signing the rewrite."""
    db, key, key_file = _keyed_log(tmp_path)
    _rewrite(db, 1, lambda row: (None, None))
    chain = AuditTrail(db, key).verify()
    assert (chain.intact, chain.broken_at) == (False, 1) and "no record is signed with the key given" in chain.reason
    verified = _verify(db, "--key-file", str(key_file))
    assert verified.exit_code == 1 and "没有一条记录以所给密钥" in verified.output
    refused = _keyed_check(db, key_file)
    assert refused.exit_code == 2 and "audit sign" in refused.output
    with pytest.raises(AuditError, match="never signs them on its own"):
        AuditTrail(db, key).record("check", "cli")
    assert all(row["mac"] is None for row in _rows(db))


_MALLORY = b"m" * 32
_ATTACKS = {
    "plain digests recomputed, signatures left": lambda row: (row["mac"], row["mac_key_id"]),
    "signatures removed": lambda row: (None, None),
    "signed with another key, our key id": lambda row: (_mac_of(_MALLORY, row), row["mac_key_id"]),
    "signed with another key and its id": lambda row: (_mac_of(_MALLORY, row), _id_of(_MALLORY)),
    "a bare SHA-256 as the signature": lambda row: (hashlib.sha256(row["digest"].encode()).hexdigest(),
                                                    row["mac_key_id"]),
}


@pytest.mark.parametrize("attack", list(_ATTACKS))
def test_a_rewrite_with_digests_recomputed_without_the_key_is_found(tmp_path, attack):
    db, key, key_file = _keyed_log(tmp_path)
    _rewrite(db, 3, _ATTACKS[attack])
    chain = AuditTrail(db, key).verify()
    assert not chain.intact and chain.broken_at == 3, chain
    verified = _verify(db, "--key-file", str(key_file))
    assert verified.exit_code == 1 and "#3" in verified.output and "审计记录被改动" in verified.output


def test_an_unsigned_log_cannot_tell_a_rewrite_and_says_so(tmp_path):
    """Without a key the same rewrite verifies: the check says what it does not prove. With a key, a trail with
    no record signed with it fails: whoever gives a key expects a signed trail."""
    db = tmp_path / "audit.sqlite"
    trail = AuditTrail(db)
    for n in range(4):
        trail.record("check", "cli", verdict=f"禁止 {n}")
    trail.close()
    assert all(row["mac"] is None and row["mac_key_id"] is None for row in _rows(db))
    _rewrite(db, 2, lambda row: (None, None))
    chain = AuditTrail(db).verify()
    assert chain.intact and not chain.signed and chain.key_id is None and "not signed" in chain.note
    verified = _verify(db)
    assert verified.exit_code == 0
    note = verified.output.splitlines()[-1]
    assert note.index("记录未用密钥签名") < note.index("not signed with an audit key") and "kept elsewhere" in note
    key_file = tmp_path / "audit.key"
    key = _keygen(key_file)
    keyed = _verify(db, "--key-file", str(key_file))
    assert keyed.exit_code == 1 and "#1" in keyed.output and "no record is signed with the key given" in keyed.output
    assert f"key id {_id_of(key)}" in keyed.output


def test_verify_names_the_key_expected_when_none_or_another_is_given(tmp_path):
    db, key, key_file = _keyed_log(tmp_path, records=3)
    expected = _id_of(key)
    other_file = tmp_path / "other.key"
    other = _id_of(_keygen(other_file))

    missing = AuditTrail(db).verify()
    assert (missing.intact, missing.unverified_from, missing.key_id, missing.broken_at) == (False, 1, expected, None)
    assert "the chain of digests (3 records) is intact" in missing.reason
    wrong = AuditTrail(db, other_file.read_bytes()).verify()
    assert (wrong.intact, wrong.unverified_from, wrong.key_id) == (False, 1, expected)
    assert expected in wrong.reason and other in wrong.reason

    for args, given in (([], "no key was given"), (["--key-file", str(other_file)], f"the key given has id {other}")):
        verified = _verify(db, *args)
        assert verified.exit_code == 2, verified.output
        first = verified.output.splitlines()[0]
        assert first.startswith("审计记录无法核验 / the chain cannot be verified")
        assert f"编号 {expected}" in first and f"key id {expected}" in first and given in first
        assert first.index("无法核验") < first.index("cannot be verified")

    # Writers without the key, or with another, are refused: nothing is written that the key cannot verify.
    for writer_key in (None, other_file.read_bytes()):
        with pytest.raises(AuditError, match=f"audit key \\(key id {expected}\\)"):
            AuditTrail(db, writer_key).record("check", "cli")
    assert len(_rows(db)) == 3 and AuditTrail(db, key).verify().intact

    # Without the key the plain chain is still walked: a record changed without recomputing is a break.
    _rewrite(db, 2, lambda row: (row["mac"], row["mac_key_id"]), upto=2)
    assert (AuditTrail(db).verify().broken_at, _verify(db).exit_code) == (3, 1)


def _old_log(db: Path, records: int = 3) -> str:
    """A trail as written before audit keys: no mac columns, an update trigger on every column; its last digest."""
    connection = sqlite3.connect(db)
    connection.executescript("""
        CREATE TABLE audit (id INTEGER PRIMARY KEY AUTOINCREMENT, at TEXT NOT NULL, action TEXT NOT NULL,
            interface TEXT NOT NULL, key_name TEXT, input_sha256 TEXT, result_sha256 TEXT, verdict TEXT,
            layers TEXT NOT NULL, details TEXT NOT NULL, previous TEXT NOT NULL, digest TEXT NOT NULL UNIQUE);
        CREATE TRIGGER audit_no_update BEFORE UPDATE ON audit
        BEGIN SELECT RAISE(ABORT, 'the audit trail is append-only: records are never changed'); END;
        CREATE TRIGGER audit_no_delete BEFORE DELETE ON audit
        BEGIN SELECT RAISE(ABORT, 'the audit trail is append-only: records are never deleted'); END;""")
    previous = ""
    for n in range(records):
        row = {"at": f"2026-01-0{n + 1}T08:00:00.000000+00:00", "action": "check", "interface": "cli",
               "key_name": "user:officer", "input_sha256": None, "result_sha256": f"{n:064x}", "verdict": "禁止",
               "layers": "{}", "details": json.dumps({"n": n})}
        digest = _plain_of(previous, row)
        connection.execute(f"INSERT INTO audit ({', '.join(row)}, previous, digest) VALUES "
                           f"({', '.join('?' * (len(row) + 2))})", (*row.values(), previous, digest))
        previous = digest
    connection.commit()
    connection.close()
    return previous


def test_an_old_unsigned_log_still_verifies_and_is_signed_once(tmp_path):
    """A log written before keys verifies as before. A keyed writer refuses it until ``audit sign`` (which
    verifies its chain) signs every record; its early records then verify with the key, and a rewrite of one
    of them is caught."""
    db = tmp_path / "audit.sqlite"
    previous = _old_log(db)
    old = AuditTrail(db).verify()
    assert old.intact and old.records == 3 and old.last_digest == previous and old.note
    assert [r.mac for r in AuditTrail(db).records()] == [None] * 3
    digests = [row["digest"] for row in _rows(db)]

    key_file = tmp_path / "audit.key"
    key = _keygen(key_file)
    with pytest.raises(AuditError, match="audit sign"):
        AuditTrail(db, key).record("check", "cli")
    assert runner.invoke(app, ["audit", "--db", str(db), "sign"]).exit_code == 2  # no key: nothing signed
    signed = runner.invoke(app, ["audit", "--db", str(db), "sign", "--key-file", str(key_file)])
    assert signed.exit_code == 0 and "3 records signed" in signed.output and _id_of(key) in signed.output
    again = runner.invoke(app, ["audit", "--db", str(db), "sign"], env={"ECOZONE_AUDIT_KEY_FILE": str(key_file)})
    assert again.exit_code == 0 and "nothing to sign" in again.output

    trail = AuditTrail(db, read_key_file(key_file))
    trail.record("import", "api", key_name="ops", details={"layer": "ecological_redline"})
    trail.record("check", "api", verdict="禁止")
    rows = _rows(db)
    assert rows[3]["previous"] == previous and [row["digest"] for row in rows[:3]] == digests  # signing kept them
    assert all(row["mac"] == _mac_of(key, row) and row["mac_key_id"] == _id_of(key) for row in rows)
    chain = trail.verify()
    assert chain.intact and chain.signed and chain.records == 5 and chain.note is None
    assert AuditTrail(db).verify().unverified_from == 1  # signed: without the key it cannot be verified

    # The triggers let a signature be added once, never a field changed nor a signature replaced.
    connection = sqlite3.connect(db)
    for statement in ("UPDATE audit SET verdict = '允许' WHERE id = 2", "UPDATE audit SET mac = NULL WHERE id = 2"):
        with pytest.raises(sqlite3.IntegrityError, match="append-only"):
            connection.execute(statement)
    connection.close()

    # An early record rewritten, the plain chain recomputed to the end and the signatures removed: caught at #2.
    _rewrite(db, 2, lambda row: (None, None))
    broken = trail.verify()
    assert (broken.intact, broken.broken_at) == (False, 2)
    refused = runner.invoke(app, ["audit", "--db", str(db), "sign", "--key-file", str(key_file)])
    assert refused.exit_code == 2 and "some audit records are signed and others are not" in refused.output


def test_sign_refuses_a_broken_chain(tmp_path):
    db = tmp_path / "audit.sqlite"
    _old_log(db)
    connection = sqlite3.connect(db)
    connection.execute("DROP TRIGGER audit_no_update")
    connection.execute("UPDATE audit SET verdict = '允许' WHERE id = 2")
    connection.commit()
    connection.close()
    key_file = tmp_path / "audit.key"
    _keygen(key_file)
    refused = runner.invoke(app, ["audit", "--db", str(db), "sign", "--key-file", str(key_file)])
    assert refused.exit_code == 2 and "broken at record #2" in refused.output
    assert all(row["mac"] is None for row in _rows(db))


def test_keygen_never_overwrites_and_keys_must_be_private(tmp_path):
    key_file = tmp_path / "audit.key"
    mask = os.umask(0)  # whatever the umask, the key is its owner's only
    try:
        key = _keygen(key_file)
    finally:
        os.umask(mask)
    assert stat.S_IMODE(os.stat(key_file).st_mode) == 0o600
    again = runner.invoke(app, ["audit", "keygen", str(key_file)])
    assert again.exit_code == 2 and "已存在" in again.output and key_file.read_bytes() == key
    assert read_key_file(key_file) == key
    key_file.chmod(0o644)
    with pytest.raises(AuditError, match="other users"):
        read_key_file(key_file)
    short = tmp_path / "short.key"
    short.write_bytes(b"k" * 16)
    short.chmod(0o600)
    with pytest.raises(AuditError, match="too short"):
        read_key_file(short)
    db = tmp_path / "audit.sqlite"
    checked = _keyed_check(db, key_file)
    assert checked.exit_code == 2 and "chmod 600" in checked.output and not db.exists()


def test_a_server_with_an_audit_key_writes_and_verifies_signed_records(tmp_path):
    key_file = tmp_path / "audit.key"
    key = _keygen(key_file)
    db = tmp_path / "audit.sqlite"
    settings = Settings(jobs_dir=tmp_path / "jobs", audit_db=db, read_keys=[f"alice:{READ_SECRET}"],
                        audit_key_file=key_file)
    with TestClient(create_app(settings)) as client:
        assert client.post("/check", json={"site": "86.0413,44.3056"}).status_code == 200
        chain = client.get("/audit/chain", headers={"X-API-Key": READ_SECRET}).json()
        [record] = client.get("/audit", headers={"X-API-Key": READ_SECRET}).json()["records"]
    assert chain["intact"] and chain["signed"] and chain["key_id"] == _id_of(key)
    assert record["mac_key_id"] == chain["key_id"] and record["mac"] == _mac_of(key, _rows(db)[0])
    assert record["digest"] == _plain_of("", _rows(db)[0])


def test_a_server_refuses_to_start_with_a_key_that_cannot_write_its_trail(tmp_path):
    """A wrong key, no key on a signed trail, a key on a trail never signed, a key file open to others: the app
    refuses as it starts (an audit error, not the store's), and ``ecozone serve`` says so in one line."""
    db, key, key_file = _keyed_log(tmp_path, records=2)
    other_file = tmp_path / "other.key"
    other = _id_of(_keygen(other_file))
    unsigned = tmp_path / "unsigned.sqlite"
    _old_log(unsigned, records=1)
    open_key = tmp_path / "open.key"
    open_key.write_bytes(os.urandom(32))
    open_key.chmod(0o644)
    cases = [(db, other_file, f"the key given has key id {other}"), (db, None, "no audit key was given"),
             (unsigned, key_file, "audit sign"), (db, open_key, "open to other users")]
    for trail, key_path, said in cases:
        settings = Settings(jobs_dir=tmp_path / "jobs", audit_db=trail, audit_key_file=key_path)
        with pytest.raises(AuditError, match=said):
            with TestClient(create_app(settings)):
                pass
    assert AuditError.title() != StoreError.title() and "审计" in AuditError.title()

    for trail, key_path, said in cases[::3]:  # ecozone serve, as the deployments run it: one line, exit 2
        env = {**os.environ, "PYTHONPATH": str(REPO), "ECOZONE_JOBS_DIR": str(tmp_path / "jobs"),
               "ECOZONE_AUDIT_DB": str(trail), "ECOZONE_AUDIT_KEY_FILE": str(key_path)}
        served = subprocess.run([sys.executable, "-c", "from api.cli import main; main()", "serve", "--port",
                                 str(free_port())], env=env, cwd=REPO, capture_output=True, text=True, timeout=120)
        assert served.returncode == 2, served.stderr
        lines = [line for line in served.stderr.splitlines() if line.strip()]
        assert len(lines) == 1 and lines[0].startswith("错误 / error: ") and said in lines[0], served.stderr
        assert "Traceback" not in served.stderr + served.stdout
    assert len(_rows(db)) == 2


def test_a_report_is_not_written_for_a_check_the_trail_refuses(tmp_path):
    """A signed trail and no key: the check is refused its record, and no report is left for it."""
    db, key, key_file = _keyed_log(tmp_path, records=1)
    report = tmp_path / "核查报告.html"
    refused = runner.invoke(app, ["check", str(SAMPLE), *FACTS, "--report", str(report)],
                            env={"ECOZONE_AUDIT_DB": str(db)})
    assert refused.exit_code == 2 and "the report was not written" in refused.output
    assert not report.exists() and len(_rows(db)) == 1
    recorded = runner.invoke(app, ["check", str(SAMPLE), *FACTS, "--report", str(report)],
                             env={"ECOZONE_AUDIT_DB": str(db), "ECOZONE_AUDIT_KEY_FILE": str(key_file)})
    assert recorded.exit_code == 0, recorded.output
    assert report.exists() and len(_rows(db)) == 2 and AuditTrail(db, key).verify().intact


def test_a_kept_digest_reveals_the_newest_records_removed_and_a_rewrite_the_chain_hides(tmp_path):
    """The latest digest noted from an earlier verify (filed elsewhere) must still be in the trail: it reveals the
    newest records removed with SQLite's numbering wound back (a valid shorter chain, signed or not), and an
    unsigned trail rewritten with its digests recomputed, neither of which the chain alone shows."""
    db, key, key_file = _keyed_log(tmp_path, records=5)
    noted = json.loads(_verify(db, "--key-file", str(key_file), "--format", "json").output)
    digests = [row["digest"] for row in _rows(db)]
    assert noted["intact"] and noted["last_digest"] == digests[-1]  # the digest the command shows is record 5's
    kept = _verify(db, "--key-file", str(key_file), "--kept", digests[-1][:16])
    assert kept.exit_code == 0 and "第 5 条" in kept.output
    # the newest two removed, and SQLite's count of records wound back to hide it
    connection = sqlite3.connect(db)
    connection.execute("DROP TRIGGER audit_no_delete")
    connection.execute("DELETE FROM audit WHERE id >= 4")
    connection.execute("UPDATE sqlite_sequence SET seq = 3 WHERE name = 'audit'")
    connection.commit()
    connection.close()
    assert _verify(db, "--key-file", str(key_file)).exit_code == 0  # a valid, shorter, signed chain
    gone = _verify(db, "--key-file", str(key_file), "--kept", digests[-1])
    assert gone.exit_code == 1 and digests[-1] in gone.output and "removed" in gone.output
    assert _verify(db, "--key-file", str(key_file), "--kept", digests[2]).exit_code == 0  # record 3 still there
    # an unsigned trail rewritten from record 2: the chain verifies, the digest kept of record 3 is no longer there
    plain = tmp_path / "plain.sqlite"
    trail = AuditTrail(plain)
    for n in range(4):
        trail.record("check", "cli", verdict=f"禁止 {n}")
    trail.close()
    before = [row["digest"] for row in _rows(plain)]
    _rewrite(plain, 2, lambda row: (None, None))
    assert _verify(plain).exit_code == 0
    rewritten = AuditTrail(plain).verify(kept=before[2])
    assert not rewritten.intact and rewritten.note is None and "rewritten" in rewritten.reason
    bad = _verify(plain, "--kept", "not-a-digest")
    assert bad.exit_code != 0 and "kept" in bad.output
