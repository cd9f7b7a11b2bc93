/* ecozone workspace: what every page shares. The officer's key (kept in sessionStorage, this tab only) goes
 * with every request to the API in the X-API-Key header; an answer 401/403 about the key opens the key form
 * with a Chinese message. Errors are the server's problem+json (detail, field, value, fix), shown as they come.
 * On the home page: the place search (GET /places) and the date of the layers shown.
 */
(function () {
  "use strict";

  var KEY = "ecozone.key";
  var ws = { config: window.ecozoneWorkspaceConfig || { urls: {} } };
  window.ezws = ws;

  function $(id) { return document.getElementById(id); }
  ws.$ = $;

  ws.esc = function (value) {
    return String(value === null || value === undefined ? "" : value)
      .replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;")
      .replace(/"/g, "&quot;").replace(/'/g, "&#39;");
  };

  ws.key = function () {
    try { return sessionStorage.getItem(KEY) || ""; } catch (e) { return ""; }
  };

  /** Headers carrying the key, merged into ``headers``. */
  ws.headers = function (headers) {
    var out = Object.assign({}, headers || {});
    var key = ws.key();
    if (key) { out["X-API-Key"] = key; }
    return out;
  };

  /** Whether requests can go: reads are open, or a key was given. */
  ws.ready = function () { return !ws.config.key_required || !!ws.key(); };

  /** The text of an error answer: problem+json (Chinese first from the server), or FastAPI's list of errors. */
  ws.problemText = function (body, httpStatus) {
    var problem = body || {};
    var detail = problem.detail;
    if (Array.isArray(detail)) {
      return detail.map(function (e) { return (e.loc || []).join(".") + "：" + e.msg; }).join("\n");
    }
    return [detail || problem.title || "请求失败 (HTTP " + httpStatus + ")",
      problem.field && "字段：" + problem.field,
      problem.value !== undefined && problem.value !== null && "值：" + problem.value,
      problem.row !== undefined && problem.row !== null && "行：" + problem.row,
      problem.fix && "处理建议：" + problem.fix].filter(Boolean).join("\n");
  };

  var KEY_MESSAGES = {
    "api-key-required": "需要访问密钥：请输入管理员发放的密钥。",
    "invalid-api-key": "密钥无效或权限不足：请输入有效的密钥（导入图层需要写入密钥）。"
  };

  function keyProblem(status, body) {
    var kind = String((body && body.type) || "");
    var name = Object.keys(KEY_MESSAGES).filter(function (k) { return kind.indexOf(k) >= 0; })[0];
    if (status === 401) { return KEY_MESSAGES[name || "api-key-required"]; }
    return status === 403 && name ? KEY_MESSAGES[name] : null;
  }

  /** fetch() with the key; an answer about the key opens the key form. Resolves to the Response. */
  ws.fetch = function (url, init) {
    init = Object.assign({}, init || {});
    init.headers = ws.headers(init.headers);
    return fetch(url, init).then(function (response) {
      if (response.status !== 401 && response.status !== 403) { return response; }
      return response.clone().json().catch(function () { return null; }).then(function (body) {
        var message = keyProblem(response.status, body);
        if (message) { ws.login(message + "\n" + ws.problemText(body, response.status)); }
        return response;
      });
    });
  };

  /** The JSON of a request, or an Error whose message is the problem's text. */
  ws.json = function (url, init) {
    return ws.fetch(url, init).then(function (response) {
      return response.json().catch(function () { return null; }).then(function (body) {
        if (!response.ok) { throw new Error(ws.problemText(body, response.status)); }
        return body;
      });
    });
  };

  /** A file from the API (with the key) saved under ``name``, or under the name the server gives. */
  ws.download = function (url, name, init) {
    return ws.fetch(url, init).then(function (response) {
      if (!response.ok) {
        return response.json().catch(function () { return null; }).then(function (body) {
          throw new Error(ws.problemText(body, response.status));
        });
      }
      var given = /filename\*=UTF-8''([^;]+)/i.exec(response.headers.get("Content-Disposition") || "");
      return response.blob().then(function (blob) {
        var link = document.createElement("a");
        link.href = URL.createObjectURL(blob);
        link.download = given ? decodeURIComponent(given[1]) : name;
        document.body.appendChild(link);
        link.click();
        link.remove();
        setTimeout(function () { URL.revokeObjectURL(link.href); }, 60000);
        return link.download;
      });
    });
  };

  /** The batch-wide options of the fieldset ``container`` (``maps.workspace.options_fieldset``) appended to the
   * FormData ``form`` under their form field names (``data-option``), those left empty out; with ``reading`` only
   * those that say how the file is read (``data-reading``: encoding, crs). */
  ws.addOptions = function (form, container, reading) {
    Array.prototype.forEach.call(container.querySelectorAll("[data-option]"), function (input) {
      if (reading && !input.hasAttribute("data-reading")) { return; }
      var value = input.value.trim();
      if (value) { form.append(input.getAttribute("data-option"), value); }
    });
  };

  /* ---- the key form ------------------------------------------------------------------------------- */

  ws.login = function (message) {
    var box = $("ez-login");
    if (!box) { return; }
    $("ez-login-msg").textContent = message || "";
    box.hidden = false;
    $("ez-key").focus();
  };

  function keyButton() {
    var button = $("ez-key-button");
    if (!button) { return; }
    button.innerHTML = ws.key() ? "退出密钥 <small>Log out</small>" : "密钥登录 <small>Key</small>";
  }

  function initLogin() {
    var form = $("ez-login-form");
    if (!form) { return; }
    form.addEventListener("submit", function (event) {
      event.preventDefault();
      sessionStorage.setItem(KEY, $("ez-key").value.trim());
      location.reload();
    });
    $("ez-login-cancel").addEventListener("click", function () { $("ez-login").hidden = true; });
    $("ez-key-button").addEventListener("click", function () {
      if (ws.key()) {
        sessionStorage.removeItem(KEY);
        location.reload();
      } else {
        ws.login("");
      }
    });
    keyButton();
    if (!ws.ready()) { ws.login(KEY_MESSAGES["api-key-required"]); }
  }

  /* ---- home: place search and the layers' date ------------------------------------------------------ */

  function showPlace(place) {
    var b = place.bounds;
    ecozone.map.fitBounds([[b[1], b[0]], [b[3], b[2]]], { animate: false, maxZoom: 16 });
    $("ez-place-results").hidden = true;
    $("ez-place").value = place.name;
  }

  function initSearch() {
    var input = $("ez-place"), list = $("ez-place-results");
    if (!input) { return; }
    var asOf = $("ez-map-asof");
    var params = new URLSearchParams(location.search);
    asOf.value = params.get("as_of") || (window.ecozone && ecozone.spec ? ecozone.spec.as_of : "");
    asOf.addEventListener("change", function () {
      if (!asOf.value) { return; }
      params.set("as_of", asOf.value);
      location.search = params.toString();
    });
    var asked = 0;
    function search() {
      var text = input.value.trim();
      var ticket = ++asked;
      if (!text) { list.hidden = true; return; }
      var query = new URLSearchParams({ q: text, limit: "10" });
      if (asOf.value) { query.set("as_of", asOf.value); }
      ws.json(ws.config.urls.places + "?" + query.toString()).then(function (places) {
        if (ticket !== asked) { return; }
        list.innerHTML = places.length ? "" : "<span class='ez-dim'>没有找到：" + ws.esc(text) + "</span>";
        places.forEach(function (place) {
          var item = document.createElement("button");
          item.type = "button";
          item.className = "ez-place-item";
          item.innerHTML = ws.esc(place.name) + " <small>" + ws.esc(place.label) + "</small>";
          item.addEventListener("click", function () { showPlace(place); });
          list.appendChild(item);
        });
        list.hidden = false;
      }).catch(function (error) {
        list.innerHTML = "<span class='ez-error'>" + ws.esc(error.message) + "</span>";
        list.hidden = false;
      });
    }
    input.addEventListener("input", search);
    input.addEventListener("keydown", function (event) {
      if (event.key === "Enter") {
        var first = list.querySelector(".ez-place-item");
        if (first) { first.click(); }
      }
    });
  }

  function init() {
    initLogin();
    initSearch();
  }

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", init);
  } else {
    init();
  }
}());
