// The agent desktop: status, incoming offers, my work across channels, the
// open conversation (history from other channels first, then this one,
// with its internal notes and labels), the customer's profile, replying,
// transfer and wrap-up. The parts live in desktop-*.js, canned.js and
// notify.js; this module keeps the state and the live updates.

import { searchCard } from "./desktop-search.js";
import { h, reconcile, channelBadge, serverNow, errorText, field, uid, cap } from "./util.js";
import { get, post, seg } from "./api.js";
import { offerAlerts } from "./notify.js";
import { messageEntry, statusRank } from "./desktop-timeline.js";
import { attachmentViewer } from "./desktop-files.js";
import { replyForm, wrapupForm, updateWrapupNote } from "./desktop-reply.js";
import { noteEntry, noteForm, transferNoteBlock, labelsBar, openTransferDialog, transferButton } from "./desktop-floor.js";
import { profileView } from "./desktop-profile.js";
import { offerCard, updateOfferCard, workItem, updateWorkItem } from "./desktop-work.js";

// Host defaults (routing.sla_ms); supervisors read the configured ones from /api/stats.
const DEFAULT_SLA_MS = { voice: 20000, chat: 60000, messaging: 300000, email: 14400000 };
const HELD = new Set(["reserved", "assigned", "wrapping"]);
const STATUSES = ["available", "away", "offline"];
const SYNC_EVERY_MS = 20000; // a safety net under the live events

export function mount(root, ctx) {
  const me = ctx.me.agent;
  const state = {
    tasks: new Map(), // task id → task (reserved, assigned, wrapping)
    customers: new Map(), // customer id → customer | null (loading) | {failed}
    customerLoads: new Map(), // customer id → Promise, settled once state.customers has it
    unread: new Map(), // conversation id → count of inbound messages not seen
    open: null, // the open conversation, see openTask()
    sla: { ...DEFAULT_SLA_MS },
    announced: new Set(), // "task id:reserved_at" of offers already announced
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
  const alerts = offerAlerts({ customer: ensureCustomer, customerName, goAvailable: () => changeStatus("available") });

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
        alerts.banner,
        h("h2", { id: offersTitle }, "Offers"),
        offersList,
        offersEmpty,
        h("h2", { id: workTitle }, "My work"),
        workList,
        workEmpty,
        searchCard(),
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

  /** Takes the host's word for my status; true if it changed. */
  function setMyStatus(status) {
    const previous = me.status;
    me.status = status;
    showStatus(status);
    alerts.statusChanged(previous, status);
    return status !== previous;
  }

  async function changeStatus(status) {
    // Going available is the agent's gesture that lets offers notify and beep.
    if (status === "available") alerts.prepare();
    statusError.hidden = true;
    statusSelect.setAttribute("aria-busy", "true");
    try {
      const agent = await post(`/api/agents/${seg(me.id)}/status`, { status });
      setMyStatus(agent.status);
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
      // Keyed by reservation: a task offered to me again is a new offer.
      const offer = `${t.id}:${t.reserved_at}`;
      if (t.state === "reserved" && !state.announced.has(offer)) {
        state.announced.add(offer);
        ctx.announce(`New ${t.channel} offer from ${customerName(t.customer_id)}`);
        alerts.offered(t);
      }
    }
    renderOffers();
    renderWork();
    const open = state.open;
    if (open) {
      const task = state.tasks.get(open.taskId);
      if (!task) closeConversation(open.goneNotice || "This task is no longer yours: it was completed or returned to the queue.");
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

  /** Loads a customer's profile once; resolves when state.customers has it. */
  function ensureCustomer(id) {
    if (!id) return Promise.resolve();
    // A failed load is dropped from state.customers on resync: then it is tried again.
    if (state.customers.has(id) && state.customerLoads.has(id)) return state.customerLoads.get(id);
    state.customers.set(id, null);
    const loading = get(`/api/customers/${seg(id)}`)
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
    state.customerLoads.set(id, loading);
    return loading;
  }

  /** Reloads a loaded profile in place (no "Customer" flicker meanwhile). */
  function refreshCustomer(id) {
    get(`/api/customers/${seg(id)}`)
      .then((c) => {
        state.customers.set(id, c);
        if (state.open && state.open.task.customer_id === id) renderProfile();
      })
      .catch(() => {});
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
    const li = offerCard(task, { preview: alerts.preview(task), onAct: (verb) => actOnOffer(task, verb) });
    updateOffer(li, task);
    return li;
  }

  function updateOffer(li, task) {
    updateOfferCard(li, task, customerName(task.customer_id));
  }

  async function actOnOffer(task, verb) {
    let updated;
    try {
      updated = await post(`/api/tasks/${seg(task.id)}/${verb}`);
    } catch (err) {
      // 404/409: the offer is gone (expired, canceled): show what is true now.
      if (err.status === 404 || err.status === 409) setTimeout(refreshTasks, 1500);
      throw err;
    }
    alerts.handled(task.id);
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
  }

  // ---- my work list ------------------------------------------------------------

  function renderWork() {
    const tasks = [...state.tasks.values()].sort(byCreated);
    reconcile(workList, tasks, (t) => t.id, createWorkItem, updateWork);
    workEmpty.hidden = tasks.length > 0;
  }

  function createWorkItem(task) {
    const li = workItem(openTask);
    updateWork(li, task);
    return li;
  }

  function updateWork(li, task) {
    updateWorkItem(li, task, {
      name: customerName(task.customer_id),
      isOpen: Boolean(state.open && state.open.taskId === task.id),
      unread: state.unread.get(task.conversation_id) || 0,
      slaTarget: slaTarget(task),
    });
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
    if (state.open) state.open.files.release();
    state.open = null;
    renderNoConversation(notice);
    renderWork();
    if (notice) ctx.announce(notice);
  }

  /**
   * Opens a task's conversation. state.open holds the task, the loaded
   * conversation, and the elements that are kept across re-renders (so a
   * half-written reply or note survives live updates).
   */
  async function openTask(taskId, opts = {}) {
    const task = state.tasks.get(taskId);
    if (!task) return;
    if (state.open && state.open.taskId === taskId && state.open.conv) {
      if (opts.focusReply) focusReply();
      return;
    }
    const headEl = h("header", { class: "conv-head" });
    const labelsSlot = h("div", { class: "labels-slot" });
    const pinned = h("div", { class: "pinned-slot" });
    const timeline = h("ol", {
      class: "timeline",
      role: "log",
      "aria-live": "polite",
      "aria-relevant": "additions",
      "aria-label": "Messages and internal notes",
      tabindex: "0",
    });
    const actions = h("div", { class: "conv-actions" });
    const section = h(
      "section",
      { class: "conversation", "data-testid": "conversation", "data-conversation-id": task.conversation_id },
      headEl,
      labelsSlot,
      pinned,
      timeline,
      actions,
    );
    if (state.open) state.open.files.release();
    state.open = {
      taskId,
      task,
      conv: null,
      headEl,
      labelsSlot,
      pinned,
      timeline,
      actions,
      section,
      actionsKey: null,
      reply: null,
      notes: null,
      wrapup: null,
      files: attachmentViewer(),
      goneNotice: null, // what to say when the task leaves because of my own action
    };
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
      open.conv = {
        ...conv,
        messages: conv.messages || [],
        history: conv.history || [],
        notes: conv.notes || [],
        past_conversations: conv.past_conversations || [],
      };
      // Made once: a label being typed survives a reload of the conversation.
      if (!open.labelsSlot.firstChild) open.labelsSlot.append(labelsBar(conv.id, conv.labels));
      renderTimeline();
      renderProfile();
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
      t.state === "assigned" ? transferButton(startTransfer) : null,
    );
  }

  function startTransfer() {
    const open = state.open;
    if (!open) return;
    openTransferDialog(open.task, {
      meId: me.id,
      supervisor: ctx.me.role === "supervisor",
      onStart: (notice) => (open.goneNotice = notice),
      onFailed: () => (open.goneNotice = null),
      // The task leaves my work, which closes the conversation with the notice.
      onDone: upsertTask,
    });
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
    // The note of the transfer that brought the task is pinned above, not repeated here.
    const pinnedNote = transferNoteBlock(conv.notes, open.task, me.id);
    open.pinned.replaceChildren(pinnedNote || "");
    const notes = conv.notes.filter((n) => !pinnedNote || n.id !== pinnedNote.dataset.noteId);
    const current = [...conv.messages.map((m) => ({ at: m.at, el: () => entry(m, false) })), ...notes.map((n) => ({ at: n.at, el: () => noteEntry(n, me.id) }))];
    current.sort((a, b) => (a.at || 0) - (b.at || 0)); // stable: messages stay in the host's order
    for (const item of current) items.push(item.el());
    if (!current.length) items.push(h("li", { class: "sep empty" }, "No messages yet."));
    timeline.replaceChildren(...items);
    timeline.scrollTop = timeline.scrollHeight;
  }

  /** One timeline entry: a message of this conversation or of the history. */
  function entry(m, history) {
    const open = state.open;
    // Only this conversation's files are the agent's to open.
    return messageEntry(m, { history, customer: customerName(open.task.customer_id), meId: me.id, files: open.files.render(m, !history) });
  }

  /** Adds an entry at the end of this conversation's part of the timeline. */
  function appendCurrent(el) {
    const timeline = state.open.timeline;
    const empty = timeline.querySelector(".sep.empty");
    if (empty) empty.remove();
    timeline.append(el);
    timeline.scrollTop = timeline.scrollHeight;
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
    if (!history) return appendCurrent(entry(m, false));
    const timeline = open.timeline;
    const nearBottom = timeline.scrollHeight - timeline.scrollTop - timeline.clientHeight < 80;
    let sep = timeline.querySelector(".history-sep");
    if (!sep) {
      sep = h("li", { class: "sep history-sep" }, "Earlier, on other conversations and channels");
      timeline.prepend(sep);
    }
    timeline.insertBefore(entry(m, true), timeline.querySelector(".current-sep"));
    if (nearBottom) timeline.scrollTop = timeline.scrollHeight;
  }

  function addNote(note) {
    const open = state.open;
    if (!open || !open.conv || open.conv.notes.some((n) => n.id === note.id)) return;
    open.conv.notes.push(note);
    appendCurrent(noteEntry(note, me.id));
    ctx.announce("Internal note added");
  }

  function replaceEntry(m, history) {
    const old = state.open.timeline.querySelector(`[data-message-id="${CSS.escape(m.id)}"]`);
    if (old) old.replaceWith(entry(m, history));
  }

  // ---- reply, notes and wrap-up -----------------------------------------------------

  /** Re-renders the action area only when what it offers changes. */
  function renderActions() {
    const open = state.open;
    if (!open) return;
    const t = open.task;
    const canReply = t.state === "assigned" && t.channel_kind !== "voice";
    const key = `${t.state}:${canReply}`;
    if (key === open.actionsKey) return;
    open.actionsKey = key;
    const isCurrent = () => state.open === open;
    const parts = [];
    if (t.state === "reserved") {
      parts.push(h("p", { class: "note" }, "This is an offer: accept it to reply."));
    }
    if (canReply) {
      open.reply ??= replyForm(t.conversation_id, { onSent: (message) => open.conv && addMessage(message, false), isCurrent });
      parts.push(open.reply);
    }
    if (t.state === "assigned" || t.state === "wrapping") {
      open.notes ??= noteForm(t.conversation_id, { onAdded: addNote, isCurrent });
      open.wrapup ??= wrapupForm(() => isCurrent() && open.task, completed);
      updateWrapupNote(open.wrapup, t);
      parts.push(open.notes, open.wrapup);
    }
    open.actions.replaceChildren(...parts);
  }

  /** The host's answer to Complete: done, or wrapping for a while first. */
  function completed(taskId, task) {
    if (task && task.state === "wrapping") {
      ctx.announce("Wrapping up");
      upsertTask(task);
      if (state.open && state.open.wrapup) updateWrapupNote(state.open.wrapup, task);
    } else {
      state.tasks.delete(taskId);
      state.tasksSeq++;
      closeConversation("Task completed.");
      afterTasksChanged();
    }
  }

  // ---- profile ---------------------------------------------------------------

  function renderProfile() {
    const open = state.open;
    if (!open) return;
    const id = open.task.customer_id;
    profilePane.replaceChildren(
      profileView(state.customers.get(id), { name: customerName(id), meId: me.id, past: open.conv ? open.conv.past_conversations : null }),
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
      if (setMyStatus(ev.data.status)) {
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
      if (convId === open.task.conversation_id) {
        // What she writes can change her profile (STOP opts her out).
        if (m.direction === "inbound") refreshCustomer(open.task.customer_id);
        return addMessage(m, false);
      }
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
      .then((agent) => setMyStatus(agent.status))
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
