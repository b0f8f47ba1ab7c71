/* petakota: draw a trend chart with Chart.js (vendor/chartjs) into every canvas.trend-chart.
 *
 * The figures come from the <script type="application/json"> element named by the canvas's
 * data-source attribute (default "trend-data"):
 *   {"labels": ["Mar 2024", ...],
 *    "axes": [{"id": "area", "title": "Luas (km²)", "decimals": 2}, ...],
 *    "series": [{"label": "...", "axis": "area", "decimals": 2, "fill": true, "values": [...]}]}
 * The first axis is drawn on the left, the second on the right.  Numbers are formatted for the
 * page's language (<html lang>).  Without Chart.js or data the canvas stays empty: the page's
 * table shows the same figures.
 */
(function () {
  "use strict";

  var COLOURS = ["#b00020", "#0b5d7a", "#1b7f3b", "#6b6b6b"];
  var LANG = document.documentElement.lang || "id";

  function formatter(decimals) {
    var format = new Intl.NumberFormat(LANG, {minimumFractionDigits: decimals,
                                              maximumFractionDigits: decimals});
    return function (value) { return value === null ? "-" : format.format(value); };
  }

  function dataset(series, index) {
    var colour = COLOURS[index % COLOURS.length];
    return {label: series.label, data: series.values, yAxisID: series.axis,
            borderColor: colour, backgroundColor: colour + "33", fill: series.fill ? "origin" : false,
            pointRadius: 3, tension: 0, decimals: series.decimals || 0};
  }

  function scale(axis, index) {
    var ticks = {callback: formatter(axis.decimals || 0)};
    if (!axis.decimals) { ticks.precision = 0; }
    return {type: "linear", position: index === 0 ? "left" : "right", beginAtZero: true,
            title: {display: true, text: axis.title}, ticks: ticks,
            grid: {drawOnChartArea: index === 0}};
  }

  function draw(canvas) {
    var source = document.getElementById(canvas.getAttribute("data-source") || "trend-data");
    if (!source || typeof Chart === "undefined") { return null; }
    var data = JSON.parse(source.textContent);
    var scales = {};
    data.axes.forEach(function (axis, index) { scales[axis.id] = scale(axis, index); });
    return new Chart(canvas, {
      type: "line",
      data: {labels: data.labels, datasets: data.series.map(dataset)},
      options: {
        responsive: true, maintainAspectRatio: false, animation: false,
        interaction: {mode: "index", intersect: false},
        scales: scales,
        plugins: {tooltip: {callbacks: {label: function (item) {
          return item.dataset.label + ": " + formatter(item.dataset.decimals)(item.parsed.y);
        }}}}
      }
    });
  }

  document.querySelectorAll("canvas.trend-chart").forEach(draw);
}());
