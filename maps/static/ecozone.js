/* ecozone map pages: the store's layers drawn by zoom level, the Chinese legend, and check / batch results.
 *
 * The page (built by maps/build.py) sets ecozone.data[...] to the inline geometry levels and calls
 * ecozone.init(map, spec). Each kind is a layer group in its own pane (stacking by kind); a kind's finer
 * levels are drawn from inline data, or fetched from the application once when the zoom first needs them.
 */
(function () {
  "use strict";

  var ez = { data: {}, layers: {}, map: null, spec: null, result: null, ready: null };
  window.ecozone = ez;

  var HIGHLIGHT = { color: "#ff00ff", weight: 4, opacity: 1 };

  function esc(value) {
    return String(value === null || value === undefined ? "" : value)
      .replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;")
      .replace(/"/g, "&quot;").replace(/'/g, "&#39;");
  }
  ez.esc = esc;

  function swatch(style, point) {
    var fill = style.fill === false ? "transparent" : (style.fillColor || style.color);
    var border = (style.dashArray ? "dashed" : "solid") + " 2px " + style.color;
    return '<span class="ez-swatch' + (point ? " ez-point" : "") + '" style="background:' + esc(fill) +
      ";border:" + border + '"></span>';
  }

  /* ---- layers by zoom level ------------------------------------------------------------------------ */

  function wantedLevel(levels, zoom) {
    for (var i = 0; i < levels.length; i++) {
      if (levels[i].max_zoom === null || zoom <= levels[i].max_zoom) { return i; }
    }
    return levels.length - 1;
  }

  function styleOf(state, id) {
    var base = state.spec.zones[id].style;
    return state.highlight[id] ? L.extend({}, base, HIGHLIGHT) : base;
  }

  function build(group, rows) {
    var state = group.ez;
    var features = rows.map(function (row) {
      return { type: "Feature", id: row[0], properties: {}, geometry: row[1] };
    });
    return L.geoJSON({ type: "FeatureCollection", features: features }, {
      pane: state.pane,
      style: function (feature) { return styleOf(state, feature.id); },
      pointToLayer: function (feature, latlng) {
        return L.circleMarker(latlng, L.extend({ pane: state.pane }, styleOf(state, feature.id)));
      },
      onEachFeature: function (feature, layer) {
        layer.zoneId = feature.id;
        layer.bindPopup(state.spec.zones[feature.id].popup, { maxWidth: 380 });
      }
    });
  }

  function available(state, level) {
    var key = state.spec.levels[level].key;
    return Boolean(state.built[level] || (key && ez.data[key]));
  }

  function load(state, level) {
    var url = state.spec.levels[level].url;
    if (!url || state.loading[level]) { return; }
    state.loading[level] = fetch(url).then(function (response) {
      if (!response.ok) { throw new Error(url + ": HTTP " + response.status); }
      return response.json();
    }).then(function (rows) {
      ez.data[state.spec.levels[level].key] = rows;
      refresh();
    }).catch(function (error) {
      state.loading[level] = null;
      console.error("ecozone: cannot load " + state.spec.kind + " level " + level + ": " + error.message);
    });
  }

  function show(group, zoom) {
    var state = group.ez;
    var target = wantedLevel(state.spec.levels, zoom);
    if (!available(state, target)) { load(state, target); }
    var level = target;
    while (level > 0 && !available(state, level)) { level -= 1; }
    if (level === state.shown || !available(state, level)) { return; }
    if (!state.built[level]) { state.built[level] = build(group, ez.data[state.spec.levels[level].key]); }
    group.clearLayers();
    group.addLayer(state.built[level]);
    state.shown = level;
  }

  function refresh() {
    var zoom = ez.map.getZoom();
    Object.keys(ez.layers).forEach(function (kind) { show(ez.layers[kind], zoom); });
  }

  function restyle(group) {
    var state = group.ez;
    Object.keys(state.built).forEach(function (level) {
      state.built[level].eachLayer(function (layer) { layer.setStyle(styleOf(state, layer.zoneId)); });
    });
  }

  /** Zones drawn now, by kind (what the tests and the benchmark read). */
  ez.drawn = function () {
    var counts = {};
    Object.keys(ez.layers).forEach(function (kind) {
      var group = ez.layers[kind];
      var total = 0;
      if (ez.map.hasLayer(group)) {
        group.eachLayer(function (level) { total += level.getLayers().length; });
      }
      counts[kind] = total;
    });
    return counts;
  };

  /* ---- legend -------------------------------------------------------------------------------------- */

  function legendHtml(spec) {
    var html = ['<div class="ez-legend-title">图例 <span class="ez-dim">' + esc(spec.as_of) + "</span></div>"];
    spec.kinds.slice().reverse().forEach(function (kind) {
      html.push('<div class="ez-legend-kind"><b>' + esc(kind.label) + '</b> <span class="ez-dim">' +
        kind.count + " 个" + (kind.version ? " · v" + kind.version : "") + "</span></div>");
      kind.legend.forEach(function (row) {
        html.push('<div class="ez-legend-row">' + swatch(row.style, kind.point) + esc(row.label) + "</div>");
      });
    });
    if (spec.illustrative) {
      html.push('<div class="ez-legend-row ez-legend-note">' +
        swatch({ color: "#555", fill: false, dashArray: "6 4" }) +
        "虚线边框：示意边界（位置近似，非官方，仅供演示）</div>");
    }
    spec.extra_legend.forEach(function (row) {
      html.push('<div class="ez-legend-row">' + swatch({ color: "#333", fillColor: row.color }, true) +
        esc(row.label) + "</div>");
    });
    return html.join("");
  }

  function addLegend(map, spec) {
    var legend = L.control({ position: "bottomright" });
    legend.onAdd = function () {
      var div = L.DomUtil.create("div", "ez-legend");
      div.id = "ez-legend";
      div.innerHTML = legendHtml(spec);
      div.firstChild.addEventListener("click", function () { L.DomUtil.toggleClass(div, "ez-collapsed"); });
      L.DomEvent.disableClickPropagation(div);
      L.DomEvent.disableScrollPropagation(div);
      return div;
    };
    legend.addTo(map);
  }

  function addBanner(map, spec) {
    if (!spec.illustrative) { return; }
    var banner = L.control({ position: "bottomleft" });
    banner.onAdd = function () {
      var div = L.DomUtil.create("div", "ez-banner");
      div.id = "ez-banner";
      div.innerHTML = "<b>示意</b> 虚线边框的区域为示意数据：无公开官方边界，位置近似，仅供演示；" +
        "审批须以官方图层为准。";
      return div;
    };
    banner.addTo(map);
  }

  /** Draw the store's layers on ``map`` as ``spec`` (maps/build.py) describes them. */
  ez.init = function (map, spec) {
    ez.map = map;
    ez.spec = spec;
    var overlays = {};
    spec.kinds.forEach(function (kind, index) {
      var pane = "ez-" + kind.kind;
      map.createPane(pane).style.zIndex = String(400 + index);
      var group = L.layerGroup();
      group.ez = { spec: kind, pane: pane, built: {}, loading: {}, shown: null, highlight: {} };
      ez.layers[kind.kind] = group;
      var first = kind.legend.length ? kind.legend[0].style : { color: "#666" };
      overlays[swatch(first, kind.point) + esc(kind.label) + ' <span class="ez-dim">(' + kind.count + ")</span>"] = group;
      group.addTo(map);
    });
    map.createPane("ez-result").style.zIndex = "640";
    if (spec.bounds) {
      map.fitBounds([[spec.bounds[1], spec.bounds[0]], [spec.bounds[3], spec.bounds[2]]]);
    }
    L.control.layers(null, overlays, { collapsed: true, position: "topright" }).addTo(map);
    addLegend(map, spec);
    addBanner(map, spec);
    L.control.scale({ imperial: false }).addTo(map);
    map.on("zoomend", refresh);
    refresh();
    // The first frame after the layers were added: when the map has been painted (read by map_bench).
    requestAnimationFrame(function () {
      requestAnimationFrame(function () { ez.ready = performance.now(); });
    });
  };

  /* ---- check results ------------------------------------------------------------------------------ */

  function verdictBadge(verdict, label) {
    var color = (ez.spec.verdicts[verdict] || {}).color || "#999";
    return '<span class="ez-v" style="background:' + esc(color) + '">' + esc(label) + "</span>";
  }

  function ruleHtml(hit) {
    var parts = ["<li>" + verdictBadge(hit.verdict, hit.verdict_label) + ' <code class="ez-rule">' +
      esc(hit.rule_id) + "</code> " + esc(hit.title_zh) + (hit.softened ? "（原则上）" : "")];
    if (hit.verdict === "needs_review" && hit.rule_verdict !== hit.verdict) {
      parts.push('<div class="ez-dim">若适用则为：' + esc(ez.spec.verdicts[hit.rule_verdict].label) + "</div>");
    }
    hit.zones.forEach(function (zone) {
      var distance = zone.distance_m ? "，距离 " + Math.round(zone.distance_m).toLocaleString() + " m" : "";
      parts.push("<div>区域：" + esc(zone.name) + "（" + esc(ez.spec.relations[zone.relation]) + distance + "）</div>");
    });
    if (hit.condition_zh) { parts.push("<div>条件：" + esc(hit.condition_zh) + "</div>"); }
    if (hit.deadline) { parts.push("<div>期限：" + esc(hit.deadline) + (hit.deadline_passed ? "，已逾期" : "") + "</div>"); }
    hit.quantities.forEach(function (q) {
      var value = q.value === null ? "（缺少数据）" : q.value.toLocaleString(undefined, { maximumFractionDigits: 2 }) + " " + q.unit;
      parts.push("<div>计算：" + esc(q.label_zh) + " = " + esc(q.formula) + " = " + esc(value) + "</div>");
    });
    hit.reasons.forEach(function (reason) { parts.push('<div class="ez-review">需核查：' + esc(reason) + "</div>"); });
    parts.push('<div class="ez-source">依据：' + esc(hit.source_doc) + (hit.source_article ? " " + esc(hit.source_article) : "") +
      (hit.not_in_seeds ? "（非来源文件，国家法规概述）" : "") + "「" + esc(hit.source_quote) + "」</div></li>");
    return parts.join("");
  }

  function layersHtml(result) {
    var rows = [];
    result.overlap.layers.forEach(function (layer) {
      var touching = layer.hits.filter(function (h) { return h.relation !== "near"; });
      var text = null;
      if (layer.status === "not_checked") {
        text = '<span class="ez-review">未核查：' + esc(layer.reason) + "</span>";
      } else if (touching.length) {
        text = touching.map(function (h) {
          return esc(h.name) + "（" + esc(h.relation_zh) + (h.overlap_pct ? "，重叠 " + h.overlap_pct.toFixed(1) + "%" : "") + "）";
        }).join("；");
      } else if (layer.hits.length) {
        text = '<span class="ez-dim">最近 ' + esc(layer.hits[0].name) + " " +
          Math.round(layer.hits[0].distance_m).toLocaleString() + " m</span>";
      }
      if (text) { rows.push("<tr><th>" + esc(layer.label_zh) + "</th><td>" + text + "</td></tr>"); }
    });
    return rows.length ? "<table class='ez-layers'>" + rows.join("") + "</table>" : "";
  }

  function verdictHtml(result) {
    var html = ['<div class="ez-verdict-head">' + verdictBadge(result.verdict, result.verdict_label) +
      ' <span class="ez-dim">核查日期 ' + esc(result.as_of) + "</span></div>"];
    if (result.illustrative) {
      html.push('<div class="ez-warn"><b>示意</b> 涉及的区域边界为示意数据，仅供演示，须以官方图层为准。</div>');
    }
    if (result.rules.hits.length) {
      html.push("<h4>适用规则</h4><ol class='ez-rules'>" + result.rules.hits.map(ruleHtml).join("") + "</ol>");
    } else if (result.verdict === "not_checked") {
      html.push("<p>没有图层覆盖项目位置，无法判定。</p>");
    } else {
      html.push("<p>无适用的限制性规则。</p>");
    }
    if (result.rules.unchecked.length) {
      html.push("<h4>未核查的规则（所需图层未覆盖项目位置，不能视为无问题）</h4><ul>" +
        result.rules.unchecked.map(function (hit) {
          return "<li><code class='ez-rule'>" + esc(hit.rule_id) + "</code> " + esc(hit.title_zh) + "</li>";
        }).join("") + "</ul>");
    }
    if (result.rules.possible.length) {
      html.push("<h4>同址规则（项目未申报相应活动，供参考）</h4><ul>" +
        result.rules.possible.map(function (hit) {
          return "<li>" + verdictBadge(hit.verdict, hit.verdict_label) + " <code class='ez-rule'>" +
            esc(hit.rule_id) + "</code> " + esc(hit.title_zh) + "</li>";
        }).join("") + "</ul>");
    }
    html.push("<h4>涉及图层</h4>" + layersHtml(result));
    return html.join("");
  }

  function verdictPanel() {
    var panel = document.getElementById("ez-verdict");
    if (panel) { return panel; }
    var control = L.control({ position: "topleft" });
    control.onAdd = function () {
      var div = L.DomUtil.create("div", "ez-verdict");
      div.id = "ez-verdict";
      L.DomEvent.disableClickPropagation(div);
      L.DomEvent.disableScrollPropagation(div);
      return div;
    };
    control.addTo(ez.map);
    return document.getElementById("ez-verdict");
  }

  /** Show a CheckResult (the API's JSON) on the map: the site, its rings, the zones it meets, the verdict. */
  ez.showResult = function (result, rings) {
    if (ez.result) { ez.map.removeLayer(ez.result); }
    Object.keys(ez.layers).forEach(function (kind) { ez.layers[kind].ez.highlight = {}; });
    result.overlap.layers.forEach(function (layer) {
      layer.hits.forEach(function (hit) {
        if (hit.relation !== "near" && ez.layers[hit.kind]) { ez.layers[hit.kind].ez.highlight[hit.zone_id] = true; }
      });
    });
    Object.keys(ez.layers).forEach(function (kind) { restyle(ez.layers[kind]); });

    var color = ez.spec.verdicts[result.verdict].color;
    var group = L.featureGroup();
    var focus = L.featureGroup();  // the site and its nearest ring: what the view is fitted to
    (rings || []).slice().reverse().forEach(function (ring, index, all) {
      var drawn = L.geoJSON(ring.geometry, {
        pane: "ez-result", interactive: false,
        style: { color: "#222", weight: 1.5, dashArray: "4 4", fill: false }
      }).bindTooltip(ring.km + " km", { permanent: false }).addTo(group);
      if (index === all.length - 1) { focus.addLayer(L.geoJSON(ring.geometry)); }
    });
    var site = L.geoJSON(result.site.geometry, {
      pane: "ez-result",
      style: { color: "#000", weight: 3, fillColor: color, fillOpacity: 0.45 },
      pointToLayer: function (feature, latlng) {
        return L.circleMarker(latlng, { pane: "ez-result", radius: 9, color: "#000", weight: 3, fillColor: color, fillOpacity: 0.9 });
      }
    }).bindPopup("<b>" + esc(result.site.name || "项目地块") + "</b><br>" + esc(result.verdict_label)).addTo(group);
    focus.addLayer(L.geoJSON(result.site.geometry));
    group.addTo(ez.map);
    ez.result = group;
    var panel = verdictPanel();
    panel.innerHTML = verdictHtml(result);
    var legend = document.getElementById("ez-legend");
    if (legend) { L.DomUtil.addClass(legend, "ez-collapsed"); }
    // keep the site clear of the panels on the left
    var left = panel.getBoundingClientRect().right - ez.map.getContainer().getBoundingClientRect().left;
    ez.map.fitBounds(focus.getBounds(), { maxZoom: 16, paddingTopLeft: [left + 20, 20], paddingBottomRight: [60, 40] });
  };

  /** Draw batch-screened sites coloured by verdict (worst drawn on top). */
  ez.showBatch = function (sites) {
    var group = L.featureGroup();
    sites.forEach(function (site) {
      var color = ez.spec.verdicts[site.verdict].color;
      L.geoJSON(site.geometry, {
        pane: "ez-result",
        style: { color: "#222", weight: 1, fillColor: color, fillOpacity: 0.8 },
        pointToLayer: function (feature, latlng) {
          return L.circleMarker(latlng, { pane: "ez-result", radius: 5, color: "#222", weight: 1, fillColor: color, fillOpacity: 0.9 });
        }
      }).bindPopup(site.popup).addTo(group);
    });
    group.addTo(ez.map);
    ez.result = group;
    if (sites.length) { ez.map.fitBounds(group.getBounds(), { maxZoom: 12, padding: [20, 20] }); }
  };
}());
