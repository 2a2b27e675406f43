// The finance page's charts, drawn with Chart.js from the figures the page already lists in its tables.
(function () {
  "use strict";

  function draw() {
    var source = document.getElementById("finance-chart-data");
    if (!source) return;
    var data = JSON.parse(source.textContent);
    if (typeof window.Chart === "undefined") {
      // Without Chart.js the tables below still hold every figure.
      document.querySelectorAll(".finance-charts figure").forEach(function (f) { f.hidden = true; });
      return;
    }
    var money = new Intl.NumberFormat(document.documentElement.lang || "pl",
                                      { style: "currency", currency: data.currency });
    var common = { responsive: true, maintainAspectRatio: false, animation: false };

    function chart(id, config) {
      var canvas = document.getElementById(id);
      if (!canvas) return;
      new window.Chart(canvas, config);
      canvas.dataset.ready = "true";
    }

    function moneyTicks(axis) {
      return Object.assign({ beginAtZero: true, ticks: { callback: function (v) { return money.format(v); } } }, axis || {});
    }

    chart("chart-days", {
      type: "bar",
      data: { labels: data.days.labels.map(function (d) { return d.slice(8); }),
              datasets: [{ label: data.days.title, data: data.days.values.map(Number), backgroundColor: "#1f5fa8" }] },
      options: Object.assign({}, common, {
        plugins: { title: { display: true, text: data.days.title }, legend: { display: false },
                   tooltip: { callbacks: { label: function (c) { return money.format(c.parsed.y); } } } },
        scales: { y: moneyTicks() } })
    });
    chart("chart-encodings", {
      type: "doughnut",
      data: { labels: data.encodings.labels,
              datasets: [{ label: data.encodings.title, data: data.encodings.values,
                           backgroundColor: ["#1f5fa8", "#c0392b", "#7f8c8d"] }] },
      options: Object.assign({}, common, {
        plugins: { title: { display: true, text: data.encodings.title },
                   tooltip: { callbacks: { label: function (c) {
                     return c.label + ": " + c.parsed + " · " + money.format(Number(data.encodings.costs[c.dataIndex]));
                   } } } } })
    });
    chart("chart-campaigns", {
      type: "bar",
      data: { labels: data.campaigns.labels,
              datasets: [{ label: data.campaigns.title, data: data.campaigns.values.map(Number), backgroundColor: "#e67e22" }] },
      options: Object.assign({}, common, {
        indexAxis: "y",
        plugins: { title: { display: true, text: data.campaigns.title }, legend: { display: false },
                   tooltip: { callbacks: { label: function (c) { return money.format(c.parsed.x); } } } },
        scales: { x: moneyTicks() } })
    });
  }

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", draw);
  } else {
    draw();
  }
})();
