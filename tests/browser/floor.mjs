// The agent floor in the browser (run by run.mjs, which passes its helpers
// as `k`): a customer's photo previewed, labels, an internal note, a canned
// response filled for the customer and edited, a file sent with the reply,
// a transfer with a note that the receiving agent sees first, and a
// disposition the host refuses; then offers an agent cannot miss — a
// notification and a beep with the customer's first words, and the banner
// after an offer lapsed.

import { randomBytes } from "node:crypto";

const tag = () => randomBytes(3).toString("hex");

/** Sets the signed-in agent available from the desktop, as she would. */
async function goAvailable(page, k, token, id) {
  if ((await page.getByTestId("nav-desktop").count()) > 0) await page.getByTestId("nav-desktop").click();
  await page.getByTestId("status-select").selectOption("available");
  await k.until(`the host to have ${id} available`, async () => {
    const agent = await k.api(token, `/api/agents/${id}`);
    return [agent.status === "available", agent.status];
  });
}

/** The trimmed, space-collapsed text of a locator. */
async function textOf(locator) {
  return ((await locator.textContent()) || "").replace(/\s+/g, " ").trim();
}

/** Waits until the locator's (single) text contains `want`. */
async function expectContains(k, locator, want, what, timeout) {
  return k.until(
    `${what} to contain ${JSON.stringify(want)}`,
    async () => {
      const n = await locator.count();
      if (n !== 1) return [false, `${n} matching elements`];
      const text = await textOf(locator);
      return [text.includes(want), text];
    },
    timeout,
  );
}

/**
 * 5. Sheena sends a photo on WhatsApp. Ana sees it, labels the
 * conversation, notes it, answers with a canned response plus a file, and
 * transfers it to Bob, who sees her note first and wraps up.
 */
export async function floorDesk(page, k) {
  const s = "floor";
  const { env } = k;
  await k.signIn(page, s, env.agentToken);
  await goAvailable(page, k, env.agentToken, env.agentId);

  const caption = `The box arrived crushed (${tag()})`;
  await k.whatsappImage(caption);
  k.log(s, "signed WhatsApp photo posted");
  const offer = page.getByTestId("offer");
  await offer.waitFor();
  const taskId = await offer.getAttribute("data-task-id");
  await expectContains(k, offer.getByTestId("offer-preview"), caption, "the offer's first words");
  await offer.getByTestId("offer-accept").click();
  const conversation = page.getByTestId("conversation");
  await k.expectAttr(page.locator(k.tid("work-item", { "data-task-id": taskId })), "data-state", "assigned", `work item ${taskId}`);
  await conversation.waitFor();
  const conversationId = await conversation.getAttribute("data-conversation-id");

  // Her photo, fetched with the agent's token and shown from a blob: URL.
  const picture = conversation.getByTestId("attachment-image");
  await k.until("the photo to be shown", async () => {
    const n = await picture.count();
    if (n !== 1) return [false, `${n} pictures`];
    const [src, width] = await picture.evaluate((img) => [img.getAttribute("src"), img.naturalWidth]);
    return [Boolean(src && src.startsWith("blob:") && width > 0), { src, width }];
  });
  k.log(s, "the customer's photo is previewed");

  // Her earlier conversations, each with how it ended.
  const past = page.getByTestId("past-conversation");
  await k.until("her past conversations with their dispositions", async () => {
    const texts = (await past.allTextContents()).map((t) => t.replace(/\s+/g, " "));
    return [texts.length >= 3 && texts.some((t) => t.includes("resolved") && t.includes("Disposition: seeded")), texts];
  });

  // Labels: a configured one sticks, another is refused with the host's reason.
  await page.getByTestId("label-input").fill("refund");
  await page.getByTestId("label-add").click();
  await page.locator(k.tid("label-chip", { "data-label": "refund" })).waitFor();
  await page.getByTestId("label-input").fill("nonsense");
  await page.getByTestId("label-add").click();
  await expectContains(k, page.getByTestId("labels-error"), "nonsense", "the refused label's error");
  await k.expectCount(page.getByTestId("label-chip"), 1, "labels after the refused one");
  k.log(s, "label refund added; an unconfigured one refused");

  const noteText = `Photo shows a crushed box; refund approved (${tag()})`;
  await page.getByTestId("note-toggle").click();
  await page.getByTestId("note-input").fill(noteText);
  await page.getByTestId("note-add").click();
  await expectContains(k, conversation.locator(k.tid("note", { "data-kind": "internal" })), noteText, "the internal note");
  k.log(s, "internal note shown");

  // "/ref" + Enter puts the filled-in text in the box and sends nothing.
  const canned = await k.api(env.agentToken, `/api/canned-responses?conversation=${conversationId}`);
  const refund = canned.find((r) => r.shortcut === "refund");
  k.assert(refund && refund.rendered.includes(env.agentName) && !refund.rendered.includes("{{"), `refund is filled: ${JSON.stringify(refund)}`);
  const input = page.getByTestId("reply-input");
  await input.click();
  await input.pressSequentially("/");
  await k.until("the picker to list the canned responses", async () => {
    const n = await page.getByTestId("canned-option").count();
    return [n >= 2, `${n} options`];
  });
  await input.pressSequentially("ref");
  await k.expectCount(page.getByTestId("canned-option"), 1, "canned responses matching /ref");
  await input.press("Enter");
  await k.until("the canned response in the reply box", async () => {
    const value = await input.inputValue();
    return [value === refund.rendered, value];
  });
  // This conversation's replies, not her history's.
  const outbound = conversation.locator(`${k.tid("timeline-entry", { "data-direction": "outbound" })}:not([data-history])`);
  await k.expectCount(outbound, 0, "messages sent by choosing a canned response", 0);
  await k.shot(page, "floor-canned");
  await input.press("Control+End");
  await input.pressSequentially(" The form is attached.");
  const replyText = `${refund.rendered} The form is attached.`;

  const fileName = "refund-form.pdf";
  await page.getByTestId("attach-input").setInputFiles({ name: fileName, mimeType: "application/pdf", buffer: Buffer.from("%PDF-1.4 refund form 4821") });
  await k.expectAttr(page.locator(k.tid("attachment-chip", { "data-filename": fileName })), "data-state", "ready", "the uploaded file's chip");
  await page.getByTestId("reply-send").click();
  await k.expectCount(outbound, 1, "the reply with the file");
  await outbound.locator(k.tid("attachment", { "data-filename": fileName })).waitFor();
  await expectContains(k, outbound, replyText, "the reply");
  await k.expectAttr(outbound.getByTestId("message-status"), "data-status", "sent", "the reply's status (the mock provider took it)");
  await k.expectCount(page.getByTestId("attachment-chip"), 0, "pending files after sending");
  k.log(s, "canned response edited and sent with a file");
  await k.shot(page, "floor-conversation");

  // Transfer to Bob: refused while he is offline, done once he is available.
  const transferNote = `Bob, please issue the refund for 4821 (${tag()})`;
  await page.getByTestId("transfer-open").click();
  const dialog = page.getByTestId("transfer-dialog");
  await dialog.getByTestId("transfer-agent").fill(env.colleagueId);
  await dialog.getByTestId("transfer-note-input").fill(transferNote);
  await dialog.getByTestId("transfer-submit").click();
  await expectContains(k, dialog.getByTestId("transfer-error"), "not available", "the refused transfer's error");
  await k.shot(page, "floor-transfer-refused", dialog);
  k.log(s, "transfer to an offline agent refused in the dialog");

  const bob = await k.newPage("floor-bob");
  try {
    await k.signIn(bob, "floor-bob", env.colleagueToken);
    await goAvailable(bob, k, env.colleagueToken, env.colleagueId);
    await dialog.getByTestId("transfer-submit").click();
    await k.expectCount(dialog, 0, "the transfer dialog after transferring");
    await k.expectCount(page.locator(k.tid("work-item", { "data-task-id": taskId })), 0, "Ana's work item after the transfer");
    await k.expectCount(page.getByTestId("conversation"), 0, "Ana's open conversation after the transfer");
    k.log(s, `transferred to ${env.colleagueId}`);

    const offered = bob.locator(k.tid("offer", { "data-task-id": taskId }));
    await offered.waitFor();
    await expectContains(k, offered.getByTestId("offer-preview"), caption, "Bob's offer's first words");
    await offered.getByTestId("offer-accept").click();
    const his = bob.getByTestId("conversation");
    await his.waitFor();
    await expectContains(k, his.getByTestId("transfer-note"), transferNote, "the transfer note Bob sees first");
    await expectContains(k, his.locator(k.tid("note", { "data-kind": "internal" })), noteText, "Ana's internal note for Bob");
    await bob.locator(k.tid("label-chip", { "data-label": "refund" })).waitFor();
    const pinnedFirst = await his.evaluate((section) => {
      const pinned = section.querySelector('[data-testid="transfer-note"]');
      const timeline = section.querySelector(".timeline");
      return Boolean(pinned && timeline && pinned.compareDocumentPosition(timeline) & Node.DOCUMENT_POSITION_FOLLOWING);
    });
    k.assert(pinnedFirst, "the transfer note is shown above the conversation");
    k.log(s, "Bob sees the transfer note first, Ana's note and the label");
    await k.shot(bob, "floor-transferred");

    // The host refuses a disposition over 64 characters: said inline.
    await bob.getByTestId("wrapup-disposition").fill("x".repeat(65));
    await bob.getByTestId("wrapup-complete").click();
    await expectContains(k, bob.getByTestId("wrapup-error"), "disposition", "the refused disposition's error");
    await bob.getByTestId("wrapup-disposition").fill("refunded");
    await bob.getByTestId("wrapup-complete").click();
    await k.expectCount(bob.locator(k.tid("work-item", { "data-task-id": taskId })), 0, "Bob's work item after completing");
    k.log(s, "a refused disposition shown inline; completed as refunded");
    await bob.getByTestId("status-select").selectOption("offline");
    await k.until(`the host to have ${env.colleagueId} offline`, async () => {
      const agent = await k.api(env.colleagueToken, `/api/agents/${env.colleagueId}`);
      return [agent.status === "offline", agent.status];
    });
  } finally {
    await k.closePage(bob);
  }

  Object.assign(k.result, {
    floor_task_id: taskId,
    floor_conversation_id: conversationId,
    floor_note: noteText,
    floor_transfer_note: transferNote,
    floor_reply_text: replyText,
    floor_file_name: fileName,
  });
}

/** Records notifications and beeps where the test can read them. */
function recordAlerts() {
  window.__notifications = [];
  window.__beeps = 0;
  window.Notification = class {
    static permission = "granted";
    static requestPermission() {
      return Promise.resolve("granted");
    }
    constructor(title, options = {}) {
      window.__notifications.push({ title, body: options.body || "" });
    }
    close() {}
  };
  const createOscillator = AudioContext.prototype.createOscillator;
  AudioContext.prototype.createOscillator = function () {
    window.__beeps += 1;
    return createOscillator.call(this);
  };
}

/**
 * 6. An offer raises a notification and a beep with the visitor's first
 * words; left to lapse, it sets Ana away, and the banner's one click makes
 * her available again.
 */
export async function offerNotifications(page, k) {
  const s = "offers";
  const { env } = k;
  await page.context().grantPermissions(["notifications"], { origin: env.baseUrl });
  await page.addInitScript(recordAlerts);
  await k.signIn(page, s, env.agentToken);
  await goAvailable(page, k, env.agentToken, env.agentId);

  const visitor = "Nora Quinn";
  const words = `My parcel never arrived, can you help? (${tag()})`;
  const session = `wc-offer-${tag()}`;
  await k.postWebhook("/webhooks/webchat", "application/json", {}, JSON.stringify({ session_id: session, visitor: { name: visitor }, text: words }));
  k.log(s, `web chat ${session} from ${visitor}`);

  const offer = page.getByTestId("offer");
  await offer.waitFor();
  await expectContains(k, offer.getByTestId("offer-preview"), words, "the offer's first words");
  const notification = await k.until("a notification of the offer", async () => {
    const seen = await page.evaluate(() => window.__notifications);
    const match = seen.find((n) => n.title === `New chat from ${visitor}` && n.body === words);
    return [Boolean(match), seen];
  });
  const beeps = await page.evaluate(() => window.__beeps);
  k.assert(beeps > 0, "the offer beeped");
  k.log(s, `notified: ${JSON.stringify(notification)}; ${beeps} tone(s)`);
  await k.shot(page, "offer-notified");

  // Nobody answers: the reservation lapses and the host sets Ana away.
  const banner = page.getByTestId("missed-offer-banner");
  await banner.waitFor({ timeout: env.reservationMs + k.LIVE_MS });
  await expectContains(k, banner, "You missed an offer and were set to Away", "the missed-offer banner");
  k.assert((await page.getByTestId("status-select").inputValue()) === "away", "the status switch shows away");
  k.log(s, "the lapsed offer set Ana away; the banner says so");
  await k.shot(page, "offer-missed", banner);

  await banner.getByTestId("missed-offer-available").click();
  await k.until("the host to have Ana available again", async () => {
    const agent = await k.api(env.agentToken, `/api/agents/${env.agentId}`);
    return [agent.status === "available", agent.status];
  });
  await k.expectCount(page.getByTestId("missed-offer-banner"), 0, "the banner after going available");
  k.assert((await page.getByTestId("status-select").inputValue()) === "available", "the status switch shows available");
  k.log(s, "one click made Ana available again");
}
