// Live job page: polls the job API every second and draws progress, loss curve and events.
// A static file (no inline script) so the Content-Security-Policy can forbid inline code.
(function () {
  "use strict";
  const root = document.getElementById("job");
  if (!root) return;
  const api = root.dataset.api;
  let lastEventId = 0;
  const metricEvents = [];

  function text(id, value) {
    const el = document.getElementById(id);
    if (el) el.textContent = value;
  }

  function fmt(value, digits) {
    return value === null || value === undefined ? "–" : Number(value).toFixed(digits);
  }

  // Charts (static/js/charts.js over the vendored uPlot): loss with validation loss, learning
  // rate, throughput; redrawn from every "metrics" event seen so far.
  const Charts = window.SoberanaCharts;
  function chartIn(id, yLabel, log) {
    const box = document.getElementById(id);
    return box && Charts ? Charts.lineChart(box, { label: box.dataset.label, yLabel: yLabel, log: log, series: [] }) : null;
  }
  const charts = {
    loss: chartIn("loss-chart", "loss"),
    lr: chartIn("lr-chart", "learning rate"),
    speed: chartIn("speed-chart", "tokens/s"),
  };

  function drawCharts() {
    if (!Charts) return;
    const c = Charts.curvesFromEvents(metricEvents);
    if (charts.loss) {
      charts.loss.update([
        { label: "training loss", points: c.loss },
        { label: "validation loss", points: c.val_loss, sparse: true },
      ]);
    }
    if (charts.lr) charts.lr.update([{ label: "learning rate", points: c.lr }]);
    if (charts.speed) charts.speed.update([{ label: "tokens/s", points: c.tokens_per_s }]);
  }

  function duration(seconds) {
    if (seconds === null || seconds === undefined || !Number.isFinite(Number(seconds))) return "–";
    const s = Math.max(0, Math.round(Number(seconds)));
    const h = Math.floor(s / 3600), m = Math.floor((s % 3600) / 60);
    if (h) return h + " h " + m + " min";
    if (m) return m + " min " + (s % 60) + " s";
    return s + " s";
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

  function showModelVersion(id) {
    const box = document.getElementById("job-model-version");
    if (!box || !id || box.querySelector("a")) return;
    const link = document.createElement("a");
    link.href = box.dataset.urlTemplate.replace(/0\/$/, id + "/");
    link.textContent = "model version " + id;
    box.replaceChildren(link);
  }

  async function pollEvents() {
    const list = document.getElementById("job-events");
    // Page through everything new (a page opened late in a long run has many events).
    for (let pages = 0; pages < 50; pages++) {
      const res = await fetch(api + "events/?after=" + lastEventId + "&limit=500", { credentials: "same-origin" });
      if (!res.ok) break;
      const body = await res.json();
      const results = body.results || [];
      for (const ev of results) {
        lastEventId = Math.max(lastEventId, ev.id);
        if (ev.kind === "metrics") {
          metricEvents.push(ev);
          continue;
        }
        const li = document.createElement("li");
        li.textContent = new Date(ev.created_at).toLocaleTimeString() + " · " + ev.message;
        li.className = ev.level;
        list.appendChild(li);
      }
      if (!body.next || !results.length) break;
    }
    drawCharts();
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
        text("job-speed", (p.tokens_per_s ? Math.round(p.tokens_per_s) : "–") + " tokens/s");
        text("job-error", job.error || "");
        text("job-eta", job.status === "running" ? duration(p.eta_s) : "–");
        const bar = document.getElementById("job-progress");
        if (p.total_steps) bar.value = Math.round((100 * (p.step || 0)) / p.total_steps);
        if (job.status === "succeeded") bar.value = 100;
        showEvaluation(job);
        showModelVersion(job.model_version);
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
