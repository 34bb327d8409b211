/* healthscore dashboard charts: read JSON from <script type="application/json"> blocks and draw
   them with plotly (served by this server from the installed plotly package). */
(function () {
  "use strict";
  var RED = "#d64545", YELLOW = "#e0a526", GREEN = "#2f9e6b";
  var FONT = {family: "system-ui, -apple-system, Segoe UI, Roboto, sans-serif", size: 12, color: "#3b4252"};
  var CONFIG = {displaylogo: false, responsive: true,
                modeBarButtonsToRemove: ["lasso2d", "select2d", "autoScale2d", "toggleSpikelines"]};

  function data(id) {
    var el = document.getElementById(id);
    return el ? JSON.parse(el.textContent) : null;
  }

  function bandChart() {
    var d = data("band-chart-data");
    if (!d) { return; }
    var traces = [["red", RED], ["yellow", YELLOW], ["green", GREEN]].map(function (b) {
      return {x: d.dates, y: d[b[0]], name: b[0], type: "scatter", mode: "lines",
              stackgroup: "bands", line: {width: 0.5, color: b[1]}, fillcolor: b[1] + "cc",
              hovertemplate: "%{y} " + b[0] + "<extra></extra>"};
    });
    Plotly.newPlot("band-chart", traces, {
      font: FONT, margin: {l: 48, r: 16, t: 8, b: 36}, height: 280,
      hovermode: "x unified", legend: {orientation: "h", y: 1.12, x: 0},
      yaxis: {title: {text: "accounts"}, rangemode: "tozero", gridcolor: "#eceff4"},
      xaxis: {gridcolor: "#eceff4"}, paper_bgcolor: "rgba(0,0,0,0)", plot_bgcolor: "rgba(0,0,0,0)"
    }, CONFIG);
  }

  function scoreChart() {
    var d = data("score-chart-data");
    if (!d) { return; }
    function area(y0, y1, color) {
      return {type: "rect", xref: "paper", yref: "y", x0: 0, x1: 1, y0: y0, y1: y1,
              fillcolor: color, opacity: 0.12, line: {width: 0}, layer: "below"};
    }
    Plotly.newPlot("score-chart", [{
      x: d.dates, y: d.scores, name: d.name, type: "scatter", mode: "lines+markers",
      line: {color: "#2e3440", width: 2}, marker: {size: 4},
      hovertemplate: "%{x}: %{y:.1f}<extra></extra>"
    }], {
      font: FONT, margin: {l: 40, r: 16, t: 8, b: 36}, height: 260, showlegend: false,
      yaxis: {range: [0, 100], gridcolor: "#eceff4", title: {text: "score"}},
      xaxis: {gridcolor: "#eceff4"},
      shapes: [area(0, d.bands.red, RED), area(d.bands.red, d.bands.yellow, YELLOW),
               area(d.bands.yellow, 100, GREEN)],
      paper_bgcolor: "rgba(0,0,0,0)", plot_bgcolor: "rgba(0,0,0,0)"
    }, CONFIG);
  }

  bandChart();
  scoreChart();
})();
