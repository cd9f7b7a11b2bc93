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
"""

from __future__ import annotations

import datetime as dt
import json
import sqlite3
import threading
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, Field

from gis.errors import InputError, StoreError
from gis.evidence import Evidence, Verification, load_evidence, sha256_of, verify
from gis.rules.model import RulePack
from gis.store import Store

__all__ = ["AuditTrail", "AuditRecord", "ChainCheck", "Action", "Interface"]

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
    digest TEXT NOT NULL UNIQUE
);
CREATE INDEX IF NOT EXISTS audit_at ON audit (at);
CREATE TRIGGER IF NOT EXISTS audit_no_update BEFORE UPDATE ON audit
BEGIN SELECT RAISE(ABORT, 'the audit trail is append-only: records are never changed'); END;
CREATE TRIGGER IF NOT EXISTS audit_no_delete BEFORE DELETE ON audit
BEGIN SELECT RAISE(ABORT, 'the audit trail is append-only: records are never deleted'); END;
"""

#: The fields a record's digest covers, in order (with the previous digest first).
_CHAINED = ("at", "action", "interface", "key_name", "input_sha256", "result_sha256", "verdict", "layers", "details")

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


class ChainCheck(BaseModel):
    """The chain walked from the first record: intact, or where it breaks."""

    intact: bool
    records: int
    broken_at: int | None = None
    reason: str | None = None
    last_digest: str | None = None


def _digest(previous: str, row: dict[str, Any]) -> str:
    return sha256_of("\n".join([previous, *("" if row[name] is None else str(row[name]) for name in _CHAINED)]))


class AuditTrail:
    """The trail in the SQLite file ``path`` (created with its folder on first use).

    One connection per thread (SQLite connections are not shared between threads); processes coordinate
    through SQLite's locks. WAL mode lets readers read while a writer appends."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
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
            last = connection.execute("SELECT digest FROM audit ORDER BY id DESC LIMIT 1").fetchone()
            row["previous"] = last["digest"] if last else ""
            row["digest"] = _digest(row["previous"], row)
            cursor = connection.execute(
                f"INSERT INTO audit ({', '.join(row)}) VALUES ({', '.join('?' * len(row))})", tuple(row.values()))
            connection.execute("COMMIT")
        except BaseException:
            connection.execute("ROLLBACK")
            raise
        return cursor.lastrowid

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
        """Walk the chain from the first record: every digest recomputed from its fields and the previous one."""
        previous, count = "", 0
        for row in self._connection().execute("SELECT * FROM audit ORDER BY id"):
            row = dict(row)
            count += 1
            if row["previous"] != previous:
                return ChainCheck(intact=False, records=count, broken_at=row["id"],
                                  reason="前一条记录缺失或被改动 / the previous record is missing or was changed")
            if _digest(previous, row) != row["digest"]:
                return ChainCheck(intact=False, records=count, broken_at=row["id"],
                                  reason="记录内容被改动 / the record's fields were changed")
            previous, last = row["digest"], row["id"]
        # SQLite numbers records from the highest number it ever gave: one above the last record was removed
        given = self._connection().execute("SELECT seq FROM sqlite_sequence WHERE name = 'audit'").fetchone()
        if given is not None and given[0] > (last if count else 0):
            gone = given[0] - (last if count else 0)
            return ChainCheck(intact=False, records=count, broken_at=given[0] - gone + 1,
                              reason=f"最新的 {gone} 条记录缺失（记录编号已到 {given[0]}） / the newest {gone} record(s) "
                                     f"are missing (records were numbered up to {given[0]})")
        return ChainCheck(intact=True, records=count, last_digest=previous or None)

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


def _record(row: dict[str, Any]) -> AuditRecord:
    return AuditRecord(**{**row, "layers": json.loads(row["layers"]), "details": json.loads(row["details"])})
