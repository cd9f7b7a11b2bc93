/* 核查记录: the audit trail (GET /audit, which always needs a key): the newest records from a date and of an
 * action, filtered here by the end date, the officer (the key's name) and the site or project text, newest first,
 * a page at a time.
 */
(function () {
  "use strict";

  var ws = window.ezws, $ = ws.$, esc = ws.esc, urls = ws.config.urls;
  var PAGE = 20, FETCHED = 500;
  var ACTIONS = { check: "单项核查", batch: "批量筛查提交", batch_result: "批量筛查结果", "import": "图层导入" };
  var records = [], shown = [], page = 0;

  function status(text, error) {
    var box = $("ez-records-status");
    box.textContent = text;
    box.className = "ez-status" + (error ? " ez-error" : "");
  }

  function firstPoint(geometry) {
    var c = geometry && geometry.coordinates;
    while (Array.isArray(c) && Array.isArray(c[0])) { c = c[0]; }
    return Array.isArray(c) && c.length >= 2 ? c[0].toFixed(5) + ", " + c[1].toFixed(5) : "";
  }

  /** What a record says of its site or project: the project's name, the site's, the input file, a vertex. */
  function siteText(record) {
    var d = record.details || {};
    var project = (d.project && d.project.project) || {};
    var site = d.site || {};
    return [project.name, site.name, d.input && d.input.name, d.input_name, d.layer && d.layer.kind,
      firstPoint(site.geometry)].filter(Boolean).join(" · ");
  }

  function layersText(record) {
    return Object.keys(record.layers || {}).map(function (kind) {
      var layer = record.layers[kind];
      return kind + " v" + (layer && layer.version !== undefined ? layer.version : layer);
    }).join("，");
  }

  function filter() {
    var until = $("ez-records-until").value, officer = $("ez-records-officer").value.trim().toLowerCase();
    var text = $("ez-records-site").value.trim().toLowerCase();
    shown = records.filter(function (r) {
      if (until && r.at.slice(0, 10) > until) { return false; }
      if (officer && String(r.key_name || "").toLowerCase().indexOf(officer) < 0) { return false; }
      if (text && (siteText(r) + " " + JSON.stringify((r.details || {}).project || {})).toLowerCase().indexOf(text) < 0) {
        return false;
      }
      return true;
    });
    page = 0;
    render();
  }

  function render() {
    var pages = Math.max(1, Math.ceil(shown.length / PAGE));
    page = Math.min(page, pages - 1);
    var rows = shown.slice(page * PAGE, page * PAGE + PAGE).map(function (r) {
      return "<tr data-record='" + r.id + "'><td class='ez-num'>" + r.id + "</td><td>" +
        esc(r.at.replace("T", " ").slice(0, 19)) + "</td><td>" + esc(ACTIONS[r.action] || r.action) + "</td><td>" +
        esc(r.key_name || "—") + "</td><td class='ez-record-site'>" + esc(siteText(r)) + "</td><td>" +
        esc(r.verdict || "") + "</td><td class='ez-dim'>" + esc(layersText(r)) + "</td></tr>";
    });
    $("ez-records").querySelector("tbody").innerHTML = rows.join("") ||
      "<tr><td colspan='7' class='ez-dim'>没有符合条件的记录</td></tr>";
    $("ez-records-page").textContent = "第 " + (page + 1) + " / " + pages + " 页，共 " + shown.length + " 条";
    $("ez-records-prev").disabled = page === 0;
    $("ez-records-next").disabled = page >= pages - 1;
  }

  function load(event) {
    if (event) { event.preventDefault(); }
    var query = new URLSearchParams({ limit: String(FETCHED), details: "true" });
    if ($("ez-records-since").value) { query.set("since", $("ez-records-since").value); }
    if ($("ez-records-action").value) { query.set("action", $("ez-records-action").value); }
    status("正在读取记录…");
    ws.json(urls.audit + "?" + query.toString()).then(function (answer) {
      records = answer.records.slice().reverse();  // newest first
      status(records.length === FETCHED ? "只列出最新的 " + FETCHED + " 条；可用起始日期缩小范围。" : "");
      filter();
    }).catch(function (error) { status(error.message, true); });
  }

  function init() {
    $("ez-records-form").addEventListener("submit", load);
    $("ez-records-prev").addEventListener("click", function () { page -= 1; render(); });
    $("ez-records-next").addEventListener("click", function () { page += 1; render(); });
    if (ws.ready()) { load(); }
  }

  document.addEventListener("DOMContentLoaded", init);
}());
