// An object's tags in its details panel: read with GetObjectTagging and replaced as a whole
// with PutObjectTagging (both presigned for the session's key, so S3 decides), edited as
// `key=value` lines. Tag names and values are escaped into the XML and shown as text only.

import { el, toast } from './dom.js';
import { explain } from './api.js';
import { send } from './s3.js';

function escapeXml(s) {
  return s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;')
    .replace(/"/g, '&quot;').replace(/'/g, '&apos;');
}

// The object's tags, as [[key, value]].
export async function getTags(bucket, key) {
  const xhr = await send('GET', bucket, key, [['tagging', '']]);
  const doc = new DOMParser().parseFromString(xhr.responseText, 'application/xml');
  return [...doc.getElementsByTagName('Tag')].map((t) => {
    const part = (name) => {
      const n = [...t.children].find((c) => c.localName === name);
      return n ? n.textContent : '';
    };
    return [part('Key'), part('Value')];
  });
}

// Replaces the object's tags with `tags` ([[key, value]]; none removes them all).
export async function putTags(bucket, key, tags) {
  if (!tags.length) {
    await send('DELETE', bucket, key, [['tagging', '']]);
    return;
  }
  const set = tags.map(([k, v]) =>
    `<Tag><Key>${escapeXml(k)}</Key><Value>${escapeXml(v)}</Value></Tag>`).join('');
  const body = `<Tagging><TagSet>${set}</TagSet></Tagging>`;
  await send('PUT', bucket, key, [['tagging', '']], { body, contentType: 'application/xml' });
}

// `key=value` lines (blank lines skipped) as [[key, value]]; throws on a line without `=`
// or a key given twice.
export function parseTags(text) {
  const tags = [];
  for (const [i, raw] of text.split('\n').entries()) {
    const line = raw.trim();
    if (!line) continue;
    const at = line.indexOf('=');
    if (at <= 0) throw new Error(`Line ${i + 1}: write a tag as key=value`);
    const k = line.slice(0, at).trim();
    if (tags.some(([t]) => t === k)) throw new Error(`Line ${i + 1}: the tag ${k} is given twice`);
    tags.push([k, line.slice(at + 1).trim()]);
  }
  return tags;
}

// Appends the tags editor of `key` to `panel`; `canWrite` says whether to offer saving.
export async function showTags(bucket, key, panel, canWrite) {
  const editor = el('textarea', {
    id: 'tags-editor', rows: 4, cols: 60, spellcheck: 'false', placeholder: 'key=value, one a line',
  });
  const error = el('p', { class: 'error', id: 'tags-error' });
  const state = el('span', { class: 'muted', id: 'tags-state' });
  const save = el('button', {
    type: 'button', id: 'save-tags', text: 'Save tags', disabled: !canWrite,
    title: canWrite ? 'Replace the object\'s tags with these' : 'This access key may not write here',
  });
  panel.append(el('div', { class: 'tags', id: 'tags' },
    el('h3', { text: 'Tags' }), state, editor, el('div', { class: 'toolbar' }, save), error));
  const load = async () => {
    const tags = await getTags(bucket, key);
    editor.value = tags.map(([k, v]) => `${k}=${v}`).join('\n');
    state.textContent = tags.length ? `${tags.length} tag${tags.length === 1 ? '' : 's'}` : 'No tags.';
  };
  save.addEventListener('click', async () => {
    error.textContent = '';
    try {
      await putTags(bucket, key, parseTags(editor.value));
      toast(`Tags of ${key} saved`);
      await load();
    } catch (e) {
      error.textContent = explain(e);
    }
  });
  try {
    await load();
  } catch (e) {
    state.textContent = '';
    error.textContent = explain(e);
  }
}
