/* 图层管理: the layers in force (GET /layers), a layer's versions (GET /layers/{kind}/versions), the change report
 * between two of them (GET /layers/{kind}/diff, its Excel file and its map page) and the area and share per
 * jurisdiction (GET /layers/{kind}/stats); an import of a new version (POST /layers/{kind}/versions) with the
 * officer's write key. Every figure and warning is the server's.
 */
(function () {
  "use strict";

  var ws = window.ezws, $ = ws.$, esc = ws.esc, urls = ws.config.urls;
  var current = null;

  function km2(m2) { return (m2 / 1e6).toLocaleString("zh-CN", { maximumFractionDigits: 4 }) + " km²"; }
  function pct(value) { return value === null || value === undefined ? "—" : value.toFixed(3) + " %"; }

  function layerUrl(kind, tail) { return urls.layers_api + "/" + encodeURIComponent(kind) + tail; }

  function showError(box, error) {
    $(box).innerHTML = "<div class='ez-error'>" + esc(error.message) + "</div>";
  }

  function loadSummary() {
    return ws.json(urls.layers_api).then(function (answer) {
      $("ez-store").textContent = "图层库：" + answer.store + (answer.read_only ? "（只读）" : "");
      $("ez-layers").querySelector("tbody").innerHTML = answer.layers.map(function (row) {
        return "<tr data-kind='" + esc(row.kind) + "'><td>" + esc(row.label) + " <span class='ez-dim'>" + esc(row.kind) +
          "</span></td><td class='ez-num'>" + (row.version === null ? "—" : "第 " + row.version + " 版") +
          "</td><td class='ez-num'>" + row.features + "</td><td class='ez-num'>" + row.versions + "</td><td>" +
          esc(row.effective_from || "") + "</td><td>" + esc(row.source || "") + "</td><td>" +
          (row.versions ? "<button type='button' data-history='" + esc(row.kind) + "'>版本历史</button>" : "") +
          "</td></tr>";
      }).join("");
      $("ez-import-kind").innerHTML = answer.layers.map(function (row) {
        return "<option value='" + esc(row.kind) + "'>" + esc(row.label) + "</option>";
      }).join("");
    }).catch(function (error) { showError("ez-store", error); });
  }

  function options(versions, chosen) {
    return versions.map(function (v) {
      return "<option value='" + v.version + "'" + (v.version === chosen ? " selected" : "") + ">第 " + v.version +
        " 版（" + esc(v.effective_from) + "）</option>";
    }).join("");
  }

  function loadHistory(kind) {
    current = kind;
    $("ez-history").hidden = false;
    $("ez-diff").innerHTML = "";
    $("ez-stats").innerHTML = "";
    $("ez-diff-map").hidden = true;
    return ws.json(layerUrl(kind, "/versions")).then(function (versions) {
      var label = $("ez-layers").querySelector("tr[data-kind='" + kind + "'] td").firstChild.textContent.trim();
      $("ez-history-title").textContent = "版本历史：" + label;
      $("ez-versions").querySelector("tbody").innerHTML = versions.map(function (v) {
        return "<tr><td class='ez-num'>" + v.version + "</td><td>" + esc(v.effective_from) + "</td><td>" +
          esc(v.imported_at.replace("T", " ").slice(0, 19)) + "</td><td class='ez-num'>" + v.feature_count +
          "</td><td>" + esc(v.source) + "</td><td>" + esc(v.note || "") + "</td></tr>";
      }).join("");
      var last = versions[versions.length - 1].version;
      $("ez-diff-from").innerHTML = options(versions, versions.length > 1 ? versions[versions.length - 2].version : last);
      $("ez-diff-to").innerHTML = options(versions, last);
    }).catch(function (error) { showError("ez-diff", error); });
  }

  function diffQuery() {
    return "?from=" + encodeURIComponent($("ez-diff-from").value) + "&to=" + encodeURIComponent($("ez-diff-to").value);
  }

  function showDiff() {
    $("ez-diff").innerHTML = "<div class='ez-dim'>正在计算变更…</div>";
    ws.json(layerUrl(current, "/diff" + diffQuery())).then(function (diff) {
      var bt = diff.bingtuan;
      var rows = [["版本", "第 " + diff.from_version.version + " 版 → 第 " + diff.to_version.version + " 版"],
        ["新增区域", diff.added.length + " 个"], ["删除区域", diff.removed.length + " 个"],
        ["变化区域", diff.changed.length + " 个"], ["未变区域", diff.unchanged + " 个"],
        ["新增面积", km2(diff.added_m2)], ["减少面积", km2(diff.removed_m2)], ["净变化", km2(diff.net_m2)]];
      if (bt) {
        rows.push(["兵团占比", pct(bt.share_before_pct) + " → " + pct(bt.share_after_pct)]);
      }
      $("ez-diff").innerHTML = "<h4>变更报告：" + esc(diff.label) + "</h4>" +
        diff.warnings.map(function (w) { return "<div class='ez-warn'>" + esc(w) + "</div>"; }).join("") +
        "<table class='ez-table' id='ez-diff-table'>" + rows.map(function (r) {
          return "<tr><th>" + esc(r[0]) + "</th><td>" + esc(r[1]) + "</td></tr>";
        }).join("") + "</table><div class='ez-row'><button type='button' id='ez-diff-xlsx'>下载变更报告（Excel）</button>" +
        "<button type='button' id='ez-diff-gpkg'>下载变化图斑（GeoPackage）</button>" +
        "<button type='button' id='ez-diff-html'>在地图上查看</button></div>";
      ["xlsx", "gpkg"].forEach(function (fmt) {
        $("ez-diff-" + fmt).addEventListener("click", function () {
          ws.download(layerUrl(current, "/diff." + fmt + diffQuery()), current + "-变更." + fmt)
            .catch(function (error) { showError("ez-stats", error); });
        });
      });
      $("ez-diff-html").addEventListener("click", showDiffMap);
    }).catch(function (error) { showError("ez-diff", error); });
  }

  function showDiffMap() {
    ws.fetch(layerUrl(current, "/diff.html" + diffQuery())).then(function (response) {
      return response.text().then(function (text) {
        if (!response.ok) { throw new Error(ws.problemText(JSON.parse(text || "null"), response.status)); }
        $("ez-diff-map").srcdoc = text;
        $("ez-diff-map").hidden = false;
      });
    }).catch(function (error) { showError("ez-stats", error); });
  }

  function showStats() {
    $("ez-stats").innerHTML = "<div class='ez-dim'>正在计算面积…</div>";
    ws.json(layerUrl(current, "/stats?version=" + encodeURIComponent($("ez-diff-to").value))).then(function (stats) {
      var html = ["<h4>面积与占比：" + esc(stats.label) + " 第 " + stats.version.version + " 版</h4>"];
      stats.warnings.forEach(function (w) { html.push("<div class='ez-warn'>" + esc(w) + "</div>"); });
      html.push("<div>图层总面积：" + km2(stats.union_m2) + "</div>");
      if (stats.bingtuan) {
        var b = stats.bingtuan;
        html.push("<div id='ez-bingtuan-share'>兵团占比：" + pct(b.share_pct) +
          (b.floor_pct !== null ? "（底线 " + pct(b.floor_pct) + (b.meets_floor ? "，达到" : "，未达到") + "）" : "") +
          "</div>");
      }
      if (stats.history.length) {
        html.push("<table class='ez-table'><tr><th>版本</th><th>生效日期</th><th>兵团占比</th><th>较上一版</th></tr>" +
          stats.history.map(function (h) {
            return "<tr><td>" + h.version + "</td><td>" + esc(h.effective_from) + "</td><td>" + pct(h.share_pct) +
              "</td><td>" + (h.change_pct_points === null ? "—" : h.change_pct_points.toFixed(3) + " 个百分点" +
              (h.falls ? "（减少）" : "")) + "</td></tr>";
          }).join("") + "</table>");
      }
      html.push("<table class='ez-table' id='ez-units'><tr><th>层级</th><th>辖区</th><th>土地面积</th><th>图层面积</th>" +
        "<th>占比</th></tr>" + stats.units.map(function (u) {
          return "<tr><td>" + esc(u.level_label) + "</td><td>" + esc(u.name) + "</td><td class='ez-num'>" + km2(u.land_m2) +
            "</td><td class='ez-num'>" + km2(u.zone_m2) + "</td><td class='ez-num'>" + pct(u.share_pct) + "</td></tr>";
        }).join("") + "</table>");
      $("ez-stats").innerHTML = html.join("");
    }).catch(function (error) { showError("ez-stats", error); });
  }

  function importVersion(event) {
    event.preventDefault();
    var kind = $("ez-import-kind").value, box = $("ez-import-status");
    var form = new FormData();
    Array.prototype.forEach.call($("ez-import-file").files, function (file) { form.append("file", file); });
    if ($("ez-import-from").value) { form.append("effective_from", $("ez-import-from").value); }
    if ($("ez-import-note").value.trim()) { form.append("note", $("ez-import-note").value.trim()); }
    form.append("geometry_source", $("ez-import-source").value);
    box.className = "ez-status";
    box.textContent = "正在导入…";
    ws.json(layerUrl(kind, "/versions"), { method: "POST", body: form }).then(function (version) {
      // created false: the file is identical to a version kept, and no version was made (the message says which)
      box.textContent = version.created === false ? version.message :
        "已导入：第 " + version.version + " 版，" + version.feature_count + " 个要素，" +
        version.effective_from + " 起生效。";
      return loadSummary().then(function () { return loadHistory(kind); }).then(showDiff);
    }).catch(function (error) {
      box.className = "ez-status ez-error";
      box.textContent = error.message;
    });
  }

  function init() {
    $("ez-layers").addEventListener("click", function (event) {
      var button = event.target.closest("button[data-history]");
      if (button) { loadHistory(button.getAttribute("data-history")); }
    });
    $("ez-diff-go").addEventListener("click", showDiff);
    $("ez-stats-go").addEventListener("click", showStats);
    $("ez-import-form").addEventListener("submit", importVersion);
    if (ws.ready()) { loadSummary(); }
  }

  document.addEventListener("DOMContentLoaded", init);
}());
