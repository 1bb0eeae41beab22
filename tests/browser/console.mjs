// Drives Debian's Chromium, headless, through the operator console and a
// load report. Started by tests/e2e/console_test.cc, which runs the platform
// and does what the script asks of it through files in $CONTROL_DIR:
//   the script writes "logged-in", then waits for "order-id" (an order the
//   test placed after killing payment), writes "saw-compensating" once the
//   page shows that saga compensating, and expects the page to show it
//   COMPENSATED after the test starts payment again.
// The outcome goes to $CONTROL_DIR/result.json; on failure a screenshot of
// each open page goes to $ARTIFACTS_DIR.
//
// Environment: CONSOLE_URL, OPERATOR_TOKEN, CUSTOMER_TOKEN, REPORT_FILE,
// JAEGER_URL, CONTROL_DIR, ARTIFACTS_DIR, CHROMIUM (default
// /usr/bin/chromium).
import {chromium} from 'playwright-core';
import fs from 'node:fs';
import path from 'node:path';

const env = (name, fallback) => {
  const v = process.env[name] ?? fallback;
  if (v === undefined) throw new Error(`${name} is not set`);
  return v;
};
const consoleUrl = env('CONSOLE_URL');
const control = env('CONTROL_DIR');
const artifacts = env('ARTIFACTS_DIR');
const STEP_TIMEOUT = 60_000;

function log(message) {
  console.log(`${new Date().toISOString()} ${message}`);
}

async function waitForFile(name, timeoutMs) {
  const file = path.join(control, name);
  const deadline = Date.now() + timeoutMs;
  while (!fs.existsSync(file)) {
    if (Date.now() > deadline) throw new Error(`the test did not write ${name}`);
    await new Promise((r) => setTimeout(r, 100));
  }
  return fs.readFileSync(file, 'utf8').trim();
}

function signal(name, content = '') {
  fs.writeFileSync(path.join(control, name + '.tmp'), content);
  fs.renameSync(path.join(control, name + '.tmp'), path.join(control, name));
}

function check(condition, message) {
  if (!condition) throw new Error(message);
}

async function consoleFlow(page) {
  await page.goto(consoleUrl);
  await page.locator('#login').waitFor({state: 'visible'});

  // A customer's token is turned away with the reason.
  await page.fill('#token', env('CUSTOMER_TOKEN'));
  await page.click('#login-form button[type=submit]');
  await page.locator('#login-error', {hasText: 'not an operator'}).waitFor();
  log('a customer token was refused');

  await page.fill('#token', env('OPERATOR_TOKEN'));
  await page.click('#login-form button[type=submit]');
  await page.locator('#app').waitFor({state: 'visible'});
  const payment = page.locator('#downstreams tr[data-downstream=payment]');
  await payment.locator('[data-role=breaker]', {hasText: 'closed'}).waitFor();
  log('logged in; the breaker to payment is closed');

  // A chaos rule set from the page shows on the page, and clears.
  await page.selectOption('#chaos-service', 'shipping');
  await page.fill('#chaos-failure', '25');
  await page.fill('#chaos-latency', '5');
  await page.click('#chaos-form button[type=submit]');
  const shipping = page.locator('#chaos tr[data-service=shipping]');
  await shipping.locator('[data-role=rules]', {hasText: '25% fail UNAVAILABLE, +5 ms'}).waitFor();
  await shipping.locator('button', {hasText: 'Clear'}).click();
  await shipping.locator('[data-role=rules]', {hasText: 'none'}).waitFor();
  log('a chaos rule was set and cleared from the page');

  signal('logged-in');
  const orderId = await waitForFile('order-id', STEP_TIMEOUT);
  log(`watching the saga of order ${orderId}`);

  // The saga shows in the list filtered by its status, and opens.
  await page.selectOption('#filter-status', 'compensating');
  const row = page.locator(`#sagas tr[data-order-id="${orderId}"]`);
  await row.waitFor({timeout: STEP_TIMEOUT});
  await row.click();
  const status = page.locator('#saga-status');
  await status.filter({hasText: 'COMPENSATING'}).waitFor({timeout: STEP_TIMEOUT});
  await page.locator('#timeline tr[data-step=refund_payment]').waitFor();
  log('the page shows the saga COMPENSATING, refunding the payment');
  signal('saw-compensating');

  // No reload: the page follows the saga to its end once payment is back.
  await status.filter({hasText: 'COMPENSATED'}).waitFor({timeout: STEP_TIMEOUT});
  const steps = await page.locator('#timeline tbody tr').evaluateAll(
      (rows) => rows.map((r) => [r.dataset.step, r.cells[2].textContent,
                                 r.cells[3].textContent]));
  for (const step of ['refund_payment', 'release_stock', 'reject_order']) {
    check(steps.some(([name, kind, outcome]) =>
              name === step && kind === 'compensation' && outcome === 'succeeded'),
          `the timeline lacks a succeeded ${step}: ${JSON.stringify(steps)}`);
  }
  const trace = page.locator('#saga-trace');
  if (await trace.isVisible()) {
    const href = await trace.getAttribute('href');
    check(href.startsWith(env('JAEGER_URL') + '/trace/'), `trace link ${href}`);
    log(`trace link: ${href}`);
  }
  log('the saga ended COMPENSATED on the page');
}

async function reportFlow(page) {
  await page.goto('file://' + env('REPORT_FILE'));
  const scenarios = await page.locator('#summary tbody tr').count();
  check(scenarios > 0, 'the report lists no scenario');
  // Every chart has been drawn with data: Chart.js keeps each chart's data
  // on the instance bound to its canvas.
  const charts = await page.evaluate(() => [...document.querySelectorAll('canvas')].map(
      (c) => {
        const chart = Chart.getChart(c);
        return {
          id: c.id || c.dataset.chart,
          points: chart ? chart.data.datasets.reduce((n, d) => n + d.data.length, 0) : -1,
          drawn: c.width > 0 && c.height > 0,
        };
      }));
  check(charts.length === 1 + 2 * scenarios,
        `expected an outcomes chart and two per scenario, got ${JSON.stringify(charts)}`);
  for (const c of charts) {
    check(c.points > 0 && c.drawn, `chart ${c.id} drew no data: ${JSON.stringify(c)}`);
  }
  log(`the report drew ${charts.length} charts for ${scenarios} scenarios`);
}

const browser = await chromium.launch({
  executablePath: env('CHROMIUM', '/usr/bin/chromium'),
  headless: true,
  // The machine has no network beyond loopback: nothing in the background.
  args: ['--disable-gpu', '--disable-quic', '--no-first-run',
         '--disable-background-networking', '--disable-component-update',
         '--disable-sync'],
});
const pages = [];
let result = {ok: true};
try {
  const context = await browser.newContext();
  context.setDefaultTimeout(STEP_TIMEOUT);
  const consolePage = await context.newPage();
  pages.push(['console', consolePage]);
  consolePage.on('pageerror', (e) => log(`console page error: ${e.message}`));
  await consoleFlow(consolePage);
  const reportPage = await context.newPage();
  pages.push(['report', reportPage]);
  reportPage.on('pageerror', (e) => log(`report page error: ${e.message}`));
  await reportFlow(reportPage);
} catch (e) {
  result = {ok: false, error: String(e && e.stack || e)};
  fs.mkdirSync(artifacts, {recursive: true});
  for (const [name, page] of pages) {
    const file = path.join(artifacts, `${name}.png`);
    await page.screenshot({path: file, fullPage: true}).catch(() => {});
    result[name + '_screenshot'] = file;
  }
  log(`FAILED: ${result.error}`);
} finally {
  await browser.close();
}
signal('result.json', JSON.stringify(result));
process.exit(result.ok ? 0 : 1);
