// Charts with the vendored uPlot (web/vendor, MIT): an equity curve with
// its drawdown, a price chart of bars with the account's fills marked, and
// a backtest's equity and drawdown as two charts.
import { h } from './dom.js';

function width(el) {
  return Math.max(280, Math.min(1100, (el.clientWidth || 800) - 8));
}

function noLib(el) {
  el.append(h('p', { class: 'error' }, 'The chart library did not load.'));
  return null;
}

const secs = (ts) => Date.parse(ts) / 1000;

export function equityChart(el, points) {
  if (!window.uPlot) return noLib(el);
  const xs = points.map((p) => secs(p.ts));
  const eq = points.map((p) => Number(p.equity));
  const dd = points.map((p) => (p.drawdown === null || p.drawdown === undefined ? null : -100 * p.drawdown));
  const opts = {
    width: width(el), height: 260, title: 'Equity and drawdown',
    series: [{}, { label: 'equity', stroke: '#2f6fde', width: 2 },
      { label: 'drawdown %', stroke: '#c0392b', scale: 'dd', width: 1 }],
    axes: [{}, { label: 'equity' }, { side: 1, scale: 'dd', label: 'drawdown %', grid: { show: false } }],
  };
  return new window.uPlot(opts, [xs, eq, dd], el);
}

// bars: [{start, open, high, low, close}], fills: [{ts, price, side}]
export function priceChart(el, bars, fills, title) {
  if (!window.uPlot) return noLib(el);
  const xs = bars.map((b) => secs(b.start));
  const close = bars.map((b) => Number(b.close));
  const high = bars.map((b) => Number(b.high));
  const low = bars.map((b) => Number(b.low));
  // Fills sit on the bar they fell in (uPlot shares one x axis).
  const buys = xs.map(() => null);
  const sells = xs.map(() => null);
  for (const f of fills) {
    const t = secs(f.ts);
    let i = xs.length - 1;
    while (i > 0 && xs[i] > t) i--;
    if (i < 0 || xs.length === 0) continue;
    (f.side === 'buy' ? buys : sells)[i] = Number(f.price);
  }
  const point = (stroke) => ({ show: true, size: 9, stroke, fill: stroke });
  const opts = {
    width: width(el), height: 300, title,
    series: [{},
      { label: 'close', stroke: '#2f6fde', width: 2 },
      { label: 'high', stroke: '#9bb7ea', width: 1 },
      { label: 'low', stroke: '#9bb7ea', width: 1 },
      { label: 'buy fills', stroke: '#1e8449', width: 0, points: point('#1e8449'), paths: () => null },
      { label: 'sell fills', stroke: '#c0392b', width: 0, points: point('#c0392b'), paths: () => null }],
  };
  return new window.uPlot(opts, [xs, close, high, low, buys, sells], el);
}

// A backtest's curve (points: [{ts, equity, drawdown}]): the equity in one
// chart, the drawdown (%, below zero) in another, so each has its own
// scale and both stay readable on a narrow screen.
export function backtestCharts(equityEl, drawdownEl, points) {
  if (!window.uPlot) return noLib(equityEl);
  const xs = points.map((p) => secs(p.ts));
  const num = (v) => (v === null || v === undefined ? null : Number(v));
  const eq = new window.uPlot({
    width: width(equityEl), height: 260, title: 'Equity',
    series: [{}, { label: 'equity', stroke: '#2f6fde', width: 2 }],
    axes: [{}, { label: 'equity', size: 70 }],
  }, [xs, points.map((p) => num(p.equity))], equityEl);
  const dd = new window.uPlot({
    width: width(drawdownEl), height: 180, title: 'Drawdown %',
    series: [{}, { label: 'drawdown %', stroke: '#c0392b', fill: 'rgba(192,57,43,0.15)', width: 1 }],
    axes: [{}, { label: '%', size: 70 }],
  }, [xs, points.map((p) => (p.drawdown === null || p.drawdown === undefined ? null : -100 * p.drawdown))], drawdownEl);
  return [eq, dd];
}
