// The canned-response picker: typing "/" at the start of the reply box
// lists the saved answers that suit the conversation, filled for its
// customer (`GET /api/canned-responses?conversation=`); typing on filters by
// shortcut, and Enter, Tab or a click puts the chosen text in the box for
// the agent to edit. It never sends anything itself.

import { h, uid, errorText } from "./util.js";
import { get, seg } from "./api.js";

// Only "/" plus a shortcut so far, so a reply that merely starts with a
// slash closes the picker at its first space.
const TRIGGER = /^\/([a-z0-9_-]*)$/i;

/**
 * Attaches the picker to `textarea`. Returns the listbox element (to place
 * next to the box) and `handleKey(event)`, which the box's own key handler
 * calls first: true means the picker took the key.
 */
export function cannedPicker(textarea, conversationId) {
  const listId = uid("canned");
  const list = h("ul", { class: "canned-picker", id: listId, role: "listbox", "aria-label": "Canned responses", "data-testid": "canned-picker", hidden: true });
  let responses = null; // loaded once, on the first "/"
  let loading = null;
  let shown = []; // the responses listed now
  let active = 0;

  textarea.setAttribute("aria-autocomplete", "list");
  textarea.setAttribute("aria-controls", listId);
  textarea.addEventListener("input", update);
  textarea.addEventListener("blur", () => close());

  function query() {
    const m = TRIGGER.exec(textarea.value);
    return m ? m[1].toLowerCase() : null;
  }

  function load() {
    loading ??= get(`/api/canned-responses?conversation=${seg(conversationId)}`)
      .then((all) => (responses = all || []))
      .catch((err) => {
        loading = null; // try again on the next "/"
        throw err;
      });
    return loading;
  }

  async function update() {
    const q = query();
    if (q === null) return close();
    if (!responses) {
      showMessage("Loading canned responses…");
      try {
        await load();
      } catch (err) {
        return showMessage(`Canned responses could not be loaded: ${errorText(err)}`);
      }
      if (query() === null) return close(); // typed on meanwhile
    }
    const now = query();
    shown = responses.filter((r) => r.shortcut.toLowerCase().startsWith(now));
    active = 0;
    if (!shown.length) return showMessage(`No canned response matches “/${now}”.`);
    list.replaceChildren(...shown.map(option));
    open();
    highlight();
  }

  function option(r, i) {
    const li = h(
      "li",
      { id: `${listId}-${i}`, role: "option", class: "canned-option", "data-testid": "canned-option", "data-shortcut": r.shortcut },
      h("span", { class: "canned-title" }, h("strong", null, `/${r.shortcut}`), " ", r.title),
      h("span", { class: "canned-text" }, r.rendered),
      r.missing && r.missing.length ? h("span", { class: "canned-missing" }, `To fill in: ${r.missing.join(", ")}`) : null,
    );
    // Keep the focus in the box while the pointer picks.
    li.addEventListener("mousedown", (e) => e.preventDefault());
    li.addEventListener("click", () => choose(i));
    return li;
  }

  function showMessage(text) {
    shown = [];
    list.replaceChildren(h("li", { class: "canned-empty", role: "option", "aria-disabled": "true" }, text));
    open();
    textarea.removeAttribute("aria-activedescendant");
  }

  function open() {
    list.hidden = false;
  }

  function close() {
    list.hidden = true;
    shown = [];
    textarea.removeAttribute("aria-activedescendant");
  }

  function highlight() {
    [...list.children].forEach((li, i) => li.setAttribute("aria-selected", String(i === active)));
    const current = list.children[active];
    if (!current) return;
    textarea.setAttribute("aria-activedescendant", current.id);
    current.scrollIntoView({ block: "nearest" });
  }

  function choose(i) {
    const r = shown[i];
    if (!r) return;
    close();
    textarea.value = r.rendered;
    textarea.focus();
    // Whatever could not be filled is left as {{…}}: select the first one,
    // so typing replaces it.
    const text = r.rendered;
    const gap = r.missing && r.missing.length ? text.indexOf("{{") : -1;
    const closing = gap >= 0 ? text.indexOf("}}", gap) : -1;
    if (gap < 0) textarea.setSelectionRange(text.length, text.length);
    else textarea.setSelectionRange(gap, closing >= 0 ? closing + 2 : text.length);
  }

  function handleKey(e) {
    if (list.hidden) return false;
    const moves = { ArrowDown: 1, ArrowUp: -1 };
    if (e.key in moves && shown.length) {
      active = (active + moves[e.key] + shown.length) % shown.length;
      highlight();
    } else if ((e.key === "Enter" || e.key === "Tab") && !e.shiftKey && !e.isComposing && shown.length) {
      choose(active);
    } else if (e.key === "Escape") {
      close();
    } else if (e.key === "Enter" && !shown.length) {
      // Nothing to choose: an Enter still must not send "/xyz".
    } else {
      return false;
    }
    e.preventDefault();
    return true;
  }

  return { element: list, handleKey, close };
}
