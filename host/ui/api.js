// Talking to the host: JSON calls and the live event stream, signed in
// either with a session cookie (email and password; the browser sends the
// HttpOnly cookie, the page adds the session's CSRF token to changes) or
// with a bearer token kept for this tab.

import { setClockSkew } from "./util.js";

const TOKEN_KEY = "switchboard.token";

// The session's CSRF token: from sign-in, or from /api/me in a new tab.
let csrfToken = null;
export function setCsrf(token) {
  csrfToken = token || null;
}

export function getToken() {
  return sessionStorage.getItem(TOKEN_KEY);
}
export function setToken(token) {
  sessionStorage.setItem(TOKEN_KEY, token);
}
export function clearToken() {
  sessionStorage.removeItem(TOKEN_KEY);
}

/** An answer other than 2xx; `message` is the API's own error message. */
export class ApiError extends Error {
  constructor(status, code, message) {
    super(message);
    this.status = status;
    this.code = code;
  }
}

// Called when a signed-in session's token stops being accepted (401).
let unauthorizedHandler = null;
export function onUnauthorized(fn) {
  unauthorizedHandler = fn;
}

// The Date header has one-second resolution, so only a clear difference is
// taken as skew; otherwise countdowns would jitter by up to a second.
function noteServerDate(res) {
  const date = res.headers.get("date");
  if (!date) return;
  const server = Date.parse(date);
  if (Number.isNaN(server)) return;
  const diff = server - Date.now();
  setClockSkew(Math.abs(diff) > 2000 ? diff : 0);
}

/**
 * Calls the API. Resolves with the parsed JSON body (or null when empty);
 * rejects with an ApiError carrying the server's message.
 * `opts.quiet401` leaves a 401 to the caller (used by sign-in).
 */
export async function api(method, path, body, opts = {}) {
  const headers = { Accept: "application/json" };
  const token = opts.token ?? getToken();
  if (token) headers.Authorization = `Bearer ${token}`;
  else if (csrfToken && method !== "GET" && method !== "HEAD") headers["X-CSRF-Token"] = csrfToken;
  if (body !== undefined) headers["Content-Type"] = "application/json";
  let res;
  try {
    res = await fetch(path, {
      method,
      headers,
      body: body === undefined ? undefined : JSON.stringify(body),
      cache: "no-store",
      signal: opts.signal,
    });
  } catch (err) {
    if (err.name === "AbortError") throw err;
    throw new ApiError(0, "network", `Could not reach the server (${err.message}).`);
  }
  noteServerDate(res);
  const text = await res.text();
  let data = null;
  if (text) {
    try {
      data = JSON.parse(text);
    } catch {
      data = null;
    }
  }
  if (!res.ok) {
    const e = data && data.error;
    const err = new ApiError(
      res.status,
      (e && e.code) || `http_${res.status}`,
      (e && e.message) || `${res.status} ${res.statusText || "error"}`,
    );
    if (res.status === 401 && !opts.quiet401 && unauthorizedHandler) unauthorizedHandler(err);
    throw err;
  }
  return data;
}

export const get = (path, opts) => api("GET", path, undefined, opts);
export const post = (path, body, opts) => api("POST", path, body, opts);
export const put = (path, body, opts) => api("PUT", path, body, opts);
export const del = (path, opts) => api("DELETE", path, undefined, opts);

/** Encodes a path segment (ids are user-chosen for agents). */
export const seg = (s) => encodeURIComponent(s);

// ---- server-sent events ----------------------------------------------------

const KEEPALIVE_TIMEOUT_MS = 45000; // the host sends a comment every 15 s
const BACKOFF_MIN_MS = 1000;
const BACKOFF_MAX_MS = 30000;

/**
 * Follows `GET /api/events` for as long as the returned `stop()` is not
 * called. EventSource cannot send an Authorization header, so this reads the
 * text/event-stream body with fetch and parses it itself.
 *
 * Callbacks: onState("connecting"|"open"|"closed"), onOpen() after every
 * (re)connection — the moment to re-fetch state, since events may have been
 * missed — and onEvent({type, ...json}) per event.
 */
export function followEvents({ onState, onOpen, onEvent }) {
  let stopped = false;
  let controller = null;
  let retryTimer = null;
  let backoff = BACKOFF_MIN_MS;

  let active = false;

  async function connect() {
    if (stopped) return;
    active = true;
    onState("connecting");
    controller = new AbortController();
    let watchdog = null;
    const feed = () => {
      clearTimeout(watchdog);
      watchdog = setTimeout(() => controller.abort(), KEEPALIVE_TIMEOUT_MS);
    };
    try {
      feed();
      const res = await fetch("/api/events", {
        // Signed in with a session, the cookie goes along by itself.
        headers: getToken()
          ? { Authorization: `Bearer ${getToken()}`, Accept: "text/event-stream" }
          : { Accept: "text/event-stream" },
        cache: "no-store",
        signal: controller.signal,
      });
      if (res.status === 401) {
        clearTimeout(watchdog);
        onState("closed");
        if (unauthorizedHandler) unauthorizedHandler(new ApiError(401, "unauthorized", "token no longer accepted"));
        return;
      }
      if (!res.ok || !res.body) throw new Error(`event stream answered ${res.status}`);
      backoff = BACKOFF_MIN_MS;
      onState("open");
      onOpen();
      await readEventStream(res.body, feed, (type, data) => {
        if (type === "lagged") {
          // The host dropped events for us: re-fetch everything.
          onOpen();
          return;
        }
        let payload;
        try {
          payload = JSON.parse(data);
        } catch {
          return;
        }
        onEvent({ ...payload, type: payload.type || type });
      });
    } catch {
      // Network error, abort or a bad answer: fall through to a retry.
    }
    clearTimeout(watchdog);
    active = false;
    if (stopped) return;
    onState("closed");
    // Jitter spreads reconnecting browsers after a host restart.
    const wait = backoff * (0.75 + Math.random() * 0.5);
    backoff = Math.min(backoff * 2, BACKOFF_MAX_MS);
    retryTimer = setTimeout(connect, wait);
  }

  // The browser knows before any keep-alive goes missing: drop the stream
  // when it goes offline, and reconnect at once when it is back.
  const offline = () => {
    if (controller) controller.abort();
  };
  const online = () => {
    backoff = BACKOFF_MIN_MS;
    // A connection attempt still unwinding schedules its own retry.
    if (stopped || active) return;
    clearTimeout(retryTimer);
    connect();
  };
  window.addEventListener("offline", offline);
  window.addEventListener("online", online);

  connect();
  return function stop() {
    stopped = true;
    clearTimeout(retryTimer);
    window.removeEventListener("offline", offline);
    window.removeEventListener("online", online);
    if (controller) controller.abort();
  };
}

/**
 * Parses an SSE body: `event:` and `data:` lines, a blank line ends an
 * event, `:` lines are comments (keep-alives). Calls onBytes on any input.
 */
async function readEventStream(body, onBytes, dispatch) {
  const reader = body.pipeThrough(new TextDecoderStream()).getReader();
  let buffer = "";
  let type = "";
  let data = [];
  for (;;) {
    const { value, done } = await reader.read();
    if (done) return;
    onBytes();
    buffer += value;
    let nl;
    while ((nl = buffer.indexOf("\n")) >= 0) {
      let line = buffer.slice(0, nl);
      buffer = buffer.slice(nl + 1);
      if (line.endsWith("\r")) line = line.slice(0, -1);
      if (line === "") {
        if (data.length) dispatch(type || "message", data.join("\n"));
        type = "";
        data = [];
      } else if (line.startsWith(":")) {
        // comment / keep-alive
      } else {
        const colon = line.indexOf(":");
        const name = colon < 0 ? line : line.slice(0, colon);
        let val = colon < 0 ? "" : line.slice(colon + 1);
        if (val.startsWith(" ")) val = val.slice(1);
        if (name === "event") type = val;
        else if (name === "data") data.push(val);
      }
    }
  }
}

// ---- files -------------------------------------------------------------------

/** An ApiError from a failed raw (non-JSON) answer, with the API's message when it sent one. */
async function rawFailure(res) {
  let e = null;
  try {
    e = (await res.json()).error;
  } catch {
    // not JSON: the status line says enough
  }
  const err = new ApiError(
    res.status,
    (e && e.code) || `http_${res.status}`,
    (e && e.message) || `${res.status} ${res.statusText || "error"}`,
  );
  if (res.status === 401 && unauthorizedHandler) unauthorizedHandler(err);
  return err;
}

/** fetch() signed in the way api() signs: the tab's bearer token, else the session cookie plus CSRF token on changes. */
async function rawFetch(path, init) {
  const headers = { ...init.headers };
  const token = getToken();
  if (token) headers.Authorization = `Bearer ${token}`;
  else if (csrfToken && init.method !== "GET") headers["X-CSRF-Token"] = csrfToken;
  try {
    return await fetch(path, { ...init, headers, cache: "no-store" });
  } catch (err) {
    throw new ApiError(0, "network", `Could not reach the server (${err.message}).`);
  }
}

/** Sends `file` (a File or Blob) as the raw body; resolves with the parsed JSON answer. */
export async function upload(path, file) {
  const res = await rawFetch(path, {
    method: "POST",
    headers: { Accept: "application/json", "Content-Type": file.type || "application/octet-stream" },
    body: file,
  });
  if (!res.ok) throw await rawFailure(res);
  return res.json();
}

/**
 * Downloads a file the API serves only to a signed-in caller (a bearer
 * token cannot go with a plain <img src> or <a href>): resolves with a Blob
 * of the served type.
 */
export async function getBlob(path) {
  const res = await rawFetch(path, { method: "GET", headers: {} });
  if (!res.ok) throw await rawFailure(res);
  return res.blob();
}
