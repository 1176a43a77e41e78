// The supervisor dashboard's business-hours card: each calendar open or
// closed now, until when, any override in force, and who follows it
// (`GET /api/hours`). Hidden when no calendar is configured.

import { h, errorText, formatTime } from "./util.js";
import { get } from "./api.js";

function calendarItem(c) {
  const state = c.open ? "open" : "closed";
  const until = c.next_change ? ` until ${formatTime(c.next_change)}` : "";
  const follows = [...(c.kinds || []), ...(c.channels || [])].join(", ") || "default";
  return h(
    "li",
    { "data-testid": "hours-calendar", "data-name": c.name, "data-state": state },
    h("strong", null, c.name),
    " ",
    h("span", { class: `chip ${c.open ? "ok" : "warn"}`, "data-testid": "hours-state" }, state),
    h("span", { class: "muted" }, `${until} · ${c.time_zone} · ${follows}`),
    !c.open && c.next_open_local ? h("span", { class: "muted" }, ` · opens ${c.next_open_local}`) : null,
    c.override
      ? h(
          "span",
          { class: "muted", "data-testid": "hours-override" },
          ` · forced ${c.override.open ? "open" : "closed"} by ${c.override.by}${c.override.reason ? ` (${c.override.reason})` : ""}`,
        )
      : null,
  );
}

/** The card: `{card, refresh}`. */
export function hoursCard() {
  const list = h("ul", { class: "hours-list" });
  const note = h("p", { class: "error", role: "status", hidden: true });
  const card = h(
    "section",
    { class: "card", "aria-labelledby": "dash-hours", "data-testid": "hours-card", hidden: true },
    h("h2", { id: "dash-hours" }, "Business hours"),
    list,
    note,
  );
  return {
    card,
    async refresh() {
      try {
        const calendars = await get("/api/hours");
        card.hidden = calendars.length === 0;
        list.replaceChildren(...calendars.map(calendarItem));
        note.hidden = true;
      } catch (err) {
        note.textContent = `Could not load business hours: ${errorText(err)}`;
        note.hidden = false;
      }
    },
  };
}
