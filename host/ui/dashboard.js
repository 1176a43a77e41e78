// The supervisor dashboard. Above the fold what needs acting on: alerts
// (work waiting that nobody available can take), the live queue (assign a
// task, watch its conversation) and the agents (occupancy per channel kind,
// set a status); below, per-channel figures and a chart of waiting tasks
// over the last hour. Refreshed every 5 s while visible, and soon after
// live events.

import { h, s, channelBadge, formatDuration, serverNow, errorText, debounce, cap } from "./util.js";
import { get, seg } from "./api.js";
import { KINDS, alerts, assignControl, occupancyCell, statusControl, watcher } from "./supervise.js";
import { hoursCard } from "./dashboard-hours.js";

const REFRESH_MS = 5000;
const AGENT_TASKS_MS = 5000; // per-agent task counts: at most this often
const HISTORY_MS = 15000; // the host samples every 15 s
const HOUR_MS = 3600000;
const LABELS = { waiting: "Waiting", oldest: "Oldest wait", sla: "SLA", handled: "Handled", abandoned: "Abandoned", aht: "Avg handle time" };

export function mount(root, ctx) {
  let visible = false;
  let timers = [];
  let inFlight = false;
  let again = false;
  let lastAgentTasks = 0;
  const occupancy = new Map(); // agent id → tasks held
  const customers = new Map(); // customer id → display name | null
  let agents = [];

  // ---- layout ------------------------------------------------------------

  const banner = h("p", { class: "error", role: "status", hidden: true });
  const alertList = h("ul", { class: "alerts", "data-testid": "alerts" });
  const watch = watcher();
  const hours = hoursCard();
  let lastStats = null;
  const statsBody = h("tbody");
  const routerLine = h("p", { class: "muted" });
  const agentSummary = h("ul", { class: "chips", "aria-label": "Agents by status" });
  const agentsBody = h("tbody");
  const queueBody = h("tbody");
  const queueEmpty = h("p", { class: "empty" }, "Nobody is waiting.");
  const chartBox = h("div", { class: "chart" });
  const legend = h(
    "ul",
    { class: "legend", "aria-hidden": "true" },
    h("li", null, h("span", { class: "swatch total" }), "total"),
    KINDS.map((k) => h("li", null, h("span", { class: `swatch kind-${k}` }), k)),
  );

  root.append(
    h(
      "div",
      { class: "dashboard", "data-testid": "dashboard" },
      banner,
      alertList,
      watch.card,
      hours.card,
      h(
        "section",
        { class: "card", "aria-labelledby": "dash-agents" },
        h("h2", { id: "dash-agents" }, "Agents"),
        agentSummary,
        h(
          "div",
          { class: "table-wrap" },
          h(
            "table",
            { "data-testid": "agents-table" },
            h("thead", null, h("tr", null, ["Agent", "Role", "Status", "For", "Occupancy", "Set status"].map((t) => h("th", { scope: "col" }, t)))),
            agentsBody,
          ),
        ),
      ),
      h(
        "section",
        { class: "card", "aria-labelledby": "dash-queue" },
        h("h2", { id: "dash-queue" }, "Queue"),
        h(
          "div",
          { class: "table-wrap" },
          h(
            "table",
            { "data-testid": "queue-table" },
            h("thead", null, h("tr", null, ["#", "Channel", "Customer", "Priority", "Waiting", "SLA", ""].map((t) => h("th", { scope: "col" }, t)))),
            queueBody,
          ),
        ),
        queueEmpty,
      ),
      h(
        "section",
        { class: "card wide", "aria-labelledby": "dash-channels" },
        h("h2", { id: "dash-channels" }, "Channels"),
        h(
          "div",
          { class: "table-wrap" },
          h(
            "table",
            { class: "stats-table" },
            h(
              "thead",
              null,
              h(
                "tr",
                null,
                ["Channel", ...Object.values(LABELS), "In progress"].map((t) =>
                  h("th", { scope: "col" }, t),
                ),
              ),
            ),
            statsBody,
          ),
        ),
        routerLine,
      ),
      h(
        "section",
        { class: "card wide", "aria-labelledby": "dash-chart" },
        h("h2", { id: "dash-chart" }, "Waiting tasks, last hour"),
        chartBox,
        legend,
      ),
    ),
  );
  let lastHistory = { points: [] };
  let drawnWidth = 0;
  renderChart(lastHistory);
  // Drawn at the box's own width, so labels stay legible at any size.
  new ResizeObserver(() => {
    const w = chartBox.clientWidth;
    if (w && Math.abs(w - drawnWidth) > 16) renderChart(lastHistory);
  }).observe(chartBox);

  // ---- refreshing ----------------------------------------------------------------

  /** Stats, queue and agents; per-agent task counts at most every 5 s. */
  async function refresh() {
    if (inFlight) {
      again = true;
      return;
    }
    inFlight = true;
    hours.refresh();
    try {
      const [stats, queue, agentList] = await Promise.all([get("/api/stats"), get("/api/queue"), get("/api/agents")]);
      agents = agentList;
      lastStats = stats;
      renderStats(stats);
      renderQueue(queue);
      renderAgents();
      alertList.replaceChildren(...alerts(stats, agents, occupancy));
      banner.hidden = true;
      if (Date.now() - lastAgentTasks >= AGENT_TASKS_MS) {
        lastAgentTasks = Date.now();
        await loadOccupancy(agentList);
        renderAgents();
        renderQueue(queue);
        alertList.replaceChildren(...alerts(lastStats, agents, occupancy));
      }
    } catch (err) {
      banner.textContent = `Could not refresh the dashboard: ${errorText(err)}`;
      banner.hidden = false;
    } finally {
      inFlight = false;
      if (again && visible) {
        again = false;
        refresh();
      }
    }
  }
  const soon = debounce(() => visible && refresh(), 600);

  /** Task counts per agent, a few requests at a time. */
  async function loadOccupancy(list) {
    const queue = [...list];
    const worker = async () => {
      for (let a = queue.shift(); a; a = queue.shift()) {
        try {
          const tasks = await get(`/api/agents/${seg(a.id)}/tasks`);
          occupancy.set(a.id, tasks);
        } catch {
          occupancy.delete(a.id);
        }
      }
    };
    await Promise.all([1, 2, 3, 4].map(worker));
  }

  async function refreshHistory() {
    try {
      renderChart(await get("/api/stats/history"));
    } catch (err) {
      renderChart({ points: [], error: err.status === 404 ? "No history is available yet." : errorText(err) });
    }
  }

  // ---- figures per channel ----------------------------------------------------------

  function renderStats(stats) {
    const channels = stats.channels || {};
    const kinds = [...KINDS, ...Object.keys(channels).filter((k) => !KINDS.includes(k))];
    const now = serverNow();
    statsBody.replaceChildren(
      ...kinds.map((kind) => {
        const c = channels[kind] || {};
        const cell = (name, text, raw, extra = {}) =>
          h("td", { "data-testid": `stat-${name}`, "data-kind": kind, "data-value": raw ?? "", "data-label": LABELS[name], ...extra }, text);
        const waiting = c.waiting ?? 0;
        const slaText = c.sla_pct === null || c.sla_pct === undefined ? "—" : String(Math.round(c.sla_pct * 10) / 10);
        return h(
          "tr",
          null,
          h("th", { scope: "row" }, cap(kind)),
          cell("waiting", String(waiting), waiting, { class: c.breached_waiting ? "num warn" : "num" }),
          waiting && c.oldest_wait_ms !== undefined
            ? cell("oldest", formatDuration(c.oldest_wait_ms), c.oldest_wait_ms, { class: "num", "data-since": now - c.oldest_wait_ms })
            : cell("oldest", "—", 0, { class: "num" }),
          // The "%" sign is drawn by CSS so the element's text stays a plain number.
          cell("sla", slaText, c.sla_pct ?? "", {
            class: `num ${slaText === "—" ? "" : "pct"} ${slaClass(c.sla_pct)}`,
            title: c.sla_target_ms ? `Target: answered within ${formatDuration(c.sla_target_ms)}` : null,
          }),
          cell("handled", String(c.handled ?? 0), c.handled ?? 0, { class: "num" }),
          cell("abandoned", String(c.abandoned ?? 0), c.abandoned ?? 0, { class: "num" }),
          cell("aht", c.aht_ms === null || c.aht_ms === undefined ? "—" : formatDuration(c.aht_ms), c.aht_ms ?? "", { class: "num" }),
          h("td", { class: "num", "data-label": "In progress" }, String(c.in_progress ?? 0)),
        );
      }),
    );
    const r = stats.router;
    routerLine.textContent = r ? `Router: ${r.plugin} · ${r.decisions} decisions · ${r.fallbacks} fallbacks` : "";
    agentSummary.replaceChildren(
      ...Object.entries(stats.agents || {}).map(([status, n]) =>
        h("li", { class: `chip st-${status}` }, h("span", { class: "dot", "aria-hidden": "true" }), `${status}: ${n}`),
      ),
    );
  }

  function slaClass(pct) {
    if (pct === null || pct === undefined) return "";
    return pct >= 80 ? "good" : pct >= 60 ? "warn" : "bad";
  }

  // ---- agents ------------------------------------------------------------------

  function renderAgents() {
    const order = { available: 0, away: 1, offline: 2 };
    const sorted = [...agents].sort((a, b) => (order[a.status] ?? 3) - (order[b.status] ?? 3) || a.name.localeCompare(b.name));
    agentsBody.replaceChildren(
      ...sorted.map((a) => {
        const occ = occupancyCell(a, occupancy.get(a.id));
        return h(
          "tr",
          { "data-agent-id": a.id },
          h("th", { scope: "row" }, a.name, h("span", { class: "muted" }, ` ${a.id}`)),
          h("td", null, a.role),
          h("td", null, h("span", { class: `chip st-${a.status}` }, h("span", { class: "dot", "aria-hidden": "true" }), a.status)),
          h("td", { class: "num", "data-since": a.status_since || null }, a.status_since ? formatDuration(serverNow() - a.status_since) : "—"),
          h("td", null, occ),
          h("td", null, statusControl(a, () => soon())),
        );
      }),
    );
  }

  // ---- queue -------------------------------------------------------------------

  function renderQueue(entries) {
    const now = serverNow();
    queueEmpty.hidden = entries.length > 0;
    queueBody.replaceChildren(
      ...entries.map((e, i) => {
        const since = now - (e.age_ms ?? 0);
        const stateLabel = { ok: "ok", at_risk: "at risk", warning: "at risk", breached: "breached" }[e.sla_state] || e.sla_state;
        return h(
          "tr",
          { "data-testid": "queue-row", "data-task-id": e.id, "data-sla-state": e.sla_state },
          h("td", { class: "num" }, String(e.position ?? i + 1)),
          h("td", null, channelBadge(e.channel), ` ${e.channel}`, e.state === "reserved" ? h("span", { class: "muted" }, " (offered)") : null),
          h("td", null, customerLabel(e.customer_id, i)),
          h("td", { class: "num" }, String(e.priority ?? "")),
          h("td", { class: "num", "data-since": since }, formatDuration(now - since)),
          h(
            "td",
            null,
            h("span", { class: `sla-pill sla-${e.sla_state}`, title: e.sla_target_ms ? `Target ${formatDuration(e.sla_target_ms)}` : null }, stateLabel),
          ),
          h(
            "td",
            { class: "row-actions" },
            e.conversation_id
              ? h("button", { type: "button", class: "ghost", "data-testid": "watch-open", onclick: () => watch.watch(e.conversation_id) }, "Watch")
              : null,
            e.state === "reserved" ? null : assignControl(e, agents, occupancy, () => soon()),
          ),
        );
      }),
    );
  }

  // Names for the first rows only: a long queue must not cost a request per row.
  function customerLabel(id, index) {
    if (!id) return "—";
    if (!customers.has(id) && index < 30) {
      customers.set(id, null);
      get(`/api/customers/${seg(id)}`)
        .then((c) => {
          customers.set(id, c.display_name || (c.identities && c.identities[0] && c.identities[0].value) || id);
          soon();
        })
        .catch(() => customers.set(id, id));
    }
    return customers.get(id) || id;
  }

  // ---- chart ---------------------------------------------------------------------

  /** A hand-drawn SVG: total waiting as an area, each channel kind as a line. */
  function renderChart(history) {
    lastHistory = history;
    drawnWidth = chartBox.clientWidth;
    const W = Math.max(300, Math.round(drawnWidth || 640));
    const H = 200;
    const m = { l: 34, r: 12, t: 12, b: 26 };
    const now = serverNow();
    const from = now - HOUR_MS;
    const points = (history.points || []).filter((p) => p.at >= from - (history.interval_ms || 0)).sort((a, b) => a.at - b.at);
    const peak = Math.max(0, ...points.map((p) => p.total ?? sum(p.waiting)));
    const max = niceMax(peak);
    const x = (t) => m.l + ((Math.max(t, from) - from) / HOUR_MS) * (W - m.l - m.r);
    const y = (v) => m.t + (1 - v / max) * (H - m.t - m.b);
    const coords = (val) => points.map((p) => `${x(p.at).toFixed(1)},${y(val(p)).toFixed(1)}`).join(" ");

    const latest = points.length ? points[points.length - 1] : null;
    const desc = latest
      ? `Now ${latest.total ?? sum(latest.waiting)} waiting (${KINDS.map((k) => `${k} ${(latest.waiting || {})[k] || 0}`).join(", ")}); peak ${peak} in the last hour.`
      : history.error || "No data yet.";

    const children = [
      s("title", { id: "chart-title" }, "Waiting tasks over the last hour"),
      s("desc", { id: "chart-desc" }, desc),
    ];
    // Horizontal grid with the count on the left.
    for (const v of [0, max / 2, max]) {
      children.push(s("line", { class: "grid", x1: m.l, x2: W - m.r, y1: y(v), y2: y(v) }));
      children.push(s("text", { class: "axis", x: m.l - 6, y: y(v) + 4, "text-anchor": "end" }, String(Math.round(v * 10) / 10)));
    }
    // Time labels every 15 minutes.
    for (const minsAgo of [60, 45, 30, 15, 0]) {
      const t = now - minsAgo * 60000;
      children.push(s("line", { class: "tick-mark", x1: x(t), x2: x(t), y1: H - m.b, y2: H - m.b + 4 }));
      children.push(
        s("text", { class: "axis", x: x(t), y: H - 8, "text-anchor": minsAgo === 60 ? "start" : minsAgo === 0 ? "end" : "middle" }, minsAgo ? `-${minsAgo}m` : "now"),
      );
    }
    if (points.length) {
      const total = (p) => p.total ?? sum(p.waiting);
      const first = x(points[0].at).toFixed(1);
      const last = x(points[points.length - 1].at).toFixed(1);
      const base = y(0).toFixed(1);
      children.push(s("path", { class: "area", d: `M${first},${base} L${coords(total).replace(/ /g, " L")} L${last},${base} Z` }));
      for (const k of KINDS) {
        children.push(s("polyline", { class: `line kind-${k}`, points: coords((p) => (p.waiting || {})[k] || 0) }));
      }
    } else {
      children.push(s("text", { class: "axis empty", x: W / 2, y: H / 2, "text-anchor": "middle" }, history.error || "No data yet"));
    }
    chartBox.replaceChildren(
      s(
        "svg",
        {
          "data-testid": "waiting-chart",
          class: "waiting-chart",
          viewBox: `0 0 ${W} ${H}`,
          role: "img",
          "aria-labelledby": "chart-title chart-desc",
          preserveAspectRatio: "xMidYMid meet",
        },
        children,
      ),
    );
  }

  function sum(obj) {
    return Object.values(obj || {}).reduce((a, b) => a + (Number(b) || 0), 0);
  }

  /** 1, 2, 5, 10, 20, 50…: a round top for the y axis (at least 4). */
  function niceMax(v) {
    if (v <= 4) return 4;
    const p = 10 ** Math.floor(Math.log10(v));
    for (const f of [1, 2, 5, 10]) if (v <= f * p) return f * p;
    return 10 * p;
  }

  // ---- lifecycle -----------------------------------------------------------------

  function startTimers() {
    stopTimers();
    timers = [setInterval(refresh, REFRESH_MS), setInterval(refreshHistory, HISTORY_MS)];
  }
  function stopTimers() {
    timers.forEach(clearInterval);
    timers = [];
  }
  // A hidden tab does not need a live wall: pause, and catch up on return.
  document.addEventListener("visibilitychange", () => {
    if (!visible) return;
    if (document.hidden) stopTimers();
    else {
      startTimers();
      refresh();
      refreshHistory();
    }
  });

  return {
    show() {
      visible = true;
      lastAgentTasks = 0;
      refresh();
      refreshHistory();
      startTimers();
    },
    hide() {
      visible = false;
      stopTimers();
    },
    resync() {
      if (visible) {
        refresh();
        refreshHistory();
      }
    },
    onEvent(ev) {
      // Anything about tasks or agents can move the figures.
      if (visible && /^(task|agent)\./.test(ev.type || "")) soon();
      if (visible && /^message\./.test(ev.type || "")) watch.onEvent(ev);
    },
  };
}
