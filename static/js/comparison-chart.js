// Two model versions side by side (the model pages), drawn with the Chart.js in static/vendor.
(function () {
  "use strict";
  var data = document.getElementById("comparison-data");
  if (!data || !window.Chart) { return; }
  var chart = JSON.parse(data.textContent);
  var css = getComputedStyle(document.documentElement);
  var colours = [css.getPropertyValue("--blue").trim(), css.getPropertyValue("--orange").trim()];
  var names = chart.versions.map(function (number) { return "#" + number; });
  function draw(id, config) {
    var canvas = document.getElementById(id);
    if (canvas) { new window.Chart(canvas, config); }
  }
  draw("reliability-chart", {
    type: "scatter",
    data: { datasets: chart.reliability.map(function (points, i) {
      return { label: names[i], showLine: true, borderColor: colours[i], backgroundColor: colours[i],
               data: points.map(function (p) { return { x: p.predicted, y: p.observed }; }) };
    }) },
    options: { animation: false, maintainAspectRatio: false, scales: { x: { min: 0, max: 1 }, y: { min: 0, max: 1 } } }
  });
  draw("bands-chart", {
    type: "bar",
    data: { labels: ["red", "orange", "green", "blue"], datasets: chart.bands.map(function (rates, i) {
      return { label: names[i], backgroundColor: colours[i], data: rates };
    }) },
    options: { animation: false, maintainAspectRatio: false, scales: { y: { min: 0, max: 1 } } }
  });
  draw("histogram-chart", {
    type: "bar",
    data: { labels: (chart.histograms[0] || []).map(function (_, i) { return (i / 20).toFixed(2); }),
            datasets: chart.histograms.map(function (counts, i) {
              return { label: names[i], backgroundColor: colours[i], data: counts };
            }) },
    options: { animation: false, maintainAspectRatio: false }
  });
})();
