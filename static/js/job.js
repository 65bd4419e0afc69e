// Live job page: polls the job API every second and draws progress, loss curve and events.
// A static file (no inline script) so the Content-Security-Policy can forbid inline code.
(function () {
  "use strict";
  const root = document.getElementById("job");
  if (!root) return;
  const api = root.dataset.api;
  let lastEventId = 0;
  const lossPoints = [];

  function text(id, value) {
    const el = document.getElementById(id);
    if (el) el.textContent = value;
  }

  function fmt(value, digits) {
    return value === null || value === undefined ? "–" : Number(value).toFixed(digits);
  }

  function drawChart() {
    const svg = document.getElementById("loss-chart");
    if (!svg || lossPoints.length < 2) return;
    const xs = lossPoints.map((p) => p[0]);
    const ys = lossPoints.map((p) => p[1]);
    const [x0, x1] = [Math.min(...xs), Math.max(...xs)];
    const [y0, y1] = [Math.min(...ys), Math.max(...ys)];
    const sx = (x) => 10 + ((x - x0) / Math.max(1, x1 - x0)) * 580;
    const sy = (y) => 190 - ((y - y0) / Math.max(1e-9, y1 - y0)) * 180;
    const d = lossPoints.map((p, i) => (i ? "L" : "M") + sx(p[0]).toFixed(1) + " " + sy(p[1]).toFixed(1)).join(" ");
    svg.replaceChildren();
    const path = document.createElementNS("http://www.w3.org/2000/svg", "path");
    path.setAttribute("d", d);
    path.setAttribute("class", "loss-line");
    svg.appendChild(path);
  }

  const EVALUATION_WAITING = {
    pending: "Evaluation pending: it starts when the training queue reaches it.",
    running: "Evaluation running…",
  };

  function showEvaluation(job) {
    const box = document.getElementById("job-evaluation");
    if (!box) return;
    box.dataset.status = job.evaluation_status || "";
    if (EVALUATION_WAITING[job.evaluation_status]) {
      box.textContent = EVALUATION_WAITING[job.evaluation_status];
      return;
    }
    if (job.evaluation_status === "failed") {
      box.textContent = "Evaluation failed: " + (job.evaluation_error || "");
      return;
    }
    const evaluation = job.evaluation;
    if (!evaluation || !Object.keys(evaluation).length) return;
    const rows = [];
    for (const which of ["base", "tuned"]) {
      const m = evaluation[which];
      if (m && m.perplexity !== undefined) rows.push([which, fmt(m.perplexity, 2)]);
    }
    const table = document.createElement("table");
    table.id = "evaluation-table";
    const head = table.insertRow();
    ["Model", "Perplexity (test split)"].forEach((h) => { const th = document.createElement("th"); th.textContent = h; head.appendChild(th); });
    rows.forEach(([name, ppl]) => { const tr = table.insertRow(); tr.insertCell().textContent = name; tr.insertCell().textContent = ppl; });
    const tuned = evaluation.tuned || {};
    const parts = [table];
    if (tuned.reward_accuracy !== undefined) {
      // Preference objectives: how often the tuned model prefers the preferred answer.
      const p = document.createElement("p");
      p.id = "evaluation-rewards";
      p.textContent = "Reward accuracy " + fmt(100 * tuned.reward_accuracy, 1) + "%, mean margin " +
        fmt(tuned.reward_margin, 3) + " on the test examples.";
      parts.push(p);
    }
    box.replaceChildren(...parts);
  }

  async function pollEvents() {
    const res = await fetch(api + "events/?after=" + lastEventId + "&limit=200", { credentials: "same-origin" });
    if (!res.ok) return;
    const body = await res.json();
    const list = document.getElementById("job-events");
    for (const ev of body.results || []) {
      lastEventId = Math.max(lastEventId, ev.id);
      if (ev.kind === "metrics") {
        if (ev.data && ev.data.loss !== null && ev.data.loss !== undefined) lossPoints.push([ev.data.step, ev.data.loss]);
        continue;
      }
      const li = document.createElement("li");
      li.textContent = new Date(ev.created_at).toLocaleTimeString() + " · " + ev.message;
      li.className = ev.level;
      list.appendChild(li);
    }
    drawChart();
  }

  async function poll() {
    try {
      const res = await fetch(api, { credentials: "same-origin" });
      if (res.ok) {
        const job = await res.json();
        const p = job.progress || {};
        const status = document.getElementById("job-status");
        status.textContent = job.status;
        status.className = "status " + job.status;
        text("job-step", p.step || 0);
        text("job-total", p.total_steps || "?");
        text("job-loss", fmt(p.loss, 4));
        text("job-attempts", job.attempts);
        text("job-speed", p.tokens_per_s ? Math.round(p.tokens_per_s) + " tokens/s" : "");
        text("job-error", job.error || "");
        const bar = document.getElementById("job-progress");
        if (p.total_steps) bar.value = Math.round((100 * (p.step || 0)) / p.total_steps);
        if (job.status === "succeeded") bar.value = 100;
        showEvaluation(job);
        await pollEvents();
        if (["succeeded", "failed", "cancelled"].includes(job.status)) {
          const cancel = document.getElementById("cancel-job");
          if (cancel) cancel.remove();
          // A succeeded job still changes while its evaluation (a task of its own) is due.
          if (!EVALUATION_WAITING[job.evaluation_status]) return;
        }
      }
    } catch (err) {
      // Network hiccup: keep polling.
    }
    setTimeout(poll, 1000);
  }
  poll();
})();
