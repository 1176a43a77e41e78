// Files on the agent desktop: what customers sent (pictures previewed,
// other files downloaded — both fetched the way the API is called, since a
// plain <img src> or <a href> cannot send a bearer token) and the files an
// agent attaches to a reply (uploaded at once, shown as chips until the
// reply goes).

import { h, s, errorText } from "./util.js";
import { getBlob, upload, seg } from "./api.js";

/** What the host accepts in one reply (`POST .../messages`). */
const MAX_FILES = 10;

function sizeLabel(bytes) {
  if (!bytes) return null;
  if (bytes < 1024) return `${bytes} B`;
  if (bytes < 1024 * 1024) return `${Math.round(bytes / 1024)} KB`;
  return `${(bytes / 1024 / 1024).toFixed(1)} MB`;
}

// Drawn inline like util.js's icons (an emoji may have no font to show it).
const CLIP = "M20 11.5l-8 8a5 5 0 0 1-7-7l8.5-8.5a3.3 3.3 0 0 1 4.7 4.7L9.7 17.2a1.7 1.7 0 0 1-2.4-2.4L15 7";
const DOWNLOAD = "M12 4v11M7 10l5 5 5-5M5 20h14";

function glyph(d) {
  return s("svg", { class: "icon", viewBox: "0 0 24 24", width: 16, height: 16, "aria-hidden": "true", focusable: "false" }, s("path", { d }));
}

/** The caption, unless message `m`'s text already says it (WhatsApp sends a photo's caption as both). */
function ownCaption(a, m) {
  return a.caption && a.caption !== m.text ? a.caption : null;
}

function describe(a, m) {
  return [a.filename || a.content_type, sizeLabel(a.size), ownCaption(a, m)].filter(Boolean).join(" · ");
}

/**
 * Renders message attachments for one open conversation. Its own messages'
 * files are fetched from `GET /api/messages/{id}/attachments/{n}`; other
 * conversations' files are not the agent's to open and are only named.
 * `release()` frees the pictures' blob URLs when the conversation closes.
 */
export function attachmentViewer() {
  const urls = new Map(); // "message/index" → Promise<blob URL>, so a re-render reuses the download
  let released = false;

  function blobUrl(messageId, index) {
    const key = `${messageId}/${index}`;
    if (!urls.has(key)) {
      const loading = getBlob(`/api/messages/${seg(messageId)}/attachments/${index}`).then((blob) => {
        const url = URL.createObjectURL(blob);
        // Arrived after the conversation closed: nothing shows it any more.
        if (released) URL.revokeObjectURL(url);
        return url;
      });
      // A failure is not remembered: the next render may try again.
      loading.catch(() => urls.delete(key));
      urls.set(key, loading);
    }
    return urls.get(key);
  }

  function picture(m, index, a) {
    const img = h("img", { class: "att-image", alt: a.caption || a.filename || "Picture from the customer", "data-testid": "attachment-image" });
    const status = h("span", { class: "muted small", role: "status" }, "Loading picture…");
    const details = [a.filename, sizeLabel(a.size), ownCaption(a, m)].filter(Boolean).join(" · ");
    const figure = h("figure", { class: "att-figure" }, img, h("figcaption", null, status));
    blobUrl(m.id, index)
      .then((url) => {
        img.src = url;
        status.textContent = details;
        status.removeAttribute("role");
      })
      .catch((err) => {
        img.remove();
        status.className = "error small";
        status.textContent = `The picture could not be opened: ${errorText(err)}`;
      });
    return figure;
  }

  /** A voicemail or other recording: fetched when the agent asks to play it. */
  function recording(m, index, a) {
    const error = h("span", { class: "error small", role: "alert", hidden: true });
    const button = h("button", { type: "button", class: "link", "data-testid": "attachment-play" }, "▶ Play ", describe(a, m));
    const holder = h("span", { class: "att-audio" });
    button.addEventListener("click", async () => {
      button.disabled = true;
      error.hidden = true;
      try {
        const audio = h("audio", { controls: true, src: await blobUrl(m.id, index), "data-testid": "attachment-audio" });
        holder.replaceChildren(audio);
        button.remove();
        audio.play().catch(() => {});
      } catch (err) {
        error.textContent = `The recording could not be opened: ${errorText(err)}`;
        error.hidden = false;
        button.disabled = false;
      }
    });
    return [button, holder, " ", error];
  }

  function download(m, index, a) {
    const error = h("span", { class: "error small", role: "alert", hidden: true });
    const button = h("button", { type: "button", class: "link", "data-testid": "attachment-download" }, glyph(DOWNLOAD), " ", describe(a, m));
    button.addEventListener("click", async () => {
      button.disabled = true;
      error.hidden = true;
      try {
        const link = h("a", { href: await blobUrl(m.id, index), download: a.filename || "attachment" });
        link.click();
      } catch (err) {
        error.textContent = `The file could not be downloaded: ${errorText(err)}`;
        error.hidden = false;
      } finally {
        button.disabled = false;
      }
    });
    return [button, " ", error];
  }

  return {
    /** The attachments of message `m`; `own`: it belongs to the open conversation. */
    render(m, own) {
      const list = m.attachments || [];
      if (!list.length) return null;
      return h(
        "ul",
        { class: "attachments" },
        list.map((a, index) => {
          let body;
          if (own && m.direction === "inbound" && (a.content_type || "").startsWith("image/")) body = picture(m, index, a);
          else if (own && m.direction === "inbound" && (a.content_type || "").startsWith("audio/")) body = recording(m, index, a);
          else if (own && m.direction === "inbound") body = download(m, index, a);
          else {
            // What an agent sent carries its signed link; only web links are followed.
            const safe = a.url && /^https?:\/\//i.test(a.url);
            const label = describe(a, m);
            body = [glyph(CLIP), " ", safe ? h("a", { href: a.url, target: "_blank", rel: "noopener noreferrer" }, label) : label];
          }
          return h("li", { "data-testid": "attachment", "data-filename": a.filename || null }, body);
        }),
      );
    },
    release() {
      released = true;
      for (const loading of urls.values()) loading.then((url) => URL.revokeObjectURL(url), () => {});
      urls.clear();
    },
  };
}

/**
 * The attach button and the pending files of a reply. Each file is uploaded
 * when picked (`POST /api/conversations/{id}/attachments`); `ids()` are the
 * uploads ready to send, `busy()` whether one is still on its way.
 * `onError(text)` shows a refused upload (413 too big, 422 the channel
 * cannot send files) where the agent looks.
 */
export function attachmentPicker(conversationId, onError) {
  const pending = []; // {file, state: "uploading"|"ready", id, chip}
  const input = h("input", { type: "file", multiple: true, hidden: true, "data-testid": "attach-input", tabindex: "-1" });
  const button = h(
    "button",
    { type: "button", class: "attach", "data-testid": "attach-button", title: "Attach a file", "aria-label": "Attach a file" },
    glyph(CLIP),
  );
  const chips = h("ul", { class: "chips pending-files", "aria-label": "Files to send", "aria-live": "polite" });
  button.addEventListener("click", () => input.click());
  input.addEventListener("change", () => {
    for (const file of input.files) add(file);
    input.value = ""; // the same file may be picked again
  });

  function add(file) {
    if (pending.length >= MAX_FILES) {
      onError(`At most ${MAX_FILES} files go with one reply.`);
      return;
    }
    const item = { file, state: "uploading", id: null, chip: null };
    const state = h("span", { class: "muted" }, "uploading…");
    const remove = h("button", { type: "button", class: "chip-remove", "aria-label": `Remove ${file.name}` }, "×");
    item.chip = h(
      "li",
      { class: "chip", "data-testid": "attachment-chip", "data-state": "uploading", "data-filename": file.name },
      glyph(CLIP),
      file.name,
      " ",
      state,
      remove,
    );
    remove.addEventListener("click", () => drop(item));
    pending.push(item);
    chips.append(item.chip);
    upload(`/api/conversations/${seg(conversationId)}/attachments?filename=${encodeURIComponent(file.name)}`, file)
      .then((answer) => {
        item.id = answer.id;
        item.state = "ready";
        item.chip.dataset.state = "ready";
        state.textContent = sizeLabel(answer.size) || "";
      })
      .catch((err) => {
        drop(item);
        onError(`${file.name} was not attached: ${errorText(err)}`);
      });
  }

  function drop(item) {
    const i = pending.indexOf(item);
    if (i >= 0) pending.splice(i, 1);
    item.chip.remove();
  }

  return {
    button,
    input,
    chips,
    ids: () => pending.filter((p) => p.state === "ready").map((p) => p.id),
    busy: () => pending.some((p) => p.state === "uploading"),
    clear() {
      pending.length = 0;
      chips.replaceChildren();
    },
  };
}
