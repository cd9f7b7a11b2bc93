/* 批量筛查: a file is previewed (POST /screen/preview: the columns the job would read, the first rows), its
 * unrecognised columns can be mapped, then it is screened (POST /screen). The jobs this browser submitted are
 * polled (GET /screen/{id}) for progress, can be cancelled (their 'cancel' link) and downloaded in every format
 * their 'result' links offer; a finished job's sites are drawn on the batch map (GET /map/screen/{id}/map).
 */
(function () {
  "use strict";

  var ws = window.ezws, $ = ws.$, esc = ws.esc, urls = ws.config.urls;
  var JOBS = "ecozone.jobs";
  var STATUS = { queued: "排队中", running: "筛查中", succeeded: "已完成", failed: "失败", cancelled: "已取消" };
  var preview = null, jobs = {}, timer = null;

  function status(text, error) {
    var box = $("ez-screen-status");
    box.textContent = text;
    box.className = "ez-status" + (error ? " ez-error" : "");
  }

  function mapping() {
    var out = {};
    Array.prototype.forEach.call(document.querySelectorAll("#ez-preview select[data-column]"), function (select) {
      if (select.value) { out[select.value] = select.getAttribute("data-column"); }
    });
    return out;
  }

  function fieldSelect(column, chosen) {
    var options = ["<option value=''>（不读取）</option>"];
    Object.keys(preview.fields).forEach(function (field) {
      options.push("<option value='" + esc(field) + "'" + (field === chosen ? " selected" : "") + ">" +
        esc(preview.fields[field]) + "</option>");
    });
    return "<select data-column='" + esc(column) + "'>" + options.join("") + "</select>";
  }

  function showPreview(answer) {
    preview = answer;
    var roleOf = {};
    Object.keys(answer.roles).forEach(function (field) { roleOf[answer.roles[field]] = field; });
    var html = [];
    if (answer.problem) {
      html.push("<div class='ez-warn'>" + esc(ws.problemText(answer.problem, 400)) +
        "<br>请在下方为经纬度（或 X/Y、拐点坐标）列选择对应字段，再点“重新预览”。</div>");
    } else {
      html.push("<div>已识别 " + Object.keys(answer.roles).length + " 列，共约 " + answer.total +
        " 行。绿色为已识别的列；其他列可在下拉框中指定。</div>");
    }
    html.push("<table class='ez-table' id='ez-preview-table'><thead><tr><th>列</th>");
    answer.header.forEach(function (column) {
      html.push("<th class='" + (roleOf[column] ? "ez-recognised" : "") + "'>" + esc(column) + "<br>" +
        fieldSelect(column, roleOf[column]) + "</th>");
    });
    html.push("</tr></thead><tbody>");
    answer.rows.forEach(function (row) {
      html.push("<tr><td>" + esc(row.row) + "</td>" + row.cells.map(function (cell) {
        return "<td>" + esc(cell) + "</td>";
      }).join("") + "</tr>");
      if (row.error) {
        html.push("<tr><td></td><td class='ez-row-error' colspan='" + answer.header.length + "'>" + esc(row.error) +
          "</td></tr>");
      }
    });
    html.push("</tbody></table><button type='button' id='ez-preview-again'>重新预览</button>");
    $("ez-preview").innerHTML = html.join("");
    $("ez-preview-again").addEventListener("click", function () { askPreview(mapping()); });
  }

  /* The whole-file options of the form (POST /screen's form fields of the same names, ws.addOptions): the file's
   * reading ones (encoding, crs) go to the preview too, so that it reads the rows as the job will. */
  function options() { return $("ez-screen-options"); }

  function askPreview(columns) {
    var file = $("ez-screen-file").files[0];
    if (!file) { return; }
    var form = new FormData();
    form.append("file", file);
    if (columns && Object.keys(columns).length) { form.append("columns", JSON.stringify(columns)); }
    ws.addOptions(form, options(), true);
    status("正在读取表头…");
    ws.json(urls.screen_preview, { method: "POST", body: form }).then(function (answer) {
      showPreview(answer);
      status("");
    }).catch(function (error) {
      $("ez-preview").innerHTML = "";
      status(error.message, true);
    });
  }

  /* ---- jobs ------------------------------------------------------------------------------------ */

  function kept() {
    try { return JSON.parse(localStorage.getItem(JOBS) || "[]"); } catch (e) { return []; }
  }

  function keep(id) {
    var ids = kept().filter(function (known) { return known !== id; });
    ids.unshift(id);
    localStorage.setItem(JOBS, JSON.stringify(ids.slice(0, 50)));
  }

  function link(job, rel) {
    return job.links.filter(function (l) { return l.rel === rel; });
  }

  /* Rows per 结论 in the report's own words and order (verdict_labels, strictest first, as the 筛查汇总 sheet and
   * the terminal give them): 部分未核查 apart from 未核查, and the rows not read counted once, under 读取失败. */
  function counts(job) {
    var labels = (job.report || {}).verdict_labels || {};
    return Object.keys(labels).map(function (label) { return esc(label) + " " + esc(labels[label]); }).join("；");
  }

  function jobRow(job) {
    var total = job.progress.total, done = job.progress.done;
    var progress = "<progress max='" + (total || 1) + "' value='" + (total ? done : 0) + "'></progress> " +
      "<span class='ez-progress-text'>" + done + " / " + (total === null ? "?" : total) + "</span>";
    var actions = [];
    if (link(job, "cancel").length) { actions.push("<button type='button' data-cancel='" + esc(job.id) + "'>取消</button>"); }
    link(job, "result").forEach(function (l) {
      actions.push("<button type='button' class='ez-download' data-href='" + esc(l.href) + "' data-format='" +
        esc(l.title) + "'>下载 " + esc(l.title) + "</button>");
    });
    if (job.status === "succeeded") {
      actions.push("<button type='button' data-map='" + esc(job.id) + "'>地图</button>");
    }
    var error = job.error ? "<div class='ez-error'>" + esc(ws.problemText({ detail: job.error.message,
      field: job.error.field, row: job.error.row, fix: job.error.fix }, 0)) + "</div>" : "";
    return "<tr data-job='" + esc(job.id) + "'><td>" + esc(job.input_name) + "</td><td>" +
      esc((job.created_at || "").replace("T", " ").slice(0, 19)) + "</td><td class='ez-job-status'>" +
      esc(STATUS[job.status] || job.status) + error + "</td><td>" + progress + "</td><td>" + counts(job) +
      "</td><td class='ez-job-links'>" + actions.join("") + "</td></tr>";
  }

  function render() {
    var rows = kept().filter(function (id) { return jobs[id]; }).map(function (id) { return jobRow(jobs[id]); });
    $("ez-jobs").querySelector("tbody").innerHTML = rows.join("") ||
      "<tr><td colspan='6' class='ez-dim'>尚无任务</td></tr>";
  }

  function poll() {
    var open = kept().filter(function (id) {
      return !jobs[id] || ["queued", "running"].indexOf(jobs[id].status) >= 0;
    });
    return Promise.all(open.map(function (id) {
      return ws.fetch(urls.screen_submit + "/" + encodeURIComponent(id)).then(function (response) {
        if (response.status === 404) {  // pruned on the server
          localStorage.setItem(JOBS, JSON.stringify(kept().filter(function (known) { return known !== id; })));
          return;
        }
        return response.json().then(function (job) { if (response.ok) { jobs[id] = job; } });
      });
    })).then(function () {
      render();
      clearTimeout(timer);
      var running = kept().some(function (id) { return jobs[id] && ["queued", "running"].indexOf(jobs[id].status) >= 0; });
      if (running) { timer = setTimeout(poll, 1000); }
    }).catch(function (error) { status(error.message, true); });
  }

  function submit(event) {
    event.preventDefault();
    var file = $("ez-screen-file").files[0];
    if (!file) { status("请选择要筛查的文件。", true); return; }
    var form = new FormData();
    form.append("file", file);
    if ($("ez-screen-asof").value) { form.append("as_of", $("ez-screen-asof").value); }
    var columns = preview ? mapping() : {};
    if (Object.keys(columns).length) { form.append("columns", JSON.stringify(columns)); }
    ws.addOptions(form, options());
    status("正在上传…");
    ws.json(urls.screen_submit, { method: "POST", body: form }).then(function (job) {
      jobs[job.id] = job;
      keep(job.id);
      status("已提交：" + job.input_name);
      return poll();
    }).catch(function (error) { status(error.message, true); });
  }

  function showMap(id) {
    var card = $("ez-batch-map-card");
    card.hidden = false;
    status("正在绘制筛查结果地图…");
    ws.fetch(urls.batch_map.replace("JOB", encodeURIComponent(id))).then(function (response) {
      return response.text().then(function (text) {
        if (!response.ok) { throw new Error(ws.problemText(JSON.parse(text || "null"), response.status)); }
        $("ez-batch-map").srcdoc = text;
        status("");
      });
    }).catch(function (error) { status(error.message, true); });
  }

  function onClick(event) {
    var target = event.target.closest("button");
    if (!target) { return; }
    if (target.hasAttribute("data-cancel")) {
      var id = target.getAttribute("data-cancel");
      ws.json(link(jobs[id], "cancel")[0].href, { method: "POST" }).then(function (job) {
        jobs[id] = job;
        return poll();
      }).catch(function (error) { status(error.message, true); });
    } else if (target.classList.contains("ez-download")) {
      ws.download(target.getAttribute("data-href"), "筛查结果." + target.getAttribute("data-format"))
        .catch(function (error) { status(error.message, true); });
    } else if (target.hasAttribute("data-map")) {
      showMap(target.getAttribute("data-map"));
    }
  }

  function init() {
    $("ez-screen-file").addEventListener("change", function () { preview = null; askPreview(null); });
    Array.prototype.forEach.call(options().querySelectorAll("[data-reading]"), function (input) {
      // the rows read again as the job will read them
      input.addEventListener("change", function () { askPreview(preview ? mapping() : null); });
    });
    $("ez-screen-form").addEventListener("submit", submit);
    $("ez-jobs").addEventListener("click", onClick);
    render();
    if (ws.ready()) { poll(); }
  }

  document.addEventListener("DOMContentLoaded", init);
}());
