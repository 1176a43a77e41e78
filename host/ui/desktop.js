// The agent desktop: status, incoming offers, my work across channels, the
// open conversation (history from other channels first, then this one), the
// customer's profile, replying, and wrap-up.

import { h, icon, reconcile, channelBadge, timeEl, serverNow, errorText, field, uid, cap, formatDuration, KNOWN_CHANNELS } from "./util.js";
import { get, post, seg } from "./api.js";

// Host defaults (routing.sla_ms); supervisors read the configured ones from /api/stats.
const DEFAULT_SLA_MS = { voice: 20000, chat: 60000, messaging: 300000, email: 14400000 };
const HELD = new Set(["reserved", "assigned", "wrapping"]);
const STATUSES = ["available", "away", "offline"];
const DISPOSITIONS = ["resolved", "follow-up", "escalated", "callback", "no answer", "spam"];
const TICKS = {
  queued: ["◷", "Queued"],
  sent: ["✓", "Sent"],
  delivered: ["✓✓", "Delivered"],
  read: ["✓✓", "Read"],
  failed: ["✗", "Failed"],
};
const SYNC_EVERY_MS = 20000; // a safety net under the live events

export function mount(root, ctx) {
  const me = ctx.me.agent;
  const state = {
    tasks: new Map(), // task id → task (reserved, assigned, wrapping)
    customers: new Map(), // customer id → customer | null (loading) | {failed}
    unread: new Map(), // conversation id → count of inbound messages not seen
    open: null, // the open conversation, see openTask()
    sla: { ...DEFAULT_SLA_MS },
    announced: new Set(), // reserved task ids already announced
    tasksSeq: 0,
    lastExpiryCheck: 0,
    lastSync: 0,
  };

  // ---- layout ------------------------------------------------------------

  const statusError = h("p", { class: "error", role: "alert", hidden: true });
  const statusSelect = h(
    "select",
    { "data-testid": "status-select", value: me.status, onchange: () => changeStatus(statusSelect.value) },
    STATUSES.map((s) => h("option", { value: s }, cap(s))),
  );
  const statusBox = h("div", { class: `status-box st-${me.status}` }, field("My status", statusSelect), statusError);

  const offersTitle = uid("offers");
  const offersList = h("ul", { class: "offers", "aria-live": "polite", "aria-relevant": "additions", "aria-labelledby": offersTitle });
  const offersEmpty = h("p", { class: "empty" }, "No offers right now.");
  const workTitle = uid("work");
  const workList = h("ul", { class: "work-list", "aria-labelledby": workTitle });
  const workEmpty = h("p", { class: "empty" }, "Nothing assigned. Set yourself available to receive work.");

  const convPane = h("section", { class: "pane conv-pane", "aria-label": "Conversation" });
  const profilePane = h("aside", { class: "pane profile-pane", "aria-label": "Customer profile" });

  root.append(
    h(
      "div",
      { class: "desktop" },
      h(
        "section",
        { class: "pane work-pane", "aria-label": "My work" },
        statusBox,
        h("h2", { id: offersTitle }, "Offers"),
        offersList,
        offersEmpty,
        h("h2", { id: workTitle }, "My work"),
        workList,
        workEmpty,
      ),
      convPane,
      profilePane,
    ),
  );
  renderNoConversation();

  // ---- status --------------------------------------------------------------

  function showStatus(status) {
    statusSelect.value = status;
    statusBox.className = `status-box st-${status}`;
  }

  async function changeStatus(status) {
    statusError.hidden = true;
    statusSelect.setAttribute("aria-busy", "true");
    try {
      const agent = await post(`/api/agents/${seg(me.id)}/status`, { status });
      me.status = agent.status;
      showStatus(agent.status);
      ctx.announce(`Status: ${agent.status}`);
      // Leaving "available" gives back reservations: refresh the offers.
      refreshTasks();
    } catch (err) {
      showStatus(me.status);
      statusError.textContent = errorText(err);
      statusError.hidden = false;
    } finally {
      statusSelect.removeAttribute("aria-busy");
    }
  }

  // ---- tasks ---------------------------------------------------------------

  async function refreshTasks() {
    const seq = ++state.tasksSeq;
    state.lastSync = Date.now();
    try {
      const tasks = await get(`/api/agents/${seg(me.id)}/tasks`);
      if (seq !== state.tasksSeq) return; // a newer refresh is under way
      state.tasks = new Map(tasks.filter((t) => HELD.has(t.state)).map((t) => [t.id, t]));
      afterTasksChanged();
    } catch (err) {
      console.warn("could not load tasks", err);
    }
  }

  /** Applies a task from an event or an action's answer. */
  function upsertTask(task) {
    state.tasksSeq++; // an in-flight refresh started before this is stale
    if (task.agent_id === me.id && HELD.has(task.state)) state.tasks.set(task.id, task);
    else state.tasks.delete(task.id);
    afterTasksChanged();
  }

  function afterTasksChanged() {
    for (const t of state.tasks.values()) {
      ensureCustomer(t.customer_id);
      if (t.state === "reserved" && !state.announced.has(t.id)) {
        state.announced.add(t.id);
        ctx.announce(`New ${t.channel} offer from ${customerName(t.customer_id)}`);
      }
    }
    renderOffers();
    renderWork();
    const open = state.open;
    if (open) {
      const task = state.tasks.get(open.taskId);
      if (!task) closeConversation("This task is no longer yours: it was completed or returned to the queue.");
      else if (task.state !== open.task.state) {
        open.task = task;
        renderConversationHead();
        renderActions();
      } else open.task = task;
    }
  }

  const byCreated = (a, b) => a.created_at - b.created_at || (a.id < b.id ? -1 : 1);

  function slaTarget(task) {
    return state.sla[task.channel_kind] ?? DEFAULT_SLA_MS[task.channel_kind] ?? 60000;
  }

  // ---- customers -------------------------------------------------------------

  function ensureCustomer(id) {
    if (!id || state.customers.has(id)) return;
    state.customers.set(id, null);
    get(`/api/customers/${seg(id)}`)
      .then((c) => state.customers.set(id, c))
      .catch(() => state.customers.set(id, { id, failed: true }))
      .finally(() => {
        renderOffers();
        renderWork();
        if (state.open && state.open.task.customer_id === id) {
          renderConversationHead();
          renderProfile();
          // Entries drawn before the profile arrived say "Customer".
          for (const who of state.open.timeline.querySelectorAll(".author-customer .who")) who.textContent = customerName(id);
        }
      });
  }

  function customerName(id) {
    const c = state.customers.get(id);
    if (!c) return "Customer";
    if (c.display_name) return c.display_name;
    if (c.identities && c.identities.length) return c.identities[0].value;
    return "Customer";
  }

  // ---- offers ----------------------------------------------------------------

  function renderOffers() {
    const offers = [...state.tasks.values()].filter((t) => t.state === "reserved").sort(byCreated);
    reconcile(offersList, offers, (t) => t.id, createOffer, updateOffer);
    offersEmpty.hidden = offers.length > 0;
    ctx.setBadge("desktop", offers.length);
  }

  function createOffer(task) {
    const error = h("p", { class: "error", role: "alert", hidden: true });
    const accept = h("button", { type: "button", class: "primary", "data-testid": "offer-accept" }, "Accept");
    const reject = h("button", { type: "button", "data-testid": "offer-reject" }, "Reject");
    const li = h(
      "li",
      { class: "offer", "data-testid": "offer", "data-task-id": task.id },
      h(
        "div",
        { class: "offer-head" },
        channelBadge(task.channel),
        h("strong", { class: "cust" }),
        h("span", { class: "muted" }, `${task.channel} · ${task.channel_kind}`),
      ),
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
    const act = async (verb) => {
      accept.disabled = reject.disabled = true;
      error.hidden = true;
      try {
        const updated = await post(`/api/tasks/${seg(task.id)}/${verb}`);
        if (verb === "reject") {
          // The host gives the task to someone else; we see no event for it.
          state.tasks.delete(task.id);
          state.tasksSeq++;
          afterTasksChanged();
          ctx.announce("Offer rejected");
        } else {
          upsertTask(updated && updated.id ? updated : { ...task, state: "assigned" });
          ctx.announce("Offer accepted");
          openTask(task.id, { focusReply: true });
        }
      } catch (err) {
        accept.disabled = reject.disabled = false;
        error.textContent = errorText(err);
        error.hidden = false;
        // 404/409: the offer is gone (expired, canceled): show what is true now.
        if (err.status === 404 || err.status === 409) setTimeout(refreshTasks, 1500);
      }
    };
    accept.addEventListener("click", () => act("accept"));
    reject.addEventListener("click", () => act("reject"));
    updateOffer(li, task);
    return li;
  }

  function updateOffer(li, task) {
    li.querySelector(".cust").textContent = customerName(task.customer_id);
    const countdown = li.querySelector(".countdown");
    if (task.reservation_expires_at) {
      countdown.dataset.deadline = task.reservation_expires_at;
      countdown.textContent = `${Math.max(0, Math.ceil((task.reservation_expires_at - serverNow()) / 1000))}s`;
    } else {
      delete countdown.dataset.deadline;
      countdown.textContent = "—";
    }
  }

  // ---- my work list ------------------------------------------------------------

  function renderWork() {
    const tasks = [...state.tasks.values()].sort(byCreated);
    reconcile(workList, tasks, (t) => t.id, createWorkItem, updateWorkItem);
    workEmpty.hidden = tasks.length > 0;
  }

  function createWorkItem(task) {
    const button = h("button", {
      type: "button",
      class: "work-item",
      "data-testid": "work-item",
      onclick: () => openTask(button.dataset.taskId),
    });
    const li = h("li", null, button);
    updateWorkItem(li, task);
    return li;
  }

  function updateWorkItem(li, task) {
    const button = li.firstElementChild;
    button.dataset.taskId = task.id;
    button.dataset.channel = task.channel;
    button.dataset.state = task.state;
    const isOpen = state.open && state.open.taskId === task.id;
    if (isOpen) button.setAttribute("aria-current", "true");
    else button.removeAttribute("aria-current");
    const unread = state.unread.get(task.conversation_id) || 0;
    const target = slaTarget(task);
    let sla;
    if (task.accepted_at) {
      const met = task.accepted_at - task.created_at <= target;
      sla = h("span", { class: met ? "sla met" : "sla breached" }, met ? "SLA met" : "SLA missed");
    } else {
      sla = h("span", {
        class: "sla",
        "data-deadline": task.created_at + target,
        "data-target": target,
        "data-format": "sla",
      });
    }
    button.replaceChildren(
      h(
        "span",
        { class: "wi-top" },
        channelBadge(task.channel),
        h("span", { class: "wi-name" }, customerName(task.customer_id)),
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
      const left = task.created_at + target - now;
      sla.textContent = left >= 0 ? `SLA ${formatDuration(left)}` : `SLA breached ${formatDuration(-left)}`;
      sla.classList.toggle("breached", left < 0);
    }
  }

  // ---- the open conversation ---------------------------------------------------------

  function renderNoConversation(notice) {
    convPane.replaceChildren(
      h(
        "div",
        { class: "placeholder" },
        notice ? h("p", { role: "status" }, notice) : null,
        h("p", null, "Select an item in My work to open its conversation."),
      ),
    );
    profilePane.replaceChildren(h("div", { class: "placeholder" }, h("p", null, "The customer's profile shows here.")));
  }

  function closeConversation(notice) {
    state.open = null;
    renderNoConversation(notice);
    renderWork();
    if (notice) ctx.announce(notice);
  }

  /**
   * Opens a task's conversation. state.open holds the task, the loaded
   * conversation, and the elements that are kept across re-renders (so a
   * half-written reply survives live updates).
   */
  async function openTask(taskId, opts = {}) {
    const task = state.tasks.get(taskId);
    if (!task) return;
    if (state.open && state.open.taskId === taskId && state.open.conv) {
      if (opts.focusReply) focusReply();
      return;
    }
    const headEl = h("header", { class: "conv-head" });
    const timeline = h("ol", {
      class: "timeline",
      role: "log",
      "aria-live": "polite",
      "aria-relevant": "additions",
      "aria-label": "Messages",
      tabindex: "0",
    });
    const actions = h("div", { class: "conv-actions" });
    const section = h(
      "section",
      { class: "conversation", "data-testid": "conversation", "data-conversation-id": task.conversation_id },
      headEl,
      timeline,
      actions,
    );
    state.open = { taskId, task, conv: null, headEl, timeline, actions, section, actionsKey: null, reply: null, wrapup: null };
    state.unread.delete(task.conversation_id);
    convPane.replaceChildren(section);
    timeline.append(h("li", { class: "sep", role: "status" }, "Loading conversation…"));
    renderConversationHead();
    renderActions();
    renderProfile();
    renderWork();
    await loadConversation(opts);
  }

  async function loadConversation(opts = {}) {
    const open = state.open;
    if (!open) return;
    try {
      const conv = await get(`/api/conversations/${seg(open.task.conversation_id)}`);
      if (state.open !== open) return; // another item was opened meanwhile
      open.conv = { ...conv, messages: conv.messages || [], history: conv.history || [] };
      renderTimeline();
      if (opts.focusReply) focusReply();
    } catch (err) {
      if (state.open !== open) return;
      open.timeline.replaceChildren(h("li", { class: "sep error", role: "alert" }, `Could not load the conversation: ${errorText(err)}`));
    }
  }

  function focusReply() {
    const ta = state.open && state.open.reply && state.open.reply.querySelector("textarea");
    if (ta && ta.isConnected) ta.focus();
  }

  function renderConversationHead() {
    const open = state.open;
    if (!open) return;
    const t = open.task;
    open.headEl.replaceChildren(
      h("h2", null, channelBadge(t.channel), " ", customerName(t.customer_id)),
      h("span", { class: `state state-${t.state}` }, t.state),
      h("span", { class: "muted" }, `${t.channel} · ${t.channel_kind}`),
    );
  }

  function renderTimeline() {
    const open = state.open;
    const { conv, timeline } = open;
    const items = [];
    if (conv.history.length) {
      items.push(h("li", { class: "sep history-sep" }, "Earlier, on other conversations and channels"));
      for (const m of conv.history) items.push(entry(m, true));
    }
    items.push(h("li", { class: "sep current-sep" }, `This conversation · ${conv.channel || open.task.channel}`));
    for (const m of conv.messages) items.push(entry(m, false));
    if (!conv.messages.length) items.push(h("li", { class: "sep empty" }, "No messages yet."));
    timeline.replaceChildren(...items);
    timeline.scrollTop = timeline.scrollHeight;
  }

  function authorLabel(m) {
    switch (m.author) {
      case "customer":
        return customerName(state.open ? state.open.task.customer_id : null);
      case "agent":
        return m.agent_id && m.agent_id !== me.id ? `Agent ${m.agent_id}` : "You";
      case "bot":
        return "Bot";
      case "system":
        return "System";
      default:
        return m.author || "—";
    }
  }

  /** One timeline entry: a message of this conversation or of the history. */
  function entry(m, history) {
    const outbound = m.direction === "outbound";
    const cls = ["msg", outbound ? "out" : "in", `author-${m.author}`];
    if (history) cls.push("history", `ch-${channelClass(m.channel)}`);
    return h(
      "li",
      {
        class: cls.join(" "),
        "data-testid": "timeline-entry",
        "data-channel": m.channel,
        "data-direction": m.direction,
        "data-author": m.author,
        "data-message-id": m.id,
        "data-history": history ? "true" : null,
      },
      h(
        "div",
        { class: "msg-meta" },
        history ? h("span", { class: "via" }, channelBadge(m.channel), " ", m.channel) : null,
        m.author === "bot" ? icon("bot") : null,
        h("span", { class: "who" }, authorLabel(m)),
        m.at ? timeEl(m.at) : null,
      ),
      h("div", { class: "msg-text" }, m.text || (m.attachments && m.attachments.length ? "" : "(no text)")),
      attachments(m.attachments),
      outbound ? statusTick(m) : null,
      outbound && m.status === "failed" && m.error ? h("div", { class: "msg-error" }, m.error) : null,
    );
  }

  function channelClass(channel) {
    return KNOWN_CHANNELS.includes(channel) ? channel : "generic";
  }

  function attachments(list) {
    if (!list || !list.length) return null;
    return h(
      "ul",
      { class: "attachments" },
      list.map((a) => {
        const label = [a.filename || a.content_type, a.size ? `${Math.round(a.size / 1024)} KB` : null, a.caption]
          .filter(Boolean)
          .join(" · ");
        // Only web links are followed; anything else is shown as text.
        const safe = a.url && /^https?:\/\//i.test(a.url);
        return h("li", null, "📎 ", safe ? h("a", { href: a.url, target: "_blank", rel: "noopener noreferrer" }, label) : label);
      }),
    );
  }

  function statusTick(m) {
    const status = m.status || "queued";
    const [glyph, label] = TICKS[status] || ["?", status];
    const title = status === "failed" && m.error ? `Failed: ${m.error}` : label;
    return h(
      "span",
      { class: `tick tick-${status}`, "data-testid": "message-status", "data-status": status, title, "aria-label": title },
      glyph,
    );
  }

  /** Adds a message to the open conversation (or its history) unless shown. */
  function addMessage(m, history) {
    const open = state.open;
    const list = history ? open.conv.history : open.conv.messages;
    const known = list.findIndex((x) => x.id === m.id);
    if (known >= 0) {
      // The reply's own answer (queued) can arrive after the event that it
      // was sent: a message's status never goes back.
      const prev = list[known];
      if (prev.status && m.status && statusRank(m.status) < statusRank(prev.status)) {
        m = { ...m, status: prev.status, error: prev.error };
      }
      list[known] = m;
      replaceEntry(m, history);
      return;
    }
    list.push(m);
    const timeline = open.timeline;
    const nearBottom = timeline.scrollHeight - timeline.scrollTop - timeline.clientHeight < 80;
    const el = entry(m, history);
    if (history) {
      let sep = timeline.querySelector(".history-sep");
      if (!sep) {
        sep = h("li", { class: "sep history-sep" }, "Earlier, on other conversations and channels");
        timeline.prepend(sep);
      }
      timeline.insertBefore(el, timeline.querySelector(".current-sep"));
    } else {
      const empty = timeline.querySelector(".sep.empty");
      if (empty) empty.remove();
      timeline.append(el);
    }
    if (nearBottom || !history) timeline.scrollTop = timeline.scrollHeight;
  }

  function statusRank(status) {
    return { queued: 0, sent: 1, delivered: 2, read: 3, failed: 4 }[status] ?? 0;
  }

  function replaceEntry(m, history) {
    const old = state.open.timeline.querySelector(`[data-message-id="${CSS.escape(m.id)}"]`);
    if (old) old.replaceWith(entry(m, history));
  }

  // ---- reply and wrap-up -----------------------------------------------------------

  /** Re-renders the action area only when what it offers changes. */
  function renderActions() {
    const open = state.open;
    if (!open) return;
    const t = open.task;
    const canReply = t.state === "assigned" && t.channel_kind !== "voice";
    const key = `${t.state}:${canReply}`;
    if (key === open.actionsKey) return;
    open.actionsKey = key;
    const parts = [];
    if (t.state === "reserved") {
      parts.push(h("p", { class: "note" }, "This is an offer: accept it to reply."));
    }
    if (canReply) {
      open.reply = open.reply || replyForm();
      parts.push(open.reply);
    }
    if (t.state === "assigned" || t.state === "wrapping") {
      open.wrapup = open.wrapup || wrapupForm();
      updateWrapupNote();
      parts.push(open.wrapup);
    }
    open.actions.replaceChildren(...parts);
  }

  function replyForm() {
    const textarea = h("textarea", {
      "data-testid": "reply-input",
      rows: "2",
      placeholder: "Write a reply…",
    });
    const send = h("button", { type: "submit", class: "primary", "data-testid": "reply-send" }, "Send");
    const error = h("p", { class: "error", role: "alert", hidden: true });
    const form = h(
      "form",
      { class: "reply", "aria-label": "Reply" },
      field("Reply", textarea, "Enter sends · Shift+Enter adds a line"),
      h("div", { class: "actions" }, send),
      error,
    );
    textarea.addEventListener("keydown", (e) => {
      // Enter sends; Shift+Enter (and Enter while composing with an IME) is a newline.
      if (e.key === "Enter" && !e.shiftKey && !e.isComposing && !e.altKey && !e.ctrlKey && !e.metaKey) {
        e.preventDefault();
        form.requestSubmit();
      }
    });
    form.addEventListener("submit", async (e) => {
      e.preventDefault();
      const open = state.open;
      const text = textarea.value.trim();
      if (!text || send.disabled || !open) return;
      send.disabled = true;
      error.hidden = true;
      try {
        const message = await post(`/api/conversations/${seg(open.task.conversation_id)}/messages`, { text });
        textarea.value = "";
        if (state.open === open && open.conv && message && message.id) addMessage(message, false);
      } catch (err) {
        error.textContent = errorText(err);
        error.hidden = false;
      } finally {
        send.disabled = false;
        if (state.open === open) textarea.focus();
      }
    });
    return form;
  }

  function wrapupForm() {
    const listId = uid("dispositions");
    const input = h("input", { type: "text", "data-testid": "wrapup-disposition", list: listId, autocomplete: "off" });
    const complete = h("button", { type: "submit", "data-testid": "wrapup-complete" }, "Complete");
    const error = h("p", { class: "error", role: "alert", hidden: true });
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
      const open = state.open;
      if (!open || complete.disabled) return;
      const disposition = input.value.trim();
      complete.disabled = true;
      error.hidden = true;
      try {
        const task = await post(`/api/tasks/${seg(open.task.id)}/complete`, disposition ? { disposition } : {});
        if (task && task.state === "wrapping") {
          ctx.announce("Wrapping up");
          upsertTask(task);
          updateWrapupNote();
        } else {
          state.tasks.delete(open.task.id);
          state.tasksSeq++;
          closeConversation("Task completed.");
          afterTasksChanged();
        }
      } catch (err) {
        error.textContent = errorText(err);
        error.hidden = false;
      } finally {
        complete.disabled = false;
      }
    });
    return form;
  }

  function updateWrapupNote() {
    const open = state.open;
    if (!open || !open.wrapup) return;
    const note = open.wrapup.querySelector(".wrapup-note");
    const t = open.task;
    if (t.state === "wrapping") {
      const parts = [t.channel_kind === "voice" ? "The call ended. " : "Wrapping up. ", "Add a disposition and complete the task"];
      if (t.wrap_until) {
        parts.push(" (it completes by itself in ", h("span", { "data-deadline": t.wrap_until }, ""), ")");
      }
      note.replaceChildren(...parts, ".");
    } else {
      note.textContent = "Done? Complete the task with a disposition.";
    }
  }

  // ---- profile ---------------------------------------------------------------

  function renderProfile() {
    const open = state.open;
    if (!open) return;
    const id = open.task.customer_id;
    const c = state.customers.get(id);
    const titleId = uid("profile");
    let body;
    if (!c) body = [h("p", { role: "status" }, "Loading profile…")];
    else if (c.failed) body = [h("p", { class: "error" }, "The profile could not be loaded.")];
    else {
      const attrs = Object.entries(c.attributes || {});
      body = [
        h("h3", null, "Identities"),
        h(
          "ul",
          { class: "identities" },
          (c.identities || []).map((i) => h("li", null, h("span", { class: "kind" }, i.kind), " ", h("span", { class: "value" }, i.value))),
        ),
        // What the customer typed without proof: never who they are.
        (c.claims || []).length
          ? h(
              "div",
              { class: "claims", role: "note", "data-testid": "claims" },
              h("h3", null, icon("alert"), " Unverified"),
              h(
                "ul",
                { class: "identities" },
                c.claims.map((i) =>
                  h(
                    "li",
                    null,
                    "Claims to be ",
                    h("span", { class: "kind" }, i.kind),
                    " ",
                    h("span", { class: "value" }, i.value),
                    ", unverified",
                  ),
                ),
              ),
            )
          : null,
        h("h3", null, "Attributes"),
        attrs.length
          ? h("dl", { class: "attributes" }, attrs.map(([k, v]) => [h("dt", null, k), h("dd", null, String(v))]))
          : h("p", { class: "muted" }, "None"),
        c.created_at ? h("p", { class: "muted" }, "Customer since ", timeEl(c.created_at)) : null,
        c.last_agent ? h("p", { class: "muted" }, `Last served by ${c.last_agent === me.id ? "you" : c.last_agent}`) : null,
      ];
    }
    profilePane.replaceChildren(
      h(
        "div",
        { class: "profile", "data-testid": "profile-panel", "aria-labelledby": titleId },
        h("h2", { id: titleId }, icon("user"), " ", customerName(id)),
        body,
      ),
    );
  }

  // ---- live events -----------------------------------------------------------------

  function onEvent(ev) {
    const type = ev.type || "";
    if (type.startsWith("task.")) {
      const task = ev.data;
      if (!task || !task.id) return void refreshTasks();
      // Supervisors see every agent's events; only mine matter here.
      if (task.agent_id === me.id || state.tasks.has(task.id)) upsertTask(task);
    } else if (type === "message.created") {
      onMessage(ev, ev.data);
    } else if (type === "message.status") {
      onMessageStatus(ev.data);
    } else if (type === "agent.status" && ev.agent_id === me.id && ev.data) {
      const changed = ev.data.status !== me.status;
      me.status = ev.data.status;
      showStatus(me.status);
      if (changed) {
        ctx.announce(`Your status is now ${me.status}`);
        refreshTasks(); // e.g. an expired reservation made me "away"
      }
    }
  }

  function onMessage(ev, m) {
    if (!m || !m.id) return;
    const convId = ev.conversation_id || m.conversation_id;
    const open = state.open;
    if (open && open.conv) {
      if (convId === open.task.conversation_id) return addMessage(m, false);
      if (ev.customer_id && ev.customer_id === open.task.customer_id) addMessage(m, true);
    }
    const mine = [...state.tasks.values()].find((t) => t.conversation_id === convId);
    if (mine && m.direction === "inbound") {
      state.unread.set(convId, (state.unread.get(convId) || 0) + 1);
      renderWork();
      ctx.announce(`New ${m.channel} message from ${customerName(mine.customer_id)}`);
    }
  }

  function onMessageStatus(m) {
    const open = state.open;
    if (!m || !m.id || !open || !open.conv) return;
    for (const history of [false, true]) {
      const list = history ? open.conv.history : open.conv.messages;
      const i = list.findIndex((x) => x.id === m.id);
      if (i >= 0) {
        list[i] = { ...list[i], ...m };
        replaceEntry(list[i], history);
      }
    }
  }

  // ---- lifecycle -----------------------------------------------------------------

  async function loadSlaTargets() {
    // /api/stats is for supervisors; agents keep the documented defaults.
    if (me.role !== "supervisor" && ctx.me.role !== "supervisor") return;
    try {
      const stats = await get("/api/stats");
      for (const [kind, s] of Object.entries(stats.channels || {})) {
        if (s && s.sla_target_ms) state.sla[kind] = s.sla_target_ms;
      }
      renderWork();
    } catch {
      // defaults stay
    }
  }

  async function resync() {
    for (const [id, c] of state.customers) if (c && c.failed) state.customers.delete(id);
    refreshTasks();
    get(`/api/agents/${seg(me.id)}`)
      .then((agent) => {
        me.status = agent.status;
        showStatus(agent.status);
      })
      .catch(() => {});
    if (state.open) loadConversation();
  }

  refreshTasks();
  loadSlaTargets();

  return {
    show() {},
    hide() {},
    resync,
    onEvent,
    tick() {
      const now = serverNow();
      // An offer past its deadline has gone back to the queue; the host
      // sends its events to no one in particular, so ask.
      const expired = [...state.tasks.values()].some(
        (t) => t.state === "reserved" && t.reservation_expires_at && t.reservation_expires_at + 1500 < now,
      );
      if (expired && Date.now() - state.lastExpiryCheck > 3000) {
        state.lastExpiryCheck = Date.now();
        refreshTasks();
      } else if (Date.now() - state.lastSync > SYNC_EVERY_MS) {
        refreshTasks();
      }
    },
  };
}
