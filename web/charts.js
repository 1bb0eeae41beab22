// Chart helpers shared by the operator console and the load report; both
// load Chart.js (Debian's libjs-chart.js) first.
'use strict';

(function (global) {
  // Breaker states as the platform numbers them.
  const BREAKER = ['closed', 'open', 'half_open'];
  const BREAKER_COLOR = ['#2e7d32', '#c62828', '#ef6c00'];
  const PALETTE = ['#1565c0', '#c62828', '#2e7d32', '#6a1b9a', '#ef6c00',
                   '#00838f', '#5d4037'];

  // styled gives a line dataset the i-th color and the common look.
  function styled(d, i) {
    return Object.assign({
      borderColor: PALETTE[i % PALETTE.length],
      backgroundColor: PALETTE[i % PALETTE.length],
      pointRadius: 0, borderWidth: 2, tension: 0,
    }, d);
  }

  function lineChart(canvas, datasets, yTitle, xTitle) {
    return new Chart(canvas, {
      type: 'line',
      data: {datasets: datasets.map(styled)},
      options: {
        animation: false, responsive: true, maintainAspectRatio: false,
        parsing: false, normalized: true,
        scales: {
          x: {type: 'linear', title: {display: true, text: xTitle}},
          y: {beginAtZero: true, title: {display: true, text: yTitle}},
        },
        plugins: {legend: {position: 'bottom'}},
      },
    });
  }

  // breakerBand draws breaker samples ({t, state}) as a band of colored
  // bars, one per sample: green closed, red open, orange half-open.
  function breakerBand(canvas, samples, xTitle) {
    const data = samples.map((s) => ({x: s.t, y: 1, state: s.state}));
    return new Chart(canvas, {
      type: 'bar',
      data: {datasets: [{
        label: 'breaker state',
        data: data,
        backgroundColor: data.map((p) => BREAKER_COLOR[p.state] || '#999'),
        barPercentage: 1.0, categoryPercentage: 1.0,
      }]},
      options: {
        animation: false, responsive: true, maintainAspectRatio: false,
        parsing: false,
        scales: {
          x: {type: 'linear', title: {display: true, text: xTitle}},
          y: {display: false, max: 1},
        },
        plugins: {
          legend: {display: false},
          tooltip: {callbacks: {label: (c) => BREAKER[c.raw.state]}},
        },
      },
    });
  }

  function stackedBars(canvas, labels, series) {
    const colors = {approved: '#2e7d32', rejected: '#ef6c00',
                    refused: '#6a1b9a', lost: '#c62828'};
    return new Chart(canvas, {
      type: 'bar',
      data: {labels: labels, datasets: series.map((s) => ({
        label: s.label, data: s.data, backgroundColor: colors[s.label]}))},
      options: {
        animation: false, responsive: true, maintainAspectRatio: false,
        scales: {x: {stacked: true}, y: {stacked: true, beginAtZero: true}},
        plugins: {legend: {position: 'bottom'}},
      },
    });
  }

  global.SagaCharts = {BREAKER, styled, lineChart, breakerBand, stackedBars};
})(window);
