// The cluster page: nodes (from their drives' endpoints), sets and drives with their state
// and capacity, the healer's and scanner's figures, and this node's request and traffic
// rates as small live charts, refreshed every few seconds while shown. Needs a key allowed
// admin:ServerInfo (and admin:Prometheus for the charts).

import { el, formatSize } from './dom.js';
import { cluster, traffic, explain } from './api.js';

export const REFRESH_MS = 3000;
const POINTS = 40;
const SVG = 'http://www.w3.org/2000/svg';

// A sparkline of `values` (an SVG polyline), labelled with the last value.
function chart(id, title, values, format) {
  const w = 240;
  const h = 48;
  const top = Math.max(...values, 1e-9);
  const svg = document.createElementNS(SVG, 'svg');
  svg.setAttribute('viewBox', `0 0 ${w} ${h}`);
  svg.setAttribute('width', String(w));
  svg.setAttribute('height', String(h));
  const line = document.createElementNS(SVG, 'polyline');
  const step = w / Math.max(POINTS - 1, 1);
  const offset = POINTS - values.length;
  line.setAttribute('points', values.map((v, i) =>
    `${((offset + i) * step).toFixed(1)},${(h - 2 - (v / top) * (h - 4)).toFixed(1)}`).join(' '));
  line.setAttribute('class', 'spark');
  svg.append(line);
  const last = values.length ? values[values.length - 1] : 0;
  return el('figure', { class: 'chart', id },
    el('figcaption', {}, `${title}: `, el('strong', { class: 'chart-value', text: format(last) })), svg);
}

// The node a drive endpoint names (`http://host:port/path`), or this node for a local path.
function nodeOf(endpoint) {
  const m = /^(https?:\/\/[^/]+)/.exec(endpoint);
  return m ? m[1] : 'this node';
}

// One row per node: how many of its drives are online; offline when none is.
function nodesTable(sets) {
  const nodes = new Map();
  for (const d of sets.flatMap((s) => s.drives)) {
    const n = nodes.get(nodeOf(d.endpoint)) || { online: 0, total: 0 };
    n.total += 1;
    if (d.state === 'online') n.online += 1;
    nodes.set(nodeOf(d.endpoint), n);
  }
  const state = (n) => (n.online === 0 ? 'offline' : n.online < n.total ? 'degraded' : 'online');
  return el('table', { id: 'cluster-nodes', class: 'drives' },
    el('thead', {}, el('tr', {}, el('th', { text: 'Node' }), el('th', { text: 'State' }),
      el('th', { class: 'num', text: 'Drives online' }))),
    el('tbody', {}, ...[...nodes].map(([name, n]) => el('tr', { class: 'node' },
      el('td', { text: name }),
      el('td', { class: `state state-${state(n)}`, text: state(n) }),
      el('td', { class: 'num', text: `${n.online} of ${n.total}` })))));
}

export async function renderCluster(main, isCurrent) {
  const body = el('div', { id: 'cluster' });
  const charts = el('div', { id: 'charts', class: 'charts' });
  main.replaceChildren(el('h2', { text: 'Cluster' }), charts, body);
  const samples = [];
  const rates = { requests: [], received: [], sent: [] };
  const plot = async () => {
    let t;
    try {
      t = await traffic();
    } catch (e) {
      charts.replaceChildren(el('p', { class: 'muted', text: `No live figures: ${explain(e)}` }));
      return;
    }
    const prev = samples[samples.length - 1];
    samples.push(t);
    if (prev) {
      const dt = Math.max(t.time - prev.time, 1e-3);
      const total = (x) => x.requests.s3 + x.requests.grpc;
      for (const [k, v] of [['requests', (total(t) - total(prev)) / dt],
        ['received', (t.received - prev.received) / dt], ['sent', (t.sent - prev.sent) / dt]]) {
        rates[k].push(Math.max(v, 0));
        if (rates[k].length > POINTS) rates[k].shift();
      }
    }
    const perSecond = (v) => `${v.toFixed(1)}/s`;
    const bytes = (v) => `${formatSize(Math.round(v))}/s`;
    charts.replaceChildren(
      chart('chart-requests', 'Requests (S3 + gRPC, this node)', rates.requests, perSecond),
      chart('chart-received', 'Received', rates.received, bytes),
      chart('chart-sent', 'Sent', rates.sent, bytes));
  };
  const fill = async () => {
    let info;
    try {
      info = await cluster();
    } catch (e) {
      body.replaceChildren(el('p', { class: 'error', text: explain(e) }));
      return;
    }
    const online = info.sets.flatMap((s) => s.drives).filter((d) => d.state === 'online').length;
    const total = info.sets.reduce((a, s) => a + s.drives.length, 0);
    body.replaceChildren(
      el('p', {},
        el('span', { id: 'cluster-summary', text: `${online} of ${total} drives online` }),
        ` · writes ${info.writable ? 'possible' : 'refused (a set lacks its quorum)'}`,
        ` · heal queue ${info.healQueue} · deployment `, el('code', { text: info.deploymentId })),
      el('p', { id: 'cluster-scanner', class: 'muted', text:
        `Healed ${info.healed} objects (${info.healFailures} attempts failed) · scanner: `
        + `${info.scanned} objects checked, last full round `
        + (info.lastScanSeconds > 0 ? `${info.lastScanSeconds.toFixed(1)} s` : 'not finished yet') }),
      el('h3', { text: 'Nodes' }), nodesTable(info.sets),
      ...info.sets.map((s) => el('section', {},
        el('h3', { text: `Pool ${s.pool + 1}, set ${s.set + 1}: ${s.data} data + ${s.parity} parity` }),
        el('table', { class: 'drives' },
          el('thead', {}, el('tr', {}, el('th', { text: 'Drive' }), el('th', { text: 'State' }),
            el('th', { class: 'num', text: 'Used' }), el('th', { class: 'num', text: 'Capacity' }),
            el('th', { text: 'Error' }))),
          el('tbody', {}, ...s.drives.map((d) => el('tr', { class: 'drive' },
            el('td', { text: d.endpoint }),
            el('td', { class: `state state-${d.state}`, text: d.state }),
            el('td', { class: 'num', text: d.total ? formatSize(d.used) : '' }),
            el('td', { class: 'num', text: d.total ? formatSize(d.total) : '' }),
            el('td', { class: 'muted', text: d.error }))))))));
  };
  await Promise.all([fill(), plot()]);
  const timer = setInterval(() => {
    if (!isCurrent()) clearInterval(timer);
    else {
      fill();
      plot();
    }
  }, REFRESH_MS);
}
