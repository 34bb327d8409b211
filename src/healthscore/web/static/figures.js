/* healthscore figures: draw every <script type="application/json" class="figure"> block (a
   plotly figure: data and layout) into the element whose id its data-target names. */
(function () {
  "use strict";
  var CONFIG = {displaylogo: false, responsive: true};
  function draw() {
    var blocks = document.querySelectorAll("script.figure[type='application/json']");
    Array.prototype.forEach.call(blocks, function (block) {
      var fig = JSON.parse(block.textContent);
      Plotly.newPlot(block.getAttribute("data-target"), fig.data, fig.layout, CONFIG);
    });
  }
  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", draw);
  } else {
    draw();
  }
})();
