// Uploads with a progress bar per file. Files up to PART_SIZE go in one PUT; larger ones as a
// multipart upload of PART_SIZE parts, two at a time, each part retried up to RETRIES times.
// A multipart upload whose part still fails is kept, not aborted: its row offers "Resume",
// which asks the node for the parts it holds (ListParts), sends only the missing ones and
// completes, and "Cancel", which aborts it. A resume lasts as long as the page (the file is
// the browser's, not the node's); an abandoned upload goes with the bucket's lifecycle rule
// for incomplete uploads, or `tessera` / any S3 client's abort.
//
// Test hook: `?test-fail-part=N` in the page's URL sends part N of every upload, before any
// resume, with a wrong Content-MD5, so the node refuses it (BadDigest) as it would a part
// damaged on the way; the browser test uses it to make an upload fail and resume it.

import { el, formatSize } from './dom.js';
import { explain } from './api.js';
import * as s3 from './s3.js';

export const PART_SIZE = 8 * 1024 * 1024;
const RETRIES = 3;
const PARALLEL_PARTS = 2;
const FAIL_PART = Number(new URLSearchParams(location.search).get('test-fail-part')) || 0;
const WRONG_MD5 = 'AAAAAAAAAAAAAAAAAAAAAA==';

function row(file, key) {
  const bar = el('progress', { max: String(Math.max(file.size, 1)), value: '0' });
  const status = el('span', { class: 'status', text: 'waiting' });
  const actions = el('span', { class: 'actions' });
  const line = el('div', { class: 'upload', 'data-key': key },
    el('span', { class: 'name', text: `${key} (${formatSize(file.size)})` }), bar, status, actions);
  return { line, bar, status, actions };
}

// Sends the parts of `file` whose number is in `todo` (1-based) into `up.etags`; stops
// taking new parts after one fails for good, and throws that failure once all have settled.
async function sendParts(bucket, key, file, up, todo, report, status, resuming) {
  const loaded = Array.from(up.etags, (e, i) => (e ? Math.min(PART_SIZE, file.size - i * PART_SIZE) : 0));
  let next = 0;
  let failure = null;
  const worker = async () => {
    while (next < todo.length && !failure) {
      const n = todo[next++];
      const blob = file.slice((n - 1) * PART_SIZE, Math.min(file.size, n * PART_SIZE));
      const contentMd5 = n === FAIL_PART && !resuming ? WRONG_MD5 : undefined;
      for (let attempt = 1; ; attempt++) {
        try {
          up.etags[n - 1] = await s3.uploadPart(bucket, key, up.uploadId, n, blob, (b) => {
            loaded[n - 1] = b;
            report(loaded.reduce((a, x) => a + x, 0));
          }, contentMd5);
          loaded[n - 1] = blob.size;
          break;
        } catch (e) {
          if (attempt >= RETRIES || e.status === 403) {
            failure = failure || e;
            return;
          }
          status.textContent = `part ${n} failed, retrying`;
        }
      }
      status.textContent = `part ${up.etags.filter(Boolean).length} of ${up.count}`;
    }
  };
  await Promise.all(Array.from({ length: Math.min(PARALLEL_PARTS, todo.length) }, worker));
  if (failure) throw failure;
}

async function multipart(bucket, key, file, up, report, status) {
  up.uploadId = await s3.createUpload(bucket, key, file.type || undefined);
  up.count = Math.ceil(file.size / PART_SIZE);
  up.etags = new Array(up.count);
  const all = Array.from({ length: up.count }, (_, i) => i + 1);
  await sendParts(bucket, key, file, up, all, report, status, false);
  await s3.completeUpload(bucket, key, up.uploadId, up.etags);
  return up.count;
}

// Resumes `up`: keeps the parts the node holds whole, sends the others, completes.
async function resume(bucket, key, file, up, report, status) {
  status.textContent = 'asking the node for the parts it holds';
  const held = await s3.listParts(bucket, key, up.uploadId);
  up.etags = new Array(up.count);
  const missing = [];
  for (let n = 1; n <= up.count; n++) {
    const part = held.get(n);
    const size = Math.min(PART_SIZE, file.size - (n - 1) * PART_SIZE);
    if (part && part.size === size) up.etags[n - 1] = part.etag;
    else missing.push(n);
  }
  status.textContent = `resuming: ${missing.length} of ${up.count} parts to send`;
  await sendParts(bucket, key, file, up, missing, report, status, true);
  await s3.completeUpload(bucket, key, up.uploadId, up.etags);
  return missing.length;
}

// Uploads one file to `key`, into its row; resolves to whether it went up.
async function uploadOne(bucket, key, file, container) {
  const { line, bar, status, actions } = row(file, key);
  container.append(line);
  const report = (b) => { bar.value = b; };
  const done = (text) => {
    bar.value = Math.max(file.size, 1);
    line.classList.remove('failed');
    line.classList.add('done');
    status.textContent = text;
    actions.replaceChildren();
  };
  const failed = (e) => {
    line.classList.add('failed');
    status.textContent = `failed: ${explain(e)}`;
  };
  if (file.size <= PART_SIZE) {
    try {
      status.textContent = 'uploading';
      await s3.putObject(bucket, key, file, file.type || undefined, report);
      done('done');
      return true;
    } catch (e) {
      failed(e);
      return false;
    }
  }
  const up = {};
  try {
    status.textContent = 'multipart';
    done(`done (${await multipart(bucket, key, file, up, report, status)} parts)`);
    return true;
  } catch (e) {
    failed(e);
    if (!up.uploadId) return false;
  }
  // The upload stays on the node until resumed or cancelled.
  const button = (cls, text, fn) => el('button', { class: cls, type: 'button', text, onclick: fn });
  const offer = () => actions.replaceChildren(
    button('resume', 'Resume', async () => {
      actions.replaceChildren();
      line.classList.remove('failed');
      try {
        const sent = await resume(bucket, key, file, up, report, status);
        done(`done (${up.count} parts, ${sent} sent on resume)`);
        container.dispatchEvent(new CustomEvent('uploaded', { detail: key }));
      } catch (e) {
        failed(e);
        offer();
      }
    }),
    button('danger cancel-upload', 'Cancel', async () => {
      actions.replaceChildren();
      try {
        await s3.abortUpload(bucket, key, up.uploadId);
        status.textContent = 'cancelled';
      } catch (e) {
        failed(e);
        offer();
      }
    }));
  offer();
  return false;
}

// Uploads `files` ([{ file, path }]) under `prefix` of `bucket`, adding a row each to
// `container`; resolves once every file is done or failed, to the number uploaded. A
// resumed upload that completes later fires `uploaded` on `container`.
export async function uploadFiles(bucket, prefix, files, container) {
  let ok = 0;
  for (const { file, path } of files) {
    if (await uploadOne(bucket, prefix + path, file, container)) ok++;
  }
  return ok;
}
