"""Errors as HTTP answers: the one place where ecozone's error classes meet status codes.

Every error answer is ``application/problem+json`` (RFC 9457): ``type``, ``title``, ``status``, ``detail``
and ``instance``, plus what the error knows (``field``, ``value``, ``fix``, ``row``, ``source``). What an
officer reads is Chinese first, then English after " / " (``中文 / English``), the framework's own texts too. Request
validation (FastAPI's 422) becomes 400 naming the field, as OGC API - Features asks. Anything unexpected is
a 500 with no internals in the body, logged with its traceback. No answer shows a server path: the
messages of readers and libraries (GDAL names the file it cannot open by its full path) are cut to file
names (``hide_paths``).
"""

from __future__ import annotations

import logging
import math
import re
from collections.abc import Sequence
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from pydantic import BaseModel, ConfigDict, Field, ValidationError
from starlette.exceptions import HTTPException
from starlette.requests import ClientDisconnect
from starlette.routing import Match

from gis.errors import (
    AuditError,
    EcozoneError,
    InputError,
    LimitExceededError,
    ReadOnlyStoreError,
    RuleError,
    StoreError,
    StoreNotFoundError,
    UnknownKindError,
    VersionNotFoundError,
)
from gis.zones import row_parts

__all__ = ["PROBLEM_JSON", "STATUS_CODES", "ApiProblem", "Problem", "add_exception_handlers", "document_problems",
           "hide_paths", "problem_from_validation", "status_for"]

log = logging.getLogger("ecozone.api")

PROBLEM_JSON = "application/problem+json"

#: Status code of each error class; a subclass not listed takes its nearest listed ancestor's.
STATUS_CODES: dict[type[Exception], int] = {
    EcozoneError: 400,
    InputError: 400,
    UnknownKindError: 400,  # in a body or query; an unknown kind in a path is answered 404 by the route
    LimitExceededError: 413,
    StoreError: 503,
    AuditError: 503,  # the server's trail or key (a wrong key is refused as the server starts)
    StoreNotFoundError: 404,
    VersionNotFoundError: 404,
    ReadOnlyStoreError: 409,
    RuleError: 500,  # rule packs ship with the server: a bad one is the server's fault, never the user's
}

_TITLES = {400: "Bad request", 401: "API key required", 403: "Forbidden", 404: "Not found",
           405: "Method not allowed", 409: "Conflict", 413: "Content too large", 415: "Unsupported media type",
           500: "Internal server error", 503: "Service unavailable"}
#: The titles in Chinese, said first; also what the framework's own errors (Starlette's "Not Found") say first.
_TITLES_ZH = {400: "请求有误", 401: "需要 API 密钥", 403: "无权访问", 404: "未找到", 405: "不支持此请求方法",
              409: "与当前状态冲突", 413: "内容过大", 415: "不支持的内容类型", 500: "服务器内部错误",
              503: "服务暂不可用"}


def _title(status: int) -> str:
    """The title of a status, Chinese first."""
    return f"{_TITLES_ZH[status]} / {_TITLES[status]}" if status in _TITLES else "错误 / Error"


def _chinese_first(text: str) -> bool:
    """Whether ``text`` begins with a Chinese character (it says in Chinese first what it says)."""
    return bool(text) and "\u4e00" <= text[0] <= "\u9fff"


class Problem(BaseModel):
    """An error answer (``application/problem+json``, RFC 9457), with what ecozone knows about the error."""

    model_config = ConfigDict(extra="allow")

    type: str = Field(description="URN of the kind of problem, e.g. urn:ecozone:problem:invalid-parameter.")
    title: str
    status: int
    detail: str = Field(description="What is wrong, naming the field and the value.")
    instance: str = Field(description="The path of the request.")
    field: str | None = Field(default=None, description="The parameter, form field, body member or header at fault.")
    value: Any = Field(default=None, description="The value given (shortened).")
    fix: str | None = Field(default=None, description="How to fix the request.")
    error: str | None = Field(default=None, description="ecozone's error class, for errors found reading the input.")
    row: Any = Field(default=None, description="Row (of a file) at fault: its number as the file counts it (a "
                     "layer file's features from 1) where it has one, else as the reader names it.")
    zone_id: str | None = Field(default=None, description="The 编号 (zone_id) of the layer file's row at fault.")
    source: str | None = Field(default=None, description="File (by name) at fault.")
    errors: list[dict[str, Any]] | None = Field(default=None, description="Every invalid field, when several are.")
    problems: list[dict[str, Any]] | None = Field(
        default=None, description="Every problem found in an input (a layer file), when there are several: each "
        "with its error class (type), message, row, zone_id, field, value and fix; the first 20 of each kind.")
    unlisted: int | None = Field(default=None, description="How many more problems were found and not listed.")


#: What each error status means in the OpenAPI document; every operation lists those it can answer.
_DOCUMENTED = {
    400: "Bad request: a parameter, form field or body member cannot be used (problem+json naming the field)",
    401: "API key required (X-API-Key)",
    403: "The API key is not valid for this request, or writes are disabled on this server",
    404: "No such resource",
    409: "Conflict",
    413: "The request body is larger than this server accepts, or the site has too many vertices",
    415: "Unsupported content type",
}


def document_problems(schema: dict[str, Any], *, read_key_required: bool) -> None:
    """Make the OpenAPI document say what the server answers: errors are problem+json with these statuses (400,
    never FastAPI's 422), 401/403 where a key applies, 404 where the path names a resource, 413 where there is
    a body."""
    schemas = schema.setdefault("components", {}).setdefault("schemas", {})
    schemas["Problem"] = Problem.model_json_schema(ref_template="#/components/schemas/{model}")
    for name in ("HTTPValidationError", "ValidationError"):
        schemas.pop(name, None)
    content = {PROBLEM_JSON: {"schema": {"$ref": "#/components/schemas/Problem"}}}
    for path, operations in schema.get("paths", {}).items():
        for operation in operations.values():
            responses = operation.setdefault("responses", {})
            responses.pop("422", None)
            statuses = {400}
            if "requestBody" in operation:
                statuses.add(413)
            if "{" in path:
                statuses.add(404)
            if operation.get("security") or read_key_required:
                statuses |= {401, 403}
            for status in statuses:
                responses.setdefault(str(status), {"description": _DOCUMENTED[status]})
            for status, response in responses.items():
                if status.isdigit() and int(status) >= 400:
                    response["content"] = content
                    response.setdefault("description", _DOCUMENTED.get(int(status), _TITLES.get(int(status), "")))


def status_for(error: Exception) -> int:
    """The HTTP status of an error, by its class or nearest listed ancestor."""
    for cls in type(error).__mro__:
        if cls in STATUS_CODES:
            return STATUS_CODES[cls]
    return 500


#: An absolute path of two or more parts (not a URL's path, not a ratio such as 2024/06/30 or t/h): readers'
#: and libraries' messages name the server's files by it (GDAL: "'/srv/…/upload.gpkg' not recognized …").
_SERVER_PATH = re.compile(r"(?<![\w.:/~-])/(?:[^\s/'\"<>|;,()\[\]{}:*?]+/)+([^\s/'\"<>|;,()\[\]{}:*?]*)(?!\{)")


def hide_paths(value: Any) -> Any:
    """``value`` (text, or text in lists and dicts) with every absolute path cut to its file name: answers
    never show the server's folders (store, jobs, uploads, the code's own)."""
    if isinstance(value, str):
        return _SERVER_PATH.sub(lambda match: match.group(1) or "…", value) if "/" in value else value
    if isinstance(value, list):
        return [hide_paths(item) for item in value]
    if isinstance(value, dict):
        return {key: hide_paths(item) for key, item in value.items()}
    return value


def _kebab(name: str) -> str:
    return re.sub(r"(?<!^)(?=[A-Z])", "-", name).lower().replace("c-r-s", "crs")


#: Characters of a value an answer echoes at most (an id of megabytes would otherwise come back whole).
ECHO_MAX = 80
#: Characters of a fix at most: ecozone's own sentence, which may list a file's columns.
FIX_MAX = 400


def _short(value: Any, limit: int = ECHO_MAX) -> Any:
    """A value as an answer may echo it: JSON (no NaN or infinity), at most ``limit`` characters and "…"."""
    if isinstance(value, (bool, type(None))) or (isinstance(value, float) and math.isfinite(value)):
        return value
    if isinstance(value, int) and abs(value) < 10**15:
        return value
    text = value if isinstance(value, str) else repr(value)
    return text if len(text) <= limit else text[:limit] + "…"


def _row(row: Any) -> dict[str, Any]:
    """``row``, and ``zone_id`` apart, of an error's row: a layer file's ``12 (HX-0012)`` answers 12 and
    HX-0012, as a program reading the answer wants them."""
    number, zone_id = row_parts(row)
    if number is None:
        return {"row": _short(row)}
    return {"row": number, **({"zone_id": _short(zone_id)} if zone_id else {})}


class ApiProblem(HTTPException):
    """A problem the API layer itself finds: a missing key, an unknown job, collection or feature.

    It is an ``HTTPException`` so that FastAPI passes it through untouched when it is raised while a body
    is being read (the size limit), instead of turning it into a generic 400.
    """

    def __init__(self, status: int, detail: str, *, field: str | None = None, value: Any = None,
                 fix: str | None = None, kind: str | None = None, headers: dict[str, str] | None = None,
                 errors: list[dict[str, Any]] | None = None) -> None:
        super().__init__(status, detail, headers)
        self.status = status
        self.field = field
        self.value = value
        self.fix = fix
        self.kind = kind or _TITLES.get(status, "error").lower().replace(" ", "-")
        self.errors = errors

    def body(self) -> dict[str, Any]:
        """The problem+json body of this problem."""
        body = {
            "type": f"urn:ecozone:problem:{self.kind}",
            "title": _title(self.status),
            "status": self.status,
            "detail": self.detail,
            "field": self.field,
            "value": _short(self.value),
            "fix": self.fix,
        }
        if self.errors:
            body["errors"] = self.errors
        return body


def _response(request: Request, body: dict[str, Any], headers: dict[str, str] | None = None,
              echoed: tuple[Any, ...] = ()) -> JSONResponse:
    """The problem+json answer; the ``echoed`` values (the field and value at fault) are cut short wherever its
    texts (and the path, ``instance``) quote them, as in ``value``."""
    body, instance = dict(body), request.url.path
    for text in echoed:
        if isinstance(text, str) and len(text) > ECHO_MAX:
            for key in ("detail", "fix", "field"):
                if isinstance(body.get(key), str):
                    body[key] = body[key].replace(text, _short(text))
            instance = instance.replace(text, _short(text))
    body = hide_paths(body)
    body["instance"] = instance  # a path of the API, not of the server's files
    return JSONResponse(body, status_code=body["status"], media_type=PROBLEM_JSON, headers=headers)


#: What each kind of validation error says in Chinese (pydantic's own text follows, in English).
_VALIDATION_ZH = {
    "missing": "缺少此项", "extra_forbidden": "没有这一项（名称拼错？）", "string_type": "应为文字",
    "int_type": "应为整数", "int_parsing": "应为整数", "int_from_float": "应为整数", "float_type": "应为数字",
    "float_parsing": "应为数字", "finite_number": "应为有限的数字", "bool_type": "应为 true 或 false",
    "bool_parsing": "应为 true 或 false", "greater_than": "太小", "greater_than_equal": "太小", "less_than": "太大",
    "less_than_equal": "太大", "string_too_long": "太长", "string_too_short": "太短", "too_long": "项数太多",
    "too_short": "项数太少", "literal_error": "不是允许的取值", "enum": "不是允许的取值", "list_type": "应为列表",
    "dict_type": "应为对象", "model_type": "应为对象", "date_from_datetime_parsing": "日期应写作 YYYY-MM-DD",
    "date_parsing": "日期应写作 YYYY-MM-DD", "date_type": "日期应写作 YYYY-MM-DD", "json_invalid": "不是有效的 JSON",
    "string_pattern_mismatch": "格式不对",
}
#: The parts of an error's location that name a member of a union (``site.str``), not a field.
_UNION_MEMBER = re.compile(r"str|int|float|bool|none|(dict|list|tuple)\[.*\]|function-.*|json-or-python\[.*\]")


def problem_from_validation(errors: Sequence[dict[str, Any]], *, where: str = "body") -> ApiProblem:
    """One 400 problem from pydantic/FastAPI validation errors, naming the first bad field (all are listed),
    Chinese first; an error of the whole request (JSON that does not parse) names ``where``. A validator's own
    message already in both languages (``中文 / English``, e.g. ``api.params.IsoDate``'s) is said as it is."""
    listed, said = [], []
    for error in errors:
        loc = [str(part) for part in error.get("loc", ())]
        if loc and loc[0] in {"body", "query", "path", "header", "form"}:
            loc = loc[1:]
        loc = [part for part in loc if not _UNION_MEMBER.fullmatch(part)] or loc
        field = ".".join(loc) or where
        chinese, english = _VALIDATION_ZH.get(error.get("type", ""), "不符合要求"), error.get("msg", "invalid")
        if field == "site" and error.get("type") in ("string_type", "dict_type"):
            chinese = "应为 GeoJSON 对象，或坐标、WKT、拐点文字"
        reason = str((error.get("ctx") or {}).get("error", "")) if error.get("type") == "value_error" else ""
        if _chinese_first(reason) and " / " in reason:
            chinese, _, english = reason.partition(" / ")
        listed.append({"field": field, "message": f"{chinese} / {english}", "value": _short(error.get("input"))})
        said.append((chinese, english))
    if not listed:
        return ApiProblem(400, "请求无效 / invalid request", field=where, kind="invalid-parameter",
                          fix="按 /openapi.json 所列的取值填写 / see the OpenAPI document at /openapi.json for the "
                              "allowed values")
    first, (chinese, english) = listed[0], said[0]
    return ApiProblem(400, f"字段 {first['field']}：{chinese} / {first['field']}: {english}",
                      field=first["field"], value=first["value"], kind="invalid-parameter",
                      fix="按 /openapi.json 所列的取值填写 / see the OpenAPI document at /openapi.json for the allowed "
                          "values", errors=listed)


_METHODS = ("GET", "HEAD", "POST", "PUT", "PATCH", "DELETE")


def _allowed_methods(request: Request) -> list[str]:
    """The methods the resource at the request's path serves: those its operations document (the most literal
    path template that fits, so /screen/preview is not also /screen/{job_id}), else every method some route
    serves there (the routers an application includes do not list their routes' methods)."""
    path = request.scope["path"].removeprefix(request.scope.get("root_path") or "") or "/"
    fits = [(template, operations) for template, operations in request.app.openapi().get("paths", {}).items()
            if re.fullmatch(re.sub(r"\\\{[^}]+\\\}", "[^/]+", re.escape(template)), path)]
    if fits:
        _, operations = min(fits, key=lambda fit: fit[0].count("{"))
        return [method for method in _METHODS if method.lower() in operations]
    routes = request.app.router.routes
    return [method for method in _METHODS
            if any(route.matches({**request.scope, "method": method})[0] is Match.FULL for route in routes)]


#: What Starlette's multipart parser says of a form it cannot read (too many files or fields, a broken part).
_FORM_ERROR = re.compile(r"multipart|Too many (files|fields)|boundary|part header", re.IGNORECASE)


def add_exception_handlers(app: FastAPI) -> None:
    """Answer every error as problem+json with the status of ``STATUS_CODES``."""

    @app.exception_handler(EcozoneError)
    async def _ecozone(request: Request, error: EcozoneError) -> JSONResponse:
        status = status_for(error)
        if status >= 500:
            log.error("%s on %s: %s", type(error).__name__, request.url.path, error)
        info = error.to_dict()
        body = {
            "type": f"urn:ecozone:problem:{_kebab(type(error).__name__)}",
            "title": type(error).title(),
            "status": status,
            "detail": str(error),
            "error": info["type"],
            **{key: _short(info[key]) for key in ("field", "value", "source")},
            **_row(info["row"]),
            "fix": _short(info["fix"], FIX_MAX),
        }
        if "problems" in info:  # several problems of one input, each as the error of one would say it
            body["problems"] = [{**{key: _short(problem[key]) for key in ("type", "field", "value")},
                                 **_row(problem["row"]),
                                 **{key: _short(problem[key], FIX_MAX) for key in ("message", "fix")}}
                                for problem in info["problems"]]
            body["unlisted"] = info["unlisted"]
        return _response(request, body, echoed=(error.field, error.value))

    @app.exception_handler(ApiProblem)
    async def _api(request: Request, problem: ApiProblem) -> JSONResponse:
        return _response(request, problem.body(), problem.headers, echoed=(problem.field, problem.value))

    async def _validation(request: Request, error: RequestValidationError | ValidationError) -> JSONResponse:
        problem = problem_from_validation(error.errors())
        return await _api(request, problem)

    app.add_exception_handler(RequestValidationError, _validation)
    app.add_exception_handler(ValidationError, _validation)

    @app.exception_handler(HTTPException)
    async def _http(request: Request, error: HTTPException) -> JSONResponse:
        headers = dict(error.headers or {})
        if error.status_code == 405:  # Starlette names the methods of the first route on the path only
            headers["Allow"] = ", ".join(_allowed_methods(request))
        if error.status_code == 400 and _FORM_ERROR.search(str(error.detail)):  # Starlette's multipart parser
            problem = ApiProblem(400, f"表单无法读取 / the form cannot be read: {error.detail}", field="body",
                                 kind="invalid-parameter", fix="以 multipart/form-data 发送，最多 10 个文件，每个部分都有名称 / "
                                 "send multipart/form-data: at most 10 files, each part named, e.g. curl "
                                 "-F file=@拐点坐标.txt -F industry=热力 ...")
        else:  # the framework's own (Starlette's "Not Found", "Method Not Allowed" ...): Chinese said first
            detail, fix = str(error.detail), None
            if error.status_code == 404:  # the router's: no route has this path
                fix = "检查地址；本服务的接口列于 /docs / check the address; the API's routes are listed at /docs"
            elif error.status_code == 405 and headers.get("Allow"):
                fix = f"用 {headers['Allow']} 请求此地址 / request this address with {headers['Allow']}"
            if not _chinese_first(detail):
                said = _TITLES_ZH.get(error.status_code, "请求无法处理")
                if error.status_code == 404:
                    said = "没有这个地址"
                elif error.status_code == 405 and headers.get("Allow"):
                    said = f"此地址只接受 {headers['Allow']} 请求"
                detail = f"{said} / {detail}"
            problem = ApiProblem(error.status_code, detail, headers=headers, fix=fix)
        return await _api(request, problem)

    @app.exception_handler(ClientDisconnect)
    async def _gone(request: Request, error: ClientDisconnect) -> Response:
        # the client went away before its body came: nobody reads the answer, and it is no fault of the server
        log.info("client disconnected before its request body came: %s %s", request.method, request.url.path)
        return Response(status_code=400)

    @app.exception_handler(Exception)
    async def _unexpected(request: Request, error: Exception) -> JSONResponse:
        log.exception("unexpected error on %s %s", request.method, request.url.path)
        problem = ApiProblem(500, "服务器处理此请求时出错，错误已记入服务日志 / the server failed on this request; the "
                             "error is in its log", fix="请连同引起错误的请求一起报告 / report it with the request that "
                             "caused it", kind="internal-error")
        return await _api(request, problem)
