// Opsdeck's own script: theme toggle, phone navigation, live updates over Server-Sent Events,
// keyboard shortcuts, confirmations, copy buttons and live previews. Pages work without it.
(() => {
  "use strict";
  const root = document.documentElement;
  const saved = localStorage.getItem("opsdeck-theme");
  if (saved) root.dataset.theme = saved;

  document.addEventListener("DOMContentLoaded", () => {
    const themeBtn = document.getElementById("theme-toggle");
    themeBtn?.addEventListener("click", () => {
      const dark = root.dataset.theme ? root.dataset.theme === "dark" : matchMedia("(prefers-color-scheme: dark)").matches;
      root.dataset.theme = dark ? "light" : "dark";
      localStorage.setItem("opsdeck-theme", root.dataset.theme);
    });

    const nav = document.getElementById("nav");
    const navBtn = document.querySelector(".nav-toggle");
    navBtn?.addEventListener("click", () => {
      const open = nav.classList.toggle("open");
      navBtn.setAttribute("aria-expanded", String(open));
    });

    // Delegated handlers: they keep working on content that live updates swap in.
    document.addEventListener("submit", (e) => {
      const f = e.target.closest("form[data-confirm]");
      if (f && !confirm(f.dataset.confirm)) { e.preventDefault(); return; }
      // Long work (an import): say it is running and keep the button from a second submit.
      const busy = e.target.closest("form[data-busy]");
      const button = busy?.querySelector("button[type=submit]");
      if (button && !e.defaultPrevented) {
        setTimeout(() => { button.disabled = true; button.textContent = busy.dataset.busy; }, 0);
        busy.setAttribute("aria-busy", "true");
      }
    });
    document.addEventListener("click", async (e) => {
      const c = e.target.closest("[data-confirm-click]");
      if (c && !confirm(c.dataset.confirmClick)) { e.preventDefault(); return; }
      const det = e.target.closest("[data-open-details]");
      if (det) { const d = document.getElementById(det.dataset.openDetails); if (d) d.open = true; }
      const opener = e.target.closest("[data-open]");
      if (opener) document.getElementById(opener.dataset.open)?.showModal();
      const closer = e.target.closest("[data-close]");
      if (closer) closer.closest("dialog")?.close();
      const b = e.target.closest("[data-copy]");
      if (b) {
        const text = document.querySelector(b.dataset.copy)?.textContent ?? "";
        try { await navigator.clipboard.writeText(text); b.textContent = "Copied"; } catch { b.textContent = "Select and copy"; }
      }
    });
    document.addEventListener("change", (e) => {
      const all = e.target.closest("input[data-select-all]");
      if (all) {
        all.form.querySelectorAll(`input[name="${all.dataset.selectAll}"]`).forEach((c) => { c.checked = all.checked; });
      }
      const s = e.target.closest("select[data-autosubmit]");
      if (s) s.form.requestSubmit();
      const action = e.target.closest("select[data-rule-action]");
      if (action) ruleFields(action);
    });

    document.querySelectorAll("select[data-rule-action]").forEach(ruleFields);
    turnMoves();
    markFieldError();
    shortcuts();
    cmdbImport();
    livePreview();
    liveChangeCheck();
    kbSuggestions();
    if (document.getElementById("live-status")) live();
    // A wall display also refreshes every minute, so ages and shifts stay current between events.
    if (document.body.classList.contains("kiosk")) {
      setInterval(() => { const r = document.getElementById("live-region"); if (r) refreshRegion(r); }, 60_000);
    }
  });

  // A refused form names each wrong field by label, one per line ("URL: must start with…"):
  // mark every one of them and put its reason beside it, where the eye already is.
  function markFieldError() {
    const banner = document.getElementById("form-error");
    if (!banner) return;
    const labels = [...document.querySelectorAll("main form label")].filter((l) => l.offsetParent !== null);
    const own = (l) => [...l.childNodes].filter((n) => n.nodeType === Node.TEXT_NODE)
      .map((n) => n.textContent).join("").trim().toLowerCase();
    let first = null;
    banner.textContent.split("\n").map((t) => t.trim()).forEach((line, i) => {
      const cut = line.indexOf(": ");
      if (cut < 1) return;
      const name = line.slice(0, cut).toLowerCase();
      const reason = line.slice(cut + 2);
      // A routing rule is named by number ("rule 2: …"): mark that rule's first field.
      const rule = /^rule (\d+): /.exec(reason);
      const label = rule ? document.querySelector(`#rule-${rule[1]} label`)
        : labels.find((l) => { const o = own(l); return o && (o === name || o.startsWith(name)); });
      const control = label?.querySelector("input, select, textarea");
      if (!control || control.hasAttribute("aria-invalid")) return;
      control.setAttribute("aria-invalid", "true");
      const note = document.createElement("span");
      note.className = "field-error";
      note.id = i === 0 ? "field-error" : `field-error-${i}`;
      note.textContent = reason;
      control.setAttribute("aria-describedby", note.id);
      control.after(note);
      first ??= control;
    });
    first?.focus();
  }

  // A routing rule shows only the field its action uses (both are shown without JavaScript).
  function ruleFields(select) {
    select.closest("fieldset")?.querySelectorAll("[data-when]").forEach((l) => { l.hidden = l.dataset.when !== select.value; });
  }

  // A rotation's turns can be moved earlier or later: the choices swap with the neighbour's.
  // Without JavaScript the order is set by choosing a person for each turn.
  function turnMoves() {
    document.querySelectorAll(".turn-moves").forEach((m) => { m.hidden = false; });
    document.addEventListener("click", (e) => {
      const b = e.target.closest("button[data-turn-move]");
      if (!b) return;
      const li = b.closest("li");
      const other = b.dataset.turnMove === "-1" ? li.previousElementSibling : li.nextElementSibling;
      if (!other) return;
      const [a, c] = [li.querySelector("select"), other.querySelector("select")];
      [a.value, c.value] = [c.value, a.value];
      (other.querySelector(`button[data-turn-move="${b.dataset.turnMove}"]`) ?? b).focus();
    });
  }

  function toast(text) {
    const box = document.getElementById("toasts");
    if (!box) return;
    const t = document.createElement("div");
    t.className = "toast";
    t.textContent = text;
    box.append(t);
    setTimeout(() => t.remove(), 5000);
  }

  // True while the user is working in `region`: a field has focus, or a field holds something
  // other than what the page was rendered with (a choice made, text typed, a box ticked).
  function busy(region) {
    if (region.querySelector("input[type=checkbox]:checked, :focus, details.pop[open]")) return true;
    return [...region.querySelectorAll("input, textarea, select")].some((f) => {
      if (f.tagName === "SELECT") {
        // A single select without a `selected` option shows its first one.
        if (f.multiple) return [...f.options].some((o) => o.selected !== o.defaultSelected);
        const initial = [...f.options].findLastIndex((o) => o.defaultSelected);
        return f.selectedIndex !== Math.max(initial, 0);
      }
      if (f.type === "checkbox" || f.type === "radio") return f.checked !== f.defaultChecked;
      return f.value !== f.defaultValue;
    });
  }

  // Refreshes the page's live region in place when an event of its kind arrives.
  async function refreshRegion(region) {
    // Do not throw away what the user is doing, before the fetch or while it ran.
    if (busy(region)) return;
    const res = await fetch(location.href, { headers: { "Accept": "text/html" } });
    if (!res.ok || !region.isConnected || busy(region)) return;
    const doc = new DOMParser().parseFromString(await res.text(), "text/html");
    const fresh = doc.getElementById(region.id);
    if (!fresh || busy(region)) return;
    const before = new Set([...region.querySelectorAll("tr[data-id]")].map((r) => r.dataset.id));
    region.replaceWith(fresh);
    fresh.querySelectorAll("tr[data-id]").forEach((r) => { if (!before.has(r.dataset.id)) r.classList.add("flash-row"); });
  }

  function live() {
    const status = document.getElementById("live-status");
    const label = status.querySelector(".live-label");
    const es = new EventSource("/api/v1/events");
    // Events published between the page's render and this subscription (or during a
    // reconnect) are not replayed, so the live region is refreshed once on every (re)connect.
    es.onopen = () => {
      status.classList.add("on");
      label.textContent = "live";
      const region = document.getElementById("live-region");
      if (region) refreshRegion(region);
    };
    es.onerror = () => { status.classList.remove("on"); label.textContent = "reconnecting"; };
    let pending = null;
    es.addEventListener("change", (e) => {
      let ev;
      try { ev = JSON.parse(e.data); } catch { return; }
      if (!ev.kind.endsWith(".notified")) toast(ev.message);
      const region = document.getElementById("live-region");
      const kinds = (region?.dataset.live || "").split(",").filter(Boolean);
      if (region && kinds.some((k) => ev.kind.startsWith(k))) {
        clearTimeout(pending);
        pending = setTimeout(() => refreshRegion(document.getElementById("live-region")), 150);
      }
    });
  }

  // A form with a preview button (`data-preview`) re-renders its preview frame as the user types:
  // the button posts the unsaved form into the frame; without JavaScript it is clicked by hand.
  function livePreview() {
    document.querySelectorAll("[data-preview]").forEach((button) => {
      const form = button.form;
      if (!form) return;
      let pending;
      form.addEventListener("input", () => {
        clearTimeout(pending);
        pending = setTimeout(() => form.requestSubmit(button), 400);
      });
    });
  }

  // The change form checks risk and conflicts as the user types: the unsaved form is posted as
  // a preview, and the answer's check (or the error naming what to fix) replaces the one shown.
  // Without JavaScript, "Check risk and conflicts" does the same by hand.
  function liveChangeCheck() {
    const form = document.getElementById("change-form");
    if (!form || !form.elements.title) return;
    let pending, seq = 0;
    const run = async () => {
      if (!form.elements.title.value.trim()) return;
      const n = ++seq;
      const data = new URLSearchParams(new FormData(form));
      data.set("preview", "1");
      let html;
      try {
        const res = await fetch(form.action, { method: "POST", body: data, headers: { "Accept": "text/html" } });
        html = await res.text();
      } catch { return; }
      const fresh = new DOMParser().parseFromString(html, "text/html").getElementById("live-check");
      const box = document.getElementById("live-check");
      // An older answer arriving after a newer request is dropped; the region itself stays, so
      // screen readers announce its new content.
      if (box && fresh && n === seq) box.replaceChildren(...fresh.childNodes);
    };
    const later = () => { clearTimeout(pending); pending = setTimeout(run, 500); };
    form.addEventListener("input", later);
    form.addEventListener("change", later);
  }

  // New ticket: articles that may already answer it, fetched from the same page as the title
  // is typed (the page renders them for its `title`), so a requester can help themselves.
  function kbSuggestions() {
    const form = document.getElementById("ticket-form");
    const box = document.getElementById("kb-suggestions");
    if (!form || !box || !form.elements.title) return;
    let pending, seq = 0;
    const run = async () => {
      const title = form.elements.title.value.trim();
      const n = ++seq;
      if (!title) { box.replaceChildren(); return; }
      let html;
      try {
        const res = await fetch("/tickets/new?" + new URLSearchParams({ title }), { headers: { "Accept": "text/html" } });
        html = await res.text();
      } catch { return; }
      const fresh = new DOMParser().parseFromString(html, "text/html").getElementById("kb-suggestions");
      if (fresh && n === seq) box.replaceChildren(...fresh.childNodes);
    };
    form.elements.title.addEventListener("input", () => { clearTimeout(pending); pending = setTimeout(run, 400); });
  }

  // CMDB import: the file goes to the API with upload progress; the report or the rows' errors
  // are shown under the form.
  function cmdbImport() {
    const form = document.querySelector("form[data-import]");
    if (!form) return;
    const bar = form.querySelector("#import-progress");
    const status = form.querySelector("#import-status");
    const out = document.getElementById("import-result");
    const el = (tag, text, cls) => { const n = document.createElement(tag); if (text != null) n.textContent = text; if (cls) n.className = cls; return n; };
    form.addEventListener("submit", (e) => {
      e.preventDefault();
      const file = form.elements.file.files[0];
      if (!file) return;
      const q = new URLSearchParams({ format: form.elements.format.value, missing: form.elements.missing.value,
        dry_run: String(form.elements.dry_run.checked) });
      const xhr = new XMLHttpRequest();
      xhr.open("POST", "/api/v1/cmdb/import?" + q);
      xhr.setRequestHeader("Content-Type", "application/octet-stream");
      bar.hidden = false; bar.value = 0; out.replaceChildren();
      status.textContent = "Uploading " + file.name + "…";
      xhr.upload.onprogress = (p) => { if (p.lengthComputable) bar.value = Math.round((p.loaded / p.total) * 100); };
      xhr.upload.onload = () => { bar.value = 100; status.textContent = "Uploaded; importing…"; };
      xhr.onerror = () => { status.textContent = "The upload failed: the server could not be reached."; };
      xhr.onload = () => {
        let body = {};
        try { body = JSON.parse(xhr.responseText); } catch (_) { /* not JSON: shown as a status */ }
        if (xhr.status === 200) {
          const r = body;
          const [made, changed] = r.dry_run ? ["to create", "to update"] : ["created", "updated"];
          status.textContent = (r.dry_run ? "Dry run, nothing changed: " : "Imported: ") +
            `${r.created} ${made}, ${r.updated} ${changed}, ${r.unchanged} unchanged, ` +
            `${r.missing} no longer listed, ${r.relations_created} new relations.`;
          const list = el("ul", null, "plain");
          list.id = "import-changes";
          for (const c of r.changes) list.append(el("li", `${c.action} ${c.identity}${c.fields.length ? " (" + c.fields.join(", ") + ")" : ""}`));
          out.append(list);
        } else {
          const err = body.error || { message: "The server answered " + xhr.status };
          status.textContent = "";
          const box = el("div", null, "flash error"); box.id = "import-errors"; box.setAttribute("role", "alert");
          box.append(el("p", err.message));
          const rows = err.details && err.details.rows;
          if (rows) {
            const list = el("ul", null, "plain");
            for (const r of rows) list.append(el("li", (r.row ? "Row " + r.row + (r.identity ? " (" + r.identity + ")" : "") + ": " : "") + r.message));
            box.append(list);
          }
          out.append(box);
        }
      };
      xhr.send(file);
    });
  }

  function shortcuts() {
    let g = false;
    document.addEventListener("keydown", (e) => {
      const t = e.target;
      if (e.ctrlKey || e.metaKey || e.altKey || t.closest?.("input, textarea, select, [contenteditable]")) return;
      if (g) {
        g = false;
        const to = { o: "/", s: "/services", t: "/teams", m: "/monitors", i: "/incidents" }[e.key];
        if (to) { location.href = to; e.preventDefault(); }
        return;
      }
      if (e.key === "g") { g = true; setTimeout(() => (g = false), 1200); return; }
      if (e.key === "/") { const s = document.querySelector("[data-search]"); if (s) { s.focus(); e.preventDefault(); } return; }
      if (e.key === "?") { document.getElementById("shortcuts")?.showModal(); return; }
      const target = document.querySelector(`[data-shortcut="${CSS.escape(e.key)}"]`);
      if (target) { target.click(); e.preventDefault(); }
    });
  }
})();
