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
after it. The audit key (a secret file outside the database, ``write_key_file``/``read_key_file``; the
interfaces take its path from ``ECOZONE_AUDIT_KEY_FILE``) signs records: the chain of plain digests stays as it
is, and each record also carries ``mac``, an HMAC-SHA256 with the key (``_mac``: over the UTF-8 bytes of the
JSON array, ``json.dumps(..., ensure_ascii=False, separators=(",", ":"))``, of the record's digest and the fields
of ``_CHAINED`` in order, null for a missing one), and ``mac_key_id``, the key's id (the first 16 hex digits of
the key's SHA-256, never the key).

What the verifier trusts is the key, never the file: ``verify`` with a key requires *every* record to carry a
valid mac with that key's id. A record without one, or with a wrong one, is a break at that record, so
neither rewriting records and recomputing the plain chain nor removing the signatures (a "downgrade" to unsigned
records) passes; a trail with no record signed with the key fails as a whole. Once a record is signed, every
writer must sign with the same key (a writer without it, or with another, is refused).

A trail written without a key (or before keys existed: no mac columns, added on opening) is signed once,
explicitly, with ``sign`` (``ecozone audit sign``): it verifies the plain chain and signs every record in one
transaction. It is never done by a writer on its own: a trail whose signatures were all removed looks the same
as one never signed, and signing it would cover the rewrite; a keyed writer refuses an unsigned trail instead.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import json
import os
import re
import sqlite3
import threading
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, Field

from gis.errors import AuditError, InputError
from gis.evidence import Evidence, Verification, load_evidence, sha256_of, verify
from gis.rules.model import RulePack
from gis.store import Store

__all__ = ["AuditTrail", "AuditRecord", "ChainCheck", "Action", "Interface", "key_id", "read_key_file",
           "write_key_file"]

Action = Literal["check", "batch", "batch_result", "import"]
Interface = Literal["cli", "api"]

_TABLE = """
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
    mac TEXT,
    mac_key_id TEXT
);
CREATE INDEX IF NOT EXISTS audit_at ON audit (at);
"""

#: A record's fields never change and it is never removed; its signature is added once (``sign``), never changed.
_TRIGGERS = """
CREATE TRIGGER IF NOT EXISTS audit_no_update BEFORE UPDATE OF id, at, action, interface, key_name, input_sha256,
    result_sha256, verdict, layers, details, previous, digest ON audit
BEGIN SELECT RAISE(ABORT, 'the audit trail is append-only: records are never changed'); END;
CREATE TRIGGER IF NOT EXISTS audit_signed_once BEFORE UPDATE OF mac, mac_key_id ON audit WHEN OLD.mac IS NOT NULL
BEGIN SELECT RAISE(ABORT, 'the audit trail is append-only: a signature is never changed'); END;
CREATE TRIGGER IF NOT EXISTS audit_no_delete BEFORE DELETE ON audit
BEGIN SELECT RAISE(ABORT, 'the audit trail is append-only: records are never deleted'); END;
"""

#: The fields a record's digest covers, in order (with the previous digest first); its mac covers them too.
_CHAINED = ("at", "action", "interface", "key_name", "input_sha256", "result_sha256", "verdict", "layers", "details")

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
    digest: str = Field(description="SHA-256 of the previous digest and the record's fields (the chain).")
    mac: str | None = Field(default=None, description="HMAC-SHA256 with the audit key of the digest and the "
                            "fields (the signature); None when the record is not signed.")
    mac_key_id: str | None = Field(default=None, description="The id of the audit key the record is signed with "
                                   "(the first 16 hex digits of the key's SHA-256; never the key).")


class ChainCheck(BaseModel):
    """The chain walked from the first record: intact, or where it breaks."""

    intact: bool
    records: int
    broken_at: int | None = None
    reason: str | None = None
    last_digest: str | None = None
    signed: bool = Field(default=False, description="Every record's signature was verified with the audit key: "
                         "a rewrite needs the key. False: at most the plain chain was checked (see note).")
    key_id: str | None = Field(default=None, description="The id of the audit key the records are signed with; "
                               "None when no record is signed.")
    unverified_from: int | None = Field(default=None, description="The first signed record whose signature could "
                                        "not be verified: no key was given, or another key.")
    note: str | None = Field(default=None, description="What an intact chain does not prove (records not signed).")
    kept_at: int | None = Field(default=None, description="The record whose digest is the one kept elsewhere (a "
                                "digest noted from an earlier verify), when one was given and found.")


def key_id(key: bytes) -> str:
    """The id of an audit key that records carry: the first 16 hex digits of its SHA-256 (never the key)."""
    return hashlib.sha256(key).hexdigest()[:16]


def _digest(previous: str, row: dict[str, Any]) -> str:
    """The plain digest (the chain): SHA-256 of the previous digest and the fields, newline-joined."""
    return sha256_of("\n".join([previous, *("" if row[name] is None else str(row[name]) for name in _CHAINED)]))


def _mac(key: bytes, row: dict[str, Any]) -> str:
    """A record's signature: HMAC-SHA256 with ``key`` of the JSON array of its digest and its fields (JSON, unlike
    the newline-joined digest, tells a missing field from an empty one and a newline from a field's end)."""
    message = json.dumps([row["digest"], *(row[name] for name in _CHAINED)], ensure_ascii=False,
                         separators=(",", ":"))
    return hmac.new(key, message.encode(), hashlib.sha256).hexdigest()


_KEY_FIX = ("用 ecozone audit keygen 文件 生成密钥，并以 ECOZONE_AUDIT_KEY_FILE 指向它 / make one with "
            "'ecozone audit keygen FILE' and point ECOZONE_AUDIT_KEY_FILE at it")
_VERIFY_FIX = ("用 ecozone audit verify 以审计密钥核验，查明哪条记录被改动，勿在其上继续写入或签名 / find the "
               "record changed with 'ecozone audit verify' and the audit key; do not write or sign on top of it")


def read_key_file(path: str | Path) -> bytes:
    """The audit key in the file ``path``: its bytes (at least 32), from a file only its owner may read."""
    path = Path(path)
    try:
        with path.open("rb") as file:
            mode = os.fstat(file.fileno()).st_mode
            key = file.read(4096)
    except OSError as error:
        raise AuditError(f"审计密钥文件无法读取 / the audit key file cannot be read: {error.strerror}",
                         field="audit key", value=str(path), fix=_KEY_FIX) from None
    if mode & 0o077:
        raise AuditError(f"审计密钥文件可被其他用户访问（权限 {mode & 0o777:o}） / the audit key file is open to "
                         f"other users (mode {mode & 0o777:o})", field="audit key", value=str(path),
                         fix=f"只让文件所有者读写：chmod 600 {path} / let its owner alone read it: chmod 600 {path}")
    if len(key) < _KEY_BYTES:
        raise AuditError(f"审计密钥太短（{len(key)} 字节，至少 {_KEY_BYTES}） / the audit key is too short "
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

    With ``key`` (the audit key's bytes, ``read_key_file``) new records are signed and ``verify`` requires every
    record signed with it; without it records are not signed, and a signed trail is not written to."""

    def __init__(self, path: str | Path, key: bytes | None = None) -> None:
        self.path = Path(path)
        self._key = key
        self._key_id = key_id(key) if key is not None else None
        self._local = threading.local()

    @property
    def key_id(self) -> str | None:
        """The id of this trail's key; None without one."""
        return self._key_id

    def _connection(self) -> sqlite3.Connection:
        connection = getattr(self._local, "connection", None)
        if connection is None:
            try:
                self.path.parent.mkdir(parents=True, exist_ok=True)
                connection = sqlite3.connect(self.path, timeout=_BUSY_MS / 1000, isolation_level=None)
                connection.execute(f"PRAGMA busy_timeout = {_BUSY_MS}")
                connection.execute("PRAGMA journal_mode = WAL")
                connection.execute("PRAGMA synchronous = NORMAL")  # see the module: a power cut may lose the last records
                connection.executescript(_TABLE)
                _add_mac_columns(connection)
                connection.executescript(_TRIGGERS)
            except (OSError, sqlite3.Error) as error:
                raise AuditError(f"审计记录无法打开 / the audit trail cannot be opened: {error}", field="audit",
                                 value=self.path.name, fix="检查文件夹的权限，或关闭审计记录 / check the folder's permissions, "
                                     "or turn auditing off") from None
            connection.row_factory = sqlite3.Row
            self._local.connection = connection
        return connection

    def record(self, action: Action, interface: Interface, *, key_name: str | None = None,
               input_sha256: str | None = None, result_sha256: str | None = None, verdict: str | None = None,
               layers: dict[str, Any] | None = None, details: dict[str, Any] | str | None = None) -> int:
        """Append one record, chained to the newest one (and signed with the key); its id. ``details`` may come
        as JSON text already."""
        row = {"at": dt.datetime.now(dt.timezone.utc).isoformat(timespec="microseconds"), "action": action,
               "interface": interface, "key_name": key_name, "input_sha256": input_sha256,
               "result_sha256": result_sha256, "verdict": verdict,
               "layers": json.dumps(layers or {}, ensure_ascii=False, sort_keys=True),
               "details": details if isinstance(details, str) else json.dumps(details or {}, ensure_ascii=False,
                                                                               sort_keys=True)}
        connection = self._connection()
        connection.execute("BEGIN IMMEDIATE")  # the write lock first: no other writer can chain in between
        try:
            last = self._check_writable(connection)
            row["previous"] = last["digest"] if last else ""
            row["digest"] = _digest(row["previous"], row)
            if self._key is not None:
                row["mac"], row["mac_key_id"] = _mac(self._key, row), self._key_id
            cursor = connection.execute(
                f"INSERT INTO audit ({', '.join(row)}) VALUES ({', '.join('?' * len(row))})", tuple(row.values()))
            connection.execute("COMMIT")
        except BaseException:
            connection.execute("ROLLBACK")
            raise
        return cursor.lastrowid

    def check_writable(self) -> None:
        """Raise ``AuditError`` when this trail's writer would be refused (what a server checks as it starts):
        signed records and no key or another key, or with a key records that are not signed."""
        self._check_writable(self._connection())

    def _check_writable(self, connection: sqlite3.Connection) -> sqlite3.Row | None:
        """The newest record, when a record may be written after it: signed with this trail's key, or unsigned
        and written without a key (a signed trail with unsigned records at its end is found by ``verify``)."""
        last = connection.execute("SELECT id, digest, mac, mac_key_id FROM audit ORDER BY id DESC LIMIT 1").fetchone()
        if last is None:
            return None
        if last["mac"] is not None:
            if last["mac_key_id"] != self._key_id:
                raise self._key_refused(last["mac_key_id"])
            return last
        if self._key is None:
            return last
        signed = connection.execute("SELECT id, mac_key_id FROM audit WHERE mac IS NOT NULL ORDER BY id DESC "
                                    "LIMIT 1").fetchone()
        if signed is not None:
            raise AuditError(f"审计记录自第 {signed['id'] + 1} 条起未签名，而其前的记录已签名：记录被改写，或签名被去掉，不再"
                             f"写入 / the audit records after #{signed['id']} are not signed though those before "
                             "are: the records were rewritten or their signatures removed; nothing more is written",
                             field="audit", value=self.path.name, fix=_VERIFY_FIX)
        raise AuditError("审计记录未以审计密钥签名，写入者不会自行签名 / the audit trail's "
                         "records are not signed with the audit key, and a writer never signs them on its own",
                         field="audit", value=self.path.name,
                         fix="若该记录从未签名，以审计密钥用 ecozone audit sign 签名一次；若曾签名，则签名已被去掉，"
                             "勿签名，先查明 / if the trail has never been signed, sign it once with 'ecozone audit sign' "
                             "and the audit key; if it was, its signatures were removed: do not sign, find out why")

    def _key_refused(self, expected: str) -> AuditError:
        zh, en = (("未提供审计密钥", "no audit key was given") if self._key is None
                  else (f"所给密钥编号为 {self._key_id}，不是该密钥", f"the key given has key id {self._key_id}, "
                        "not that key"))
        return AuditError(f"审计记录以密钥（编号 {expected}）签名，{zh}：不写入无法核验的记录 / the audit trail is "
                          f"signed with the audit key (key id {expected}), {en}: no record is written that its "
                          "key cannot verify", field="audit key", value=self._key_id,
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

    def verify(self, kept: str | None = None) -> ChainCheck:
        """Walk the chain from the first record: every digest recomputed from its fields and the previous one and,
        with a key, every record's signature checked. With a key every record must be signed with it (a record
        without its signature is a break); signed records and no key or another key are not verified
        (``unverified_from``); unsigned records verify with a ``note`` of what that does not prove.

        ``kept``: a digest noted elsewhere from an earlier verify (its ``last_digest``, or its first 16 hex
        digits at least). Neither the chain nor the signatures reveal the newest records removed with the number
        SQLite gives wound back, nor an unsigned trail rewritten whole; a kept digest that is no longer in the
        trail does (a break)."""
        checked = self._verify()
        if kept is None:
            return checked
        wanted = kept.strip().lower()
        if not re.fullmatch(r"[0-9a-f]{16,64}", wanted):
            raise InputError("记下的摘要应为 16 至 64 位十六进制数字 / a kept digest is 16 to 64 hex digits", field="kept",
                             value=kept[:100], fix="给出此前 ecozone audit verify 显示的最新摘要 / give the latest digest "
                                                   "an earlier verify showed")
        found = self._connection().execute("SELECT id FROM audit WHERE substr(digest, 1, ?) = ? ORDER BY id LIMIT 1",
                                           (len(wanted), wanted)).fetchone()
        if found is not None:
            return checked.model_copy(update={"kept_at": found[0]})
        if not checked.intact:
            return checked
        return checked.model_copy(update={"intact": False, "note": None, "reason": (
            f"记下的摘要 {wanted} 不在审计记录中：记下之后，它所在的记录被删除，或记录被整体改写 / the digest kept, {wanted}, "
            "is not in the trail: since it was noted, its record was removed or the records were rewritten")})

    def _verify(self) -> ChainCheck:
        """``verify`` without a kept digest."""
        connection = self._connection()
        first = connection.execute("SELECT id, mac_key_id FROM audit WHERE mac IS NOT NULL ORDER BY id "
                                   "LIMIT 1").fetchone()
        mine = self._key is not None and connection.execute(
            "SELECT 1 FROM audit WHERE mac_key_id = ? LIMIT 1", (self._key_id,)).fetchone() is not None
        broken, count, previous = self._walk(connection, mine)
        if broken is not None:
            return broken.model_copy(update={"key_id": self._key_id if mine else first and first["mac_key_id"]})
        last_digest = previous or None
        if mine:
            return ChainCheck(intact=True, records=count, last_digest=last_digest, signed=True, key_id=self._key_id)
        if first is not None:
            return ChainCheck(intact=False, records=count, last_digest=last_digest, key_id=first["mac_key_id"],
                              unverified_from=first["id"], reason=self._unverified(first["id"], first["mac_key_id"],
                                                                                   count))
        if self._key is not None and count:
            start = connection.execute("SELECT MIN(id) FROM audit").fetchone()[0]
            return ChainCheck(intact=False, records=count, broken_at=start, last_digest=last_digest,
                              reason=f"没有一条记录以所给密钥（编号 {self._key_id}）签名：若记录曾以它签名，签名已被去掉，记录可能"
                                     f"被改写；从未签名的记录可用 ecozone audit sign 签名一次 / no record is signed with the "
                                     f"key given (key id {self._key_id}): if records were signed with it, their "
                                     "signatures were removed and they may have been rewritten; a trail never signed "
                                     "is signed once with 'ecozone audit sign'")
        return ChainCheck(intact=True, records=count, last_digest=last_digest, note=(
            "记录未用密钥签名：能写入该文件者可改写记录并重算其后所有摘要，除非另存了最新摘要，否则无法发现 / the records "
            "are not signed with an audit key: whoever can write the file can rewrite a record and recompute every "
            "digest after it, which only a digest kept elsewhere reveals") if count else None)

    def _walk(self, connection: sqlite3.Connection, signed: bool) -> tuple[ChainCheck | None, int, str]:
        """Walk the records: (the break, or None), how many, the last digest. With ``signed`` every record's
        signature with this trail's key is checked too."""
        previous, count, last = "", 0, 0
        for row in connection.execute("SELECT * FROM audit ORDER BY id"):
            row = dict(row)
            count += 1
            if row["previous"] != previous:
                reason = "前一条记录缺失或被改动 / the previous record is missing or was changed"
            elif not hmac.compare_digest(_digest(previous, row), row["digest"]):
                reason = "记录内容被改动 / the record's fields were changed"
            elif signed and row["mac"] is None:
                reason = ("无密钥签名，记录被改写（或其签名被去掉） / not signed with the key: the record was rewritten "
                          "(or its signature removed)")
            elif signed and row["mac_key_id"] != self._key_id:
                reason = (f"该记录以另一密钥（编号 {row['mac_key_id']}）签名：记录被改写 / the record is signed with "
                          f"another key (id {row['mac_key_id']}): it was rewritten")
            elif signed and not hmac.compare_digest(_mac(self._key, row), row["mac"]):
                reason = "签名与记录不符：记录被改写 / the signature does not match the record: it was rewritten"
            else:
                previous, last = row["digest"], row["id"]
                continue
            return ChainCheck(intact=False, records=count, broken_at=row["id"], reason=reason), count, previous
        # SQLite numbers records from the highest number it ever gave: one above the last record was removed
        given = connection.execute("SELECT seq FROM sqlite_sequence WHERE name = 'audit'").fetchone()
        if given is not None and given[0] > last:
            gone = given[0] - last
            return ChainCheck(intact=False, records=count, broken_at=last + 1,
                              reason=f"最新的 {gone} 条记录缺失（记录编号已到 {given[0]}） / the newest {gone} record(s) "
                                     f"are missing (records were numbered up to {given[0]})"), count, previous
        return None, count, previous

    def _unverified(self, record_id: int, expected: str, count: int) -> str:
        if self._key is None:
            return (f"{count} 条记录的摘要链完整，但第 {record_id} 条起的记录以审计密钥（编号 {expected}）签名，未提供密钥，签名无法"
                    f"核验 / the chain of digests ({count} records) is intact, but the records from #{record_id} "
                    f"on are signed with the audit key (key id {expected}) and no key was given: their signatures "
                    "cannot be verified")
        return (f"第 {record_id} 条起的记录以审计密钥（编号 {expected}）签名，所给密钥编号为 {self._key_id}：密钥不对，"
                f"或记录已被他人用另一密钥改写 / the records from #{record_id} on are signed with key id {expected}, the key "
                f"given has id {self._key_id}: the wrong key, or the records were rewritten with another key")

    def sign(self) -> int:
        """Sign a trail written without a key with this trail's key, once: the plain chain is verified first,
        then every record signed, in one transaction; how many were signed (0: all were signed with it already).

        Only for a trail never signed: one whose signatures were all removed looks the same, and signing it would
        cover a rewrite. A trail partly signed, or signed with another key, is refused."""
        if self._key is None:
            raise AuditError("签名需要审计密钥 / signing needs the audit key", field="audit key", fix=_KEY_FIX)
        connection = self._connection()
        connection.execute("BEGIN IMMEDIATE")
        try:
            signed = connection.execute("SELECT mac_key_id, COUNT(*) AS n FROM audit WHERE mac IS NOT NULL GROUP BY "
                                        "mac_key_id ORDER BY MIN(id) LIMIT 1").fetchone()
            if signed is not None and signed["mac_key_id"] != self._key_id:
                raise self._key_refused(signed["mac_key_id"])
            total = connection.execute("SELECT COUNT(*) FROM audit").fetchone()[0]
            if signed is not None and signed["n"] < total:
                raise AuditError("审计记录部分已签名、部分未签名：记录被改写或签名被去掉，不予签名 / some audit records are "
                                 "signed and others are not: records were rewritten or signatures removed; nothing "
                                 "is signed", field="audit", value=self.path.name, fix=_VERIFY_FIX)
            if signed is not None:
                connection.execute("COMMIT")
                return 0
            broken, _, _ = self._walk(connection, False)
            if broken is not None:
                raise AuditError(f"审计记录在第 {broken.broken_at} 条处断开，不予签名 / the audit chain is broken at record "
                                 f"#{broken.broken_at}, nothing is signed: {broken.reason}", field="audit",
                                 value=self.path.name, fix=_VERIFY_FIX)
            rows = [dict(row) for row in connection.execute("SELECT * FROM audit ORDER BY id")]
            connection.executemany("UPDATE audit SET mac = ?, mac_key_id = ? WHERE id = ?",
                                   [(_mac(self._key, row), self._key_id, row["id"]) for row in rows])
            connection.execute("COMMIT")
        except BaseException:
            connection.execute("ROLLBACK")
            raise
        return len(rows)

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


def _add_mac_columns(connection: sqlite3.Connection) -> None:
    """A trail written before signatures gains the mac columns (its records: unsigned), and the trigger that lets
    a signature be added once (the old one refused every update)."""
    if "mac" in {column[1] for column in connection.execute("PRAGMA table_info(audit)")}:
        return
    connection.execute("BEGIN IMMEDIATE")
    try:
        if "mac" not in {column[1] for column in connection.execute("PRAGMA table_info(audit)")}:
            connection.execute("ALTER TABLE audit ADD COLUMN mac TEXT")
            connection.execute("ALTER TABLE audit ADD COLUMN mac_key_id TEXT")
            connection.execute("DROP TRIGGER IF EXISTS audit_no_update")
        connection.execute("COMMIT")
    except BaseException:
        connection.execute("ROLLBACK")
        raise


def _record(row: dict[str, Any]) -> AuditRecord:
    return AuditRecord(**{**row, "layers": json.loads(row["layers"]), "details": json.loads(row["details"])})
