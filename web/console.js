// The operator console: polls the orchestrator's console API (see
// orchestrator/console.h) with the operator's token and draws what it says.
// Everything from the API is put on the page as text, never as markup.
'use strict';

(function () {
  const TOKEN_KEY = 'sagaworks.token';
  const REFRESH_MS = 1000;
  const RATE_POINTS = 300;  // 5 minutes of rates at one point a second
  const $ = (id) => document.getElementById(id);

  let token = sessionStorage.getItem(TOKEN_KEY) || '';
  let selected = new URLSearchParams(location.hash.slice(1)).get('saga') || '';
  let previous = null;      // the last overview's counters, for rates
  let ratesChart = null;
  let timer = null;
  const history = {};       // downstream -> {calls: [...], failures: [...]}

  class ApiError extends Error {
    constructor(status, message) { super(message); this.status = status; }
  }

  async function api(method, path, body) {
    const headers = token ? {'Authorization': 'Bearer ' + token} : {};
    if (body !== undefined) headers['Content-Type'] = 'application/json';
    const res = await fetch('/console/api/' + path, {
      method, headers, body: body === undefined ? undefined : JSON.stringify(body),
    });
    let data = {};
    try { data = await res.json(); } catch (e) { /* an empty or odd body */ }
    if (!res.ok) throw new ApiError(res.status, data.error || res.statusText);
    return data;
  }

  function cell(tr, text, className) {
    const td = document.createElement('td');
    td.textContent = text === undefined || text === null ? '' : String(text);
    if (className) td.className = className;
    tr.appendChild(td);
    return td;
  }

  function shortEnum(value, prefix) {
    return String(value || '').replace(prefix, '');
  }

  function when(ts) {
    if (!ts) return '';
    const d = new Date(ts);
    return isNaN(d) ? ts : d.toLocaleTimeString();
  }

  function showError(message) { $('error').textContent = message || ''; }

  function logout(message) {
    token = '';
    sessionStorage.removeItem(TOKEN_KEY);
    clearTimeout(timer);
    $('app').hidden = true;
    $('logout').hidden = true;
    $('login').hidden = false;
    $('login-error').textContent = message || '';
  }

  function breakerState(downstream) {
    let worst = 'closed';
    for (const b of downstream.breakers || []) {
      if (b.state === 'open') worst = 'open';
      else if (b.state === 'half_open' && worst === 'closed') worst = 'half_open';
    }
    return worst;
  }

  function drawOverview(overview) {
    const now = Date.now() / 1000;
    const body = $('downstreams').tBodies[0];
    body.replaceChildren();
    const counters = {};
    for (const d of overview.resilience.downstreams || []) {
      const c = {calls: +d.calls, failures: +d.failures, retries: +d.retries,
                 refused: +d.breaker_rejections};
      counters[d.name] = c;
      const was = previous && previous.counters[d.name];
      const dt = previous ? now - previous.at : 0;
      const rate = (k) => (was && dt > 0 ? Math.max(0, (c[k] - was[k]) / dt) : 0);
      const tr = document.createElement('tr');
      tr.dataset.downstream = d.name;
      cell(tr, d.name);
      const state = breakerState(d);
      cell(tr, state, 'badge b-' + state).dataset.role = 'breaker';
      cell(tr, rate('calls').toFixed(1));
      cell(tr, rate('failures').toFixed(1));
      cell(tr, rate('retries').toFixed(1));
      cell(tr, rate('refused').toFixed(1));
      cell(tr, d.in_flight);
      body.appendChild(tr);
      if (was && dt > 0) {
        const h = history[d.name] || (history[d.name] = {calls: [], failures: []});
        h.calls.push({x: now, y: rate('calls')});
        h.failures.push({x: now, y: rate('failures')});
        for (const k of ['calls', 'failures']) {
          if (h[k].length > RATE_POINTS) h[k].shift();
        }
      }
    }
    previous = {at: now, counters};
    drawRates(now);
  }

  function drawRates(now) {
    const datasets = [];
    for (const name of Object.keys(history).sort()) {
      for (const k of ['calls', 'failures']) {
        datasets.push({label: name + ' ' + k + '/s',
                       data: history[name][k].map((p) => ({x: p.x - now, y: p.y}))});
      }
    }
    if (!ratesChart) {
      ratesChart = SagaCharts.lineChart($('rates-chart'), datasets, 'per second',
                                        'seconds ago');
    } else {
      ratesChart.data.datasets.forEach((d, i) => {
        if (datasets[i]) d.data = datasets[i].data;
      });
      for (let i = ratesChart.data.datasets.length; i < datasets.length; i++) {
        ratesChart.data.datasets.push(SagaCharts.styled(datasets[i], i));
      }
      ratesChart.update('none');
    }
  }

  function drawChaos(chaos, services) {
    const select = $('chaos-service');
    if (select.options.length === 0) {
      for (const name of services) {
        const o = document.createElement('option');
        o.textContent = name;
        if (name === 'payment') o.selected = true;
        select.appendChild(o);
      }
    }
    const body = $('chaos').tBodies[0];
    body.replaceChildren();
    for (const name of Object.keys(chaos.services).sort()) {
      const state = chaos.services[name];
      const tr = document.createElement('tr');
      tr.dataset.service = name;
      cell(tr, name);
      let text;
      if (state.error) {
        text = state.error === 'FAILED_PRECONDITION' ? 'fault injection disabled'
                                                     : state.error + ': ' + state.message;
      } else if (!state.rules || state.rules.length === 0) {
        text = 'none';
      } else {
        text = state.rules.map((r) => (r.method || 'every method') + ': ' +
            Math.round(r.failure_rate * 100) + '% fail ' + (r.code || 'UNAVAILABLE') +
            (r.latency_ms > 0 ? ', +' + r.latency_ms + ' ms' : '')).join('; ');
      }
      cell(tr, text).dataset.role = 'rules';
      const td = cell(tr, '');
      if (state.rules && state.rules.length > 0) {
        const b = document.createElement('button');
        b.textContent = 'Clear';
        b.addEventListener('click', () => act(() =>
            api('DELETE', 'chaos?service=' + encodeURIComponent(name))));
        td.appendChild(b);
      }
      body.appendChild(tr);
    }
  }

  function sagaQuery() {
    const p = new URLSearchParams();
    if ($('filter-status').value) p.set('status', $('filter-status').value);
    if ($('filter-stuck').checked) p.set('stuck', '1');
    if ($('filter-since').value) p.set('since_seconds', $('filter-since').value);
    p.set('limit', $('filter-limit').value || '50');
    return p.toString();
  }

  function drawSagas(list) {
    const body = $('sagas').tBodies[0];
    body.replaceChildren();
    for (const s of list.sagas) {
      const tr = document.createElement('tr');
      tr.className = 'link' + (s.saga_id === selected ? ' selected' : '');
      tr.dataset.sagaId = s.saga_id;
      tr.dataset.orderId = s.order_id;
      cell(tr, s.saga_id);
      cell(tr, s.order_id);
      const status = shortEnum(s.status, 'SAGA_STATUS_');
      cell(tr, status + (s.stuck ? ' (stuck)' : ''), 'badge s-' + status.toLowerCase());
      cell(tr, s.current_step);
      cell(tr, s.attempt);
      cell(tr, when(s.create_time));
      cell(tr, when(s.update_time));
      tr.addEventListener('click', () => { select(s.saga_id); });
      body.appendChild(tr);
    }
  }

  function drawSaga(s) {
    $('saga').hidden = false;
    $('saga-id').textContent = s.saga_id;
    $('saga-order').textContent = s.order_id;
    const status = shortEnum(s.status, 'SAGA_STATUS_');
    $('saga-status').textContent = status + (s.stuck ? ' (stuck)' : '');
    $('saga-status').className = 'badge s-' + status.toLowerCase();
    $('saga-total').textContent = (Number(s.total_cents) / 100).toFixed(2);
    $('saga-reason').textContent = s.failure_reason ? 'reason: ' + s.failure_reason + ';' : '';
    const trace = $('saga-trace');
    trace.hidden = !s.trace_url;
    if (s.trace_url) trace.href = s.trace_url;
    const body = $('timeline').tBodies[0];
    body.replaceChildren();
    for (const e of s.steps || []) {
      const tr = document.createElement('tr');
      tr.dataset.step = e.name;
      cell(tr, when(e.first_time) + (e.time !== e.first_time ? ' - ' + when(e.time) : ''));
      cell(tr, e.name);
      cell(tr, shortEnum(e.kind, 'STEP_KIND_').toLowerCase());
      cell(tr, shortEnum(e.outcome, 'STEP_OUTCOME_').toLowerCase());
      cell(tr, e.attempt);
      cell(tr, e.error);
      cell(tr, [e.actor, e.note].filter(Boolean).join(': '));
      body.appendChild(tr);
    }
  }

  function select(id) {
    selected = id;
    location.hash = 'saga=' + encodeURIComponent(id);
    refresh();
  }

  async function act(fn) {
    chaosEvery = 0;
    try {
      await fn();
      showError('');
    } catch (e) {
      if (e.status === 401) return logout(e.message);
      showError(e.message);
    }
    refresh();
  }

  let chaosEvery = 0;
  async function refresh() {
    clearTimeout(timer);
    try {
      const overview = await api('GET', 'overview');
      drawOverview(overview);
      if (chaosEvery-- <= 0) {
        drawChaos(await api('GET', 'chaos'), overview.services);
        chaosEvery = 2;
      }
      drawSagas(await api('GET', 'sagas?' + sagaQuery()));
      if (selected) drawSaga(await api('GET', 'sagas/' + encodeURIComponent(selected)));
      $('refreshed').textContent = 'updated ' + new Date().toLocaleTimeString();
      showError('');
    } catch (e) {
      if (e.status === 401 || e.status === 403) return logout(e.message);
      showError(e.message);
    }
    timer = setTimeout(refresh, REFRESH_MS);
  }

  // start checks the token (none: perhaps the platform runs --insecure) and
  // shows the console, or the login form with why not.
  async function start() {
    try {
      await api('GET', 'overview');
    } catch (e) {
      if (!token && e.status === 401) return logout('');
      return logout(e.status === 403 ? 'that token is not an operator\'s: ' + e.message
                                      : e.message);
    }
    sessionStorage.setItem(TOKEN_KEY, token);
    $('login').hidden = true;
    $('app').hidden = false;
    $('logout').hidden = false;
    refresh();
  }

  document.addEventListener('DOMContentLoaded', () => {
    $('login-form').addEventListener('submit', (ev) => {
      ev.preventDefault();
      token = $('token').value.trim().replace(/^Bearer\s+/i, '');
      $('token').value = '';
      start();
    });
    $('logout').addEventListener('click', () => logout(''));
    $('filters').addEventListener('change', () => refresh());
    $('chaos-form').addEventListener('submit', (ev) => {
      ev.preventDefault();
      chaosEvery = 0;
      act(() => api('POST', 'chaos', {
        service: $('chaos-service').value,
        method: $('chaos-method').value.trim(),
        failure_rate: Number($('chaos-failure').value) / 100,
        latency_ms: Number($('chaos-latency').value),
        code: $('chaos-code').value,
      }));
    });
    start();
  });
})();
