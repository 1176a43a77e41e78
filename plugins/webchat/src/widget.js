/*
 * Switchboard web chat widget. No dependencies, no external resources.
 *
 * Embed with:
 *   <script src="https://cc.example.com/webhooks/webchat/widget.js" defer></script>
 *
 * Optional attributes on the script tag:
 *   data-title="Chat with us"   panel title
 *   data-prechat="off"          skip the pre-chat form (name, email, phone)
 *   data-position="left"        put the button bottom-left
 *   data-color="#0b5fff"        accent colour
 *   data-consent="I agree …"    a consent box the visitor must tick before
 *                               her first message; Switchboard records it
 *                               (with this text) on her profile
 *
 * The widget talks to the endpoint its own script was loaded from. It keeps
 * the session id, its secret and the transcript in localStorage, posts
 * messages as JSON and polls for agent replies every 2 seconds (backing off
 * after errors). window.SwitchboardWebchat.open() / .close() control it.
 */
(() => {
  "use strict";

  const script = document.currentScript;
  if (!script || !script.src || window.SwitchboardWebchat) return;

  const src = new URL(script.src, document.baseURI);
  src.search = "";
  src.hash = "";
  const endpoint = src.href.replace(/\/widget\.js$/, "");
  const options = {
    title: script.dataset.title || "Chat with us",
    prechat: script.dataset.prechat !== "off",
    left: script.dataset.position === "left",
    color: script.dataset.color || "",
    consent: (script.dataset.consent || "").trim().slice(0, 300),
  };

  const POLL_MS = 2000;
  const HIDDEN_POLL_MS = 10000;
  const MAX_BACKOFF_MS = 30000;
  const MAX_TEXT = 4000;
  const MAX_TRANSCRIPT = 200;
  const STORAGE_KEY = "switchboard-webchat:" + endpoint;

  // ---- state ---------------------------------------------------------------

  const memory = {};
  const storage = {
    get() {
      try {
        return JSON.parse(window.localStorage.getItem(STORAGE_KEY) || "null");
      } catch (_) {
        return memory.value || null;
      }
    },
    set(value) {
      memory.value = value;
      try {
        window.localStorage.setItem(STORAGE_KEY, JSON.stringify(value));
      } catch (_) {
        /* storage disabled or full: keep it in memory for this page */
      }
    },
  };

  const fresh = () => ({
    sessionId: null,
    secret: null,
    after: 0,
    visitor: null,
    prechatDone: !options.prechat,
    consentGiven: false,
    consentPending: false,
    transcript: [],
  });
  let state = Object.assign(fresh(), storage.get() || {});
  if (!Array.isArray(state.transcript)) state.transcript = [];
  // A page closed while sending: offer a retry instead of "Sending…" forever.
  for (const entry of state.transcript) if (entry.state === "sending") entry.state = "failed";
  const save = () => {
    state.transcript = state.transcript.slice(-MAX_TRANSCRIPT);
    storage.set(state);
  };

  const randomHex = (bytes) =>
    Array.from(crypto.getRandomValues(new Uint8Array(bytes)), (b) =>
      b.toString(16).padStart(2, "0"),
    ).join("");

  const newSession = () => {
    state.sessionId = "wc-" + randomHex(16);
    state.secret = null;
    state.after = 0;
  };

  // ---- DOM -----------------------------------------------------------------

  // Survey scales by kind (the host's `switchboard-survey` metadata).
  const SCALES = { csat: [1, 5], nps: [0, 10], ces: [1, 7] };

  const CSS = `
    :host { all: initial; }
    * { box-sizing: border-box; }
    .sb { --accent: #0b5fff; font: 15px/1.45 system-ui, -apple-system, "Segoe UI", Roboto, sans-serif;
      color: #1f2328; position: fixed; bottom: 20px; right: 20px; z-index: 2147483000; }
    .sb.left { right: auto; left: 20px; }
    button { font: inherit; cursor: pointer; }
    :focus-visible { outline: 3px solid var(--accent); outline-offset: 2px; }
    .launcher { display: flex; align-items: center; gap: 8px; border: 0; border-radius: 999px;
      padding: 12px 18px; background: var(--accent); color: #fff; font-weight: 600;
      box-shadow: 0 4px 14px rgba(0,0,0,.25); }
    .launcher[aria-expanded="true"] { display: none; }
    .badge { min-width: 20px; padding: 0 6px; border-radius: 999px; background: #fff;
      color: var(--accent); font-size: 12px; text-align: center; }
    .panel { width: 360px; max-width: calc(100vw - 40px); height: 520px; max-height: calc(100vh - 40px);
      display: flex; flex-direction: column; background: #fff; border-radius: 12px;
      box-shadow: 0 8px 30px rgba(0,0,0,.3); overflow: hidden; }
    .panel[hidden], [hidden] { display: none !important; }
    header { display: flex; align-items: center; justify-content: space-between; padding: 12px 16px;
      background: var(--accent); color: #fff; }
    h2 { margin: 0; font-size: 16px; }
    .close { border: 0; background: transparent; color: #fff; font-size: 22px; line-height: 1;
      padding: 2px 8px; border-radius: 6px; }
    .prechat { padding: 16px; display: flex; flex-direction: column; gap: 10px; overflow-y: auto; }
    .prechat p { margin: 0; }
    label { display: flex; flex-direction: column; gap: 4px; font-size: 13px; font-weight: 600; }
    input, textarea { font: inherit; font-weight: 400; padding: 8px 10px; border: 1px solid #8c959f;
      border-radius: 8px; color: inherit; background: #fff; }
    .row { display: flex; gap: 8px; }
    .primary { border: 0; border-radius: 8px; padding: 8px 14px; background: var(--accent); color: #fff; }
    .secondary { border: 1px solid #8c959f; border-radius: 8px; padding: 8px 14px; background: #fff; color: inherit; }
    .messages { flex: 1; margin: 0; padding: 12px; list-style: none; overflow-y: auto;
      display: flex; flex-direction: column; gap: 8px; background: #f6f8fa; }
    .messages li { max-width: 85%; padding: 8px 12px; border-radius: 12px; white-space: pre-wrap;
      overflow-wrap: anywhere; }
    .messages .me { align-self: flex-end; background: var(--accent); color: #fff; }
    .messages .agent { align-self: flex-start; background: #fff; border: 1px solid #d0d7de; }
    .messages .note { align-self: center; background: transparent; color: #57606a; font-size: 13px; }
    .who { display: block; font-size: 12px; font-weight: 600; color: #57606a; }
    .meta { display: block; font-size: 11px; opacity: .8; margin-top: 2px; }
    .retry { border: 0; background: transparent; color: inherit; text-decoration: underline; padding: 0; }
    .notice { margin: 0; padding: 4px 12px; font-size: 12px; color: #9a6700; background: #fff8c5; }
    .notice:empty { display: none; }
    .consent { display: flex; gap: 6px; align-items: flex-start; padding: 8px 10px 0; font-size: 12px; }
    .compose { display: flex; gap: 8px; padding: 10px; border-top: 1px solid #d0d7de; align-items: flex-end; }
    .compose label { flex: 1; }
    .compose textarea { width: 100%; resize: none; }
    .sr-only { position: absolute; width: 1px; height: 1px; overflow: hidden; clip: rect(0 0 0 0);
      white-space: nowrap; }
    .rating { display: flex; flex-wrap: wrap; gap: 4px; margin-top: 6px; }
    .rating button { min-width: 30px; border: 1px solid #d0d7de; border-radius: 8px; background: #fff;
      color: inherit; padding: 4px 6px; cursor: pointer; }
    .rating button:hover, .rating button:focus-visible { border-color: var(--accent); }
    .file { display: block; margin-top: 6px; border: 1px solid #d0d7de; border-radius: 8px;
      background: #f6f8fa; color: inherit; padding: 4px 10px; text-align: left; }
    /* On a phone the open chat takes the whole screen. */
    @media (max-width: 480px) {
      .sb:has(.panel:not([hidden])) { inset: 0; }
      .panel { width: 100vw; max-width: 100vw; height: 100dvh; max-height: 100dvh; border-radius: 0; }
    }
  `;

  const el = (tag, props, ...children) => {
    const node = document.createElement(tag);
    for (const [k, v] of Object.entries(props || {})) {
      if (k === "class") node.className = v;
      else if (k === "text") node.textContent = v;
      else if (k.startsWith("on")) node.addEventListener(k.slice(2), v);
      else if (v === true) node.setAttribute(k, "");
      else if (v !== false && v != null) node.setAttribute(k, String(v));
    }
    for (const child of children) if (child) node.append(child);
    return node;
  };

  const field = (label, input) => el("label", {}, el("span", { text: label }), input);

  let root;
  let ui;

  function build() {
    const hostEl = el("div", { "data-switchboard-webchat": "" });
    root = hostEl.attachShadow ? hostEl.attachShadow({ mode: "open" }) : hostEl;
    if (
      root !== hostEl &&
      "adoptedStyleSheets" in root &&
      typeof CSSStyleSheet === "function" &&
      "replaceSync" in CSSStyleSheet.prototype
    ) {
      const sheet = new CSSStyleSheet();
      sheet.replaceSync(CSS);
      root.adoptedStyleSheets = [sheet];
    } else {
      root.append(el("style", { text: CSS }));
    }

    const badge = el("span", { class: "badge", hidden: true, "aria-hidden": "true" });
    const launcher = el(
      "button",
      { class: "launcher", type: "button", "aria-expanded": "false", "aria-controls": "sb-panel" },
      el("span", { text: "Chat" }),
      badge,
    );

    const name = el("input", { type: "text", name: "name", autocomplete: "name", maxlength: 120 });
    const email = el("input", { type: "email", name: "email", autocomplete: "email", maxlength: 254 });
    const phone = el("input", {
      type: "tel",
      name: "phone",
      autocomplete: "tel",
      maxlength: 32,
      // Escaped for the `v` flag current browsers compile patterns with
      // (unescaped parentheses are an error there, logged on every page).
      pattern: "[0-9+\\(\\)\\.\\s\\-]{6,32}",
    });
    const prechat = el(
      "form",
      { class: "prechat" },
      el("p", { text: "Tell us who you are (optional) so we can find your earlier conversations." }),
      field("Name", name),
      field("Email", email),
      field("Phone", phone),
      el(
        "div",
        { class: "row" },
        el("button", { class: "primary", type: "submit", text: "Start chat" }),
        el("button", { class: "secondary", type: "button", text: "Skip", onclick: () => finishPrechat(null) }),
      ),
    );
    prechat.addEventListener("submit", (event) => {
      event.preventDefault();
      if (!prechat.reportValidity()) return;
      const visitor = {};
      for (const [key, input] of [["name", name], ["email", email], ["phone", phone]]) {
        const value = input.value.trim();
        if (value) visitor[key] = value;
      }
      finishPrechat(Object.keys(visitor).length ? visitor : null);
    });

    const list = el("ol", {
      class: "messages",
      role: "log",
      "aria-live": "polite",
      "aria-relevant": "additions",
      "aria-label": "Messages",
      tabindex: "0",
    });
    const notice = el("p", { class: "notice", role: "status", "data-testid": "sb-notice" });
    const input = el("textarea", {
      rows: 2,
      maxlength: MAX_TEXT,
      placeholder: "Type a message…",
      enterkeyhint: "send",
    });
    const consentBox = el("input", { type: "checkbox", "data-testid": "sb-consent" });
    const consent = el("label", { class: "consent", hidden: true }, consentBox, el("span", { text: options.consent }));
    const compose = el(
      "form",
      { class: "compose" },
      el("label", {}, el("span", { class: "sr-only", text: "Your message" }), input),
      el("button", { class: "primary", type: "submit", text: "Send" }),
    );
    compose.addEventListener("submit", (event) => {
      event.preventDefault();
      submit();
    });
    input.addEventListener("keydown", (event) => {
      if (event.key === "Enter" && !event.shiftKey && !event.isComposing) {
        event.preventDefault();
        submit();
      }
    });

    const closeButton = el("button", {
      class: "close",
      type: "button",
      "aria-label": "Close chat",
      text: "×",
      onclick: () => close(),
    });
    const panel = el(
      "section",
      { class: "panel", id: "sb-panel", role: "dialog", "aria-label": options.title, hidden: true },
      el("header", {}, el("h2", { text: options.title }), closeButton),
      prechat,
      list,
      notice,
      consent,
      compose,
    );
    panel.addEventListener("keydown", (event) => {
      if (event.key === "Escape") {
        event.preventDefault();
        close();
      }
    });
    launcher.addEventListener("click", () => open());

    const container = el("div", { class: options.left ? "sb left" : "sb" }, launcher, panel);
    if (options.color && window.CSS && CSS_supports("color", options.color)) {
      container.style.setProperty("--accent", options.color);
    }
    root.append(container);
    document.body.append(hostEl);

    ui = { launcher, badge, panel, prechat, name, list, notice, consent, consentBox, input, compose, unread: 0 };
    showStage();
    for (const entry of state.transcript) render(entry);
  }

  function CSS_supports(prop, value) {
    try {
      return window.CSS.supports(prop, value);
    } catch (_) {
      return false;
    }
  }

  function showStage() {
    const chatting = state.prechatDone;
    ui.prechat.hidden = chatting;
    ui.list.hidden = !chatting;
    ui.compose.hidden = !chatting;
    ui.consent.hidden = !chatting || !options.consent || state.consentGiven;
  }

  function finishPrechat(visitor) {
    state.visitor = visitor;
    state.prechatDone = true;
    save();
    showStage();
    ui.input.focus();
  }

  function open() {
    ui.panel.hidden = false;
    ui.launcher.setAttribute("aria-expanded", "true");
    ui.unread = 0;
    updateBadge();
    (state.prechatDone ? ui.input : ui.name).focus();
    scrollDown();
  }

  function close() {
    ui.panel.hidden = true;
    ui.launcher.setAttribute("aria-expanded", "false");
    ui.launcher.focus();
  }

  function updateBadge() {
    ui.badge.hidden = ui.unread === 0;
    ui.badge.textContent = String(ui.unread);
    ui.launcher.setAttribute(
      "aria-label",
      ui.unread ? `Open chat, ${ui.unread} new message${ui.unread > 1 ? "s" : ""}` : "Open chat",
    );
  }

  const scrollDown = () => {
    ui.list.scrollTop = ui.list.scrollHeight;
  };

  const timeOf = (at) => {
    try {
      return new Date(at).toLocaleTimeString([], { hour: "2-digit", minute: "2-digit" });
    } catch (_) {
      return "";
    }
  };

  // One <li> per transcript entry; re-rendering an entry replaces its node.
  const nodes = new Map();
  function render(entry) {
    const who = entry.who === "me" ? "You" : entry.who === "agent" ? entry.name || "Agent" : "";
    const meta = el("span", { class: "meta" });
    if (entry.who === "me" && entry.state === "sending") meta.textContent = "Sending…";
    else if (entry.who === "me" && entry.state === "failed") {
      meta.append("Not sent. ");
      meta.append(el("button", { class: "retry", type: "button", text: "Retry", onclick: () => resend(entry) }));
    } else meta.textContent = timeOf(entry.at);
    const li = el(
      "li",
      { class: entry.who === "me" ? "me" : entry.who === "agent" ? "agent" : "note" },
      // Who answered, by name when the host gave it (visible: after a
      // transfer the visitor sees someone else took over).
      entry.who === "agent" && entry.name
        ? el("span", { class: "who", text: entry.name })
        : who
          ? el("span", { class: "sr-only", text: who + ": " })
          : null,
      document.createTextNode(entry.text),
      entry.survey && entry.rated === undefined ? rating(entry) : null,
      ...(entry.files || []).map((file, n) =>
        el("button", {
          class: "file",
          type: "button",
          text: "\u2193 " + file.name,
          onclick: () => download(entry, file, n),
        }),
      ),
      meta,
    );
    const old = nodes.get(entry.id);
    if (old) old.replaceWith(li);
    else ui.list.append(li);
    nodes.set(entry.id, li);
    scrollDown();
  }

  // A file an agent sent: fetched with the session secret (a plain link
  // would work for anyone holding it), then saved.
  async function download(entry, file, n) {
    try {
      const url =
        `${endpoint}/files?session_id=${encodeURIComponent(state.sessionId)}` +
        `&reply=${encodeURIComponent(entry.replyId)}&n=${n}`;
      const response = await fetch(url, {
        headers: { "x-webchat-secret": state.secret },
        credentials: "omit",
        cache: "no-store",
      });
      if (!response.ok) throw new Error(`HTTP ${response.status}`);
      const href = URL.createObjectURL(await response.blob());
      const a = el("a", { href, download: file.name });
      document.body.append(a);
      a.click();
      a.remove();
      setTimeout(() => URL.revokeObjectURL(href), 10000);
    } catch (_) {
      setNotice("The file could not be downloaded. Try again.");
    }
  }

  // Nobody could take the chat now (the host says so with every answer):
  // the visitor is told, rather than left waiting in silence. An agent who
  // already answered is with her, so no notice then.
  // Once an agent (or the bot) closed the conversation, she is told so; her
  // next message starts a new one.
  const waitText = (ms) => {
    const minutes = Math.max(1, Math.ceil(ms / 60000));
    return minutes < 90 ? `about ${minutes} minute${minutes === 1 ? "" : "s"}` : `about ${Math.ceil(minutes / 60)} hours`;
  };
  const awayNotice = () =>
    state.closed
      ? "This conversation has ended. Send a message if you need anything else."
      : state.away && !state.transcript.some((e) => e.who === "agent")
        ? "We're away right now. Leave your message and we'll get back to you as soon as we can."
        : state.queue && state.queue.position
          ? `You are number ${state.queue.position} in the queue` +
            (typeof state.queue.wait_ms === "number" && state.queue.wait_ms > 0 ? ` · ${waitText(state.queue.wait_ms)}` : "")
          : "";

  const setNotice = (text) => {
    if (ui.notice.textContent !== text) ui.notice.textContent = text;
  };

  // ---- sending -------------------------------------------------------------

  function submit() {
    const text = ui.input.value.trim();
    if (!text) return;
    if (text.length > MAX_TEXT) {
      setNotice(`Messages are limited to ${MAX_TEXT} characters.`);
      return;
    }
    if (options.consent && !state.consentGiven) {
      if (!ui.consentBox.checked) {
        setNotice("Please tick the box above to start the chat.");
        ui.consentBox.focus();
        return;
      }
      // Sent with the next message, then recorded by the host.
      state.consentGiven = true;
      state.consentPending = true;
      ui.consent.hidden = true;
      setNotice("");
    }
    ui.input.value = "";
    const entry = { id: "m-" + randomHex(8), who: "me", text, at: Date.now(), state: "sending" };
    state.transcript.push(entry);
    save();
    render(entry);
    send(entry, false);
  }

  // A survey's question: one button per score; a click answers with the
  // digit, as if typed (the host recognises it), and the buttons go.
  function rating(entry) {
    const [low, high] = SCALES[entry.survey];
    const buttons = [];
    for (let n = low; n <= high; n += 1) {
      buttons.push(
        el("button", {
          type: "button",
          text: String(n),
          "aria-label": `${n} of ${high}`,
          "data-score": String(n),
          onclick: () => {
            entry.rated = n;
            render(entry);
            const answer = { id: "m-" + randomHex(8), who: "me", text: String(n), at: Date.now(), state: "sending" };
            state.transcript.push(answer);
            save();
            render(answer);
            send(answer, false);
          },
        }),
      );
    }
    return el("div", { class: "rating", role: "group", "aria-label": "Your rating" }, ...buttons);
  }

  function resend(entry) {
    entry.state = "sending";
    render(entry);
    send(entry, false);
  }

  async function send(entry, retried) {
    if (!state.sessionId) newSession();
    const body = { session_id: state.sessionId, text: entry.text, id: entry.id };
    if (!state.secret && state.visitor) body.visitor = state.visitor;
    if (state.consentPending) {
      body.consent = true;
      body.consent_text = options.consent;
    }
    const headers = { "content-type": "application/json" };
    if (state.secret) headers["x-webchat-secret"] = state.secret;
    let response;
    try {
      response = await fetch(endpoint, {
        method: "POST",
        headers,
        body: JSON.stringify(body),
        credentials: "omit",
        cache: "no-store",
      });
    } catch (_) {
      response = null;
    }
    if (response && response.ok) {
      try {
        const data = await response.json();
      firstRead = false;
        if (data && typeof data.secret === "string") state.secret = data.secret;
        state.away = data && data.agents_available === 0;
        state.closed = false;
      } catch (_) {
        /* the message went through; the secret comes back with the next one */
      }
      entry.state = "sent";
      if (body.consent) state.consentPending = false;
      save();
      render(entry);
      setNotice(awayNotice());
      schedulePoll(0);
      return;
    }
    if (response && response.status === 401 && !retried) {
      // The session belongs to someone else or its secret is gone: start over.
      newSession();
      save();
      return send(entry, true);
    }
    entry.state = "failed";
    save();
    render(entry);
    setNotice(
      response && response.status === 400
        ? "That message could not be sent."
        : "Connection problem: your message was not sent.",
    );
  }

  // ---- polling -------------------------------------------------------------

  let timer = null;
  let delay = POLL_MS;
  let inFlight = false;
  // A page's first read is answered at once (not held): what the visitor
  // sees on arrival is the host's word now, not what this browser kept.
  let firstRead = true;

  function schedulePoll(ms) {
    clearTimeout(timer);
    timer = setTimeout(poll, ms);
  }

  async function poll() {
    if (!state.sessionId || !state.secret) return;
    if (inFlight) return;
    inFlight = true;
    let next = delay;
    const started = Date.now();
    try {
      // wait=1: the host holds the request until a reply arrives (long-poll).
      const url =
        `${endpoint}/messages?session_id=${encodeURIComponent(state.sessionId)}` +
        `&after=${encodeURIComponent(String(state.after || 0))}&wait=${document.hidden || firstRead ? 0 : 1}` +
        `&closed=${state.closed ? 1 : 0}&place=${state.queue && state.queue.position ? state.queue.position : 0}`;
      const response = await fetch(url, {
        headers: { "x-webchat-secret": state.secret },
        credentials: "omit",
        cache: "no-store",
      });
      if (response.status === 401) {
        // The session is no longer valid: the next message starts a new one.
        state.sessionId = null;
        state.secret = null;
        state.after = 0;
        save();
        setNotice("Your chat session has ended. Send a message to start a new one.");
        return;
      }
      if (!response.ok) throw new Error(`HTTP ${response.status}`);
      const data = await response.json();
      for (const m of Array.isArray(data.messages) ? data.messages : []) {
        if (typeof m.seq !== "number" || m.seq <= state.after) continue;
        state.after = m.seq;
        const files = Array.isArray(m.files)
          ? m.files.map((f) => ({ name: String(f.name || "file"), type: String(f.content_type || "") }))
          : [];
        const entry = {
          id: "a-" + m.seq + "-" + m.id,
          replyId: String(m.id),
          who: "agent",
          text: String(m.text || ""),
          name: typeof m.name === "string" && m.name ? m.name.slice(0, 80) : "",
          at: m.at,
          files,
          survey: Object.hasOwn(SCALES, m.survey) ? m.survey : undefined,
        };
        state.transcript.push(entry);
        render(entry);
        if (ui.panel.hidden) {
          ui.unread += 1;
          updateBadge();
        }
      }
      if (typeof data.next === "number" && data.next > state.after) state.after = data.next;
      if (typeof data.agents_available === "number") state.away = data.agents_available === 0;
      if ("queue" in data) state.queue = data.queue && typeof data.queue.position === "number" ? data.queue : null;
      if (typeof data.closed === "boolean") state.closed = data.closed;
      save();
      setNotice(awayNotice());
      delay = POLL_MS;
      // A held request that came back (with a reply or after its wait) is
      // followed at once; a quick empty answer means no long-poll: pace it.
      const held = Date.now() - started >= 1000 || (data.messages || []).length > 0;
      next = document.hidden ? HIDDEN_POLL_MS : held ? 0 : POLL_MS;
    } catch (_) {
      delay = Math.min(delay * 2, MAX_BACKOFF_MS);
      next = delay;
      setNotice("Connection problem: retrying…");
    } finally {
      inFlight = false;
    }
    if (state.secret) schedulePoll(next);
  }

  document.addEventListener("visibilitychange", () => {
    if (!document.hidden && state.secret) schedulePoll(0);
  });

  // Another tab of the same site changed the session: follow it.
  window.addEventListener("storage", (event) => {
    if (event.key !== STORAGE_KEY || !event.newValue) return;
    try {
      const other = JSON.parse(event.newValue);
      if (other && other.sessionId !== state.sessionId) {
        state = Object.assign(fresh(), other);
        nodes.forEach((node) => node.remove());
        nodes.clear();
        for (const entry of state.transcript) render(entry);
        showStage();
      }
    } catch (_) {
      /* ignore */
    }
  });

  // ---- start ---------------------------------------------------------------

  window.SwitchboardWebchat = { open: () => ui && open(), close: () => ui && close() };

  const start = () => {
    build();
    if (state.secret) schedulePoll(0);
  };
  if (document.body) start();
  else document.addEventListener("DOMContentLoaded", start, { once: true });
})();
