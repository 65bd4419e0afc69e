// Model-version and comparison pages: draws the curves the page passed with json_script
// (#model-chart-data: one version; #compare-chart-data: several, overlaid) with
// static/js/charts.js. A static file: the CSP forbids inline scripts.
(function () {
  "use strict";
  const Charts = window.SoberanaCharts;
  if (!Charts) return;

  function data(id) {
    const el = document.getElementById(id);
    return el ? JSON.parse(el.textContent) : null;
  }

  function chart(id, yLabel, series) {
    const box = document.getElementById(id);
    if (box) Charts.lineChart(box, { label: box.dataset.label, yLabel: yLabel, series: series });
  }

  const one = data("model-chart-data");
  if (one) {
    const c = one.curves;
    chart("loss-chart", "loss", [
      { label: "training loss", points: c.loss },
      { label: "validation loss", points: c.val_loss, sparse: true },
    ]);
    chart("lr-chart", "learning rate", [{ label: "learning rate", points: c.lr }]);
    chart("speed-chart", "tokens/s", [{ label: "tokens/s", points: c.tokens_per_s }]);
  }

  const several = data("compare-chart-data");
  if (several && several.length) {
    const overlay = (curve, sparse) =>
      several.map((v, i) => ({ label: v.label, points: v.curves[curve], stroke: Charts.palette(i), sparse: sparse }));
    chart("compare-loss-chart", "training loss", overlay("loss", false));
    chart("compare-val-chart", "validation loss", overlay("val_loss", true));
    chart("compare-lr-chart", "learning rate", overlay("lr", false));
  }
})();
