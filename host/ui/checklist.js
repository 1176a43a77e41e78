// The admin's first steps: a short checklist at the top of the admin
// console until each step is done (or the admin dismisses it).

import { h } from "./util.js";
import { get, put, seg } from "./api.js";

const DISMISSED_KEY = "switchboard.checklist.dismissed";

/**
 * The checklist card. `update(plugins, agents)` re-checks the steps from
 * what the console already loaded (plus one look for a conversation).
 */
export function checklistCard() {
  const items = h("ol", { class: "checklist" });
  const card = h(
    "section",
    { class: "card wide checklist-card", "data-testid": "checklist", "aria-labelledby": "adm-checklist", hidden: true },
    h(
      "div",
      { class: "card-head" },
      h("h2", { id: "adm-checklist" }, "Getting started"),
      h(
        "button",
        {
          type: "button",
          class: "ghost",
          onclick: () => {
            localStorage.setItem(DISMISSED_KEY, "1");
            card.hidden = true;
          },
        },
        "Dismiss",
      ),
    ),
    items,
  );

  const step = (done, testid, ...text) =>
    h("li", { class: done ? "done" : "", "data-testid": testid, "data-done": done ? "true" : "false" },
      h("span", { class: "tick", "aria-hidden": "true" }, done ? "✓" : "○"),
      h("span", { class: done ? "sr-only" : "" }, done ? "Done: " : "To do: "),
      ...text);

  async function update(plugins, agents) {
    if (localStorage.getItem(DISMISSED_KEY)) return;
    const hasAgent = agents.length > 0;
    const hasPassword = agents.some((a) => a.login_email);
    // A channel of the admin's own: a provider channel that is configured.
    const channel = plugins.some(
      (p) => p.kind === "channel" && p.name !== "webchat" && p.status === "active",
    );
    let chatted = false;
    try {
      chatted = (await get("/api/conversations?limit=1")).length > 0;
    } catch {
      // Unknown: leave the step open.
    }
    items.replaceChildren(
      step(hasAgent, "checklist-agent", "Create an agent (Agents, below)."),
      step(hasPassword, "checklist-password", "Give the agent an email and password to sign in with (Agents → Password)."),
      step(
        chatted,
        "checklist-webchat",
        "Start a conversation: open the ",
        h("a", { href: "/webhooks/webchat/demo", target: "_blank", rel: "noopener", "data-testid": "checklist-demo" }, "web chat demo"),
        " and send a message.",
      ),
      step(channel, "checklist-channel", "Connect a channel (WhatsApp, SMS, voice or email): set its keys under [plugins.<name>.config] — see “Channels” in the README."),
    );
    card.hidden = hasAgent && hasPassword && chatted && channel;
  }

  return { card, update };
}

/** A small form in an agent's row: the login email and a new password. */
export function passwordForm(agent, onDone) {
  const email = h("input", { type: "email", autocomplete: "off", required: true, value: agent.login_email || "" });
  const password = h("input", { type: "password", autocomplete: "new-password", minlength: 10, required: true });
  const note = h("span", { class: "muted", role: "status" });
  const form = h(
    "form",
    {
      class: "password-form",
      "data-testid": "agent-password-form",
      onsubmit: async (e) => {
        e.preventDefault();
        note.textContent = "Saving…";
        try {
          await put(`/api/agents/${seg(agent.id)}/password`, { email: email.value.trim(), password: password.value });
          password.value = "";
          note.textContent = `Saved: ${agent.name} signs in as ${email.value.trim()}.`;
          onDone();
        } catch (err) {
          note.textContent = err.message;
        }
      },
    },
    h("label", null, "Email ", email),
    h("label", null, "Password ", password),
    h("button", { type: "submit", "data-testid": "agent-password-save" }, "Set password"),
    note,
  );
  return form;
}
