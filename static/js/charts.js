// Line charts over training steps, on the vendored uPlot (static/vendor/uplot/). Used by the
// job page (live), the model-version page and the comparison page (several runs overlaid).
// A static file: the CSP forbids inline scripts, so pages pass their data with Django's
// json_script or fetch it. Exposes window.SoberanaCharts:
//
//   lineChart(box, {label, xLabel, yLabel, series: [{label, stroke, points}], log})
//       -> {update(series)}: draws one line per series over steps, with axes, a legend that
//       shows the values under the cursor (moved by the mouse, or by the arrow keys when the
//       chart has the focus), and a text summary for screen readers.
//   curvesFromEvents(events) -> {loss, val_loss, lr, tokens_per_s} point lists from the job's
//       "metrics" events (each [[step, value], ...]).
//   palette(i) -> a colour for the i-th run.
(function () {
  "use strict";
  const COLORS = ["#1f5fbf", "#c2410c", "#1b7f3b", "#7b1fa2", "#b3261e", "#0e7490", "#9a6700"];
  const palette = (i) => COLORS[i % COLORS.length];

  function finite(value) {
    return value !== null && value !== undefined && Number.isFinite(Number(value));
  }

  // uPlot wants one shared x array and one y array per series, null where a series has no
  // point at that x (validation loss is sparse; runs of a comparison differ in length).
  function align(series) {
    const xs = new Set();
    for (const s of series) for (const [x] of s.points) xs.add(Number(x));
    const steps = Array.from(xs).sort((a, b) => a - b);
    const index = new Map(steps.map((x, i) => [x, i]));
    const columns = series.map((s) => {
      const column = new Array(steps.length).fill(null);
      for (const [x, y] of s.points) if (finite(y)) column[index.get(Number(x))] = Number(y);
      return column;
    });
    return [steps, ...columns];
  }

  function formatValue(value) {
    if (!finite(value)) return "–";
    const v = Number(value);
    if (v !== 0 && (Math.abs(v) < 1e-3 || Math.abs(v) >= 1e5)) return v.toExponential(2);
    const text = v.toPrecision(4);
    return text.includes(".") && !text.includes("e") ? text.replace(/\.?0+$/, "") : text;
  }

  function summary(options, series) {
    const parts = series
      .filter((s) => s.points.length)
      .map((s) => {
        const last = s.points[s.points.length - 1];
        return s.label + ": " + s.points.length + " points, last " + formatValue(last[1]) + " at step " + last[0];
      });
    return options.label + ". " + (parts.length ? parts.join("; ") + "." : "No data yet.");
  }

  function lineChart(box, options) {
    box.classList.add("chart");
    box.setAttribute("role", "img");
    box.tabIndex = 0; // keyboard users reach the chart and hear its summary
    const plotBox = document.createElement("div");
    const empty = document.createElement("p");
    empty.className = "muted chart-empty";
    empty.textContent = "No data yet.";
    box.replaceChildren(plotBox, empty);
    let plot = null;
    let current = options.series || [];

    function build(series) {
      const width = Math.max(240, box.clientWidth || 600);
      const spec = {
        width: width,
        height: options.height || 220,
        scales: { x: { time: false }, y: options.log ? { distr: 3 } : {} },
        axes: [
          { label: options.xLabel || "step", stroke: "#5b6475" },
          { label: options.yLabel || "", stroke: "#5b6475", size: 60, values: (u, ticks) => ticks.map(formatValue) },
        ],
        legend: { live: true },
        cursor: { drag: { x: false, y: false } },
        series: [
          { label: options.xLabel || "step" },
          ...series.map((s, i) => ({
            label: s.label,
            stroke: s.stroke || palette(i),
            width: 2,
            spanGaps: true,
            points: { show: s.points.length < 40 || !!s.sparse },
            value: (u, v) => formatValue(v),
          })),
        ],
      };
      if (plot) plot.destroy();
      plotBox.replaceChildren();
      plot = new window.uPlot(spec, align(series), plotBox);
    }

    function update(series) {
      current = series;
      const hasData = series.some((s) => s.points.length);
      empty.hidden = hasData;
      box.setAttribute("aria-label", summary(options, series));
      box.dataset.points = String(series.reduce((n, s) => n + s.points.length, 0));
      if (!hasData) return;
      const sameShape = plot && plot.series.length === series.length + 1;
      if (sameShape) plot.setData(align(series));
      else build(series);
    }

    // Keyboard: arrows move the cursor from step to step (Home / End: first / last), so the
    // legend reads out the values as hovering would.
    let index = -1;
    box.addEventListener("keydown", (event) => {
      if (!plot || !plot.data[0].length) return;
      const last = plot.data[0].length - 1;
      const moves = { ArrowRight: index + 1, ArrowLeft: index - 1, Home: 0, End: last };
      if (!(event.key in moves)) return;
      event.preventDefault();
      index = Math.max(0, Math.min(last, index < 0 && event.key === "ArrowLeft" ? last : moves[event.key]));
      const x = plot.data[0][index];
      const column = plot.data.slice(1).find((ys) => ys[index] !== null && ys[index] !== undefined);
      const top = column ? plot.valToPos(column[index], "y") : plot.bbox.height / 2 / devicePixelRatio;
      plot.setCursor({ left: plot.valToPos(x, "x"), top: top });
    });

    if (window.ResizeObserver) {
      new ResizeObserver(() => {
        if (plot && box.clientWidth && Math.abs(plot.width - box.clientWidth) > 4) {
          plot.setSize({ width: Math.max(240, box.clientWidth), height: options.height || 220 });
        }
      }).observe(box);
    }
    update(current);
    return { update: update, series: () => current };
  }

  function curvesFromEvents(events) {
    const curves = { loss: [], val_loss: [], lr: [], tokens_per_s: [] };
    for (const ev of events) {
      const d = ev.data || ev;
      if (!finite(d.step)) continue;
      for (const key of Object.keys(curves)) if (finite(d[key])) curves[key].push([Number(d.step), Number(d[key])]);
    }
    return curves;
  }

  window.SoberanaCharts = { lineChart, curvesFromEvents, palette, formatValue };
})();
