// Offers an agent cannot miss: each new offer beeps (a WebAudio tone, no
// sound file) and raises a browser notification naming the customer and
// their first words, which the offer card shows too. When an offer lapses
// and the host sets the agent away for it, a banner says so with a
// one-click way back.

import { h, serverNow } from "./util.js";
import { get, seg } from "./api.js";

const PREVIEW_CHARS = 140;
// Offers whose deadline passed longer ago than this no longer explain a
// change to "away".
const MISSED_WINDOW_MS = 120000;

const NEW_WORK = { chat: "New chat", messaging: "New message", email: "New email", voice: "Incoming call" };

/** The first thing the customer said, short enough for a card. */
function firstWords(conversation) {
  const first = (conversation.messages || []).find((m) => m.direction === "inbound");
  if (!first) return "";
  let text = (first.text || "").trim();
  if (!text && first.attachments && first.attachments.length) {
    const a = first.attachments[0];
    const file = (a.content_type || "").startsWith("image/") ? "a picture" : `a file${a.filename ? ` (${a.filename})` : ""}`;
    text = a.caption || `Sent ${file}`;
  }
  return text.length > PREVIEW_CHARS ? `${text.slice(0, PREVIEW_CHARS - 1)}…` : text;
}

/**
 * `customer(id)` resolves once the customer's profile is loaded and
 * `customerName(id)` names them; `goAvailable()` sets the agent available.
 * Returns the banner element to place on the desktop and the hooks the
 * desktop calls.
 */
export function offerAlerts({ customer, customerName, goAvailable }) {
  const previews = new Map(); // conversation id → Promise<text>
  const offers = new Map(); // task id → reservation deadline, until accepted or rejected
  let audio = null;

  const banner = h("div", { class: "missed-slot", "aria-live": "assertive" });

  function preview(task) {
    if (!previews.has(task.conversation_id)) {
      const loading = get(`/api/conversations/${seg(task.conversation_id)}`).then(firstWords);
      loading.catch(() => previews.delete(task.conversation_id));
      previews.set(task.conversation_id, loading);
    }
    return previews.get(task.conversation_id);
  }

  /** The page's one audio context, resumed (browsers start it suspended). */
  function wakeAudio() {
    audio ??= new AudioContext();
    if (audio.state === "suspended") audio.resume().catch(() => {});
    return audio;
  }

  function beep() {
    try {
      const sound = wakeAudio();
      const start = sound.currentTime + 0.01;
      // Two short rising tones, soft at both ends so they do not click.
      [660, 880].forEach((freq, i) => {
        const osc = sound.createOscillator();
        const gain = sound.createGain();
        const t = start + i * 0.18;
        osc.frequency.value = freq;
        gain.gain.setValueAtTime(0.0001, t);
        gain.gain.exponentialRampToValueAtTime(0.25, t + 0.02);
        gain.gain.exponentialRampToValueAtTime(0.0001, t + 0.16);
        osc.connect(gain).connect(sound.destination);
        osc.start(t);
        osc.stop(t + 0.17);
      });
    } catch (err) {
      console.warn("no sound for the offer", err);
    }
  }

  async function notify(task) {
    if (!("Notification" in window) || Notification.permission !== "granted") return;
    const [words] = await Promise.all([preview(task).catch(() => ""), customer(task.customer_id)]);
    const title = `${NEW_WORK[task.channel_kind] || "New work"} from ${customerName(task.customer_id)}`;
    const note = new Notification(title, { body: words || `On ${task.channel}`, tag: `offer-${task.id}` });
    note.onclick = () => {
      window.focus();
      note.close();
    };
  }

  function showBanner() {
    const button = h("button", { type: "button", class: "primary", "data-testid": "missed-offer-available" }, "Go available");
    button.addEventListener("click", async () => {
      button.disabled = true;
      await goAvailable();
      button.disabled = false;
    });
    banner.replaceChildren(
      h("div", { class: "missed-banner", "data-testid": "missed-offer-banner" }, h("p", null, "You missed an offer and were set to Away."), button),
    );
  }

  /**
   * Called from a user gesture (going available): browsers allow the
   * notification prompt and sound only after one.
   */
  function prepare() {
    if ("Notification" in window && Notification.permission === "default") {
      Notification.requestPermission().catch(() => {});
    }
    try {
      wakeAudio();
    } catch {
      // no audio output: offers still show and notify
    }
  }

  return {
    banner,
    prepare,
    preview,
    /** A new offer (or a task offered to me again). */
    offered(task) {
      offers.set(task.id, task.reservation_expires_at || 0);
      beep();
      notify(task).catch((err) => console.warn("could not notify of the offer", err));
    },
    /** The agent accepted or rejected it: its lapse cannot be why she is away. */
    handled(taskId) {
      offers.delete(taskId);
    },
    statusChanged(previous, status) {
      const now = serverNow();
      for (const [id, deadline] of offers) if (deadline && deadline < now - MISSED_WINDOW_MS) offers.delete(id);
      if (status === previous) return;
      // The host's clock decides the lapse; a second of slack covers ours.
      const lapsed = [...offers].filter(([, deadline]) => deadline && deadline <= now + 1000);
      for (const [id] of lapsed) offers.delete(id);
      if (previous === "available" && status === "away" && lapsed.length) showBanner();
      else banner.replaceChildren(); // any other change is the agent's own doing
    },
  };
}
