"""The audit trail: an append-only record of every check, batch and import, in one SQLite file.

Each record says when, what (``check``, ``batch``, ``batch_result``, ``import``), through which interface, with
which key (by its name, never the secret), the input's and the result's SHA-256, the verdict, the layer
versions, and for a check its evidence (``gis.evidence``: the site as read, the facts, the options), so that
``replay`` can re-run it and say what changed.

Append-only for real: triggers refuse UPDATE and DELETE, and each record carries the SHA-256 of the previous
record's digest and its own fields (a chain), so that a row changed or removed behind SQLite's back is found
by ``verify``. Records are written in SQLite's WAL mode with ``synchronous = NORMAL``: a record survives a
crash of the process; a power cut may lose the records of its last moments. Several processes and threads may
write at once: a write takes SQLite's write lock
(``BEGIN IMMEDIATE``) before it reads the last digest, so the chain never forks. Removing the newest records
leaves a shorter valid chain, which ``verify`` tells by the numbers SQLite gave (``sqlite_sequence``); a writer
who also rewinds those is caught only by keeping the digest ``verify`` reports (``last_digest``) elsewhere.

A plain SHA-256 chain has no secret: whoever can write the file can change a record and recompute every digest
after it. With an audit key (a secret file outside the database, ``write_key_file``/``read_key_file``; the
interfaces take its path from ``ECOZONE_AUDIT_KEY_FILE``), each new record's digest is an HMAC-SHA256 with that
key, and the record says so: ``digest_scheme`` is ``hmac-sha256`` (``sha256`` for the unkeyed ones) and
``digest_key_id`` the key's id (the first 16 hex digits of the key's SHA-256, never the key). The HMAC covers
the UTF-8 bytes of the JSON array (``json.dumps(..., ensure_ascii=False, separators=(",", ":"))``) of the
previous digest, the scheme, the key id and the fields of ``_CHAINED`` in order (null for a missing one).
An unkeyed log keeps verifying as before; once a keyed record is written every later one must be keyed with
the same key (a writer without it, or with another, is refused), so an unkeyed record after a keyed one is a
break. Unkeyed records followed by a keyed one are covered by it: the HMAC includes the previous digest.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import json
import os
import sqlite3
import threading
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, Field

from gis.errors import InputError, StoreError
from gis.evidence import Evidence, Verification, load_evidence, sha256_of, verify
from gis.rules.model import RulePack
from gis.store import Store

__all__ = ["AuditTrail", "AuditRecord", "ChainCheck", "Action", "Interface", "PLAIN", "KEYED", "key_id",
           "read_key_file", "write_key_file"]

Action = Literal["check", "batch", "batch_result", "import"]
Interface = Literal["cli", "api"]

_SCHEMA = """
CREATE TABLE IF NOT EXISTS audit (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    at TEXT NOT NULL,
    action TEXT NOT NULL,
    interface TEXT NOT NULL,
    key_name TEXT,
    input_sha256 TEXT,
    result_sha256 TEXT,
    verdict TEXT,
    layers TEXT NOT NULL,
    details TEXT NOT NULL,
    previous TEXT NOT NULL,
    digest TEXT NOT NULL UNIQUE,
    digest_scheme TEXT NOT NULL DEFAULT 'sha256',
    digest_key_id TEXT
);
CREATE INDEX IF NOT EXISTS audit_at ON audit (at);
CREATE TRIGGER IF NOT EXISTS audit_no_update BEFORE UPDATE ON audit
BEGIN SELECT RAISE(ABORT, 'the audit trail is append-only: records are never changed'); END;
CREATE TRIGGER IF NOT EXISTS audit_no_delete BEFORE DELETE ON audit
BEGIN SELECT RAISE(ABORT, 'the audit trail is append-only: records are never deleted'); END;
"""

#: The fields a record's digest covers, in order (with the previous digest first).
_CHAINED = ("at", "action", "interface", "key_name", "input_sha256", "result_sha256", "verdict", "layers", "details")

#: The digest schemes: plain SHA-256 (no key), and HMAC-SHA256 with the audit key.
PLAIN, KEYED = "sha256", "hmac-sha256"

#: The fewest bytes an audit key has (``write_key_file`` writes 32 random ones).
_KEY_BYTES = 32

#: How long a writer waits for another process's write, ms.
_BUSY_MS = 30_000


class AuditRecord(BaseModel):
    """One record of the trail."""

    id: int
    at: str = Field(description="When, UTC ISO 8601.")
    action: str
    interface: str
    key_name: str | None = Field(description="The API key's name (never its secret); None without a key.")
    input_sha256: str | None
    result_sha256: str | None
    verdict: str | None
    layers: dict[str, Any] = Field(description="Layer kind -> {version, sha256} used.")
    details: dict[str, Any] = Field(description="A check's evidence; a batch's job and file; an import's layer.")
    previous: str = Field(description="The previous record's digest ('' for the first).")
    digest: str
    digest_scheme: str = Field(default=PLAIN, description="sha256 (no key), or hmac-sha256 (with the audit key).")
    digest_key_id: str | None = Field(default=None, description="The audit key's id for an hmac-sha256 digest "
                                      "(the first 16 hex digits of the key's SHA-256; never the key).")


class ChainCheck(BaseModel):
    """The chain walked from the first record: intact, or where it breaks."""

    intact: bool
    records: int
    broken_at: int | None = None
    reason: str | None = None
    last_digest: str | None = None
    keyed_from: int | None = Field(default=None, description="The first record with a keyed (hmac-sha256) digest; "
                                   "None when no record is keyed.")
    key_id: str | None = Field(default=None, description="The id of the key the keyed records were written with.")
    unverified_from: int | None = Field(default=None, description="The first keyed record that could not be "
                                        "verified: no key was given, or another key.")
    note: str | None = Field(default=None, description="What an intact chain does not prove (an unkeyed log).")


def key_id(key: bytes) -> str:
    """The id of an audit key that records carry: the first 16 hex digits of its SHA-256 (never the key)."""
    return hashlib.sha256(key).hexdigest()[:16]


def _digest(previous: str, row: dict[str, Any], key: bytes | None = None) -> str:
    if key is None:
        return sha256_of("\n".join([previous, *("" if row[name] is None else str(row[name]) for name in _CHAINED)]))
    message = json.dumps([previous, KEYED, key_id(key), *(row[name] for name in _CHAINED)], ensure_ascii=False,
                         separators=(",", ":"))
    return hmac.new(key, message.encode(), hashlib.sha256).hexdigest()


_KEY_FIX = ("用 ecozone audit keygen 文件 生成密钥，并以 ECOZONE_AUDIT_KEY_FILE 指向它 / make one with "
            "'ecozone audit keygen FILE' and point ECOZONE_AUDIT_KEY_FILE at it")


def read_key_file(path: str | Path) -> bytes:
    """The audit key in the file ``path``: its bytes (at least 32), from a file only its owner may read."""
    path = Path(path)
    try:
        with path.open("rb") as file:
            mode = os.fstat(file.fileno()).st_mode
            key = file.read(4096)
    except OSError as error:
        raise StoreError(f"审计密钥文件无法读取 / the audit key file cannot be read: {error.strerror}",
                         field="audit key", value=str(path), fix=_KEY_FIX) from None
    if mode & 0o077:
        raise StoreError(f"审计密钥文件可被其他用户访问（权限 {mode & 0o777:o}） / the audit key file is open to "
                         f"other users (mode {mode & 0o777:o})", field="audit key", value=str(path),
                         fix=f"chmod 600 {path}")
    if len(key) < _KEY_BYTES:
        raise StoreError(f"审计密钥太短（{len(key)} 字节，至少 {_KEY_BYTES}） / the audit key is too short "
                         f"({len(key)} bytes, at least {_KEY_BYTES})", field="audit key", value=str(path),
                         fix=_KEY_FIX)
    return key


def write_key_file(path: str | Path) -> str:
    """Write a new audit key (32 random bytes) to ``path``, readable by its owner only (0600); its key id.
    An existing file is never overwritten."""
    path = Path(path)
    try:
        descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        raise InputError("该文件已存在，审计密钥不会覆盖它 / the file exists: an audit key never overwrites one",
                         field="path", value=str(path), fix="选择一个新的文件名 / choose a new file name") from None
    except OSError as error:
        raise InputError(f"审计密钥无法写入 / the audit key cannot be written: {error.strerror}", field="path",
                         value=str(path), fix="选择一个存在且可写的文件夹 / choose a folder that exists and is "
                                              "writable") from None
    key = os.urandom(_KEY_BYTES)
    try:
        os.fchmod(descriptor, 0o600)  # whatever the umask
        os.write(descriptor, key)
        os.fsync(descriptor)
    finally:
        os.close(descriptor)
    return key_id(key)


class AuditTrail:
    """The trail in the SQLite file ``path`` (created with its folder on first use).

    One connection per thread (SQLite connections are not shared between threads); processes coordinate
    through SQLite's locks. WAL mode lets readers read while a writer appends.

    With ``key`` (the audit key's bytes, ``read_key_file``) new records are keyed (HMAC-SHA256) and ``verify``
    checks keyed records; without it records are plain SHA-256, and a log already keyed is not written to."""

    def __init__(self, path: str | Path, key: bytes | None = None) -> None:
        self.path = Path(path)
        self._key = key
        self._key_id = key_id(key) if key is not None else None
        self._local = threading.local()

    def _connection(self) -> sqlite3.Connection:
        connection = getattr(self._local, "connection", None)
        if connection is None:
            try:
                self.path.parent.mkdir(parents=True, exist_ok=True)
                connection = sqlite3.connect(self.path, timeout=_BUSY_MS / 1000, isolation_level=None)
                connection.execute(f"PRAGMA busy_timeout = {_BUSY_MS}")
                connection.execute("PRAGMA journal_mode = WAL")
                connection.execute("PRAGMA synchronous = NORMAL")  # see the module: a power cut may lose the last records
                connection.executescript(_SCHEMA)
                _add_digest_columns(connection)
            except (OSError, sqlite3.Error) as error:
                raise StoreError(f"审计记录无法打开 / the audit trail cannot be opened: {error}", field="audit",
                                 value=self.path.name, fix="检查文件夹的权限，或关闭审计记录 / check the folder's permissions, "
                                     "or turn auditing off") from None
            connection.row_factory = sqlite3.Row
            self._local.connection = connection
        return connection

    def record(self, action: Action, interface: Interface, *, key_name: str | None = None,
               input_sha256: str | None = None, result_sha256: str | None = None, verdict: str | None = None,
               layers: dict[str, Any] | None = None, details: dict[str, Any] | str | None = None) -> int:
        """Append one record, chained to the newest one; its id. ``details`` may come as JSON text already."""
        row = {"at": dt.datetime.now(dt.timezone.utc).isoformat(timespec="microseconds"), "action": action,
               "interface": interface, "key_name": key_name, "input_sha256": input_sha256,
               "result_sha256": result_sha256, "verdict": verdict,
               "layers": json.dumps(layers or {}, ensure_ascii=False, sort_keys=True),
               "details": details if isinstance(details, str) else json.dumps(details or {}, ensure_ascii=False,
                                                                               sort_keys=True)}
        connection = self._connection()
        connection.execute("BEGIN IMMEDIATE")  # the write lock first: no other writer can chain in between
        try:
            last = connection.execute("SELECT digest, digest_scheme, digest_key_id FROM audit ORDER BY id DESC "
                                      "LIMIT 1").fetchone()
            if last is not None and last["digest_scheme"] == KEYED and last["digest_key_id"] != self._key_id:
                raise self._key_refused(last["digest_key_id"])
            row["previous"] = last["digest"] if last else ""
            row["digest"] = _digest(row["previous"], row, self._key)
            row["digest_scheme"], row["digest_key_id"] = (PLAIN, None) if self._key is None else (KEYED, self._key_id)
            cursor = connection.execute(
                f"INSERT INTO audit ({', '.join(row)}) VALUES ({', '.join('?' * len(row))})", tuple(row.values()))
            connection.execute("COMMIT")
        except BaseException:
            connection.execute("ROLLBACK")
            raise
        return cursor.lastrowid

    def _key_refused(self, expected: str) -> StoreError:
        zh, en = (("未提供审计密钥", "no audit key was given") if self._key is None
                  else (f"所给密钥编号为 {self._key_id}", f"the key given has key id {self._key_id}"))
        return StoreError(f"审计记录以密钥（编号 {expected}）签名，{zh}：不写入无法核验的记录 / the audit trail is "
                          f"keyed (key id {expected}), {en}: no record is written that its key cannot verify",
                          field="audit key", value=self._key_id,
                          fix=f"以 ECOZONE_AUDIT_KEY_FILE 指向编号为 {expected} 的密钥文件 / point "
                              f"ECOZONE_AUDIT_KEY_FILE at the key file whose id is {expected}")

    def record_check(self, evidence: Evidence, interface: Interface, key_name: str | None = None) -> int:
        """Record a check with its evidence (what a replay needs); its id."""
        return self.record(
            "check", interface, key_name=key_name, input_sha256=evidence.input.sha256,
            result_sha256=evidence.result_sha256, verdict=evidence.outcome.headline,
            layers={layer.kind: {"version": layer.version, "sha256": layer.content_sha256} for layer in evidence.layers},
            details=evidence.model_dump_json())

    def records(self, since: dt.date | str | None = None, *, action: str | None = None,
                limit: int | None = None) -> list[AuditRecord]:
        """Records from ``since`` (a date or an ISO time, UTC) on, oldest first; the newest ``limit`` of them."""
        where, values = [], []
        if since is not None:
            where.append("at >= ?")
            values.append(since.isoformat() if isinstance(since, dt.date) else str(since))
        if action is not None:
            where.append("action = ?")
            values.append(action)
        query = "SELECT * FROM audit" + (f" WHERE {' AND '.join(where)}" if where else "") + " ORDER BY id DESC"
        if limit is not None:
            query += f" LIMIT {int(limit)}"
        rows = self._connection().execute(query, values).fetchall()
        return [_record(dict(row)) for row in reversed(rows)]

    def get(self, record_id: int) -> AuditRecord:
        """One record by its id."""
        row = self._connection().execute("SELECT * FROM audit WHERE id = ?", (record_id,)).fetchone()
        if row is None:
            raise InputError(f"审计记录中没有第 {record_id} 条 / no audit record {record_id}", field="id",
                             value=record_id,
                             fix="用 ecozone audit 列出记录 / list the records with: ecozone audit")
        return _record(dict(row))

    def verify(self) -> ChainCheck:
        """Walk the chain from the first record: every digest recomputed from its fields and the previous one
        (keyed ones with this trail's key). Keyed records with no key or another key are not verified
        (``unverified_from``); an unkeyed log verifies with a ``note`` of what that does not prove."""
        previous, count, keyed, expected = "", 0, None, None
        for row in self._connection().execute("SELECT * FROM audit ORDER BY id"):
            row = dict(row)
            count += 1
            if row["previous"] != previous:
                return ChainCheck(intact=False, records=count, broken_at=row["id"], keyed_from=keyed, key_id=expected,
                                  reason="前一条记录缺失或被改动 / the previous record is missing or was changed")
            if row["digest_scheme"] == KEYED and keyed is None:
                keyed, expected = row["id"], row["digest_key_id"]
                if expected != self._key_id:
                    return ChainCheck(intact=False, records=count - 1, keyed_from=keyed, key_id=expected,
                                      unverified_from=keyed, last_digest=previous or None,
                                      reason=self._unverified(keyed, expected))
            if keyed is not None and row["digest_scheme"] != KEYED:
                return ChainCheck(intact=False, records=count, broken_at=row["id"], keyed_from=keyed,
                                  key_id=expected,
                                  reason="加密钥的记录之后出现未加密钥的记录：记录被改写 / an unkeyed record after "
                                         "keyed ones: the records were rewritten")
            if keyed is not None and row["digest_key_id"] != expected:
                return ChainCheck(intact=False, records=count, broken_at=row["id"], keyed_from=keyed,
                                  key_id=expected,
                                  reason=f"该记录以另一密钥（编号 {row['digest_key_id']}）签名：记录被改写 / the record "
                                         f"is keyed with another key (id {row['digest_key_id']}): it was rewritten")
            if row["digest_scheme"] not in (PLAIN, KEYED) or \
                    not hmac.compare_digest(_digest(previous, row, self._key if keyed else None), row["digest"]):
                return ChainCheck(intact=False, records=count, broken_at=row["id"], keyed_from=keyed,
                                  key_id=expected,
                                  reason="记录内容被改动 / the record's fields were changed")
            previous, last = row["digest"], row["id"]
        # SQLite numbers records from the highest number it ever gave: one above the last record was removed
        given = self._connection().execute("SELECT seq FROM sqlite_sequence WHERE name = 'audit'").fetchone()
        if given is not None and given[0] > (last if count else 0):
            gone = given[0] - (last if count else 0)
            return ChainCheck(intact=False, records=count, broken_at=given[0] - gone + 1,
                              reason=f"最新的 {gone} 条记录缺失（记录编号已到 {given[0]}） / the newest {gone} record(s) "
                                     f"are missing (records were numbered up to {given[0]})")
        if keyed is None:
            hint = ("；已给出密钥而没有一条记录以它签名：若曾以该密钥写入，记录已被改写", "; a key was given and no record is "
                     "keyed with it: if records were written with it, they were rewritten") if self._key else ("", "")
            return ChainCheck(intact=True, records=count, last_digest=previous or None, note=(
                f"记录未用密钥签名：能写入该文件者可改写记录并重算其后所有摘要，除非另存了最新摘要，否则无法发现{hint[0]} / "
                "the records are not keyed: whoever can write the file can rewrite a record and recompute every "
                f"digest after it, which only a digest kept elsewhere reveals{hint[1]}") if count else None)
        return ChainCheck(intact=True, records=count, last_digest=previous, keyed_from=keyed, key_id=expected)

    def _unverified(self, record_id: int, expected: str) -> str:
        if self._key is None:
            return (f"第 {record_id} 条起的记录以审计密钥（编号 {expected}）签名，未提供密钥，无法核验 / the records from "
                    f"#{record_id} on are keyed (key id {expected}) and no key was given: they cannot be verified")
        return (f"第 {record_id} 条起的记录以审计密钥（编号 {expected}）签名，所给密钥编号为 {self._key_id}：密钥不对，"
                f"或记录已被他人用另一密钥改写 / the records from #{record_id} on are keyed with key id {expected}, the key "
                f"given has id {self._key_id}: the wrong key, or the records were rewritten with another key")

    def replay(self, record_id: int, store: Store, packs: list[RulePack] | None = None) -> Verification:
        """Re-run a recorded check on ``store``: the same result digest, or what changed."""
        record = self.get(record_id)
        if record.action != "check":
            raise InputError(f"第 {record_id} 条记录是 {record.action}，只能重放核查 / only checks can be replayed",
                             field="id", value=record_id,
                             fix="选择操作为 check（核查）的记录 / choose a record whose action is check")
        return verify(load_evidence(record.details, field="id", value=record_id), store, packs)

    def close(self) -> None:
        """Close this thread's connection."""
        connection = getattr(self._local, "connection", None)
        if connection is not None:
            connection.close()
            self._local.connection = None


def _add_digest_columns(connection: sqlite3.Connection) -> None:
    """A log written before audit keys gains the digest columns (its records: plain SHA-256, no key id)."""
    if "digest_scheme" in {column[1] for column in connection.execute("PRAGMA table_info(audit)")}:
        return
    connection.execute("BEGIN IMMEDIATE")
    try:
        if "digest_scheme" not in {column[1] for column in connection.execute("PRAGMA table_info(audit)")}:
            connection.execute(f"ALTER TABLE audit ADD COLUMN digest_scheme TEXT NOT NULL DEFAULT '{PLAIN}'")
            connection.execute("ALTER TABLE audit ADD COLUMN digest_key_id TEXT")
        connection.execute("COMMIT")
    except BaseException:
        connection.execute("ROLLBACK")
        raise


def _record(row: dict[str, Any]) -> AuditRecord:
    return AuditRecord(**{**row, "layers": json.loads(row["layers"]), "details": json.loads(row["details"])})
