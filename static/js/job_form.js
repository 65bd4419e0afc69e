// New-job form: shows only the settings of the chosen objective and method, and keeps the
// memory/time estimate beside it current. Each scoped input names what it applies to in
// data-objective / data-method (from the registry, via trainer/forms.py); the server refuses a
// non-default value for a setting that does not apply, so hiding is a convenience, not the
// check. The estimate posts the form (its CSRF token included) to data-estimate-url, which
// validates it as a submission would and answers {"estimate", "errors"} without creating
// anything; errors are shown under their fields. A static file: the CSP forbids inline scripts.
(function () {
  "use strict";
  const form = document.getElementById("job-form");
  if (!form) return;
  const chosen = (name) => {
    const select = form.elements.namedItem(name);
    return select ? select.value : "";
  };

  function update() {
    for (const input of form.querySelectorAll("[data-objective], [data-method]")) {
      const kind = input.dataset.objective !== undefined ? "objective" : "method";
      const names = (input.dataset[kind] || "").split(" ");
      const label = input.closest(".field") || input.closest("label") || input;
      const applies = names.includes(chosen(kind));
      label.hidden = !applies;
      label.classList.toggle("setting-hidden", !applies);
    }
    // The objective's and the method's help: the chosen one's line only.
    for (const list of form.querySelectorAll(".choice-help")) {
      for (const item of list.querySelectorAll("li")) item.hidden = item.dataset.choice !== chosen(list.dataset.for);
    }
    // A group none of whose settings applies disappears with them.
    for (const group of form.querySelectorAll("fieldset.settings-group")) {
      const fields = group.querySelectorAll(".field");
      group.hidden = fields.length > 0 && Array.from(fields).every((f) => f.hidden);
    }
  }

  // --- the estimate -------------------------------------------------------------------------
  const panel = document.getElementById("job-estimate");
  // (not form.dataset: the form has an input named "dataset", which shadows it)
  const url = form.getAttribute("data-estimate-url");
  const enabled = panel && url && panel.dataset.enabled === "1";
  let timer = null;
  let sequence = 0;

  function text(id, value) {
    const el = document.getElementById(id);
    if (el) el.textContent = value;
  }

  function gib(bytes) {
    if (bytes < 2 ** 30) return Math.max(1, Math.round(bytes / 2 ** 20)) + " MiB";
    return (bytes / 2 ** 30).toFixed(1) + " GiB";
  }

  function duration(seconds) {
    const s = Math.max(1, Math.round(seconds));
    if (s < 90) return "about " + s + " s";
    if (s < 5400) return "about " + Math.round(s / 60) + " min";
    return "about " + (s / 3600).toFixed(1) + " h";
  }

  function count(n) {
    if (n >= 1e9) return (n / 1e9).toFixed(2) + " B";
    if (n >= 1e6) return (n / 1e6).toFixed(1) + " M";
    if (n >= 1e3) return (n / 1e3).toFixed(1) + " k";
    return String(n);
  }

  function showErrors(errors) {
    // An error on a setting hidden for the chosen objective or method is shown at the top.
    const general = (errors.__all__ || []).slice();
    for (const [name, messages] of Object.entries(errors)) {
      const box = document.getElementById("error-" + name);
      const field = box && box.closest(".field");
      if (name !== "__all__" && (!box || (field && field.hidden))) {
        const label = field ? field.querySelector("label") : null;
        general.push((label ? label.textContent.trim() : name) + ": " + messages.join(" "));
      }
    }
    errors = Object.assign({}, errors, { __all__: general });
    for (const box of form.querySelectorAll(".field-error, #error-__all__")) {
      const name = box.id.replace(/^error-/, "");
      const messages = errors[name] || [];
      box.textContent = messages.join(" ");
      const field = box.closest(".field");
      if (field) field.classList.toggle("has-error", messages.length > 0);
      const input = form.elements.namedItem(name);
      if (input && input.setAttribute) {
        if (messages.length) input.setAttribute("aria-invalid", "true");
        else input.removeAttribute("aria-invalid");
      }
    }
    // An error in a collapsed group opens it.
    if (Object.keys(errors).some((name) => { const f = form.querySelector("#advanced-settings [name='" + name + "']"); return !!f; })) {
      document.getElementById("advanced-settings").open = true;
    }
  }

  function showEstimate(body, ok) {
    const verdict = document.getElementById("estimate-verdict");
    const estimate = body.estimate;
    panel.dataset.state = !ok ? "invalid" : !estimate || estimate.fits === undefined ? "unknown" : estimate.fits ? "fits" : "too-big";
    if (!ok) {
      verdict.textContent = "Fix the settings marked in the form to see the estimate.";
      verdict.className = "error";
      for (const id of ["estimate-memory", "estimate-time", "estimate-steps", "estimate-params"]) text(id, "–");
      return;
    }
    text("estimate-steps", estimate.max_steps !== undefined ? String(estimate.max_steps) : "–");
    if (estimate.fits === undefined) {
      verdict.textContent = "No estimate for a model trained from scratch.";
      verdict.className = "muted";
      return;
    }
    verdict.textContent = (estimate.fits ? "Fits: " : "Does not fit: ") + estimate.reason + ".";
    verdict.className = estimate.fits ? "fits" : "error";
    text("estimate-memory", gib(estimate.peak_mem_bytes));
    text("estimate-time", duration(estimate.est_seconds));
    text("estimate-params", count(estimate.trainable_params) + " of " + count(estimate.total_params));
  }

  async function refreshEstimate() {
    const mine = ++sequence;
    try {
      const res = await fetch(url, { method: "POST", body: new FormData(form), credentials: "same-origin" });
      const body = await res.json();
      if (mine !== sequence) return; // a newer request is on its way
      showErrors(body.errors || {});
      showEstimate(body, res.ok);
    } catch (err) {
      if (mine === sequence) text("estimate-verdict", "The estimate is unavailable right now.");
    }
  }

  function scheduleEstimate() {
    if (!enabled) return;
    clearTimeout(timer);
    timer = setTimeout(refreshEstimate, 300);
  }

  form.addEventListener("change", () => { update(); scheduleEstimate(); });
  form.addEventListener("input", scheduleEstimate);
  update();
  if (enabled) refreshEstimate();
})();
