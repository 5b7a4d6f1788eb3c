// Backtests: launch a run (or a grid of runs) on a replay file, a CSV
// pasted or read from a local file in the browser, or historical-data's
// bars, with the run's own fees and slippage; follow its progress, cancel
// it, and read its report: every statistic, the costs, the equity and
// drawdown charts and the round trips.
//
// The live stream carries no backtest state, so the run on show is read
// once a second while it runs (never faster), and the list every 5 s while
// one of its runs is running; nothing is read once every run has ended.
import { api, can, session } from './api.js';
import {
  h, clear, table, field, select, loading, errorBox, describe, fmtTime, dec, toast, formValues,
  confirmAction,
} from './dom.js';
import { paged } from './paged.js';
import { backtestCharts } from './charts.js';

const KINDS = ['sma_cross', 'ema_cross', 'rsi', 'bollinger', 'donchian'];
const RANK_BY = ['sharpe', 'sortino', 'calmar', 'cagr', 'total_return', 'profit_factor', 'win_rate', 'expectancy', 'max_drawdown'];
const POLL_MS = 1000; // the run on show, while it runs
const LIST_MS = 5000; // the list, while one of its runs runs
// Replay files that ship with tradebus (data/): suggestions only, since
// the API does not list market-data's MD_REPLAY_DIR.
const BUNDLED = ['eustock_daily.csv'];

// The report's statistics in the order shown: [field, label, how].
// how: pct (a fraction shown as %), ratio, money (exact decimal string),
// count, time, text. Fields the report has beyond these follow as text.
const STATS = [
  ['total_return', 'Total return', 'pct'], ['cagr', 'CAGR', 'pct'], ['volatility', 'Volatility', 'pct'],
  ['sharpe', 'Sharpe', 'ratio'], ['sortino', 'Sortino', 'ratio'], ['calmar', 'Calmar', 'ratio'],
  ['max_drawdown', 'Max drawdown', 'pct'], ['drawdown_peak', 'Drawdown peak', 'time'],
  ['drawdown_trough', 'Drawdown trough', 'time'], ['drawdown_recovery', 'Recovered', 'time'],
  ['var_95', 'VaR 95 % (1 day)', 'pct'], ['exposure', 'Exposure', 'pct'], ['buy_hold_return', 'Buy and hold', 'pct'],
  ['final_equity', 'Final equity', 'money'], ['pnl', 'P&L', 'money'], ['fills', 'Fills', 'count'],
  ['round_trips', 'Round trips', 'count'], ['win_rate', 'Win rate', 'pct'], ['avg_win', 'Average win', 'money'],
  ['avg_loss', 'Average loss', 'money'], ['expectancy', 'Expectancy', 'money'],
  ['profit_factor', 'Profit factor', 'ratio'], ['fees', 'Fees', 'money'], ['fee_bps', 'Fee (bp)', 'count'],
  ['fee_min', 'Minimum fee', 'money'], ['slippage_bps', 'Slippage (bp)', 'count'], ['returns', 'Returns counted', 'count'],
  ['interval', 'Return period', 'text'], ['from', 'From', 'time'], ['to', 'To', 'time'], ['account', 'Run account', 'text'],
];
// Report fields shown elsewhere than among the statistics (its equity is
// the curve, not performance's latest equity: that is the curve's last
// point, shown as final_equity).
const NOT_STATS = new Set(['backtest_id', 'status', 'symbols', 'trades', 'equity', 'null_reasons']);

function statText(v, how) {
  if (v === null || v === undefined || v === '') return '—';
  if (how === 'pct' && typeof v === 'number') return `${(v * 100).toFixed(2)} %`;
  if (how === 'time') return fmtTime(v);
  if (typeof v === 'object') return JSON.stringify(v);
  return String(v);
}

function statusBadge(status, testid) {
  return h('span', { class: `badge bt-${status}`, 'data-testid': testid }, status || '');
}

function progressOf(b) {
  const p = typeof b.progress === 'number' ? Math.max(0, Math.min(1, b.progress)) : 0;
  return { p, pct: `${Math.floor(p * 100)} %` };
}

function progressCell(b) {
  const { p, pct } = progressOf(b);
  return h('span', { class: 'progress' },
    h('progress', { max: '1', value: String(p), 'aria-label': `progress of ${b.backtest_id}` }), ` ${pct}`);
}

// Text of a JSON object the API gives back (params, grid, data) as it is.
function jsonText(v) {
  if (v === null || v === undefined || v === '') return '';
  return typeof v === 'string' ? v : JSON.stringify(v);
}

// A JSON object from a form field, or a clear error naming the field.
function jsonObject(text, name) {
  let v;
  try { v = JSON.parse(text); } catch (e) { throw new Error(`${name}: not valid JSON (${e.message})`); }
  if (!v || typeof v !== 'object' || Array.isArray(v)) throw new Error(`${name}: must be a JSON object`);
  return v;
}

// A list held in the page (the report's round trips), shown a page at a time.
function localPaged(items, headers, row, opts) {
  const per = opts.per || 20;
  const box = h('div', { class: 'paged' });
  let page = 0;
  function draw() {
    const pages = Math.max(1, Math.ceil(items.length / per));
    const prev = h('button', { type: 'button', disabled: page === 0, onclick: () => { page--; draw(); } }, 'Previous');
    const next = h('button', { type: 'button', disabled: page >= pages - 1, onclick: () => { page++; draw(); } }, 'Next');
    clear(box, table(headers, items.slice(page * per, (page + 1) * per).map(row), opts),
      items.length > per ? h('div', { class: 'pager' }, prev, h('span', { class: 'muted' }, `page ${page + 1} of ${pages}`), next) : null);
  }
  draw();
  return box;
}

const SOURCES = [['file', 'a file of market-data'], ['csv', 'CSV text or a local file'], ['bars', 'bars of historical-data']];
const INTERVALS = ['1s', '1m', '5m', '1h', '1d'];
// A local file larger than this is not read: the gateway takes at most
// 1 MiB a request (BACKTEST_CSV_MAX may be smaller; the run says so).
const CSV_READ_MAX = 1024 * 1024;

// The inputs of one data source; only the chosen source's are sent
// (formValues skips disabled inputs).
function sourceGroup(name, ...fields) {
  return h('div', { class: 'bt-source', 'data-source': name, 'data-testid': `bt-source-${name}` }, fields);
}

function showSource(groups, chosen) {
  for (const g of groups) {
    const on = g.dataset.source === chosen;
    g.hidden = !on;
    for (const el of g.querySelectorAll('input, textarea, select')) el.disabled = !on;
  }
}

// A whole number of basis points from a form field, or a clear error.
function bps(text, name) {
  if (!/^[0-9]+$/.test(text)) throw new Error(`${name}: a whole number of basis points, 0 or more`);
  return Number(text);
}

function launchForm(ctx, trader, onLaunched) {
  const out = h('p', { role: 'status', 'data-testid': 'bt-result' });
  const account = ctx.accountSelect('account');
  account.dataset.testid = 'bt-account';
  // A key limited to accounts must name one; an unlimited key may name none.
  if (session.me && !session.me.accounts.length) account.prepend(h('option', { value: '' }, '(none)'));
  const kind = select('kind', KINDS, 'sma_cross');
  kind.dataset.testid = 'bt-kind';
  const format = select('format', [['', 'from the file\'s header'], 'ticks', 'closes'], '');
  format.dataset.testid = 'bt-format';
  const rank = select('rank_by', RANK_BY, 'sharpe');
  const grid = h('textarea', { name: 'grid', rows: 2, spellcheck: 'false', placeholder: '{"fast":[5,10],"slow":[20,50]}', 'data-testid': 'bt-grid' });
  const source = select('source', SOURCES, 'file');
  source.dataset.testid = 'bt-source';
  const csvText = h('textarea', { name: 'data_csv', rows: 4, required: true, spellcheck: 'false', placeholder: 'date,symbol,close\n1991-07-01,DAX,1628.75', 'data-testid': 'bt-csv' });
  const csvFile = h('input', { type: 'file', accept: '.csv,text/csv,text/plain', 'data-testid': 'bt-csv-file' });
  const csvNote = h('small', { class: 'muted', role: 'status', 'data-testid': 'bt-csv-note' });
  // Read here, in the browser: the text goes into the request as data.csv.
  csvFile.addEventListener('change', () => {
    const f = csvFile.files && csvFile.files[0];
    if (!f) return;
    if (f.size > CSV_READ_MAX) {
      clear(csvNote, `${f.name}: ${f.size} bytes, more than a request takes (1 MiB)`);
      return;
    }
    const rd = new FileReader();
    rd.onload = () => { csvText.value = String(rd.result); clear(csvNote, `${f.name}: ${f.size} bytes read`); };
    rd.onerror = () => clear(csvNote, `${f.name}: cannot be read`);
    rd.readAsText(f);
  });
  const interval = select('bars_interval', INTERVALS, '1d');
  interval.dataset.testid = 'bt-bars-interval';
  const groups = [
    sourceGroup('file',
      field('Data file', h('input', { name: 'data_file', required: true, list: 'bt-files', value: BUNDLED[0], spellcheck: 'false', 'data-testid': 'bt-file' }),
        'a CSV in market-data\'s MD_REPLAY_DIR'),
      h('datalist', { id: 'bt-files' }, BUNDLED.map((f) => h('option', { value: f })))),
    sourceGroup('csv',
      field('CSV', csvText, 'pasted, or read from a local file below'),
      field('Local file', csvFile),
      csvNote),
    sourceGroup('bars',
      field('Bar interval', interval, 'each bar\'s close at its end is one event'),
      field('From', h('input', { name: 'bars_from', required: true, placeholder: '1991-01-01', spellcheck: 'false', 'data-testid': 'bt-bars-from' }),
        'YYYY-MM-DD or RFC 3339, inclusive'),
      field('To', h('input', { name: 'bars_to', required: true, placeholder: '1999-01-01', spellcheck: 'false', 'data-testid': 'bt-bars-to' }),
        'exclusive')),
  ];
  const form = h('form', { class: 'grid-form', 'data-testid': 'bt-form' },
    h('fieldset', { disabled: !trader },
      h('legend', {}, trader ? 'Launch a backtest' : 'Launch a backtest (this key may not: trader and admin keys may)'),
      field('Account', account, 'the run belongs to it'),
      field('Data', source),
      groups,
      field('Format', format, 'bars are closes'),
      field('Symbols', h('input', { name: 'symbols', required: true, value: 'DAX', spellcheck: 'false', 'data-testid': 'bt-symbols' }),
        '1 to 8, comma-separated: one strategy each'),
      field('Strategy', kind),
      field('Parameters (JSON)', h('textarea', { name: 'params', rows: 2, spellcheck: 'false', 'data-testid': 'bt-params' }, '{"fast":5,"slow":20}')),
      field('Sizing', select('sizing', ['fixed', 'target'], 'fixed')),
      field('Quantity', h('input', { name: 'qty', inputmode: 'decimal', value: '1' })),
      field('Initial cash', h('input', { name: 'initial_cash', inputmode: 'decimal', value: '100000', 'data-testid': 'bt-cash' })),
      field('Speed', h('input', { name: 'speed', type: 'number', min: '0', step: '1', value: '0', 'data-testid': 'bt-speed' }),
        '0: as fast as the chain goes; N: N times the data\'s time'),
      field('Grid (JSON, optional)', grid, 'one run per combination of these parameter lists'),
      field('Rank a grid by', rank),
      field('Fee (bp)', h('input', { name: 'fee_bps', type: 'number', min: '0', max: '1000', step: '1', placeholder: '0', 'data-testid': 'bt-fee-bps' }),
        'per fill, basis points of the notional (0..1000); none: no fee'),
      field('Minimum fee', h('input', { name: 'fee_min', inputmode: 'decimal', placeholder: '0', 'data-testid': 'bt-fee-min' }),
        'per fill, decimal (0..1000000)'),
      field('Slippage (bp)', h('input', { name: 'slippage_bps', type: 'number', min: '0', max: '1000', step: '1', placeholder: '0', 'data-testid': 'bt-slippage-bps' }),
        'market orders, against the trader (0..1000); none: no slippage'),
      h('button', { type: 'submit', 'data-testid': 'bt-launch' }, 'Launch')),
    out);
  const syncRank = () => { rank.disabled = grid.value.trim() === ''; };
  grid.addEventListener('input', syncRank);
  syncRank();
  source.addEventListener('change', () => showSource(groups, source.value));
  showSource(groups, source.value);
  form.addEventListener('submit', async (ev) => {
    ev.preventDefault();
    out.className = '';
    clear(out, 'Sending…');
    try {
      const v = formValues(form);
      let data;
      if (v.source === 'csv') data = { csv: csvText.value };
      else if (v.source === 'bars') data = { bars: { interval: v.bars_interval, from: v.bars_from, to: v.bars_to } };
      else data = { file: v.data_file };
      const body = { kind: v.kind, symbols: v.symbols, data, sizing: v.sizing };
      for (const k of ['account', 'format', 'qty', 'initial_cash', 'rank_by', 'fee_min']) if (v[k] !== undefined) body[k] = v[k];
      for (const k of ['fee_bps', 'slippage_bps']) if (v[k] !== undefined) body[k] = bps(v[k], k);
      if (v.params !== undefined) body.params = jsonObject(v.params, 'parameters');
      if (v.grid !== undefined) body.grid = jsonObject(v.grid, 'grid');
      if (v.speed !== undefined) {
        if (!/^[0-9]+$/.test(v.speed)) throw new Error('speed: a whole number, 0 or more');
        body.speed = Number(v.speed);
      }
      const b = await api('POST', '/v1/backtests', body);
      out.className = 'ok';
      clear(out, `Launched ${b.backtest_id} (${b.status})`);
      onLaunched(b.backtest_id);
    } catch (e) {
      out.className = 'error';
      clear(out, `Refused: ${describe(e)}`);
    }
  });
  return form;
}

// The run's request and state as a definition list.
function facts(b) {
  const rows = [
    ['strategy', b.kind], ['parameters', jsonText(b.params)], ['sizing', b.sizing ? `${b.sizing} ${dec(b.qty)}` : ''],
    ['symbols', jsonText(b.symbols)], ['data', jsonText(b.data)], ['format', b.format], ['speed', b.speed],
    ['initial cash', b.initial_cash], ['fee (bp)', b.fee_bps], ['minimum fee', b.fee_min],
    ['slippage (bp)', b.slippage_bps], ['grid', jsonText(b.grid)], ['ranked by', b.rank_by], ['runs', b.runs],
    ['account', b.account], ['run account', b.run_account], ['strategies', b.strategy_ids], ['grid run', b.parent_id],
    ['created', fmtTime(b.created_at)], ['started', fmtTime(b.started_at)], ['finished', fmtTime(b.finished_at)],
  ].filter(([, v]) => v !== undefined && v !== null && v !== '');
  return h('dl', { class: 'stats facts', 'data-testid': 'bt-facts' },
    rows.map(([k, v]) => [h('dt', {}, k), h('dd', {}, String(v))]));
}

// Every statistic of the report as cards; nulls say why below them.
function statistics(report) {
  const points = Array.isArray(report.equity) ? report.equity : [];
  const r = { ...report };
  if (points.length) r.final_equity = points[points.length - 1].equity;
  const known = new Set(STATS.map(([k]) => k));
  const extra = Object.keys(r).filter((k) => !known.has(k) && !NOT_STATS.has(k)).map((k) => [k, k.replace(/_/g, ' '), 'text']);
  const card = ([k, label, how]) => h('div', { class: 'stat' }, h('span', { class: 'muted' }, label),
    h('strong', { 'data-field': k, title: r[k] === null || r[k] === undefined ? null : String(r[k]) }, statText(r[k], how)));
  return h('div', {},
    h('div', { class: 'cards', 'data-testid': 'bt-stats' }, [...STATS.filter(([k]) => k in r), ...extra].map(card)),
    r.null_reasons ? h('p', { class: 'muted', 'data-testid': 'bt-null-reasons' }, `No value (—): ${r.null_reasons}`) : null);
}

const TRADE_HEADERS = ['symbol', 'side', 'qty', 'entry', 'entry price', 'exit', 'exit price', 'P&L', 'fees', 'net P&L'];
const tradeRow = (t) => h('tr', {},
  h('td', {}, t.symbol), h('td', {}, t.side), h('td', { class: 'num' }, dec(t.qty)),
  h('td', {}, fmtTime(t.entry_ts)), h('td', { class: 'num' }, dec(t.entry_price)),
  h('td', {}, t.exit_ts ? fmtTime(t.exit_ts) : 'open'), h('td', { class: 'num' }, dec(t.exit_price)),
  h('td', { class: 'num' }, dec(t.pnl)), h('td', { class: 'num' }, dec(t.fees)), h('td', { class: 'num' }, dec(t.net_pnl)));

export function backtests(root, ctx) {
  const trader = can('trader');
  const detail = h('section', { class: 'card', 'data-testid': 'bt-detail' },
    h('h2', {}, 'Run'), h('p', { class: 'muted' }, 'Open a run to follow its progress and read its report.'));
  let listTimer = null;
  let shown = null; // {id, timer} of the run on show; replaced on every show()
  const statusFilter = select('status', [['', 'any'], 'running', 'done', 'failed', 'canceled'], '');
  statusFilter.setAttribute('aria-label', 'status');
  const list = paged({
    path: '/v1/backtests', params: () => ({ status: statusFilter.value }), testid: 'backtests', empty: 'No backtests yet.',
    headers: ['run', 'created', 'strategy', 'symbols', 'status', 'progress', 'message', ''],
    row: (b) => h('tr', { 'data-backtest': b.backtest_id, 'data-status': b.status },
      h('td', {}, b.backtest_id), h('td', {}, fmtTime(b.created_at)),
      h('td', {}, b.kind, b.runs ? h('span', { class: 'muted' }, ` grid of ${b.runs}`) : null),
      h('td', {}, jsonText(b.symbols)), h('td', {}, statusBadge(b.status)), h('td', {}, progressCell(b)),
      h('td', { class: 'msg' }, b.message || ''),
      h('td', { class: 'actions' },
        h('button', { type: 'button', class: 'small', 'data-testid': 'bt-open', onclick: () => show(b.backtest_id, true) }, 'Open'),
        b.status === 'running' ? h('button', { type: 'button', class: 'small danger', disabled: !trader,
          onclick: () => cancel(b.backtest_id) }, 'Cancel') : null)),
    // Read again while a run on this page runs.
    onLoad: (items) => {
      clearTimeout(listTimer);
      if (items && items.some((b) => b.status === 'running')) listTimer = setTimeout(() => list.refresh(), LIST_MS);
    },
  });
  statusFilter.addEventListener('change', () => list.reload());

  async function cancel(id) {
    if (!(await confirmAction(`Cancel backtest ${id}? What it replayed so far keeps its report.`, 'Cancel run'))) return;
    try {
      await api('DELETE', `/v1/backtests/${encodeURIComponent(id)}`);
      toast(`Backtest ${id} canceled`);
    } catch (e) { toast(`Cancel refused: ${describe(e)}`, true); }
    list.refresh();
    if (shown && shown.id === id) show(id);
  }

  function stopShown() {
    if (shown) clearTimeout(shown.timer);
    shown = null;
  }

  // Shows run id: its state read once a second while it runs, then (a
  // single run, not a grid) its report.
  function show(id, focus) {
    stopShown();
    const me = { id, timer: null };
    shown = me;
    // The run is in the address, so a reload or a shared link opens it.
    history.replaceState(null, '', `#/backtests?id=${encodeURIComponent(id)}`);
    const badge = statusBadge('', 'bt-status');
    const bar = h('progress', { max: '1', value: '0', 'aria-label': `progress of ${id}`, 'data-testid': 'bt-progress' });
    const barText = h('span', { 'data-testid': 'bt-progress-text' });
    const cancelBtn = h('button', { type: 'button', class: 'danger', hidden: true, disabled: !trader,
      'data-testid': 'bt-cancel', onclick: () => cancel(id) }, 'Cancel run');
    const state = h('div', {}, loading());
    const children = h('div', {});
    const report = h('div', { 'data-testid': 'bt-report' });
    let childrenKey = '';
    let reportFor = '';
    const heading = h('h2', { tabindex: '-1' }, `Run ${id} `, badge);
    clear(detail, heading,
      h('div', { class: 'row' }, h('span', { class: 'progress' }, bar, ' ', barText), cancelBtn),
      state, children, report);
    async function poll() {
      let b;
      try {
        b = await api('GET', `/v1/backtests/${encodeURIComponent(id)}`);
      } catch (e) {
        if (shown !== me) return;
        // A run that is not there (or not this key's) stays so; a stopped
        // analytics or gateway shows as an error and is read again.
        if (e.status >= 400 && e.status < 500 && e.status !== 429) { clear(state, errorBox(e)); return; }
        clear(state, errorBox(e), h('p', { class: 'muted' }, 'Trying again in 5 s.'));
        me.timer = setTimeout(poll, LIST_MS);
        return;
      }
      if (shown !== me) return;
      clear(badge, b.status || '');
      badge.className = `badge bt-${b.status}`;
      const { p, pct } = progressOf(b);
      bar.value = p;
      barText.textContent = `${pct}${b.total_events ? ` · ${b.events || 0} of ${b.total_events} ticks` : ''}`;
      cancelBtn.hidden = b.status !== 'running';
      clear(state, b.message ? h('p', { class: b.status === 'failed' ? 'error' : 'muted', 'data-testid': 'bt-message' }, b.message) : null, facts(b));
      if (Array.isArray(b.children)) {
        // Redrawn only when something changed, so focus stays put.
        const key = JSON.stringify(b.children);
        if (key !== childrenKey) {
          childrenKey = key;
          clear(children, h('h3', {}, `Runs of the grid, ranked by ${b.rank_by || 'sharpe'}`),
            table(['rank', 'run', 'parameters', 'status', 'progress', 'score', ''], b.children.map((c) => h('tr', { 'data-backtest': c.backtest_id },
              h('td', {}, c.rank === undefined || c.rank === null ? '' : String(c.rank)), h('td', {}, c.backtest_id),
              h('td', {}, jsonText(c.params)), h('td', {}, statusBadge(c.status)), h('td', {}, progressCell(c)),
              h('td', { class: 'num' }, c.score === undefined || c.score === null ? '—' : String(c.score)),
              h('td', {}, h('button', { type: 'button', class: 'small', onclick: () => show(c.backtest_id, true) }, 'Open')))),
            { testid: 'bt-children', empty: 'No runs.' }));
        }
      }
      if (b.status === 'running') {
        me.timer = setTimeout(poll, POLL_MS);
        if (b.run_account && !reportFor) clear(report, h('p', { class: 'muted' }, 'The report is shown when the run ends.'));
        return;
      }
      list.refresh();
      if (b.run_account && reportFor !== b.status) {
        reportFor = b.status;
        loadReport(id, report, me);
      }
    }
    if (focus) heading.focus();
    poll();
  }

  async function loadReport(id, box, me) {
    clear(box, h('h3', {}, 'Report'), loading());
    let r;
    try {
      r = await api('GET', `/v1/backtests/${encodeURIComponent(id)}/report`);
    } catch (e) {
      if (shown !== me) return;
      clear(box, h('h3', {}, 'Report'), errorBox(e),
        h('button', { type: 'button', onclick: () => loadReport(id, box, me) }, 'Retry'));
      return;
    }
    if (shown !== me) return;
    const eqEl = h('div', { class: 'chart', 'data-testid': 'bt-equity-chart' });
    const ddEl = h('div', { class: 'chart', 'data-testid': 'bt-drawdown-chart' });
    const points = Array.isArray(r.equity) ? r.equity : [];
    const trades = Array.isArray(r.trades) ? r.trades : [];
    clear(box, h('h3', {}, `Report${r.symbols ? ` · ${jsonText(r.symbols)}` : ''}`), statistics(r),
      h('h3', {}, 'Equity and drawdown'), eqEl, ddEl,
      h('h3', {}, `Round trips (${trades.length})`),
      localPaged(trades, TRADE_HEADERS, tradeRow, { testid: 'bt-trades', empty: 'No round trips.' }));
    // Drawn once in the page, so the charts take the width they have.
    if (points.length < 2) eqEl.append(h('p', { class: 'muted' }, 'Not enough equity points for a chart.'));
    else backtestCharts(eqEl, ddEl, points);
  }

  clear(root, h('h1', {}, 'Backtests'),
    h('section', { class: 'card' }, launchForm(ctx, trader, (id) => { list.reload(); show(id, false); })),
    h('section', { class: 'card' }, h('h2', {}, 'Runs'), h('div', { class: 'filters' }, field('Status', statusFilter)), list),
    detail);
  const m = /[?&]id=([^&]+)/.exec(location.hash);
  if (m) show(decodeURIComponent(m[1]));
  return () => { stopShown(); clearTimeout(listTimer); };
}
