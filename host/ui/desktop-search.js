// Past work and search on the desktop: find a customer by name, email or
// phone (an agent finds those she served; a supervisor anyone), see their
// conversations with status, disposition and labels, and read one.

import { h, channelBadge, errorText, debounce } from "./util.js";
import { get, seg } from "./api.js";
import { startForm } from "./desktop-outreach.js";

/** The search card: a labelled box, results, and a read-only transcript. */
export function searchCard() {
  const input = h("input", {
    type: "search",
    "data-testid": "customer-search",
    placeholder: "Name, email or phone",
    autocomplete: "off",
    "aria-label": "Find a customer",
  });
  const results = h("ul", { class: "search-results", "data-testid": "search-results", "aria-live": "polite" });
  const note = h("p", { class: "muted", role: "status" });
  const transcript = h("div", { class: "search-transcript", "data-testid": "search-transcript" });

  const run = debounce(async () => {
    const q = input.value.trim();
    transcript.replaceChildren();
    if (q.length < 2) {
      results.replaceChildren();
      note.textContent = "";
      return;
    }
    try {
      const found = await get(`/api/customers?q=${encodeURIComponent(q)}`);
      note.textContent = found.length ? "" : "No customer found.";
      results.replaceChildren(...found.map(customerItem));
    } catch (err) {
      note.textContent = errorText(err);
    }
  }, 300);
  input.addEventListener("input", run);

  function customerItem(c) {
    // What people recognize: the name, emails and phones — not internal handles.
    const known = (c.identities || [])
      .filter((i) => i.kind !== "handle")
      .map((i) => i.value)
      .join(" · ");
    const conversations = h("ul", { class: "search-conversations" });
    const open = h(
      "button",
      { type: "button", class: "link", "data-testid": "search-customer", onclick: () => loadConversations(c, conversations) },
      c.display_name || known || "Unnamed customer",
    );
    const slot = h("div", { class: "start-slot" });
    const write = h(
      "button",
      { type: "button", class: "ghost", "data-testid": "search-write" },
      "Write…",
    );
    write.addEventListener("click", () => {
      if (slot.childElementCount) slot.replaceChildren();
      else slot.replaceChildren(startForm(c));
    });
    return h("li", null, open, known ? h("span", { class: "muted" }, ` ${known}`) : null, " ", write, slot, conversations);
  }

  async function loadConversations(c, into) {
    try {
      const list = await get(`/api/conversations?customer_id=${encodeURIComponent(c.id)}&limit=20`);
      into.replaceChildren(
        ...(list.length
          ? list.map((conv) =>
              h(
                "li",
                { "data-testid": "search-conversation" },
                h(
                  "button",
                  { type: "button", class: "link", onclick: () => read(conv) },
                  channelBadge(conv.channel),
                  ` ${new Date(conv.created_at || conv.updated_at).toLocaleDateString()} · ${conv.status}`,
                  conv.disposition ? ` · ${conv.disposition}` : "",
                  (conv.labels || []).length ? ` · ${conv.labels.join(", ")}` : "",
                ),
              ),
            )
          : [h("li", { class: "muted" }, "No conversations you worked on.")]),
      );
    } catch (err) {
      into.replaceChildren(h("li", { class: "error" }, errorText(err)));
    }
  }

  async function read(conv) {
    try {
      const c = await get(`/api/conversations/${seg(conv.id)}`);
      transcript.replaceChildren(
        h("h3", null, `${conv.channel} · ${new Date(conv.created_at || conv.updated_at).toLocaleString()}`),
        h(
          "ol",
          { class: "search-log" },
          (c.messages || []).map((m) => h("li", { class: `from-${m.author}` }, h("strong", null, `${m.author}: `), m.text)),
        ),
      );
    } catch (err) {
      transcript.replaceChildren(h("p", { class: "error" }, errorText(err)));
    }
  }

  return h(
    "section",
    { class: "pane search-pane", "aria-label": "Find a customer" },
    h("h2", null, "Find a customer"),
    input,
    note,
    results,
    transcript,
  );
}
