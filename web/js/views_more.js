// Strategies, Risk, and Alerts and webhooks.
import { api, qs, can } from './api.js';
import {
  h, clear, table, field, select, loading, errorBox, describe, fmtTime, dec, toast, formValues,
  confirmAction,
} from './dom.js';
import { paged } from './paged.js';

const KINDS = ['sma_cross', 'ema_cross', 'rsi', 'bollinger', 'donchian'];

// Submits form's values through fn, showing the outcome in out.
function submitter(form, out, fn) {
  form.addEventListener('submit', async (ev) => {
    ev.preventDefault();
    out.className = '';
    clear(out, 'Sending…');
    try {
      clear(out, await fn(formValues(form)));
      out.className = 'ok';
    } catch (e) {
      out.className = 'error';
      clear(out, describe(e));
    }
  });
}

// -------------------------------------------------------------- strategies --

export function strategies(root, ctx) {
  const list = h('div', {}, loading());
  const trader = can('trader');
  const out = h('p', { role: 'status', 'data-testid': 'strategy-result' });
  const form = h('form', { class: 'grid-form', 'data-testid': 'strategy-form' },
    h('fieldset', { disabled: !trader }, h('legend', {}, 'New strategy'),
      field('Id', h('input', { name: 'strategy_id', required: true, maxlength: 63, 'data-testid': 'strategy-id' })),
      field('Kind', select('kind', KINDS, 'sma_cross')),
      field('Account', ctx.accountSelect('account')),
      field('Symbol', h('input', { name: 'symbol', required: true, value: 'DAX' })),
      field('Sizing', select('sizing', ['fixed', 'target'], 'fixed')),
      field('Quantity', h('input', { name: 'qty', inputmode: 'decimal', value: '1' })),
      field('Parameters (JSON)', h('textarea', { name: 'params', rows: 2, spellcheck: 'false' }, '{"fast":10,"slow":30}')),
      h('label', { class: 'check' }, h('input', { type: 'checkbox', name: 'enabled' }), ' enabled'),
      h('button', { type: 'submit' }, 'Create')), out);
  submitter(form, out, async (v) => {
    const s = await api('POST', '/v1/strategies', v);
    load();
    return `Created ${s.strategy_id}`;
  });
  async function update(s, patch) {
    try {
      await api('PUT', `/v1/strategies/${encodeURIComponent(s.strategy_id)}`, {
        kind: s.kind, symbol: s.symbol, account: s.account, sizing: s.sizing, qty: s.qty,
        params: s.params, enabled: !!s.enabled, ...patch,
      });
      toast(`Strategy ${s.strategy_id} saved`);
    } catch (e) { toast(describe(e), true); }
    load();
  }
  async function remove(s) {
    if (!(await confirmAction(`Delete strategy ${s.strategy_id}?`, 'Delete'))) return;
    try { await api('DELETE', `/v1/strategies/${encodeURIComponent(s.strategy_id)}`); } catch (e) { toast(describe(e), true); }
    load();
  }
  function row(s) {
    const params = h('input', { value: s.params || '', 'aria-label': `parameters of ${s.strategy_id}`, disabled: !trader, class: 'wide' });
    return h('tr', { 'data-strategy': s.strategy_id },
      h('td', { 'data-testid': 'strategy-name' }, s.strategy_id), h('td', {}, s.kind), h('td', {}, s.account), h('td', {}, s.symbol),
      h('td', {}, `${s.sizing} ${dec(s.qty)}`), h('td', {}, params),
      h('td', {}, s.enabled ? 'enabled' : 'disabled'),
      h('td', { class: 'actions' },
        h('button', { type: 'button', class: 'small', disabled: !trader, onclick: () => update(s, { params: params.value }) }, 'Save'),
        h('button', { type: 'button', class: 'small', disabled: !trader, onclick: () => update(s, { enabled: !s.enabled }) }, s.enabled ? 'Disable' : 'Enable'),
        h('button', { type: 'button', class: 'small danger', disabled: !trader, onclick: () => remove(s) }, 'Delete')));
  }
  async function load() {
    try {
      const r = await api('GET', `/v1/strategies${qs({ limit: 100 })}`);
      clear(list, table(['id', 'kind', 'account', 'symbol', 'size', 'parameters', 'state', ''], (r.items || []).map(row), { testid: 'strategies', empty: 'No strategies.' }));
    } catch (e) { clear(list, errorBox(e)); }
  }
  const signals = paged({ path: '/v1/signals', params: () => ({ account: ctx.account }), testid: 'signals',
    headers: ['time', 'strategy', 'symbol', 'side', 'qty / target', 'ref price', 'reason'],
    row: (s) => [fmtTime(s.ts), s.strategy_id, s.symbol, s.side, dec(s.qty || s.target), dec(s.ref_price), s.reason || ''] });
  clear(root, h('h1', {}, 'Strategies'), h('section', { class: 'card' }, form),
    h('section', { class: 'card' }, h('h2', {}, 'Strategies'), list),
    h('section', { class: 'card' }, h('h2', {}, 'Recent signals'), signals));
  load();
  return null;
}

// -------------------------------------------------------------------- risk --

const LIMITS = ['max_order_qty', 'max_order_notional', 'max_position_qty', 'max_gross_exposure', 'daily_loss_limit',
  'max_orders_per_sec', 'max_open_orders', 'price_collar_bps', 'min_qty', 'lot_size', 'restricted_symbols',
  'initial_margin_bps'];
const INTEGER = ['max_orders_per_sec', 'max_open_orders', 'price_collar_bps', 'initial_margin_bps'];

export function risk(root, ctx) {
  const acct = ctx.account;
  const admin = can('admin');
  const limits = h('div', {}, loading());
  const ks = h('div', {});
  const rejections = paged({ path: '/v1/orders', params: () => ({ account: acct, status: 'rejected' }), testid: 'rejections',
    headers: ['time', 'symbol', 'side', 'qty', 'reason'], empty: 'No rejected orders.',
    row: (o) => [fmtTime(o.created_at), o.symbol, o.side, dec(o.qty), o.reason || ''] });
  clear(root, h('h1', {}, 'Risk ', ctx.accountPicker()),
    h('section', { class: 'card' }, h('h2', {}, 'Kill switch'), ks),
    h('section', { class: 'card' }, h('h2', {}, 'Limits'), limits),
    h('section', { class: 'card' }, h('h2', {}, 'Recent rejections'), rejections));
  if (!acct) { clear(limits, h('p', { class: 'muted' }, 'No account.')); return null; }
  async function kill(engaged, account) {
    const what = account ? `account ${account}` : 'the whole platform (global)';
    if (!(await confirmAction(`${engaged ? 'Engage' : 'Release'} the kill switch of ${what}?`, engaged ? 'Engage' : 'Release'))) return;
    try {
      const r = await api('POST', '/v1/risk/kill-switch', { account, engaged, reason: 'web UI' });
      toast(`Kill switch ${engaged ? 'engaged' : 'released'}${r.canceled ? `, ${r.canceled} orders canceled` : ''}`);
    } catch (e) { toast(describe(e), true); }
    load();
  }
  async function load() {
    let l;
    try { l = await api('GET', `/v1/risk/limits/${encodeURIComponent(acct)}`); } catch (e) { clear(limits, errorBox(e)); return; }
    clear(ks, h('p', {}, `Account ${acct}: `, h('strong', { 'data-testid': 'kill-state' }, l.kill_switch ? 'engaged' : 'off')),
      h('div', { class: 'row' },
        h('button', { type: 'button', class: 'danger', disabled: !can('trader') || l.kill_switch, 'data-testid': 'kill-engage', onclick: () => kill(true, acct) }, 'Engage'),
        h('button', { type: 'button', disabled: !admin || !l.kill_switch, 'data-testid': 'kill-release', onclick: () => kill(false, acct) }, 'Release'),
        admin ? h('button', { type: 'button', class: 'danger', onclick: () => kill(true, undefined) }, 'Engage global') : null,
        admin ? h('button', { type: 'button', onclick: () => kill(false, undefined) }, 'Release global') : null),
      h('p', { class: 'muted' }, 'Traders may engage their accounts\' switch; releasing and the global switch need an admin key.'));
    const out = h('p', { role: 'status' });
    const form = h('form', { class: 'grid-form', 'data-testid': 'limits-form' },
      h('fieldset', { disabled: !admin }, h('legend', {}, admin ? 'Limits (admin)' : 'Limits (read only: admin keys edit)'),
        LIMITS.map((k) => field(k.replace(/_/g, ' '), h('input', { name: k, value: l[k] === undefined ? '' : String(l[k]) }))),
        h('label', { class: 'check' }, h('input', { type: 'checkbox', name: 'reduce_only', checked: !!l.reduce_only }), ' reduce only'),
        h('button', { type: 'submit' }, 'Save limits')), out);
    submitter(form, out, async (v) => {
      for (const k of INTEGER) if (v[k] !== undefined) v[k] = Number(v[k]);
      await api('PUT', `/v1/risk/limits/${encodeURIComponent(acct)}`, { ...v, account: acct, kill_switch: !!l.kill_switch });
      return 'Saved.';
    });
    clear(limits, form);
  }
  load();
  return null;
}

// ------------------------------------------------------ alerts, webhooks --

const RULE_KINDS = ['fill', 'risk_reject', 'drawdown', 'price_above', 'price_below', 'position_limit'];

export function alerts(root, ctx) {
  const trader = can('trader');
  const rules = h('div', {}, loading());
  const hooks = h('div', {}, loading());
  const deliveries = h('div', {});
  const live = h('ul', { class: 'live', 'data-testid': 'live-alerts' });
  const recent = paged({ path: '/v1/alerts', params: () => ({ account: ctx.account }), testid: 'alerts',
    headers: ['time', 'severity', 'kind', 'account', 'symbol', 'message'],
    row: (a) => [fmtTime(a.ts), a.severity, a.kind, a.account || '', a.symbol || '', a.message] });
  const ruleOut = h('p', { role: 'status' });
  const ruleForm = h('form', { class: 'grid-form' }, h('fieldset', { disabled: !trader }, h('legend', {}, 'New rule'),
    field('Kind', select('kind', RULE_KINDS, 'fill')), field('Account', ctx.accountSelect('account')),
    field('Symbol', h('input', { name: 'symbol' })), field('Threshold', h('input', { name: 'threshold', inputmode: 'decimal' })),
    field('Severity', select('severity', ['info', 'warning', 'critical'], 'info')),
    h('button', { type: 'submit' }, 'Add rule')), ruleOut);
  submitter(ruleForm, ruleOut, async (v) => { await api('POST', '/v1/alerts/rules', { ...v, enabled: true }); loadRules(); return 'Rule added.'; });
  const hookOut = h('p', { role: 'status' });
  const hookForm = h('form', { class: 'grid-form' }, h('fieldset', { disabled: !trader }, h('legend', {}, 'New webhook'),
    field('URL', h('input', { name: 'url', type: 'url', required: true })), field('Account', ctx.accountSelect('account')),
    field('Events', h('input', { name: 'events', placeholder: 'fills,alerts' })),
    h('button', { type: 'submit' }, 'Add webhook')), hookOut);
  submitter(hookForm, hookOut, async (v) => {
    const w = await api('POST', '/v1/webhooks', v);
    loadHooks();
    return `Webhook ${w.id} added; its signing secret (shown once): ${w.secret || ''}`;
  });
  async function del(path, what) {
    if (!(await confirmAction(`Delete ${what}?`, 'Delete'))) return;
    try { await api('DELETE', path); } catch (e) { toast(describe(e), true); }
    loadRules(); loadHooks();
  }
  async function loadRules() {
    try {
      const r = await api('GET', `/v1/alerts/rules${qs({ account: ctx.account })}`);
      clear(rules, table(['kind', 'account', 'symbol', 'threshold', 'severity', ''], (r.items || []).map((x) => [x.kind, x.account || '', x.symbol || '', dec(x.threshold), x.severity || '',
        h('button', { type: 'button', class: 'small danger', disabled: !trader, onclick: () => del(`/v1/alerts/rules/${encodeURIComponent(x.rule_id)}`, `rule ${x.rule_id}`) }, 'Delete')]), { empty: 'No rules.' }));
    } catch (e) { clear(rules, errorBox(e)); }
  }
  function showDeliveries(w) {
    clear(deliveries, h('h3', {}, `Deliveries of ${w.id}`), paged({ path: `/v1/webhooks/${encodeURIComponent(w.id)}/deliveries`,
      headers: ['created', 'event', 'state', 'attempts', 'last status', 'last error'],
      row: (d) => [fmtTime(d.created_at), d.event_type || d.event_id, d.state, String(d.attempts || 0), String(d.last_status || ''), d.last_error || ''] }));
  }
  async function loadHooks() {
    try {
      const r = await api('GET', `/v1/webhooks${qs({ account: ctx.account })}`);
      clear(hooks, table(['url', 'account', 'events', 'active', ''], (r.items || []).map((w) => [w.url, w.account || '', w.events || '', w.active === false ? 'no' : 'yes',
        h('span', { class: 'actions' }, h('button', { type: 'button', class: 'small', onclick: () => showDeliveries(w) }, 'Deliveries'),
          h('button', { type: 'button', class: 'small danger', disabled: !trader, onclick: () => del(`/v1/webhooks/${encodeURIComponent(w.id)}`, `webhook ${w.url}`) }, 'Delete'))]), { empty: 'No webhooks.' }));
    } catch (e) { clear(hooks, errorBox(e)); }
  }
  clear(root, h('h1', {}, 'Alerts and webhooks'),
    h('section', { class: 'card' }, h('h2', {}, 'Live alerts'), live),
    h('section', { class: 'card' }, h('h2', {}, 'Recent alerts'), recent),
    h('section', { class: 'card' }, h('h2', {}, 'Rules'), ruleForm, rules),
    h('section', { class: 'card' }, h('h2', {}, 'Webhooks'), hookForm, hooks, deliveries));
  loadRules(); loadHooks();
  return ctx.stream.on((topic, a) => {
    if (topic !== 'alerts') return;
    live.prepend(h('li', { class: `sev-${a.severity}` }, `${fmtTime(a.ts)} ${a.severity} ${a.kind}: ${a.message}`));
    while (live.children.length > 50) live.lastChild.remove();
  });
}
