// The gateway's REST API and its live stream, with the signed-in key.
// The key lives in sessionStorage only: it is gone when the tab closes and
// is never put in a cookie or in the page's URL.

const KEY = 'tradebus.key';

export const session = {
  get key() { return sessionStorage.getItem(KEY) || ''; },
  set key(v) { if (v) sessionStorage.setItem(KEY, v); else sessionStorage.removeItem(KEY); },
  me: null, // {id, role, accounts: [..]} from GET /v1/me
};

const ROLES = ['viewer', 'trader', 'admin'];
export function can(role) {
  return !!session.me && ROLES.indexOf(session.me.role) >= ROLES.indexOf(role);
}

export class ApiError extends Error {
  constructor(status, code, message, field) {
    super(message);
    this.status = status;
    this.code = code;
    this.field = field;
  }
}

// One call; resolves with the JSON body (null for 204), rejects with an
// ApiError carrying the gateway's error code and message.
export async function api(method, path, body) {
  const headers = { Accept: 'application/json' };
  if (session.key) headers.Authorization = `Bearer ${session.key}`;
  if (body !== undefined) headers['Content-Type'] = 'application/json';
  let res;
  try {
    res = await fetch(path, {
      method, headers, body: body === undefined ? undefined : JSON.stringify(body),
      cache: 'no-store', credentials: 'omit',
    });
  } catch (e) {
    throw new ApiError(0, 'network', e.message || 'network error');
  }
  if (res.status === 204) return null;
  const text = await res.text();
  let json = null;
  try { json = text ? JSON.parse(text) : null; } catch (e) { json = null; }
  if (!res.ok && !(path.startsWith('/health') && json)) {
    const e = json && json.error ? json.error : {};
    throw new ApiError(res.status, e.code || 'http', e.message || res.statusText, e.field);
  }
  return json;
}

export function qs(params) {
  const p = new URLSearchParams();
  for (const [k, v] of Object.entries(params)) if (v !== undefined && v !== null && v !== '') p.set(k, v);
  const s = p.toString();
  return s ? `?${s}` : '';
}

// The live stream (/v1/stream). Subscriptions are kept here and sent again
// after a reconnect; handlers get each event's data by topic.
export class Stream {
  constructor(onState) {
    this.onState = onState;
    this.subs = new Map(); // "topic|account|symbol" -> frame
    this.handlers = new Set();
    this.ws = null;
    this.closed = false;
    this.retry = 1000;
    this.nextId = 1;
  }

  connect() {
    if (this.closed || !session.key) return;
    const proto = location.protocol === 'https:' ? 'wss:' : 'ws:';
    // Browsers cannot set headers on a WebSocket: the gateway takes the key
    // as ?api_key= on the upgrade (never on the page's own URL).
    const ws = new WebSocket(`${proto}//${location.host}/v1/stream?api_key=${encodeURIComponent(session.key)}`);
    this.ws = ws;
    this.onState('connecting');
    ws.addEventListener('open', () => {
      this.retry = 1000;
      this.onState('live');
      for (const f of this.subs.values()) this.send(f);
    });
    ws.addEventListener('message', (m) => {
      let f;
      try { f = JSON.parse(m.data); } catch (e) { return; }
      if (f.type === 'event') for (const fn of this.handlers) fn(f.topic, f.data);
      else if (f.type === 'error') console.warn('stream:', f.error && f.error.message);
    });
    ws.addEventListener('close', () => {
      if (this.ws !== ws) return;
      this.ws = null;
      this.onState('offline');
      if (this.closed) return;
      // Back off up to 30 s: never faster than once a second.
      setTimeout(() => this.connect(), this.retry);
      this.retry = Math.min(this.retry * 2, 30000);
    });
  }

  send(frame) {
    if (this.ws && this.ws.readyState === WebSocket.OPEN) this.ws.send(JSON.stringify(frame));
  }

  subscribe(topic, opts) {
    const frame = { op: 'subscribe', topic, ...opts, id: String(this.nextId++) };
    const key = `${topic}|${opts.account || ''}|${(opts.symbols || []).join(',')}`;
    if (this.subs.has(key)) return;
    this.subs.set(key, frame);
    this.send(frame);
  }

  on(fn) { this.handlers.add(fn); return () => this.handlers.delete(fn); }

  close() {
    this.closed = true;
    this.subs.clear();
    this.handlers.clear();
    if (this.ws) this.ws.close(1000);
    this.ws = null;
  }
}
