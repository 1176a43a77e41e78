// Writing first to a customer from the desktop's search: pick a channel an
// agent may start on, then free text or one of the channel's approved
// templates with its parameters (`GET /api/channels`); the host answers
// with the conversation and a task assigned to the agent, or says why not
// (outside WhatsApp's 24 hours, opted out, already open…).

import { h, field, errorText } from "./util.js";
import { get, post } from "./api.js";

let channelsLoad = null;

/** The channels, loaded once per page. */
function channels() {
  channelsLoad ??= get("/api/channels").catch((err) => {
    channelsLoad = null;
    throw err;
  });
  return channelsLoad;
}

/** The form for writing first to `customer`; `onStarted(started)` after. */
export function startForm(customer, onStarted) {
  const channel = h("select", { "data-testid": "start-channel" });
  const mode = h("select", { "data-testid": "start-mode" }, h("option", { value: "text" }, "Free text"));
  const text = h("textarea", { rows: 3, "data-testid": "start-text", placeholder: "Your message" });
  const params = h("div", { class: "start-params", "data-testid": "start-params" });
  const note = h("p", { role: "status", "data-testid": "start-note" });
  const send = h("button", { type: "submit", class: "primary", "data-testid": "start-send" }, "Send");
  let list = [];

  function current() {
    return list.find((c) => c.name === channel.value);
  }

  function renderMode() {
    const c = current();
    const templates = c ? c.templates : [];
    mode.replaceChildren(
      h("option", { value: "text" }, "Free text"),
      ...templates.map((t) => h("option", { value: t.name }, `Template: ${t.name} (${t.language})`)),
    );
    renderParams();
  }

  function renderParams() {
    const c = current();
    const t = c && c.templates.find((t) => t.name === mode.value);
    text.hidden = Boolean(t);
    params.replaceChildren(
      ...(t
        ? [
            h("p", { class: "muted" }, t.text),
            ...Array.from({ length: t.parameters }, (_, i) =>
              field(`{{${i + 1}}}`, h("input", { type: "text", "data-testid": "start-param", required: true })),
            ),
          ]
        : []),
    );
    if (c && c.free_text_window_ms && !t) {
      note.className = "muted";
      note.textContent = `Free text only within ${Math.round(c.free_text_window_ms / 3600000)} hours of the customer's last message here; otherwise pick a template.`;
    } else {
      note.textContent = "";
    }
  }

  channel.addEventListener("change", renderMode);
  mode.addEventListener("change", renderParams);

  const form = h(
    "form",
    { class: "start-form", "data-testid": "start-form" },
    field("Channel", channel),
    field("Send", mode),
    text,
    params,
    send,
    note,
  );
  form.addEventListener("submit", async (e) => {
    e.preventDefault();
    const body = { customer_id: customer.id, channel: channel.value };
    if (mode.value === "text") {
      body.text = text.value;
    } else {
      body.template = {
        name: mode.value,
        parameters: [...params.querySelectorAll("input")].map((i) => i.value),
      };
    }
    send.disabled = true;
    try {
      const started = await post("/api/conversations", body);
      note.className = "ok";
      note.textContent = "Sent. The conversation is in your work list.";
      text.value = "";
      onStarted?.(started);
    } catch (err) {
      note.className = "error";
      note.textContent = errorText(err);
    } finally {
      send.disabled = false;
    }
  });

  channels()
    .then((all) => {
      list = all.filter((c) => c.can_start);
      channel.replaceChildren(...list.map((c) => h("option", { value: c.name }, c.display_name)));
      if (!list.length) note.textContent = "No channel here lets agents write first.";
      renderMode();
    })
    .catch((err) => {
      note.className = "error";
      note.textContent = `Could not load the channels: ${errorText(err)}`;
    });
  return form;
}
