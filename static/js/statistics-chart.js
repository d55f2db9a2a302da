// Detection rates as bars, one chart per table that asks for one (canvas[data-chart]),
// drawn with the Chart.js shipped in static/vendor. The same figures are in the table below each.
(function () {
  "use strict";
  if (!window.Chart) { return; }
  var colour = getComputedStyle(document.documentElement).getPropertyValue("--blue").trim();
  document.querySelectorAll("canvas[data-chart]").forEach(function (canvas) {
    var source = document.getElementById(canvas.dataset.chart);
    if (!source) { return; }
    var rows = JSON.parse(source.textContent);
    new window.Chart(canvas, {
      type: "bar",
      data: {
        labels: rows.labels,
        datasets: [{ label: canvas.dataset.label, data: rows.percent, backgroundColor: colour }]
      },
      options: {
        animation: false,
        maintainAspectRatio: false,
        plugins: { legend: { display: false } },
        scales: { y: { beginAtZero: true, max: 100, title: { display: true, text: canvas.dataset.label } } }
      }
    });
  });
})();
