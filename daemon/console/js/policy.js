// A bucket's access policy page: the bucket policy as JSON (S3 GetBucketPolicy), presets for
// anonymous access (the documents `tessera anonymous set` writes), checked in the page and
// saved or removed through S3 (PutBucketPolicy, DeleteBucketPolicy).

import { el, toast } from './dom.js';
import { explain } from './api.js';
import * as s3 from './s3.js';

// The bucket policy `tessera anonymous set MODE BUCKET` stands for (daemon/src/cli/iam.rs).
export function anonymousPolicy(mode, bucket) {
  const objects = `arn:aws:s3:::${bucket}/*`;
  const statement = (actions, resource) => ({
    Effect: 'Allow', Principal: { AWS: ['*'] }, Action: actions, Resource: [resource],
  });
  const upload = ['s3:PutObject', 's3:AbortMultipartUpload', 's3:ListMultipartUploadParts'];
  const statements = {
    download: [statement(['s3:GetObject'], objects)],
    upload: [statement(upload, objects)],
    public: [statement(['s3:GetObject', 's3:DeleteObject', ...upload], objects),
      statement(['s3:ListBucket'], `arn:aws:s3:::${bucket}`)],
  }[mode];
  return statements ? { Version: '2012-10-17', Statement: statements } : null;
}

export async function renderPolicy(main, bucket) {
  const preset = el('select', { id: 'anonymous' },
    el('option', { value: '', text: 'Anonymous access: choose a preset…' }),
    el('option', { value: 'download', text: 'download (anyone may read objects)' }),
    el('option', { value: 'upload', text: 'upload (anyone may write objects)' }),
    el('option', { value: 'public', text: 'public (anyone may list, read, write, delete)' }));
  const doc = el('textarea', { id: 'bucket-policy', rows: 14, cols: 90, spellcheck: 'false' });
  const error = el('p', { class: 'error', id: 'bucket-policy-error' });
  const state = el('p', { class: 'muted', id: 'bucket-policy-state' });
  const save = el('button', { class: 'primary', type: 'button', id: 'save-policy', text: 'Save policy' });
  const remove = el('button', { class: 'danger', type: 'button', id: 'remove-policy', text: 'Remove policy' });
  main.replaceChildren(
    el('h2', { class: 'crumbs' }, el('a', { href: '#/buckets', text: 'Buckets' }), ' / ',
      el('span', { text: `${bucket}: access policy` })),
    state, el('div', { class: 'toolbar' }, preset, save, remove), doc, error);

  async function load() {
    error.textContent = '';
    try {
      const text = await s3.bucketPolicy(bucket);
      doc.value = text ? JSON.stringify(JSON.parse(text), null, 2) : '';
      state.textContent = text ? 'This bucket has a policy.' : 'No bucket policy: only keys with rights reach it.';
    } catch (e) {
      error.textContent = explain(e);
    }
  }

  preset.addEventListener('change', () => {
    const policy = anonymousPolicy(preset.value, bucket);
    if (policy) doc.value = JSON.stringify(policy, null, 2);
  });
  save.addEventListener('click', async () => {
    error.textContent = '';
    try {
      JSON.parse(doc.value);
    } catch (e) {
      error.textContent = `Not valid JSON: ${e.message}`;
      return;
    }
    try {
      await s3.putBucketPolicy(bucket, doc.value);
      toast(`Policy of ${bucket} saved`);
      await load();
    } catch (e) {
      error.textContent = explain(e);
    }
  });
  remove.addEventListener('click', async () => {
    try {
      await s3.deleteBucketPolicy(bucket);
      toast(`Policy of ${bucket} removed`);
      await load();
    } catch (e) {
      error.textContent = explain(e);
    }
  });
  await load();
}
