/* ecozone map pages: the store's layers drawn from vector tiles, the Chinese legend, and check / batch results.
 *
 * The page (built by maps/build.py) calls ecozone.init(map, spec). Each kind is a Leaflet.VectorGrid layer in
 * its own pane (stacking by kind), styled by the looks the spec lists (a tile names each zone's look by its
 * position there). One tile per position holds every kind: it is fetched once from the application
 * (spec.tiles.url) or, in a saved file, read from ecozone.data.tiles, where a missing deeper tile is drawn
 * from the deepest embedded one above it, magnified. A zone's popup comes from the application on a click
 * (spec.tiles.popup_url) or from ecozone.data.popups.
 */
(function () {
  "use strict";

  var ez = { data: {}, layers: {}, map: null, spec: null, result: null, ready: null };
  window.ecozone = ez;

  var HIGHLIGHT = { color: "#ff00ff", weight: 4, opacity: 1 };
  var KEPT_TILES = 512;  // decoded tiles kept for the kinds' layers to share

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

  /* ---- tiles ---------------------------------------------------------------------------------------- */

  var fetcher = null;  // a VectorGrid.Protobuf never added to the map: it fetches and decodes one tile
  var tiles = {}, tileOrder = [];

  function tileKey(c) { return c.z + "/" + c.x + "/" + c.y; }

  /* A decoded tile as seen from a deeper tile ``coords``: coordinates scaled and shifted, zones off it left out. */
  function magnified(tile, coords, source) {
    var factor = Math.pow(2, coords.z - source.z);
    var out = { layers: {} };
    Object.keys(tile.layers).forEach(function (name) {
      var layer = tile.layers[name], extent = layer.extent;
      var dx = (coords.x - source.x * factor) * extent, dy = (coords.y - source.y * factor) * extent;
      var margin = extent / 16, features = [];
      layer.features.forEach(function (feature) {
        var x0 = Infinity, y0 = Infinity, x1 = -Infinity, y1 = -Infinity;
        var geometry = feature.geometry.map(function (ring) {
          return ring.map(function (p) {
            var x = p.x * factor - dx, y = p.y * factor - dy;
            x0 = Math.min(x0, x); y0 = Math.min(y0, y); x1 = Math.max(x1, x); y1 = Math.max(y1, y);
            return { x: x, y: y };
          });
        });
        if (x1 > -margin && x0 < extent + margin && y1 > -margin && y0 < extent + margin) {
          features.push({ type: feature.type, properties: feature.properties, geometry: geometry });
        }
      });
      out.layers[name] = { extent: extent, features: features, length: features.length };
    });
    return out;
  }

  function embeddedSource(coords) {
    var c = { x: coords.x, y: coords.y, z: coords.z };
    var first = ez.spec.tiles.min_zoom;
    while (c.z >= first) {
      if (ez.data.tiles[tileKey(c)]) { return c; }
      if (c.z === first || c.z <= ez.spec.tiles.max_zoom) { return null; }  // an embedded zoom: empty there
      c = { x: Math.floor(c.x / 2), y: Math.floor(c.y / 2), z: c.z - 1 };
    }
    return null;
  }

  /** The decoded tile at ``coords`` (every kind's layer), fetched once for all the kinds' layers. */
  function loadTile(coords) {
    var key = tileKey(coords);
    if (tiles[key]) { return tiles[key]; }
    var promise;
    if (ez.spec.tiles.url) {
      promise = fetcher._getVectorTilePromise(coords);
    } else {
      var source = embeddedSource(coords);
      promise = !source ? Promise.resolve({ layers: {} }) : fetcher._getVectorTilePromise(source).then(function (tile) {
        return source.z === coords.z ? tile : magnified(tile, coords, source);
      });
    }
    promise = promise.catch(function (error) {
      delete tiles[key];
      console.error("ecozone: tile " + key + " not loaded: " + error.message);
      return { layers: {} };
    });
    tiles[key] = promise;
    tileOrder.push(key);
    if (tileOrder.length > KEPT_TILES) { delete tiles[tileOrder.shift()]; }
    return promise;
  }

  var KindGrid = L.VectorGrid.extend({
    _getVectorTilePromise: function (coords) {
      var kind = this.options.kind;
      return loadTile(coords).then(function (tile) {
        var layers = {};
        if (tile.layers[kind]) { layers[kind] = tile.layers[kind]; }
        return { layers: layers };
      });
    }
  });

  function styleOf(state, properties) {
    var base = state.spec.styles[properties.style] || { color: "#666", weight: 1 };
    return state.highlight[properties.zone_id] ? L.extend({}, base, HIGHLIGHT) : base;
  }

  function popupUrl(kind, properties, latlng) {
    return L.Util.template(ez.spec.tiles.popup_url, {
      kind: encodeURIComponent(kind), zone_id: encodeURIComponent(properties.zone_id),
      lon: latlng.lng.toFixed(6), lat: latlng.lat.toFixed(6), zoom: ez.map.getZoom()
    });
  }

  /** The popup HTML of a zone: from the file, from the application, or what the tile itself says. */
  function popupHtml(kind, properties, latlng) {
    var kept = (ez.data.popups || {})[kind];
    if (kept && kept[properties.zone_id]) { return Promise.resolve(kept[properties.zone_id]); }
    if (ez.spec.tiles.popup_url) {
      var get = window.ezws ? ezws.fetch : window.fetch.bind(window);  // the workspace sends the officer's key
      return get(popupUrl(kind, properties, latlng)).then(function (response) {
        if (!response.ok) { throw new Error("HTTP " + response.status); }
        return response.text();
      });
    }
    return Promise.resolve("<div class='ez-popup'><h4>" + esc(properties.name) + "</h4><div class='ez-id'>" +
      esc(properties.zone_id) + "</div><div class='ez-dim'>此文件未保存该区域的详细属性。</div></div>");
  }

  ez.openPopup = function (kind, properties, latlng) {
    return popupHtml(kind, properties, latlng).then(function (html) {
      L.popup({ maxWidth: 380 }).setLatLng(latlng).setContent(html).openOn(ez.map);
      return html;
    }).catch(function (error) {
      console.error("ecozone: no popup for " + properties.zone_id + ": " + error.message);
    });
  };

  function kindGrid(kind, pane) {
    var state = { spec: kind, pane: pane, highlight: {} };
    var styles = {};
    styles[kind.kind] = function (properties) { return styleOf(state, properties); };
    var grid = new KindGrid({
      kind: kind.kind, pane: pane, interactive: true, vectorTileLayerStyles: styles,
      getFeatureId: function (feature) { return feature.properties.zone_id; }
    });
    grid.ez = state;
    grid.on("click", function (event) { ez.openPopup(kind.kind, event.layer.properties, event.latlng); });
    return grid;
  }

  function restyle(grid, ids) {
    var style = grid.options.vectorTileLayerStyles[grid.options.kind];
    ids.forEach(function (id) { grid.setFeatureStyle(id, style); });
  }

  /** Zones drawn now, by kind (what the tests and the benchmark read). */
  ez.drawn = function () {
    var counts = {};
    Object.keys(ez.layers).forEach(function (kind) {
      var grid = ez.layers[kind], ids = {};
      if (ez.map.hasLayer(grid)) {
        Object.keys(grid._vectorTiles).forEach(function (key) {
          Object.keys(grid._vectorTiles[key]._features).forEach(function (id) { ids[id] = true; });
        });
      }
      counts[kind] = Object.keys(ids).length;
    });
    return counts;
  };

  /** Whether every layer on the map has the tiles of the view. */
  ez.idle = function () {
    return Object.keys(ez.layers).every(function (kind) {
      return !ez.map.hasLayer(ez.layers[kind]) || !ez.layers[kind].isLoading();
    });
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
    (spec.tiles.left_out || []).forEach(function (text) {
      html.push('<div class="ez-legend-row ez-dim">' + esc(text) + "</div>");
    });
    spec.extra_legend.forEach(function (row) {
      html.push('<div class="ez-legend-row">' + swatch({ color: "#333", fillColor: row.color }, true) +
        esc(row.label) + "</div>");
    });
    return html.join("");
  }

  function addLegend(map, spec) {
    // beside the layer switcher (top right, laid out in a row by ecozone.css): it never covers the switcher
    var legend = L.control({ position: "topright" });
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
    if (spec.tiles.url) {
      fetcher = L.vectorGrid.protobuf(spec.tiles.url, { fetchOptions: { headers: window.ezws ? ezws.headers() : {} } });
    } else {
      fetcher = L.vectorGrid.protobuf("data:application/x-protobuf;base64,{tile}", {
        tile: function (c) { return ez.data.tiles[tileKey(c)]; }
      });
    }
    var overlays = {};
    var waiting = spec.kinds.length;
    function painted() {
      // The first frame after the tiles in view were drawn (read by the tests and map_bench).
      requestAnimationFrame(function () {
        requestAnimationFrame(function () { ez.ready = performance.now(); });
      });
    }
    spec.kinds.forEach(function (kind, index) {
      var pane = "ez-" + kind.kind;
      map.createPane(pane).style.zIndex = String(400 + index);
      var grid = kindGrid(kind, pane);
      ez.layers[kind.kind] = grid;
      var first = kind.legend.length ? kind.legend[0].style : { color: "#666" };
      overlays[swatch(first, kind.point) + esc(kind.label) + ' <span class="ez-dim">(' + kind.count + ")</span>"] = grid;
      grid.once("load", function () {
        waiting -= 1;
        if (waiting === 0) { painted(); }
      });
    });
    map.createPane("ez-result").style.zIndex = "640";
    if (spec.bounds) {
      map.fitBounds([[spec.bounds[1], spec.bounds[0]], [spec.bounds[3], spec.bounds[2]]]);
    } else {
      map.setView([42, 85], 5);
    }
    // without the key the server asks for, no tile is fetched: the workspace's key form is open instead
    var waitForKey = !!(spec.tiles.url && window.ezws && !ezws.ready());
    if (!waitForKey) { Object.keys(ez.layers).forEach(function (kind) { ez.layers[kind].addTo(map); }); }
    L.control.layers(null, overlays, { collapsed: true, position: "topright" }).addTo(map);
    addLegend(map, spec);
    addBanner(map, spec);
    L.control.scale({ imperial: false }).addTo(map);
    if (!spec.kinds.length || waitForKey) { painted(); }
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
      (hit.not_in_seeds && hit.source_doc.indexOf("非来源文件") < 0 ? "（非来源文件）" : "") +
      (hit.source_quote !== null && hit.source_quote !== undefined ? "「" + esc(hit.source_quote) + "」"
        : "，概述：" + esc(hit.source_summary)) + "</div></li>");
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

  /** Highlight the zones ``ids`` (kind -> ids), unhighlighting those highlighted before. */
  function highlight(ids) {
    Object.keys(ez.layers).forEach(function (kind) {
      var before = Object.keys(ez.layers[kind].ez.highlight);
      ez.layers[kind].ez.highlight = {};
      (ids[kind] || []).forEach(function (id) { ez.layers[kind].ez.highlight[id] = true; });
      restyle(ez.layers[kind], before.concat(ids[kind] || []));
    });
  }

  /** Take the last result off the map and out of the verdict panel. */
  ez.clearResult = function () {
    if (ez.result) { ez.map.removeLayer(ez.result); ez.result = null; }
    highlight({});
    var panel = document.getElementById("ez-verdict");
    if (panel) { panel.innerHTML = ""; }
  };

  /** Show a CheckResult (the API's JSON) on the map: the site, its rings, the zones it meets, the verdict. */
  ez.showResult = function (result, rings) {
    if (ez.result) { ez.map.removeLayer(ez.result); }
    var met = {};
    result.overlap.layers.forEach(function (layer) {
      layer.hits.forEach(function (hit) {
        if (hit.relation !== "near" && ez.layers[hit.kind]) { (met[hit.kind] = met[hit.kind] || []).push(hit.zone_id); }
      });
    });
    highlight(met);

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
