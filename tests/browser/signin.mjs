// Signing in with a password and the web chat widget, in the browser (run
// by run.mjs, which passes its helpers as `k`): an agent signs in with the
// email and password the admin set, a second tab is signed in already and
// can change things (the CSRF token), signing out ends both; the widget
// logs no console error on the page embedding it and tells the visitor
// nobody is available; a supervisor then sees the alert for that waiting
// chat, watches it, staffs it and sees the alert go.

const PASSWORD = "correct horse battery staple";

/** `PUT` with the admin token, as the admin console would. */
async function adminPut(k, path, body) {
  const response = await fetch(k.env.baseUrl + path, {
    method: "PUT",
    headers: { authorization: `Bearer ${k.env.adminToken}`, "content-type": "application/json" },
    body: JSON.stringify(body),
  });
  k.assert(response.ok, `PUT ${path} answered ${response.status}`);
}

export async function passwordSession(page, k) {
  const s = "password";
  const id = k.env.colleagueId;
  const email = `${id}@shop.example`;
  await adminPut(k, `/api/agents/${id}/password`, { email, password: PASSWORD });
  k.log(s, `the admin set ${id}'s password`);

  await page.goto(k.env.baseUrl + "/");
  await page.getByTestId("signin-password-form").waitFor();
  await page.getByTestId("signin-login").fill(email);
  await page.getByTestId("signin-password").fill("not the password");
  await page.getByTestId("signin-password-submit").click();
  await page.getByTestId("signin-error").waitFor();
  await k.expectCount(page.getByTestId("whoami"), 0, "a signed-in shell after a wrong password", 0);
  k.log(s, "a wrong password is refused");

  await page.getByTestId("signin-password").fill(PASSWORD);
  await page.getByTestId("signin-password-submit").click();
  await page.getByTestId("whoami").waitFor();
  await k.expectAttr(page.getByTestId("connection"), "data-state", "open", "the live connection (cookie)");
  const cookies = await page.context().cookies();
  const session = cookies.find((c) => c.name === "sb_session");
  k.assert(session && session.httpOnly && session.sameSite === "Strict", `an HttpOnly, SameSite=Strict cookie: ${JSON.stringify(session)}`);
  k.assert(
    !(await page.evaluate(() => document.cookie)).includes("sb_session"),
    "the page's scripts cannot read the session cookie",
  );
  k.log(s, "signed in with email and password");

  // A second tab of the same browser: signed in already, and it may act.
  const tab = await page.context().newPage();
  await tab.goto(k.env.baseUrl + "/#desktop");
  await tab.getByTestId("whoami").waitFor();
  await tab.getByTestId("status-select").selectOption("away");
  await k.until(`${id} to be away (set from the second tab)`, async () => {
    const agent = await k.api(k.env.adminToken, `/api/agents/${id}`);
    return [agent.status === "away", agent.status];
  });
  k.log(s, "a second tab is signed in and its changes go through");
  await k.shot(tab, "password-second-tab");

  // Signing out in one tab ends the session for both.
  await tab.getByTestId("signout").click();
  await tab.getByTestId("signin-form").waitFor();
  await page.reload();
  await page.getByTestId("signin-password-form").waitFor();
  await k.expectCount(page.getByTestId("whoami"), 0, "the first tab signed in after signing out", 0);
  await tab.close();
  k.log(s, "signed out in every tab");
}

export async function widgetAway(page, k) {
  const s = "widget";
  const problems = [];
  page.on("console", (m) => {
    // The demo page has no favicon; the browser's own request for one is
    // not the widget's doing.
    if ((m.location().url || "").endsWith("/favicon.ico")) return;
    if (m.type() === "error" || m.type() === "warning") problems.push(`${m.text()} (${m.location().url})`);
  });
  page.on("pageerror", (e) => problems.push(e.message));
  await page.goto(k.env.baseUrl + "/webhooks/webchat/demo");
  await page.locator(".launcher").click();
  // The pre-chat form, phone included: its pattern must be one the browser
  // accepts (Chromium compiles it with the `v` flag).
  await page.locator('input[name="phone"]').fill("+1 (650) 555-0199");
  await page.locator('input[name="name"]').fill("Walk-in visitor");
  await page.locator(".prechat button.primary").click();
  await page.locator(".compose textarea").fill("Is anyone there?");
  await page.locator(".compose textarea").press("Enter");
  // Nobody could take a chat now (every agent is away or offline by this
  // scenario): the visitor is told rather than left waiting.
  await k.until("the away notice", async () => {
    const text = (await page.getByTestId("sb-notice").textContent()) || "";
    return [text.includes("We're away right now"), text];
  });
  await k.shot(page, "widget-away");
  k.assert(problems.length === 0, `the widget's page logged nothing: ${JSON.stringify(problems)}`);
  // The visitor comes back later in the same browser (widgetAnswered).
  k.widgetStorage = await page.evaluate(() => JSON.stringify({ ...localStorage }));
  k.log(s, "no console error, and the away notice shows");
}

/**
 * The widget's visitor waits while an agent is in but cannot take her chat:
 * Quinn, a new agent with room for two chats, takes the other waiting chat
 * and declines hers (so it is not offered to him again). The widget shows
 * her place in the queue instead of the away notice. Quinn then signs off,
 * so the supervisor still finds her chat unstaffed.
 */
export async function widgetQueue(page, k) {
  const s = "widget-queue";
  const { env } = k;
  k.assert(k.widgetStorage, "the widget scenario ran first");
  const created = await fetch(env.baseUrl + "/api/agents/quinn", {
    method: "PUT",
    headers: { authorization: `Bearer ${env.adminToken}`, "content-type": "application/json" },
    body: JSON.stringify({ name: "Quinn Lee", capacity: { voice: 0, chat: 2, messaging: 0, email: 0 } }),
  });
  const quinn = (await created.json()).token;
  k.assert(created.ok && quinn, `Quinn was created: ${created.status}`);
  await postApi(k, quinn, "/api/agents/quinn/status", { status: "available" });
  const isHers = async (task) => {
    const view = await k.api(env.adminToken, `/api/conversations/${task.conversation_id}`);
    return view.messages.some((m) => m.text === "Is anyone there?");
  };
  let declined = false;
  try {
    await k.until("Quinn to hold the other chat and decline hers", async () => {
      const tasks = await k.api(quinn, "/api/agents/quinn/tasks");
      for (const task of tasks.filter((t) => t.state === "reserved")) {
        if (await isHers(task)) {
          await postApi(k, quinn, `/api/tasks/${task.id}/reject`);
          declined = true;
        } else {
          await postApi(k, quinn, `/api/tasks/${task.id}/accept`);
        }
      }
      const held = tasks.filter((t) => t.state === "assigned").length;
      return [declined && held >= 1, JSON.stringify(tasks.map((t) => [t.channel, t.state]))];
    });
    await page.context().addInitScript((saved) => {
      for (const [key, value] of Object.entries(JSON.parse(saved))) localStorage.setItem(key, value);
    }, k.widgetStorage);
    await page.goto(env.baseUrl + "/webhooks/webchat/demo");
    await page.locator(".launcher").click();
    await k.until("her place in the queue", async () => {
      const text = (await page.getByTestId("sb-notice").textContent()) || "";
      if (text.startsWith("You are number 1 in the queue")) return [true, text];
      // What the host answers her now, for the failure's message.
      const now = await page.evaluate(async (base) => {
        const key = Object.keys(localStorage).find((k) => k.startsWith("switchboard-webchat:"));
        const saved = JSON.parse(localStorage.getItem(key) || "{}");
        const r = await fetch(`${base}/webhooks/webchat/messages?session_id=${saved.sessionId}&after=0`, {
          headers: { "x-webchat-secret": saved.secret || "" },
        });
        return `${r.status} ${await r.text()}`;
      }, env.baseUrl);
      return [false, `notice "${text}"; the host answers ${now}`];
    });
    await k.shot(page, "widget-queue");
    k.log(s, `the widget says: ${(await page.getByTestId("sb-notice").textContent()).trim()}`);
  } finally {
    await postApi(k, quinn, "/api/agents/quinn/status", { status: "offline" });
  }
}

/**
 * The supervisor acting on the floor (after the widget scenario left a chat
 * waiting with nobody available): the alert says so, the supervisor sets
 * the colleague available, assigns him the chat, and watches it.
 */
export async function supervise(page, k) {
  const s = "supervise";
  await k.signIn(page, s, k.env.supervisorToken);
  await page.getByTestId("nav-dashboard").click();
  const alert = page.locator(k.tid("alert", { "data-kind": "chat" }));
  await alert.waitFor();
  k.log(s, `alert: ${(await alert.textContent()).trim()}`);
  await k.shot(page, "supervise-alert");

  // Watch the waiting chat: the visitor's words appear.
  const row = page.getByTestId("queue-row").filter({ hasText: "webchat" }).first();
  await row.getByTestId("watch-open").click();
  await k.until("the watched conversation to show the visitor's message", async () => {
    const text = (await page.getByTestId("watch-log").textContent()) || "";
    return [text.includes("Is anyone there?"), text];
  });

  // Set the colleague available from his row; the alert goes.
  const colleague = page.locator(`tr[data-agent-id="${k.env.colleagueId}"]`);
  await colleague.getByTestId("agent-status-set").selectOption("available");
  await k.until(`${k.env.colleagueId} available`, async () => {
    const agent = await k.api(k.env.adminToken, `/api/agents/${k.env.colleagueId}`);
    return [agent.status === "available", agent.status];
  });
  k.log(s, "the supervisor set the colleague available");
  // Either the router already offered him the chat, or the supervisor
  // assigns it: both end with the chat his.
  const taken = async () => {
    const tasks = await k.api(k.env.adminToken, `/api/agents/${k.env.colleagueId}/tasks`);
    return tasks.some((t) => t.channel === "webchat");
  };
  if (!(await taken())) {
    const assign = page.getByTestId("queue-row").filter({ hasText: "webchat" }).first().getByTestId("assign-agent");
    if ((await assign.count()) > 0) await assign.selectOption(k.env.colleagueId);
  }
  await k.until("the chat to be the colleague's", async () => [await taken(), "not yet"]);
  await k.expectCount(page.locator(k.tid("alert", { "data-kind": "chat" })), 0, "the chat alert after staffing", k.LIVE_MS);
  await k.shot(page, "supervise-done");
  k.log(s, "staffed: the alert is gone and the chat is taken");
}

/** Past work and search: a supervisor finds Sheena and reads a past conversation. */
export async function searchPast(page, k) {
  const s = "search";
  await k.signIn(page, s, k.env.supervisorToken);
  await page.getByTestId("nav-desktop").click();
  await page.getByTestId("customer-search").fill("Nelson");
  const customer = page.getByTestId("search-customer").filter({ hasText: "Sheena" }).first();
  await customer.waitFor();
  await customer.click();
  const conversation = page.getByTestId("search-conversation").first();
  await conversation.waitFor();
  await conversation.locator("button").click();
  await k.until("a past conversation's transcript", async () => {
    const text = (await page.getByTestId("search-transcript").textContent()) || "";
    return [text.includes("customer:"), text.slice(0, 200)];
  });
  await k.shot(page, "search");
  k.log(s, "found Sheena and read a past conversation");
}

/** A POST to the API with `token`; returns the JSON answer. */
export async function postApi(k, token, path, body) {
  const response = await fetch(k.env.baseUrl + path, {
    method: "POST",
    headers: { authorization: `Bearer ${token}`, "content-type": "application/json" },
    body: JSON.stringify(body || {}),
  });
  const answer = await response.json().catch(() => null);
  if (!response.ok) throw new Error(`POST ${path}: ${response.status} ${JSON.stringify(answer)}`);
  return answer;
}

/**
 * The widget's visitor back on the page (after the supervisor gave her chat
 * to the colleague): his reply shows his name, and when he closes the
 * conversation the widget says it ended.
 */
export async function widgetAnswered(page, k) {
  const s = "widget-answered";
  const { env } = k;
  k.assert(k.widgetStorage, "the widget scenario ran first");
  await page.context().addInitScript((saved) => {
    for (const [key, value] of Object.entries(JSON.parse(saved))) localStorage.setItem(key, value);
  }, k.widgetStorage);
  await page.goto(env.baseUrl + "/webhooks/webchat/demo");
  await page.locator(".launcher").click();
  await k.until("the earlier message in the widget", async () => {
    const text = (await page.locator(".messages").textContent()) || "";
    return [text.includes("Is anyone there?"), text];
  });

  const tasks = await k.api(env.colleagueToken, `/api/agents/${env.colleagueId}/tasks`);
  const task = tasks.find((t) => t.channel === "webchat");
  k.assert(task, `the colleague holds the chat: ${JSON.stringify(tasks)}`);
  if (task.state === "reserved") await postApi(k, env.colleagueToken, `/api/tasks/${task.id}/accept`);
  await postApi(k, env.colleagueToken, `/api/conversations/${task.conversation_id}/messages`, {
    text: "Hello, I can help with that.",
  });
  const answer = page.locator(".messages li.agent").last();
  await k.until("the colleague's reply with his name", async () => {
    const text = (await answer.textContent()) || "";
    return [text.includes("Bob Reyes") && text.includes("I can help"), text];
  });
  await k.shot(page, "widget-named-reply");

  await postApi(k, env.colleagueToken, `/api/tasks/${task.id}/complete`);
  await k.until("the conversation-ended notice", async () => {
    const text = (await page.getByTestId("sb-notice").textContent()) || "";
    return [text.includes("This conversation has ended"), text];
  });
  await k.shot(page, "widget-closed");
  k.log(s, "the reply names the agent, and the widget says the conversation ended");

  // The CSAT survey shows as a rating; a click answers it.
  const five = page.locator('.rating button[data-score="5"]');
  await five.waitFor({ timeout: k.LIVE_MS });
  await k.shot(page, "widget-survey");
  await five.click();
  await k.expectCount(page.locator(".rating"), 0, "the rating after answering", k.LIVE_MS);
  await k.until("the score on the conversation", async () => {
    const conversation = await k.api(env.adminToken, `/api/conversations/${task.conversation_id}`);
    const survey = conversation.survey || {};
    return [survey.score === 5 && survey.kind === "csat", survey];
  });
  k.log(s, "the visitor rated the chat 5 from the widget");
}

