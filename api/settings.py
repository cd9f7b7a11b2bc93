"""Typed settings of the HTTP API, read once at the edge (environment variables ``ECOZONE_*``).

Nothing in ``gis`` reads configuration: ``create_app(settings)`` passes what the core needs as arguments,
so tests and embedders build an app from an explicit ``Settings`` object.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Literal

from pydantic import Field, PrivateAttr, field_validator, model_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from api.filing import data_home as _data_home, default_audit_db, key_name, parse_key
from gis.overlap import DEFAULT_ENGINE_VERTICES
from gis.sites.limits import MAX_VERTICES
from maps.build import Basemap

if TYPE_CHECKING:
    from gis.audit import AuditTrail

__all__ = ["Settings"]

_KEYS = ("Comma-separated API keys, each 'name:secret' or a bare secret (environment: alice:s3cret,bob:t0ken); "
         "the audit trail records a key's name, never its secret.")


def _split(value: object) -> object:
    """Lists come from the environment as comma-separated text; JSON lists would be easy to get wrong."""
    if isinstance(value, str):
        return [part.strip() for part in value.split(",") if part.strip()]
    return value


class Settings(BaseSettings):
    """Everything the HTTP API can be configured with.

    Keys are sent in the ``X-API-Key`` header. A write key also grants reads. With no write key set,
    every write is refused: a server is never writable by accident.
    """

    model_config = SettingsConfigDict(env_prefix="ECOZONE_", extra="ignore")

    store: str | None = Field(
        default=None,
        description="Layer store: GeoPackage path or postgresql:// URL; None = the embedded read-only dataset.",
    )
    read_keys: Annotated[list[str], NoDecode] = Field(default_factory=list, description=_KEYS)
    write_keys: Annotated[list[str], NoDecode] = Field(default_factory=list, description=_KEYS)
    require_read_key: bool = Field(default=False, description="Reads (checks, jobs, OGC API) need a key too.")
    upload_max_bytes: int = Field(default=20 * 1024 * 1024, gt=0, description="Largest request body, bytes.")
    import_max_bytes: int = Field(default=512 * 1024 * 1024, gt=0, description="Largest body of a layer import "
                                  "(POST /layers/{kind}/versions with a write key), bytes: an official layer is "
                                  "tens to hundreds of MB. Never less than upload_max_bytes.")
    body_stall_s: float = Field(default=60.0, gt=0, le=3600, description="Seconds a request body may go without a "
                                "byte arriving before the request is dropped (a client that stalls holds a connection).")
    max_vertices: int = Field(default=MAX_VERTICES, gt=0, le=MAX_VERTICES,
                              description="Most vertices in one site to check (at most the readers' own bound).")
    jobs_dir: Path = Field(
        default_factory=lambda: _data_home() / "ecozone" / "jobs",
        description="Folder of batch jobs (inputs, state, results); default $XDG_DATA_HOME/ecozone/jobs.",
    )
    job_keep_days: float = Field(default=30, ge=0, description="Days a finished batch job (its input and "
                                 "results) is kept before it is deleted; 0 keeps every job.")
    job_workers: int | None = Field(default=None, gt=0, description="Processes per batch job (None: the engine decides).")
    job_max_attempts: int = Field(default=3, ge=1, le=100, description="Times a batch job is started before it is "
                                  "marked failed when its process crashes (or the server stops) while it runs.")
    job_max_seconds: float = Field(default=3600, gt=0, allow_inf_nan=False, description="Longest run of one "
                                   "attempt of a batch job, seconds; a longer one is stopped and the job failed.")
    job_max_memory_mb: int = Field(default=6144, ge=512, description="Address space one attempt of a batch job may "
                                   "take (RLIMIT_AS), MiB; past it the job fails at once. Address space, not "
                                   "resident memory: a batch reserves about twice what it keeps resident.")
    store_label: str | None = Field(default=None, description="How answers name the store (default: the "
                                    "GeoPackage's file name, or the PostgreSQL database name and schema). "
                                    "Answers never show its path or URL.")
    ogc_limit_default: int = Field(default=10, gt=0, description="Items per page when no limit is asked.")
    ogc_limit_max: int = Field(default=1000, gt=0, description="Largest page; larger limits are clamped, not refused.")
    cors_origins: Annotated[list[str], NoDecode] = Field(default_factory=list, description="Allowed browser origins.")
    root_path: str = Field(default="", description="Path prefix when served behind a proxy.")
    map_basemap_url: str | None = Field(default=None, description="XYZ tile URL of the pages' basemap (none by "
                                        "default: the pages need no internet).")
    map_basemap_attribution: str = Field(default="", description="Attribution shown for that basemap.")
    map_tianditu_key: str | None = Field(default=None, description="天地图 key (tk): draws 天地图's vector map.")
    engine_vertices: int = Field(default=DEFAULT_ENGINE_VERTICES, gt=0, description="Vertices of the zones the "
                                 "check engines kept in memory may hold in all (about 150 bytes each); the least "
                                 "recently used engine goes first.")
    map_tile_cache_mb: int = Field(default=64, ge=0, description="Vector tiles kept in memory, MB (tiles are "
                                   "made from the store on demand and kept per layer version).")
    audit: bool = Field(default=True, description="Record every check, batch and import in the audit trail.")
    audit_db: Path = Field(default_factory=default_audit_db, description="The audit trail's SQLite file; default "
                           "$XDG_DATA_HOME/ecozone/audit.sqlite (the one ecozone check writes to).")
    audit_key_file: Path | None = Field(default=None, description="The audit key's file (ecozone audit keygen "
                                        "FILE; mode 0600, kept away from the database): new records are signed "
                                        "with it (HMAC-SHA256) and GET /audit/chain verifies every record's "
                                        "signature. None: records are not signed.")
    log_format: Literal["text", "json"] = Field(default="text", description="Server log lines: text for people, "
                                                "json for one JSON object per line with each request's id, "
                                                "method, path, status, duration and key name.")
    _key_names: dict[str, str] = PrivateAttr(default_factory=dict)

    def key_name(self, key: str | None) -> str | None:
        """The configured name of the key sent (keys are given as ``name:secret``), for the audit trail."""
        return key_name(key, self._key_names)

    def audit_trail(self) -> AuditTrail | None:
        """The server's audit trail with its key, None when auditing is off; ``AuditError`` when the server could
        not write to it (the key file unreadable or open to others, a trail signed with another key or signed and
        no key given, a key and a trail not signed with it), so that the server refuses to start."""
        if not self.audit:
            return None
        from gis.audit import AuditTrail, read_key_file

        trail = AuditTrail(self.audit_db, read_key_file(self.audit_key_file) if self.audit_key_file else None)
        trail.check_writable()
        return trail

    def basemap(self) -> Basemap | None:
        """The map pages' basemap: 天地图 when a key is set, else the tile URL, else none."""
        if self.map_tianditu_key:
            return Basemap.tianditu(self.map_tianditu_key)
        if self.map_basemap_url:
            return Basemap.tiles(self.map_basemap_url, self.map_basemap_attribution)
        return None

    _split_lists = field_validator("read_keys", "write_keys", "cors_origins", mode="before")(_split)

    @model_validator(mode="after")
    def _name_keys(self) -> Settings:
        """Keys may be given as ``name:secret``: the secrets are what a request must send, the names what the
        audit trail records."""
        for field in ("read_keys", "write_keys"):
            pairs = [parse_key(entry) for entry in getattr(self, field)]
            self._key_names.update({secret: name for name, secret in pairs})
            setattr(self, field, [secret for _, secret in pairs])
        return self

    @model_validator(mode="after")
    def _check_limits(self) -> Settings:
        if self.ogc_limit_default > self.ogc_limit_max:
            raise ValueError(
                f"ogc_limit_default ({self.ogc_limit_default}) exceeds ogc_limit_max ({self.ogc_limit_max})"
            )
        if self.require_read_key and not (self.read_keys or self.write_keys):
            raise ValueError("require_read_key is set but no read_keys or write_keys are configured")
        return self
