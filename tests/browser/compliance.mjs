// Compliance in the browser (run by run.mjs, which passes its helpers as
// `k`): an agent sees that a customer opted out (STOP) in the profile
// panel, live, and why her reply is refused; the admin reads the audit
// trail — filtered, with what a change was before and after — and
// downloads it as CSV.

import { randomBytes } from "node:crypto";
import { readFileSync } from "node:fs";

const tag = () => randomBytes(3).toString("hex");

/** A JSON request to the API with `token`; returns the answer. */
async function call(k, token, method, path, body) {
  const response = await fetch(k.env.baseUrl + path, {
    method,
    headers: { authorization: `Bearer ${token}`, "content-type": "application/json" },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const answer = await response.json().catch(() => null);
  if (!response.ok) throw new Error(`${method} ${path}: ${response.status} ${JSON.stringify(answer)}`);
  return answer;
}

/** The space-collapsed text of a locator (empty when it is not there). */
async function textOf(locator) {
  if ((await locator.count()) !== 1) return "";
  return ((await locator.textContent()) || "").replace(/\s+/g, " ").trim();
}

/** 13. STOP on WhatsApp, seen by the agent; the audit trail, read by the admin. */
export async function complianceScreens(page, k) {
  const s = "compliance";
  const { env } = k;
  // A fresh agent with room for messaging work, so earlier scenarios'
  // leftovers cannot stand in the way.
  const carla = await call(k, env.adminToken, "PUT", "/api/agents/carla", {
    name: "Carla Ruiz",
    capacity: { messaging: 5 },
  });
  await k.signIn(page, s, carla.token);
  if ((await page.getByTestId("nav-desktop").count()) > 0) await page.getByTestId("nav-desktop").click();
  await page.getByTestId("status-select").selectOption("available");
  await k.until("the host to have Carla available", async () => {
    const agent = await k.api(carla.token, "/api/agents/carla");
    return [agent.status === "available", agent.status];
  });

  const omar = { number: "16505550142", name: "Omar Haddad" };
  const first = `Where is my refund? (${tag()})`;
  await k.whatsappText(first, omar);
  const offer = page.getByTestId("offer").filter({ hasText: first });
  await offer.waitFor({ timeout: k.LIVE_MS });
  await offer.getByTestId("offer-accept").click();
  const conversation = page.getByTestId("conversation");
  await k.until("Omar's conversation to open", async () => {
    const text = await textOf(conversation);
    return [text.includes(first), text.slice(0, 200)];
  });
  await k.expectCount(page.getByTestId("opted-out"), 0, "opt-outs before STOP", 0);

  // He writes STOP: the profile panel says so without a reload.
  await k.whatsappText("STOP", omar);
  await k.until("the opt-out in the profile panel", async () => {
    const text = await textOf(page.getByTestId("opted-out"));
    return [text.includes("No messages on whatsapp") && text.includes("STOP"), text];
  });
  k.log(s, "the profile panel shows the opt-out live");
  await k.shot(page, "compliance-opted-out", page.getByTestId("profile-panel"));

  // A reply is refused, and the agent is told why.
  const reply = `Your refund is on its way (${tag()})`;
  await page.getByTestId("reply-input").fill(reply);
  await page.getByTestId("reply-input").press("Enter");
  await k.until("the refusal under the reply box", async () => {
    const text = await textOf(page.getByTestId("reply-error"));
    return [text.includes("opted out of messages on whatsapp"), text];
  });
  const view0 = await call(k, carla.token, "GET", `/api/conversations/${await conversation.getAttribute("data-conversation-id")}`);
  k.assert(!view0.messages.some((m) => m.text === reply), "the refused reply was not stored");
  k.log(s, "the reply is refused with the reason");
  await k.shot(page, "compliance-refused");

  // Writing first, from the search: WhatsApp offers its template but is
  // refused (he opted out there); SMS goes, and joins Carla's work.
  await page.getByTestId("customer-search").fill("Omar");
  const omarItem = page.getByTestId("search-results").locator("li").filter({ hasText: "Omar" }).first();
  await omarItem.getByTestId("search-write").click();
  const form = omarItem.getByTestId("start-form");
  await form.getByTestId("start-channel").selectOption("whatsapp");
  await form.getByTestId("start-mode").selectOption("order_update");
  await k.expectCount(form.getByTestId("start-param"), 2, "the template's parameters");
  await form.getByTestId("start-param").nth(0).fill("Omar");
  await form.getByTestId("start-param").nth(1).fill("4821");
  await form.getByTestId("start-send").click();
  await k.until("the opt-out refusal in the form", async () => {
    const text = await textOf(form.getByTestId("start-note"));
    return [text.includes("opted out"), text];
  });
  const followUp = `Following up on your refund (${tag()})`;
  await form.getByTestId("start-channel").selectOption("sms");
  await form.getByTestId("start-text").fill(followUp);
  await form.getByTestId("start-send").click();
  await k.until("the conversation to start", async () => {
    const text = await textOf(form.getByTestId("start-note"));
    return [text.startsWith("Sent."), text];
  });
  await page.locator(k.tid("work-item", { "data-channel": "sms", "data-state": "assigned" })).first().waitFor();
  await k.until("the SMS to go out", async () => {
    const view = await call(k, carla.token, "GET", `/api/conversations?customer_id=${encodeURIComponent(view0.customer_id)}`);
    const sms = view.find((c) => c.channel === "sms");
    if (!sms) return [false, "no SMS conversation"];
    const full = await call(k, carla.token, "GET", `/api/conversations/${sms.id}`);
    const m = full.messages.find((m) => m.text === followUp);
    return [Boolean(m && m.status === "sent"), m ? `${m.status} ${m.error || ""}` : "not stored"];
  });
  k.log(s, "a conversation started from the search: templates offered, opt-out refused, SMS sent");
  await k.shot(page, "compliance-started", form);

  // The admin's audit trail: the opt-out, and Carla's creation with what
  // it changed; then a CSV of the same.
  const admin = await k.newPage(s);
  try {
    await k.signIn(admin, s, env.adminToken);
    await admin.getByTestId("nav-admin").click();
    const card = admin.getByTestId("audit-admin");
    await card.waitFor();
    await admin.getByTestId("audit-action").fill("consent.");
    await admin.getByTestId("audit-apply").click();
    const optOut = card.locator(k.tid("audit-row", { "data-action": "consent.opt_out" }));
    // The filtered list replaces the first one: only consent entries.
    const others = card.locator(k.tid("audit-row", { "data-action": "PUT /api/agents/{id}" }));
    await k.until("the opt-out, alone, in the filtered audit trail", async () => [
      (await optOut.count()) >= 1 && (await others.count()) === 0,
      await textOf(admin.getByTestId("audit-note")),
    ]);

    await admin.getByTestId("audit-action").fill("PUT /api/agents");
    await admin.getByTestId("audit-actor").fill("admin");
    await admin.getByTestId("audit-apply").click();
    const created = card.getByTestId("audit-row").filter({ hasText: "carla" });
    await k.until("Carla's creation with what it changed", async () => {
      const text = await textOf(created.last().getByTestId("audit-change"));
      return [text.startsWith("created: name: \"Carla Ruiz\""), text];
    });
    k.log(s, "the audit trail shows the opt-out and Carla's creation, before and after");
    await k.shot(admin, "compliance-audit", card);

    const download = admin.waitForEvent("download");
    await admin.getByTestId("audit-csv").click();
    const file = await download;
    const path = await file.path();
    const csv = readFileSync(path, "utf8");
    k.assert(csv.startsWith("id,at,action,actor,role,targets,address,status,reason,before,after"), `the CSV's header: ${csv.slice(0, 120)}`);
    k.assert(csv.includes("carla") && !csv.includes("consent.opt_out"), "the CSV holds what the filters show");
    k.log(s, "the CSV download holds the filtered entries");
  } finally {
    await k.closePage(admin).catch(() => {});
  }
}
