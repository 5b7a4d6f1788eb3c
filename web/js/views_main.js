// Overview, Account, Orders and Markets.
import { api, qs, can } from './api.js';
import {
  h, clear, table, field, select, loading, errorBox, describe, fmtTime, dec, toast, formValues,
} from './dom.js';
import { paged } from './paged.js';
import { equityChart, priceChart } from './charts.js';

// ---------------------------------------------------------------- overview --

// Prometheus text -> {name: [{labels, value}]} for the few families shown.
function parseMetrics(text) {
  const out = {};
  for (const line of text.split('\n')) {
    const m = /^([a-z_]+)(\{[^}]*\})?\s+([0-9.eE+-]+)/.exec(line);
    if (!m) continue;
    const labels = {};
    for (const l of (m[2] || '').slice(1, -1).split(/,(?=[a-z_]+=")/)) {
      const kv = /^([a-z_]+)="(.*)"$/.exec(l);
      if (kv) labels[kv[1]] = kv[2];
    }
    (out[m[1]] = out[m[1]] || []).push({ labels, value: Number(m[3]) });
  }
  return out;
}

const sum = (fam, pred) => (fam || []).filter((s) => !pred || pred(s.labels)).reduce((a, s) => a + s.value, 0);

async function metricsText() {
  const res = await fetch('/metrics', { cache: 'no-store', credentials: 'omit' });
  if (!res.ok) throw new Error(`/metrics: ${res.status}`);
  return res.text();
}

function uptime(started) {
  const s = (Date.now() - Date.parse(started)) / 1000;
  if (!Number.isFinite(s)) return '';
  if (s < 120) return `${Math.round(s)} s`;
  if (s < 7200) return `${Math.round(s / 60)} min`;
  return `${(s / 3600).toFixed(1)} h`;
}

export function overview(root, ctx) {
  const health = h('div', {}, loading());
  const rates = h('div', {}, loading());
  const kills = h('div', {}, loading());
  clear(root, h('h1', {}, 'Overview'),
    h('section', { class: 'card' }, h('h2', {}, 'Services'), health),
    h('section', { class: 'card' }, h('h2', {}, 'Activity'), rates),
    h('section', { class: 'card' }, h('h2', {}, 'Kill switches'), kills));
  let last = null;
  async function refresh() {
    try {
      const [all, svcs] = await Promise.all([api('GET', '/health/all'), api('GET', '/services')]);
      const started = {};
      for (const i of svcs.instances || []) started[i.id] = i.started;
      const rows = (all.services || []).map((s) => h('tr', { 'data-service': s.name, class: `st-${s.status}` },
        h('td', {}, s.name),
        h('td', {}, h('span', { class: `badge st-${s.status}`, 'data-testid': 'service-status' }, s.status)),
        h('td', {}, `${s.healthy}/${s.instances}`),
        h('td', {}, (s.details || []).map((d) => h('div', { class: 'inst' },
          `${d.id} v${d.version} ${d.status}`, started[d.id] ? ` · up ${uptime(started[d.id])}` : ''))),
      ));
      clear(health, h('p', {}, 'Platform: ', h('strong', { 'data-testid': 'platform-status' }, all.status || '')),
        table(['service', 'status', 'healthy', 'instances'], rows, { testid: 'services' }));
    } catch (e) { clear(health, errorBox(e)); }
    try {
      const m = parseMetrics(await metricsText());
      const now = { t: Date.now(), ticks: sum(m.tb_hist_ticks_total),
        orders: sum(m.tb_exec_orders_total, (l) => l.status === 'accepted'),
        fills: sum(m.tb_exec_fills_total) };
      const rej = {};
      for (const s of m.tb_risk_rejections_total || []) rej[s.labels.reason] = (rej[s.labels.reason] || 0) + s.value;
      const dt = last ? (now.t - last.t) / 1000 : 0;
      const rate = (k, per) => (dt > 0 ? ((now[k] - last[k]) / dt * per).toFixed(1) : '…');
      last = now;
      clear(rates, h('dl', { class: 'stats' },
        h('dt', {}, 'ticks/s'), h('dd', {}, rate('ticks', 1)),
        h('dt', {}, 'orders/min'), h('dd', {}, rate('orders', 60)),
        h('dt', {}, 'fills/min'), h('dd', {}, rate('fills', 60))),
      table(['rejection reason', 'count'], Object.entries(rej).map(([k, v]) => [k, String(v)]),
        { empty: 'No rejections.' }));
    } catch (e) { clear(rates, errorBox(e)); }
    try {
      const rows = [];
      // At most 20 accounts: one read each, every 5 s.
      for (const a of ctx.accounts.slice(0, 20)) {
        const l = await api('GET', `/v1/risk/limits/${encodeURIComponent(a.account)}`);
        rows.push([a.account, l.kill_switch ? h('span', { class: 'badge st-down' }, 'engaged') : h('span', { class: 'badge st-ok' }, 'off')]);
      }
      clear(kills, table(['account', 'kill switch'], rows, { empty: 'No accounts.' }));
    } catch (e) { clear(kills, errorBox(e)); }
  }
  refresh();
  const timer = setInterval(refresh, 5000);
  return () => clearInterval(timer);
}

// ----------------------------------------------------------------- account --

export function account(root, ctx) {
  const acct = ctx.account;
  if (!acct) { clear(root, h('h1', {}, 'Account'), h('p', { class: 'muted' }, 'This key has no account.')); return null; }
  const cards = h('div', { class: 'cards', 'data-testid': 'account-cards' }, loading());
  const positions = h('div', {}, loading());
  const chart = h('div', { class: 'chart' });
  const name = h('span', { class: 'muted', 'data-testid': 'account-name' });
  clear(root, h('h1', {}, 'Account ', ctx.accountPicker(), name),
    cards,
    h('section', { class: 'card' }, h('h2', {}, 'Positions'), positions),
    h('section', { class: 'card' }, h('h2', {}, 'Equity'), chart));
  const pos = new Map();
  function drawPositions() {
    const rows = [...pos.values()].sort((a, b) => a.symbol.localeCompare(b.symbol)).map((p) => h('tr', { 'data-symbol': p.symbol },
      h('td', {}, p.symbol), h('td', { class: 'num' }, dec(p.qty)), h('td', { class: 'num' }, dec(p.avg_cost)),
      h('td', { class: 'num' }, dec(p.last_price)), h('td', { class: 'num' }, dec(p.unrealized_pnl)),
      h('td', { class: 'num' }, dec(p.realized_pnl)), h('td', {}, fmtTime(p.ts))));
    clear(positions, table(['symbol', 'qty', 'avg cost', 'last', 'unrealized', 'realized', 'updated'], rows,
      { testid: 'positions', empty: 'No positions.' }));
  }
  async function loadAccount() {
    try {
      const a = await api('GET', `/v1/accounts/${encodeURIComponent(acct)}`);
      name.textContent = a.name || '';
      const card = (k, label) => h('div', { class: 'stat' }, h('span', { class: 'muted' }, label), h('strong', { 'data-field': k }, dec(a[k])));
      clear(cards, card('cash', 'Cash'), card('equity', 'Equity'), card('realized_pnl', 'Realized P&L'),
        card('unrealized_pnl', 'Unrealized P&L'), card('fees', 'Fees'));
    } catch (e) { clear(cards, errorBox(e)); }
  }
  async function loadPositions() {
    try {
      const r = await api('GET', `/v1/positions${qs({ account: acct, limit: 200 })}`);
      pos.clear();
      for (const p of r.items || []) pos.set(p.symbol, p);
      drawPositions();
    } catch (e) { clear(positions, errorBox(e)); }
  }
  async function loadEquity() {
    try {
      const r = await api('GET', `/v1/analytics/${encodeURIComponent(acct)}/equity${qs({ limit: 1000 })}`);
      clear(chart);
      if (!r.items || r.items.length < 2) chart.append(h('p', { class: 'muted' }, 'Not enough equity points yet.'));
      else equityChart(chart, r.items);
    } catch (e) { clear(chart, errorBox(e)); }
  }
  loadAccount(); loadPositions(); loadEquity();
  // Live: positions from the stream; the account's totals are read again
  // at most once a second after a change.
  let pending = null;
  const off = ctx.stream.on((topic, d) => {
    if (d.account !== acct) return;
    if (topic === 'positions') { pos.set(d.symbol, { ...(pos.get(d.symbol) || {}), ...d }); drawPositions(); }
    if ((topic === 'positions' || topic === 'fills') && !pending) pending = setTimeout(() => { pending = null; loadAccount(); }, 1000);
  });
  return () => { off(); clearTimeout(pending); };
}

// ------------------------------------------------------------------ orders --

const TYPES = ['market', 'limit', 'stop', 'stop_limit', 'trailing_stop'];
const TIFS = ['day', 'gtc', 'gtd', 'ioc', 'fok'];

function ticket(ctx, onPlaced) {
  const trader = can('trader');
  const limit = h('input', { name: 'limit_price', inputmode: 'decimal', 'data-testid': 'ticket-limit' });
  const stop = h('input', { name: 'stop_price', inputmode: 'decimal', 'data-testid': 'ticket-stop' });
  const type = select('type', TYPES, 'market');
  type.dataset.testid = 'ticket-type';
  const tif = select('tif', TIFS, 'day');
  tif.dataset.testid = 'ticket-tif';
  const expire = h('input', { name: 'expire_at', type: 'datetime-local', step: 1, 'data-testid': 'ticket-expire' });
  const trailAmount = h('input', { name: 'trail_amount', inputmode: 'decimal', 'data-testid': 'ticket-trail-amount' });
  const trailBps = h('input', { name: 'trail_bps', inputmode: 'numeric', pattern: '[0-9]{1,4}', 'data-testid': 'ticket-trail-bps' });
  const offset = h('input', { name: 'limit_offset', inputmode: 'decimal', 'data-testid': 'ticket-limit-offset' });
  const result = h('p', { 'data-testid': 'ticket-result', role: 'status' });
  const symbol = h('input', { name: 'symbol', required: true, pattern: '[A-Za-z0-9_\\-]{1,32}', value: ctx.symbol || 'DAX', 'data-testid': 'ticket-symbol' });
  const form = h('form', { class: 'ticket', 'data-testid': 'ticket' },
    h('fieldset', { disabled: !trader },
      h('legend', {}, trader ? 'Order ticket' : 'Order ticket (this key may not trade)'),
      field('Account', ctx.accountSelect('account')),
      field('Symbol', symbol),
      field('Side', (() => { const s = select('side', [['buy', 'Buy'], ['sell', 'Sell']], 'buy'); s.dataset.testid = 'ticket-side'; return s; })()),
      field('Type', type),
      field('Quantity', h('input', { name: 'qty', required: true, inputmode: 'decimal', 'data-testid': 'ticket-qty' })),
      field('Limit price', limit), field('Stop price', stop),
      field('Trail amount', trailAmount, 'trailing_stop: the stop follows the best price at this distance (or give basis points)'),
      field('Trail (bps)', trailBps, 'trailing_stop: the distance in basis points of the best price, 1–9999'),
      field('Limit offset', offset, 'trailing_stop, optional: once triggered, a limit this far beyond the stop instead of a market order'),
      field('Time in force', tif),
      field('Expires at', expire, 'gtd: the order expires at the first tick of the symbol at or after this time'),
      field('Client order id', h('input', { name: 'client_order_id', maxlength: 63 }), 'optional: a retry with the same id is not a second order'),
      h('label', { class: 'check' }, h('input', { type: 'checkbox', name: 'reduce_only' }), ' reduce only'),
      h('button', { type: 'submit', 'data-testid': 'ticket-submit' }, 'Place order')),
    result);
  const sync = () => {
    limit.disabled = !['limit', 'stop_limit'].includes(type.value);
    stop.disabled = !['stop', 'stop_limit'].includes(type.value);
    expire.disabled = tif.value !== 'gtd';
    for (const el of [trailAmount, trailBps, offset]) el.disabled = type.value !== 'trailing_stop';
  };
  type.addEventListener('change', sync);
  tif.addEventListener('change', sync);
  sync();
  form.addEventListener('submit', async (ev) => {
    ev.preventDefault();
    const body = formValues(form);
    if (!body.reduce_only) delete body.reduce_only;
    if (body.expire_at) body.expire_at = new Date(body.expire_at).toISOString(); /* local time in the form */
    if (body.trail_bps && /^[0-9]+$/.test(body.trail_bps)) body.trail_bps = Number(body.trail_bps); /* an integer field */
    clear(result, 'Sending…');
    result.className = '';
    try {
      const o = await api('POST', '/v1/orders', body);
      result.className = o.status === 'rejected' ? 'error' : 'ok';
      clear(result, `Order ${o.order_id}: ${o.status}`, o.reason ? ` — ${o.reason}` : '');
      onPlaced();
    } catch (e) {
      result.className = 'error';
      clear(result, `Refused: ${describe(e)}`);
    }
  });
  return form;
}

function orderRow(o, onCancel) {
  const open = ['new', 'accepted', 'partially_filled'].includes(o.status);
  return h('tr', { 'data-order': o.order_id, 'data-status': o.status },
    h('td', {}, fmtTime(o.created_at)), h('td', {}, o.symbol), h('td', {}, o.side), h('td', {}, o.type),
    h('td', { class: 'num' }, dec(o.qty)), h('td', { class: 'num' }, dec(o.limit_price || o.stop_price || o.trail_stop)),
    h('td', {}, o.tif), h('td', {}, h('span', { class: `badge o-${o.status}` }, o.status)),
    h('td', { class: 'num' }, dec(o.filled_qty)), h('td', {}, o.reason || ''),
    h('td', {}, open && onCancel ? h('button', { type: 'button', class: 'small', disabled: !can('trader'),
      'data-testid': 'cancel', onclick: () => onCancel(o) }, 'Cancel') : ''));
}
const ORDER_HEADERS = ['created', 'symbol', 'side', 'type', 'qty', 'price', 'tif', 'status', 'filled', 'reason', ''];

export function orders(root, ctx) {
  const open = h('div', {}, loading());
  let history;
  let fills;
  async function cancel(o) {
    try {
      await api('DELETE', `/v1/orders/${encodeURIComponent(o.order_id)}`);
      toast(`Order ${o.order_id} canceled`);
    } catch (e) { toast(`Cancel refused: ${describe(e)}`, true); }
    loadOpen();
  }
  async function loadOpen() {
    try {
      const r = await api('GET', `/v1/orders${qs({ account: ctx.account, status: 'open', limit: 100 })}`);
      clear(open, table(ORDER_HEADERS, (r.items || []).map((o) => orderRow(o, cancel)), { testid: 'open-orders', empty: 'No open orders.' }));
    } catch (e) { clear(open, errorBox(e)); }
  }
  const filter = h('form', { class: 'filters' },
    field('Symbol', h('input', { name: 'symbol', pattern: '[A-Za-z0-9_\\-]{0,32}' })),
    field('Status', select('status', [['', 'any'], 'open', 'closed', 'filled', 'canceled', 'rejected', 'expired'], '')),
    h('button', { type: 'submit' }, 'Filter'));
  const params = () => ({ account: ctx.account, ...formValues(filter) });
  history = paged({ path: '/v1/orders', params, headers: ORDER_HEADERS, row: (o) => orderRow(o, null), testid: 'order-history' });
  fills = paged({ path: '/v1/fills', params: () => ({ account: ctx.account, symbol: formValues(filter).symbol }),
    headers: ['time', 'symbol', 'side', 'qty', 'price', 'fee', 'order'], testid: 'fills',
    row: (f) => [fmtTime(f.ts), f.symbol, f.side, dec(f.qty), dec(f.price), dec(f.fee), f.order_id] });
  filter.addEventListener('submit', (ev) => { ev.preventDefault(); history.reload(); fills.reload(); });
  const refreshAll = () => { loadOpen(); history.reload(); };
  clear(root, h('h1', {}, 'Orders ', ctx.accountPicker()),
    h('div', { class: 'split' }, h('section', { class: 'card' }, ticket(ctx, refreshAll)),
      h('section', { class: 'card grow' }, h('h2', {}, 'Open orders'), open)),
    h('section', { class: 'card' }, h('h2', {}, 'History'), filter, history),
    h('section', { class: 'card' }, h('h2', {}, 'Fills'), fills));
  loadOpen();
  // Events only mark what to read again; the reads happen at most once a
  // second, whatever the event rate.
  let pending = null;
  let fillsChanged = false;
  const off = ctx.stream.on((topic, d) => {
    if (d.account !== ctx.account || (topic !== 'orders' && topic !== 'fills')) return;
    fillsChanged = fillsChanged || topic === 'fills';
    if (!pending) {
      pending = setTimeout(() => {
        pending = null;
        loadOpen();
        if (fillsChanged) fills.reload();
        fillsChanged = false;
      }, 1000);
    }
  });
  return () => { off(); clearTimeout(pending); };
}

// ----------------------------------------------------------------- markets --

export function markets(root, ctx) {
  const quotes = h('div', {}, loading());
  const chart = h('div', { class: 'chart' });
  const symSel = h('select', { name: 'symbol', 'data-testid': 'chart-symbol' });
  const ivSel = select('interval', ['1s', '1m', '5m', '1h', '1d'], '1m');
  ivSel.dataset.testid = 'chart-interval';
  const rows = new Map();
  clear(root, h('h1', {}, 'Markets'),
    h('section', { class: 'card' }, h('h2', {}, 'Quotes (live)'), quotes),
    h('section', { class: 'card' }, h('h2', {}, 'Price'),
      h('div', { class: 'row' }, field('Symbol', symSel), field('Interval', ivSel)), chart));
  function quoteRow(t) {
    return h('tr', { 'data-symbol': t.symbol },
      h('td', {}, t.symbol), h('td', { class: 'num', 'data-field': 'bid' }, dec(t.bid)), h('td', { class: 'num', 'data-field': 'ask' }, dec(t.ask)),
      h('td', { class: 'num', 'data-field': 'last' }, dec(t.last)), h('td', { 'data-field': 'ts' }, fmtTime(t.ts)),
      h('td', { 'data-field': 'seq' }, String(t.seq)));
  }
  async function loadQuotes() {
    try {
      // Every symbol (market-data's default page holds 1,000); the live
      // subscription takes at most 64, so the freshest quotes get it.
      const r = await api('GET', '/v1/market/symbols');
      const items = r.items || [];
      const live = items.slice().sort((a, b) => (a.ts < b.ts) - (a.ts > b.ts)).slice(0, 64);
      for (const t of items) rows.set(t.symbol, quoteRow(t));
      clear(quotes, table(['symbol', 'bid', 'ask', 'last', 'time', 'seq'], [...rows.values()], { testid: 'quotes', empty: 'No symbols yet.' }));
      clear(symSel, items.map((t) => h('option', { value: t.symbol }, t.symbol)));
      if (live.length) ctx.stream.subscribe('quotes', { symbols: live.map((t) => t.symbol) });
      loadChart();
    } catch (e) { clear(quotes, errorBox(e)); }
  }
  async function loadChart() {
    const symbol = symSel.value;
    if (!symbol) return;
    clear(chart, loading());
    try {
      const [bars, fills] = await Promise.all([
        api('GET', `/v1/bars${qs({ symbol, interval: ivSel.value, limit: 500 })}`),
        ctx.account ? api('GET', `/v1/fills${qs({ account: ctx.account, symbol, limit: 200 })}`) : { items: [] },
      ]);
      clear(chart);
      const b = bars.items || [];
      if (b.length < 2) chart.append(h('p', { class: 'muted' }, `No ${ivSel.value} bars of ${symbol} yet.`));
      else priceChart(chart, b, fills.items || [], `${symbol} ${ivSel.value}`);
    } catch (e) { clear(chart, errorBox(e)); }
  }
  symSel.addEventListener('change', loadChart);
  ivSel.addEventListener('change', loadChart);
  loadQuotes();
  const off = ctx.stream.on((topic, t) => {
    if (topic !== 'quotes') return;
    const old = rows.get(t.symbol);
    if (!old) return;
    const fresh = quoteRow(t);
    fresh.classList.add('flash');
    old.replaceWith(fresh);
    rows.set(t.symbol, fresh);
  });
  return off;
}
