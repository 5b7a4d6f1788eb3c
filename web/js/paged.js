// A list read page by page with the API's cursors ({items, next}), with
// loading, empty and error states and Previous / Next buttons.
import { api, qs } from './api.js';
import { h, clear, table, loading, errorBox } from './dom.js';

// path: the list route; params: its filters (a function, read on every
// load); headers and row(item) -> cells; testid names the table; onLoad
// (optional) gets each page's items.
export function paged({ path, params, headers, row, testid, limit = 20, empty, onLoad }) {
  const box = h('div', { class: 'paged' });
  const cursors = ['']; // the cursor of each page seen, for Previous
  let page = 0;
  // quiet: read the same page again without showing "Loading…" first, so
  // a list refreshed on a timer does not flicker.
  async function load(quiet) {
    if (quiet !== true) clear(box, loading());
    let r;
    try {
      r = await api('GET', path + qs({ ...(params ? params() : {}), limit, cursor: cursors[page] }));
    } catch (e) {
      clear(box, errorBox(e), h('button', { type: 'button', onclick: load }, 'Retry'));
      if (onLoad) onLoad(null);
      return;
    }
    const items = r.items || [];
    cursors[page + 1] = r.next || null;
    const prev = h('button', { type: 'button', disabled: page === 0, onclick: () => { page--; load(); } }, 'Previous');
    const next = h('button', { type: 'button', disabled: !r.next, onclick: () => { page++; load(); } }, 'Next');
    clear(box, table(headers, items.map(row), { testid, empty }),
      h('div', { class: 'pager' }, prev, h('span', { class: 'muted' }, `page ${page + 1}`), next));
    if (onLoad) onLoad(items);
  }
  box.reload = () => { page = 0; cursors.length = 1; return load(); };
  box.refresh = () => load(true);
  load();
  return box;
}
