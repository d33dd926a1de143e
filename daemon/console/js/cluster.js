// The cluster page: sets and drives with their state and capacity, refreshed every few
// seconds while shown. Needs a key allowed admin:ServerInfo.

import { el, formatSize } from './dom.js';
import { cluster, explain } from './api.js';

export const REFRESH_MS = 3000;

export async function renderCluster(main, isCurrent) {
  const body = el('div', { id: 'cluster' });
  main.replaceChildren(el('h2', { text: 'Cluster' }), body);
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
  await fill();
  const timer = setInterval(() => {
    if (!isCurrent()) clearInterval(timer);
    else fill();
  }, REFRESH_MS);
}
