// The admin console: a first-steps checklist, plugins (reload / enable /
// disable, upload of a bundle), CRM delivery (waiting events, dead letters,
// redrive), the audit trail (admin-audit.js) and agents (create / edit; a new agent's token is shown once;
// sign-in email and password; new token / revoke).
// Loaded only for the admin token.

import { h, reconcile, field, errorText, uid, formatDuration, serverNow, debounce } from "./util.js";
import { get, post, put, del, seg } from "./api.js";
import { checklistCard, passwordForm } from "./checklist.js";
import { auditCard } from "./admin-audit.js";

const KINDS = ["voice", "chat", "messaging", "email"];
const PLUGINS_REFRESH_MS = 10000;

export function mount(root, ctx) {
  let visible = false;
  let timer = null;
  let plugins = [];
  let agents = [];
  const rowNotes = new Map(); // plugin name → {error?: text, ok?: text}
  const busy = new Set(); // plugin names with an action under way
  // The agent form's parts, made by agentForm(), filled by "Edit", read by "Save".
  let form;
  let inputs;
  let formError;
  let formOk;
  let tokenSlot;

  // ---- layout ------------------------------------------------------------

  const pluginsBody = h("tbody");
  const pluginsError = h("p", { class: "error", role: "alert", hidden: true });
  const agentsBody = h("tbody");
  const agentsError = h("p", { class: "error", role: "alert", hidden: true });
  // Declared before the layout below uses them in crmCard().
  const crmPending = h("strong", { "data-testid": "crm-pending" }, "0");
  const crmDead = h("strong", { "data-testid": "crm-dead" }, "0");
  const crmList = h("ul", { class: "crm-dead-list" });
  const crmNote = h("p", { class: "muted", role: "status" });
  const checklist = checklistCard();
  const audit = auditCard();
  // The password form of the agent whose "Password" button was pressed.
  const passwordSlot = h("div", { class: "password-slot", "data-testid": "agent-password-slot" });

  root.append(
    h(
      "div",
      { class: "admin", "data-testid": "admin" },
      checklist.card,
      h(
        "section",
        { class: "card wide", "aria-labelledby": "adm-plugins" },
        h(
          "div",
          { class: "card-head" },
          h("h2", { id: "adm-plugins" }, "Plugins"),
          h("a", { href: "/api/openapi.json", target: "_blank", rel: "noopener", "data-testid": "api-reference" }, "API reference (OpenAPI)"),
          h("button", { type: "button", class: "ghost", onclick: () => refreshPlugins() }, "Refresh"),
        ),
        pluginsError,
        h(
          "div",
          { class: "table-wrap" },
          h(
            "table",
            { "data-testid": "plugins-table" },
            h(
              "thead",
              null,
              h("tr", null, ["Plugin", "Version", "Kind", "Status", "Calls", "Failures", "Error", "Actions"].map((t) => h("th", { scope: "col" }, t))),
            ),
            pluginsBody,
          ),
        ),
      ),
      uploadCard(),
      crmCard(),
      audit.card,
      h(
        "section",
        { class: "card wide", "data-testid": "agents-admin", "aria-labelledby": "adm-agents" },
        h("h2", { id: "adm-agents" }, "Agents"),
        agentsError,
        h(
          "div",
          { class: "table-wrap" },
          h(
            "table",
            { class: "agents-admin-table" },
            h(
              "thead",
              null,
              h(
                "tr",
                null,
                ["Id", "Name", "Role", "Status", "Skills", "Languages", "Capacity", "Voice endpoint", ""].map((t) => h("th", { scope: "col" }, t)),
              ),
            ),
            agentsBody,
          ),
        ),
        passwordSlot,
        agentForm(),
      ),
    ),
  );

  // ---- plugins ---------------------------------------------------------------

  async function refreshPlugins() {
    try {
      plugins = await get("/api/plugins");
      pluginsError.hidden = true;
      renderPlugins();
    } catch (err) {
      pluginsError.textContent = `Could not load plugins: ${errorText(err)}`;
      pluginsError.hidden = false;
    }
  }

  function renderPlugins() {
    const sorted = [...plugins].sort((a, b) => a.name.localeCompare(b.name));
    reconcile(pluginsBody, sorted, (p) => p.name, createPluginRow, updatePluginRow);
  }

  function createPluginRow(p) {
    const tr = h("tr", { "data-testid": "plugin-row", "data-name": p.name });
    updatePluginRow(tr, p);
    return tr;
  }

  /** Rebuilds a row only when something in it changed, keeping focus. */
  function updatePluginRow(tr, p) {
    const note = rowNotes.get(p.name) || {};
    const sig = JSON.stringify([p, note, busy.has(p.name)]);
    if (tr.dataset.sig === sig) return;
    tr.dataset.sig = sig;
    const focused = tr.contains(document.activeElement) ? document.activeElement.dataset.testid : null;

    const isBusy = busy.has(p.name);
    const button = (verb, label, disabled) =>
      h(
        "button",
        {
          type: "button",
          "data-testid": `plugin-${verb}`,
          "aria-label": `${label} ${p.name}`,
          disabled: disabled || isBusy,
          onclick: () => act(p.name, verb),
        },
        label,
      );
    const disabled = p.status === "disabled";
    tr.replaceChildren(
      h("th", { scope: "row" }, p.name, p.description ? h("div", { class: "muted small" }, p.description) : null),
      h("td", null, p.version || "—"),
      h(
        "td",
        null,
        p.kind || "—",
        p.channel_kind ? h("span", { class: "muted" }, ` (${p.channel_kind})`) : null,
        p.bot ? h("div", { class: "muted small", "data-testid": "plugin-bot" }, `bot: ${p.bot}`) : null,
      ),
      h(
        "td",
        null,
        h("span", { class: `pill st-${p.status}`, "data-testid": "plugin-status" }, p.status),
        // What the admin must set before the plugin can work.
        (p.missing_config || []).length
          ? h(
              "div",
              { class: "warn small", "data-testid": "plugin-missing-config" },
              `set ${p.missing_config.map((k) => `[plugins.${p.name}.config] ${k}`).join(", ")}`,
            )
          : null,
        p.api && p.api !== "0.2" ? h("div", { class: "muted small", "data-testid": "plugin-api" }, `contract ${p.api}`) : null,
      ),
      h("td", { class: "num" }, String(p.calls ?? 0)),
      h("td", { class: "num" }, String(p.failures ?? 0)),
      h(
        "td",
        { class: "plugin-error", "data-testid": "plugin-error" },
        note.error ? h("p", { class: "error", role: "alert" }, note.error) : null,
        p.error && p.error !== note.error ? h("span", { class: "muted" }, p.error) : null,
      ),
      h(
        "td",
        { class: "row-actions" },
        button("reload", "Reload", disabled),
        button("enable", "Enable", !disabled),
        button("disable", "Disable", disabled),
        note.ok ? h("span", { class: "ok small", role: "status" }, note.ok) : null,
      ),
    );
    if (focused) {
      const again = tr.querySelector(`[data-testid="${focused}"]`);
      if (again && !again.disabled) again.focus();
      else tr.querySelector("button:not([disabled])")?.focus();
    }
  }

  async function act(name, verb) {
    // Buttons are disabled while the action runs, which drops focus: put it back after.
    const row = document.activeElement && document.activeElement.closest && document.activeElement.closest("tr");
    const hadFocus = row && row.dataset.name === name;
    busy.add(name);
    rowNotes.delete(name);
    renderPlugins();
    try {
      const info = await post(`/api/plugins/${seg(name)}/${verb}`);
      const done = { reload: "Reloaded", enable: "Enabled", disable: "Disabled" }[verb];
      rowNotes.set(name, { ok: info && info.version ? `${done} (v${info.version})` : done });
      if (info && info.name) plugins = plugins.map((p) => (p.name === info.name ? info : p));
      ctx.announce(`${done} ${name}`);
    } catch (err) {
      // e.g. 422 with the load error of a broken bundle (the old version keeps serving).
      rowNotes.set(name, { error: errorText(err) });
    } finally {
      busy.delete(name);
      renderPlugins();
      if (hadFocus) {
        const tr = pluginsBody.querySelector(`tr[data-name="${CSS.escape(name)}"]`);
        const target = tr && (tr.querySelector(`[data-testid="plugin-${verb}"]:not([disabled])`) || tr.querySelector("button:not([disabled])"));
        if (target) target.focus();
      }
      refreshPlugins();
    }
  }

  // ---- upload --------------------------------------------------------------------

  function uploadCard() {
    const manifest = h("input", { type: "file", "data-testid": "upload-manifest", accept: ".toml,text/plain,application/toml" });
    const wasm = h("input", { type: "file", "data-testid": "upload-wasm", accept: ".wasm,application/wasm" });
    const submit = h("button", { type: "submit", class: "primary", "data-testid": "upload-submit" }, "Upload");
    const result = h("div", { class: "result-slot" });
    const show = (state, text) =>
      result.replaceChildren(
        h("p", { class: `upload-result ${state}`, "data-testid": "upload-result", "data-state": state, role: state === "error" ? "alert" : "status" }, text),
      );

    const form = h(
      "form",
      { class: "upload", "data-testid": "upload-form", novalidate: true },
      h("p", { class: "muted" }, "Install a new plugin or replace one: choose its plugin.toml and plugin.wasm."),
      h("div", { class: "row" }, field("plugin.toml", manifest), field("plugin.wasm", wasm), submit),
      result,
    );
    form.addEventListener("submit", async (e) => {
      e.preventDefault();
      const mf = manifest.files && manifest.files[0];
      const wf = wasm.files && wasm.files[0];
      if (!mf || !wf) return show("error", "Choose both files: plugin.toml and plugin.wasm.");
      submit.disabled = true;
      show("pending", "Uploading…");
      try {
        const body = { manifest: await mf.text(), wasm_base64: await base64(wf) };
        const info = await post("/api/plugins", body);
        const text = info && info.name ? `Installed ${info.name}${info.version ? ` ${info.version}` : ""}: ${info.status}` : "Installed.";
        show("ok", info && info.error ? `${text} (${info.error})` : text);
        ctx.announce(text);
        form.reset();
        refreshPlugins();
      } catch (err) {
        show("error", errorText(err));
      } finally {
        submit.disabled = false;
      }
    });
    return h("section", { class: "card wide", "aria-labelledby": "adm-upload" }, h("h2", { id: "adm-upload" }, "Upload a plugin"), form);
  }

  /** A file's bytes as base64 (the data: URL does the encoding natively). */
  function base64(file) {
    return new Promise((resolve, reject) => {
      const reader = new FileReader();
      reader.onload = () => resolve(String(reader.result).replace(/^data:[^,]*,/, ""));
      reader.onerror = () => reject(reader.error || new Error("could not read the file"));
      reader.readAsDataURL(file);
    });
  }

  // ---- agents --------------------------------------------------------------------

  async function refreshAgents() {
    try {
      agents = await get("/api/agents");
      agentsError.hidden = true;
      renderAgents();
      checklist.update(plugins, agents);
    } catch (err) {
      agentsError.textContent = `Could not load agents: ${errorText(err)}`;
      agentsError.hidden = false;
    }
  }
  const agentsSoon = debounce(() => visible && refreshAgents(), 800);

  function renderAgents() {
    const sorted = [...agents].sort((a, b) => a.id.localeCompare(b.id));
    reconcile(
      agentsBody,
      sorted,
      (a) => a.id,
      (a) => {
        const tr = h("tr", { "data-agent-id": a.id });
        fillAgentRow(tr, a);
        return tr;
      },
      fillAgentRow,
    );
  }

  function fillAgentRow(tr, a) {
    const sig = JSON.stringify(a);
    if (tr.dataset.sig === sig) return;
    tr.dataset.sig = sig;
    const hadFocus = tr.contains(document.activeElement);
    const edit = h("button", { type: "button", class: "ghost", "aria-label": `Edit ${a.name}`, onclick: () => fillForm(a) }, "Edit");
    const rotate = h("button", { type: "button", class: "ghost", "data-testid": "agent-rotate", "aria-label": `New token for ${a.name}` }, "New token");
    rotate.addEventListener("click", () => newToken(a));
    // Two steps: a slip of the mouse must not sign an agent out.
    const revoke = h("button", { type: "button", class: "ghost danger", "data-testid": "agent-revoke", "aria-label": `Revoke ${a.name}'s token`, hidden: a.deactivated }, "Revoke");
    revoke.addEventListener("click", () => {
      if (revoke.dataset.armed) return revokeToken(a, revoke);
      revoke.dataset.armed = "1";
      revoke.textContent = "Confirm revoke";
    });
    const setPassword = h("button", { type: "button", class: "ghost", "data-testid": "agent-password", "aria-label": `Set ${a.name}'s password` }, a.login_email ? "Password" : "Set password");
    setPassword.addEventListener("click", () => {
      passwordSlot.replaceChildren(h("h3", null, `Sign-in for ${a.name}`), passwordForm(a, () => refreshAgents()));
      passwordSlot.querySelector("input").focus();
    });
    tr.replaceChildren(
      h("th", { scope: "row" }, a.id),
      h("td", null, a.name),
      h("td", null, a.role),
      h(
        "td",
        { title: a.status_since ? `for ${formatDuration(serverNow() - a.status_since)}` : null },
        h("span", { class: `chip st-${a.status}` }, h("span", { class: "dot", "aria-hidden": "true" }), a.deactivated ? "revoked" : a.status),
      ),
      h("td", null, pairs(a.skills) || "—"),
      h("td", null, (a.languages || []).join(", ") || "—"),
      h("td", null, pairs(a.capacity) || "default"),
      h("td", null, a.voice_endpoint || "—"),
      h("td", { class: "row-actions" }, edit, setPassword, rotate, revoke),
    );
    if (hadFocus) edit.focus();
  }

  /** Shows a token once, in the form's token slot. */
  function showToken(text, token) {
    tokenSlot.replaceChildren(
      h(
        "div",
        { class: "token-box", role: "status" },
        h("p", null, text),
        h("code", { class: "token", "data-testid": "agent-token" }, token),
        h(
          "button",
          {
            type: "button",
            class: "ghost",
            onclick: (ev) =>
              navigator.clipboard &&
              navigator.clipboard.writeText(token).then(
                () => (ev.target.textContent = "Copied"),
                () => (ev.target.textContent = "Copy failed: select the token"),
              ),
          },
          "Copy",
        ),
      ),
    );
  }

  async function newToken(a) {
    try {
      const agent = await post(`/api/agents/${seg(a.id)}/token`);
      showToken(`New token for ${a.id}; the old one no longer works. Hand it over now: it is not shown again.`, agent.token);
      agentsError.hidden = true;
      refreshAgents();
    } catch (err) {
      agentsError.textContent = `Could not give ${a.id} a new token: ${errorText(err)}`;
      agentsError.hidden = false;
    }
  }

  async function revokeToken(a, button) {
    button.disabled = true;
    try {
      await del(`/api/agents/${seg(a.id)}/token`);
      tokenSlot.replaceChildren(h("p", { class: "token-box", role: "status" }, `${a.id}'s token is revoked and ${a.id} is signed out. "New token" lets them back in.`));
      agentsError.hidden = true;
      refreshAgents();
    } catch (err) {
      agentsError.textContent = `Could not revoke ${a.id}'s token: ${errorText(err)}`;
      agentsError.hidden = false;
      button.disabled = false;
    }
  }

  function pairs(obj) {
    return Object.entries(obj || {})
      .map(([k, v]) => `${k}:${v}`)
      .join(", ");
  }

  function agentForm() {
    inputs = {
      id: h("input", { type: "text", "data-testid": "agent-id", autocomplete: "off", spellcheck: "false", required: true }),
      name: h("input", { type: "text", "data-testid": "agent-name", autocomplete: "off", required: true }),
      role: h("select", { "data-testid": "agent-role" }, h("option", { value: "agent" }, "agent"), h("option", { value: "supervisor" }, "supervisor")),
      skills: h("input", { type: "text", "data-testid": "agent-skills", autocomplete: "off", placeholder: "billing:4, returns:2" }),
      languages: h("input", { type: "text", "data-testid": "agent-languages", autocomplete: "off", placeholder: "en, es" }),
      capacity: h("input", { type: "text", "data-testid": "agent-capacity", autocomplete: "off", placeholder: "voice:1, chat:2, messaging:3, email:5" }),
      voice: h("input", { type: "text", "data-testid": "agent-voice-endpoint", autocomplete: "off", placeholder: "client:ana" }),
    };
    formError = h("div", { class: "error-slot" });
    formOk = h("p", { class: "ok", role: "status" });
    tokenSlot = h("div", { class: "token-slot" });
    const title = uid("agentform");
    form = h(
      "form",
      { class: "agent-form", "data-testid": "agent-form", "aria-labelledby": title, novalidate: true },
      h("h3", { id: title }, "Create or edit an agent"),
      h(
        "div",
        { class: "grid" },
        field("Id", inputs.id, "Letters, digits, - and _; an existing id is updated."),
        field("Name", inputs.name),
        field("Role", inputs.role),
        field("Skills", inputs.skills, "name:level (1–5), comma-separated"),
        field("Languages", inputs.languages, "comma-separated, e.g. en, es"),
        field("Capacity", inputs.capacity, "kind:tasks for voice, chat, messaging, email; empty uses the defaults"),
        field("Voice endpoint", inputs.voice, "where calls ring: client:ana, sip:…, or a number"),
      ),
      h(
        "div",
        { class: "actions" },
        h("button", { type: "submit", class: "primary", "data-testid": "agent-save" }, "Save agent"),
        h("button", { type: "button", class: "ghost", onclick: () => fillForm(null) }, "New agent"),
      ),
      formError,
      formOk,
      tokenSlot,
    );
    form.addEventListener("submit", saveAgent);
    return form;
  }

  function fillForm(a) {
    inputs.id.value = a ? a.id : "";
    inputs.name.value = a ? a.name : "";
    inputs.role.value = a ? a.role : "agent";
    inputs.skills.value = a ? pairs(a.skills) : "";
    inputs.languages.value = a ? (a.languages || []).join(", ") : "";
    inputs.capacity.value = a ? pairs(a.capacity) : "";
    inputs.voice.value = a ? a.voice_endpoint || "" : "";
    formError.replaceChildren();
    formOk.textContent = "";
    tokenSlot.replaceChildren();
    (a ? inputs.name : inputs.id).focus();
  }

  function showFormError(text) {
    formError.replaceChildren(h("p", { class: "error", role: "alert" }, text));
  }

  async function saveAgent(e) {
    e.preventDefault();
    formError.replaceChildren();
    formOk.textContent = "";
    const id = inputs.id.value.trim();
    const name = inputs.name.value.trim();
    let body;
    try {
      if (!id) throw new Error("Enter the agent's id.");
      if (!name) throw new Error("Enter the agent's name.");
      body = {
        name,
        skills: parsePairs(inputs.skills.value, "Skills", 1, 5),
        languages: inputs.languages.value.split(/[\s,;]+/).filter(Boolean),
        capacity: parsePairs(inputs.capacity.value, "Capacity", 0, 1000, KINDS),
        voice_endpoint: inputs.voice.value.trim() || null,
        role: inputs.role.value,
      };
    } catch (err) {
      return showFormError(err.message);
    }
    const save = form.querySelector('[data-testid="agent-save"]');
    save.disabled = true;
    try {
      const agent = await put(`/api/agents/${seg(id)}`, body);
      if (agent && agent.token) {
        // Shown once: the host keeps only a digest of it.
        showToken(`Agent ${id} was created. Hand over this token now: it is not shown again.`, agent.token);
      } else {
        tokenSlot.replaceChildren();
      }
      formOk.textContent = `Saved ${id}.`;
      refreshAgents();
    } catch (err) {
      showFormError(errorText(err));
    } finally {
      save.disabled = false;
    }
  }

  /** "billing:4, returns:2" → {billing: 4, returns: 2}, checked. */
  function parsePairs(text, what, min, max, keys) {
    const out = {};
    for (const raw of text.split(/[,;\n]+/)) {
      const part = raw.trim();
      if (!part) continue;
      const m = part.match(/^([^:=\s]+)\s*[:=]\s*(\d+)$/);
      if (!m) throw new Error(`${what}: “${part}” should look like name:number.`);
      const n = Number(m[2]);
      if (n < min || n > max) throw new Error(`${what}: ${m[1]} must be between ${min} and ${max}.`);
      if (keys && !keys.includes(m[1])) throw new Error(`${what}: “${m[1]}” is not a channel kind (${keys.join(", ")}).`);
      out[m[1]] = n;
    }
    return out;
  }

  // ---- CRM delivery ----------------------------------------------------------------

  function crmCard() {
    const redrive = h("button", { type: "button", "data-testid": "crm-redrive" }, "Redrive dead letters");
    redrive.addEventListener("click", async () => {
      redrive.disabled = true;
      try {
        const answer = await post("/api/crm/redrive");
        crmNote.textContent = `${answer.redriven} event(s) back in the queue.`;
      } catch (err) {
        crmNote.textContent = `Redrive failed: ${errorText(err)}`;
      } finally {
        redrive.disabled = false;
        refreshCrm();
      }
    });
    return h(
      "section",
      { class: "card wide", "data-testid": "crm-admin", "aria-labelledby": "adm-crm" },
      h("h2", { id: "adm-crm" }, "CRM delivery"),
      h("p", null, "Waiting: ", crmPending, " · Dead letters: ", crmDead),
      crmList,
      redrive,
      crmNote,
    );
  }

  async function refreshCrm() {
    try {
      const view = await get("/api/crm");
      crmPending.textContent = String(view.pending.length);
      crmDead.textContent = String(view.dead_letters.length);
      crmList.replaceChildren(
        ...view.dead_letters
          .slice(0, 20)
          .map((e) => h("li", null, `${e.plugin} · ${e.event} · customer ${e.customer_id}: ${e.last_error || "failed"}`)),
      );
    } catch (err) {
      crmNote.textContent = `Could not load CRM delivery: ${errorText(err)}`;
    }
  }

  // ---- lifecycle -----------------------------------------------------------------

  return {
    show() {
      visible = true;
      refreshPlugins();
      refreshAgents();
      refreshCrm();
      audit.refresh();
      clearInterval(timer);
      // Plugin health and CRM delivery change without events: poll.
      timer = setInterval(() => {
        if (document.hidden) return;
        refreshPlugins();
        refreshCrm();
      }, PLUGINS_REFRESH_MS);
    },
    hide() {
      visible = false;
      clearInterval(timer);
    },
    resync() {
      if (visible) {
        refreshPlugins();
        refreshAgents();
        refreshCrm();
      }
    },
    onEvent(ev) {
      if (ev.type === "agent.status") agentsSoon();
    },
  };
}
