// DOM helpers. Every value from the API reaches the page as a text node or
// an attribute value set through the DOM, never as HTML, so nothing the API
// returns (a strategy named "<img onerror=...>") can run as markup.

export function h(tag, attrs, ...children) {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === null || v === undefined || v === false) continue;
    if (k.startsWith('on') && typeof v === 'function') el.addEventListener(k.slice(2), v);
    else if (k === 'class') el.className = v;
    else if (k === 'dataset') Object.assign(el.dataset, v);
    // An input's value attribute is its default: form.reset() returns to it.
    else if (k === 'value' && tag !== 'input') el.value = v;
    else el.setAttribute(k, v === true ? '' : String(v));
  }
  append(el, children);
  return el;
}

function append(el, children) {
  for (const c of children.flat(Infinity)) {
    if (c === null || c === undefined || c === false) continue;
    el.append(c instanceof Node ? c : document.createTextNode(String(c)));
  }
}

export function clear(el, ...children) {
  el.replaceChildren();
  append(el, children);
  return el;
}

// A table with a header row; rows is a list of arrays of cells (text or
// nodes); empty shows a placeholder row.
export function table(headers, rows, opts = {}) {
  const body = h('tbody', {}, rows.length
    ? rows.map((r) => (r instanceof Node ? r : h('tr', {}, r.map((c) => h('td', {}, c)))))
    : h('tr', { class: 'empty' }, h('td', { colspan: headers.length }, opts.empty || 'Nothing yet.')));
  return h('div', { class: 'table-wrap' },
    h('table', { 'data-testid': opts.testid },
      h('thead', {}, h('tr', {}, headers.map((t) => h('th', { scope: 'col' }, t)))), body));
}

export function field(label, input, hint) {
  const id = input.id || `f-${Math.random().toString(36).slice(2)}`;
  input.id = id;
  return h('div', { class: 'field' }, h('label', { for: id }, label), input,
    hint ? h('small', { class: 'muted' }, hint) : null);
}

export function select(name, options, value) {
  return h('select', { name }, options.map((o) => {
    const [v, t] = Array.isArray(o) ? o : [o, o];
    const opt = h('option', { value: v }, t);
    if (v === value) opt.selected = true;
    return opt;
  }));
}

export function loading() {
  return h('p', { class: 'muted loading' }, 'Loading…');
}

export function errorBox(err) {
  return h('p', { class: 'error', role: 'alert' }, describe(err));
}

export function describe(err) {
  if (err && err.status === 0) return `the gateway cannot be reached (${err.message})`;
  if (err && err.code) return `${err.status} ${err.code}: ${err.message}`;
  return String(err && err.message ? err.message : err);
}

export function fmtTime(ts) {
  if (!ts) return '';
  const d = new Date(ts);
  return Number.isNaN(d.getTime()) ? String(ts) : d.toISOString().replace('T', ' ').slice(0, 19);
}

// Decimals arrive as exact strings; they are shown as they are.
export function dec(v) {
  return v === null || v === undefined || v === '' ? '—' : String(v);
}

export function toast(text, isError) {
  const t = document.getElementById('toast');
  t.textContent = text;
  t.className = isError ? 'toast error' : 'toast';
  t.hidden = false;
  clearTimeout(toast.timer);
  toast.timer = setTimeout(() => { t.hidden = true; }, 4000);
}

// A confirmation in the page (a <dialog>), not window.confirm.
export function confirmAction(text, okLabel) {
  const d = document.getElementById('confirm');
  document.getElementById('confirm-text').textContent = text;
  document.getElementById('confirm-ok').textContent = okLabel || 'Confirm';
  return new Promise((resolve) => {
    d.addEventListener('close', () => resolve(d.returnValue === 'ok'), { once: true });
    d.returnValue = '';
    d.showModal();
  });
}

// The form's named values, empty strings left out.
export function formValues(form) {
  const out = {};
  for (const el of form.elements) {
    if (!el.name || el.disabled) continue;
    if (el.type === 'checkbox') out[el.name] = el.checked;
    else if (el.value.trim() !== '') out[el.name] = el.value.trim();
  }
  return out;
}
