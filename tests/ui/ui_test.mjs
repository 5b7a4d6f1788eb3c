// The web UI in a real browser: Debian's chromium, headless, driven by
// puppeteer-core (which downloads no browser). Run by
// tests/integration/test_gateway_ui.c, which starts the services and the
// gateway and passes, in the environment:
//   TB_UI_URL         the gateway, e.g. http://127.0.0.1:40000
//   TB_UI_TRADER_KEY  a trader key of TB_UI_ACCOUNT
//   TB_UI_VIEWER_KEY  a viewer key of TB_UI_ACCOUNT
//   TB_UI_ACCOUNT     the account (its max_order_qty is 100: qty 1000 is refused)
//   TB_UI_SHOTS       optional: a folder for screenshots of every page
//   TB_CHROMIUM       optional: the browser (default /usr/bin/chromium)
// Exit status 0 when every check passed; every wait has a deadline, and the
// whole run has one too.
import puppeteer from 'puppeteer-core';
import { mkdirSync, readFileSync } from 'node:fs';

const env = (k) => {
  const v = process.env[k];
  if (!v) { console.error(`${k} is not set`); process.exit(2); }
  return v;
};
const BASE = env('TB_UI_URL');
const TRADER = env('TB_UI_TRADER_KEY');
const VIEWER = env('TB_UI_VIEWER_KEY');
const ACCOUNT = env('TB_UI_ACCOUNT');
const SHOTS = process.env.TB_UI_SHOTS || '';
// The bundled EuStock closes, read by the page from a local file.
const CSV_FILE = new URL('../../data/eustock_daily.csv', import.meta.url).pathname;
const XSS = '<img src=x onerror=window.__xss=1>';

const deadline = setTimeout(() => { console.error('FAIL: the whole run took over 420 s'); process.exit(1); }, 420000);
const WAIT = 20000;

let failures = 0;
const t0 = Date.now();
function check(ok, what) {
  console.log(`${ok ? 'ok  ' : 'FAIL'} ${((Date.now() - t0) / 1000).toFixed(1).padStart(5)}s ${what}`);
  if (!ok) failures++;
}

// ---- headers of / (plain HTTP, no browser) ----
{
  const res = await fetch(`${BASE}/`, { headers: { 'Accept-Encoding': 'gzip' } });
  const csp = res.headers.get('content-security-policy') || '';
  check(res.status === 200, `GET / is 200 (${res.status})`);
  check((res.headers.get('content-type') || '').startsWith('text/html'), 'GET / is text/html');
  check(csp.includes("default-src 'self'") && csp.includes("script-src 'self'"), `CSP: ${csp}`);
  check(!/unsafe-inline|unsafe-eval/.test(csp), 'CSP allows no inline script or style');
  check(res.headers.get('x-content-type-options') === 'nosniff', 'X-Content-Type-Options: nosniff');
  check(!!res.headers.get('etag'), 'GET / has an ETag');
  const js = await fetch(`${BASE}/app.js`);
  check((js.headers.get('content-type') || '').startsWith('text/javascript'), 'app.js is text/javascript');
  const api = await fetch(`${BASE}/v1/orders`);
  check(api.status === 401, `the API stays under /v1 and needs a key (${api.status})`);
}

const browser = await puppeteer.launch({
  executablePath: process.env.TB_CHROMIUM || '/usr/bin/chromium',
  headless: true,
  // --no-sandbox: CI runs as root, where chromium's sandbox cannot start.
  args: ['--no-sandbox', '--disable-gpu', '--disable-dev-shm-usage', '--no-first-run'],
});

const problems = [];
let expectStatus = 0; // one response of this status is expected next // console errors, page errors, CSP violations, failed requests

async function newPage() {
  const page = await browser.newPage();
  page.setDefaultTimeout(WAIT);
  await page.setViewport({ width: 1280, height: 900 });
  page.on('console', (m) => {
    if (m.type() !== 'error') return;
    // Chrome logs every non-2xx fetch; the order risk refuses is meant to be a 422.
    if (expectStatus && m.text().includes(`status of ${expectStatus}`)) { expectStatus = 0; return; }
    problems.push(`console: ${m.text()}`);
  });
  page.on('pageerror', (e) => problems.push(`page error: ${e.message}`));
  page.on('requestfailed', (r) => {
    // A WebSocket closed at sign-out or navigation is not a failure.
    if (!r.url().includes('/v1/stream')) problems.push(`request failed: ${r.url()} ${r.failure() && r.failure().errorText}`);
  });
  page.on('dialog', (d) => { problems.push(`unexpected dialog: ${d.message()}`); d.dismiss(); });
  await page.evaluateOnNewDocument(() => {
    window.__csp = [];
    document.addEventListener('securitypolicyviolation', (e) => window.__csp.push(`${e.violatedDirective} ${e.blockedURI}`));
  });
  return page;
}

async function signIn(page, key, role) {
  await page.goto(`${BASE}/`, { waitUntil: 'load' });
  await page.waitForSelector('#signin-key', { visible: true });
  await page.type('#signin-key', key);
  await page.click('#signin-form button[type=submit]');
  await page.waitForFunction((r) => document.querySelector('[data-testid=role]').textContent === r, {}, role);
  // The key is kept for the tab only: not in a cookie, not in the URL.
  const where = await page.evaluate(() => ({ cookie: document.cookie, url: location.href, local: localStorage.length }));
  check(!where.url.includes(key) && where.cookie === '' && where.local === 0, `${role}: the key is only in sessionStorage`);
}

// name: a page, optionally with its query (backtests?id=bt3).
async function go(page, name) {
  await page.evaluate((n) => {
    // The same address again draws the page again (at a new width, say).
    if (location.hash === `#/${n}`) window.dispatchEvent(new HashChangeEvent('hashchange'));
    else location.hash = `#/${n}`;
  }, name);
  await page.waitForFunction((n) => document.getElementById('view').dataset.page === n, {}, name.split('?')[0]);
}

async function shots(page, role, btId) {
  if (!SHOTS) return;
  mkdirSync(SHOTS, { recursive: true });
  for (const name of ['overview', 'account', 'orders', 'markets', 'strategies', 'backtests', 'risk', 'alerts']) {
    for (const [w, hgt, tag] of [[1280, 900, 'desktop'], [390, 844, 'narrow']]) {
      await page.setViewport({ width: w, height: hgt });
      // Backtests with the run launched above open, its report drawn.
      await go(page, name === 'backtests' && btId ? `${name}?id=${btId}` : name);
      if (name === 'backtests' && btId) await page.waitForSelector('[data-testid=bt-equity-chart] canvas').catch(() => {});
      await new Promise((r) => setTimeout(r, 800)); // let the page's reads land
      await page.screenshot({ path: `${SHOTS}/${role}-${name}-${tag}.png`, fullPage: true });
    }
  }
  await page.setViewport({ width: 1280, height: 900 });
}

const text = (page, sel) => page.$eval(sel, (e) => e.textContent);

try {
  // ---- a viewer key finds no way to trade ----
  {
    const page = await newPage();
    await signIn(page, VIEWER, 'viewer');
    await go(page, 'orders');
    await page.waitForSelector('[data-testid=ticket] fieldset');
    check(await page.$eval('[data-testid=ticket] fieldset', (f) => f.disabled), 'viewer: the order ticket is disabled');
    check(await page.$eval('[data-testid=ticket-submit]', (b) => b.matches(':disabled')), 'viewer: Place order cannot be clicked');
    await page.waitForSelector('[data-testid=open-orders]');
    check((await page.$$('[data-testid=cancel]:not(:disabled)')).length === 0, 'viewer: no cancel button is enabled');
    await go(page, 'risk');
    await page.waitForSelector('[data-testid=kill-engage]');
    check(await page.$eval('[data-testid=kill-engage]', (b) => b.disabled), 'viewer: the kill switch cannot be engaged');
    check(await page.$eval('[data-testid=limits-form] fieldset', (f) => f.disabled), 'viewer: limits are read only');
    await go(page, 'strategies');
    check(await page.$eval('[data-testid=strategy-form] fieldset', (f) => f.disabled), 'viewer: no strategy can be created');
    // Every button or field that changes something is disabled.
    const enabled = await page.evaluate(() => [...document.querySelectorAll('#view button, #view input, #view select, #view textarea')]
      .filter((e) => !e.matches(':disabled') && !/Previous|Next|Deliveries|Retry/.test(e.textContent) && e.name !== 'account-picker').map((e) => e.outerHTML.slice(0, 80)));
    check(enabled.length === 0, `viewer: nothing on Strategies can be changed ${enabled.join(' ')}`);
    // Backtests: the launch form is disabled, and the gateway refuses the
    // viewer's launch anyway.
    await go(page, 'backtests');
    await page.waitForSelector('[data-testid=bt-form] fieldset');
    check(await page.$eval('[data-testid=bt-form] fieldset', (f) => f.disabled), 'viewer: no backtest can be launched from the page');
    check(await page.$eval('[data-testid=bt-launch]', (b) => b.matches(':disabled')), 'viewer: Launch cannot be clicked');
    const vres = await fetch(`${BASE}/v1/backtests`, {
      method: 'POST', headers: { Authorization: `Bearer ${VIEWER}`, 'Content-Type': 'application/json' },
      body: JSON.stringify({ account: ACCOUNT, kind: 'sma_cross', symbols: 'DAX', data: { file: 'eustock_daily.csv' } }),
    });
    check(vres.status === 403, `viewer: POST /v1/backtests is refused (${vres.status})`);
    await page.waitForSelector('[data-testid=backtests]');
    check(/No backtests yet/.test(await text(page, '[data-testid=backtests]')), 'viewer: the empty list says so');
    await page.close();
  }

  // ---- a trader key ----
  const page = await newPage();
  await signIn(page, TRADER, 'trader');

  // Overview: every service healthy (they may still be warming up).
  await go(page, 'overview');
  await page.waitForFunction(() => {
    const s = [...document.querySelectorAll('[data-testid=services] [data-testid=service-status]')].map((e) => e.textContent);
    return s.length >= 8 && s.filter((x) => x !== 'ok').length === 0 || false;
  }, { timeout: 45000 }).then(() => check(true, 'overview: every service is ok'),
    async () => check(false, `overview: services ${await text(page, '#view')}`));

  // The stream is live.
  await page.waitForFunction(() => document.querySelector('[data-testid=stream-state]').textContent === 'live')
    .then(() => check(true, 'the stream is live'), () => check(false, 'the stream did not connect'));

  // Markets: a quote changes without a reload.
  await go(page, 'markets');
  await page.waitForSelector('[data-testid=quotes] tr[data-symbol="DAX"]');
  const seq0 = await text(page, '[data-testid=quotes] tr[data-symbol="DAX"] [data-field=seq]');
  await page.waitForFunction((s) => {
    const e = document.querySelector('[data-testid=quotes] tr[data-symbol="DAX"] [data-field=seq]');
    return e && e.textContent !== s;
  }, {}, seq0).then(() => check(true, `markets: the DAX quote updated live (seq ${seq0} -> newer)`),
    () => check(false, 'markets: no live quote update'));

  // Orders: a limit order under the market rests; it is listed and canceled.
  const place = async (fields) => {
    await page.$eval('[data-testid=ticket]', (f) => f.reset());
    await page.$eval('[data-testid=ticket-result]', (e) => { e.textContent = ''; });
    for (const [sel, v] of Object.entries(fields)) {
      const tag = await page.$eval(sel, (e) => e.tagName);
      if (tag === 'SELECT') await page.select(sel, v);
      else { await page.$eval(sel, (e) => { e.value = ''; }); await page.type(sel, v); }
    }
    await page.click('[data-testid=ticket-submit]');
    await page.waitForFunction(() => {
      const t = document.querySelector('[data-testid=ticket-result]').textContent;
      return t && t !== 'Sending…';
    }).catch(async (e) => {
      const why = await page.$eval('[data-testid=ticket]', (f) => [...f.elements].filter((x) => x.willValidate && !x.checkValidity())
        .map((x) => `${x.name}=${x.value} ${x.validationMessage}`).join('; '));
      throw new Error(`no answer to the ticket (invalid: ${why}): ${e.message}`);
    });
    return text(page, '[data-testid=ticket-result]');
  };
  // 5% under the bid: inside risk's price collar (10%), too low to fill.
  const bid = Number(await text(page, '[data-testid=quotes] tr[data-symbol="DAX"] [data-field=bid]'));
  await go(page, 'orders');
  await page.waitForSelector('[data-testid=ticket] fieldset:not([disabled])');
  let r = await place({ '[data-testid=ticket-symbol]': 'DAX', '[data-testid=ticket-type]': 'limit', '[data-testid=ticket-qty]': '1',
    '[data-testid=ticket-limit]': (bid * 0.95).toFixed(2), '[data-testid=ticket-tif]': 'gtc' });
  const m = /Order (\S+): (\w+)/.exec(r);
  check(!!m && ['new', 'accepted'].includes(m[2]), `orders: the limit order was placed (${r})`);
  if (m) {
    const row = `[data-testid=open-orders] tr[data-order="${m[1]}"]`;
    await page.waitForSelector(row).then(() => check(true, 'orders: the limit order is among open orders'),
      () => check(false, 'orders: the limit order is not listed as open'));
    await page.click(`${row} [data-testid=cancel]`).catch(() => {});
    await page.waitForSelector(row, { hidden: true }).then(() => check(true, 'orders: the order was canceled'),
      () => check(false, 'orders: the canceled order is still open'));
  }

  // A trailing stop 90% below the price (it never triggers here): placed
  // with its trail from the ticket, listed among open orders, canceled.
  r = await place({ '[data-testid=ticket-type]': 'trailing_stop', '[data-testid=ticket-side]': 'sell',
    '[data-testid=ticket-qty]': '1', '[data-testid=ticket-trail-bps]': '9000', '[data-testid=ticket-tif]': 'gtc' });
  const tm = /Order (\S+): (\w+)/.exec(r);
  check(!!tm && ['new', 'accepted'].includes(tm[2]), `orders: the trailing stop was placed (${r})`);
  if (tm) {
    const row = `[data-testid=open-orders] tr[data-order="${tm[1]}"]`;
    await page.waitForSelector(row).then(() => check(true, 'orders: the trailing stop is among open orders'),
      () => check(false, 'orders: the trailing stop is not listed as open'));
    await page.click(`${row} [data-testid=cancel]`).catch(() => {});
    await page.waitForSelector(row, { hidden: true }).then(() => check(true, 'orders: the trailing stop was canceled'),
      () => check(false, 'orders: the canceled trailing stop is still open'));
  }

  // Risk refuses an order over max_order_qty: the reason is shown.
  expectStatus = 422;
  r = await place({ '[data-testid=ticket-type]': 'market', '[data-testid=ticket-qty]': '1000' });
  check(/rejected|refused/i.test(r) && r.length > 20 &&
    (await page.$eval('[data-testid=ticket-result]', (e) => e.className)) === 'error', `orders: the reject reason is shown (${r})`);

  // A market order fills; the fill appears without a reload (stream).
  r = await place({ '[data-testid=ticket-type]': 'market', '[data-testid=ticket-side]': 'buy', '[data-testid=ticket-qty]': '2' });
  const mk = /Order (\S+):/.exec(r);
  check(!!mk, `orders: the market order was placed (${r})`);
  if (mk) {
    await page.waitForFunction((id) => [...document.querySelectorAll('[data-testid=fills] td')].some((td) => td.textContent === id),
      { timeout: 30000 }, mk[1]).then(() => check(true, 'orders: its fill is listed'), () => check(false, 'orders: no fill listed'));
  }

  // Account: the position (qty 2) is in the table; cards show the cash.
  await go(page, 'account');
  await page.waitForFunction(() => {
    const td = document.querySelector('[data-testid=positions] tr[data-symbol="DAX"] td:nth-child(2)');
    return td && td.textContent === '2';
  }, { timeout: 30000 }).then(() => check(true, 'account: the DAX position of 2 is shown'),
    async () => check(false, `account: positions ${await text(page, '[data-testid=positions]').catch(() => 'missing')}`));
  // The account's name is shown as text, and nothing in it runs. It comes
  // with the account's own request, which may answer after the positions.
  await page.waitForFunction(() => {
    const e = document.querySelector('[data-testid=account-name]');
    return e && e.textContent !== '';
  }, { timeout: 15000 }).catch(() => {});
  const name = await text(page, '[data-testid=account-name]').catch(() => '');
  check(name.includes(XSS), `account: the hostile account name is shown as text (${name})`);
  check(await page.evaluate(() => window.__xss === undefined && !document.querySelector('#view img')), 'account: no script ran from the name');
  // Live: sell 1 from the Orders page, come back: the position is 1.
  await go(page, 'orders');
  await place({ '[data-testid=ticket-type]': 'market', '[data-testid=ticket-side]': 'sell', '[data-testid=ticket-qty]': '1' });
  await go(page, 'account');
  await page.waitForFunction(() => {
    const td = document.querySelector('[data-testid=positions] tr[data-symbol="DAX"] td:nth-child(2)');
    return td && td.textContent === '1';
  }, { timeout: 30000 }).then(() => check(true, 'account: the position changed to 1 without a reload'),
    () => check(false, 'account: the position did not change'));

  // Strategies: one is created, its parameters edited, enabled; a hostile
  // id is refused by the API and the refusal is shown as text.
  await go(page, 'strategies');
  await page.waitForSelector('[data-testid=strategy-form] fieldset:not([disabled])');
  const sid = `ui-${Date.now() % 1000000}`;
  const createStrategy = async (id) => {
    await page.$eval('[data-testid=strategy-result]', (e) => { e.textContent = ''; });
    await page.$eval('[data-testid=strategy-id]', (e) => { e.value = ''; });
    await page.type('[data-testid=strategy-id]', id);
    await page.click('[data-testid=strategy-form] button[type=submit]');
    await page.waitForFunction(() => /Created|:/.test(document.querySelector('[data-testid=strategy-result]').textContent));
    return text(page, '[data-testid=strategy-result]');
  };
  r = await createStrategy(sid);
  check(r === `Created ${sid}`, `strategies: created (${r})`);
  const srow = `[data-testid=strategies] tr[data-strategy="${sid}"]`;
  await page.waitForSelector(srow).then(() => check(true, 'strategies: listed'), () => check(false, 'strategies: not listed'));
  await page.$eval(`${srow} input`, (e) => { e.value = '{"fast":7,"slow":21}'; });
  await page.evaluate((sel) => [...document.querySelectorAll(`${sel} button`)].find((b) => b.textContent === 'Save').click(), srow);
  await page.waitForFunction((sel) => { const i = document.querySelector(`${sel} input`); return i && /"fast":7/.test(i.value); }, {}, srow)
    .then(() => check(true, 'strategies: parameters saved'), () => check(false, 'strategies: parameters not saved'));
  await page.evaluate((sel) => [...document.querySelectorAll(`${sel} button`)].find((b) => b.textContent === 'Enable').click(), srow);
  await page.waitForFunction((sel) => { const e = document.querySelector(sel); return e && e.textContent.includes('enabled'); }, {}, srow)
    .then(() => check(true, 'strategies: enabled'), () => check(false, 'strategies: not enabled'));
  expectStatus = 400;
  r = await createStrategy(XSS);
  check(/400/.test(r), `strategies: a hostile id is refused and the refusal shown (${r})`);
  check(await page.evaluate(() => window.__xss === undefined && !document.querySelector('#view img')), 'strategies: no script ran');

  // Backtests: the DAX closes of the bundled data, sma_cross 5/20, launched
  // from the page; its progress is followed until it ends, then the report
  // shows its statistics, the equity and drawdown charts and round trips.
  await go(page, 'backtests');
  await page.waitForSelector('[data-testid=bt-form] fieldset:not([disabled])');
  const setField = async (sel, v) => {
    const tag = await page.$eval(sel, (e) => e.tagName);
    if (tag === 'SELECT') await page.select(sel, v);
    else { await page.$eval(sel, (e) => { e.value = ''; }); await page.type(sel, v); }
  };
  // A hostile symbol is refused by the API and the refusal is shown as text.
  expectStatus = 400;
  await setField('[data-testid=bt-symbols]', XSS);
  await page.click('[data-testid=bt-launch]');
  await page.waitForFunction(() => /Refused/.test(document.querySelector('[data-testid=bt-result]').textContent));
  check(/400/.test(await text(page, '[data-testid=bt-result]')), `backtests: a hostile symbol is refused (${await text(page, '[data-testid=bt-result]')})`);
  check(await page.evaluate(() => window.__xss === undefined && !document.querySelector('#view img')), 'backtests: no script ran');
  await setField('[data-testid=bt-account]', ACCOUNT);
  await setField('[data-testid=bt-file]', 'eustock_daily.csv');
  await setField('[data-testid=bt-format]', 'closes');
  await setField('[data-testid=bt-symbols]', 'DAX');
  await setField('[data-testid=bt-kind]', 'sma_cross');
  await setField('[data-testid=bt-params]', '{"fast":5,"slow":20}');
  await setField('[data-testid=bt-cash]', '100000');
  await setField('[data-testid=bt-speed]', '0');
  // The browser's own timings of the reads of the run on show (from here
  // on) check that the page reads it no faster than once a second.
  await page.evaluate(() => { performance.clearResourceTimings(); performance.setResourceTimingBufferSize(1000); });
  await page.click('[data-testid=bt-launch]');
  await page.waitForFunction(() => /Launched|Refused/.test(document.querySelector('[data-testid=bt-result]').textContent));
  r = await text(page, '[data-testid=bt-result]');
  const bm = /Launched (bt\d+)/.exec(r);
  check(!!bm, `backtests: launched from the page (${r})`);
  let btId = '';
  if (bm) {
    btId = bm[1];
    await page.waitForSelector(`[data-testid=backtests] tr[data-backtest="${btId}"]`)
      .then(() => check(true, 'backtests: the run is listed'), () => check(false, 'backtests: the run is not listed'));
    check((await text(page, '[data-testid=bt-detail] h2')).includes(btId), 'backtests: the run is on show');
    // Its state is followed (read once a second) until it ends.
    const ended = await page.waitForFunction(() => {
      const s = document.querySelector('[data-testid=bt-status]');
      return s && s.textContent !== '' && s.textContent !== 'running';
    }, { timeout: 150000 }).then(() => true, () => false);
    const polls = await page.evaluate(() => performance.getEntriesByType('resource')
      .filter((e) => /\/v1\/backtests\/bt\d+$/.test(e.name)).map((e) => e.startTime));
    const gaps = polls.slice(1).map((t, i) => t - polls[i]);
    check(polls.length >= 2 && Math.min(...gaps) >= 950,
      `backtests: its state was read ${polls.length} times, never within a second (shortest gap ${Math.round(Math.min(...gaps))} ms)`);
    const status = await text(page, '[data-testid=bt-status]');
    check(ended && status === 'done', `backtests: ${btId} ended ${status} (${await text(page, '[data-testid=bt-detail]').then((t) => t.slice(0, 300))})`);
    check(await page.$eval('[data-testid=bt-progress]', (p) => p.value === 1) &&
      /^100 %/.test(await text(page, '[data-testid=bt-progress-text]')), `backtests: progress 100 % (${await text(page, '[data-testid=bt-progress-text]')})`);
    await page.waitForSelector('[data-testid=bt-stats] [data-field=round_trips]')
      .then(() => check(true, 'backtests: the report is shown'), () => check(false, 'backtests: no report'));
    const stats = await page.$$eval('[data-testid=bt-stats] [data-field]', (es) => Object.fromEntries(es.map((e) => [e.dataset.field, e.textContent])));
    // sma_cross 5/20, qty 1, on the DAX closes: 106 signals, each filled at
    // the next close (test_event_time computes them), 53 round trips. The
    // 100,000 of cash buys one unit at any close; none may be refused,
    // however fast the replay ran and whatever else the platform did.
    check(stats.round_trips === '53' && stats.fills === '106', `backtests: round trips ${stats.round_trips} (want 53), fills ${stats.fills} (want 106)`);
    check(/^-?\d+\.\d+ %$/.test(stats.total_return || '') && /\d/.test(stats.sharpe || '') && /\d/.test(stats.max_drawdown || ''),
      `backtests: total return ${stats.total_return}, sharpe ${stats.sharpe}, max drawdown ${stats.max_drawdown}`);
    const missing = ['total_return', 'cagr', 'volatility', 'sharpe', 'sortino', 'calmar', 'max_drawdown', 'var_95', 'exposure',
      'buy_hold_return', 'fills', 'fees', 'round_trips', 'win_rate', 'avg_win', 'avg_loss', 'expectancy', 'profit_factor'].filter((k) => !(k in stats));
    check(missing.length === 0, `backtests: every statistic is shown ${missing.join(' ')}`);
    check(!!(await page.$('[data-testid=bt-equity-chart] canvas')) && !!(await page.$('[data-testid=bt-drawdown-chart] canvas')),
      'backtests: the equity and drawdown charts are drawn (uPlot canvases)');
    const trips = await page.$$eval('[data-testid=bt-trades] tbody tr:not(.empty)', (rs) => rs.length);
    check(trips === Math.min(20, Number(stats.round_trips)) || trips === Math.min(20, Number(stats.round_trips) + 1),
      `backtests: the round trips are listed (${trips} on the first page of ${stats.round_trips})`);
    await page.waitForSelector(`[data-testid=backtests] tr[data-backtest="${btId}"][data-status=done]`)
      .then(() => check(true, 'backtests: the list shows it done'), () => check(false, 'backtests: the list does not show it done'));

    // A paced run (a trading day a second) is canceled from the page once
    // it has begun; what it replayed keeps its report.
    await setField('[data-testid=bt-speed]', '86400');
    await page.$eval('[data-testid=bt-result]', (e) => { e.textContent = ''; });
    await page.click('[data-testid=bt-launch]');
    await page.waitForFunction(() => /Launched|Refused/.test(document.querySelector('[data-testid=bt-result]').textContent));
    r = await text(page, '[data-testid=bt-result]');
    const slow = /Launched (bt\d+)/.exec(r);
    check(!!slow, `backtests: a paced run launched (${r})`);
    if (slow) {
      await page.waitForFunction(() => /^[1-9]/.test((document.querySelector('[data-testid=bt-progress-text]') || {}).textContent || '') ||
        / [1-9]\d* of /.test((document.querySelector('[data-testid=bt-progress-text]') || {}).textContent || ''), { timeout: 60000 })
        .then(() => check(true, 'backtests: the paced run progresses'), async () => check(false, `backtests: no progress (${await text(page, '[data-testid=bt-detail]')})`));
      await page.click('[data-testid=bt-cancel]');
      await page.waitForSelector('#confirm[open]');
      await page.click('#confirm-ok');
      await page.waitForFunction(() => document.querySelector('[data-testid=bt-status]').textContent === 'canceled', { timeout: 30000 })
        .then(() => check(true, `backtests: ${slow[1]} canceled from the page`), async () => check(false, `backtests: not canceled (${await text(page, '[data-testid=bt-status]')})`));
      check(await page.$eval('[data-testid=bt-cancel]', (b) => b.hidden), 'backtests: Cancel is gone once it ended');
      await page.waitForSelector('[data-testid=bt-stats] [data-field=fills]')
        .then(() => check(true, 'backtests: the canceled run has its report'), () => check(false, 'backtests: no report of the canceled run'));
    }
  }

  // Launches the run the form describes and follows it on the page until
  // it ends; its id, or null (the checks say why).
  const launchRun = async (label) => {
    await page.$eval('[data-testid=bt-result]', (e) => { e.textContent = ''; });
    await page.click('[data-testid=bt-launch]');
    await page.waitForFunction(() => /Launched|Refused/.test(document.querySelector('[data-testid=bt-result]').textContent));
    const res = await text(page, '[data-testid=bt-result]');
    const m = /Launched (bt\d+)/.exec(res);
    check(!!m, `backtests: a ${label} run launched from the page (${res})`);
    if (!m) return null;
    await page.waitForFunction((id) => (document.querySelector('[data-testid=bt-detail] h2') || {}).textContent.includes(id), { timeout: WAIT }, m[1])
      .then(() => check(true, `backtests: the ${label} run is on show`), () => check(false, `backtests: the ${label} run is not on show`));
    const ended = await page.waitForFunction(() => {
      const s = document.querySelector('[data-testid=bt-status]');
      return s && s.textContent !== '' && s.textContent !== 'running';
    }, { timeout: 150000 }).then(() => true, () => false);
    const status = await text(page, '[data-testid=bt-status]');
    check(ended && status === 'done', `backtests: the ${label} run ${m[1]} ended ${status}`);
    return m;
  };

  // A csv run from the page: the EuStock file read by the browser from a
  // local file into the CSV field and sent in the request (data.csv), with
  // the run's own fee, minimum fee and slippage; its report shows them and
  // the fees its fills paid.
  await setField('[data-testid=bt-source]', 'csv');
  check(await page.$eval('[data-testid=bt-file]', (e) => e.disabled) &&
    await page.$eval('[data-testid=bt-source-file]', (e) => e.hidden) &&
    !(await page.$eval('[data-testid=bt-source-csv]', (e) => e.hidden)),
  'backtests: choosing csv shows its fields and sets the file aside');
  const csvInput = await page.$('[data-testid=bt-csv-file]');
  await csvInput.uploadFile(CSV_FILE);
  await page.waitForFunction(() => /bytes read/.test(document.querySelector('[data-testid=bt-csv-note]').textContent), { timeout: 10000 })
    .then(() => check(true, 'backtests: the local file is read in the browser'), () => check(false, 'backtests: the local file was not read'));
  check(await page.$eval('[data-testid=bt-csv]', (e) => e.value.startsWith('date,symbol,close') && e.value.length > 100000),
    'backtests: the CSV field holds the file');
  await setField('[data-testid=bt-format]', 'closes');
  await setField('[data-testid=bt-speed]', '0');
  await setField('[data-testid=bt-fee-bps]', '25');
  await setField('[data-testid=bt-fee-min]', '5');
  await setField('[data-testid=bt-slippage-bps]', '10');
  const cm = await launchRun('csv');
  if (cm) {
    const facts = await text(page, '[data-testid=bt-facts]');
    check(/"csv"/.test(facts), `backtests: the csv run's data is the request's csv (${facts.slice(0, 200)})`);
    await page.waitForSelector('[data-testid=bt-stats] [data-field=fee_bps]')
      .then(() => check(true, 'backtests: the csv run has its report'), () => check(false, 'backtests: no report of the csv run'));
    const cs = await page.$$eval('[data-testid=bt-stats] [data-field]', (es) => Object.fromEntries(es.map((e) => [e.dataset.field, e.textContent])));
    check(cs.fee_bps === '25' && cs.slippage_bps === '10' && Number(cs.fee_min) === 5,
      `backtests: the report shows the run's costs (fee ${cs.fee_bps} bp, minimum ${cs.fee_min}, slippage ${cs.slippage_bps} bp)`);
    check(Number(cs.fees) >= 5 * Number(cs.fills) && Number(cs.fills) > 10,
      `backtests: every fill paid at least the minimum fee (${cs.fees} for ${cs.fills} fills)`);
  }

  // A bars run from the page: the DAX closes imported into historical-data
  // as 1d bars of a symbol of this run (POST /v1/bars/import), then
  // replayed from there (data.bars). Its report must show trades, and its
  // fills must be those of the bars' closes: each at a close of the file.
  const barSym = `UB${String(Date.now() % 1000000).padStart(6, '0')}`;
  const daxRows = readFileSync(CSV_FILE, 'utf8').split('\n').filter((l) => /^\d{4}-\d\d-\d\d,DAX,/.test(l));
  const closes = new Set(daxRows.map((l) => Number(l.split(',')[2])));
  const imp = await fetch(`${BASE}/v1/bars/import`, {
    method: 'POST',
    headers: { Authorization: `Bearer ${TRADER}`, 'Content-Type': 'text/csv' },
    body: 'date,symbol,close\n' + daxRows.map((l) => l.replace(',DAX,', `,${barSym},`)).join('\n') + '\n',
  });
  const impBody = await imp.json().catch(() => ({}));
  check(imp.status === 200 && Number(impBody.rows) === daxRows.length,
    `backtests: ${daxRows.length} DAX closes imported as 1d bars of ${barSym} (${imp.status} ${JSON.stringify(impBody).slice(0, 200)})`);
  await setField('[data-testid=bt-source]', 'bars');
  check(!(await page.$eval('[data-testid=bt-source-bars]', (e) => e.hidden)) &&
    await page.$eval('[data-testid=bt-source-csv]', (e) => e.hidden),
  'backtests: choosing bars shows its fields');
  await setField('[data-testid=bt-bars-interval]', '1d');
  await setField('[data-testid=bt-bars-from]', '1991-01-01');
  await setField('[data-testid=bt-bars-to]', '1999-01-01');
  await setField('[data-testid=bt-symbols]', barSym);
  await setField('[data-testid=bt-fee-bps]', '0');
  await setField('[data-testid=bt-fee-min]', '0');
  await setField('[data-testid=bt-slippage-bps]', '0');
  const barm = await launchRun('bars');
  if (barm) {
    const facts = await text(page, '[data-testid=bt-facts]');
    check(/"bars"/.test(facts) && facts.includes('1991-01-01'), `backtests: the bars run's data is historical-data's bars (${facts.slice(0, 200)})`);
    await page.waitForSelector('[data-testid=bt-stats] [data-field=round_trips]')
      .then(() => check(true, 'backtests: the bars run has its report'), () => check(false, 'backtests: no report of the bars run'));
    const bs = await page.$$eval('[data-testid=bt-stats] [data-field]', (es) => Object.fromEntries(es.map((e) => [e.dataset.field, e.textContent])));
    // The same closes as the file run, as 1d bars: the same 53 round trips.
    check(bs.round_trips === '53' && bs.fills === '106', `backtests: the bars run traded (round trips ${bs.round_trips}, want 53; fills ${bs.fills}, want 106)`);
    const rep = await fetch(`${BASE}/v1/backtests/${barm[1]}/report`, { headers: { Authorization: `Bearer ${TRADER}` } })
      .then((x) => x.json()).catch(() => ({}));
    const prices = (rep.trades || []).flatMap((t) => [Number(t.entry_price), Number(t.exit_price)]).filter((p) => p > 0);
    check(prices.length > 10 && prices.every((p) => closes.has(p)),
      `backtests: every trade of the bars run is at a DAX close of the file (${prices.length} prices, ${prices.filter((p) => !closes.has(p)).slice(0, 3).join(' ')})`);
  }

  await shots(page, 'trader', btId);

  // The API explorer (Swagger UI) in the same tab uses the signed-in key:
  // GET /v1/me tried from the page answers 200 with the trader's role.
  await page.goto(`${BASE}/explorer.html`, { waitUntil: 'load' });
  await page.waitForSelector('[data-path="/v1/me"]', { timeout: 30000 });
  await page.evaluate(() => document.querySelector('[data-path="/v1/me"]').closest('.opblock')
    .querySelector('.opblock-summary-control').click());
  await page.waitForSelector('.opblock.is-open .execute');
  await page.click('.opblock.is-open .execute');
  await page.waitForFunction(() => {
    const t = document.querySelector('.opblock.is-open .live-responses-table');
    return t && [...t.querySelectorAll('.response-col_status')].some((e) => e.textContent.trim() === '200') &&
      t.textContent.includes('"trader"');
  }).then(() => check(true, 'explorer: GET /v1/me tried from the page with the key: 200 trader'),
    () => check(false, 'explorer: GET /v1/me did not answer 200'));
  const ecsp = await page.evaluate(() => window.__csp);
  check(ecsp.length === 0, `explorer: no CSP violations ${ecsp.join('; ')}`);
  if (SHOTS) await page.screenshot({ path: `${SHOTS}/trader-explorer-desktop.png` });
  await page.goto(`${BASE}/#/overview`, { waitUntil: 'load' });
  await page.waitForFunction(() => document.querySelector('[data-testid=role]').textContent === 'trader');
  const csp = await page.evaluate(() => window.__csp);
  check(csp.length === 0, `no CSP violations ${csp.join('; ')}`);
  // Sign out clears the key.
  await page.click('#signout');
  check(await page.evaluate(() => sessionStorage.length === 0), 'sign out forgets the key');
  await page.close();
} catch (e) {
  check(false, `unexpected: ${e.stack || e}`);
} finally {
  await browser.close();
}

check(problems.length === 0, `no console errors ${problems.join(' | ')}`);
clearTimeout(deadline);
console.log(failures ? `${failures} check(s) failed` : 'all checks passed');
process.exit(failures ? 1 : 0);
