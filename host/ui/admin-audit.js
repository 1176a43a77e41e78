// The admin console's audit section: the audit trail (`GET /api/audit`),
// filtered by who, what, which id and since when, with what each change
// was before and after, paged, and downloadable as CSV.

import { h, field, errorText, timeEl, uid } from "./util.js";
import { get, getBlob } from "./api.js";

/** Entries per page. */
const PAGE = 100;
/** How far back the section looks unless told otherwise. */
const DEFAULT_HOURS = 24;

/** A value in a line: short, its name (or title) first when it has one. */
function brief(value) {
  if (value && typeof value === "object" && !Array.isArray(value)) {
    const first = ["name", "title", "status"].filter((k) => k in value);
    const rest = Object.keys(value).filter((k) => !first.includes(k));
    const parts = [...first, ...rest].map((k) => `${k}: ${JSON.stringify(value[k])}`);
    const text = parts.join(", ");
    return text.length > 120 ? `${text.slice(0, 117)}…` : text;
  }
  const text = JSON.stringify(value);
  return text.length > 120 ? `${text.slice(0, 117)}…` : text;
}

/** What a change did, in a line: created, deleted, or the fields that differ. */
function changeText(before, after) {
  if (before === null || before === undefined) return `created: ${brief(after)}`;
  if (after === null || after === undefined) return `deleted: ${brief(before)}`;
  if (typeof before === "object" && typeof after === "object" && !Array.isArray(before)) {
    const keys = [...new Set([...Object.keys(before), ...Object.keys(after)])];
    const changed = keys.filter((k) => JSON.stringify(before[k]) !== JSON.stringify(after[k]));
    if (!changed.length) return "no change";
    return changed.map((k) => `${k}: ${JSON.stringify(before[k])} → ${JSON.stringify(after[k])}`).join("; ");
  }
  return `${brief(before)} → ${brief(after)}`;
}

/** What an entry changed or says, as a cell. */
function detail(e) {
  const parts = [];
  if ("before" in e || "after" in e) {
    parts.push(
      h(
        "span",
        { class: "audit-change", "data-testid": "audit-change", title: `${JSON.stringify(e.before)} → ${JSON.stringify(e.after)}` },
        changeText(e.before, e.after),
      ),
    );
  }
  const reason = e.reason || (e.merged ? `merged ${e.merged} into ${e.survivor}` : "");
  if (reason) parts.push(h("span", { class: "muted" }, reason));
  return parts;
}

function row(e) {
  return h(
    "tr",
    { "data-testid": "audit-row", "data-action": e.action, "data-actor": e.actor },
    h("td", null, timeEl(e.at)),
    h("td", null, h("code", null, e.action)),
    h("td", null, e.actor, e.role && e.role !== e.actor ? h("span", { class: "muted" }, ` (${e.role})`) : null),
    h("td", null, (e.targets || []).join(", ")),
    h("td", null, e.address || ""),
    h("td", null, e.status ? String(e.status) : ""),
    h("td", null, detail(e)),
  );
}

/** A local datetime-local value for unix ms. */
function localInput(ms) {
  const d = new Date(ms - new Date(ms).getTimezoneOffset() * 60000);
  return d.toISOString().slice(0, 16);
}

/**
 * The audit card: `{card, refresh}`. Nothing is fetched until `refresh()`
 * (the console calls it when shown).
 */
export function auditCard() {
  const id = uid("aud");
  const inputs = {
    actor: h("input", { type: "text", placeholder: "admin, sue, system…", "data-testid": "audit-actor" }),
    action: h("input", { type: "text", placeholder: "consent, PUT /api/agents…", "data-testid": "audit-action" }),
    target: h("input", { type: "text", placeholder: "an id", "data-testid": "audit-target" }),
    from: h("input", { type: "datetime-local", "data-testid": "audit-from" }),
  };
  inputs.from.value = localInput(Date.now() - DEFAULT_HOURS * 3600 * 1000);
  const body = h("tbody");
  const note = h("p", { class: "muted", role: "status", "data-testid": "audit-note" });
  const more = h("button", { type: "button", class: "ghost", hidden: true, "data-testid": "audit-more" }, "More");
  const csv = h("button", { type: "button", class: "ghost", "data-testid": "audit-csv" }, "Download CSV");
  let last = null;

  function query(extra) {
    const q = new URLSearchParams();
    for (const key of ["actor", "action", "target"]) {
      const v = inputs[key].value.trim();
      if (v) q.set(key, v);
    }
    const from = inputs.from.value ? new Date(inputs.from.value).getTime() : NaN;
    if (!Number.isNaN(from)) q.set("from", String(from));
    for (const [k, v] of Object.entries(extra || {})) q.set(k, v);
    return q;
  }

  async function load(append) {
    const q = query({ limit: String(PAGE) });
    if (append && last) q.set("after", last);
    try {
      const entries = await get(`/api/audit?${q}`);
      if (!append) body.replaceChildren();
      body.append(...entries.map(row));
      last = entries.length ? entries[entries.length - 1].id : last;
      more.hidden = entries.length < PAGE;
      const shown = body.children.length;
      note.textContent = shown ? `${shown} entr${shown === 1 ? "y" : "ies"}, oldest first.` : "No entries match.";
    } catch (err) {
      note.textContent = `Could not load the audit trail: ${errorText(err)}`;
    }
  }

  async function download() {
    try {
      const blob = await getBlob(`/api/audit?${query({ format: "csv" })}`);
      const a = h("a", { href: URL.createObjectURL(blob), download: "audit.csv" });
      document.body.append(a);
      a.click();
      a.remove();
      setTimeout(() => URL.revokeObjectURL(a.href), 10000);
    } catch (err) {
      note.textContent = `Could not export: ${errorText(err)}`;
    }
  }

  const form = h(
    "form",
    { class: "audit-filters", "data-testid": "audit-filters" },
    field("Actor", inputs.actor),
    field("Action", inputs.action),
    field("About (id)", inputs.target),
    field("Since", inputs.from),
    h("button", { type: "submit", "data-testid": "audit-apply" }, "Show"),
    csv,
  );
  form.addEventListener("submit", (e) => {
    e.preventDefault();
    last = null;
    load(false);
  });
  more.addEventListener("click", () => load(true));
  csv.addEventListener("click", download);

  const card = h(
    "section",
    { class: "card wide", "data-testid": "audit-admin", "aria-labelledby": id },
    h("h2", { id }, "Audit trail"),
    h("p", { class: "muted" }, "Every privileged action: who, what, when, from where, and what it changed."),
    form,
    h(
      "div",
      { class: "table-wrap" },
      h(
        "table",
        { "data-testid": "audit-table" },
        h(
          "thead",
          null,
          h("tr", null, ...["When", "Action", "Who", "About", "From", "Answer", "Change"].map((t) => h("th", { scope: "col" }, t))),
        ),
        body,
      ),
    ),
    note,
    more,
  );
  return {
    card,
    refresh() {
      last = null;
      return load(false);
    },
  };
}
