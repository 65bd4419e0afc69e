// Review workspace: accept / reject / adjust findings (typed offsets or the selected text), add
// missed spans, bulk decisions and keyboard shortcuts, all through the JSON API (session auth +
// CSRF token); undo posts its form. The record text is rendered (escaped) by the server; this
// script only reads it and toggles classes.
(function () {
  "use strict";
  const root = document.getElementById("review");
  if (!root) return;
  const base = root.dataset.api;  // /api/v1/datasets/<id>/
  const editable = root.dataset.editable === "1";
  const csrf = root.querySelector("input[name=csrfmiddlewaretoken]").value;
  const errorBox = document.getElementById("review-error");
  const marks = Array.from(document.querySelectorAll("mark.pii"));
  let current = -1;
  let selection = null;

  function showError(message) { errorBox.textContent = message || ""; }

  async function post(path, body) {
    const res = await fetch(base + path, {
      method: "POST", credentials: "same-origin",
      headers: { "Content-Type": "application/json", "X-CSRFToken": csrf, "Accept": "application/json" },
      body: JSON.stringify(body),
    });
    const data = await res.json().catch(() => ({}));
    if (!res.ok) throw new Error((data.error && data.error.message) || ("HTTP " + res.status));
    return data;
  }

  function rowsFor(id) { return document.querySelectorAll('.finding-row[data-finding="' + id + '"]'); }
  function marksFor(id) { return document.querySelectorAll('mark.pii[data-finding="' + id + '"]'); }

  function showDecision(finding) {
    const id = String(finding.id);
    rowsFor(id).forEach((row) => {
      const before = row.dataset.decision;
      if (before === "pending" && finding.decision !== "pending") bumpProgress(1);
      row.dataset.decision = finding.decision;
      row.querySelector(".decision").textContent = finding.decision;
      row.querySelector(".span-start").value = finding.start;
      row.querySelector(".span-end").value = finding.end;
    });
    marksFor(id).forEach((mark) => {
      mark.classList.remove("is-pending", "is-accepted", "is-rejected");
      mark.classList.add("is-" + finding.decision);
    });
  }

  function bumpProgress(by) {
    const decided = document.getElementById("decided-count");
    const value = Number(decided.textContent) + by;
    decided.textContent = String(value);
    document.getElementById("review-progress").value = value;
  }

  // Resolves true once the server accepted the decision (it validates the span), else false
  // with the reason shown.
  async function decide(id, decision, span) {
    if (!editable || !id) return false;
    showError("");
    try {
      const body = Object.assign({ decision: decision }, span || {});
      showDecision(await post("findings/" + id + "/decision/", body));
      return true;
    } catch (err) { showError(err.message); return false; }
  }

  // Set a finding's span to the text selected in the record (same record and field), then
  // save it; the server checks the offsets against the stored text as for typed ones.
  function useSelection(row) {
    if (!row) return;
    if (!selection) { showError("Select the finding's text in the record first."); return; }
    if (selection.record_index !== Number(row.dataset.record) || selection.field !== row.dataset.field) {
      showError("Select text in the same field as this finding (record " + row.dataset.record +
                ", field " + row.dataset.field + ").");
      return;
    }
    row.querySelector(".span-start").value = selection.start;
    row.querySelector(".span-end").value = selection.end;
    const decision = row.dataset.decision === "rejected" ? "reject" : "accept";
    decide(row.dataset.finding, decision, { start: selection.start, end: selection.end })
      .then((ok) => { if (ok) window.location.reload(); });
  }

  function focusMark(index) {
    if (!marks.length) return;
    current = (index + marks.length) % marks.length;
    marks.forEach((m) => m.classList.remove("current"));
    document.querySelectorAll(".finding-row.current").forEach((r) => r.classList.remove("current"));
    const mark = marks[current];
    mark.classList.add("current");
    rowsFor(mark.dataset.finding).forEach((r) => r.classList.add("current"));
    mark.focus({ preventScroll: true });
    mark.scrollIntoView({ block: "center" });
  }

  function currentId() { return current >= 0 ? marks[current].dataset.finding : null; }

  document.addEventListener("keydown", (event) => {
    if (event.ctrlKey || event.metaKey || event.altKey) return;
    if (event.target.closest("input, select, textarea")) return;
    const key = event.key;
    if (key === "j") focusMark(current + 1);
    else if (key === "k") focusMark(current - 1);
    else if (key === "a") decide(currentId(), "accept");
    else if (key === "r") decide(currentId(), "reject");
    else if (key === "s" && editable && currentId()) useSelection(rowsFor(currentId())[0]);
    else if (key === "u" && document.getElementById("undo-form")) document.getElementById("undo-form").submit();
    else if (key === "n") {
      const next = document.getElementById("next-page");
      if (next) window.location.href = next.href;
    } else return;
    event.preventDefault();
  });

  marks.forEach((mark, index) => mark.addEventListener("click", () => focusMark(index)));

  document.querySelectorAll(".finding-row").forEach((row) => {
    const id = row.dataset.finding;
    const click = (cls, fn) => { const b = row.querySelector(cls); if (b) b.addEventListener("click", fn); };
    click(".accept", () => decide(id, "accept"));
    click(".reject", () => decide(id, "reject"));
    click(".adjust", () => {
      const start = Number(row.querySelector(".span-start").value);
      const end = Number(row.querySelector(".span-end").value);
      const decision = row.dataset.decision === "rejected" ? "reject" : "accept";
      decide(id, decision, { start: start, end: end }).then((ok) => { if (ok) window.location.reload(); });
    });
    click(".use-selection", () => useSelection(row));
  });

  // Offsets are counted in code points, as Python counts them (JS strings count UTF-16 units).
  function codePoints(text) { return Array.from(text).length; }

  function readSelection() {
    const sel = window.getSelection();
    if (!sel || sel.rangeCount === 0 || sel.isCollapsed) return null;
    const range = sel.getRangeAt(0);
    const box = range.startContainer.parentElement && range.startContainer.parentElement.closest(".field-text");
    const endBox = range.endContainer.parentElement && range.endContainer.parentElement.closest(".field-text");
    if (!box || box !== endBox) return null;
    const before = document.createRange();
    before.selectNodeContents(box);
    before.setEnd(range.startContainer, range.startOffset);
    const start = codePoints(before.toString());
    const text = range.toString();
    if (!text.trim()) return null;
    return { record_index: Number(box.dataset.record), field: box.dataset.field,
             start: start, end: start + codePoints(text), text: text };
  }

  const addButton = document.getElementById("add-span");
  document.addEventListener("selectionchange", () => {
    if (!addButton) return;
    const picked = readSelection();
    if (!picked) return;  // keep the last selection while the reviewer types the type
    selection = picked;
    document.getElementById("selection-text").textContent = picked.text.slice(0, 80);
    addButton.disabled = false;
  });

  if (addButton) addButton.addEventListener("click", async () => {
    const type = document.getElementById("add-type").value.trim().toUpperCase();
    if (!selection || !type) { showError("Select text in a record and name its type."); return; }
    try {
      await post("findings/add/", { record_index: selection.record_index, field: selection.field,
                                    start: selection.start, end: selection.end, entity_type: type });
      window.location.reload();
    } catch (err) { showError(err.message); }
  });

  const bulk = document.getElementById("bulk-apply");
  if (bulk) bulk.addEventListener("click", async () => {
    const body = { decision: document.getElementById("bulk-decision").value };
    const type = document.getElementById("bulk-type").value;
    const minScore = document.getElementById("bulk-min-score").value;
    if (type) body.entity_types = [type];
    if (minScore !== "") body.min_score = Number(minScore);
    try {
      const result = await post("findings/bulk-decision/", body);
      document.getElementById("bulk-result").textContent = result.updated + " findings decided";
      window.location.reload();
    } catch (err) { showError(err.message); }
  });
})();
