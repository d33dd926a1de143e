// "Show deleted" on a versioned bucket: the keys under the current prefix whose latest
// version is a delete marker, each with Restore (the marker version deleted, so the version
// under it is current again) and the versions panel.

import { el, formatDate, toast } from './dom.js';
import { explain } from './api.js';
import * as s3 from './s3.js';
import { showVersions } from './versions.js';

export async function showDeleted(bucket, prefix, panel, versionsPanel, rights, onChange) {
  let keys;
  try {
    keys = await s3.deletedKeys(bucket, prefix);
  } catch (e) {
    panel.replaceChildren(el('p', { class: 'error', text: explain(e) }));
    panel.hidden = false;
    return;
  }
  const refresh = async () => {
    await showDeleted(bucket, prefix, panel, versionsPanel, rights, onChange);
    await onChange();
  };
  const act = (cls, text, fn, disabled = false) => el('button', {
    class: cls, type: 'button', text, disabled,
    onclick: async () => {
      try { await fn(); } catch (e) { toast(explain(e), true); }
    },
  });
  const rows = keys.map((d) => el('tr', { class: 'deleted-row', 'data-key': d.key },
    el('td', { class: 'name', text: d.key.slice(prefix.length) || d.key }),
    el('td', { text: `deleted ${formatDate(d.modified)}` }),
    el('td', { class: 'actions' },
      act('restore-deleted', 'Restore', async () => {
        await s3.deleteVersion(bucket, d.key, d.markerId);
        toast(`${d.key} restored`);
        await refresh();
      }, !rights.delete),
      act('versions', 'Versions', () => showVersions(bucket, d.key, versionsPanel, rights, refresh)))));
  panel.replaceChildren(el('h3', { text: `Deleted under ${prefix || '/'}` }),
    rows.length
      ? el('table', { id: 'deleted-table' }, el('tbody', {}, ...rows))
      : el('p', { class: 'muted', id: 'no-deleted', text: 'No deleted objects here.' }));
  panel.hidden = false;
}
