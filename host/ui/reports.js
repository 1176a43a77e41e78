// The supervisor's reports: pick a range, an interval and a grouping; see
// volume, service level, handle time, abandonment, CSAT and first-contact
// resolution per interval as charts (SVG, like the dashboard's) and a
// table, the agents' occupancy and utilisation, and download either as
// CSV. Everything is read from /api/reports/*, which the host computes
// from its event history.

import { h, s, errorText, formatDuration } from "./util.js";
import { get, getBlob } from "./api.js";

const DAY_MS = 86400000;
const GROUPS = { kind: "Channel kind", channel: "Channel", agent: "Agent", disposition: "Disposition", label: "Label" };
const INTERVALS = { "15m": "15 minutes", "1h": "Hour", "1d": "Day" };

/** `YYYY-MM-DD` of a time, in the browser's zone. */
function dateValue(ms) {
  const d = new Date(ms);
  const pad = (n) => String(n).padStart(2, "0");
  return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())}`;
}

/** A percentage with one decimal, or an em dash for none. */
function pctText(part, whole) {
  return whole > 0 ? `${Math.round((part * 1000) / whole) / 10}%` : "—";
}

function opt(v, f = (x) => x) {
  return v === null || v === undefined ? "—" : f(v);
}

export function mount(root) {
  let visible = false;
  let loaded = false;

  // ---- controls --------------------------------------------------------------

  const today = dateValue(Date.now());
  const fromInput = h("input", { type: "date", value: dateValue(Date.now() - 6 * DAY_MS), "data-testid": "reports-from", "aria-label": "From" });
  const toInput = h("input", { type: "date", value: today, "data-testid": "reports-to", "aria-label": "To (inclusive)" });
  const intervalSelect = h(
    "select",
    { "data-testid": "reports-interval", "aria-label": "Interval" },
    Object.entries(INTERVALS).map(([v, t]) => h("option", { value: v, selected: v === "1h" }, t)),
  );
  const groupSelect = h(
    "select",
    { "data-testid": "reports-group", "aria-label": "Group by" },
    Object.entries(GROUPS).map(([v, t]) => h("option", { value: v }, t)),
  );
  const show = h("button", { type: "submit", "data-testid": "reports-show" }, "Show");
  const csv = h("button", { type: "button", class: "ghost", "data-testid": "reports-csv" }, "Download CSV");
  const agentsCsv = h("button", { type: "button", class: "ghost", "data-testid": "reports-agents-csv" }, "Download CSV");
  const banner = h("p", { class: "error", role: "alert", hidden: true });
  const status = h("p", { class: "muted", role: "status", "data-testid": "reports-status" });
  const form = h(
    "form",
    { class: "report-controls", "aria-label": "Report range" },
    h("label", null, "From ", fromInput),
    h("label", null, "To ", toInput),
    h("label", null, "Interval ", intervalSelect),
    h("label", null, "Group by ", groupSelect),
    show,
  );

  const summary = h("ul", { class: "chips report-summary", "data-testid": "reports-summary", "aria-label": "Totals" });
  const volumeBox = h("div", { class: "chart" });
  const levelBox = h("div", { class: "chart" });
  const rowsBody = h("tbody");
  const agentsBody = h("tbody");
  const rowsEmpty = h("p", { class: "empty", hidden: true }, "Nothing arrived in this range.");

  const columns = ["Interval", "Group", "Offered", "Handled", "Abandoned", "Service level", "Avg answer", "Avg handle", "Transfers", "FCR", "Bot containment"];
  const agentColumns = ["Agent", "Handled", "Avg handle", "Available", "Away", "Handling", "At once", "Occupancy", "Utilisation"];
  const table = (cols, body, testid) =>
    h(
      "div",
      { class: "table-wrap" },
      h("table", { "data-testid": testid }, h("thead", null, h("tr", null, cols.map((t) => h("th", { scope: "col" }, t)))), body),
    );

  root.append(
    h(
      "div",
      { class: "reports", "data-testid": "reports" },
      h("section", { class: "card wide", "aria-labelledby": "rep-range" }, h("h2", { id: "rep-range" }, "Reports"), form, banner, status, summary),
      h("section", { class: "card wide", "aria-labelledby": "rep-volume" }, h("h2", { id: "rep-volume" }, "Volume"), volumeBox,
        h("ul", { class: "legend", "aria-hidden": "true" },
          h("li", null, h("span", { class: "swatch bar-offered" }), "offered"),
          h("li", null, h("span", { class: "swatch bar-abandoned" }), "abandoned"))),
      h("section", { class: "card wide", "aria-labelledby": "rep-level" }, h("h2", { id: "rep-level" }, "Service level and satisfaction"), levelBox,
        h("ul", { class: "legend", "aria-hidden": "true" },
          h("li", null, h("span", { class: "swatch line-sla" }), "service level %"),
          h("li", null, h("span", { class: "swatch line-csat" }), "CSAT (4–5) %"),
          h("li", null, h("span", { class: "swatch line-fcr" }), "first-contact resolution %"))),
      h("section", { class: "card wide", "aria-labelledby": "rep-table" },
        h("div", { class: "card-head" }, h("h2", { id: "rep-table" }, "Per interval"), csv),
        table(columns, rowsBody, "reports-table"), rowsEmpty),
      h("section", { class: "card wide", "aria-labelledby": "rep-agents" },
        h("div", { class: "card-head" }, h("h2", { id: "rep-agents" }, "Agents"), agentsCsv),
        table(agentColumns, agentsBody, "reports-agents")),
    ),
  );

  // ---- data ------------------------------------------------------------------

  /** The query the controls describe, or throws a readable error. */
  function query(extra = {}) {
    const from = new Date(`${fromInput.value}T00:00`).getTime();
    const to = new Date(`${toInput.value}T00:00`).getTime() + DAY_MS;
    if (!Number.isFinite(from) || !Number.isFinite(to)) throw new Error("Pick a start and an end date.");
    if (from >= to) throw new Error("The start must be on or before the end.");
    const q = new URLSearchParams({ from: String(from), to: String(to), interval: intervalSelect.value, ...extra });
    return q.toString();
  }

  async function load() {
    banner.hidden = true;
    let q;
    try {
      q = query();
    } catch (err) {
      banner.textContent = errorText(err);
      banner.hidden = false;
      return;
    }
    status.textContent = "Loading…";
    try {
      const [rows, agents, surveys] = await Promise.all([
        get(`/api/reports/intervals?${q}&group_by=${groupSelect.value}`),
        get(`/api/reports/agents?${q}`),
        get(`/api/reports/surveys?${q}`),
      ]);
      const params = new URLSearchParams(q);
      const step = { "15m": 900000, "1h": 3600000, "1d": DAY_MS }[intervalSelect.value];
      render(rows, agents, surveys, { from: Number(params.get("from")), to: Number(params.get("to")), step });
      status.textContent = `${rows.length} rows · ${new Date().toLocaleTimeString()}`;
      loaded = true;
    } catch (err) {
      status.textContent = "";
      banner.textContent = `The reports could not be loaded: ${errorText(err)}`;
      banner.hidden = false;
    }
  }

  /** Downloads the CSV `name` from the path `pathOf()` builds of the controls. */
  async function download(pathOf, name) {
    try {
      const blob = await getBlob(pathOf());
      const a = h("a", { href: URL.createObjectURL(blob), download: name });
      document.body.append(a);
      a.click();
      a.remove();
      setTimeout(() => URL.revokeObjectURL(a.href), 10000);
    } catch (err) {
      banner.textContent = `The download failed: ${errorText(err)}`;
      banner.hidden = false;
    }
  }

  // ---- rendering ------------------------------------------------------------------

  function render(rows, agents, surveys, range) {
    const sum = (list, key) => list.reduce((a, r) => a + (Number(r[key]) || 0), 0);
    const offered = sum(rows, "offered");
    const handled = sum(rows, "handled");
    const abandoned = sum(rows, "abandoned");
    const answered = sum(rows, "answered");
    const csat = surveys.filter((r) => r.survey === "csat");
    const csatAnswers = sum(csat, "answered");
    const satisfied = csat.reduce((a, r) => a + Math.round(((r.satisfied_pct || 0) * r.answered) / 100), 0);
    const chips = [
      ["Offered", String(offered)],
      ["Handled", String(handled)],
      ["Service level", pctText(sum(rows, "answered_within_sla"), answered + abandoned)],
      ["Abandoned", pctText(abandoned, offered)],
      ["Avg handle", handled ? formatDuration(sum(rows, "total_handle_ms") / handled) : "—"],
      ["FCR", pctText(sum(rows, "resolved_first_contact"), handled)],
      ["CSAT", pctText(satisfied, csatAnswers)],
      ["Bot containment", pctText(sum(rows, "bot_contained"), sum(rows, "bot_conversations"))],
    ];
    summary.replaceChildren(
      ...chips.map(([label, value]) => h("li", { class: "chip", "data-testid": "reports-total", "data-name": label }, `${label}: `, h("strong", null, value))),
    );

    // Per interval, over every group.
    const byStart = new Map();
    const bucket = (start) => {
      if (!byStart.has(start)) byStart.set(start, { start, offered: 0, abandoned: 0, within: 0, settled: 0, fcr: 0, handled: 0, csat: 0, csatN: 0 });
      return byStart.get(start);
    };
    for (const r of rows) {
      const b = bucket(r.interval_start);
      b.offered += r.offered;
      b.abandoned += r.abandoned;
      b.within += r.answered_within_sla;
      b.settled += r.answered + r.abandoned;
      b.fcr += r.resolved_first_contact;
      b.handled += r.handled;
    }
    for (const r of csat) {
      const b = bucket(r.interval_start);
      b.csat += Math.round(((r.satisfied_pct || 0) * r.answered) / 100);
      b.csatN += r.answered;
    }
    // Every interval of the range, quiet ones too, so time reads left to
    // right at one pace.
    const { from, to, step } = range;
    if ((to - from) / step <= 2000) for (let t = from; t < to; t += step) bucket(t);
    const points = [...byStart.values()].sort((a, b) => a.start - b.start);
    volumeBox.replaceChildren(volumeChart(points));
    levelBox.replaceChildren(levelChart(points));

    rowsEmpty.hidden = rows.length > 0;
    const fmt = (ms) => new Date(ms).toLocaleString([], { dateStyle: "short", timeStyle: "short" });
    rowsBody.replaceChildren(
      ...rows.map((r) =>
        h(
          "tr",
          { "data-testid": "reports-row", "data-group": r.group },
          h("td", null, fmt(r.interval_start)),
          h("td", null, r.group),
          h("td", null, String(r.offered)),
          h("td", null, String(r.handled)),
          h("td", null, String(r.abandoned)),
          h("td", null, opt(r.service_level_pct, (p) => `${p}%`)),
          h("td", null, opt(r.avg_speed_of_answer_ms, formatDuration)),
          h("td", null, opt(r.avg_handle_ms, formatDuration)),
          h("td", null, String(r.transfers)),
          h("td", null, opt(r.fcr_pct, (p) => `${p}%`)),
          h("td", null, opt(r.containment_pct, (p) => `${p}%`)),
        ),
      ),
    );
    agentsBody.replaceChildren(
      ...agents.map((a) =>
        h(
          "tr",
          { "data-testid": "reports-agent", "data-agent-id": a.agent_id },
          h("th", { scope: "row" }, a.agent_id),
          h("td", null, String(a.handled)),
          h("td", null, opt(a.avg_handle_ms, formatDuration)),
          h("td", null, formatDuration(a.available_ms)),
          h("td", null, formatDuration(a.away_ms)),
          h("td", null, formatDuration(a.handling_ms)),
          h("td", null, opt(a.avg_concurrent)),
          h("td", { "data-testid": "reports-occupancy" }, opt(a.occupancy_pct, (p) => `${p}%`)),
          h("td", null, opt(a.utilisation_pct, (p) => `${p}%`)),
        ),
      ),
    );
  }

  const W = 720;
  const H = 200;
  const M = { l: 36, r: 10, t: 10, b: 24 };
  const fmtTick = (ms) => new Date(ms).toLocaleString([], intervalSelect.value === "1d" ? { month: "short", day: "numeric" } : { day: "numeric", hour: "2-digit", minute: "2-digit" });

  function frame(id, title, desc, children) {
    return s(
      "svg",
      { class: "waiting-chart report-chart", "data-testid": id, viewBox: `0 0 ${W} ${H}`, role: "img", "aria-labelledby": `${id}-t ${id}-d`, preserveAspectRatio: "xMidYMid meet" },
      s("title", { id: `${id}-t` }, title),
      s("desc", { id: `${id}-d` }, desc),
      children,
    );
  }

  function axis(max, y, suffix = "") {
    return [0, max / 2, max].flatMap((v) => [
      s("line", { class: "grid", x1: M.l, x2: W - M.r, y1: y(v), y2: y(v) }),
      s("text", { class: "axis", x: M.l - 6, y: y(v) + 4, "text-anchor": "end" }, `${Math.round(v)}${suffix}`),
    ]);
  }

  function xLabels(points, x) {
    const every = Math.max(1, Math.ceil(points.length / 8));
    return points
      .filter((_, i) => i % every === 0)
      .map((p) => s("text", { class: "axis", x: x(p) , y: H - 6, "text-anchor": "middle" }, fmtTick(p.start)));
  }

  function volumeChart(points) {
    const max = Math.max(4, ...points.map((p) => p.offered));
    const y = (v) => M.t + (1 - v / max) * (H - M.t - M.b);
    const slot = (W - M.l - M.r) / Math.max(1, points.length);
    const x = (p) => M.l + points.indexOf(p) * slot + slot / 2;
    const bars = points.flatMap((p) => {
      const w = Math.min(40, Math.max(1, slot * 0.7));
      const left = x(p) - w / 2;
      return [
        s("rect", { class: "bar-offered", "data-testid": "volume-bar", x: left, width: w, y: y(p.offered), height: y(0) - y(p.offered) }, s("title", null, `${fmtTick(p.start)}: ${p.offered} offered, ${p.abandoned} abandoned`)),
        s("rect", { class: "bar-abandoned", x: left, width: w, y: y(p.abandoned), height: y(0) - y(p.abandoned) }),
      ];
    });
    const total = points.reduce((a, p) => a + p.offered, 0);
    const desc = points.length ? `${total} offered in ${points.length} intervals; the busiest had ${Math.max(...points.map((p) => p.offered))}.` : "Nothing in this range.";
    return frame("volume-chart", "Contacts offered and abandoned per interval", desc, [...axis(max, y), ...bars, ...xLabels(points, x)]);
  }

  function levelChart(points) {
    const y = (v) => M.t + (1 - v / 100) * (H - M.t - M.b);
    const span = Math.max(1, points.length - 1);
    const x = (p) => M.l + (points.indexOf(p) / span) * (W - M.l - M.r);
    const line = (cls, value) => {
      const known = points.filter((p) => value(p) !== null);
      const pts = known.map((p) => `${x(p).toFixed(1)},${y(value(p)).toFixed(1)}`);
      if (!pts.length) return [];
      // A marker on each point: an interval alone shows as a dot.
      const dots = known.length <= 60 ? known.map((p) => s("circle", { class: `dot ${cls}`, cx: x(p), cy: y(value(p)), r: 3 })) : [];
      return [s("polyline", { class: `line ${cls}`, points: pts.join(" ") }), ...dots];
    };
    const ratio = (a, b) => (b > 0 ? (a * 100) / b : null);
    const desc = points.length ? `Service level, CSAT and first-contact resolution over ${points.length} intervals.` : "Nothing in this range.";
    return frame("level-chart", "Service level, CSAT and first-contact resolution per interval", desc, [
      ...axis(100, y, "%"),
      ...line("line-sla", (p) => ratio(p.within, p.settled)),
      ...line("line-csat", (p) => ratio(p.csat, p.csatN)),
      ...line("line-fcr", (p) => ratio(p.fcr, p.handled)),
      ...xLabels(points, x),
    ]);
  }

  // ---- events ----------------------------------------------------------------------

  form.addEventListener("submit", (e) => {
    e.preventDefault();
    load();
  });
  csv.addEventListener("click", () =>
    download(() => `/api/reports/intervals.csv?${query({ group_by: groupSelect.value })}`, "intervals.csv"),
  );
  agentsCsv.addEventListener("click", () => download(() => `/api/reports/agents.csv?${query()}`, "agents.csv"));

  return {
    show() {
      visible = true;
      if (!loaded) load();
    },
    hide() {
      visible = false;
    },
    resync() {
      if (visible && loaded) load();
    },
    onEvent() {},
  };
}
