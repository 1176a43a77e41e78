// The supervisor's reports screen: after the other scenarios worked a day's
// tasks, the supervisor opens Reports, sees the totals, the volume and
// service-level charts, the per-interval table and the agents' occupancy,
// regroups by channel, and downloads the table as CSV.

import { readFileSync } from "node:fs";

/** Reports: charts, tables and a CSV download of what the day's scenarios did. */
export async function reportsScreen(page, k) {
  const s = "reports";
  await k.signIn(page, s, k.env.supervisorToken);
  await page.getByTestId("nav-reports").click();
  await page.getByTestId("reports").waitFor();
  await k.until("the report's rows", async () => {
    const rows = await page.getByTestId("reports-row").count();
    return [rows > 0, `${rows} rows`];
  });
  const offered = page.locator(k.tid("reports-total", { "data-name": "Offered" }));
  const total = Number(((await offered.textContent()) || "").replace(/\D+/g, ""));
  k.assert(total > 0, `the total offered: ${await offered.textContent()}`);
  k.assert((await page.getByTestId("volume-bar").count()) > 0, "the volume chart has bars");
  await page.getByTestId("level-chart").waitFor();
  const ana = page.locator(`tr[data-testid="reports-agent"][data-agent-id="${k.env.agentId}"]`);
  await ana.waitFor();
  const occupancy = (await ana.getByTestId("reports-occupancy").textContent()) || "";
  k.assert(/^\d+(\.\d+)?%$/.test(occupancy.trim()), `${k.env.agentId}'s occupancy: ${occupancy}`);
  await k.shot(page, "reports");
  k.log(s, `${total} offered; ${k.env.agentId} occupancy ${occupancy}`);

  // By channel: the rows are the channels the day used.
  await page.getByTestId("reports-group").selectOption("channel");
  await page.getByTestId("reports-show").click();
  await k.until("rows per channel", async () => {
    const groups = await page.getByTestId("reports-row").evaluateAll((rows) => rows.map((r) => r.dataset.group));
    return [groups.includes("whatsapp"), groups];
  });

  // The same as CSV.
  const download = page.waitForEvent("download");
  await page.getByTestId("reports-csv").click();
  const file = await download;
  const csv = readFileSync(await file.path(), "utf8");
  k.assert(csv.startsWith("interval_start,group,offered,answered,handled,abandoned,"), `the CSV's header: ${csv.slice(0, 120)}`);
  k.assert(csv.includes(",whatsapp,"), "the CSV has the WhatsApp rows");
  k.log(s, "regrouped by channel and downloaded the CSV");
}
