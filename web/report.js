// Draws the load report from the JSON `sagactl load --json` prints, which
// report.html carries inline.
'use strict';

(function () {
  const data = JSON.parse(document.getElementById('report-data').textContent);
  const el = (tag, text, className) => {
    const e = document.createElement(tag);
    if (text !== undefined) e.textContent = String(text);
    if (className) e.className = className;
    return e;
  };
  document.getElementById('meta').textContent =
      'generated ' + data.generated + '; ' + data.replicas +
      ' replica(s) per service; SLO window ' + data.slo_window_days + ' days';

  const ran = data.scenarios.filter((s) => !s.error);
  SagaCharts.stackedBars(document.getElementById('outcomes'),
      ran.map((s) => s.name),
      ['approved', 'rejected', 'refused', 'lost'].map((k) => ({
        label: k,
        data: ran.map((s) => k === 'rejected'
            ? s.orders.rejected + s.orders.cancelled + s.orders.needs_attention
            : s.orders[k]),
      })));

  const tbody = document.querySelector('#summary tbody');
  for (const s of data.scenarios) {
    const tr = el('tr');
    tr.dataset.scenario = s.name;
    tr.appendChild(el('td', s.name));
    tr.appendChild(el('td', s.description));
    if (s.error) {
      const td = el('td', 'could not run: ' + s.error, 'missed');
      td.colSpan = 9;
      tr.appendChild(td);
      tbody.appendChild(tr);
      continue;
    }
    const l = s.latency_ms.order_to_final;
    tr.appendChild(el('td', s.orders.placed));
    tr.appendChild(el('td', s.success_percent.toFixed(2) + '%'));
    tr.appendChild(el('td', s.orders.lost, s.orders.lost > 0 ? 'missed' : ''));
    tr.appendChild(el('td', l.p50 + ' ms'));
    tr.appendChild(el('td', l.p95 + ' ms'));
    tr.appendChild(el('td', l.p99 + ' ms'));
    tr.appendChild(el('td', s.compensations));
    tr.appendChild(el('td', s.breaker_samples.open + ' / ' + s.breaker_samples.half_open));
    const slos = el('td');
    for (const slo of s.slos) {
      slos.appendChild(el('div', slo.name + ' ' + (slo.sli * 100).toFixed(2) + '% (' +
          Math.round(slo.budget_consumed * 100) + '% of budget)', slo.met ? 'met' : 'missed'));
    }
    tr.appendChild(slos);
    tbody.appendChild(tr);
  }

  const holder = document.getElementById('scenarios');
  for (const s of ran) {
    const section = el('section');
    section.dataset.scenario = s.name;
    section.appendChild(el('h2', s.name + ': ' + s.description));
    section.appendChild(el('p', s.rate + ' orders/s for ' + s.seconds + ' s; ' +
        'breaker to ' + s.fault.service + ' (green closed, red open, orange half-open):',
        'muted'));
    const band = el('div', undefined, 'band');
    const bandCanvas = el('canvas');
    bandCanvas.dataset.chart = 'breaker';
    band.appendChild(bandCanvas);
    section.appendChild(band);
    const chart = el('div', undefined, 'chart');
    const canvas = el('canvas');
    canvas.dataset.chart = 'latency';
    chart.appendChild(canvas);
    section.appendChild(chart);
    holder.appendChild(section);
    const points = (k) => s.timeline.map((p) => ({x: p.second, y: p[k]}));
    SagaCharts.lineChart(canvas, [
      {label: 'p50 order to final (ms)', data: points('p50_ms')},
      {label: 'p95 order to final (ms)', data: points('p95_ms')},
    ], 'ms', 'second of the load (orders placed then)');
    SagaCharts.breakerBand(bandCanvas, s.breaker_timeline, 'seconds');
  }
})();
