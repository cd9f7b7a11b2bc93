"""The officer's workspace around the maps: the navigation bar every page carries, the key form, and the pages
that are not maps (批量筛查, 重新筛查, 图层管理, 核查记录), each a static shell whose script asks the API. The
batch-wide options of a screening are one fieldset (``options_fieldset``) on both pages that take them.

No page holds ecozone's logic: verdicts, rule texts, column roles, change reports and records all come from the
API as JSON (``workspace.js`` sends the key, shows problem+json answers); the texts here are labels only.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from html import escape
from typing import Any

import branca.element
import folium

__all__ = ["NAV", "WORKSPACE_FILES", "Workspace", "add_workspace", "options_fieldset", "plain_page"]

#: The pages, in the bar's order: (name, Chinese title, English title).
NAV = (("home", "一张图", "Map"), ("check", "项目核查", "Check"), ("screen", "批量筛查", "Batch"),
       ("rescreen", "重新筛查", "Re-screen"), ("layers", "图层管理", "Layers"), ("records", "核查记录", "Records"))

#: Files every workspace page loads besides a map page's own, in load order: (root, file).
WORKSPACE_FILES = (("ecozone", "workspace.css"), ("ecozone", "workspace.js"))

#: The script of each page that is not a map.
_PAGE_SCRIPTS = {"screen": "screen.js", "rescreen": "rescreen.js", "layers": "versions.js", "records": "records.js"}


@dataclass(frozen=True)
class Workspace:
    """What a page needs to know of the application: where each page and endpoint is, whether reads need a key."""

    urls: dict[str, str]  # page names of NAV and endpoint names -> paths
    static_url: str
    key_required: bool
    active: str = "home"

    def config(self, **extra: Any) -> str:
        """The page's configuration as JSON for its ``<script>``."""
        data = {"urls": self.urls, "key_required": self.key_required, "page": self.active, **extra}
        return json.dumps(data, ensure_ascii=False).replace("</", "<\\/")


def _nav(ws: Workspace, tools: str = "") -> str:
    links = "".join(
        f"<a href='{escape(ws.urls[name])}' data-page='{name}' class='{'ez-active' if name == ws.active else ''}'>"
        f"{zh} <small>{en}</small></a>" for name, zh, en in NAV)
    return f"""
<nav id="ez-nav" class="ez-nav" data-key-required="{'1' if ws.key_required else ''}">
  <span class="ez-brand">ecozone</span>{links}
  <span class="ez-tools">{tools}</span>
  <button type="button" id="ez-key-button" class="ez-key-button">密钥登录 <small>Key</small></button>
</nav>
<div id="ez-login" class="ez-login" hidden>
  <form id="ez-login-form" class="ez-login-box">
    <h3>输入访问密钥 <small>API key</small></h3>
    <div id="ez-login-msg" class="ez-login-msg"></div>
    <label>密钥 <input type="password" id="ez-key" autocomplete="current-password" required></label>
    <div class="ez-dim">密钥只保存在本浏览器标签页中（sessionStorage），关闭后需重新输入。</div>
    <button type="submit" id="ez-login-go">登录</button> <button type="button" id="ez-login-cancel">取消</button>
  </form>
</div>"""


def _links(ws: Workspace, files) -> str:
    out = [f"<link rel='icon' href='{escape(ws.static_url)}/ecozone/favicon.svg' type='image/svg+xml'>"]
    for root, name in files:
        url = escape(f"{ws.static_url}/{root}/{name}")
        out.append(f"<link rel='stylesheet' href='{url}'>" if name.endswith(".css") else f"<script src='{url}'></script>")
    return "\n".join(out)


def add_workspace(m: folium.Map, ws: Workspace, tools: str = "") -> folium.Map:
    """Put the navigation bar, the key form and ``workspace.js`` on a map page (``maps.build``'s pages); the
    page's scripts then send the key with every request."""
    root = m.get_root()
    root.header.add_child(branca.element.Element(
        f"<script>window.ecozoneWorkspaceConfig = {ws.config()};</script>"), name="workspace_config")
    root.header.add_child(branca.element.Element(_links(ws, WORKSPACE_FILES)), name="workspace")
    root.html.add_child(branca.element.Element(_nav(ws, tools)), name="workspace_nav")
    return m


def home_tools() -> str:
    """The home page's place search and date: the search box lists places from ``GET /places``."""
    return """<span class="ez-search"><input type="search" id="ez-place" placeholder="搜索地名：行政区、保护区、园区…"
    autocomplete="off" aria-label="地名搜索"><span id="ez-place-results" class="ez-place-results" hidden></span></span>
  <label class="ez-asof">图层日期 <input type="date" id="ez-map-asof"></label>"""


def options_fieldset(page: str, legend: str) -> str:
    """The batch-wide options of ``POST /screen`` (and ``POST /rescreen``, which takes the same form fields) as a
    fieldset: each field's ``data-option`` is the form field it gives, ``data-reading`` marks those that say how the
    file is read (the preview reads with them too). Ids are ``ez-{page}-{field}``."""
    return f"""      <fieldset class="ez-row ez-options" id="ez-{page}-options">
        <legend>{legend}</legend>
        <label>建设性质 <select id="ez-{page}-scope" data-option="scope"><option value="">按各行（未填按新建）</option>
          <option value="existing">现有企业</option><option value="new">新建（新、改、扩建）</option></select></label>
        <label>行业 <input type="text" id="ez-{page}-industry" data-option="industry" placeholder="如 火力发电" size="14"></label>
        <label>坐标系 <input type="text" id="ez-{page}-crs" data-option="crs" data-reading="1" placeholder="如 EPSG:4538"
          size="14" title="无 .prj 的 shapefile，或无带号列的 X/Y 所用坐标系；给出后覆盖文件自带的坐标系"></label>
        <label>文字编码 <input type="text" id="ez-{page}-encoding" data-option="encoding" data-reading="1"
          placeholder="自动识别 UTF-8/GBK" size="14" title="CSV 或 shapefile 的 .dbf 既非 UTF-8 也非 GBK 时填写，如 utf-16、big5"></label>
      </fieldset>
"""


_BODIES = {
    "screen": """
<main class="ez-main">
  <h2>批量筛查 <small>Batch screening</small></h2>
  <section class="ez-card">
    <h3>1. 上传名录</h3>
    <form id="ez-screen-form">
      <label>文件（Excel .xlsx、CSV、GeoPackage、压缩的 Shapefile .zip）
        <input type="file" id="ez-screen-file" accept=".xlsx,.csv,.gpkg,.zip,.shp,.geojson,.parquet" required></label>
      <label>核查日期 <input type="date" id="ez-screen-asof"></label>
""" + options_fieldset("screen", "整批选项（名录各行未填写时适用，每行注明所作假定）") + """      <div id="ez-preview" class="ez-preview"></div>
      <button type="submit" id="ez-screen-go">开始筛查</button>
      <div id="ez-screen-status" class="ez-status"></div>
    </form>
  </section>
  <section class="ez-card">
    <h3>2. 筛查任务 <small>Jobs</small></h3>
    <table class="ez-table" id="ez-jobs"><thead><tr><th>文件</th><th>提交时间</th><th>状态</th><th>进度</th>
      <th>结论统计</th><th>操作 / 下载</th></tr></thead><tbody></tbody></table>
    <div class="ez-dim">此处列出本浏览器提交的任务；任务在服务器上保留的天数由管理员设置。</div>
  </section>
  <section class="ez-card" id="ez-batch-map-card" hidden>
    <h3>3. 筛查结果地图</h3>
    <iframe id="ez-batch-map" class="ez-frame" title="筛查结果地图"></iframe>
  </section>
</main>""",
    "rescreen": """
<main class="ez-main">
  <h2>重新筛查 <small>Re-screen</small></h2>
  <section class="ez-card">
    <h3>1. 选择筛查结果 <small>Screened file</small></h3>
    <div class="ez-dim">上传批量筛查得到的结果文件（.xlsx 或 .csv），按所选日期（或所选图层版本的生效日期）的图层和规则重新筛查，
      只列出结论发生变化的行。</div>
    <form id="ez-rescreen-form">
      <label>筛查结果文件（.xlsx、.csv）
        <input type="file" id="ez-rescreen-file" accept=".xlsx,.csv" required></label>
      <fieldset class="ez-row" id="ez-rescreen-basis">
        <legend>重新筛查依据（二者选一）<small>Screen again as of</small></legend>
        <label><input type="radio" name="ez-rescreen-by" id="ez-rescreen-by-date" value="date" checked> 按日期</label>
        <label>重新筛查日期 <input type="date" id="ez-rescreen-asof" required></label>
        <label><input type="radio" name="ez-rescreen-by" id="ez-rescreen-by-layer" value="layer"> 按图层版本生效之日
          </label>
        <label>图层 <select id="ez-rescreen-kind" disabled></select></label>
        <label>版本 <select id="ez-rescreen-version" disabled></select></label>
        <span id="ez-rescreen-layer-date" class="ez-dim"></span>
      </fieldset>
""" + options_fieldset("rescreen", "整批选项（按原筛查时的选项填写；均不填时，.xlsx 取其筛查汇总记录的整批假定和坐标系，"
                                "填写则按所填筛查）") + """      <label class="ez-columns">列对应（筛查时指定过列的，按原样填写，每行一项：字段=列名，如 lon=东经 或
        经度=东经；不填时，.xlsx 取其筛查汇总的记录，CSV 不记录列对应，须填写）
        <textarea id="ez-rescreen-columns" rows="3" cols="44" spellcheck="false"
          placeholder="x=东向坐标&#10;y=北向坐标&#10;industry=主营业务"></textarea></label>
      <button type="submit" id="ez-rescreen-go">重新筛查</button>
      <span id="ez-rescreen-busy" class="ez-busy" hidden><span class="ez-spinner"></span>
        <span id="ez-rescreen-busy-text"></span></span>
      <div id="ez-rescreen-status" class="ez-status"></div>
    </form>
  </section>
  <section class="ez-card" id="ez-rescreen-result" hidden>
    <h3>2. 结论变化 <small>Changes</small></h3>
    <div id="ez-rescreen-summary" class="ez-report"></div>
    <div class="ez-row">
      <button type="button" id="ez-rescreen-xlsx" class="ez-rescreen-download" data-format="xlsx">下载结论变化工作簿（.xlsx）</button>
      <button type="button" id="ez-rescreen-csv" class="ez-rescreen-download" data-format="csv">下载 CSV</button>
    </div>
    <table class="ez-table" id="ez-rescreen-changes"><thead><tr><th>行号（原表行）</th><th>名称</th><th>原结论</th>
      <th>新结论</th><th>变化</th><th>新适用规则</th><th>不再适用规则</th><th>新涉及区域</th><th>不再涉及区域</th></tr></thead>
      <tbody></tbody></table>
  </section>
</main>""",
    "layers": """
<main class="ez-main">
  <h2>图层管理 <small>Layers</small></h2>
  <section class="ez-card">
    <h3>现行图层 <small>in force</small></h3>
    <div id="ez-store" class="ez-dim"></div>
    <table class="ez-table" id="ez-layers"><thead><tr><th>图层</th><th>现行版本</th><th>要素数</th><th>版本数</th>
      <th>生效日期</th><th>来源</th><th></th></tr></thead><tbody></tbody></table>
  </section>
  <section class="ez-card" id="ez-history" hidden>
    <h3 id="ez-history-title">版本历史</h3>
    <table class="ez-table" id="ez-versions"><thead><tr><th>版本</th><th>生效日期</th><th>导入时间</th><th>要素数</th>
      <th>来源</th><th>说明</th></tr></thead><tbody></tbody></table>
    <div class="ez-row">
      <label>从版本 <select id="ez-diff-from"></select></label>
      <label>到版本 <select id="ez-diff-to"></select></label>
      <button type="button" id="ez-diff-go">变更报告</button>
      <button type="button" id="ez-stats-go">面积与占比</button>
    </div>
    <div id="ez-diff" class="ez-report"></div>
    <div id="ez-stats" class="ez-report"></div>
    <iframe id="ez-diff-map" class="ez-frame" title="变更地图" hidden></iframe>
  </section>
  <section class="ez-card">
    <h3>导入新版本 <small>Import (write key)</small></h3>
    <form id="ez-import-form">
      <label>图层 <select id="ez-import-kind"></select></label>
      <label>文件（GeoJSON、GeoPackage，或 .shp 及其 .dbf/.shx/.prj）
        <input type="file" id="ez-import-file" multiple required accept=".geojson,.json,.gpkg,.shp,.dbf,.shx,.prj,.cpg"></label>
      <label>生效日期 <input type="date" id="ez-import-from"></label>
      <label>几何来源 <select id="ez-import-source"><option value="official">官方</option>
        <option value="derived">派生</option><option value="illustrative">示意</option></select></label>
      <label>说明 <input type="text" id="ez-import-note" maxlength="2000"></label>
      <button type="submit" id="ez-import-go">导入</button>
      <div id="ez-import-status" class="ez-status"></div>
    </form>
  </section>
</main>""",
    "records": """
<main class="ez-main">
  <h2>核查记录 <small>Audit trail</small></h2>
  <section class="ez-card">
    <form id="ez-records-form" class="ez-row">
      <label>起始日期 <input type="date" id="ez-records-since"></label>
      <label>截止日期 <input type="date" id="ez-records-until"></label>
      <label>类型 <select id="ez-records-action"><option value="">全部</option><option value="check">单项核查</option>
        <option value="batch">批量筛查提交</option><option value="batch_result">批量筛查结果</option>
        <option value="import">图层导入</option></select></label>
      <label>经办人（密钥名） <input type="text" id="ez-records-officer"></label>
      <label>地块 / 项目 <input type="text" id="ez-records-site" placeholder="项目名称、坐标或文件名"></label>
      <button type="submit" id="ez-records-go">查询</button>
    </form>
    <div id="ez-records-status" class="ez-status"></div>
    <table class="ez-table" id="ez-records"><thead><tr><th>编号</th><th>时间（UTC）</th><th>类型</th><th>经办人</th>
      <th>地块 / 项目</th><th>结论</th><th>图层版本</th></tr></thead><tbody></tbody></table>
    <div class="ez-row ez-pager"><button type="button" id="ez-records-prev">上一页</button>
      <span id="ez-records-page"></span><button type="button" id="ez-records-next">下一页</button></div>
  </section>
</main>""",
}


def plain_page(ws: Workspace, title: str, **config: Any) -> str:
    """A workspace page that is not a map: the bar, the page's form and tables, and its script."""
    files = (*WORKSPACE_FILES, ("ecozone", _PAGE_SCRIPTS[ws.active]))
    return f"""<!DOCTYPE html>
<html lang="zh-CN">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{escape(title)} · ecozone</title>
<script>window.ecozoneWorkspaceConfig = {ws.config(**config)};</script>
{_links(ws, files)}
</head>
<body class="ez-ws-page">
{_nav(ws)}
{_BODIES[ws.active]}
</body>
</html>
"""

