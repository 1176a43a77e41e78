// The customer panel of the agent desktop: who they are (verified
// identities, unverified claims, attributes) and their other
// conversations with how each ended.

import { h, icon, uid, timeEl, channelBadge } from "./util.js";

/**
 * The panel for customer `c` (null while loading, `{failed}` if it could
 * not be loaded). `past` is the conversation view's `past_conversations`
 * (null until the conversation is loaded).
 */
export function profileView(c, { name, meId, past }) {
  const titleId = uid("profile");
  let body;
  if (!c) body = [h("p", { role: "status" }, "Loading profile…")];
  else if (c.failed) body = [h("p", { class: "error" }, "The profile could not be loaded.")];
  else {
    const attrs = Object.entries(c.attributes || {});
    body = [
      h("h3", null, "Identities"),
      h(
        "ul",
        { class: "identities" },
        (c.identities || []).map((i) => h("li", null, h("span", { class: "kind" }, kindLabel(i)), " ", h("span", { class: "value" }, valueLabel(i)))),
      ),
      // What the customer typed without proof: never who they are.
      (c.claims || []).length
        ? h(
            "div",
            { class: "claims", role: "note", "data-testid": "claims" },
            h("h3", null, icon("alert"), " Unverified"),
            h(
              "ul",
              { class: "identities" },
              c.claims.map((i) =>
                h("li", null, "Claims to be ", h("span", { class: "kind" }, i.kind), " ", h("span", { class: "value" }, i.value), ", unverified"),
              ),
            ),
          )
        : null,
      optOuts(c.consent),
      h("h3", null, "Attributes"),
      attrs.length
        ? h("dl", { class: "attributes" }, attrs.map(([k, v]) => [h("dt", null, attributeLabel(k)), h("dd", null, attributeValue(v))]))
        : h("p", { class: "muted" }, "None"),
      c.created_at ? h("p", { class: "muted" }, "Customer since ", timeEl(c.created_at)) : null,
      c.last_agent ? h("p", { class: "muted" }, `Last served by ${c.last_agent === meId ? "you" : c.last_agent}`) : null,
    ];
  }
  return h(
    "div",
    { class: "profile", "data-testid": "profile-panel", "aria-labelledby": titleId },
    h("h2", { id: titleId }, icon("user"), " ", name),
    body,
    past ? pastConversations(past) : null,
  );
}

// Channels she opted out of (STOP): replies there are refused until she
// writes START, so the agent knows before typing one.
function optOuts(consent) {
  const out = Object.entries(consent || {}).filter(([, c]) => c.status === "opted_out");
  if (!out.length) return null;
  return h(
    "div",
    { class: "claims", role: "note", "data-testid": "opted-out" },
    h("h3", null, icon("alert"), " Opted out"),
    h(
      "ul",
      { class: "identities" },
      out.map(([channel, c]) => h("li", null, `No messages on ${channel} (${c.source}, `, timeEl(c.at), ")")),
    ),
  );
}

function pastConversations(past) {
  return [
    h("h3", null, "Past conversations"),
    past.length
      ? h(
          "ul",
          { class: "past-conversations" },
          past.map((c) =>
            h(
              "li",
              { class: "past", "data-testid": "past-conversation", "data-conversation-id": c.id, "data-status": c.status },
              h("div", { class: "past-head" }, channelBadge(c.channel), " ", timeEl(c.created_at), h("span", { class: `state past-${c.status}` }, c.status)),
              c.disposition ? h("div", { class: "small" }, "Disposition: ", h("span", { "data-testid": "past-disposition" }, c.disposition)) : null,
              (c.labels || []).length ? h("ul", { class: "chips" }, c.labels.map((l) => h("li", { class: "chip label-chip" }, l))) : null,
            ),
          ),
        )
      : h("p", { class: "muted" }, "None"),
  ];
}

// People read "Email" and a date, not `email` and 1796171048526; a
// channel handle is the host's own key for an anonymous visitor.
const KIND_LABELS = { email: "Email", phone: "Phone", handle: "Visitor" };

function kindLabel(identity) {
  return KIND_LABELS[identity.kind] || identity.kind;
}

function valueLabel(identity) {
  if (identity.kind !== "handle") return identity.value;
  const channel = String(identity.value).split(":")[0];
  return `on ${channel === "webchat" ? "web chat" : channel} (no email or phone given)`;
}

function attributeLabel(key) {
  const words = String(key).replace(/_at$/, "").replace(/[_-]+/g, " ").trim();
  return words.charAt(0).toUpperCase() + words.slice(1);
}

/** Unix-ms and ISO-8601 values as local dates; anything else as given. */
function attributeValue(value) {
  const text = String(value);
  const ms = /^\d{12,13}$/.test(text) ? Number(text) : /^\d{4}-\d{2}-\d{2}(T|$)/.test(text) ? Date.parse(text) : NaN;
  return Number.isNaN(ms) ? text : new Date(ms).toLocaleString();
}
