/* fastcap view, embedded: the JSON API of server.py answered from data embedded in the page
 * (`fastcap report --html`, view/bundle.py), so that app.js runs from a file without a server.
 *
 * The page carries the overview, the facets, the calls table in columns and the conversations;
 * call detail and diffs only for the calls the report was asked to include. Filters and sorting
 * follow data.py's `filter_expr` and `page`; free-text search reads the table's text columns only
 * (the server's search index over prompts and replies is not in the file).
 */
"use strict";

const FASTCAP_DATA = (() => {
  const el = document.getElementById("fastcap-data");
  return el ? JSON.parse(el.textContent) : null;
})();

const fastcapEmbedded = (() => {
  if (!FASTCAP_DATA) return null;
  const D = FASTCAP_DATA;
  // Columns as bundle.py's `encode_column` wrote them.
  const decode = (col) => {
    if (Array.isArray(col) || col === null || typeof col !== "object") return col;
    if (col.k === "dict") return col.c.map((i) => col.v[i]);
    if (col.k === "bool") return col.c.map((b) => (b === null ? null : !!b));
    if (col.k === "index") return Array.from({ length: col.n }, (_, i) => i);
    return col;
  };
  const table = {};
  for (const c of Object.keys(D.table)) table[c] = decode(D.table[c]);
  // Chart series that repeat a table column are stored as {k: "col", c: column}: its model calls' values.
  const modelCall = (table.is_model_call || []).map(Boolean);
  const ofModelCalls = (c) => table[c].filter((_, i) => modelCall[i]);
  if (D.overview.charts) {
    for (const k of Object.keys(D.overview.charts)) {
      const s = D.overview.charts[k];
      D.overview.charts[k] = s && s.k === "col" ? ofModelCalls(s.c) : decode(s);
    }
  }
  const cols = Object.keys(table);
  const n = cols.length ? table[cols[0]].length : 0;
  const rows = new Array(n);
  for (let i = 0; i < n; i++) {
    const r = {};
    for (const c of cols) r[c] = table[c][i];
    rows[i] = r;
  }
  const included = new Set(D.included);
  const notIncluded = (row) => new Error(`The bodies of call #${row + 1} are not in this file: it includes ` +
    (D.included.length ? D.included.map((r) => `#${r + 1}`).join(", ") : "none") +
    ". Ask for it with `fastcap report --html --html-calls N`.");

  function matches(r, p) {
    const get = (k) => { const v = p.get(k); return v === null || v === "" ? null : v; };
    if (get("model") !== null && r.model !== get("model")) return false;
    if (get("api") !== null && r.api_name !== get("api")) return false;
    const s = get("status");
    if (s !== null) {
      if (s === "none" ? r.status !== null : s === "error" ? !(r.status >= 400) : s === "ok" ? !(r.status !== null && r.status < 400)
        : /^\d+$/.test(s) && r.status !== Number(s)) return false;
    }
    const issue = get("issue");
    if (issue !== null && (issue === "any" ? !r.issues.length : !r.issues.includes(issue))) return false;
    if (get("conv") !== null && r.conv !== get("conv")) return false;
    const agent = get("agent");
    if (agent !== null && (r.agent_id || "") !== (agent === "(none)" ? "" : agent)) return false;
    if (["1", "true"].includes(get("model_calls")) && !r.is_model_call) return false;
    const q = get("q");
    if (q !== null) {
      const needle = q.toLowerCase();
      const hit = D.search_columns.some((c) => r[c] !== null && r[c] !== undefined && String(r[c]).toLowerCase().includes(needle))
        || r.tool_calls.join(" ").toLowerCase().includes(needle);
      if (!hit) return false;
    }
    return true;
  }

  function page(p) {
    let view = rows.filter((r) => matches(r, p));
    const sort = p.get("sort");
    const desc = ["1", "true"].includes(p.get("desc"));
    if (sort && sort !== "row" && sort in table && sort !== "tool_calls" && sort !== "issues") {
      view = view.map((r, i) => [r, i]).sort(([a, i], [b, j]) => {
        const x = a[sort], y = b[sort];
        if (x === null || x === undefined) return y === null || y === undefined ? i - j : 1; // nulls last
        if (y === null || y === undefined) return -1;
        const c = x < y ? -1 : x > y ? 1 : 0;
        return (desc ? -c : c) || i - j;
      }).map(([r]) => r);
    } else if (desc) view.reverse();
    const offset = Math.max(Number(p.get("offset") || 0), 0);
    const limit = Math.max(Math.min(Number(p.get("limit") || 100), 1000), 0);
    return { total: n, matched: view.length, offset, rows: view.slice(offset, offset + limit) };
  }

  function conversation(id) {
    const c = D.conversation[id];
    if (!c) return { conv: id, agents: [] };
    const call = ([row, prev, shrink]) => Object.assign({}, rows[row], {
      row, prev_row: prev, prev_input: prev === null ? null : rows[prev].input_total, shrink: !!shrink });
    return { conv: c.conv, agents: c.agents.map((a) => Object.assign({}, a, { calls: a.calls.map(call) })) };
  }

  return async function api(path, params) {
    const p = new URLSearchParams(params || {});
    if (path === "/api/state") return D.state;
    if (path === "/api/overview") return D.overview;
    if (path === "/api/facets") return D.facets;
    if (path === "/api/calls") return page(p);
    if (path === "/api/conversations") return D.conversations;
    if (path === "/api/conversation") return conversation(p.get("id") || "");
    const m = path.match(/^\/api\/(call|diff)\/(-?\d+)$/);
    if (m) {
      const row = Number(m[2]);
      if (!(row >= 0 && row < n)) throw new Error("no such call");
      if (!included.has(row)) throw notIncluded(row);
      return m[1] === "call" ? D.details[row] : D.diffs[row];
    }
    throw new Error(`not in this file: ${path}`);
  };
})();
