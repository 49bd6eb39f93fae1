/* fastcap view: the page's own code.
 *
 * Hand-written on purpose, and kept small: the page must work offline from the wheel, and only
 * PyPI, crates.io and Debian packages can be vendored here, none of which ships a maintained UI
 * framework or virtual-table component in a browser build. The charts are Chart.js (vendored,
 * static/SOURCES.md); this file only routes between views, fetches the JSON API, builds HTML and
 * renders the calls table's visible rows (a virtual list: 20,000 rows stay fast because only the
 * ~40 on screen exist in the DOM, fetched from the server page by page).
 */
"use strict";

const TOKEN = new URLSearchParams(location.search).get("token") || "";
const $main = () => document.getElementById("main");
const charts = [];
let state = { version: 0 };
let renderedVersion = -1;

function esc(v) {
  return String(v ?? "").replace(/[&<>"']/g, (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" }[c]));
}
function num(v, digits) {
  if (v === null || v === undefined) return "—";
  if (digits !== undefined) return Number(v).toFixed(digits);
  return Number(v).toLocaleString("en-US");
}
function secs(v) { return v === null || v === undefined ? "—" : `${Number(v).toFixed(3)}s`; }
function callNo(row) { return `#${row + 1}`; }
// Dollars (docs/metrics.md, Cost): small calls keep their digits; unknown is never shown as $0.
function usd(v) {
  if (v === null || v === undefined) return "—";
  return v >= 1 ? `$${v.toFixed(2)}` : v >= 0.01 ? `$${v.toFixed(4)}` : `$${v.toFixed(6)}`;
}
// A call's cost: "unpriced" for a model call with usage whose model has no price.
function callCost(r) {
  if (r.cost_usd != null) return usd(r.cost_usd);
  return r.is_model_call && r.input_total != null && r.output_total != null ? `<span class="muted">unpriced</span>` : "—";
}

async function api(path, params) {
  // A page written by `fastcap report --html` answers from its embedded data (embedded.js).
  if (typeof fastcapEmbedded === "function") return fastcapEmbedded(path, params);
  const q = new URLSearchParams(params || {});
  q.set("token", TOKEN);
  const res = await fetch(`${path}?${q}`, { headers: { "X-Fastcap-Token": TOKEN } });
  if (res.status === 503) return null; // still loading
  const body = await res.json();
  if (!res.ok) throw new Error(body.error || res.statusText);
  return body;
}

function destroyCharts() {
  while (charts.length) charts.pop().destroy();
}

function chart(canvas, config) {
  config.options = Object.assign(
    { animation: false, responsive: true, maintainAspectRatio: false, parsing: false, normalized: true,
      interaction: { mode: "nearest", intersect: true }, plugins: { legend: { labels: { boxWidth: 10 } } } },
    config.options || {},
  );
  const c = new Chart(canvas, config);
  charts.push(c);
  return c;
}

function parseHash() {
  const h = location.hash.replace(/^#\/?/, "");
  const [path, query] = h.split("?");
  const parts = path.split("/").filter(Boolean).map(decodeURIComponent);
  return { view: parts[0] || "overview", arg: parts[1], params: new URLSearchParams(query || "") };
}

async function route() {
  const r = parseHash();
  document.querySelectorAll("[data-nav]").forEach((a) => {
    a.classList.toggle("active", a.dataset.nav === r.view || (r.view === "call" && a.dataset.nav === "calls")
      || ((r.view === "conv" || r.view === "diff") && a.dataset.nav === "conversations"));
  });
  if (!state.ready) {
    const pct = state.loading && state.progress ? ` ${Math.round(100 * state.progress)}%` : "";
    $main().innerHTML = `<p class="muted" id="loading">Reading ${esc((state.sources || []).join(", "))}…${pct}</p>`;
    return;
  }
  destroyCharts();
  renderedVersion = state.version;
  try {
    if (r.view === "calls") await viewCalls(r.params);
    else if (r.view === "call") await viewCall(Number(r.arg));
    else if (r.view === "conversations") await viewConversations();
    else if (r.view === "conv") await viewConversation(r.arg);
    else if (r.view === "diff") await viewDiff(Number(r.arg), r.params.get("prev"));
    else await viewOverview();
  } catch (e) {
    $main().innerHTML = `<p class="err-text">${esc(e.message)}</p>`;
  }
}

/* ---- live state ------------------------------------------------------------------------------ */

async function poll() {
  try {
    const s = await api("/api/state");
    const first = !state.ready && s.ready;
    const changed = s.ready && s.version !== state.version;
    state = s;
    const busy = s.loading || (s.search && s.search.building);
    const search = s.search && s.search.building ? ` · search index ${s.search.indexed}/${s.search.total}` : "";
    document.getElementById("sources").textContent = s.sources.join(", ");
    document.getElementById("status").innerHTML =
      `<span class="dot ${busy ? "busy" : ""}"></span>${s.live ? "live · " : ""}${num(s.calls)} calls` +
      `${s.loading ? ` · reading ${Math.round(100 * (s.progress || 0))}%` : ""}${search}${s.error ? ` · <span class="err-text">${esc(s.error)}</span>` : ""}` +
      `${s.redacted ? "" : " · NOT REDACTED"}`;
    if (first || (changed && renderedVersion !== s.version)) await refresh(first);
    else if (!s.ready) await route(); // the first read's progress
  } catch (e) {
    document.getElementById("status").textContent = `server unreachable (${e.message})`;
  }
  setTimeout(poll, 1200);
}

async function refresh(first) {
  const r = parseHash();
  if (!first && r.view === "calls" && table) {
    renderedVersion = state.version;
    await table.reload(); // keep the scroll position and filters
    return;
  }
  if (!first && (r.view === "call" || r.view === "diff")) {
    renderedVersion = state.version; // a call's page does not change when others are appended
    return;
  }
  await route();
}

/* ---- overview -------------------------------------------------------------------------------- */

function counts(obj) {
  return Object.entries(obj || {}).map(([k, v]) => `<span class="pill">${esc(k)} ×${num(v)}</span>`).join(" ");
}

async function viewOverview() {
  const ov = await api("/api/overview");
  if (!ov) return;
  const tk = ov.tokens || {};
  const timing = ov.timing || {};
  const trow = (name, t) =>
    `<tr><td>${name}</td>${["p50", "p90", "p99", "max"].map((k) => `<td class="n">${secs(t[k])}</td>`).join("")}<td class="n">${num(t.n)}</td></tr>`;
  const groups = {};
  for (const i of ov.issues || []) (groups[i.kind] = groups[i.kind] || []).push(i);
  const issues = Object.entries(ov.issue_counts || {}).map(([kind, n]) =>
    `<tr><td><a href="#/calls?issue=${encodeURIComponent(kind)}"><span class="pill bad">${esc(kind)}</span></a></td><td class="n">${num(n)}</td>
     <td>${esc(ov.issue_labels[kind] || "")}<br>${(groups[kind] || []).slice(0, 3).map((i) =>
       `<a href="#/call/${i.call}">${esc(i.text)}</a>`).join("<br>")}</td></tr>`).join("");
  const cost = ov.cost;
  const costNote = cost ? [cost.unpriced_calls ? `${num(cost.unpriced_calls)} unpriced (${Object.keys(cost.unpriced_models).map(esc).join(", ")})` : "",
    cost.unknown_usage_calls ? `${num(cost.unknown_usage_calls)} without usage` : "", esc(cost.prices)].filter(Boolean).join(" · ") : "";
  $main().innerHTML = `
    <h1>${esc(ov.source)} <span class="muted">(${esc(ov.format)})</span></h1>
    <div class="cards">
      <div class="card"><div class="k">calls</div><div class="v">${num(ov.calls)}</div><div class="muted">${num(ov.model_calls)} model calls</div></div>
      <div class="card"><div class="k">conversations</div><div class="v">${num(ov.conversations)}</div><div class="muted">${num(ov.agents)} sub-agents</div></div>
      <div class="card"><div class="k">capture span</div><div class="v">${ov.capture_duration_s == null ? "—" : num(ov.capture_duration_s, 1) + "s"}</div></div>
      <div class="card"><div class="k">input tokens</div><div class="v">${num(tk.input_total)}</div>
        <div class="muted">${num(tk.input_uncached)} uncached · ${num(tk.cache_read)} cache read · ${num(tk.cache_write)} cache write</div></div>
      <div class="card"><div class="k">output tokens</div><div class="v">${num(tk.output_total)}</div><div class="muted">${num(tk.reasoning_tokens)} reasoning</div></div>
      ${cost ? `<div class="card" id="cost-card"><div class="k">cost (list prices)</div><div class="v">${usd(cost.total_usd)}</div>
        <div class="muted">${num(cost.priced_calls)} priced · ${costNote}</div></div>` : ""}
      ${ov.quota ? `<div class="card" id="quota-card"><div class="k">lowest rate-limit headroom</div>
        <div class="v">${ov.quota.lowest_headroom_pct == null ? "—" : num(ov.quota.lowest_headroom_pct, 1) + "%"}</div>
        <div class="muted">${ov.quota.window ? `${esc(ov.quota.window)}${ov.quota.call != null ? ` · <a href="#/call/${ov.quota.call}">${callNo(ov.quota.call)}</a>` : ""} · ` : ""}${num(ov.quota.calls_with_headers)} responses with headers</div></div>` : ""}
      <div class="card"><div class="k">issues</div><div class="v">${num(ov.issue_total)}</div><div class="muted">${Object.keys(ov.issue_counts || {}).length} classes</div></div>
    </div>
    <div class="grid2">
      <div class="panel"><h3>Models</h3>${counts(ov.models)}<h3>APIs</h3>${counts(ov.apis)}<h3>Status</h3>${counts(ov.statuses)}</div>
      <div class="panel"><h3>Timing (model calls)</h3>
        <table class="t"><tr><th></th><th class="n">p50</th><th class="n">p90</th><th class="n">p99</th><th class="n">max</th><th class="n">n</th></tr>
        ${trow("TTFB", timing.ttfb_s || {})}${trow("TTFT", timing.ttft_s || {})}${trow("Duration", timing.duration_s || {})}</table>
        ${(ov.notes || []).map((n) => `<p class="muted">${esc(n)}</p>`).join("")}
        ${(ov.warnings || []).map((n) => `<p class="err-text">${esc(n)}</p>`).join("")}</div>
    </div>
    <h2>Over time</h2>
    <div class="grid2">
      <div class="panel"><h3>TTFT and duration per call</h3><div class="chart"><canvas id="c-timing"></canvas></div></div>
      <div class="panel"><h3>Tokens per call and cumulative</h3><div class="chart"><canvas id="c-tokens"></canvas></div></div>
      <div class="panel"><h3>Cost per call and cumulative</h3><div class="chart"><canvas id="c-cost"></canvas></div></div>
      ${ov.quota ? `<div class="panel"><h3>Rate-limit use per call</h3><div class="chart"><canvas id="c-quota"></canvas></div></div>` : ""}
      <div class="panel"><h3>Errors and 429s</h3><div class="chart"><canvas id="c-errors"></canvas></div></div>
      <div class="panel"><h3>Context per call against the model's window</h3><div class="chart"><canvas id="c-context"></canvas></div></div>
    </div>
    <h2>Issues by class</h2>
    ${issues ? `<table class="t"><tr><th>class</th><th class="n">calls</th><th>meaning and examples</th></tr>${issues}</table>` : `<p class="muted">No issues.</p>`}`;
  if (ov.charts) overviewCharts(ov.charts);
}

function points(xs, ys) {
  const out = [];
  for (let i = 0; i < xs.length; i++) if (ys[i] !== null && ys[i] !== undefined && xs[i] !== null) out.push({ x: xs[i], y: ys[i], i });
  return out.sort((a, b) => a.x - b.x); // Chart.js decimation needs x in order
}

function overviewCharts(c) {
  const n = c.x.length;
  const r = n > 5000 ? 1 : n > 500 ? 2 : 3;
  const xAxis = { type: "linear", title: { display: true, text: c.x_label } };
  const open = (ch) => (evt, els) => {
    if (!els.length) return;
    const p = ch().data.datasets[els[0].datasetIndex].data[els[0].index];
    if (p && p.i !== undefined) location.hash = `#/call/${c.row[p.i]}`;
  };
  // Point clouds as line datasets without lines, so that Chart.js's min-max decimation keeps
  // large captures fast (per pixel column, the extremes are kept: outliers stay visible).
  const scatter = (label, ys, color, extra) => Object.assign({ type: "line", showLine: false, label, data: points(c.x, ys),
    pointRadius: r, borderColor: color, backgroundColor: color }, extra || {});
  const decimation = { decimation: { enabled: n > 2000, algorithm: "min-max" }, legend: { labels: { boxWidth: 10 } } };
  let t1;
  t1 = chart(document.getElementById("c-timing"), {
    type: "scatter",
    data: { datasets: [scatter("TTFT (s)", c.ttft, "#2f6fdf"), scatter("duration (s)", c.duration, "#e07b39")] },
    options: { plugins: decimation, scales: { x: xAxis, y: { title: { display: true, text: "seconds" } } }, onClick: open(() => t1) },
  });
  let t2;
  t2 = chart(document.getElementById("c-tokens"), {
    type: "scatter",
    data: { datasets: [
      scatter("input (total)", c.input, "#2f6fdf"),
      scatter("output", c.output, "#2b8a3e"),
      scatter("cache read", c.cache_read, "#9aa3b5"),
      { type: "line", label: "cumulative input", data: points(c.x, c.cum_input), yAxisID: "y2", borderColor: "#5b7fc7", pointRadius: 0, borderWidth: 1.5 },
      { type: "line", label: "cumulative output", data: points(c.x, c.cum_output), yAxisID: "y2", borderColor: "#58b072", pointRadius: 0, borderWidth: 1.5 },
    ] },
    options: { plugins: decimation, scales: { x: xAxis, y: { title: { display: true, text: "tokens per call" } },
      y2: { position: "right", grid: { drawOnChartArea: false }, title: { display: true, text: "cumulative" } } }, onClick: open(() => t2) },
  });
  let t3;
  t3 = chart(document.getElementById("c-cost"), {
    type: "scatter",
    data: { datasets: [
      scatter("cost per call (USD)", c.cost, "#8a4fd0"),
      { type: "line", label: "cumulative (priced calls)", data: points(c.x, c.cum_cost), yAxisID: "y2", borderColor: "#b07cd8", pointRadius: 0, borderWidth: 1.5 },
    ] },
    options: { plugins: decimation, scales: { x: xAxis, y: { beginAtZero: true, title: { display: true, text: "USD per call" } },
      y2: { position: "right", beginAtZero: true, grid: { drawOnChartArea: false }, title: { display: true, text: "cumulative USD" } } }, onClick: open(() => t3) },
  });
  const quotaCanvas = document.getElementById("c-quota");
  if (quotaCanvas) {
    // One point cloud per window (tokens, requests, unified 5h, codex primary, …), the limit at 100 %.
    const names = [...new Set(c.quota_window.filter((w) => w != null))].slice(0, 8);
    const colors = ["#c9362b", "#2f6fdf", "#c98a0b", "#2b8a3e", "#8a4fd0", "#0b8a8a", "#e07b39", "#5b7fc7"];
    const qx = points(c.x, c.quota_used).map((p) => p.x);
    let t5;
    t5 = chart(quotaCanvas, {
      type: "scatter",
      data: { datasets: [
        ...names.map((w, k) => scatter(`${w} (% used)`, c.quota_used.map((v, i) => (c.quota_window[i] === w ? v : null)), colors[k])),
        { type: "line", label: "the limit (100 %)", data: qx.length ? [{ x: qx[0], y: 100 }, { x: qx[qx.length - 1], y: 100 }] : [],
          borderColor: "#9aa3b5", borderWidth: 1.5, pointRadius: 0 },
      ] },
      options: { plugins: decimation, scales: { x: xAxis, y: { beginAtZero: true, suggestedMax: 100, title: { display: true, text: "% of the window used" } } },
        onClick: open(() => t5) },
    });
  }
  const e = c.errors;
  chart(document.getElementById("c-errors"), {
    type: "bar",
    data: { datasets: [
      { label: "HTTP 429 / rate limited", data: e.edges.map((x, i) => ({ x, y: e.rate_limited[i] })), backgroundColor: "#c98a0b", stack: "s" },
      { label: "other errors", data: e.edges.map((x, i) => ({ x, y: e.errors[i] })), backgroundColor: "#c9362b", stack: "s" },
      { type: "line", label: "all calls", data: e.edges.map((x, i) => ({ x, y: e.calls[i] })), borderColor: "#9aa3b5", pointRadius: 0, borderWidth: 1 },
    ] },
    options: { scales: { x: { type: "linear", title: { display: true, text: c.x_label }, stacked: true },
      y: { stacked: true, beginAtZero: true, title: { display: true, text: "calls per bin" } } } },
  });
  // The prompt against its own model's window: as a share, so that calls of models with
  // different windows (200k, 400k, 1M) share one scale; the window itself is the 100 % line.
  const pct = c.input.map((v, i) => (v != null && c.window[i] ? (100 * v) / c.window[i] : null));
  const xs = points(c.x, pct).map((p) => p.x);
  const lo = xs.length ? xs[0] : 0;
  const hi = xs.length ? xs[xs.length - 1] : 1;
  let t4;
  t4 = chart(document.getElementById("c-context"), {
    type: "scatter",
    data: { datasets: [
      scatter("prompt (input total) as % of the model's context window", pct, "#2f6fdf"),
      { type: "line", label: "the window (100 %)", data: [{ x: lo, y: 100 }, { x: hi, y: 100 }], borderColor: "#c9362b",
        borderWidth: 1.5, pointRadius: 0 },
    ] },
    options: { plugins: decimation, scales: { x: xAxis, y: { beginAtZero: true, suggestedMax: 100, title: { display: true, text: "% of the context window" } } },
      onClick: open(() => t4) },
  });
}

/* ---- calls table ------------------------------------------------------------------------------ */

const COLUMNS = [
  ["row", "#", "72px", (r) => callNo(r.row), "n"],
  ["t", "t (s)", "84px", (r) => (r.t == null ? "—" : num(r.t, 1)), "n"],
  ["api_name", "API", "minmax(120px,1.3fr)", (r) => esc(r.api_name)],
  ["model", "model", "minmax(110px,1.2fr)", (r) => esc(r.model ?? "—")],
  ["status", "status", "62px", (r) => esc(r.status ?? "—"), "n"],
  ["ttfb_s", "TTFB", "64px", (r) => (r.ttfb_s == null ? "—" : num(r.ttfb_s, 2)), "n"],
  ["ttft_s", "TTFT", "64px", (r) => (r.ttft_s == null ? "—" : num(r.ttft_s, 2)), "n"],
  ["duration_s", "dur", "64px", (r) => (r.duration_s == null ? "—" : num(r.duration_s, 2)), "n"],
  ["input_total", "input", "78px", (r) => num(r.input_total), "n"],
  ["cache_read", "cache rd", "78px", (r) => num(r.cache_read), "n"],
  ["output_total", "output", "66px", (r) => num(r.output_total), "n"],
  ["cost_usd", "cost", "94px", callCost, "n"],
  ["ratelimit_used_pct", "quota", "64px", (r) => (r.ratelimit_used_pct == null ? "—" : `<span title="${esc(r.ratelimit_window)}">${num(r.ratelimit_used_pct, 0)}%</span>`), "n"],
  ["tool_calls", "tool calls", "minmax(90px,1fr)", (r) => r.tool_calls.map((t) => `<span class="pill tool">${esc(t)}</span>`).join("")],
  ["stop_reason", "stop", "90px", (r) => esc(r.stop_reason ?? "")],
  ["issues", "issues", "minmax(90px,1fr)", (r) => r.issues.map((t) => `<span class="pill bad">${esc(t)}</span>`).join("")],
  ["conv", "conversation", "minmax(90px,1fr)", (r) => esc(r.conv)],
];
const PAGE = 200;
let table = null;
const scrolls = new Map(); // scroll position of each filtered table, restored on the way back from a call

class CallsTable {
  constructor(el, filters, sort, desc) {
    this.el = el;
    this.filters = filters;
    this.sort = sort;
    this.desc = desc;
    this.pages = new Map();
    this.pending = new Set();
    this.matched = 0;
    this.rowH = 26;
    this.gen = 0;
    el.style.setProperty("--cols", COLUMNS.map((c) => c[2]).join(" "));
    el.innerHTML = `<div class="row head">${COLUMNS.map((c) => `<span data-col="${c[0]}" class="${c[4] || ""}">${c[1]}</span>`).join("")}</div>
      <div class="scroll"><div class="spacer"><div class="rows"></div></div></div>`;
    this.scroll = el.querySelector(".scroll");
    this.spacer = el.querySelector(".spacer");
    this.rows = el.querySelector(".rows");
    this.scroll.addEventListener("scroll", () => { scrolls.set(location.hash, this.scroll.scrollTop); this.render(); });
    el.querySelector(".head").addEventListener("click", (e) => {
      const col = e.target.dataset.col;
      if (!col || col === "tool_calls" || col === "issues") return;
      if (this.sort === col) this.desc = !this.desc; else { this.sort = col; this.desc = col !== "row" && col !== "t"; }
      updateHash({ sort: this.sort, desc: this.desc ? "1" : "" });
    });
    this.rows.addEventListener("click", (e) => {
      const row = e.target.closest(".row");
      if (row && row.dataset.row) location.hash = `#/call/${row.dataset.row}`;
    });
    this.markSort();
  }
  markSort() {
    this.el.querySelectorAll(".head span").forEach((s) => {
      s.classList.toggle("sorted", s.dataset.col === this.sort);
      s.classList.toggle("asc", s.dataset.col === this.sort && !this.desc);
    });
  }
  params(offset) {
    const p = Object.assign({}, this.filters, { offset, limit: PAGE });
    if (this.sort) p.sort = this.sort;
    if (this.desc) p.desc = "1";
    return p;
  }
  async reload() {
    this.gen++;
    this.pages.clear();
    this.pending.clear();
    await this.fetchPage(Math.floor(this.scroll.scrollTop / this.rowH / PAGE));
  }
  async fetchPage(n) {
    if (this.pages.has(n) || this.pending.has(n)) return;
    const gen = this.gen;
    this.pending.add(n);
    const res = await api("/api/calls", this.params(n * PAGE));
    if (gen !== this.gen || !res) return;
    this.pending.delete(n);
    this.pages.set(n, res.rows);
    this.matched = res.matched;
    this.total = res.total;
    document.getElementById("matched").textContent = `${num(res.matched)} of ${num(res.total)} calls`;
    this.spacer.style.height = `${res.matched * this.rowH}px`;
    this.render();
  }
  render() {
    const first = Math.floor(this.scroll.scrollTop / this.rowH);
    const count = Math.ceil(this.scroll.clientHeight / this.rowH) + 10;
    const last = Math.min(this.matched, first + count);
    let html = "";
    for (let i = first; i < last; i++) {
      const page = this.pages.get(Math.floor(i / PAGE));
      if (!page) { this.fetchPage(Math.floor(i / PAGE)); html += `<div class="row"><span class="muted">…</span></div>`; continue; }
      const r = page[i % PAGE];
      if (!r) continue;
      const bad = r.issues.some((i) => i !== "slow_gap") || (r.status !== null && r.status >= 400);
      html += `<div class="row${bad ? " err" : ""}" data-row="${r.row}">${COLUMNS.map((c) => `<span class="${c[4] || ""}">${c[3](r)}</span>`).join("")}</div>`;
    }
    this.rows.style.top = `${first * this.rowH}px`;
    this.rows.innerHTML = html;
    this.el.dataset.ready = "1";
  }
}

function updateHash(changes) {
  const r = parseHash();
  for (const [k, v] of Object.entries(changes)) { if (v === "" || v === null || v === undefined) r.params.delete(k); else r.params.set(k, v); }
  location.hash = `#/calls?${r.params}`;
}

function options(values, selected, all) {
  return `<option value="">${all}</option>` + values.map(([v, n]) =>
    `<option value="${esc(v)}" ${v === selected ? "selected" : ""}>${esc(v)} (${num(n)})</option>`).join("");
}

async function viewCalls(params) {
  const f = await api("/api/facets");
  if (!f) return;
  const get = (k) => params.get(k) || "";
  const statusValues = [["ok", null], ["error", null], ...f.status].map(([v, n]) => [v, n ?? ""]);
  $main().innerHTML = `
    <div class="filters">
      <input type="search" id="f-q" placeholder="${typeof fastcapEmbedded === "function" ? "search models, ids, errors… (the table's columns)" : "search prompts, replies, models, errors…"}" value="${esc(get("q"))}">
      <select id="f-model">${options(f.model, get("model"), "all models")}</select>
      <select id="f-api">${options(f.api, get("api"), "all APIs")}</select>
      <select id="f-status">${options(statusValues, get("status"), "any status").replace(/ \(\)/g, "")}</select>
      <select id="f-issue">${options([["any", ""], ...f.issue], get("issue"), "any or no issue").replace(/ \(\)/g, "")}</select>
      <select id="f-conv">${options(f.conv, get("conv"), "all conversations")}</select>
      ${f.agent.length ? `<select id="f-agent">${options([["(none)", ""], ...f.agent], get("agent"), "all agents").replace(/ \(\)/g, "").replace(">(none)<", ">main agents<")}</select>` : ""}
      <label><input type="checkbox" id="f-model_calls" ${get("model_calls") ? "checked" : ""}> model calls only</label>
      <span id="matched" class="muted"></span>
    </div>
    <div class="vt" id="calls"></div>`;
  const filters = {};
  for (const k of ["q", "model", "api", "status", "issue", "conv", "agent", "model_calls"]) if (get(k)) filters[k] = get(k);
  table = new CallsTable(document.getElementById("calls"), filters, get("sort") || "row", get("desc") === "1");
  for (const k of ["model", "api", "status", "issue", "conv", "agent"]) {
    const el = document.getElementById(`f-${k}`);
    if (el) el.addEventListener("change", (e) => updateHash({ [k]: e.target.value }));
  }
  document.getElementById("f-model_calls").addEventListener("change", (e) => updateHash({ model_calls: e.target.checked ? "1" : "" }));
  let timer;
  const q = document.getElementById("f-q");
  q.addEventListener("input", () => { clearTimeout(timer); timer = setTimeout(() => updateHash({ q: q.value }), 300); });
  const top = scrolls.get(location.hash);
  if (top) { table.spacer.style.height = `${top + table.scroll.clientHeight}px`; table.scroll.scrollTop = top; }
  await table.reload();
  if (get("q")) { q.focus(); q.setSelectionRange(q.value.length, q.value.length); }
}

/* ---- call detail ------------------------------------------------------------------------------ */

function headersTable(h) {
  if (!h || !h.length) return `<p class="muted">(none)</p>`;
  return `<table class="t">${h.map(([k, v]) => `<tr><td>${esc(k)}</td><td>${esc(v)}</td></tr>`).join("")}</table>`;
}
function kv(pairs) {
  return `<div class="kv">${pairs.filter((p) => p[1] !== null && p[1] !== undefined && p[1] !== "")
    .map(([k, v]) => `<span class="k">${esc(k)}</span><span>${v}</span>`).join("")}</div>`;
}
function json(v) { return esc(JSON.stringify(v, null, 2)); }

async function viewCall(row) {
  const d = await api(`/api/call/${row}`);
  if (!d) return;
  const r = d.row;
  const req = d.request;
  const resp = d.response;
  const t = d.timing;
  const usage = resp && resp.usage;
  const window = r.window ? ` of ${num(r.window)} (${((100 * (r.input_total || 0)) / r.window).toFixed(1)}%)` : "";
  const messages = req ? req.messages.map((m, i) => `<div class="msg ${esc(m.role)}"><details ${i >= req.messages.length - 2 ? "open" : ""}>
      <summary><b>${esc(m.role)}</b> <span class="muted">${esc(m.type)} · ${num(m.chars)} chars</span></summary>
      <pre>${esc(m.text)}${m.cut ? "\n… (cut here)" : ""}</pre></details></div>`).join("") : "";
  const tools = resp ? resp.tool_calls.map((tc) => `<div class="msg tool"><b>${esc(tc.name)}</b> <span class="muted">${esc(tc.id ?? "")}${tc.incomplete ? " · incomplete" : ""}</span>
      <pre class="toolargs">${typeof tc.arguments === "string" ? esc(tc.arguments) : json(tc.arguments)}</pre></div>`).join("") : "";
  $main().innerHTML = `
    <div class="navline">
      ${row > 0 ? `<a href="#/call/${row - 1}">← ${callNo(row - 1)}</a>` : ""}
      <a href="#/call/${row + 1}">${callNo(row + 1)} →</a>
      <a href="#/diff/${row}">diff with the previous request</a>
      <a href="#/conv/${encodeURIComponent(r.conv)}">conversation</a>
    </div>
    <h1>${callNo(row)} ${esc(d.api)} <span class="muted">${esc(r.model ?? "")}</span>
      ${r.issues.map((i) => `<span class="pill bad">${esc(i)}</span>`).join("")}</h1>
    ${d.problem ? `<p class="err-text">${esc(d.problem)}</p>` : ""}
    <div class="cards">
      <div class="card"><div class="k">status</div><div class="v">${esc(d.status ?? "—")}</div><div class="muted">${esc(d.reason || "")}</div></div>
      <div class="card"><div class="k">TTFB</div><div class="v">${secs(t.ttfb)}</div></div>
      <div class="card"><div class="k">TTFT</div><div class="v">${secs(t.ttft)}</div></div>
      <div class="card"><div class="k">duration</div><div class="v">${secs(t.duration)}</div></div>
      <div class="card"><div class="k">input</div><div class="v">${num(r.input_total)}</div><div class="muted">${num(r.cache_read)} cache read · ${num(r.cache_write)} write${window}</div></div>
      <div class="card"><div class="k">output</div><div class="v">${num(r.output_total)}</div><div class="muted">${num(r.reasoning_tokens)} reasoning</div></div>
      <div class="card"><div class="k">cost</div><div class="v">${callCost(r)}</div><div class="muted">${r.price_model ? `priced as ${esc(r.price_model)}` : ""}${r.cache_write_1h ? ` · ${num(r.cache_write_1h)} 1-hour cache write` : ""}</div></div>
      ${r.ratelimit_headers ? `<div class="card"><div class="k">rate limit</div><div class="v">${r.ratelimit_used_pct == null ? "—" : num(r.ratelimit_used_pct, 1) + "% used"}</div>
        <div class="muted">${esc(r.ratelimit_window ?? "")}${r.ratelimit_status ? ` · ${esc(r.ratelimit_status)}` : ""}${r.ratelimit_requests_remaining != null ? ` · ${num(r.ratelimit_requests_remaining)} requests left` : ""}${r.ratelimit_tokens_remaining != null ? ` · ${num(r.ratelimit_tokens_remaining)} tokens left` : ""}</div></div>` : ""}
    </div>
    <h2>Timing <span class="muted">${num(t.chunks.length)} chunks${t.longest_gap != null ? ` · longest gap ${secs(t.longest_gap)}` : ""}</span></h2>
    ${t.chunks.length ? `<div class="panel"><div class="strip"><canvas id="c-strip"></canvas></div></div>`
      : `<p class="muted">No chunk arrival times in this source (docs/metrics.md: TTFT needs them).</p>`}
    <h2>Request</h2>
    <pre>${esc(d.method)} ${esc(d.url)}</pre>
    ${req ? kv([["model", esc(req.model)], ["stream", esc(req.stream)], ["thinking", esc(req.thinking ?? (req.thinking_enabled ? "on" : "off"))],
      ["max tokens", num(req.max_tokens)], ["betas", esc((req.betas || []).join(", "))], ["turn", esc(req.turn_kind)],
      ["history", num(req.history_length)], ["conversation", esc(r.conv)], ["agent", esc(r.agent_id)], ["parent agent", esc(r.parent_agent_id)],
      ["body", `${num(d.request_bytes)} bytes (${esc(d.request_body_fidelity)})`]]) : ""}
    ${req && Object.keys(req.config || {}).length ? `<details><summary>settings</summary><pre>${json(req.config)}</pre></details>` : ""}
    ${req ? `<h3>System prompt <span class="muted">${num(req.system_chars)} chars</span></h3>
      ${req.system ? `<details ${req.system_chars <= 4000 ? "open" : ""}><summary>show</summary><pre id="system">${esc(req.system)}</pre></details>` : `<p class="muted">(none)</p>`}
      <h3>Tools offered <span class="muted">${req.tools.length}</span></h3>${req.tools.map((x) => `<span class="pill">${esc(x.name)}</span>`).join(" ") || `<p class="muted">(none)</p>`}
      <h3>Messages <span class="muted">${req.messages.length}</span></h3>${messages}` : ""}
    <details><summary>request headers</summary>${headersTable(d.request_headers)}</details>
    <h2>Response</h2>
    ${d.error ? `<p class="err-text">transport: ${esc(d.error)}</p>` : ""}
    ${resp ? kv([["kind", esc(resp.kind)], ["stop reason", esc(resp.stop_reason ?? "—")], ["complete", esc(resp.complete)],
      ["events", num(resp.events)], ["body", `${num(d.response_bytes)} bytes (${esc(d.response_body_fidelity)})`]]) : ""}
    ${resp && resp.errors.length ? `<h3>Errors</h3>${resp.errors.map((e) => `<p class="err-text">${esc(e.type ?? "error")}: ${esc(e.message ?? "")} <span class="muted">(${esc(e.source)})</span></p>`).join("")}` : ""}
    ${resp && resp.notes.length ? resp.notes.map((n) => `<p class="muted">${esc(n)}</p>`).join("") : ""}
    ${usage ? `<h3>Usage</h3><table class="t"><tr>${["input total", "uncached", "cache read", "cache write", "output", "reasoning"].map((h) => `<th class="n">${h}</th>`).join("")}</tr>
      <tr>${["input_total", "input_uncached", "cache_read", "cache_write", "output_total", "reasoning"].map((k) => `<td class="n">${num(usage[k])}</td>`).join("")}</tr></table>` : ""}
    ${resp && resp.reasoning ? `<h3>Thinking</h3><pre id="reasoning">${esc(resp.reasoning)}</pre>` : ""}
    ${resp ? `<h3>Text</h3>${resp.text ? `<pre id="reply">${esc(resp.text)}</pre>` : `<p class="muted">(no text)</p>`}` : ""}
    ${resp && resp.refusal ? `<h3>Refusal</h3><pre>${esc(resp.refusal)}</pre>` : ""}
    ${tools ? `<h3>Tool calls</h3><div id="toolcalls">${tools}</div>` : ""}
    <details><summary>response headers</summary>${headersTable(d.response_headers)}</details>`;
  if (t.chunks.length) timingStrip(t);
}

function timingStrip(t) {
  const pts = t.chunks.map(([x, y]) => ({ x, y }));
  const top = Math.max(1, ...t.chunks.map((c) => c[1]));
  const mark = (label, x, color) => (x == null ? null : { type: "line", label: `${label} ${secs(x)}`, data: [{ x, y: 0 }, { x, y: top }],
    borderColor: color, borderWidth: 2, pointRadius: 0 });
  const sets = [{ type: "scatter", label: "chunk arrivals (bytes)", data: pts, pointRadius: 2, borderColor: "#2f6fdf", backgroundColor: "#2f6fdf" },
    mark("TTFB", t.ttfb, "#c98a0b"), mark("TTFT", t.ttft, "#2b8a3e"), mark("end", t.end, "#9aa3b5")].filter(Boolean);
  chart(document.getElementById("c-strip"), {
    type: "scatter",
    data: { datasets: sets },
    options: { scales: { x: { type: "linear", min: 0, title: { display: true, text: "seconds after the request was sent" } },
      y: { beginAtZero: true, title: { display: true, text: "bytes" } } } },
  });
}

/* ---- conversations ---------------------------------------------------------------------------- */

async function viewConversations() {
  const list = await api("/api/conversations");
  if (!list) return;
  $main().innerHTML = `<h1>Conversations <span class="muted">${list.length}</span></h1>
    <table class="t" id="convs"><tr><th>conversation</th><th class="n">calls</th><th class="n">start (s)</th><th class="n">end (s)</th><th>models</th>
      <th class="n">sub-agents</th><th class="n">max prompt</th><th class="n">output</th><th class="n">cost</th><th class="n">issues</th><th></th></tr>
    ${list.map((c) => `<tr><td><a href="#/conv/${encodeURIComponent(c.conv)}">${esc(c.conv)}</a></td><td class="n">${num(c.calls)}</td>
      <td class="n">${c.start == null ? "—" : num(c.start, 1)}</td><td class="n">${c.end == null ? "—" : num(c.end, 1)}</td>
      <td>${c.models.map((m) => `<span class="pill">${esc(m)}</span>`).join("")}</td><td class="n">${num(c.agents)}</td>
      <td class="n">${num(c.input_max)}</td><td class="n">${num(c.output)}</td><td class="n">${usd(c.cost_usd)}</td><td class="n">${num(c.issues)}</td>
      <td><a href="#/calls?conv=${encodeURIComponent(c.conv)}">in the table</a></td></tr>`).join("")}</table>`;
}

async function viewConversation(id) {
  const c = await api("/api/conversation", { id });
  if (!c) return;
  const max = Math.max(1, ...c.agents.flatMap((a) => a.calls.map((x) => x.input_total || 0)));
  const agent = (a) => `<div class="agent ${a.agent_id ? "sub" : ""}">
    <h3>${a.agent_id ? `sub-agent ${esc(a.agent_id)}` : "main agent"} <span class="muted">${a.calls.length} calls
      ${a.parent_agent_id ? ` · parent ${esc(a.parent_agent_id)}` : ""}${a.started_by != null ? ` · started by <a href="#/call/${a.started_by}">${callNo(a.started_by)}</a>` : ""}
      · <a href="#/calls?conv=${encodeURIComponent(c.conv)}&agent=${encodeURIComponent(a.agent_id || "(none)")}">in the table</a></span></h3>
    <table class="t"><tr><th class="n">call</th><th class="n">t (s)</th><th>model</th><th>prompt tokens</th><th class="n">output</th><th>tool calls</th><th>issues</th><th></th></tr>
    ${a.calls.map((x) => `<tr><td class="n"><a href="#/call/${x.row}">${callNo(x.row)}</a></td><td class="n">${x.t == null ? "—" : num(x.t, 1)}</td>
      <td>${esc(x.model ?? "—")}</td>
      <td><span class="bar ${x.shrink ? "shrink" : ""}" style="width:${Math.round((160 * (x.input_total || 0)) / max)}px"></span> ${num(x.input_total)}
        ${x.shrink ? `<span class="pill warn">history shrank from ${num(x.prev_input)}</span>` : ""}</td>
      <td class="n">${num(x.output_total)}</td><td>${x.tool_calls.map((t) => `<span class="pill tool">${esc(t)}</span>`).join("")}</td>
      <td>${x.issues.map((t) => `<span class="pill bad">${esc(t)}</span>`).join("")}</td>
      <td>${x.prev_row != null ? `<a href="#/diff/${x.row}">diff</a>` : ""}</td></tr>`).join("")}</table></div>`;
  $main().innerHTML = `<h1>Conversation ${esc(c.conv)}</h1>${c.agents.map(agent).join("")}`;
}

/* ---- diff ------------------------------------------------------------------------------------- */

function diffLines(lines) {
  return `<pre>${lines.map((l) => {
    const cls = l.startsWith("@@") ? "hunk" : l.startsWith("+") && !l.startsWith("+++") ? "add" : l.startsWith("-") && !l.startsWith("---") ? "del" : "";
    return `<span class="${cls}">${esc(l) || " "}</span>`;
  }).join("")}</pre>`;
}

async function viewDiff(row, prev) {
  const res = await api(`/api/diff/${row}`, prev ? { prev } : {});
  if (!res) return;
  if (!res.diff) {
    $main().innerHTML = `<h1>${callNo(row)}</h1><p class="muted">No earlier request in this conversation and agent to compare with.</p>`;
    return;
  }
  const d = res.diff;
  const msg = (m, cls) => `<div class="msg ${esc(m.role)} ${cls}"><b>${esc(m.role)}</b> <span class="muted">#${m.index + 1} ${esc(m.type)} · ${num(m.chars)} chars</span><pre>${esc(m.text)}</pre></div>`;
  const ops = d.messages.ops.map((o) => o.op === "edit"
    ? `<h3>edited</h3>${o.diffs.map(diffLines).join("")}`
    : `${o.removed.length ? `<h3>removed ${o.removed.length}</h3>${o.removed.map((m) => msg(m, "del")).join("")}` : ""}
       ${o.added.length ? `<h3>added ${o.added.length}</h3>${o.added.map((m) => msg(m, "add")).join("")}` : ""}`).join("");
  const settings = Object.entries(d.settings);
  $main().innerHTML = `<div class="diff">
    <div class="navline"><a href="#/call/${res.prev}">${callNo(res.prev)}</a> → <a href="#/call/${row}">${callNo(row)}</a></div>
    <h1>Request ${callNo(row)} against ${callNo(res.prev)}</h1>
    <h2>System prompt <span class="muted">${num(d.system.chars[0])} → ${num(d.system.chars[1])} chars</span></h2>
    <div id="d-system">${d.system.changed ? diffLines(d.system.diff) : `<p class="muted">unchanged</p>`}</div>
    <h2>Tools <span class="muted">${d.tools.count[0]} → ${d.tools.count[1]}</span></h2>
    ${d.tools.added.length || d.tools.removed.length || d.tools.changed.length ? kv([
      ["added", d.tools.added.map((x) => `<span class="pill tool">${esc(x)}</span>`).join("")],
      ["removed", d.tools.removed.map((x) => `<span class="pill bad">${esc(x)}</span>`).join("")],
      ["definition changed", d.tools.changed.map((x) => `<span class="pill warn">${esc(x)}</span>`).join("")]]) : `<p class="muted">unchanged</p>`}
    <h2>Settings</h2>${settings.length ? `<table class="t">${settings.map(([k, [a, b]]) => `<tr><td>${esc(k)}</td><td class="del">${json(a)}</td><td class="add">${json(b)}</td></tr>`).join("")}</table>` : `<p class="muted">unchanged</p>`}
    <h2>Messages <span class="muted">${d.messages.count[0]} → ${d.messages.count[1]}, ${d.messages.unchanged} unchanged</span></h2>
    <div id="d-messages">${ops || `<p class="muted">no change</p>`}</div></div>`;
}

window.addEventListener("hashchange", () => { table = null; route(); });
window.addEventListener("DOMContentLoaded", () => { poll(); });
