// Dataset page: while processing, poll the dataset API and reload once it changes state.
(function () {
  "use strict";
  const badge = document.getElementById("dataset-status");
  if (!badge || badge.dataset.status !== "processing") return;
  async function poll() {
    try {
      const res = await fetch(badge.dataset.url, { credentials: "same-origin" });
      if (res.ok) {
        const body = await res.json();
        if (body.status !== "processing") { window.location.reload(); return; }
      }
    } catch (err) { /* retry */ }
    setTimeout(poll, 1000);
  }
  poll();
})();
