/* 重新筛查: a file a screening wrote (.xlsx or .csv) goes to POST /rescreen with a date, the batch-wide
 * options (the batch page's fieldset, ws.addOptions) and the column mapping the file was screened with (列对应,
 * one FIELD=COLUMN a line as `ecozone rescreen --column` takes it, sent as POST /rescreen's JSON `columns`; a
 * field may be named as the batch page names it, 经度=东经); the answer (gis.rescreen.RescreenReport) is shown as it
 * comes: the rows screened and changed, the rows per old → new verdict, where the batch-wide facts came from, and
 * the changed rows with the rules and zones that made the difference. The change list as a workbook or CSV is
 * POST /rescreen again with format=xlsx|csv. The request is synchronous: the button is disabled and the time
 * spent shown while it runs.
 */
(function () {
  "use strict";

  var ws = window.ezws, $ = ws.$, esc = ws.esc, urls = ws.config.urls;
  var KIND_LABELS = ws.config.kind_labels || {};
  var COLUMN_FIELDS = ws.config.column_fields || {};  // field -> how the pages name it (经度, 行业 ...)
  // The class of a change's direction (gis.rescreen.verdict_direction decides it).
  var DIRECTION_CLASS = { stricter: "ez-worse", relaxed: "ez-better", not_comparable: "ez-neutral" };
  var last = null;  // what the shown report was asked with: the downloads ask the same
  var busy = false, ticker = null;

  function status(text, error) {
    var box = $("ez-rescreen-status");
    box.textContent = text;
    box.className = "ez-status" + (error ? " ez-error" : "");
  }

  function today() {
    var now = new Date();
    function two(n) { return (n < 10 ? "0" : "") + n; }
    return now.getFullYear() + "-" + two(now.getMonth() + 1) + "-" + two(now.getDate());
  }

  /** Disable the buttons and show the spinner with ``text`` and the seconds spent, or stop. */
  function working(text) {
    busy = !!text;
    clearInterval(ticker);
    $("ez-rescreen-go").disabled = busy;
    Array.prototype.forEach.call(document.querySelectorAll(".ez-rescreen-download"), function (b) { b.disabled = busy; });
    $("ez-rescreen-busy").hidden = !busy;
    if (!busy) { return; }
    var started = Date.now();
    function tick() {
      $("ez-rescreen-busy-text").textContent = text + "（已用 " + Math.round((Date.now() - started) / 1000) + " 秒）";
    }
    tick();
    ticker = setInterval(tick, 1000);
  }

  function squeeze(text) { return text.replace(/\s+/g, ""); }
  function own(object, key) { return Object.prototype.hasOwnProperty.call(object, key); }

  /** The 列对应 field as POST /rescreen's `columns` (field -> column), null when empty; throws what is wrong. */
  function columnMapping() {
    var byLabel = {}, columns = {}, given = false;
    Object.keys(COLUMN_FIELDS).forEach(function (field) {
      if (!own(byLabel, squeeze(COLUMN_FIELDS[field]))) { byLabel[squeeze(COLUMN_FIELDS[field])] = field; }
    });
    $("ez-rescreen-columns").value.split(/\r?\n/).forEach(function (line, i) {
      line = line.trim();
      if (!line) { return; }
      var at = line.search(/[=＝]/);
      var field = at < 0 ? "" : line.slice(0, at).trim(), column = at < 0 ? "" : line.slice(at + 1).trim();
      if (!field || !column) {
        throw new Error("列对应第 " + (i + 1) + " 行「" + line + "」应写作 字段=列名，如 lon=东经 或 经度=东经。");
      }
      field = own(COLUMN_FIELDS, field) ? field : own(byLabel, squeeze(field)) ? byLabel[squeeze(field)] : field;
      if (own(columns, field)) {
        throw new Error("列对应中字段「" + field + "」出现了两次。");
      }
      columns[field] = column;
      given = true;
    });
    return given ? columns : null;
  }

  function request(format) {
    var form = new FormData();
    form.append("file", last.file);
    form.append("as_of", last.asOf);
    last.options.forEach(function (pair) { form.append(pair[0], pair[1]); });
    if (format) { form.append("format", format); }
    return { method: "POST", body: form };
  }

  function counted(labels) {
    var parts = Object.keys(labels || {}).map(function (label) {
      return esc(label || "（空：筛查后加入的行）") + " " + labels[label];
    });
    return parts.join("；") || "无";
  }

  function showSummary(report) {
    var pairs = {}, order = [];
    report.changes.forEach(function (change) {
      var key = (change.old_verdict || "（空）") + " → " + change.new_verdict;
      if (!pairs[key]) { pairs[key] = { n: 0, direction: change.direction }; order.push(key); }
      pairs[key].n += 1;
    });
    order.sort(function (a, b) { return pairs[b].n - pairs[a].n; });
    var versions = Object.keys(report.layer_versions || {}).map(function (kind) {
      return esc(KIND_LABELS[kind] || kind) + " 第 " + esc(report.layer_versions[kind]) + " 版";
    }).join("，");
    var html = ["<table class='ez-table ez-summary' id='ez-rescreen-facts'><tbody>",
      "<tr><th>文件</th><td>" + esc(report.input) + (report.sheet ? "（工作表：" + esc(report.sheet) + "）" : "") + "</td></tr>",
      "<tr><th>筛查行数</th><td id='ez-rescreen-rows'>" + esc(report.rows) + "</td></tr>",
      "<tr><th>结论变化行数</th><td id='ez-rescreen-changed'>" + esc(report.changed) + "</td></tr>",
      "<tr><th>原筛查日期</th><td>" + esc(report.old_as_of || "（文件未记录）") + "</td></tr>",
      "<tr><th>重新筛查日期</th><td>" + esc(report.new_as_of) + "</td></tr>",
      "<tr><th>整批选项来源</th><td id='ez-rescreen-assumed'>" + esc(report.assumed_said) + "</td></tr>",
      "<tr><th>读取选项来源</th><td id='ez-rescreen-reading'>" + esc(report.options_said) + "</td></tr>",
      "<tr><th>原结论统计</th><td>" + counted(report.old_verdict_labels) + "</td></tr>",
      "<tr><th>新结论统计</th><td>" + counted(report.new_verdict_labels) + "</td></tr>",
      "<tr><th>图层库</th><td>" + esc(report.store) + (versions ? "<div class='ez-dim'>" + versions + "</div>" : "") +
      "</td></tr>",
      "</tbody></table>"];
    if (order.length) {
      html.push("<table class='ez-table ez-summary' id='ez-rescreen-pairs'><thead><tr><th>原结论 → 新结论</th>" +
        "<th>行数</th></tr></thead><tbody>");
      order.forEach(function (key) {
        html.push("<tr class='" + DIRECTION_CLASS[pairs[key].direction] + "'><td>" + esc(key) +
          "</td><td class='ez-num'>" + pairs[key].n + "</td></tr>");
      });
      html.push("</tbody></table>");
    }
    $("ez-rescreen-summary").innerHTML = html.join("");
  }

  function items(list) {
    return (list || []).map(function (item) { return "<div class='ez-item'>" + esc(item) + "</div>"; }).join("");
  }

  function showChanges(report) {
    var name = report.name_column;
    var rows = report.changes.map(function (change) {
      // why, beyond the rules and zones, as the server tells it (facts now missing; zones the same: whether the
      // rules changed with the date, did not, or the cause is not known), with the zones when they are the same
      var sameZones = !change.zones_added.length && !change.zones_removed.length && change.zones.length;
      var zonesNote = change.cause_zh ? "<div class='ez-dim ez-cause'>" + esc(change.cause_zh) +
        (sameZones ? "：" + esc(change.zones.join("；")) : "") + "</div>" : "";
      return "<tr data-row='" + esc(change.row) + "' title='" + esc(change.reason_zh) + "'><td class='ez-num'>" +
        esc(change.row) + "</td><td>" + esc(name ? change.cells[name] : "") + "</td><td>" + esc(change.old_verdict) +
        "</td><td>" + esc(change.new_verdict) + "</td><td class='ez-direction " + DIRECTION_CLASS[change.direction] +
        "'>" + esc(change.direction_zh) + "</td><td>" + items(change.rules_added) + "</td><td>" +
        items(change.rules_removed) + "</td><td>" + items(change.zones_added) + zonesNote + "</td><td>" +
        items(change.zones_removed) + "</td></tr>";
    });
    $("ez-rescreen-changes").querySelector("tbody").innerHTML = rows.join("") ||
      "<tr><td colspan='9' class='ez-dim'>没有结论变化的行</td></tr>";
  }

  function submit(event) {
    event.preventDefault();
    if (busy) { return; }
    var file = $("ez-rescreen-file").files[0];
    if (!file) { status("请选择筛查结果文件（.xlsx 或 .csv）。", true); return; }
    if (!$("ez-rescreen-asof").value) { status("请选择重新筛查日期。", true); return; }
    var options = new FormData(), columns;
    try { columns = columnMapping(); } catch (error) { status(error.message, true); return; }
    ws.addOptions(options, $("ez-rescreen-options"));
    if (columns) { options.append("columns", JSON.stringify(columns)); }
    var asked = { file: file, asOf: $("ez-rescreen-asof").value, options: Array.from(options.entries()) };
    $("ez-rescreen-result").hidden = true;  // never an earlier answer beside this one's error
    status("");
    working("正在重新筛查 " + file.name);
    last = asked;
    ws.json(urls.rescreen_submit, request(null)).then(function (report) {
      showSummary(report);
      showChanges(report);
      $("ez-rescreen-result").hidden = false;
      status("重新筛查完成：" + report.rows + " 行中有 " + report.changed + " 行结论变化（用时 " + report.seconds + " 秒）。");
    }).catch(function (error) {
      last = null;
      status(error.message, true);
    }).then(function () { working(null); });
  }

  function download(event) {
    var format = event.currentTarget.getAttribute("data-format");
    if (!last || busy) { return; }
    working("正在生成结论变化文件");
    ws.download(urls.rescreen_submit, "结论变化." + format, request(format)).then(function (name) {
      status("已下载：" + name);
    }).catch(function (error) { status(error.message, true); }).then(function () { working(null); });
  }

  function init() {
    $("ez-rescreen-asof").value = today();
    $("ez-rescreen-columns").title = "字段 / fields: " + Object.keys(COLUMN_FIELDS).map(function (field) {
      return field + " " + COLUMN_FIELDS[field];
    }).join("，");
    $("ez-rescreen-form").addEventListener("submit", submit);
    Array.prototype.forEach.call(document.querySelectorAll(".ez-rescreen-download"), function (button) {
      button.addEventListener("click", download);
    });
  }

  document.addEventListener("DOMContentLoaded", init);
}());
