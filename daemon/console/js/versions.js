// The versions of one object on a versioned bucket: each version and delete marker, newest
// first, to download, make current again (a copy of it onto the key) or delete for good.

import { el, formatSize, formatDate, toast, confirmAction } from './dom.js';
import { presign, explain } from './api.js';
import * as s3 from './s3.js';

export async function showVersions(bucket, key, panel, rights, onChange) {
  const list = await s3.versions(bucket, key);
  const act = (cls, text, fn, disabled = false) => el('button', {
    class: cls, type: 'button', text, disabled,
    onclick: async () => {
      try { await fn(); } catch (e) { toast(explain(e), true); }
    },
  });
  const refresh = async () => {
    await showVersions(bucket, key, panel, rights, onChange);
    await onChange();
  };
  const rows = list.map((v) => el('tr', { class: 'version', 'data-version': v.id },
    el('td', { class: 'name', text: v.id }),
    el('td', { text: v.marker ? 'delete marker' : (v.latest ? 'current' : '') }),
    el('td', { class: 'num', text: v.marker ? '' : formatSize(v.size) }),
    el('td', { text: formatDate(v.modified) }),
    el('td', { class: 'actions' },
      v.marker ? null : act('download-version', 'Download', async () => {
        const { path } = await presign('GET', bucket, key, [['versionId', v.id]]);
        const a = el('a', { href: path, download: key.split('/').pop() || 'download', hidden: true });
        document.body.append(a);
        a.click();
        a.remove();
      }),
      v.marker || v.latest ? null : act('restore-version', 'Restore', async () => {
        await s3.restoreVersion(bucket, key, v.id);
        toast(`Version ${v.id} of ${key} restored`);
        await refresh();
      }, !rights.put),
      act('danger delete-version', 'Delete', async () => {
        if (!(await confirmAction(`Delete version ${v.id} of ${key} for good?`))) return;
        await s3.deleteVersion(bucket, key, v.id);
        toast(`Version ${v.id} deleted`);
        await refresh();
      }, !rights.delete))));
  panel.replaceChildren(el('h3', { text: `Versions of ${key}` }),
    el('table', { id: 'versions-table' }, el('thead', {}, el('tr', {},
      el('th', { text: 'Version' }), el('th'), el('th', { class: 'num', text: 'Size' }),
      el('th', { text: 'Modified' }), el('th'))), el('tbody', {}, ...rows)));
  panel.hidden = false;
}
