// Headwater's web UI: one page over the server's JSON (/api/..., /get-online-features).
// Every value from the server is set as text (textContent, attributes), never parsed as HTML.
"use strict";

const state = { token: sessionStorage.getItem("headwater-token") || "", scopes: [], registry: null };

function el(tag, attributes = {}, ...children) {
  const node = document.createElement(tag);
  for (const [name, value] of Object.entries(attributes)) node.setAttribute(name, value);
  for (const child of children) {
    node.append(child instanceof Node ? child : document.createTextNode(String(child ?? "")));
  }
  return node;
}

function svg(tag, attributes = {}) {
  const node = document.createElementNS("http://www.w3.org/2000/svg", tag);
  for (const [name, value] of Object.entries(attributes)) node.setAttribute(name, value);
  return node;
}

function showError(message) {
  const box = document.getElementById("error");
  box.textContent = message;
  box.hidden = !message;
}

async function api(path, options = {}) {
  const headers = Object.assign({}, options.headers || {});
  if (state.token) headers.Authorization = "Bearer " + state.token;
  const response = await fetch(path, Object.assign({}, options, { headers }));
  const body = await response.json().catch(() => null);
  if (!response.ok) {
    const detail = body && body.detail ? body.detail : response.statusText;
    const error = new Error(`${path}: ${response.status} ${detail}`);
    error.status = response.status;
    throw error;
  }
  return body;
}

function table(target, header, rows) {
  target.replaceChildren(el("tr", {}, ...header.map((h) => el("th", {}, h))),
                         ...rows.map((row) => el("tr", {}, ...row.map((c) => el("td", {}, c)))));
}

// --- Registry

const KINDS = [["entities", "entity"], ["sources", "data source"], ["feature_views", "feature view"],
               ["on_demand_feature_views", "on-demand view"], ["feature_services", "feature service"]];

function renderRegistry() {
  const query = document.getElementById("search").value.trim().toLowerCase();
  const out = document.getElementById("objects");
  out.replaceChildren();
  for (const [member, label] of KINDS) {
    for (const object of state.registry.registry[member] || []) {
      const tags = Object.entries(object.tags || {});
      const text = [object.name, ...tags.flat()].join(" ").toLowerCase();
      if (query && !text.includes(query)) continue;
      const card = el("div", { class: "card", "data-kind": member, "data-name": object.name },
                      el("h3", {}, object.name, el("span", { class: "kind" }, label)));
      if (object.description) card.append(el("div", {}, object.description));
      if (tags.length) card.append(el("div", {}, ...tags.map(([k, v]) => el("span", { class: "tag" }, `${k}=${v}`))));
      if (object.location) card.append(el("div", { class: "where" }, `${object.location.file}:${object.location.line}`));
      const details = el("details", {}, el("summary", {}, "definition"));
      const shown = Object.assign({}, object);
      delete shown.location;
      details.append(el("pre", {}, JSON.stringify(shown, null, 2)));
      card.append(details);
      out.append(card);
    }
  }
}

// --- Lineage: columns by depth (sources, views, services), edges as curves.

function renderLineage() {
  const { nodes, edges } = state.registry.lineage;
  const depth = new Map(nodes.map((n) => [n.id, 0]));
  for (let pass = 0; pass < nodes.length; ++pass) {
    let moved = false;
    for (const e of edges) {
      if (depth.get(e.to) < depth.get(e.from) + 1) { depth.set(e.to, depth.get(e.from) + 1); moved = true; }
    }
    if (!moved) break;
  }
  // Entities stand just left of the views they key, not with the sources.
  for (const n of nodes) {
    const targets = edges.filter((e) => e.from === n.id).map((e) => depth.get(e.to));
    if (n.kind === "entity" && targets.length) depth.set(n.id, Math.max(0, Math.min(...targets) - 1));
  }
  const columns = [];
  for (const n of nodes) (columns[depth.get(n.id)] ||= []).push(n);
  for (let i = 0; i < columns.length; ++i) columns[i] ||= [];
  const W = 190, H = 34, GX = 70, GY = 16, position = new Map();
  columns.forEach((column, x) => column.forEach((n, y) => position.set(n.id, [20 + x * (W + GX), 20 + y * (H + GY)])));
  const graph = document.getElementById("graph");
  const rows = Math.max(1, ...columns.map((c) => c.length));
  graph.setAttribute("width", 40 + columns.length * (W + GX));
  graph.setAttribute("height", 40 + rows * (H + GY));
  graph.replaceChildren();
  const defs = svg("defs");
  const marker = svg("marker", { id: "arrow", viewBox: "0 0 10 10", refX: "10", refY: "5", markerWidth: "7", markerHeight: "7", orient: "auto" });
  marker.append(svg("path", { d: "M0,0 L10,5 L0,10 z", style: "fill:#7a8899;stroke:none" }));
  defs.append(marker);
  graph.append(defs);
  for (const e of edges) {
    const [x1, y1] = position.get(e.from), [x2, y2] = position.get(e.to);
    const path = svg("path", { d: `M${x1 + W},${y1 + H / 2} C${x1 + W + GX / 2},${y1 + H / 2} ${x2 - GX / 2},${y2 + H / 2} ${x2},${y2 + H / 2}`,
                               "data-from": e.from, "data-to": e.to, class: "edge" });
    graph.append(path);
  }
  for (const n of nodes) {
    const [x, y] = position.get(n.id);
    const g = svg("g", { class: `node ${n.kind}`, "data-id": n.id, transform: `translate(${x},${y})` });
    g.append(svg("rect", { width: W, height: H, rx: 4 }));
    const label = svg("text", { x: 8, y: 21 });
    label.textContent = n.name;
    const title = svg("title");
    title.textContent = `${n.kind}: ${n.name}`;
    g.append(label, title);
    graph.append(g);
  }
}

// --- Freshness

function ago(seconds) {
  if (seconds == null) return "—";
  if (seconds < 120) return `${seconds.toFixed(1)} s`;
  if (seconds < 7200) return `${(seconds / 60).toFixed(1)} min`;
  if (seconds < 172800) return `${(seconds / 3600).toFixed(1)} h`;
  return `${(seconds / 86400).toFixed(1)} d`;
}

async function renderFreshness() {
  const f = await api("/api/freshness");
  table(document.getElementById("views-table"),
        ["view", "kind", "last materialized", "written at", "keys written", "incremental marker", "newest online event", "age"],
        f.feature_views.map((v) => [v.name, v.stream ? "stream" : "batch",
          v.last_materialization ? `${v.last_materialization.start} → ${v.last_materialization.end}` : "never",
          v.last_materialization?.written_at ?? "—", v.last_materialization?.keys_written ?? "—",
          v.incremental_marker ?? "—", v.newest_online_event ?? "—", ago(v.age_seconds)]));
  table(document.getElementById("streams-table"),
        ["source", "views", "events", "rows", "watermark", "lag", "late", "dead letters", "checkpoints", "checkpoint age"],
        f.streams.map((s) => [s.source, s.views.join(", "), s.events, s.rows_emitted, s.watermark ?? "—",
          ago(s.lag_seconds), s.late_events, s.dead_letters, s.checkpoints, ago(s.checkpoint_age_seconds)]));
  document.getElementById("dead-letters").textContent =
    f.streams.flatMap((s) => s.recent_dead_letters.map((d) => JSON.stringify(d))).join("\n") || "none";
}

async function materialize() {
  const out = document.getElementById("materialize-result");
  out.textContent = "materializing…";
  try {
    const result = await api("/materialize-incremental", { method: "POST", headers: { "Content-Type": "application/json" },
                                                           body: JSON.stringify({ end_ts: new Date().toISOString() }) });
    out.textContent = `done: ${JSON.stringify(result)}`;
    await renderFreshness();
  } catch (error) {
    out.textContent = error.message;
  }
}

// --- Live plots from /api/metrics (the server keeps the last hour).

const live = { since: null, data: null, plots: new Map() };

function mergeSeries(update) {
  if (!live.data) { live.data = update; return; }
  const n = live.data.t.length;
  live.data.t.push(...update.t);
  for (const group of ["endpoints", "sources"]) {
    for (const [name, series] of Object.entries(update[group])) {
      const mine = (live.data[group][name] ||= {});
      for (const [key, values] of Object.entries(series)) {
        (mine[key] ||= new Array(n).fill(null)).push(...values);
      }
    }
    for (const series of Object.values(live.data[group])) {
      for (const values of Object.values(series)) while (values.length < live.data.t.length) values.push(null);
    }
  }
  const keep = live.data.t.length - 3600;
  if (keep > 0) {
    live.data.t.splice(0, keep);
    for (const group of ["endpoints", "sources"]) {
      for (const series of Object.values(live.data[group])) for (const values of Object.values(series)) values.splice(0, keep);
    }
  }
}

function plot(id, title, label, x, series) {
  const data = [x, ...series.map((s) => s[1])];
  let entry = live.plots.get(id);
  if (!entry) {
    const holder = el("div", { id: `plot-${id}`, "data-plot": id });
    document.getElementById("plots").append(holder);
    const colors = ["#12355b", "#d1495b", "#2e8b57", "#e89b2e"];
    const options = { title, width: 460, height: 220, scales: { x: { time: true } },
                      series: [{}, ...series.map((s, i) => ({ label: s[0], stroke: colors[i % colors.length], spanGaps: true }))],
                      axes: [{}, { label }] };
    entry = { chart: new uPlot(options, data, holder), holder };
    live.plots.set(id, entry);
  } else {
    entry.chart.setData(data);
  }
  entry.holder.dataset.points = String(x.length);
}

async function refreshLive() {
  const query = live.since ? `?since=${encodeURIComponent(live.since)}` : "";
  const update = await api(`/api/metrics${query}`);
  if (update.t.length) live.since = update.t[update.t.length - 1];
  mergeSeries(update);
  const d = live.data;
  for (const [name, s] of Object.entries(d.sources)) {
    plot(`source-${name}`, `${name}: events and rows per second`, "per second", d.t,
         [["events/s", s.events_per_second], ["rows/s", s.rows_per_second]]);
    plot(`publish-${name}`, `${name}: window publish latency`, "ms", d.t,
         [["p50", s.publish_p50_ms], ["p99", s.publish_p99_ms]]);
  }
  for (const [name, s] of Object.entries(d.endpoints)) {
    if (!s.requests_per_second.some((v) => v)) continue;
    plot(`endpoint-${name}`, `${name}: requests per second`, "req/s", d.t, [["req/s", s.requests_per_second]]);
    plot(`latency-${name}`, `${name}: latency`, "ms", d.t, [["p50", s.p50_ms], ["p99", s.p99_ms]]);
  }
}

// --- Statistics

async function runStatistics() {
  const view = document.getElementById("stats-view").value;
  const progress = document.getElementById("stats-progress");
  const out = document.getElementById("stats-out");
  progress.hidden = false;
  progress.removeAttribute("value");
  out.replaceChildren();
  try {
    let job = await api("/api/statistics", { method: "POST", headers: { "Content-Type": "application/json" },
                                             body: JSON.stringify({ feature_view: view }) });
    while (!job.done) {
      progress.value = job.progress;
      await new Promise((resolve) => setTimeout(resolve, 200));
      job = await api(`/api/statistics/${encodeURIComponent(job.job)}`);
    }
    const stats = job.result;
    out.append(el("p", {}, `${stats.rows} rows`));
    const t = el("table", { id: "stats-table" });
    table(t, ["feature", "type", "count", "nulls", "min", "max", "mean", "histogram"],
          stats.features.map((f) => {
            const peak = Math.max(1, ...f.histogram);
            const bars = el("div", { class: "bars" }, ...f.histogram.map((c) => el("div", { style: `height:${Math.round(60 * c / peak)}px`, title: String(c) })));
            return [f.name, f.type, f.count, f.nulls, f.min ?? "—", f.max ?? "—", f.mean == null ? "—" : f.mean.toPrecision(6), bars];
          }));
    out.append(t);
  } catch (error) {
    out.append(el("p", {}, error.message));
  } finally {
    progress.hidden = true;
  }
}

// --- Lookup: the call a model makes.

function lookupChoices() {
  const select = document.getElementById("lookup-select");
  select.replaceChildren();
  for (const service of state.registry.registry.feature_services) {
    select.append(el("option", { value: `service:${service.name}` }, `service ${service.name}`));
  }
  for (const view of state.registry.registry.feature_views) {
    if (view.online) select.append(el("option", { value: `view:${view.name}` }, `view ${view.name}`));
  }
  renderLookupKeys();
}

function lookupFeatures() {
  const [kind, name] = document.getElementById("lookup-select").value.split(/:(.*)/s);
  const r = state.registry.registry;
  if (kind === "service") return { feature_service: name, views: r.feature_services.find((s) => s.name === name).features.map((p) => p.view) };
  const view = r.feature_views.find((v) => v.name === name);
  return { features: view.features.map((f) => `${name}:${f.name}`), views: [name] };
}

function renderLookupKeys() {
  const r = state.registry.registry;
  const keys = new Set();
  for (const viewName of lookupFeatures().views) {
    const view = r.feature_views.find((v) => v.name === viewName);
    for (const entity of view ? view.entities : []) keys.add(r.entities.find((e) => e.name === entity).join_key);
  }
  document.getElementById("lookup-keys").replaceChildren(...[...keys].map((key) =>
    el("label", {}, `${key} `, el("input", { name: key, "data-key": key, placeholder: "comma-separated values" }))));
}

async function lookup(event) {
  event.preventDefault();
  const selection = lookupFeatures();
  const entities = {};
  for (const input of document.querySelectorAll("#lookup-keys input")) {
    entities[input.name] = input.value.split(",").map((v) => v.trim()).filter((v) => v !== "")
      .map((v) => (/^-?\d+$/.test(v) ? Number(v) : v));
  }
  const body = { entities };
  if (selection.feature_service) body.feature_service = selection.feature_service; else body.features = selection.features;
  const out = document.getElementById("lookup-out");
  try {
    const answer = await api("/get-online-features", { method: "POST", headers: { "Content-Type": "application/json" }, body: JSON.stringify(body) });
    const names = answer.metadata.feature_names;
    const rows = answer.results[0].values.map((_, row) => names.map((_, col) => {
      const r = answer.results[col];
      return `${JSON.stringify(r.values[row])} (${r.statuses[row]}, ${r.event_timestamps[row]})`;
    }));
    table(out, names, rows);
  } catch (error) {
    table(out, ["error"], [[error.message]]);
  }
}

// --- Start

function switchTab(name) {
  for (const button of document.querySelectorAll("#tabs button")) button.classList.toggle("active", button.dataset.tab === name);
  for (const section of document.querySelectorAll("main section")) section.hidden = section.id !== name;
  const load = { freshness: renderFreshness, live: refreshLive }[name];
  if (load) load().catch((error) => showError(error.message));
}

async function start() {
  showError("");
  try {
    const who = await api("/api/whoami");
    state.scopes = who.scopes;
    document.getElementById("who").textContent = who.auth ? `token scopes: ${who.scopes.join(", ")}` : "auth off";
    document.getElementById("token-form").hidden = !who.auth;
  } catch (error) {
    document.getElementById("token-form").hidden = false;
    showError(error.status === 401 ? "This server needs an API token." : error.message);
    return;
  }
  document.getElementById("materialize").hidden = !state.scopes.includes("materialize");
  state.registry = await api("/api/registry");
  renderRegistry();
  renderLineage();
  const statsView = document.getElementById("stats-view");
  statsView.replaceChildren(...state.registry.registry.feature_views.map((v) => el("option", { value: v.name }, v.name)));
  document.getElementById("stats-run").disabled = !state.scopes.includes("read_offline");
  lookupChoices();
  document.body.dataset.ready = "true";
}

document.getElementById("tabs").addEventListener("click", (event) => {
  if (event.target.dataset.tab) switchTab(event.target.dataset.tab);
});
document.getElementById("token-form").addEventListener("submit", (event) => {
  event.preventDefault();
  state.token = document.getElementById("token").value;
  sessionStorage.setItem("headwater-token", state.token);
  start();
});
document.getElementById("search").addEventListener("input", renderRegistry);
document.getElementById("materialize").addEventListener("click", materialize);
document.getElementById("stats-run").addEventListener("click", runStatistics);
document.getElementById("lookup-select").addEventListener("change", renderLookupKeys);
document.getElementById("lookup-form").addEventListener("submit", lookup);
setInterval(() => {
  const active = document.querySelector("#tabs button.active").dataset.tab;
  const load = { freshness: renderFreshness, live: refreshLive }[active];
  if (load) load().catch((error) => showError(error.message));
}, 2000);
start().catch((error) => showError(error.message));
