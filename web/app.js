// tradebus web UI: sign-in, the page router and what every page shares
// (the key's role and accounts, the selected account, the live stream).
import { api, session, can, Stream } from './js/api.js';
import { h, clear, describe } from './js/dom.js';
import { overview, account, orders, markets } from './js/views_main.js';
import { strategies, risk, alerts } from './js/views_more.js';
import { backtests } from './js/views_backtests.js';

const pages = { overview, account, orders, markets, strategies, backtests, risk, alerts };
const $ = (id) => document.getElementById(id);

const ctx = {
  stream: null,
  accounts: [], // [{account, ...}] this key may see
  account: '', // the selected one
  // A select of the key's accounts that changes the selected account.
  accountPicker() {
    const s = this.accountSelect('account-picker');
    s.setAttribute('aria-label', 'account');
    s.addEventListener('change', () => { this.account = s.value; sessionStorage.setItem('tradebus.account', s.value); route(); });
    return s;
  },
  // A select of the key's accounts for a form field.
  accountSelect(name) {
    return h('select', { name, 'data-testid': name === 'account' ? 'account-field' : name },
      this.accounts.map((a) => {
        const o = h('option', { value: a.account }, a.account);
        if (a.account === this.account) o.selected = true;
        return o;
      }));
  },
};

let cleanup = null;

function route() {
  if (cleanup) { cleanup(); cleanup = null; }
  const name = (location.hash.replace(/^#\/?/, '') || 'overview').split('?')[0];
  const page = pages[name] ? name : 'overview';
  for (const a of $('nav').querySelectorAll('a')) {
    if (a.getAttribute('href') === `#/${page}`) a.setAttribute('aria-current', 'page');
    else a.removeAttribute('aria-current');
  }
  const view = $('view');
  view.dataset.page = page;
  try {
    cleanup = pages[page](view, ctx) || null;
  } catch (e) {
    clear(view, h('p', { class: 'error' }, `This page failed: ${describe(e)}`));
  }
  view.focus({ preventScroll: true });
}

async function signIn(key) {
  session.key = key;
  const me = await api('GET', '/v1/me');
  session.me = { ...me, accounts: me.accounts ? me.accounts.split(',') : [] };
  const list = await api('GET', '/v1/accounts?limit=200');
  ctx.accounts = list.items || [];
  const remembered = sessionStorage.getItem('tradebus.account');
  ctx.account = ctx.accounts.some((a) => a.account === remembered) ? remembered
    : (ctx.accounts[0] ? ctx.accounts[0].account : '');
  $('who-role').textContent = me.role;
  $('who-role').className = `badge role-${me.role}`;
  $('who-accounts').textContent = session.me.accounts.length ? session.me.accounts.join(', ') : 'every account';
  document.body.dataset.role = me.role;
  document.body.classList.toggle('read-only', !can('trader'));
  ctx.stream = new Stream((state) => {
    $('stream-state').textContent = state;
    $('stream-state').className = `badge stream-${state}`;
  });
  // Admin keys without accounts stream every account; others name theirs.
  const scoped = session.me.accounts.length ? session.me.accounts : [undefined];
  for (const topic of ['orders', 'fills', 'positions', 'alerts'])
    for (const a of scoped) ctx.stream.subscribe(topic, a ? { account: a } : {});
  ctx.stream.connect();
  $('signin').hidden = true;
  $('view').hidden = false;
  $('nav').hidden = false;
  $('who').hidden = false;
  route();
}

function signOut() {
  if (cleanup) { cleanup(); cleanup = null; }
  if (ctx.stream) ctx.stream.close();
  ctx.stream = null;
  session.key = '';
  session.me = null;
  sessionStorage.removeItem('tradebus.account');
  $('signin').hidden = false;
  $('view').hidden = true;
  $('nav').hidden = true;
  $('who').hidden = true;
  clear($('view'));
  $('signin-key').value = '';
  $('signin-key').focus();
}

$('signin-form').addEventListener('submit', async (ev) => {
  ev.preventDefault();
  $('signin-error').textContent = '';
  try {
    await signIn($('signin-key').value.trim());
  } catch (e) {
    session.key = '';
    $('signin-error').textContent = e.status === 401 ? 'This key is not valid.' : describe(e);
  }
});
$('signout').addEventListener('click', signOut);
window.addEventListener('hashchange', () => { if (session.me) route(); });
$('view').setAttribute('tabindex', '-1');

if (session.key) {
  signIn(session.key).catch(() => signOut());
}
