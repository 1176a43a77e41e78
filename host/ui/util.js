// Small DOM and formatting helpers shared by every screen.

const SVG_NS = "http://www.w3.org/2000/svg";

/**
 * Builds an element: h("button", {class: "x", onclick: fn, "data-testid": "y"}, "text", child).
 * Attributes whose value is null/undefined/false are left out; `true` sets an empty attribute.
 * Children may be strings, numbers, nodes, arrays or null (skipped).
 */
export function h(tag, attrs, ...children) {
  const el = document.createElement(tag);
  append(el, children); // children first: a <select>'s value needs its options
  setAttrs(el, attrs);
  return el;
}

/** The same for SVG elements (they need their namespace). */
export function s(tag, attrs, ...children) {
  const el = document.createElementNS(SVG_NS, tag);
  setAttrs(el, attrs);
  append(el, children);
  return el;
}

function setAttrs(el, attrs) {
  if (!attrs) return;
  for (const [key, value] of Object.entries(attrs)) {
    if (value === null || value === undefined || value === false) continue;
    if (key.startsWith("on") && typeof value === "function") {
      el.addEventListener(key.slice(2), value);
    } else if (key === "value" && "value" in el && !(el instanceof SVGElement)) {
      el.value = value; // the property, so selects and inputs show it
    } else {
      el.setAttribute(key, value === true ? "" : String(value));
    }
  }
}

function append(el, children) {
  for (const child of children.flat(Infinity)) {
    if (child === null || child === undefined || child === false) continue;
    el.append(child instanceof Node ? child : String(child));
  }
}

/**
 * Keeps `container`'s children in step with `items` by key, reusing the
 * elements that stay, so focus and in-progress input survive a refresh.
 * `create(item)` makes a new element; `update(el, item)` refreshes one.
 */
export function reconcile(container, items, key, create, update) {
  const existing = new Map();
  for (const el of container.children) {
    if (el.dataset.key !== undefined) existing.set(el.dataset.key, el);
  }
  let cursor = container.firstElementChild;
  for (const item of items) {
    const k = String(key(item));
    let el = existing.get(k);
    if (el) {
      existing.delete(k);
      if (update) update(el, item);
    } else {
      el = create(item);
      el.dataset.key = k;
    }
    if (el !== cursor) container.insertBefore(el, cursor);
    else cursor = cursor.nextElementSibling;
  }
  for (const el of existing.values()) el.remove();
}

// ---- icons ---------------------------------------------------------------

// 24×24 stroke icons drawn inline (no icon font, no external file).
const ICON_PATHS = {
  whatsapp: [
    "M4 20l1.3-3.9A8 8 0 1 1 8 18.7L4 20z",
    "M9 9.5c0 3 2.5 5.5 5.5 5.5l1-1.5-2-1-1 .8a4 4 0 0 1-2-2l.8-1-1-2L9 9.5z",
  ],
  sms: ["M4 5h16v11H9l-5 4V5z", "M8 10.5h.01M12 10.5h.01M16 10.5h.01"],
  voice: [
    "M5 4h4l2 5-2.5 1.5a11 11 0 0 0 5 5L15 13l5 2v4a2 2 0 0 1-2 2A16 16 0 0 1 3 6a2 2 0 0 1 2-2z",
  ],
  email: ["M3 6h18v12H3z", "M3 7l9 6 9-6"],
  webchat: ["M3 4h13v9H8l-5 4V4z", "M16 8h5v9l-3-2.5h-7V13"],
  generic: ["M12 3a9 9 0 1 0 0 18 9 9 0 0 0 0-18z", "M3 12h18M12 3c3 3 3 15 0 18M12 3c-3 3-3 15 0 18"],
  bot: ["M5 8h14v11H5z", "M12 4v4M9 13h.01M15 13h.01M9 16h6"],
  user: ["M12 12a4 4 0 1 0 0-8 4 4 0 0 0 0 8z", "M4 21a8 8 0 0 1 16 0"],
  alert: ["M12 3l10 18H2L12 3z", "M12 10v5M12 18h.01"],
};

/** The names with their own icon; anything else is drawn as `generic`. */
export const KNOWN_CHANNELS = ["whatsapp", "sms", "voice", "email", "webchat"];

/** An inline, decorative SVG icon (the text next to it names the thing). */
export function icon(name, cls = "icon") {
  const paths = ICON_PATHS[name] || ICON_PATHS.generic;
  return s(
    "svg",
    { class: cls, viewBox: "0 0 24 24", width: 16, height: 16, "aria-hidden": "true", focusable: "false" },
    paths.map((d) => s("path", { d })),
  );
}

/** Icon plus visually-hidden name for a channel plugin. */
export function channelBadge(channel) {
  const known = KNOWN_CHANNELS.includes(channel) ? channel : "generic";
  return h(
    "span",
    { class: `ch ch-${known}`, title: channel },
    icon(known),
    h("span", { class: "sr-only" }, channel),
  );
}

// ---- time ----------------------------------------------------------------

// Server timestamps are unix ms from the host's clock; `serverNow` corrects
// for a skewed browser clock using the HTTP Date header (see api.js).
let skewMs = 0;
export function setClockSkew(ms) {
  skewMs = ms;
}
export function serverNow() {
  return Date.now() + skewMs;
}

/** 5s, 3m 05s, 2h 04m: compact durations for waits and countdowns. */
export function formatDuration(ms) {
  if (ms === null || ms === undefined || !Number.isFinite(ms)) return "—";
  const neg = ms < 0;
  let sec = Math.floor(Math.abs(ms) / 1000);
  const hrs = Math.floor(sec / 3600);
  sec -= hrs * 3600;
  const min = Math.floor(sec / 60);
  sec -= min * 60;
  const pad = (n) => String(n).padStart(2, "0");
  let out;
  if (hrs) out = `${hrs}h ${pad(min)}m`;
  else if (min) out = `${min}m ${pad(sec)}s`;
  else out = `${sec}s`;
  return neg ? `-${out}` : out;
}

/** A message time: "14:03" today, "3 Mar 14:03" otherwise. */
export function formatTime(ms) {
  const d = new Date(ms);
  const today = new Date();
  const time = d.toLocaleTimeString([], { hour: "2-digit", minute: "2-digit" });
  if (d.toDateString() === today.toDateString()) return time;
  return `${d.toLocaleDateString([], { day: "numeric", month: "short" })} ${time}`;
}

/** A <time> element with the full date in its tooltip. */
export function timeEl(ms) {
  const d = new Date(ms);
  return h("time", { datetime: d.toISOString(), title: d.toLocaleString() }, formatTime(ms));
}

// ---- live counters -------------------------------------------------------

/**
 * Elements carrying `data-since` (elapsed) or `data-deadline` (remaining)
 * are refreshed by one shared one-second ticker instead of re-rendering
 * whole lists. `data-format="sla"` adds the breached wording.
 */
export function tickCounters(root) {
  const now = serverNow();
  for (const el of root.querySelectorAll("[data-since]")) {
    el.textContent = formatDuration(now - Number(el.dataset.since));
  }
  for (const el of root.querySelectorAll("[data-deadline]")) {
    const left = Number(el.dataset.deadline) - now;
    if (el.dataset.format === "sla") {
      el.textContent = left >= 0 ? `SLA ${formatDuration(left)}` : `SLA breached ${formatDuration(-left)}`;
      el.classList.toggle("breached", left < 0);
      el.classList.toggle("at-risk", left >= 0 && left < Number(el.dataset.target || 0) * 0.2);
    } else {
      el.textContent = `${Math.max(0, Math.ceil(left / 1000))}s`;
      el.classList.toggle("urgent", left < 10000);
    }
  }
}

// ---- misc ----------------------------------------------------------------

/** The message of an API error or any other failure, for the user. */
export function errorText(err) {
  if (!err) return "Something went wrong.";
  return err.message || String(err);
}

/** Runs `fn` at most once per `ms`, trailing (for bursts of live events). */
export function debounce(fn, ms) {
  let timer = null;
  return () => {
    clearTimeout(timer);
    timer = setTimeout(fn, ms);
  };
}

/** A <label> + control pair; the control gets an id the label points at. */
let idSeq = 0;
export function field(labelText, control, hint) {
  const id = control.id || `f${++idSeq}`;
  control.id = id;
  const hintEl = hint ? h("span", { class: "hint", id: `${id}-hint` }, hint) : null;
  if (hintEl) control.setAttribute("aria-describedby", hintEl.id);
  return h("div", { class: "field" }, h("label", { for: id }, labelText), control, hintEl);
}

/** A unique id for aria-labelledby and friends. */
export function uid(prefix = "u") {
  return `${prefix}${++idSeq}`;
}

/** Title-cases a word for display ("messaging" → "Messaging"). */
export function cap(word) {
  return word ? word[0].toUpperCase() + word.slice(1) : "";
}
