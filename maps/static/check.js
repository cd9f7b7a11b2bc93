/* ecozone check page: the officer draws, pastes or uploads a site, describes the project, and the page asks
 * the API (POST /check), then shows the answer with ecozone.showResult. Drawing is plain Leaflet: a click
 * adds a vertex, a double click closes the polygon.
 */
(function () {
  "use strict";

  var ec = { source: null, drawn: null };
  window.ecozoneCheck = ec;

  var cfg, map, vertices = [], drawing = false, sketch = null;

  function $(id) { return document.getElementById(id); }

  function status(text, error) {
    var box = $("ez-status");
    box.textContent = text;
    box.className = "ez-status" + (error ? " ez-error" : "");
  }

  function redrawSketch(closed) {
    if (sketch) { map.removeLayer(sketch); }
    var style = { pane: "ez-result", color: "#000", weight: 2, dashArray: closed ? null : "5 5", fillOpacity: 0.1 };
    sketch = closed ? L.polygon(vertices, style) : L.polyline(vertices, style);
    sketch.addTo(map);
  }

  function startDrawing() {
    ec.clear();
    drawing = true;
    map.doubleClickZoom.disable();
    L.DomUtil.addClass(map.getContainer(), "ez-drawing");
    status("绘制中：单击添加拐点，双击结束。");
  }

  function addVertex(event) {
    if (!drawing) { return; }
    var last = vertices[vertices.length - 1];
    // the two clicks of the closing double click land on the same pixel: keep one vertex
    if (last && map.latLngToContainerPoint(last).distanceTo(event.containerPoint) < 4) { return; }
    vertices.push(event.latlng);
    redrawSketch(false);
  }

  function finishDrawing() {
    if (!drawing) { return; }
    if (vertices.length < 3) {
      status("至少需要 3 个拐点才能构成地块，请继续单击添加。", true);
      return;
    }
    drawing = false;
    map.doubleClickZoom.enable();
    L.DomUtil.removeClass(map.getContainer(), "ez-drawing");
    redrawSketch(true);
    var ring = vertices.map(function (p) { return [+p.lng.toFixed(7), +p.lat.toFixed(7)]; });
    ring.push(ring[0]);
    ec.drawn = { type: "Polygon", coordinates: [ring] };
    ec.source = "draw";
    status("已绘制 " + vertices.length + " 个拐点的地块；点击“核查”。");
  }

  ec.clear = function () {
    ecozone.clearResult();
    drawing = false;
    vertices = [];
    ec.drawn = null;
    ec.source = null;
    if (sketch) { map.removeLayer(sketch); sketch = null; }
    $("ez-coords").value = "";
    $("ez-file").value = "";
    map.doubleClickZoom.enable();
    L.DomUtil.removeClass(map.getContainer(), "ez-drawing");
    status("");
  };

  /* Every project fact of the form (made by the server from the project model), typed as the API takes it. */
  function project() {
    var out = {};
    Array.prototype.forEach.call(document.querySelectorAll("[data-fact]"), function (field) {
      var value = field.value.trim();
      if (value === "") { return; }
      var kind = field.getAttribute("data-kind");
      out[field.getAttribute("data-fact")] = kind === "number" ? Number(value) : kind === "bool" ? value === "true" : value;
    });
    return out;
  }

  /* How the site's coordinates are to be read (the API's datum, gk_zone, swap_xy); drawn sites are WGS 84. */
  function siteOptions() {
    if (ec.source === "draw") { return {}; }
    var options = { datum: $("ez-datum").value };
    var zone = $("ez-gk-zone").value.trim();
    if (zone) { options.gk_zone = Number(zone); }
    if ($("ez-swap").checked) { options.swap_xy = true; }
    return options;
  }

  function request() {
    var asOf = $("ez-asof").value || null;
    var options = siteOptions();
    if (ec.source === "file" && $("ez-file").files.length) {
      var form = new FormData();
      form.append("file", $("ez-file").files[0]);
      var facts = project();
      Object.keys(facts).forEach(function (key) { form.append(key, String(facts[key])); });
      Object.keys(options).forEach(function (key) { form.append(key, String(options[key])); });
      if (asOf) { form.append("as_of", asOf); }
      return { method: "POST", body: form };
    }
    var site = ec.source === "text" ? $("ez-coords").value : ec.drawn;
    if (!site) { return null; }
    return {
      method: "POST", headers: { "Content-Type": "application/json" },
      body: JSON.stringify(Object.assign({ site: site, project: project(), as_of: asOf }, options))
    };
  }

  ec.run = function () {
    var init = request();
    if (!init) {
      status("请先在地图上绘制、粘贴坐标或上传拐点文件。", true);
      return;
    }
    ecozone.clearResult();  // the previous verdict never stays beside a new answer or error
    status("核查中…");
    var result;
    ezws.json(cfg.check_url, init).then(function (body) {
      result = body;
      return ezws.json(cfg.rings_url, {
        method: "POST", headers: { "Content-Type": "application/json" },
        body: JSON.stringify({ geometry: result.site.geometry, buffers_km: result.overlap.buffers_km })
      });
    }).then(function (rings) {
      if (sketch) { map.removeLayer(sketch); sketch = null; }
      ecozone.showResult(result, rings);
      status("核查完成：" + result.verdict_label);
    }).catch(function (error) {
      status(error.message, true);
    });
  };

  var REPORTS = { pdf: ["application/pdf", "PDF"],
    docx: ["application/vnd.openxmlformats-officedocument.wordprocessingml.document", "Word"] };

  /* The evidence report of the same request (Accept: the report's type), saved as a file. */
  ec.report = function (format) {
    var init = request();
    if (!init) {
      status("请先在地图上绘制、粘贴坐标或上传拐点文件。", true);
      return;
    }
    var kind = REPORTS[format] || REPORTS.pdf;
    init.headers = Object.assign({}, init.headers || {}, { Accept: kind[0] });
    status("正在生成核查报告（" + kind[1] + "）…");
    ezws.download(cfg.check_url, "核查报告." + format, init).then(function () {
      status("核查报告已生成（" + kind[1] + "）");
    }).catch(function (error) {
      status(error.message, true);
    });
  };

  ec.init = function (config) {
    cfg = config;
    map = ecozone.map;
    L.DomUtil.addClass(document.body, "ez-check-page");
    var panel = $("ez-check-panel");
    L.DomEvent.disableClickPropagation(panel);
    L.DomEvent.disableScrollPropagation(panel);
    $("ez-asof").value = config.as_of;
    $("ez-draw").addEventListener("click", startDrawing);
    $("ez-clear").addEventListener("click", ec.clear);
    $("ez-run").addEventListener("click", ec.run);
    ["ez-report", "ez-report-docx"].forEach(function (id) {
      $(id).addEventListener("click", function () { ec.report(this.getAttribute("data-format")); });
    });
    $("ez-print").addEventListener("click", function () { window.print(); });
    $("ez-coords").addEventListener("input", function () { ec.source = this.value.trim() ? "text" : null; });
    $("ez-file").addEventListener("change", function () { ec.source = this.files.length ? "file" : null; });
    map.on("click", addVertex);
    map.on("dblclick", finishDrawing);
  };
}());
