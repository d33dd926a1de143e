// The buckets page and the object browser: prefixes as folders, pages of 1000 entries
// fetched with continuation tokens, upload, download, share, delete (an object or a whole
// prefix, confirmed with its count), new folder. Names are rendered as text only.

import { el, formatSize, formatDate, toast, confirmAction } from './dom.js';
import { presign, explain, access } from './api.js';
import * as s3 from './s3.js';
import { uploadFiles } from './upload.js';
import { chosen, dropped } from './folders.js';
import { showVersions } from './versions.js';
import { showDeleted } from './deleted.js';
import { showTags } from './tags.js';

export function browserHash(bucket, prefix = '') {
  return `#/b/${encodeURIComponent(bucket)}/${encodeURIComponent(prefix)}`;
}

export async function renderBuckets(main) {
  const name = el('input', { id: 'bucket-name', placeholder: 'new-bucket-name', required: true });
  const versioned = el('input', { type: 'checkbox', id: 'bucket-versioning' });
  const locked = el('input', { type: 'checkbox', id: 'bucket-lock' });
  const form = el('form', { class: 'toolbar', id: 'create-bucket' }, name,
    el('label', {}, versioned, ' versioning'),
    el('label', { title: 'Object lock (turns versioning on; cannot be turned off)' }, locked, ' object lock'),
    el('button', { class: 'primary', type: 'submit', text: 'Create bucket' }));
  const body = el('tbody');
  const table = el('table', { id: 'buckets' },
    el('thead', {}, el('tr', {}, el('th', { text: 'Bucket' }), el('th', { text: 'Created' }),
      el('th', { class: 'num', text: 'Objects', title: 'Counted from the first 1000 keys' }), el('th'))),
    body);
  main.replaceChildren(el('h2', { text: 'Buckets' }), form, table);
  form.addEventListener('submit', async (ev) => {
    ev.preventDefault();
    try {
      await s3.createBucket(name.value.trim(), { versioning: versioned.checked, lock: locked.checked });
      toast(`Bucket ${name.value.trim()} created`);
      name.value = '';
      await fill();
    } catch (e) {
      toast(explain(e), true);
    }
  });
  async function fill() {
    let buckets;
    try {
      buckets = await s3.listBuckets();
    } catch (e) {
      body.replaceChildren(el('tr', {}, el('td', { colspan: 4, class: 'error', text: explain(e) })));
      return;
    }
    if (!buckets.length) {
      body.replaceChildren(el('tr', {}, el('td', { colspan: 4, class: 'muted', text: 'No buckets yet.' })));
      return;
    }
    body.replaceChildren(...buckets.map((b) => el('tr', { 'data-bucket': b.name },
      el('td', {}, el('a', { class: 'name', href: browserHash(b.name), text: b.name })),
      el('td', { text: formatDate(b.created) }),
      el('td', { class: 'num usage', text: '…' }),
      el('td', { class: 'actions' }, el('a', {
        class: 'button bucket-policy', href: `#/policy/${encodeURIComponent(b.name)}`, text: 'Access policy',
      }), el('a', {
        class: 'button bucket-lifecycle', href: `#/lifecycle/${encodeURIComponent(b.name)}`, text: 'Lifecycle',
      }), el('button', {
        class: 'danger delete-bucket',
        type: 'button',
        text: 'Delete',
        onclick: async () => {
          if (!(await confirmAction(`Delete the bucket ${b.name}? It must be empty.`))) return;
          try {
            await s3.deleteBucket(b.name);
            toast(`Bucket ${b.name} deleted`);
            await fill();
          } catch (e) {
            toast(explain(e), true);
          }
        },
      })))));
    usage(buckets.map((b) => b.name));
  }
  await fill();
}

// Fills each bucket's object count and size from one ListObjectsV2 page (cheap: "1000+"
// beyond it), four buckets at a time, after the list is shown.
async function usage(names) {
  let next = 0;
  const worker = async () => {
    while (next < names.length) {
      const name = names[next++];
      const cell = document.querySelector(`tr[data-bucket="${CSS.escape(name)}"] td.usage`);
      if (!cell) continue;
      try {
        const { objects, next: more } = await s3.listPage(name, '', null, '');
        const bytes = objects.reduce((a, o) => a + o.size, 0);
        cell.textContent = `${objects.length}${more ? '+' : ''} (${more ? '≥ ' : ''}${formatSize(bytes)})`;
      } catch (_) {
        cell.textContent = '—';
        cell.title = 'Not listable with this key';
      }
    }
  };
  await Promise.all([worker(), worker(), worker(), worker()]);
}

function crumbs(bucket, prefix) {
  const parts = [el('a', { href: '#/buckets', text: 'Buckets' }), ' / ',
    el('a', { href: browserHash(bucket), text: bucket })];
  let acc = '';
  for (const seg of prefix.split('/').filter(Boolean)) {
    acc += `${seg}/`;
    parts.push(' / ', el('a', { href: browserHash(bucket, acc), text: seg }));
  }
  return el('h2', { class: 'crumbs', id: 'crumbs' }, ...parts);
}

async function share(bucket, key, expiry, panel) {
  const { url } = await presign('GET', bucket, key, [], Number(expiry.value));
  const input = el('input', { id: 'share-url', readonly: true, value: url });
  panel.replaceChildren(el('span', { text: `Link to ${key}, valid ${expiry.selectedOptions[0].textContent}:` }), input);
  panel.hidden = false;
  let copied = false;
  try {
    await navigator.clipboard.writeText(url);
    copied = true;
  } catch (_) {
    input.select();
    copied = document.execCommand && document.execCommand('copy');
  }
  toast(copied ? 'Share link copied' : 'Share link ready: copy it from the box');
}

const PREVIEW_BYTES = 64 * 1024;

// The object's details (HEAD, with its user metadata), its tags and a preview of images and
// text in `panel`.
async function details(bucket, key, panel, canWrite) {
  const info = await s3.head(bucket, key);
  const rows = [['Key', key], ['Size', formatSize(info.size)], ['Type', info.type],
    ['ETag', info.etag], ['Modified', info.modified], ...info.meta];
  const preview = el('div', { id: 'preview' });
  panel.replaceChildren(el('table', { id: 'details-table' }, el('tbody', {},
    ...rows.map(([n, v]) => el('tr', {}, el('th', { text: n }), el('td', { class: 'name', text: v }))))),
  preview);
  panel.hidden = false;
  await showTags(bucket, key, panel, canWrite);
  if (info.type.startsWith('image/')) {
    const { path } = await presign('GET', bucket, key);
    preview.append(el('img', { id: 'preview-image', src: path, alt: key }));
  } else if (/^text\/|json|xml|javascript/.test(info.type) || info.type === '') {
    const text = await s3.headText(bucket, key, PREVIEW_BYTES);
    const more = info.size > PREVIEW_BYTES ? `\n… (first ${formatSize(PREVIEW_BYTES)} shown)` : '';
    preview.append(el('pre', { id: 'preview-text', text: text + more }));
  }
}

async function download(bucket, key) {
  const { path } = await presign('GET', bucket, key);
  const a = el('a', { href: path, download: key.split('/').pop() || 'download', hidden: true });
  document.body.append(a);
  a.click();
  a.remove();
}

export async function renderBrowser(main, bucket, prefix) {
  const started = performance.now();
  const fileInput = el('input', { type: 'file', multiple: true, id: 'upload-input', hidden: true });
  const folderInput = el('input', { type: 'file', webkitdirectory: true, id: 'upload-folder-input', hidden: true });
  const uploads = el('div', { class: 'uploads', id: 'uploads' });
  const sharePanel = el('div', { class: 'share-panel', id: 'share', hidden: true });
  const detailsPanel = el('div', { class: 'details', id: 'details', hidden: true });
  const versionsPanel = el('div', { class: 'details', id: 'versions', hidden: true });
  const deletedPanel = el('div', { class: 'details', id: 'deleted', hidden: true });
  const showDeletedBox = el('input', { type: 'checkbox', id: 'show-deleted' });
  const showDeletedLabel = el('label', { hidden: true, title: 'Keys whose latest version is a delete marker' },
    showDeletedBox, ' Show deleted');
  const expiry = el('select', { id: 'share-expiry', title: 'Share links stay valid for' },
    el('option', { value: '3600', text: '1 hour' }),
    el('option', { value: '86400', text: '1 day', selected: true }),
    el('option', { value: '604800', text: '7 days' }));
  const body = el('tbody');
  const more = el('button', { type: 'button', id: 'more', text: 'More', hidden: true });
  const count = el('span', { class: 'muted', id: 'count' });
  const toolbar = el('div', { class: 'toolbar' },
    el('button', { class: 'primary', type: 'button', id: 'upload', text: 'Upload files', onclick: () => fileInput.click() }),
    el('button', { type: 'button', id: 'upload-folder', text: 'Upload folder', onclick: () => folderInput.click() }),
    el('button', { type: 'button', id: 'new-folder', text: 'New folder', onclick: newFolder }),
    el('label', {}, 'Share links valid ', expiry), showDeletedLabel, count, fileInput, folderInput);
  // Sorting applies to the entries loaded so far; folders stay first.
  let sort = { by: 'name', dir: 1 };
  const sorter = (by, label, cls = '') => el('th', {
    class: `sortable ${cls}`, id: `sort-${by}`, text: label, title: `Sort by ${label.toLowerCase()}`,
    onclick: () => {
      sort = { by, dir: sort.by === by ? -sort.dir : 1 };
      draw();
    },
  });
  const table = el('table', { id: 'objects' },
    el('thead', {}, el('tr', {}, sorter('name', 'Name'), sorter('size', 'Size', 'num'),
      sorter('modified', 'Modified'), el('th'))), body);
  main.replaceChildren(crumbs(bucket, prefix), toolbar, uploads, sharePanel, detailsPanel,
    versionsPanel, deletedPanel, table, more);

  let token = null;
  let folders = [];
  let objects = [];
  // What the key may do here: a hint from the node (S3 still decides every request).
  const [rights, versioning] = await Promise.all([
    access(bucket, prefix).catch(() => ({ put: true, delete: true })),
    s3.versioning(bucket).catch(() => ''),
  ]);
  showDeletedLabel.hidden = !versioning;
  const drawDeleted = () => (showDeletedBox.checked
    ? showDeleted(bucket, prefix, deletedPanel, versionsPanel, rights, reload, (p) => browserHash(bucket, p))
    : (deletedPanel.hidden = true));
  showDeletedBox.addEventListener('change', drawDeleted);
  if (!rights.put) {
    for (const id of ['upload', 'upload-folder', 'new-folder']) {
      const b = document.getElementById(id);
      b.disabled = true;
      b.title = 'This access key may not write here';
    }
  }

  async function newFolder() {
    const name = window.prompt('Folder name');
    if (!name) return;
    try {
      await s3.putObject(bucket, `${prefix}${name.replace(/\/+$/, '')}/`, new Blob([]));
      await reload();
    } catch (e) {
      toast(explain(e), true);
    }
  }

  // Files and folders dropped anywhere on the page go up like chosen ones.
  main.ondragover = (ev) => {
    if (!rights.put) return;
    ev.preventDefault();
    main.classList.add('dropping');
  };
  main.ondragleave = () => main.classList.remove('dropping');
  main.ondrop = async (ev) => {
    ev.preventDefault();
    main.classList.remove('dropping');
    if (!rights.put) return;
    const files = await dropped(ev.dataTransfer);
    if (files.length) {
      await uploadFiles(bucket, prefix, files, uploads);
      await reload();
    }
  };

  for (const input of [fileInput, folderInput]) {
    input.addEventListener('change', async () => {
      const files = chosen(input.files);
      input.value = '';
      await uploadFiles(bucket, prefix, files, uploads);
      await reload();
    });
  }

  function folderRow(p) {
    const label = p.slice(prefix.length);
    return el('tr', { class: 'folder-row', 'data-prefix': p },
      el('td', {}, el('a', { class: 'name folder', href: browserHash(bucket, p), text: label })),
      el('td', { class: 'num' }), el('td'),
      el('td', { class: 'actions' }, el('button', {
        class: 'danger delete-prefix', type: 'button', text: 'Delete', disabled: !rights.delete,
        onclick: () => deletePrefix(p),
      })));
  }

  function objectRow(o) {
    const label = o.key.slice(prefix.length) || o.key;
    const act = (cls, text, fn, disabled = false) => el('button', {
      class: cls, type: 'button', text, disabled,
      onclick: async () => {
        try { await fn(); } catch (e) { toast(explain(e), true); }
      },
    });
    return el('tr', { class: 'object-row', 'data-key': o.key },
      el('td', { class: 'name', text: label }),
      el('td', { class: 'num', text: formatSize(o.size) }),
      el('td', { text: formatDate(o.modified) }),
      el('td', { class: 'actions' },
        act('info', 'Info', () => details(bucket, o.key, detailsPanel, rights.put)),
        versioning ? act('versions', 'Versions', () => showVersions(bucket, o.key, versionsPanel, rights, reload)) : null,
        act('download', 'Download', () => download(bucket, o.key)),
        act('rename', 'Rename', async () => {
          const to = window.prompt('New name (the whole key: a/b/c moves it)', o.key);
          if (!to || to === o.key) return;
          await s3.rename(bucket, o.key, to);
          toast(`Renamed ${o.key} to ${to}`);
          await reload();
        }, !rights.put || !rights.delete),
        act('share', 'Share', () => share(bucket, o.key, expiry, sharePanel)),
        act('danger delete-object', 'Delete', async () => {
          if (!(await confirmAction(`Delete ${o.key}?`))) return;
          await s3.deleteObject(bucket, o.key);
          toast(`Deleted ${o.key}`);
          await reload();
          if (showDeletedBox.checked) await drawDeleted();
        }, !rights.delete)));
  }

  async function deletePrefix(p) {
    let keys;
    try {
      keys = await s3.listAll(bucket, p);
    } catch (e) {
      toast(explain(e), true);
      return;
    }
    const n = keys.length;
    if (!(await confirmAction(`Delete ${n} object${n === 1 ? '' : 's'} under ${p}?`))) return;
    try {
      await s3.deleteMany(bucket, keys, (d) => { count.textContent = `deleted ${d} of ${n}`; });
      toast(`Deleted ${n} objects under ${p}`);
    } catch (e) {
      toast(explain(e), true);
    }
    await reload();
  }

  function draw() {
    const key = { name: (o) => o.key, size: (o) => o.size, modified: (o) => o.modified || '' }[sort.by];
    const sorted = [...objects].sort((a, b) => {
      const x = key(a);
      const y = key(b);
      return (x < y ? -1 : x > y ? 1 : 0) * sort.dir;
    });
    const names = sort.by === 'name' && sort.dir < 0 ? [...folders].reverse() : folders;
    const shown = folders.length + objects.length;
    body.replaceChildren(...names.map(folderRow), ...sorted.map(objectRow));
    if (!shown) body.append(el('tr', {}, el('td', { colspan: 4, class: 'muted', text: 'Empty.' })));
    for (const th of table.querySelectorAll('th.sortable')) {
      th.dataset.sorted = th.id === `sort-${sort.by}` ? (sort.dir > 0 ? 'asc' : 'desc') : '';
    }
    count.textContent = `${shown} entr${shown === 1 ? 'y' : 'ies'}${token ? ' (more below)' : ''}`;
  }

  async function page() {
    more.disabled = true;
    try {
      const result = await s3.listPage(bucket, prefix, token);
      folders = folders.concat(result.folders);
      objects = objects.concat(result.objects.filter((o) => o.key !== prefix));
      token = result.next;
      more.hidden = !token;
      draw();
    } catch (e) {
      body.append(el('tr', {}, el('td', { colspan: 4, class: 'error', text: explain(e) })));
    }
    more.disabled = false;
  }

  async function reload() {
    token = null;
    folders = [];
    objects = [];
    await page();
  }

  more.addEventListener('click', page);
  uploads.addEventListener('uploaded', reload);
  await page();
  main.dataset.renderMs = String(Math.round(performance.now() - started));
}
