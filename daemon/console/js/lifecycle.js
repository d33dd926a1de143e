// A bucket's lifecycle page: its rules (S3 GetBucketLifecycleConfiguration) in a table, a
// form for the common rules (under a prefix: expire objects, noncurrent versions, or
// abandoned multipart uploads after N days), removal of one rule or of all of them, saved
// through S3 (PutBucketLifecycleConfiguration, DeleteBucketLifecycle). A rule the form
// cannot make (a tag filter, a date) is kept as the node sent it when others are saved.

import { el, toast, confirmAction } from './dom.js';
import { explain } from './api.js';
import { send } from './s3.js';

function escapeXml(s) {
  return s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
}

function text(node, path) {
  let n = node;
  for (const name of path) {
    n = n && [...n.children].find((c) => c.localName === name);
  }
  return n ? n.textContent : null;
}

// The bucket's rules: [{ id, enabled, prefix, summary, xml }] ([] when it has none).
export async function getRules(bucket) {
  let xhr;
  try {
    xhr = await send('GET', bucket, '', [['lifecycle', '']]);
  } catch (e) {
    if (e.code === 'NoSuchLifecycleConfiguration') return [];
    throw e;
  }
  const doc = new DOMParser().parseFromString(xhr.responseText, 'application/xml');
  const serializer = new XMLSerializer();
  return [...doc.documentElement.children].filter((r) => r.localName === 'Rule').map((r) => {
    const parts = [];
    const expire = text(r, ['Expiration', 'Days']);
    const date = text(r, ['Expiration', 'Date']);
    const noncurrent = text(r, ['NoncurrentVersionExpiration', 'NoncurrentDays']);
    const abort = text(r, ['AbortIncompleteMultipartUpload', 'DaysAfterInitiation']);
    if (expire) parts.push(`expire objects after ${expire} days`);
    if (date) parts.push(`expire objects on ${date}`);
    if (text(r, ['Expiration', 'ExpiredObjectDeleteMarker']) === 'true') parts.push('remove lone delete markers');
    if (noncurrent) parts.push(`expire noncurrent versions after ${noncurrent} days`);
    if (abort) parts.push(`abort incomplete uploads after ${abort} days`);
    if (r.getElementsByTagName('Tag').length) parts.push('(tag filter)');
    return {
      id: text(r, ['ID']) || '',
      enabled: text(r, ['Status']) === 'Enabled',
      prefix: text(r, ['Filter', 'Prefix']) ?? text(r, ['Prefix']) ?? '',
      summary: parts.join(', ') || '(no action the console knows)',
      // The rule as sent, without the namespace the serializer adds to a lone element.
      xml: serializer.serializeToString(r).replace(/ xmlns="[^"]*"/g, ''),
    };
  });
}

// The XML of a rule made with the form.
export function ruleXml({ id, prefix, expire, noncurrent, abort }) {
  const days = (tag, inner, n) => (n ? `<${tag}><${inner}>${n}</${inner}></${tag}>` : '');
  return `<Rule><ID>${escapeXml(id)}</ID><Filter><Prefix>${escapeXml(prefix)}</Prefix></Filter>`
    + '<Status>Enabled</Status>'
    + days('Expiration', 'Days', expire)
    + days('NoncurrentVersionExpiration', 'NoncurrentDays', noncurrent)
    + days('AbortIncompleteMultipartUpload', 'DaysAfterInitiation', abort)
    + '</Rule>';
}

// Saves `rules` as the bucket's whole configuration (none: deletes it).
export async function putRules(bucket, rules) {
  if (!rules.length) {
    await send('DELETE', bucket, '', [['lifecycle', '']]);
    return;
  }
  const body = `<LifecycleConfiguration>${rules.map((r) => r.xml).join('')}</LifecycleConfiguration>`;
  await send('PUT', bucket, '', [['lifecycle', '']], { body, contentType: 'application/xml' });
}

export async function renderLifecycle(main, bucket) {
  const input = (id, attrs = {}) => el('input', { id, ...attrs });
  const num = (id) => input(id, { type: 'number', min: '1', step: '1', placeholder: 'days', class: 'days' });
  const id = input('rule-id', { placeholder: 'rule name', required: true });
  const prefix = input('rule-prefix', { placeholder: 'prefix (empty: every object)' });
  const expire = num('rule-expire');
  const noncurrent = num('rule-noncurrent');
  const abort = num('rule-abort');
  const form = el('form', { class: 'toolbar', id: 'add-rule' }, id, prefix,
    el('label', {}, 'expire objects after ', expire),
    el('label', {}, 'noncurrent versions after ', noncurrent),
    el('label', {}, 'abort incomplete uploads after ', abort),
    el('button', { class: 'primary', type: 'submit', text: 'Add rule' }));
  const state = el('p', { class: 'muted', id: 'lifecycle-state' });
  const error = el('p', { class: 'error', id: 'lifecycle-error' });
  const body = el('tbody');
  const xml = el('pre', { id: 'lifecycle-xml' });
  const removeAll = el('button', { class: 'danger', type: 'button', id: 'delete-lifecycle', text: 'Delete all rules' });
  main.replaceChildren(
    el('h2', { class: 'crumbs' }, el('a', { href: '#/buckets', text: 'Buckets' }), ' / ',
      el('span', { text: `${bucket}: lifecycle rules` })),
    state,
    el('table', { id: 'lifecycle-rules' }, el('thead', {}, el('tr', {},
      el('th', { text: 'Rule' }), el('th', { text: 'Prefix' }), el('th', { text: 'State' }),
      el('th', { text: 'Does' }), el('th'))), body),
    el('h3', { text: 'Add a rule' }), form, error, el('div', { class: 'toolbar' }, removeAll),
    el('details', {}, el('summary', { text: 'As S3 XML' }), xml));

  let rules = [];
  async function save(next, done) {
    error.textContent = '';
    try {
      await putRules(bucket, next);
      toast(done);
      await load();
      return true;
    } catch (e) {
      error.textContent = explain(e);
      return false;
    }
  }

  function draw() {
    state.textContent = rules.length
      ? `${rules.length} rule${rules.length === 1 ? '' : 's'}; the nodes apply them every hour.`
      : 'No lifecycle rules: objects stay until deleted.';
    body.replaceChildren(...rules.map((r, i) => el('tr', { class: 'rule', 'data-rule': r.id },
      el('td', { class: 'name', text: r.id }), el('td', { class: 'name', text: r.prefix }),
      el('td', { text: r.enabled ? 'enabled' : 'disabled' }), el('td', { text: r.summary }),
      el('td', { class: 'actions' }, el('button', {
        class: 'danger remove-rule', type: 'button', text: 'Remove',
        onclick: async () => {
          if (!(await confirmAction(`Remove the rule ${r.id}?`))) return;
          await save(rules.filter((_, j) => j !== i), `Rule ${r.id} removed`);
        },
      })))));
    xml.textContent = rules.length
      ? `<LifecycleConfiguration>\n${rules.map((r) => `  ${r.xml}`).join('\n')}\n</LifecycleConfiguration>`
      : '';
  }

  async function load() {
    try {
      rules = await getRules(bucket);
      draw();
    } catch (e) {
      error.textContent = explain(e);
    }
  }

  form.addEventListener('submit', async (ev) => {
    ev.preventDefault();
    const rule = {
      id: id.value.trim(), prefix: prefix.value, expire: expire.value, noncurrent: noncurrent.value, abort: abort.value,
    };
    if (!rule.expire && !rule.noncurrent && !rule.abort) {
      error.textContent = 'Give at least one number of days.';
      return;
    }
    if (rules.some((r) => r.id === rule.id)) {
      error.textContent = `A rule named ${rule.id} exists already: remove it first.`;
      return;
    }
    if (await save([...rules, { id: rule.id, xml: ruleXml(rule) }], `Rule ${rule.id} added`)) form.reset();
  });
  removeAll.addEventListener('click', async () => {
    if (!(await confirmAction(`Delete all lifecycle rules of ${bucket}?`))) return;
    await save([], `Lifecycle rules of ${bucket} deleted`);
  });
  await load();
}
