// What a supervisor does on the dashboard beyond reading it: alerts for
// work nobody can take, occupancy per channel kind, setting an agent's
// status, assigning a waiting task to an agent, and watching any
// conversation live.

import { h, channelBadge, errorText, formatDuration, serverNow } from "./util.js";
import { get, post, seg } from "./api.js";

export const KINDS = ["voice", "chat", "messaging", "email"];
export const DEFAULT_CAPACITY = { voice: 1, chat: 2, messaging: 3, email: 5 };
const STATUSES = ["available", "away", "offline"];

/** Tasks an agent holds, per channel kind. */
function heldPerKind(tasks) {
  const held = {};
  for (const t of tasks || []) held[t.channel_kind] = (held[t.channel_kind] || 0) + 1;
  return held;
}

/** How many more tasks of `kind` the agent could take now (0 when not available). */
export function freeFor(agent, tasks, kind) {
  if (agent.status !== "available" || agent.deactivated) return 0;
  const capacity = { ...DEFAULT_CAPACITY, ...(agent.capacity || {}) };
  const held = heldPerKind(tasks);
  // Voice is exclusive: an agent on a call takes nothing else.
  if (held.voice) return 0;
  return Math.max(0, (capacity[kind] || 0) - (held[kind] || 0));
}

/**
 * One alert per channel kind with tasks waiting and nobody available with
 * room for it: the situation a supervisor must act on first.
 */
export function alerts(stats, agents, occupancy) {
  const out = [];
  for (const kind of KINDS) {
    const waiting = stats && stats.channels && stats.channels[kind] ? stats.channels[kind].waiting : 0;
    if (!waiting) continue;
    const able = agents.filter((a) => freeFor(a, occupancy.get(a.id), kind) > 0).length;
    if (able === 0) {
      out.push(
        h(
          "li",
          { class: "alert", "data-testid": "alert", "data-kind": kind, role: "alert" },
          `${waiting} ${kind} ${waiting === 1 ? "task is" : "tasks are"} waiting and nobody available can take ${kind}.`,
        ),
      );
    }
  }
  return out;
}

/** "chat 1/2 · voice 0/1": what an agent holds against its capacity, per kind. */
export function occupancyCell(agent, tasks) {
  if (!tasks) return h("span", { class: "muted" }, "…");
  const capacity = { ...DEFAULT_CAPACITY, ...(agent.capacity || {}) };
  const held = heldPerKind(tasks);
  return h(
    "span",
    { class: "occ-kinds", "data-testid": "occupancy" },
    KINDS.filter((k) => capacity[k] > 0 || held[k]).map((k) =>
      h(
        "span",
        { class: `occ-kind${held[k] >= capacity[k] ? " full" : ""}`, "data-kind": k },
        `${k} ${held[k] || 0}/${capacity[k] || 0}`,
      ),
    ),
  );
}

/** A status select for an agent's row; a supervisor may force any status. */
export function statusControl(agent, onChanged) {
  const select = h(
    "select",
    { "data-testid": "agent-status-set", "aria-label": `Set ${agent.name}'s status` },
    STATUSES.map((s) => h("option", { value: s, selected: s === agent.status }, s)),
  );
  const note = h("span", { class: "error", role: "alert", hidden: true });
  select.addEventListener("change", async () => {
    select.disabled = true;
    try {
      await post(`/api/agents/${seg(agent.id)}/status`, { status: select.value });
      note.hidden = true;
      onChanged();
    } catch (err) {
      note.textContent = errorText(err);
      note.hidden = false;
      select.value = agent.status;
    } finally {
      select.disabled = false;
    }
  });
  return h("span", { class: "status-control" }, select, note);
}

/** "Assign to …" for a waiting task: offered at once to the chosen agent. */
export function assignControl(entry, agents, occupancy, onAssigned) {
  const able = agents.filter((a) => freeFor(a, occupancy.get(a.id), entry.channel_kind) > 0);
  if (!able.length) return h("span", { class: "muted" }, "nobody free");
  const select = h(
    "select",
    { "data-testid": "assign-agent", "aria-label": "Assign to agent" },
    h("option", { value: "" }, "Assign to…"),
    able.map((a) => h("option", { value: a.id }, a.name)),
  );
  const note = h("span", { class: "error", role: "alert", hidden: true });
  select.addEventListener("change", async () => {
    if (!select.value) return;
    select.disabled = true;
    try {
      await post(`/api/tasks/${seg(entry.id)}/transfer`, { to_agent: select.value });
      onAssigned();
    } catch (err) {
      note.textContent = errorText(err);
      note.hidden = false;
      select.disabled = false;
      select.value = "";
    }
  });
  return h("span", { class: "assign-control" }, select, note);
}

/**
 * A read-only view of one conversation that follows it live: what the
 * customer and agent write, and the internal notes.
 */
export function watcher() {
  let watching = null;
  const title = h("h2", { id: "dash-watch" }, "Watching");
  const body = h("ol", { class: "watch-log", "data-testid": "watch-log", "aria-live": "polite" });
  const close = h("button", { type: "button", class: "ghost", "data-testid": "watch-close" }, "Stop watching");
  const card = h(
    "section",
    { class: "card wide watch-card", "data-testid": "watch", "aria-labelledby": "dash-watch", hidden: true },
    h("div", { class: "card-head" }, title, close),
    body,
  );
  close.addEventListener("click", () => {
    watching = null;
    card.hidden = true;
  });

  async function load() {
    if (!watching) return;
    const id = watching;
    try {
      const c = await get(`/api/conversations/${seg(id)}`);
      if (watching !== id) return;
      title.replaceChildren(channelBadge(c.channel), ` Watching a ${c.channel} conversation · ${c.status}`);
      const lines = [
        ...(c.messages || []).map((m) => ({ at: m.at, who: m.author, text: m.text, note: false })),
        ...(c.notes || []).map((n) => ({ at: n.at, who: `note by ${n.author}`, text: n.text, note: true })),
      ].sort((a, b) => a.at - b.at);
      body.replaceChildren(
        ...lines.map((l) =>
          h(
            "li",
            { class: l.note ? "watch-note" : `watch-${l.who}` },
            h("span", { class: "muted" }, `${formatDuration(serverNow() - l.at)} ago · ${l.who}: `),
            l.text,
          ),
        ),
      );
    } catch (err) {
      body.replaceChildren(h("li", { class: "error" }, errorText(err)));
    }
  }

  return {
    card,
    /** Starts watching `conversationId`. */
    watch(conversationId) {
      watching = conversationId;
      card.hidden = false;
      load();
      card.scrollIntoView({ block: "nearest" });
    },
    /** Live events: a message or note on the watched conversation reloads it. */
    onEvent(ev) {
      if (watching && ev.conversation_id === watching) load();
    },
  };
}
