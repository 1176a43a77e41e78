// Real-browser tests of Switchboard's web UI: headless Chromium (Debian's
// `chromium`) driven by playwright-core, against a host that
// tests/tests/e2e/browser.rs started on loopback with a mock provider, seeded,
// and described in environment variables. Provider webhooks are sent from
// here mid-scenario, signed the way each provider signs them.
//
// Elements are found only by the UI's `data-testid` contract. Waits poll
// the page (Playwright's auto-waiting, or `until` below); no sleep is an
// assertion. Each scenario runs in its own browser context; a failing one
// leaves `failure-<scenario>.png` in ARTIFACTS_DIR, the others still run,
// and the script exits 1. On success it writes `browser-result.json` for
// the Rust side to check the provider and the store.
//
//   node tests/browser/run.mjs        (normally run by tests/tests/e2e/browser.rs)

import { createHmac, randomBytes } from "node:crypto";
import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { chromium } from "playwright-core";
import { floorDesk, offerNotifications } from "./floor.mjs";
import { voicemail } from "./voice.mjs";
import { passwordSession, searchPast, supervise, widgetAnswered, widgetAway, widgetQueue } from "./signin.mjs";
import { complianceScreens } from "./compliance.mjs";
import { reportsScreen } from "./reports.mjs";

const here = dirname(fileURLToPath(import.meta.url));
const fixtures = join(here, "..", "fixtures");

function need(name) {
  const value = process.env[name];
  if (!value) {
    console.error(`run.mjs: environment variable ${name} is not set (tests/tests/e2e/browser.rs sets them all)`);
    process.exit(2);
  }
  return value;
}

const env = {
  baseUrl: need("BASE_URL").replace(/\/$/, ""),
  adminToken: need("ADMIN_TOKEN"),
  agentId: need("AGENT_ID"),
  agentName: need("AGENT_NAME"),
  agentToken: need("AGENT_TOKEN"),
  supervisorId: need("SUPERVISOR_ID"),
  supervisorToken: need("SUPERVISOR_TOKEN"),
  colleagueId: need("COLLEAGUE_ID"),
  colleagueToken: need("COLLEAGUE_TOKEN"),
  reservationMs: Number(need("RESERVATION_TIMEOUT_MS")),
  waAppSecret: need("WA_APP_SECRET"),
  waReplyId: need("WA_REPLY_ID"),
  twilioAuthToken: need("TWILIO_AUTH_TOKEN"),
  mockUrl: need("MOCK_URL").replace(/\/$/, ""),
  publicBaseUrl: need("PUBLIC_BASE_URL").replace(/\/$/, ""),
  historySms: need("HISTORY_SMS_TEXT"),
  historyEmail: need("HISTORY_EMAIL_TEXT"),
  goodBundle: need("GOOD_BUNDLE_DIR"),
  goodPlugin: need("GOOD_PLUGIN_NAME"),
  brokenBundle: need("BROKEN_BUNDLE_DIR"),
  brokenPlugin: need("BROKEN_PLUGIN_NAME"),
  artifacts: need("ARTIFACTS_DIR"),
  chromium: process.env.CHROMIUM_PATH || "/usr/bin/chromium",
};
mkdirSync(env.artifacts, { recursive: true });

// How long the UI gets to show something live (an SSE event, a reload).
const LIVE_MS = 20_000;
// Loading a freshly uploaded component compiles it: give it longer.
const LOAD_MS = 60_000;

const started = Date.now();
function log(scope, message) {
  const t = ((Date.now() - started) / 1000).toFixed(1).padStart(6);
  console.log(`[browser ${t}s] ${scope}: ${message}`);
}

// ---- small helpers ---------------------------------------------------------

/** A CSS selector for `data-testid` plus exact attribute values. */
function tid(testid, attrs = {}) {
  let selector = `[data-testid="${testid}"]`;
  for (const [k, v] of Object.entries(attrs)) selector += `[${k}="${String(v).replace(/"/g, '\\"')}"]`;
  return selector;
}

/**
 * Polls `probe` (which returns [ok, lastSeen]) until ok or `timeout` ms;
 * throws with what was expected and what was last seen.
 */
async function until(what, probe, timeout = LIVE_MS) {
  const deadline = Date.now() + timeout;
  let seen;
  for (;;) {
    let ok = false;
    try {
      [ok, seen] = await probe();
    } catch (e) {
      seen = `error: ${e.message.split("\n")[0]}`;
    }
    if (ok) return seen;
    if (Date.now() > deadline) {
      throw new Error(`timed out after ${timeout} ms waiting for ${what}; last seen: ${JSON.stringify(seen)}`);
    }
    await new Promise((r) => setTimeout(r, 100)); // poll interval, not an assertion
  }
}

/** Waits until the locator's trimmed text equals `want`. */
async function expectText(locator, want, what, timeout = LIVE_MS) {
  return until(
    `${what} to read ${JSON.stringify(want)}`,
    async () => {
      const n = await locator.count();
      if (n !== 1) return [false, `${n} matching elements`];
      const text = (await locator.textContent()).trim();
      return [text === want, text];
    },
    timeout,
  );
}

/** Waits until the locator matches exactly `n` elements. */
async function expectCount(locator, n, what, timeout = LIVE_MS) {
  return until(
    `${n} × ${what}`,
    async () => {
      const count = await locator.count();
      return [count === n, `${count} elements`];
    },
    timeout,
  );
}

/** Waits until an attribute of the (single) locator equals `want`. */
async function expectAttr(locator, name, want, what, timeout = LIVE_MS) {
  return until(
    `${what} to have ${name}=${JSON.stringify(want)}`,
    async () => {
      const n = await locator.count();
      if (n !== 1) return [false, `${n} matching elements`];
      const value = await locator.getAttribute(name);
      return [value === want, value];
    },
    timeout,
  );
}

function assert(condition, message) {
  if (!condition) throw new Error(`assertion failed: ${message}`);
}

/** A screenshot of the page, scrolled first to show `focus` if given. */
async function shot(page, name, focus) {
  if (focus) await focus.scrollIntoViewIfNeeded();
  const path = join(env.artifacts, `${name}.png`);
  await page.screenshot({ path, fullPage: true, animations: "disabled" });
  log("screenshot", path);
}

/** Marks the page so a later check can tell it was not reloaded. */
async function markPage(page) {
  const mark = randomBytes(8).toString("hex");
  await page.evaluate((m) => {
    window.__switchboardBrowserTestMark = m;
  }, mark);
  return mark;
}

async function assertNotReloaded(page, mark, what) {
  const now = await page.evaluate(() => window.__switchboardBrowserTestMark);
  assert(now === mark, `${what} without a reload (the page was reloaded or navigated away)`);
}

// ---- provider webhooks, signed as the providers sign them ------------------

async function postWebhook(path, contentType, headers, body) {
  const response = await fetch(env.baseUrl + path, {
    method: "POST",
    headers: { "content-type": contentType, ...headers },
    body,
  });
  const text = await response.text();
  if (response.status !== 200) throw new Error(`POST ${path}: ${response.status} ${text}`);
  return text;
}

/** Meta's `X-Hub-Signature-256` over the raw body. */
function metaSignature(body) {
  return "sha256=" + createHmac("sha256", env.waAppSecret).update(body).digest("hex");
}

/** Twilio's `X-Twilio-Signature`: URL + every POST parameter sorted by name. */
function twilioSignature(url, params) {
  const sorted = [...params.entries()].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
  let payload = url;
  for (const [k, v] of sorted) payload += k + v;
  return createHmac("sha1", env.twilioAuthToken).update(payload).digest("base64");
}

/** A WhatsApp text message from Sheena (or `from`: `{number, name}`), like whatsapp/text.json. */
async function whatsappText(text, from) {
  const payload = JSON.parse(readFileSync(join(fixtures, "whatsapp", "text.json"), "utf8"));
  const value = payload.entry[0].changes[0].value;
  const message = value.messages[0];
  if (from) {
    // Another customer: her number and name.
    message.from = from.number;
    value.contacts[0] = { profile: { name: from.name }, wa_id: from.number };
  }
  message.id = "wamid.BROWSER" + randomBytes(12).toString("hex").toUpperCase();
  message.timestamp = String(Math.floor(Date.now() / 1000));
  message.text = { body: text };
  const body = JSON.stringify(payload);
  await postWebhook("/webhooks/whatsapp", "application/json", { "x-hub-signature-256": metaSignature(body) }, body);
  return message.id;
}

/** A WhatsApp photo from Sheena with `caption`, like whatsapp/image.json. */
async function whatsappImage(caption) {
  const payload = JSON.parse(readFileSync(join(fixtures, "whatsapp", "image.json"), "utf8"));
  const message = payload.entry[0].changes[0].value.messages[0];
  message.id = "wamid.BROWSER" + randomBytes(12).toString("hex").toUpperCase();
  message.timestamp = String(Math.floor(Date.now() / 1000));
  message.image.caption = caption;
  const body = JSON.stringify(payload);
  await postWebhook("/webhooks/whatsapp", "application/json", { "x-hub-signature-256": metaSignature(body) }, body);
  return message.id;
}

/** A WhatsApp status report for one of our replies, like status-delivered.json. */
async function whatsappStatus(id, status) {
  const payload = JSON.parse(readFileSync(join(fixtures, "whatsapp", "status-delivered.json"), "utf8"));
  const report = payload.entry[0].changes[0].value.statuses[0];
  report.id = id;
  report.status = status;
  report.timestamp = String(Math.floor(Date.now() / 1000));
  const body = JSON.stringify(payload);
  await postWebhook("/webhooks/whatsapp", "application/json", { "x-hub-signature-256": metaSignature(body) }, body);
}

/** A Twilio form webhook from a fixture, with some fields replaced. */
async function twilioPost(path, fixture, replace) {
  const params = new URLSearchParams(readFileSync(join(fixtures, fixture), "utf8").trim());
  for (const [k, v] of Object.entries(replace)) params.set(k, v);
  const signature = twilioSignature(env.publicBaseUrl + path, params);
  return postWebhook(path, "application/x-www-form-urlencoded", { "x-twilio-signature": signature }, params.toString());
}

/** The host's API, for cross-checks of what the UI did. */
/** The status of `GET path` with `token`. */
async function status(token, path) {
  const response = await fetch(env.baseUrl + path, { headers: { authorization: `Bearer ${token}` } });
  await response.arrayBuffer();
  return response.status;
}

async function api(token, path) {
  const response = await fetch(env.baseUrl + path, { headers: { authorization: `Bearer ${token}` } });
  const body = await response.json().catch(() => null);
  if (!response.ok) throw new Error(`GET ${path}: ${response.status} ${JSON.stringify(body)}`);
  return body;
}

// ---- the browser -----------------------------------------------------------

let browser;
const pages = new Set();

async function newPage(scope) {
  const context = await browser.newContext({ viewport: { width: 1280, height: 800 } });
  const page = await context.newPage();
  page.setDefaultTimeout(LIVE_MS);
  page.on("pageerror", (e) => log(scope, `page error: ${e.message}`));
  page.on("console", (m) => {
    if (m.type() === "error" || m.type() === "warning") log(scope, `console.${m.type()}: ${m.text()}`);
  });
  page.on("response", (r) => {
    if (r.status() >= 400) log(scope, `HTTP ${r.status()} ${r.request().method()} ${r.url()}`);
  });
  pages.add(page);
  return page;
}

async function closePage(page) {
  pages.delete(page);
  await page.context().close();
}

/** Opens the UI and submits the sign-in form with `token`. */
async function submitToken(page, scope, token) {
  log(scope, `open ${env.baseUrl}/`);
  await page.goto(env.baseUrl + "/");
  await page.getByTestId("signin-form").waitFor();
  await page.getByTestId("signin-token").fill(token);
  await page.getByTestId("signin-submit").click();
}

/** Signs in and waits for the shell with its live connection open. */
async function signIn(page, scope, token) {
  await submitToken(page, scope, token);
  await page.getByTestId("whoami").waitFor();
  await expectAttr(page.getByTestId("connection"), "data-state", "open", "the live connection");
  const who = (await page.getByTestId("whoami").textContent()).trim();
  log(scope, `signed in as "${who}", live connection open`);
  return who;
}

async function openView(page, scope, nav, view) {
  await page.getByTestId(nav).click();
  await page.getByTestId(view).waitFor();
  log(scope, `${view} shown`);
}

// ---- scenarios -------------------------------------------------------------

const result = {};

/** 1. An agent's desktop: offer, cross-channel timeline, reply, wrap-up. */
async function agentDesktop(page) {
  const s = "agent";
  const who = await signIn(page, s, env.agentToken);
  assert(
    who.includes(env.agentName) || who.includes(env.agentId),
    `whoami names the agent (${env.agentName} / ${env.agentId}); got "${who}"`,
  );
  if ((await page.getByTestId("nav-desktop").count()) > 0) await page.getByTestId("nav-desktop").click();
  await page.getByTestId("status-select").waitFor();
  await shot(page, "agent-desktop");

  log(s, "going available");
  await page.getByTestId("status-select").selectOption("available");
  await until("the host to have the agent available", async () => {
    const agent = await api(env.agentToken, `/api/agents/${env.agentId}`);
    return [agent.status === "available", agent.status];
  });

  const mark = await markPage(page);
  const text = `Hi again, it's Sheena — order 4821 still hasn't come (${randomBytes(3).toString("hex")})`;
  const waId = await whatsappText(text);
  log(s, `signed WhatsApp message ${waId} posted`);

  const offer = page.getByTestId("offer");
  await offer.waitFor();
  await assertNotReloaded(page, mark, "the offer appeared");
  const taskId = await offer.getAttribute("data-task-id");
  assert(taskId, "the offer carries data-task-id");
  const countdown = (await offer.getByTestId("offer-countdown").textContent()).trim();
  assert(/\d/.test(countdown), `the offer counts down; offer-countdown reads "${countdown}"`);
  log(s, `offer for task ${taskId} shown live (countdown "${countdown}")`);
  await shot(page, "agent-offer");

  await offer.getByTestId("offer-accept").click();
  const item = page.locator(tid("work-item", { "data-task-id": taskId }));
  await expectAttr(item, "data-state", "assigned", `work item ${taskId}`);
  await expectAttr(item, "data-channel", "whatsapp", `work item ${taskId}`);
  await expectCount(page.getByTestId("offer"), 0, "offers after accepting");
  log(s, "accepted; the work item is assigned");

  const conversation = page.getByTestId("conversation");
  await conversation.waitFor();
  const conversationId = await conversation.getAttribute("data-conversation-id");
  assert(conversationId, "the conversation carries data-conversation-id");
  await page.getByTestId("profile-panel").waitFor();
  // The profile reads as people write: kinds and attribute names as
  // words, a unix-ms date as a date, no internal handles.
  await until("the profile's attributes", async () => {
    const text = (await page.getByTestId("profile-panel").textContent()) || "";
    const ok =
      text.includes("Phone") &&
      text.includes("Email") &&
      text.includes("Last order") &&
      text.includes("gold") &&
      !text.includes("1764547200000") &&
      !text.includes("last_order_at") &&
      text.includes("2025");
    return [ok, text];
  });
  await shot(page, "agent-profile", page.getByTestId("profile-panel"));

  // Her WhatsApp message, and her earlier SMS and email as history.
  const entries = conversation.getByTestId("timeline-entry");
  const inbound = entries.filter({ hasText: text });
  await expectCount(inbound, 1, "the new WhatsApp message in the timeline");
  assert((await inbound.getAttribute("data-channel")) === "whatsapp", "the new message is on whatsapp");
  assert((await inbound.getAttribute("data-direction")) === "inbound", "the new message is inbound");
  for (const [channel, earlier] of [
    ["sms", env.historySms],
    ["email", env.historyEmail],
  ]) {
    const entry = conversation.locator(tid("timeline-entry", { "data-history": "true", "data-channel": channel }));
    await until(`her earlier ${channel} in the timeline as history`, async () => {
      const texts = (await entry.allTextContents()).map((t) => t.replace(/\s+/g, " ").trim());
      const want = earlier.replace(/\s+/g, " ").trim();
      return [texts.some((t) => t.includes(want)), texts];
    });
  }
  log(s, "the timeline shows the WhatsApp message and her earlier SMS and email");
  await shot(page, "agent-conversation");

  // A reply typed in the box; Enter sends it.
  const reply = `Thanks Sheena, order 4821 is reshipped today (${randomBytes(3).toString("hex")}).`;
  await page.getByTestId("reply-input").fill(reply);
  await page.getByTestId("reply-input").press("Enter");
  const outbound = conversation.locator(tid("timeline-entry", { "data-direction": "outbound" })).filter({ hasText: reply });
  await expectCount(outbound, 1, "the reply in the timeline");
  await until("the reply box to be cleared after sending", async () => {
    const left = await page.getByTestId("reply-input").inputValue();
    return [left === "", left];
  });
  // What the host has for the reply, to tell a UI that missed an update
  // from a host that never made it.
  const stored = async () => {
    const view = await api(env.agentToken, `/api/conversations/${conversationId}`);
    const m = view.messages.find((m) => m.text === reply);
    return m ? m.status : "(not stored)";
  };
  const withStore = async (promise) => {
    try {
      return await promise;
    } catch (e) {
      e.message += ` (the host has the reply as "${await stored().catch((err) => err.message)}")`;
      throw e;
    }
  };
  await withStore(expectAttr(outbound.getByTestId("message-status"), "data-status", "sent", "the reply's status (the mock provider took it)"));
  log(s, "reply sent: the provider accepted it");

  // A card number typed into a reply is masked before it is stored and
  // sent, and the agent is told so.
  await page.getByTestId("reply-input").fill("Card 4111 1111 1111 1111 noted, thanks");
  await page.getByTestId("reply-input").press("Enter");
  const masked = conversation.locator(tid("timeline-entry", { "data-direction": "outbound" })).filter({ hasText: "Card [CARD] noted" });
  await expectCount(masked, 1, "the masked reply in the timeline");
  await expectText(masked.getByTestId("redacted"), "Redacted before it was stored: a card number", "the redaction note");
  log(s, "a card number in a reply is masked, and said so");
  await whatsappStatus(env.waReplyId, "delivered");
  await withStore(expectAttr(outbound.getByTestId("message-status"), "data-status", "delivered", "the reply's status after the delivery report"));
  log(s, "the delivery report shows live");
  await shot(page, "agent-reply");

  // A dropped connection reconnects, and what arrived meanwhile shows up.
  await page.context().setOffline(true);
  await until("the live indicator to notice the dropped connection", async () => {
    const state = await page.getByTestId("connection").getAttribute("data-state");
    return [state !== "open", state];
  });
  const meanwhile = `Are you still there? (${randomBytes(3).toString("hex")})`;
  await whatsappText(meanwhile);
  await page.context().setOffline(false);
  await expectAttr(page.getByTestId("connection"), "data-state", "open", "the live connection, back");
  await expectCount(entries.filter({ hasText: meanwhile }), 1, "the message that arrived while the connection was down");
  log(s, "the connection dropped and came back; the message sent meanwhile is shown");

  // Wrap-up.
  const disposition = page.getByTestId("wrapup-disposition");
  await disposition.waitFor();
  let chosen;
  if ((await disposition.evaluate((e) => e.tagName)) === "SELECT") {
    const values = await disposition.locator("option").evaluateAll((os) => os.map((o) => o.value).filter((v) => v));
    assert(values.length > 0, "the disposition select offers values");
    chosen = values.includes("resolved") ? "resolved" : values[0];
    await disposition.selectOption(chosen);
  } else {
    chosen = "reshipped";
    await disposition.fill(chosen);
  }
  await shot(page, "agent-wrapup", page.getByTestId("wrapup-complete"));
  await page.getByTestId("wrapup-complete").click();
  await until(`work item ${taskId} to complete`, async () => {
    if ((await item.count()) === 0) return [true, "gone"];
    // The item may go between the count and the read: do not wait for it.
    const state = await item.getAttribute("data-state", { timeout: 500 }).catch(() => null);
    if (state === null && (await item.count()) === 0) return [true, "gone"];
    return [state === "completed", state];
  });
  log(s, `wrap-up done with disposition "${chosen}"`);
  await shot(page, "agent-after-wrapup");

  Object.assign(result, {
    task_id: taskId,
    conversation_id: conversationId,
    inbound_text: text,
    reply_text: reply,
    meanwhile_text: meanwhile,
    disposition: chosen,
  });
}

/**
 * 1b. A web chat visitor types Sheena's number into the pre-chat form: the
 * agent who takes the chat sees "claims to be …, unverified" and none of
 * Sheena's history.
 */
async function claimedIdentity(page) {
  const s = "claims";
  await signIn(page, s, env.agentToken);
  if ((await page.getByTestId("nav-desktop").count()) > 0) await page.getByTestId("nav-desktop").click();
  await page.getByTestId("status-select").waitFor();
  await page.getByTestId("status-select").selectOption("available");
  await until("the host to have the agent available", async () => {
    const agent = await api(env.agentToken, `/api/agents/${env.agentId}`);
    return [agent.status === "available", agent.status];
  });

  const session = `wc-claim-${randomBytes(4).toString("hex")}`;
  const body = JSON.stringify({
    session_id: session,
    visitor: { name: "A visitor", phone: "+1 650-555-1234" },
    text: "It's me, Sheena. What did I order last time?",
  });
  await postWebhook("/webhooks/webchat", "application/json", {}, body);
  log(s, `web chat ${session} claims Sheena's number`);

  const offer = page.getByTestId("offer");
  await offer.waitFor();
  const taskId = await offer.getAttribute("data-task-id");
  await offer.getByTestId("offer-accept").click();
  const item = page.locator(tid("work-item", { "data-task-id": taskId }));
  await expectAttr(item, "data-channel", "webchat", `work item ${taskId}`);

  const claims = page.getByTestId("claims");
  await claims.waitFor();
  await until("the claim to be shown as unverified", async () => {
    const text = ((await claims.textContent()) || "").replace(/\s+/g, " ");
    return [text.includes("Claims to be") && text.includes("+16505551234") && text.includes("unverified"), text];
  });
  const identities = (await page.getByTestId("profile-panel").textContent()) || "";
  assert(!identities.includes("sheena.nelson@example.com"), `the visitor's profile shows Sheena's email: ${identities}`);
  const conversation = (await page.getByTestId("conversation").textContent()) || "";
  assert(!conversation.includes("4821"), `the visitor sees Sheena's history: ${conversation}`);
  log(s, "the agent sees the claim as a claim, and nothing of Sheena's");
  await shot(page, "agent-claimed-identity", page.getByTestId("profile-panel"));
}

/** 2. A supervisor watches a call wait and be abandoned, live. */
async function supervisorDashboard(page) {
  const s = "supervisor";
  await signIn(page, s, env.supervisorToken);
  await expectCount(page.getByTestId("nav-admin"), 0, "admin navigation for a supervisor", 0);
  await openView(page, s, "nav-dashboard", "dashboard");
  const waiting = page.locator(tid("stat-waiting", { "data-kind": "voice" }));
  const abandoned = page.locator(tid("stat-abandoned", { "data-kind": "voice" }));
  await expectText(waiting, "0", "voice waiting");
  await expectText(abandoned, "0", "voice abandoned");
  for (const kind of ["voice", "chat", "messaging", "email"]) {
    for (const stat of ["stat-waiting", "stat-oldest", "stat-sla", "stat-handled", "stat-abandoned", "stat-aht"]) {
      await page.locator(tid(stat, { "data-kind": kind })).waitFor();
    }
  }
  await page.getByTestId("agents-table").filter({ hasText: env.agentName }).waitFor();
  await page.getByTestId("queue-table").waitFor();
  await page.getByTestId("waiting-chart").waitFor();
  // Business hours: the calendar, open, and who follows it.
  const support = page.locator(tid("hours-calendar", { "data-name": "support" }));
  await expectAttr(support, "data-state", "open", "the support calendar");
  await until("the calendar to say its zone and kinds", async () => {
    const text = (await support.textContent()) || "";
    return [text.includes("Europe/Berlin") && text.includes("email"), text];
  });
  await shot(page, "dashboard");

  const mark = await markPage(page);
  const callSid = "CA" + randomBytes(16).toString("hex");
  const twiml = await twilioPost("/webhooks/voice", "voice/incoming.form", { CallSid: callSid });
  assert(twiml.includes("<Enqueue"), `the ringing call is answered with TwiML that enqueues it: ${twiml}`);
  log(s, `signed Twilio call ${callSid} rings`);
  await expectText(waiting, "1", "voice waiting after the call rings");
  await expectCount(page.getByTestId("queue-row"), 1, "queue rows while the call waits");
  await assertNotReloaded(page, mark, "the waiting count changed");
  log(s, "voice waiting 0 → 1 live");
  await shot(page, "dashboard-call-waiting");

  await twilioPost("/webhooks/voice/status", "voice/status-completed.form", { CallSid: callSid, CallStatus: "completed" });
  log(s, "the caller hangs up (status callback completed)");
  await expectText(waiting, "0", "voice waiting after the hang-up");
  await expectText(abandoned, "1", "voice abandoned after the hang-up");
  await expectCount(page.getByTestId("queue-row"), 0, "queue rows after the hang-up");
  await assertNotReloaded(page, mark, "the abandoned count changed");
  log(s, "voice waiting 1 → 0 and abandoned 0 → 1 live");
  await shot(page, "dashboard-call-abandoned");
}

/** 3. An admin uploads a router bundle, reloads a plugin, and is refused a broken one. */
async function adminPlugins(page) {
  const s = "admin";
  await signIn(page, s, env.adminToken);
  await openView(page, s, "nav-admin", "admin");
  const row = (name) => page.locator(tid("plugin-row", { "data-name": name }));
  await expectText(row("whatsapp").getByTestId("plugin-status"), "active", "whatsapp's status");
  // A CRM connector nobody configured says what it needs, and gets nothing.
  await expectText(row("rest-crm").getByTestId("plugin-status"), "unconfigured", "rest-crm's status", LOAD_MS);
  await until("rest-crm to name its missing key", async () => {
    const text = (await row("rest-crm").getByTestId("plugin-missing-config").textContent()) || "";
    return [text.includes("[plugins.rest-crm.config] token"), text];
  });
  await page.getByTestId("agents-admin").waitFor();
  // CRM delivery: depth, dead letters and a redrive that answers.
  await expectText(page.getByTestId("crm-pending"), "0", "CRM events waiting");
  await expectText(page.getByTestId("crm-dead"), "0", "CRM dead letters");
  await page.getByTestId("crm-redrive").click();
  await until("the redrive to answer", async () => {
    const note = (await page.getByTestId("crm-admin").textContent()) || "";
    return [note.includes("0 event(s) back in the queue."), note];
  });
  await shot(page, "admin");

  log(s, `uploading ${env.goodPlugin}`);
  await page.getByTestId("upload-manifest").setInputFiles(join(env.goodBundle, "plugin.toml"));
  await page.getByTestId("upload-wasm").setInputFiles(join(env.goodBundle, "plugin.wasm"));
  await page.getByTestId("upload-submit").click();
  await expectAttr(page.getByTestId("upload-result"), "data-state", "ok", "the upload result", LOAD_MS);
  await expectText(row(env.goodPlugin).getByTestId("plugin-status"), "active", `${env.goodPlugin}'s status`, LOAD_MS);
  log(s, `${env.goodPlugin} uploaded and active`);
  await shot(page, "admin-uploaded", page.getByTestId("upload-result"));

  log(s, `reloading ${env.goodPlugin}`);
  const reloaded = page.waitForResponse(
    (r) => r.request().method() === "POST" && new URL(r.url()).pathname === `/api/plugins/${env.goodPlugin}/reload`,
    { timeout: LOAD_MS },
  );
  await row(env.goodPlugin).getByTestId("plugin-reload").click();
  const response = await reloaded;
  assert(response.status() === 200, `reload answered ${response.status()}: ${await response.text()}`);
  await expectText(row(env.goodPlugin).getByTestId("plugin-status"), "active", `${env.goodPlugin}'s status after the reload`);
  log(s, "reloaded; still active");

  log(s, `disabling and enabling ${env.goodPlugin}`);
  await row(env.goodPlugin).getByTestId("plugin-disable").click();
  await expectText(row(env.goodPlugin).getByTestId("plugin-status"), "disabled", `${env.goodPlugin}'s status after disable`);
  await row(env.goodPlugin).getByTestId("plugin-enable").click();
  await expectText(row(env.goodPlugin).getByTestId("plugin-status"), "active", `${env.goodPlugin}'s status after enable`, LOAD_MS);

  log(s, `uploading the broken bundle ${env.brokenPlugin}`);
  await page.getByTestId("upload-manifest").setInputFiles(join(env.brokenBundle, "plugin.toml"));
  await page.getByTestId("upload-wasm").setInputFiles(join(env.brokenBundle, "plugin.wasm"));
  await page.getByTestId("upload-submit").click();
  await expectAttr(page.getByTestId("upload-result"), "data-state", "error", "the broken upload's result", LOAD_MS);
  const message = (await page.getByTestId("upload-result").textContent()).trim();
  assert(message.length > 0, "the refused upload shows its error");
  log(s, `refused with: "${message}"`);
  const brokenRows = await row(env.brokenPlugin).count();
  if (brokenRows > 0) {
    const status = (await row(env.brokenPlugin).getByTestId("plugin-status").textContent()).trim();
    assert(status !== "active", `the broken bundle is not active; its row reads "${status}"`);
  }
  await expectText(row(env.goodPlugin).getByTestId("plugin-status"), "active", `${env.goodPlugin}'s status after the refused upload`);
  await shot(page, "admin-upload-refused", page.getByTestId("upload-result"));
  result.broken_upload_error = message;

  // A new agent: its token is shown once, and it works.
  log(s, "creating agent bea");
  const form = page.getByTestId("agent-form");
  await form.getByTestId("agent-id").fill("bea");
  await form.getByTestId("agent-name").fill("Bea Ortiz");
  await form.getByTestId("agent-skills").fill("billing:4, returns:2");
  await form.getByTestId("agent-languages").fill("en, es");
  await form.getByTestId("agent-capacity").fill("voice:1, chat:2, messaging:3, email:5");
  await form.getByTestId("agent-save").click();
  const token = page.getByTestId("agent-token");
  await token.waitFor({ timeout: LIVE_MS });
  const beaToken = (await token.textContent()).trim();
  const bea = await api(beaToken, "/api/me");
  assert(bea.role === "agent" && bea.agent.id === "bea", `the shown token signs in as bea: ${JSON.stringify(bea)}`);
  assert(bea.agent.skills.billing === 4 && bea.agent.languages.includes("es"), `bea's skills and languages: ${JSON.stringify(bea.agent)}`);
  log(s, "agent bea created; her token works");
  await shot(page, "admin-agent-created", form);

  // A leaked token: the admin gives bea a new one (the old one stops
  // working at once), then revokes it.
  const beaRow = page.locator('tr[data-agent-id="bea"]');
  await beaRow.getByTestId("agent-rotate").click();
  await until(
    "bea's new token to show",
    async () => {
      const shown = page.getByTestId("agent-token");
      const text = (await shown.count()) === 1 ? (await shown.textContent()).trim() : "";
      return [text !== "" && text !== beaToken, text];
    },
    LIVE_MS,
  );
  const newToken = (await page.getByTestId("agent-token").textContent()).trim();
  assert((await status(beaToken, "/api/me")) === 401, "bea's old token is refused after a new one");
  assert((await api(newToken, "/api/me")).agent.id === "bea", "bea's new token works");
  await beaRow.getByTestId("agent-revoke").click();
  await expectText(beaRow.getByTestId("agent-revoke"), "Confirm revoke", "the revoke button asks to confirm");
  await beaRow.getByTestId("agent-revoke").click();
  await expectText(beaRow.locator(".chip"), "revoked", "bea's row after revoking", LIVE_MS);
  assert((await status(newToken, "/api/me")) === 401, "bea's revoked token is refused");
  log(s, "bea's token rotated, then revoked; both old tokens refused");
  await shot(page, "admin-agent-revoked", page.getByTestId("agents-admin"));

  // The API reference is one click away.
  const href = await page.getByTestId("api-reference").getAttribute("href");
  const doc = await (await fetch(env.baseUrl + href)).json();
  assert(doc.openapi === "3.1.0" && doc.paths["/api/agents/{id}/token"], "the API reference link serves the OpenAPI document");
}

/** 4. A wrong token is refused; an agent never sees the admin console. */
async function signInRoles(page) {
  const s = "roles";
  await submitToken(page, s, "not-a-valid-token-" + randomBytes(4).toString("hex"));
  const error = page.getByTestId("signin-error");
  await error.waitFor();
  const said = (await error.textContent()).trim();
  assert(said.length > 0, "the sign-in error says something");
  await expectCount(page.getByTestId("whoami"), 0, "signed-in shell after a wrong token", 0);
  log(s, `wrong token refused: "${said}"`);
  await shot(page, "signin-wrong-token");

  await page.getByTestId("signin-token").fill(env.agentToken);
  await page.getByTestId("signin-submit").click();
  await page.getByTestId("whoami").waitFor();
  await expectAttr(page.getByTestId("connection"), "data-state", "open", "the live connection");
  for (const hidden of ["nav-admin", "admin", "nav-dashboard", "dashboard", "nav-reports", "reports"]) {
    await expectCount(page.getByTestId(hidden), 0, `${hidden} for an agent`, 0);
  }
  // Not by the address bar either.
  for (const path of ["/#admin", "/#dashboard", "/?view=admin#admin"]) {
    await page.goto(env.baseUrl + path);
    await page.waitForLoadState("load");
    await until(`the UI to settle at ${path}`, async () => {
      const shell = await page.getByTestId("whoami").count();
      const signin = await page.getByTestId("signin-form").count();
      return [shell + signin > 0, { shell, signin }];
    });
    await expectCount(page.getByTestId("admin"), 0, `the admin console for an agent at ${path}`, 0);
    await expectCount(page.getByTestId("nav-admin"), 0, `admin navigation for an agent at ${path}`, 0);
  }
  await page.goto(env.baseUrl + "/");
  await page.getByTestId("whoami").waitFor();
  log(s, "an agent sees no admin console or dashboard");
  await shot(page, "agent-no-admin");

  await page.getByTestId("signout").click();
  await page.getByTestId("signin-form").waitFor();
  log(s, "signed out");
  await shot(page, "signin");
}

// What the scenarios in other modules (floor.mjs) use from here.
const kit = {
  env,
  result,
  LIVE_MS,
  log,
  tid,
  until,
  expectCount,
  expectAttr,
  assert,
  shot,
  api,
  postWebhook,
  twilioPost,
  whatsappText,
  whatsappImage,
  newPage,
  closePage,
  signIn,
};

// The floor scenarios come last: the photo's download takes the mock
// provider's answers queued after the agent's reply (see browser.rs), and
// the offer scenario leaves Ana's last offer lapsed.
const scenarios = [
  ["agent", agentDesktop],
  ["claims", claimedIdentity],
  ["supervisor", supervisorDashboard],
  ["admin", adminPlugins],
  ["roles", signInRoles],
  ["floor", (page) => floorDesk(page, kit)],
  ["offers", (page) => offerNotifications(page, kit)],
  // After the floor: the colleague's password sign-in leaves him away, so
  // nobody can take a chat when the widget asks.
  ["password", (page) => passwordSession(page, kit)],
  ["widget", (page) => widgetAway(page, kit)],
  ["widget-queue", (page) => widgetQueue(page, kit)],
  ["supervise", (page) => supervise(page, kit)],
  ["widget-answered", (page) => widgetAnswered(page, kit)],
  ["search", (page) => searchPast(page, kit)],
  // Last: its customer's opt-out confirmation takes a mock answer.
  ["compliance", (page) => complianceScreens(page, kit)],
  ["voicemail", (page) => voicemail(page, kit)],
  // After everything else: the day's work is what it reports.
  ["reports", (page) => reportsScreen(page, kit)],
];

// ---- main ------------------------------------------------------------------

const only = process.env.SCENARIOS ? new Set(process.env.SCENARIOS.split(",")) : null;
browser = await chromium.launch({ executablePath: env.chromium, headless: true, args: ["--no-sandbox"] });
log("browser", `Chromium ${browser.version()} at ${env.chromium}`);
const outcomes = [];
try {
  for (const [name, run] of scenarios) {
    if (only && !only.has(name)) continue;
    log(name, "start");
    const page = await newPage(name);
    try {
      await run(page);
      outcomes.push([name, "passed"]);
      log(name, "PASSED");
    } catch (e) {
      outcomes.push([name, "FAILED", e]);
      log(name, `FAILED: ${e.stack || e}`);
      await page
        .screenshot({ path: join(env.artifacts, `failure-${name}.png`), fullPage: true, animations: "disabled" })
        .then(() => log("screenshot", join(env.artifacts, `failure-${name}.png`)))
        .catch((err) => log(name, `no failure screenshot: ${err.message}`));
    } finally {
      await closePage(page).catch(() => {});
    }
  }
} finally {
  await browser.close();
}

const failed = outcomes.filter(([, state]) => state !== "passed");
for (const [name, state, e] of outcomes) console.log(`browser scenario ${name}: ${state}${e ? ` — ${e.message}` : ""}`);
writeFileSync(join(env.artifacts, "browser-result.json"), JSON.stringify({ ...result, outcomes: outcomes.map(([n, s]) => [n, s]) }, null, 2));
if (failed.length > 0) {
  console.error(`browser: ${failed.length} of ${outcomes.length} scenarios failed`);
  process.exit(1);
}
console.log(`browser: all ${outcomes.length} scenarios passed`);
