// Uploads with a progress bar per file. Files up to PART_SIZE go in one PUT; larger ones as a
// multipart upload of PART_SIZE parts, two at a time, each part retried up to RETRIES times
// before the upload is aborted.

import { el, formatSize } from './dom.js';
import { explain } from './api.js';
import * as s3 from './s3.js';

export const PART_SIZE = 8 * 1024 * 1024;
const RETRIES = 3;
const PARALLEL_PARTS = 2;

function row(file, key) {
  const bar = el('progress', { max: String(Math.max(file.size, 1)), value: '0' });
  const status = el('span', { class: 'status', text: 'waiting' });
  const line = el('div', { class: 'upload', 'data-key': key },
    el('span', { class: 'name', text: `${key} (${formatSize(file.size)})` }), bar, status);
  return { line, bar, status };
}

async function multipart(bucket, key, file, report, status) {
  const uploadId = await s3.createUpload(bucket, key, file.type || undefined);
  const count = Math.ceil(file.size / PART_SIZE);
  const loaded = new Array(count).fill(0);
  const etags = new Array(count);
  let next = 0;
  const worker = async () => {
    while (next < count) {
      const n = next++;
      const blob = file.slice(n * PART_SIZE, Math.min(file.size, (n + 1) * PART_SIZE));
      for (let attempt = 1; ; attempt++) {
        try {
          etags[n] = await s3.uploadPart(bucket, key, uploadId, n + 1, blob, (b) => {
            loaded[n] = b;
            report(loaded.reduce((a, x) => a + x, 0));
          });
          loaded[n] = blob.size;
          break;
        } catch (e) {
          if (attempt >= RETRIES || e.status === 403) throw e;
          status.textContent = `part ${n + 1} failed, retrying`;
        }
      }
      status.textContent = `part ${etags.filter(Boolean).length} of ${count}`;
    }
  };
  try {
    await Promise.all(Array.from({ length: Math.min(PARALLEL_PARTS, count) }, worker));
    await s3.completeUpload(bucket, key, uploadId, etags);
  } catch (e) {
    s3.abortUpload(bucket, key, uploadId).catch(() => {});
    throw e;
  }
  return count;
}

// Uploads `files` under `prefix` of `bucket`, adding a row each to `container`; resolves
// once every file is done or failed, to the number uploaded.
export async function uploadFiles(bucket, prefix, files, container) {
  let ok = 0;
  for (const file of files) {
    const key = prefix + (file.webkitRelativePath || file.name);
    const { line, bar, status } = row(file, key);
    container.append(line);
    const report = (b) => { bar.value = b; };
    try {
      if (file.size > PART_SIZE) {
        status.textContent = 'multipart';
        const parts = await multipart(bucket, key, file, report, status);
        status.textContent = `done (${parts} parts)`;
      } else {
        status.textContent = 'uploading';
        await s3.putObject(bucket, key, file, file.type || undefined, report);
        status.textContent = 'done';
      }
      bar.value = Math.max(file.size, 1);
      line.classList.add('done');
      ok++;
    } catch (e) {
      line.classList.add('failed');
      status.textContent = `failed: ${explain(e)}`;
    }
  }
  return ok;
}
