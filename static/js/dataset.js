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

// Token-length histogram of the approved version, drawn from the JSON data block.
(function () {
  "use strict";
  const data = document.getElementById("token-histogram");
  const svg = document.getElementById("token-chart");
  if (!data || !svg) return;
  const hist = JSON.parse(data.textContent);
  const counts = hist.counts || [];
  const edges = hist.edges || [];
  const max = Math.max(1, ...counts);
  const width = 580 / Math.max(1, counts.length);
  const ns = "http://www.w3.org/2000/svg";
  counts.forEach((count, i) => {
    const bar = document.createElementNS(ns, "rect");
    const h = (count / max) * 130;
    bar.setAttribute("x", String(10 + i * width));
    bar.setAttribute("y", String(140 - h));
    bar.setAttribute("width", String(Math.max(1, width - 2)));
    bar.setAttribute("height", String(h));
    bar.setAttribute("class", "hist-bar");
    const title = document.createElementNS(ns, "title");
    title.textContent = (edges[i] ?? "") + "–" + (edges[i + 1] ?? "") + " tokens: " + count + " records";
    bar.appendChild(title);
    svg.appendChild(bar);
  });
  const label = document.createElementNS(ns, "text");
  label.setAttribute("x", "10"); label.setAttribute("y", "155"); label.setAttribute("class", "axis");
  label.textContent = "record length in tokens: 0 … " + (edges[edges.length - 1] ?? "");
  svg.appendChild(label);
})();
