"""What routes share: the application state (settings, the open store, caches, jobs) and the key checks."""

from __future__ import annotations

import hmac
from dataclasses import dataclass, field
from typing import Annotated

import anyio
from fastapi import Depends, Request, Security
from fastapi.security import APIKeyHeader

from api.errors import ApiProblem
from api.features import LayerCache
from api.jobs import JobManager
from api.settings import Settings
from gis.audit import AuditTrail
from gis.store import Store

__all__ = ["AppState", "StateDep", "key_matches", "require_read", "require_write"]


@dataclass
class AppState:
    """Opened once per process by ``create_app``'s lifespan: checks reuse the store and its prepared engines.

    Small sites are checked on the event loop (``api.routes.check.INLINE_BODY_BYTES``). ``checks`` lets two
    checks of large sites or uploads run at a time in worker threads, the others wait their turn in arrival
    order: checks are CPU work under one interpreter lock, so many in flight would only share the core (and
    its caches) and all finish late together, while the threads keep one long check (a 100,000-vertex parcel
    takes seconds) from holding back the short ones.
    """

    settings: Settings
    store: Store
    layers: LayerCache
    jobs: JobManager
    audit: AuditTrail | None = None  # None when the settings turn auditing off
    checks: anyio.CapacityLimiter = field(default_factory=lambda: anyio.CapacityLimiter(2))
    #: Feature pages made at a time (``api.routes.ogc``); the others wait, outside the pool other routes use.
    pages: anyio.CapacityLimiter = field(default_factory=lambda: anyio.CapacityLimiter(2))
    #: The health probe's own thread: it answers while every pooled thread is busy.
    probe: anyio.CapacityLimiter = field(default_factory=lambda: anyio.CapacityLimiter(1))


async def get_state(request: Request) -> AppState:
    return request.app.state.ecozone


StateDep = Annotated[AppState, Depends(get_state)]

_api_key = APIKeyHeader(name="X-API-Key", auto_error=False,
                        description="API key: needed for writes (layer imports), and for reads when the server "
                                    "is configured so (ECOZONE_REQUIRE_READ_KEY).")


def key_matches(key: str, keys: list[str]) -> bool:
    """Whether ``key`` is one of ``keys``, compared in constant time (no secret learnt from answer times)."""
    return any(hmac.compare_digest(key.encode(), candidate.encode()) for candidate in keys)


_ACCESS_ZH = {"read": "读取", "write": "写入"}


def _missing(kind: str) -> ApiProblem:
    return ApiProblem(401, f"{_ACCESS_ZH[kind]}需要 API 密钥 / this {kind} needs an API key", field="X-API-Key",
                      kind="api-key-required", fix="在 X-API-Key 请求头中提供密钥 / send the key in the X-API-Key header",
                      headers={"WWW-Authenticate": "ApiKey"})


async def require_read(state: StateDep, key: Annotated[str | None, Security(_api_key)] = None) -> None:
    """Reads are open unless the server requires a key; then a read or a write key opens them."""
    settings = state.settings
    if not settings.require_read_key:
        return
    if not key:
        raise _missing("read")
    if not key_matches(key, settings.read_keys + settings.write_keys):
        raise ApiProblem(403, "此 API 密钥无权读取 / the API key is not valid for reads", field="X-API-Key",
                         kind="invalid-api-key", fix="使用运维人员为本服务器签发的密钥 / use a key the operator issued "
                                                     "for this server")


async def require_write(state: StateDep, key: Annotated[str | None, Security(_api_key)] = None) -> None:
    """Writes always need a write key; a server without write keys accepts no writes at all."""
    settings = state.settings
    if not settings.write_keys:
        raise ApiProblem(403, "本服务器未配置写入密钥，不接受写入 / writes are disabled on this server: no write key "
                              "is configured",
                         field="X-API-Key", kind="writes-disabled",
                         fix="由运维人员设置 ECOZONE_WRITE_KEYS 以开放图层导入 / the operator sets ECOZONE_WRITE_KEYS to "
                             "enable layer imports")
    if not key:
        raise _missing("write")
    if not key_matches(key, settings.write_keys):
        raise ApiProblem(403, "此 API 密钥无权写入 / the API key is not valid for writes", field="X-API-Key",
                         kind="invalid-api-key", fix="使用运维人员为本服务器签发的写入密钥 / use a write key the operator "
                                                     "issued for this server")
