// The dashboard page: renders each snapshot pushed on /api/events. Plain DOM and SVG, no
// library and no build step; every value is inserted as text, never as HTML.
"use strict";

const SVG = "http://www.w3.org/2000/svg";
const STALE_AFTER_S = 5;
const HISTORY_S = 600;
const COL_W = 285, ROW_H = 92, BOX_W = 205, BOX_H = 62, PAD = 14;

let latest = null;

function el(tag, attrs, ...children) {
  const node = tag.startsWith("svg:")
    ? document.createElementNS(SVG, tag.slice(4)) : document.createElement(tag);
  for (const [key, value] of Object.entries(attrs || {})) {
    if (value !== null && value !== undefined) node.setAttribute(key, value);
  }
  for (const child of children) {
    if (child === null || child === undefined) continue;
    node.append(typeof child === "string" || typeof child === "number" ? String(child) : child);
  }
  return node;
}

function fill(id, ...children) {
  const node = document.getElementById(id);
  node.replaceChildren(...children.filter((c) => c !== null && c !== undefined));
  return node;
}

const int = (n) => (n === null || n === undefined ? "–" : Math.round(n).toLocaleString("en-US"));
function rate(r) {
  if (r === null || r === undefined) return "–";
  return (r >= 10 || r === 0 ? Math.round(r).toLocaleString("en-US") : r.toFixed(1)) + "/s";
}
function seconds(s) {
  if (s === null || s === undefined) return "";
  s = Math.round(s);
  return s >= 60 ? `${Math.floor(s / 60)} min ${s % 60} s` : `${s} s`;
}
function short(text, max) { return text.length > max ? text.slice(0, max - 1) + "…" : text; }

// -- header, progress, problems ------------------------------------------------------------
function renderHeader(snap) {
  const c = snap.cluster;
  const parts = [snap.home];
  if (!snap.lab) parts.push("no lab yet: start one with `labctl up` or `labctl pilot`");
  if (c) parts.push(`${c.mode}, ${c.backend} backend`, `bootstrap ${c.bootstrap}`);
  fill("lab", parts.join(" · "));
}

function renderProgress(p) {
  const box = document.getElementById("progress");
  box.hidden = !p;
  if (!p) return;
  const total = p.total ? ` of ${p.unit === "s" ? seconds(p.total) : int(p.total)}` : "";
  const done = p.unit === "s" ? seconds(p.done) : int(p.done);
  const bits = [`labctl ${p.command}: `, el("b", {}, p.step), ` — ${done}${total}`];
  if (p.records !== null && p.unit === "s") bits.push(`, ${int(p.records)} records so far`);
  if (p.left_s !== null) bits.push(`, about ${seconds(p.left_s)} left`);
  const pct = p.total ? Math.min(100, (100 * p.done) / p.total) : 0;
  box.replaceChildren(el("div", {}, ...bits),
    el("div", { class: "bar" }, el("div", { style: `width:${pct.toFixed(1)}%` })));
}

function renderProblems(snap) {
  const box = document.getElementById("problems");
  const problems = [...snap.problems];
  if (snap.cluster && snap.cluster.problem) problems.push(snap.cluster.problem);
  box.hidden = problems.length === 0;
  box.replaceChildren(...problems.map((p) => el("div", {}, p)));
}

// -- the agent's topology ------------------------------------------------------------------
function renderAgent(agent) {
  const svg = document.getElementById("graph");
  if (!agent) { fill("agent-title"); fill("agent-state", "no agent config"); svg.replaceChildren(); return; }
  fill("agent-title", agent.name);
  const state = document.getElementById("agent-state");
  state.className = agent.running ? "note" : "note bad";
  state.textContent = agent.running
    ? `running, ${agent.where || "pid ?"} · in ${rate(agent.in_rate)} · out ${rate(agent.out_rate)} · ${agent.conf_file}`
    : `not running: ${agent.problem} (start it with \`labctl agent start\`)`;
  const cols = Math.max(1, ...agent.nodes.map((n) => n.column + 1));
  const rows = Math.max(1, ...agent.nodes.map((n) => n.row + 1));
  const width = PAD * 2 + (cols - 1) * COL_W + BOX_W, height = PAD * 2 + (rows - 1) * ROW_H + BOX_H;
  svg.setAttribute("viewBox", `0 0 ${width} ${height}`);
  const at = {};
  for (const n of agent.nodes) at[n.id] = { x: PAD + n.column * COL_W, y: PAD + n.row * ROW_H };
  const edges = agent.edges.map((e) => edgeOf(e, at[e.source], at[e.target]));
  const labels = agent.edges.map((e) => labelOf(e, at[e.source], at[e.target]));
  svg.replaceChildren(...edges, ...agent.nodes.map((n) => nodeOf(n, at[n.id])), ...labels);
}

function edgeOf(e, a, b) {
  const x1 = a.x + BOX_W, y1 = a.y + BOX_H / 2, x2 = b.x, y2 = b.y + BOX_H / 2, mid = (x1 + x2) / 2;
  return el("svg:path", {
    class: e.rate > 0 ? "edge moving" : "edge",
    d: `M${x1},${y1} C${mid},${y1} ${mid},${y2} ${x2},${y2}`,
  });
}

function labelOf(e, a, b) {
  const x = (a.x + BOX_W + b.x) / 2, y = (a.y + b.y) / 2 + BOX_H / 2;
  const text = e.counter ? rate(e.rate) : "–";
  const w = 8 + 7.2 * text.length;
  return el("svg:g", { class: "label", "data-edge": `${e.source}->${e.target}`,
                        "data-rate": e.rate ?? "" },
    el("svg:title", {}, e.counter ? `${e.counter} per second` : "no counter measures this hop"),
    el("svg:rect", { x: x - w / 2, y: y - 10, width: w, height: 19, rx: 4 }),
    el("svg:text", { x: x, y: y + 4, "text-anchor": "middle" }, text));
}

function nodeOf(n, p) {
  const color = `var(--${n.kind})`;
  const g = el("svg:g", { class: n.ok ? "node" : "node down", "data-node": n.id,
                          "data-ok": String(n.ok), transform: `translate(${p.x},${p.y})` },
    el("svg:title", {}, `${n.kind} ${n.name} (${n.type}): ${n.health}`),
    el("svg:rect", { class: "box", width: BOX_W, height: BOX_H, rx: 6, style: `stroke:${color}` }),
    el("svg:rect", { width: 5, height: BOX_H, rx: 2, style: `fill:${color}` }),
    el("svg:text", { class: "name", x: 12, y: 17 }, short(n.name, 27)),
    el("svg:text", { class: "kind", x: 12, y: 32 }, `${n.kind} · ${short(n.type, 18)}`));
  const line3 = n.ok ? n.detail : n.health;
  if (line3) g.append(el("svg:text", { class: n.ok ? "detail" : "health", x: 12, y: 48 }, short(line3, 30)));
  if (n.kind === "channel" && n.capacity) {
    const frac = Math.min(1, (n.size || 0) / n.capacity);
    g.append(el("svg:rect", { class: "fill-back", x: 12, y: 52, width: BOX_W - 24, height: 5, rx: 2 }),
             el("svg:rect", { class: "fill", "data-fill": frac.toFixed(4), x: 12, y: 52,
                              width: Math.max(frac * (BOX_W - 24), frac > 0 ? 2 : 0), height: 5, rx: 2 }));
  }
  return g;
}

// -- chart (log scale: a day file's burst and the driving log's steady flow both show) -----
function renderChart(history, at) {
  const svg = document.getElementById("chart");
  const now = at || Date.now() / 1000;
  const W = Math.max(200, Math.round(svg.clientWidth || 600));
  svg.setAttribute("viewBox", `0 0 ${W} 180`);
  const peak = Math.max(1, ...history.map((h) => Math.max(h[1], h[2])));
  const decades = Math.max(1, Math.ceil(Math.log10(peak + 1)));
  const x = (t) => (W * (t - (now - HISTORY_S))) / HISTORY_S;
  const y = (v) => 176 - (170 * Math.log10(1 + Math.max(0, v))) / decades;
  const line = (i) => history.map((h) => `${x(h[0]).toFixed(1)},${y(h[i]).toFixed(1)}`).join(" ");
  const grid = [];
  for (let d = 1; d <= decades; d++) {
    const v = 10 ** d;
    grid.push(el("svg:line", { class: "grid", x1: 0, x2: W, y1: y(v), y2: y(v) }),
              el("svg:text", { class: "tick", x: 3, y: y(v) + 11 }, v >= 1000 ? `${v / 1000}k/s` : `${v}/s`));
  }
  const area = history.length ? `${x(history[0][0]).toFixed(1)},176 ${line(1)} ${x(history[history.length - 1][0]).toFixed(1)},176` : "";
  svg.replaceChildren(...grid, el("svg:polygon", { class: "in-area", points: area }),
                      el("svg:polyline", { class: "in", points: line(1) }),
                      el("svg:polyline", { class: "out", points: line(2) }));
  const last = history.length ? history[history.length - 1] : [0, 0, 0];
  fill("legend", el("span", { class: "in" }, `in ${rate(last[1])}`),
       el("span", { class: "out" }, `out ${rate(last[2])}`),
       el("span", {}, `peak ${rate(peak)} · log scale`));
}

// -- cluster -------------------------------------------------------------------------------
function renderCluster(c) {
  if (!c) {
    fill("cluster-title", "not running");
    fill("members");
    document.querySelector("#partitions tbody").replaceChildren();
    document.querySelector("#groups tbody").replaceChildren();
    return;
  }
  fill("cluster-title", `controller: ${c.controller ?? "none"}`);
  fill("members", ...c.members.map((m) => el("div", {
      class: m.ok ? "member" : "member down", "data-member": m.name, "data-ok": String(m.ok) },
    el("b", {}, m.name + (m.is_controller ? " ★" : "")),
    el("small", {}, `${m.role} · port ${m.port}`),
    el("small", {}, m.ok ? `up ${seconds(m.uptime_s) || ""}` : (m.running ? "not in metadata" : "down")),
    m.where ? el("small", { class: "where" }, m.where) : null)));
  document.querySelector("#partitions tbody").replaceChildren(...c.partitions.map((p) => el("tr",
    { class: p.ok ? "" : "bad", "data-partition": `${p.topic}/${p.partition}`,
      "data-end-offset": p.end_offset ?? "" },
    el("td", {}, `${p.topic}[${p.partition}]`), el("td", {}, p.leader < 0 ? "none" : String(p.leader)),
    el("td", {}, p.replicas.join(", ")), el("td", {}, p.isr.join(", ")),
    el("td", { class: "num" }, int(p.end_offset)), el("td", { class: "num" }, rate(p.rate)))));
  const groups = c.groups.length ? c.groups.map((g) => el("tr", { "data-group": g.group_id },
    el("td", {}, g.group_id), el("td", {}, g.state), el("td", { class: "num" }, String(g.members)),
    el("td", { class: "num" }, int(g.lag))))
    : [el("tr", {}, el("td", { colspan: 4, class: "none" }, "no consumer group has committed offsets"))];
  document.querySelector("#groups tbody").replaceChildren(...groups);
}

// -- reports -------------------------------------------------------------------------------
function renderStages(stages) {
  document.querySelector("#stages tbody").replaceChildren(...stages.map((s) => {
    const result = s.ok === null ? el("span", { class: "none" }, "not checked yet")
      : el("span", { class: s.ok ? "pass" : "fail" }, s.ok ? "PASS" : "FAIL");
    const checks = el("ul", { class: "checks" }, ...s.checks.map((c) => el("li",
      { class: c.ok ? "" : "bad" }, `${c.ok ? "✓" : "✗"} ${c.name}`,
      c.measured ? ` — ${c.measured}` : "", c.hint ? el("div", { class: "hint" }, c.hint) : null)));
    return el("tr", { "data-stage": s.stage, "data-ok": String(s.ok) },
      el("td", {}, `${s.stage}. ${s.title}`, el("div", { class: "note" }, s.at)), el("td", {}, result),
      el("td", {}, checks));
  }));
}

function renderPilot(p) {
  const body = document.querySelector("#summary tbody");
  if (!p) {
    fill("pilot-title", "no full run yet (`labctl pilot`)");
    body.replaceChildren();
    fill("figures");
    return;
  }
  fill("pilot-title", el("span", { class: p.ok ? "pass" : "fail" }, p.ok ? "PASSED" : "FAILED"), ` · ${p.at}`);
  body.replaceChildren(...p.flows.map((f) => el("tr", {}, el("td", {}, f.flow),
    el("td", { class: "num" }, int(f.generated)), el("td", { class: "num" }, int(f.filtered)),
    el("td", { class: "num" }, int(f.delivered)), el("td", {}, f.where))));
  const f = p.figures;
  fill("figures", `${f.cars} cars, ${f.duration_s} s · throughput ${f.throughput_rps ?? "–"} records/s · ` +
       `latency p50 ${f.latency_p50_ms ?? "–"} ms, p99 ${f.latency_p99_ms ?? "–"}, ` +
       `p99.9 ${f.latency_p99_9_ms ?? "–"}, max ${f.latency_max_ms ?? "–"} ms · ${p.report}`);
}

// -- the stream ----------------------------------------------------------------------------
function render(snap) {
  latest = snap;
  renderHeader(snap);
  renderProgress(snap.progress);
  renderProblems(snap);
  renderAgent(snap.agent);
  renderChart(snap.history, snap.at);
  renderCluster(snap.cluster);
  renderStages(snap.stages);
  renderPilot(snap.pilot);
  document.body.dataset.version = String((Number(document.body.dataset.version) || 0) + 1);
}

function watchLink() {
  const link = document.getElementById("link");
  if (link.dataset.state === "lost" || !latest) return;
  const age = Date.now() / 1000 - latest.at;
  link.dataset.state = age > STALE_AFTER_S ? "stale" : "live";
  link.textContent = age > STALE_AFTER_S ? `no update for ${Math.round(age)} s` : "live";
}

function connect() {
  const source = new EventSource("/api/events");
  const link = document.getElementById("link");
  source.addEventListener("snapshot", (event) => { link.dataset.state = "live"; render(JSON.parse(event.data)); });
  source.onerror = () => { link.dataset.state = "lost"; link.textContent = "reconnecting…"; };
  setInterval(watchLink, 1000);
}

connect();
