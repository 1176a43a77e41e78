// One entry of the desktop's timeline: a message of the open conversation
// or of the customer's history elsewhere, with its author, time, files and
// delivery tick.

import { h, icon, channelBadge, timeEl, KNOWN_CHANNELS } from "./util.js";

const TICKS = {
  queued: ["◷", "Queued"],
  sent: ["✓", "Sent"],
  delivered: ["✓✓", "Delivered"],
  read: ["✓✓", "Read"],
  failed: ["✗", "Failed"],
};

/** Delivery statuses in the order they happen: a message never goes back. */
export function statusRank(status) {
  return { queued: 0, sent: 1, delivered: 2, read: 3, failed: 4 }[status] ?? 0;
}

function statusTick(m) {
  const status = m.status || "queued";
  const [glyph, label] = TICKS[status] || ["?", status];
  const title = status === "failed" && m.error ? `Failed: ${m.error}` : label;
  return h(
    "span",
    { class: `tick tick-${status}`, "data-testid": "message-status", "data-status": status, title, "aria-label": title },
    glyph,
  );
}

function authorLabel(m, customer, meId) {
  switch (m.author) {
    case "customer":
      return customer;
    case "agent":
      return m.agent_id && m.agent_id !== meId ? m.agent_name || `Agent ${m.agent_id}` : "You";
    case "bot":
      return "Bot";
    case "system":
      return "System";
    default:
      return m.author || "—";
  }
}

/**
 * Message `m` as a timeline item. `customer` is the customer's name, `meId`
 * the signed-in agent's id; `files` is its rendered attachments (or null);
 * `history`: it is from another conversation or channel.
 */
export function messageEntry(m, { history, customer, meId, files }) {
  const outbound = m.direction === "outbound";
  const cls = ["msg", outbound ? "out" : "in", `author-${m.author}`];
  if (history) cls.push("history", `ch-${KNOWN_CHANNELS.includes(m.channel) ? m.channel : "generic"}`);
  return h(
    "li",
    {
      class: cls.join(" "),
      "data-testid": "timeline-entry",
      "data-channel": m.channel,
      "data-direction": m.direction,
      "data-author": m.author,
      "data-message-id": m.id,
      "data-history": history ? "true" : null,
    },
    h(
      "div",
      { class: "msg-meta" },
      history ? h("span", { class: "via" }, channelBadge(m.channel), " ", m.channel) : null,
      m.author === "bot" ? icon("bot") : null,
      h("span", { class: "who" }, authorLabel(m, customer, meId)),
      m.at ? timeEl(m.at) : null,
    ),
    h("div", { class: "msg-text" }, m.text || (m.attachments && m.attachments.length ? "" : "(no text)")),
    files,
    outbound ? statusTick(m) : null,
    outbound && m.status === "failed" && m.error ? h("div", { class: "msg-error" }, m.error) : null,
    redactedNote(m),
  );
}

// What was masked before the message was stored (a card number typed into
// a chat): said, so an agent knows why the text reads [CARD].
const REDACTED_LABELS = { card: "a card number" };

function redactedNote(m) {
  const hits = m.redacted || [];
  if (!hits.length) return null;
  const what = hits.map((d) => REDACTED_LABELS[d] || d).join(", ");
  return h("div", { class: "msg-redacted", "data-testid": "redacted" }, `Redacted before it was stored: ${what}`);
}
