// A voicemail in the agent desktop (run by run.mjs, which passes its helpers
// as `k`): a caller's recording arrives through the voice channel's signed
// webhook, its task is offered to Vera, and in the desktop she plays it —
// the recording is fetched through the host from the (mock) provider.

import { postApi } from "./signin.mjs";

export async function voicemail(page, k) {
  const s = "voicemail";
  const { env } = k;
  const created = await fetch(env.baseUrl + "/api/agents/vera", {
    method: "PUT",
    headers: { authorization: `Bearer ${env.adminToken}`, "content-type": "application/json" },
    body: JSON.stringify({
      name: "Vera Cruz",
      capacity: { voice: 1, chat: 0, messaging: 0, email: 0 },
      voice_endpoint: "client:vera",
    }),
  });
  const vera = (await created.json()).token;
  k.assert(created.ok && vera, `Vera was created: ${created.status}`);

  const sid = `CAvoicemail${Date.now()}`;
  await k.twilioPost("/webhooks/voice/voicemail", "voice/incoming.form", {
    CallSid: sid,
    From: "+16505550123",
    Caller: "+16505550123",
    CallStatus: "completed",
    RecordingUrl: `${env.mockUrl}/2010-04-01/Accounts/AC3f8a2c1d9e7b6a5f4c3d2e1f0a9b8c7d/Recordings/REbrowser`,
    RecordingDuration: "42",
    RecordingSid: "REbrowser",
  });
  k.log(s, `voicemail ${sid} left`);

  await k.signIn(page, s, vera);
  await postApi(k, vera, "/api/agents/vera/status", { status: "available" });
  let task = null;
  await k.until("the voicemail offered to Vera", async () => {
    const tasks = await k.api(vera, "/api/agents/vera/tasks");
    task = tasks.find((t) => t.channel === "voice" && t.state === "reserved");
    return [Boolean(task), JSON.stringify(tasks)];
  });
  await postApi(k, vera, `/api/tasks/${task.id}/accept`);
  const item = page.locator(k.tid("work-item", { "data-channel": "voice" })).first();
  await item.waitFor();
  await item.click();
  const play = page.getByTestId("attachment-play");
  await play.waitFor();
  const label = ((await play.textContent()) || "").trim();
  k.assert(label.includes(`voicemail-${sid}.mp3`), `the play button names the recording: ${label}`);
  await play.click();
  const audio = page.getByTestId("attachment-audio");
  await audio.waitFor();
  const src = (await audio.getAttribute("src")) || "";
  k.assert(src.startsWith("blob:"), `the recording plays from what the host fetched: ${src}`);
  await k.shot(page, "voicemail");
  await postApi(k, vera, `/api/tasks/${task.id}/complete`);
  k.log(s, "Vera played the voicemail in the desktop");
}
