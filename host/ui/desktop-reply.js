// The open conversation's actions: the reply box (Enter sends, Shift+Enter
// adds a line, "/" opens the canned responses, the paperclip attaches
// files) and wrap-up with a disposition.

import { h, field, uid, errorText } from "./util.js";
import { post, seg } from "./api.js";
import { cannedPicker } from "./canned.js";
import { attachmentPicker } from "./desktop-files.js";

/**
 * A reply form for `conversationId`. `onSent(message)` gets the queued
 * message; `isCurrent()` tells whether the form still belongs to the open
 * conversation (the agent may switch while a reply is on its way).
 */
export function replyForm(conversationId, { onSent, isCurrent }) {
  const textarea = h("textarea", {
    "data-testid": "reply-input",
    rows: "2",
    placeholder: "Write a reply… (/ for canned responses)",
  });
  const send = h("button", { type: "submit", class: "primary", "data-testid": "reply-send" }, "Send");
  const error = h("p", { class: "error", role: "alert", "data-testid": "reply-error", hidden: true });
  const showError = (text) => {
    error.textContent = text;
    error.hidden = false;
  };
  const canned = cannedPicker(textarea, conversationId);
  const files = attachmentPicker(conversationId, showError);
  const form = h(
    "form",
    { class: "reply", "aria-label": "Reply" },
    h("div", { class: "reply-box" }, field("Reply", textarea, "Enter sends · Shift+Enter adds a line · / inserts a canned response"), canned.element),
    h("div", { class: "actions" }, files.button, send),
    files.input,
    files.chips,
    error,
  );
  textarea.addEventListener("keydown", (e) => {
    if (canned.handleKey(e)) return;
    // Enter sends; Shift+Enter (and Enter while composing with an IME) is a newline.
    if (e.key === "Enter" && !e.shiftKey && !e.isComposing && !e.altKey && !e.ctrlKey && !e.metaKey) {
      e.preventDefault();
      form.requestSubmit();
    }
  });
  form.addEventListener("submit", async (e) => {
    e.preventDefault();
    const text = textarea.value.trim();
    if (send.disabled) return;
    if (files.busy()) return showError("Wait until the files are uploaded.");
    const attachments = files.ids();
    if (!text && !attachments.length) return;
    send.disabled = true;
    error.hidden = true;
    try {
      const message = await post(`/api/conversations/${seg(conversationId)}/messages`, { text, attachments });
      textarea.value = "";
      files.clear();
      if (isCurrent() && message && message.id) onSent(message);
    } catch (err) {
      showError(errorText(err));
    } finally {
      send.disabled = false;
      if (isCurrent()) textarea.focus();
    }
  });
  return form;
}

// ---- wrap-up -------------------------------------------------------------------

// Suggestions only: the host's `routing.dispositions` decides, and its
// refusal is shown under the box.
const DISPOSITIONS = ["resolved", "follow-up", "escalated", "callback", "no answer", "spam"];

/**
 * The wrap-up form: a disposition and Complete. `currentTask()` is the task
 * it completes; `onCompleted(taskId, answer)` gets the host's answer (the
 * task, `wrapping` while its wrap-up time runs).
 */
export function wrapupForm(currentTask, onCompleted) {
  const listId = uid("dispositions");
  const input = h("input", { type: "text", "data-testid": "wrapup-disposition", list: listId, autocomplete: "off" });
  const complete = h("button", { type: "submit", "data-testid": "wrapup-complete" }, "Complete");
  const error = h("p", { class: "error", role: "alert", "data-testid": "wrapup-error", hidden: true });
  const form = h(
    "form",
    { class: "wrapup", "aria-label": "Wrap-up" },
    h("p", { class: "wrapup-note" }),
    h("div", { class: "row" }, field("Disposition", input), complete),
    h("datalist", { id: listId }, DISPOSITIONS.map((d) => h("option", { value: d }))),
    error,
  );
  form.addEventListener("submit", async (e) => {
    e.preventDefault();
    const task = currentTask();
    if (!task || complete.disabled) return;
    const disposition = input.value.trim();
    complete.disabled = true;
    error.hidden = true;
    input.removeAttribute("aria-invalid");
    try {
      const answer = await post(`/api/tasks/${seg(task.id)}/complete`, disposition ? { disposition } : {});
      onCompleted(task.id, answer);
    } catch (err) {
      error.textContent = errorText(err);
      error.hidden = false;
      if (err.status === 400) input.setAttribute("aria-invalid", "true");
    } finally {
      complete.disabled = false;
    }
  });
  return form;
}

/** What the wrap-up form says for `task` (assigned, or wrapping with a deadline). */
export function updateWrapupNote(form, task) {
  const note = form.querySelector(".wrapup-note");
  if (task.state === "wrapping") {
    const parts = [task.channel_kind === "voice" ? "The call ended. " : "Wrapping up. ", "Add a disposition and complete the task"];
    if (task.wrap_until) {
      parts.push(" (it completes by itself in ", h("span", { "data-deadline": task.wrap_until }, ""), ")");
    }
    note.replaceChildren(...parts, ".");
  } else {
    note.textContent = "Done? Complete the task with a disposition.";
  }
}
