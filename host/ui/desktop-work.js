// The left pane's cards: an offer (accept / reject before its countdown
// runs out, with the customer's first words) and an item of my work (state,
// waiting time, SLA countdown, unread count).

import { h, channelBadge, serverNow, errorText, formatDuration } from "./util.js";

/**
 * An offer card for reserved `task`. `preview` resolves with the
 * customer's first words; `onAct("accept"|"reject")` does it and rejects
 * with the host's refusal, shown on the card.
 */
export function offerCard(task, { preview, onAct }) {
  const error = h("p", { class: "error", role: "alert", hidden: true });
  const accept = h("button", { type: "button", class: "primary", "data-testid": "offer-accept" }, "Accept");
  const reject = h("button", { type: "button", "data-testid": "offer-reject" }, "Reject");
  const words = h("p", { class: "offer-preview", "data-testid": "offer-preview", hidden: true });
  preview
    .then((text) => {
      words.textContent = text;
      words.hidden = !text;
    })
    .catch(() => {}); // the card works without the customer's words
  const act = async (verb) => {
    accept.disabled = reject.disabled = true;
    error.hidden = true;
    try {
      await onAct(verb);
    } catch (err) {
      accept.disabled = reject.disabled = false;
      error.textContent = errorText(err);
      error.hidden = false;
    }
  };
  accept.addEventListener("click", () => act("accept"));
  reject.addEventListener("click", () => act("reject"));
  return h(
    "li",
    { class: "offer", "data-testid": "offer", "data-task-id": task.id },
    h(
      "div",
      { class: "offer-head" },
      channelBadge(task.channel),
      h("strong", { class: "cust" }),
      h("span", { class: "muted" }, `${task.channel} · ${task.channel_kind}`),
    ),
    words,
    h(
      "div",
      { class: "offer-meta" },
      "Expires in ",
      h("span", { class: "countdown", "data-testid": "offer-countdown", "aria-live": "off" }),
      " · waiting ",
      h("span", { "data-since": task.created_at }, formatDuration(serverNow() - task.created_at)),
    ),
    h("div", { class: "actions" }, accept, reject),
    error,
  );
}

/** Refreshes an offer card: the customer's name and the countdown. */
export function updateOfferCard(li, task, name) {
  li.querySelector(".cust").textContent = name;
  const countdown = li.querySelector(".countdown");
  if (task.reservation_expires_at) {
    countdown.dataset.deadline = task.reservation_expires_at;
    countdown.textContent = `${Math.max(0, Math.ceil((task.reservation_expires_at - serverNow()) / 1000))}s`;
  } else {
    delete countdown.dataset.deadline;
    countdown.textContent = "—";
  }
}

/** An item of my work; `onOpen(taskId)` opens its conversation. */
export function workItem(onOpen) {
  const button = h("button", {
    type: "button",
    class: "work-item",
    "data-testid": "work-item",
    onclick: () => onOpen(button.dataset.taskId),
  });
  return h("li", null, button);
}

/**
 * Draws `task` into a work item. `name`: the customer's; `isOpen`: its
 * conversation is the open one; `unread`: inbound messages not seen;
 * `slaTarget`: ms to answer within.
 */
export function updateWorkItem(li, task, { name, isOpen, unread, slaTarget }) {
  const button = li.firstElementChild;
  button.dataset.taskId = task.id;
  button.dataset.channel = task.channel;
  button.dataset.state = task.state;
  if (isOpen) button.setAttribute("aria-current", "true");
  else button.removeAttribute("aria-current");
  let sla;
  if (task.accepted_at) {
    const met = task.accepted_at - task.created_at <= slaTarget;
    sla = h("span", { class: met ? "sla met" : "sla breached" }, met ? "SLA met" : "SLA missed");
  } else {
    sla = h("span", {
      class: "sla",
      "data-deadline": task.created_at + slaTarget,
      "data-target": slaTarget,
      "data-format": "sla",
    });
  }
  button.replaceChildren(
    h(
      "span",
      { class: "wi-top" },
      channelBadge(task.channel),
      h("span", { class: "wi-name" }, name),
      unread ? h("span", { class: "unread", title: `${unread} unread` }, String(unread), h("span", { class: "sr-only" }, " unread")) : null,
    ),
    h(
      "span",
      { class: "wi-meta" },
      h("span", { class: `state state-${task.state}` }, task.state),
      h("span", { "aria-hidden": "true" }, task.channel),
      h("span", { title: "Waiting since the contact arrived" }, h("span", { "data-since": task.created_at })),
      sla,
    ),
  );
  // Fill the live counters now rather than on the next tick.
  const now = serverNow();
  for (const el of button.querySelectorAll("[data-since]")) el.textContent = formatDuration(now - task.created_at);
  if (sla.dataset.deadline) {
    const left = task.created_at + slaTarget - now;
    sla.textContent = left >= 0 ? `SLA ${formatDuration(left)}` : `SLA breached ${formatDuration(-left)}`;
    sla.classList.toggle("breached", left < 0);
  }
}
