// The shell: sign-in, the header (navigation, live indicator, who am I,
// sign-out), the live event stream, and switching between the screens.
// Each screen lives in its own module, loaded only for the roles that may
// see it: desktop.js (agents and supervisors), dashboard.js (supervisors and
// the admin), admin.js (the admin only).

import { h, icon, field, errorText, tickCounters } from "./util.js";
import { get, post, del, getToken, setToken, clearToken, setCsrf, onUnauthorized, followEvents } from "./api.js";

const root = document.getElementById("app");
const NOTICE_KEY = "switchboard.notice";

const VIEW_LABELS = { desktop: "Desktop", dashboard: "Dashboard", reports: "Reports", admin: "Admin" };

start();

/**
 * Signs in with the tab's saved token, or the browser's session cookie (a
 * second tab of a signed-in browser is signed in already); else shows the
 * sign-in form.
 */
async function start() {
  const notice = takeNotice();
  root.replaceChildren(h("p", { class: "loading", role: "status" }, "Signing in…"));
  try {
    const me = await get("/api/me", { quiet401: true });
    setCsrf(me.csrf);
    await startShell(me);
  } catch (err) {
    if (err.status === 401) {
      const hadToken = Boolean(getToken());
      clearToken();
      showSignIn(notice || (hadToken ? "The saved token was not accepted any more. Sign in again." : null));
    } else {
      showSignIn(errorText(err));
    }
  }
}

function takeNotice() {
  const notice = sessionStorage.getItem(NOTICE_KEY);
  sessionStorage.removeItem(NOTICE_KEY);
  return notice;
}

// ---- sign-in ---------------------------------------------------------------

function showSignIn(errorMessage) {
  document.title = "Sign in · Switchboard";
  const login = h("input", {
    type: "email",
    name: "username",
    "data-testid": "signin-login",
    autocomplete: "username",
    spellcheck: "false",
    autocapitalize: "off",
    required: true,
  });
  const password = h("input", {
    type: "password",
    name: "password",
    "data-testid": "signin-password",
    autocomplete: "current-password",
    required: true,
  });
  const passwordSubmit = h(
    "button",
    { type: "submit", class: "primary", "data-testid": "signin-password-submit" },
    "Sign in",
  );
  const input = h("input", {
    type: "password",
    name: "token",
    "data-testid": "signin-token",
    autocomplete: "off",
    spellcheck: "false",
    autocapitalize: "off",
  });
  const submit = h("button", { type: "submit", "data-testid": "signin-submit" }, "Sign in with the token");
  const errorSlot = h("div", { class: "error-slot" });
  // The error element exists only while there is an error to show; role=alert
  // makes screen readers announce it when it appears.
  const showError = (text, field = input) => {
    errorSlot.replaceChildren(
      text ? h("p", { class: "error", role: "alert", "data-testid": "signin-error" }, text) : "",
    );
    for (const f of [input, login, password]) f.setAttribute("aria-invalid", "false");
    if (text) field.setAttribute("aria-invalid", "true");
  };

  // Agents and supervisors: the email and password the admin gave them.
  const passwordForm = h(
    "form",
    {
      class: "signin-password",
      "data-testid": "signin-password-form",
      novalidate: true,
      onsubmit: async (e) => {
        e.preventDefault();
        if (!login.value.trim() || !password.value) {
          showError("Enter your email and password.", login.value.trim() ? password : login);
          (login.value.trim() ? password : login).focus();
          return;
        }
        passwordSubmit.disabled = true;
        passwordSubmit.textContent = "Signing in…";
        try {
          const signedIn = await post(
            "/api/session",
            { login: login.value.trim(), password: password.value },
            { quiet401: true },
          );
          clearToken();
          setCsrf(signedIn.csrf);
          await startShell({ role: signedIn.role, agent: signedIn.agent, csrf: signedIn.csrf });
        } catch (err) {
          passwordSubmit.disabled = false;
          passwordSubmit.textContent = "Sign in";
          showError(
            err.status === 401 ? "Wrong email or password." : errorText(err),
            password,
          );
          password.select();
          password.focus();
        }
      },
    },
    field("Email", login),
    field("Password", password),
    passwordSubmit,
  );

  const form = h(
    "form",
    {
      class: "signin-token",
      "data-testid": "signin-form",
      novalidate: true,
      onsubmit: async (e) => {
        e.preventDefault();
        const token = input.value.trim();
        if (!token) {
          showError("Enter your access token.");
          input.focus();
          return;
        }
        submit.disabled = true;
        submit.textContent = "Signing in…";
        try {
          const me = await get("/api/me", { token, quiet401: true });
          setToken(token);
          await startShell(me);
        } catch (err) {
          submit.disabled = false;
          submit.textContent = "Sign in";
          showError(
            err.status === 401 || err.status === 403
              ? "That token was not accepted. Check it and try again."
              : errorText(err),
          );
          input.select();
          input.focus();
        }
      },
    },
    h("p", { class: "signin-or" }, "Or, with an access token (the admin, API clients):"),
    field("Access token", input, "The bearer token of an agent, a supervisor or the admin."),
    submit,
  );
  const card = h(
    "div",
    { class: "signin card", "aria-labelledby": "signin-title" },
    h("div", { class: "brand big" }, logo(), h("span", null, "Switchboard")),
    h("h1", { id: "signin-title" }, "Sign in"),
    errorSlot,
    passwordForm,
    form,
  );
  root.replaceChildren(h("main", { class: "signin-page" }, card));
  if (errorMessage) showError(errorMessage);
  login.focus();
}

function logo() {
  return h("span", { class: "logo", "aria-hidden": "true" }, icon("generic"));
}

// ---- the signed-in shell -------------------------------------------------------

/** Which screens a signed-in user may open, in nav order. */
function viewsFor(me) {
  const views = [];
  // Supervisors are agents too (role "supervisor"): they also take tasks.
  if (me.agent && (me.role === "agent" || me.role === "supervisor")) views.push("desktop");
  if (me.role === "supervisor" || me.role === "admin") views.push("dashboard", "reports");
  if (me.role === "admin") views.push("admin");
  return views;
}

function defaultView(me, views) {
  const preferred = { agent: "desktop", supervisor: "dashboard", admin: "admin" }[me.role];
  return views.includes(preferred) ? preferred : views[0];
}

/**
 * Builds the signed-in screens. A failure here happens after the sign-in
 * form is gone, so it is shown on a screen of its own (with a way out).
 */
async function startShell(me) {
  try {
    await buildShell(me);
  } catch (err) {
    const out = h("button", { type: "button", "data-testid": "signout" }, "Sign out");
    out.addEventListener("click", () => signOut());
    root.replaceChildren(
      h("main", { class: "fatal" },
        h("p", { class: "error", role: "alert" }, `The console failed to start: ${errorText(err)}`),
        out),
    );
  }
}

async function buildShell(me) {
  const views = viewsFor(me);
  if (!views.length) throw new Error(`No screen for role “${me.role}”.`);

  const connection = h(
    "span",
    { class: "connection", "data-testid": "connection", "data-state": "connecting", role: "status" },
    h("span", { class: "dot", "aria-hidden": "true" }),
    h("span", { class: "label" }, "Connecting…"),
  );
  const announcer = h("div", { class: "sr-only", "aria-live": "polite", "aria-atomic": "true" });
  const navButtons = {};
  const nav = h(
    "nav",
    { class: "nav", "aria-label": "Screens" },
    views.map((v) => {
      navButtons[v] = h(
        "button",
        { type: "button", class: "nav-link", "data-testid": `nav-${v}`, onclick: () => go(v) },
        h("span", { class: "nav-label" }, VIEW_LABELS[v]),
        h("span", { class: "badge", hidden: true }),
      );
      return navButtons[v];
    }),
  );
  const who = me.agent ? `${me.agent.name} · ${me.role}` : me.role;
  const header = h(
    "header",
    { class: "topbar" },
    h("div", { class: "brand" }, logo(), h("span", null, "Switchboard")),
    nav,
    h("div", { class: "spacer" }),
    connection,
    h("span", { class: "whoami", "data-testid": "whoami", title: me.agent ? `agent id ${me.agent.id}` : "" }, who),
    h("button", { type: "button", class: "ghost", "data-testid": "signout", onclick: () => signOut() }, "Sign out"),
  );
  const main = h("main", { class: "screens", id: "main", tabindex: "-1" });
  root.replaceChildren(h("a", { class: "skip", href: "#main" }, "Skip to content"), header, main, announcer);

  // Screens: each module's mount() returns {show, hide, resync, onEvent, tick}.
  const screens = {};
  const ctx = {
    me,
    announce(text) {
      // Clear first so the same text twice is announced twice.
      announcer.textContent = "";
      setTimeout(() => (announcer.textContent = text), 50);
    },
    setBadge(view, count) {
      const badge = navButtons[view] && navButtons[view].querySelector(".badge");
      if (!badge) return;
      badge.hidden = !count;
      badge.textContent = count ? String(count) : "";
      badge.setAttribute("aria-label", count ? `${count} waiting` : "");
      if (view === "desktop") document.title = count ? `(${count}) Switchboard` : "Switchboard";
    },
  };
  const modules = await Promise.all(views.map((v) => import(`./${v}.js`)));
  views.forEach((v, i) => {
    const el = h("div", { class: `screen screen-${v}`, hidden: true });
    main.append(el);
    let ctrl;
    try {
      ctrl = modules[i].mount(el, ctx);
    } catch (err) {
      // One broken screen must not take the others down with it.
      console.error(`the ${v} screen failed`, err);
      el.replaceChildren(h("p", { class: "error", role: "alert" }, `This screen failed to load: ${errorText(err)}`));
      ctrl = { show() {}, hide() {}, resync() {}, onEvent() {} };
    }
    screens[v] = { el, ctrl };
  });

  let current = null;
  function select(view) {
    if (!views.includes(view)) view = defaultView(me, views);
    if (view === current) return;
    if (current) {
      screens[current].el.hidden = true;
      screens[current].ctrl.hide();
      navButtons[current].removeAttribute("aria-current");
    }
    current = view;
    screens[view].el.hidden = false;
    navButtons[view].setAttribute("aria-current", "page");
    screens[view].ctrl.show();
  }
  function go(view) {
    // The hash remembers the screen across a reload.
    if (location.hash !== `#${view}`) location.hash = view;
    else select(view);
  }
  window.addEventListener("hashchange", () => select(location.hash.slice(1)));
  select(location.hash.slice(1));

  // One shared event stream feeds every screen.
  const states = { open: "Live", connecting: "Connecting…", closed: "Offline — retrying" };
  followEvents({
    onState(state) {
      connection.dataset.state = state;
      connection.querySelector(".label").textContent = states[state];
      connection.title = `Live updates: ${state}`;
    },
    onOpen() {
      for (const s of Object.values(screens)) s.ctrl.resync();
    },
    onEvent(ev) {
      for (const s of Object.values(screens)) {
        try {
          s.ctrl.onEvent(ev);
        } catch (err) {
          console.error("event handling failed", ev, err);
        }
      }
    },
  });

  // One ticker refreshes every countdown and elapsed-time label.
  setInterval(() => {
    tickCounters(main);
    for (const s of Object.values(screens)) if (s.ctrl.tick) s.ctrl.tick();
  }, 1000);
  tickCounters(main);

  onUnauthorized(() =>
    signOut(getToken() ? "Your session ended: the token is no longer accepted." : "Your session ended. Sign in again."),
  );
}

/** Ends the session (or forgets the token) and starts over from a clean page. */
async function signOut(notice) {
  if (!getToken()) {
    // The cookie is HttpOnly: only the host can end the session (every tab).
    try {
      await del("/api/session", { quiet401: true });
    } catch {
      // Already ended: the reload shows the sign-in form either way.
    }
  }
  clearToken();
  if (notice) sessionStorage.setItem(NOTICE_KEY, notice);
  // A reload drops every timer, stream and cached customer at once.
  history.replaceState(null, "", location.pathname);
  location.reload();
}
