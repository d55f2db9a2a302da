// The declaration history on the employer page, drawn with the Chart.js shipped in static/vendor.
(function () {
  "use strict";
  var data = document.getElementById("declaration-data");
  var canvas = document.getElementById("declaration-chart");
  if (!data || !canvas || !window.Chart) { return; }
  var series = JSON.parse(data.textContent);
  var css = getComputedStyle(document.documentElement);
  function colour(name) { return css.getPropertyValue(name).trim(); }
  var text = JSON.parse(canvas.dataset.labels || "{}");
  // Declarations are quarterly: straight lines between the points, never a curve, which
  // would draw values between two quarters that were never declared (a dip below both).
  new window.Chart(canvas, {
    type: "line",
    data: {
      labels: series.quarters,
      datasets: [
        { label: text.headcount, data: series.headcount, borderColor: colour("--blue"), yAxisID: "people" },
        { label: text.fte, data: series.fte, borderColor: colour("--green"), borderDash: [6, 3], yAxisID: "people" },
        { label: text.part_time, data: series.part_time_percent, borderColor: colour("--orange"), borderDash: [2, 2], yAxisID: "share" },
        { label: text.layoff_days, data: series.layoff_days, borderColor: colour("--red"), yAxisID: "days", pointStyle: "rectRot" }
      ]
    },
    options: {
      animation: false,
      elements: { line: { tension: 0, cubicInterpolationMode: "default" } },
      maintainAspectRatio: false,
      interaction: { mode: "index", intersect: false },
      plugins: { legend: { position: "bottom" } },
      scales: {
        people: { type: "linear", position: "left", beginAtZero: true, title: { display: true, text: text.people_axis } },
        share: { type: "linear", position: "right", min: 0, max: 100, grid: { drawOnChartArea: false }, title: { display: true, text: text.share_axis } },
        days: { type: "linear", position: "right", beginAtZero: true, grid: { drawOnChartArea: false }, title: { display: true, text: text.days_axis } }
      }
    }
  });
})();
