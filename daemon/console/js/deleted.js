// "Show deleted" on a versioned bucket: the keys under the current prefix whose latest
// version is a delete marker, each with Restore (the marker version deleted, so the version
// under it is current again) and the versions panel; and the folders whose keys are all
// deleted (the listing leaves them out, as S3 does), each a link to open it.

import { el, formatDate, toast } from './dom.js';
import { explain } from './api.js';
import * as s3 from './s3.js';
import { showVersions } from './versions.js';

export async function showDeleted(bucket, prefix, panel, versionsPanel, rights, onChange, folderHref) {
  let keys;
  let folders;
  try {
    ({ keys, folders } = await s3.deletedKeys(bucket, prefix));
  } catch (e) {
    panel.replaceChildren(el('p', { class: 'error', text: explain(e) }));
    panel.hidden = false;
    return;
  }
  const refresh = async () => {
    await showDeleted(bucket, prefix, panel, versionsPanel, rights, onChange, folderHref);
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
  const folderRows = folders.map((f) => el('tr', { class: 'deleted-folder', 'data-prefix': f },
    el('td', {}, el('a', { class: 'name folder', href: folderHref(f), text: f.slice(prefix.length) })),
    el('td', { text: 'every key deleted' }),
    el('td')));
  rows.push(...folderRows);
  panel.replaceChildren(el('h3', { text: `Deleted under ${prefix || '/'}` }),
    rows.length
      ? el('table', { id: 'deleted-table' }, el('tbody', {}, ...rows))
      : el('p', { class: 'muted', id: 'no-deleted', text: 'No deleted objects here.' }));
  panel.hidden = false;
}
