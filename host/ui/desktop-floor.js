// The agent floor on the desktop: internal notes, labels, and handing a
// task to someone else (transfer). Notes and transfer notes stay inside
// the host: they are never sent to the customer.

import { h, field, uid, errorText, timeEl, icon } from "./util.js";
import { get, post, put, seg } from "./api.js";

function authorName(author, meId) {
  if (author === meId) return "You";
  return author === "admin" ? "Admin" : author;
}

// ---- notes -------------------------------------------------------------------

/** A note in the timeline, between the messages it was written among. */
export function noteEntry(note, meId) {
  const transfer = Boolean(note.transfer_of);
  return h(
    "li",
    { class: "note-entry", "data-testid": "note", "data-note-id": note.id, "data-kind": transfer ? "transfer" : "internal" },
    h(
      "div",
      { class: "msg-meta" },
      h("span", { class: "note-kind" }, transfer ? "Transfer note" : "Internal note"),
      h("span", { class: "who" }, authorName(note.author, meId)),
      note.at ? timeEl(note.at) : null,
    ),
    h("div", { class: "msg-text" }, note.text),
  );
}

/**
 * Why this task is mine: the note of the transfer that brought it, pinned
 * above the conversation. Null unless someone else transferred it to me.
 */
export function transferNoteBlock(notes, task, meId) {
  const note = notes.filter((n) => n.transfer_of === task.id && n.author !== meId).at(-1);
  if (!note) return null;
  return h(
    "aside",
    { class: "transfer-note", "data-testid": "transfer-note", "data-note-id": note.id, "aria-label": "Transfer note" },
    h("div", { class: "msg-meta" }, h("span", { class: "note-kind" }, "Transfer note"), " from ", h("span", { class: "who" }, authorName(note.author, meId)), note.at ? [" · ", timeEl(note.at)] : null),
    h("div", { class: "msg-text" }, note.text),
  );
}

/**
 * The form that adds an internal note, folded away under the reply until
 * wanted; `onAdded(note)` gets the stored one.
 */
export function noteForm(conversationId, { onAdded, isCurrent }) {
  const textarea = h("textarea", { rows: "2", "data-testid": "note-input", maxlength: "4000" });
  const add = h("button", { type: "submit", "data-testid": "note-add" }, "Add note");
  const error = h("p", { class: "error", role: "alert", "data-testid": "note-error", hidden: true });
  const form = h(
    "form",
    { class: "note-form", "aria-label": "Internal note" },
    h("div", { class: "row" }, field("Internal note", textarea, "Only agents and supervisors see it; never sent to the customer."), add),
    error,
  );
  const details = h("details", { class: "note-details" }, h("summary", { "data-testid": "note-toggle" }, "Add an internal note"), form);
  details.addEventListener("toggle", () => details.open && textarea.focus());
  form.addEventListener("submit", async (e) => {
    e.preventDefault();
    const text = textarea.value.trim();
    if (!text || add.disabled) return;
    add.disabled = true;
    error.hidden = true;
    try {
      const note = await post(`/api/conversations/${seg(conversationId)}/notes`, { text });
      textarea.value = "";
      details.open = false;
      if (isCurrent()) onAdded(note);
    } catch (err) {
      error.textContent = errorText(err);
      error.hidden = false;
    } finally {
      add.disabled = false;
    }
  });
  return details;
}

// ---- labels --------------------------------------------------------------------

/**
 * The conversation's labels as removable chips, and a box to add one. The
 * host decides what is allowed (`[floor] labels`); its refusal is shown.
 */
export function labelsBar(conversationId, initial) {
  let labels = [...(initial || [])];
  const chips = h("ul", { class: "chips labels", "aria-label": "Labels", "data-testid": "labels" });
  const input = h("input", { type: "text", "data-testid": "label-input", autocomplete: "off", spellcheck: "false", maxlength: "40" });
  const add = h("button", { type: "submit", "data-testid": "label-add" }, "Add label");
  const error = h("p", { class: "error", role: "alert", "data-testid": "labels-error", hidden: true });
  const form = h("form", { class: "label-form", "aria-label": "Add a label" }, field("Label", input), add);
  const bar = h("div", { class: "labels-bar" }, chips, form, error);

  function render() {
    chips.replaceChildren(
      ...labels.map((label) =>
        h(
          "li",
          { class: "chip label-chip", "data-testid": "label-chip", "data-label": label },
          label,
          h("button", { type: "button", class: "chip-remove", "data-testid": "label-remove", "aria-label": `Remove label ${label}`, onclick: () => save(labels.filter((l) => l !== label)) }, "×"),
        ),
      ),
    );
  }

  async function save(next) {
    error.hidden = true;
    input.removeAttribute("aria-invalid");
    add.disabled = true;
    try {
      const conversation = await put(`/api/conversations/${seg(conversationId)}/labels`, { labels: next });
      labels = conversation.labels || next;
      render();
      return true;
    } catch (err) {
      error.textContent = errorText(err);
      error.hidden = false;
      return false;
    } finally {
      add.disabled = false;
    }
  }

  form.addEventListener("submit", async (e) => {
    e.preventDefault();
    const label = input.value.trim().toLowerCase();
    if (!label || labels.includes(label)) return;
    if (await save([...labels, label])) input.value = "";
    else input.setAttribute("aria-invalid", "true");
  });
  render();
  return bar;
}

// ---- transfer --------------------------------------------------------------------

/** "billing:3, returns" → {billing: 3, returns: 1}; throws on a bad level. */
function parseSkills(text) {
  const skills = {};
  for (const part of text.split(",").map((p) => p.trim()).filter(Boolean)) {
    const [name, level = "1"] = part.split(":").map((s) => s.trim());
    const n = Number(level);
    if (!name || !Number.isInteger(n) || n < 1 || n > 5) throw new Error(`“${part}”: write a skill as name:level, the level 1 to 5.`);
    skills[name] = n;
  }
  return skills;
}

function agentLabel(a) {
  const skills = Object.entries(a.skills || {}).map(([k, v]) => `${k} ${v}`).join(", ");
  return `${a.name || a.id} (${a.id}) — ${a.status}${skills ? ` · ${skills}` : ""}`;
}

/**
 * Opens the transfer dialog for `task`: to an agent (a supervisor picks
 * from everyone; an agent, who cannot list colleagues, types an id) or back
 * to the queue needing skills, with a note the next agent sees first.
 * `onStart(notice)` runs just before the request (the task may leave before
 * its answer arrives), `onFailed()` if it was refused, `onDone(task)` with
 * the transferred task.
 */
export function openTransferDialog(task, { meId, supervisor, onStart, onFailed, onDone }) {
  const titleId = uid("transfer");
  const mode = uid("mode");
  const toAgent = h("input", { type: "radio", name: mode, value: "agent", checked: true, "data-testid": "transfer-mode-agent" });
  const toSkills = h("input", { type: "radio", name: mode, value: "skills", "data-testid": "transfer-mode-skills" });
  const agentInput = supervisor
    ? h("select", { "data-testid": "transfer-agent" }, h("option", { value: "" }, "Loading agents…"))
    : h("input", { type: "text", "data-testid": "transfer-agent", autocomplete: "off", spellcheck: "false" });
  const skillsInput = h("input", { type: "text", "data-testid": "transfer-skills", autocomplete: "off", placeholder: "billing:3, returns:2" });
  const note = h("textarea", { rows: "3", "data-testid": "transfer-note-input", maxlength: "4000" });
  const submit = h("button", { type: "submit", class: "primary", "data-testid": "transfer-submit" }, "Transfer");
  const cancel = h("button", { type: "button", "data-testid": "transfer-cancel" }, "Cancel");
  const error = h("p", { class: "error", role: "alert", "data-testid": "transfer-error", hidden: true });
  const agentField = field("Agent", agentInput, supervisor ? null : "Their agent id. They must be available, with room for this task.");
  const skillsField = field("Skills needed", skillsInput, "name:level (1–5), separated by commas; leave empty for anyone.");
  const form = h(
    "form",
    { method: "dialog", class: "transfer-form" },
    h("h2", { id: titleId }, "Transfer this conversation"),
    h(
      "fieldset",
      { class: "choice" },
      h("legend", null, "Transfer to"),
      h("label", null, toAgent, " An agent"),
      h("label", null, toSkills, " The queue, by skills"),
    ),
    agentField,
    skillsField,
    field("Note for the next agent", note, "They see it first. Never sent to the customer."),
    error,
    h("div", { class: "actions" }, submit, cancel),
  );
  const dialog = h("dialog", { class: "transfer-dialog card", "aria-labelledby": titleId, "data-testid": "transfer-dialog" }, form);

  const byAgent = () => toAgent.checked;
  const showMode = () => {
    agentField.hidden = !byAgent();
    skillsField.hidden = byAgent();
  };
  toAgent.addEventListener("change", showMode);
  toSkills.addEventListener("change", showMode);
  showMode();

  if (supervisor) {
    get("/api/agents")
      .then((agents) => {
        const others = (agents || []).filter((a) => a.id !== meId && !a.deactivated);
        agentInput.replaceChildren(
          h("option", { value: "" }, others.length ? "Choose an agent" : "No other agents"),
          ...others.map((a) => h("option", { value: a.id, disabled: a.status !== "available" }, agentLabel(a))),
        );
      })
      .catch((err) => agentInput.replaceChildren(h("option", { value: "" }, `Agents could not be loaded: ${errorText(err)}`)));
  }

  cancel.addEventListener("click", () => dialog.close());
  dialog.addEventListener("close", () => dialog.remove());
  form.addEventListener("submit", async (e) => {
    e.preventDefault();
    error.hidden = true;
    let body;
    let notice;
    try {
      if (byAgent()) {
        const id = agentInput.value.trim();
        if (!id) throw new Error("Name the agent to transfer to.");
        body = { to_agent: id };
        notice = `Transferred to ${id}.`;
      } else {
        body = { to_skills: parseSkills(skillsInput.value) };
        notice = "Transferred back to the queue.";
      }
    } catch (err) {
      error.textContent = err.message;
      error.hidden = false;
      return;
    }
    if (note.value.trim()) body.note = note.value.trim();
    submit.disabled = true;
    onStart(notice);
    try {
      const transferred = await post(`/api/tasks/${seg(task.id)}/transfer`, body);
      dialog.close();
      onDone(transferred);
    } catch (err) {
      onFailed();
      error.textContent = errorText(err);
      error.hidden = false;
    } finally {
      submit.disabled = false;
    }
  });

  document.body.append(dialog);
  dialog.showModal();
  (byAgent() ? agentInput : skillsInput).focus();
}

/** The button that opens the transfer dialog for the open task. */
export function transferButton(onClick) {
  return h("button", { type: "button", class: "transfer-open", "data-testid": "transfer-open", onclick: onClick }, icon("user"), " Transfer…");
}
