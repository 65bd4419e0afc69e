// New-job form: shows only the settings of the chosen objective and method. Each scoped
// input names what it applies to in data-objective / data-method (from the registry, via
// trainer/forms.py); the server refuses a non-default value for a setting that does not apply,
// so hiding is a convenience, not the check. A static file: the CSP forbids inline scripts.
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
      const label = input.closest("label") || input;
      const applies = names.includes(chosen(kind));
      label.hidden = !applies;
      label.classList.toggle("setting-hidden", !applies);
    }
  }

  form.addEventListener("change", update);
  update();
})();
