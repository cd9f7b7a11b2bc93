/* 重新筛查: a file a screening wrote (.xlsx or .csv) goes to POST /rescreen with a date, or with a layer version
 * (`layer` KIND:N: as of the day version N of layer KIND comes into force; the layers and versions offered are
 * those GET /layers and GET /layers/{kind}/versions list, and the server reads the choice), the batch-wide
 * options (the batch page's fieldset, ws.addOptions) and the column mapping the file was screened with (列对应,
 * one FIELD=COLUMN a line as `ecozone rescreen --column` takes it, sent as POST /rescreen's JSON `columns`; a
 * field may be named as the batch page names it, 经度=东经); the answer (gis.rescreen.RescreenReport) is shown as it
 * comes: the date screened as of (for a layer version, whose date it is), the rows screened and changed, the rows
 * per old → new verdict, where the batch-wide facts came from, and the changed rows with the rules and zones that
 * made the difference. The change list as a workbook or CSV is POST /rescreen again with format=xlsx|csv. The
 * request is synchronous: the button is disabled and the time spent shown while it runs.
 */
(function () {
  "use strict";

  var ws = window.ezws, $ = ws.$, esc = ws.esc, urls = ws.config.urls;
  var KIND_LABELS = ws.config.kind_labels || {};
  var COLUMN_FIELDS = ws.config.column_fields || {};  // field -> how the pages name it (经度, 行业 ...)
  // The class of a change's direction (gis.rescreen.verdict_direction decides it).
  var DIRECTION_CLASS = { stricter: "ez-worse", relaxed: "ez-better", not_comparable: "ez-neutral" };
  var last = null;  // what the shown report was asked with: the downloads ask the same
  var versionsAsked = 0;  // the latest request for a layer's versions: an earlier answer arriving late is dropped
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

  function layerUrl(kind, tail) { return urls.layers_api + "/" + encodeURIComponent(kind) + tail; }

  function byLayer() { return $("ez-rescreen-by-layer").checked; }

  /** The date field or the layer and version, whichever the officer chose, is the one that can be changed. */
  function basisChanged() {
    var layer = byLayer();
    $("ez-rescreen-asof").disabled = layer;
    $("ez-rescreen-kind").disabled = !layer || !$("ez-rescreen-kind").options.length;
    $("ez-rescreen-version").disabled = !layer || !$("ez-rescreen-version").options.length;
    $("ez-rescreen-layer-date").hidden = !layer;
  }

  /** The chosen layer version as the page says it (生态保护红线 第 2 版，2020-01-01 起生效), or null. */
  function chosenVersion() {
    var kind = $("ez-rescreen-kind"), version = $("ez-rescreen-version");
    var option = version.options[version.selectedIndex];
    if (!kind.value || !option) { return null; }
    return { layer: kind.value + ":" + option.value, kind: kind.value, version: option.value,
             label: kind.options[kind.selectedIndex].getAttribute("data-label"),
             date: option.getAttribute("data-date") };
  }

  function versionChanged() {
    var chosen = chosenVersion();
    var box = $("ez-rescreen-layer-date");
    box.className = "ez-dim";
    box.textContent = chosen ? "按 " + chosen.label + " 第 " + chosen.version + " 版的生效日期 " + chosen.date +
      " 重新筛查" : "";
  }

  /** The versions of ``kind`` (GET /layers/{kind}/versions), the newest chosen. */
  function loadVersions(kind) {
    var asked = ++versionsAsked, select = $("ez-rescreen-version");
    select.innerHTML = "";
    versionChanged();
    basisChanged();
    if (!kind) { return Promise.resolve(); }
    return ws.json(layerUrl(kind, "/versions")).then(function (versions) {
      if (asked !== versionsAsked) { return; }
      select.innerHTML = versions.map(function (v, i) {
        return "<option value='" + esc(v.version) + "' data-date='" + esc(v.effective_from) + "'" +
          (i === versions.length - 1 ? " selected" : "") + ">第 " + esc(v.version) + " 版（" +
          esc(v.effective_from) + " 起生效）</option>";
      }).join("");
      versionChanged();
      basisChanged();
    }).catch(function (error) { layerProblem(error); });
  }

  function layerProblem(error) {
    var box = $("ez-rescreen-layer-date");
    box.className = "ez-error";
    box.textContent = "无法读取图层版本：" + error.message;
  }

  /** The layers that have versions (GET /layers), one with several versions chosen first: a newly imported
   * version is what an officer re-screens for. */
  function loadLayers() {
    return ws.json(urls.layers_api).then(function (answer) {
      var layers = answer.layers.filter(function (row) { return row.versions > 0; });
      var select = $("ez-rescreen-kind");
      select.innerHTML = layers.map(function (row) {
        return "<option value='" + esc(row.kind) + "' data-label='" + esc(row.label) + "'>" + esc(row.label) + "（" +
          row.versions + " 个版本）</option>";
      }).join("");
      var several = layers.filter(function (row) { return row.versions > 1; })[0];
      if (several) { select.value = several.kind; }
      if (!layers.length) { $("ez-rescreen-layer-date").textContent = "图层库中还没有任何图层版本。"; }
      return loadVersions(select.value);
    }).catch(function (error) { layerProblem(error); });
  }

  function request(format) {
    var form = new FormData();
    form.append("file", last.file);
    if (last.layer) { form.append("layer", last.layer.layer); } else { form.append("as_of", last.asOf); }
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

  /** The report's summary; ``asked`` is what it was asked with (a layer version: whose date it screened as of). */
  function showSummary(report, asked) {
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
      "<tr><th>重新筛查日期</th><td id='ez-rescreen-newdate'>" + esc(report.new_as_of) + (asked.layer ?
        "（" + esc(asked.layer.label) + " 第 " + esc(asked.layer.version) + " 版生效日期）" : "") + "</td></tr>",
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
    var layer = byLayer() ? chosenVersion() : null;
    if (byLayer() && !layer) { status("请选择图层及其版本（或改按日期重新筛查）。", true); return; }
    if (!layer && !$("ez-rescreen-asof").value) { status("请选择重新筛查日期。", true); return; }
    var options = new FormData(), columns;
    try { columns = columnMapping(); } catch (error) { status(error.message, true); return; }
    ws.addOptions(options, $("ez-rescreen-options"));
    if (columns) { options.append("columns", JSON.stringify(columns)); }
    var asked = { file: file, asOf: $("ez-rescreen-asof").value, layer: layer, options: Array.from(options.entries()) };
    $("ez-rescreen-result").hidden = true;  // never an earlier answer beside this one's error
    status("");
    working("正在重新筛查 " + file.name);
    last = asked;
    ws.json(urls.rescreen_submit, request(null)).then(function (report) {
      showSummary(report, asked);
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
    Array.prototype.forEach.call(document.querySelectorAll("input[name='ez-rescreen-by']"), function (radio) {
      radio.addEventListener("change", basisChanged);
    });
    $("ez-rescreen-kind").addEventListener("change", function () { loadVersions($("ez-rescreen-kind").value); });
    $("ez-rescreen-version").addEventListener("change", versionChanged);
    basisChanged();
    if (ws.ready()) { loadLayers(); }
    Array.prototype.forEach.call(document.querySelectorAll(".ez-rescreen-download"), function (button) {
      button.addEventListener("click", download);
    });
  }

  document.addEventListener("DOMContentLoaded", init);
}());
