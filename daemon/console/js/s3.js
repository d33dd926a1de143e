// S3 from the browser: each request is presigned by the console API for the session's key
// and sent to the node's own S3 endpoint (same origin), so S3 authorizes it with that key's
// policies. XHR (not fetch) gives upload progress; DOMParser reads the XML answers.

import { presign } from './api.js';

export class S3Error extends Error {
  constructor(status, code, message) {
    super(message);
    this.status = status;
    this.code = code;
  }
}

function parseError(status, text) {
  let code = `HTTP${status}`;
  let message = `the node answered ${status}`;
  try {
    const doc = new DOMParser().parseFromString(text, 'application/xml');
    const c = doc.getElementsByTagName('Code')[0];
    const m = doc.getElementsByTagName('Message')[0];
    if (c) code = c.textContent;
    if (m) message = m.textContent;
  } catch (_) { /* not XML: keep the status */ }
  return new S3Error(status, code, message);
}

// Sends one presigned request; resolves to the XHR once it answered 2xx.
export async function send(method, bucket, key = '', query = [], opts = {}) {
  const headers = opts.headers || [];
  const { path } = await presign(method, bucket, key, query, undefined, headers);
  return new Promise((resolve, reject) => {
    const xhr = new XMLHttpRequest();
    xhr.open(method, path);
    if (opts.contentType) xhr.setRequestHeader('Content-Type', opts.contentType);
    for (const [name, value] of headers) xhr.setRequestHeader(name, value);
    if (opts.range) xhr.setRequestHeader('Range', opts.range);
    if (opts.contentMd5) xhr.setRequestHeader('Content-MD5', opts.contentMd5);
    if (opts.onProgress) xhr.upload.onprogress = (e) => opts.onProgress(e.loaded);
    if (opts.signal) opts.signal.addEventListener('abort', () => xhr.abort());
    xhr.onload = () => {
      if (xhr.status >= 200 && xhr.status < 300) resolve(xhr);
      else reject(parseError(xhr.status, xhr.responseText));
    };
    xhr.onerror = () => reject(new S3Error(0, 'Network', 'the node cannot be reached'));
    xhr.onabort = () => reject(new S3Error(0, 'Aborted', 'cancelled'));
    xhr.send(opts.body === undefined ? null : opts.body);
  });
}

function xml(xhr) {
  return new DOMParser().parseFromString(xhr.responseText, 'application/xml').documentElement;
}

function child(node, name) {
  for (const c of node.children) if (c.localName === name) return c.textContent;
  return null;
}

export async function listBuckets() {
  const root = xml(await send('GET', ''));
  return [...root.getElementsByTagName('Bucket')].map((b) => ({
    name: child(b, 'Name'),
    created: child(b, 'CreationDate'),
  }));
}

// Creates `bucket`; `lock` turns object lock on (and so versioning), `versioning` versioning.
export async function createBucket(bucket, { versioning = false, lock = false } = {}) {
  const headers = lock ? [['x-amz-bucket-object-lock-enabled', 'true']] : [];
  await send('PUT', bucket, '', [], { headers });
  if (versioning && !lock) await setVersioning(bucket, 'Enabled');
}

export async function setVersioning(bucket, status) {
  const body = `<VersioningConfiguration><Status>${status}</Status></VersioningConfiguration>`;
  await send('PUT', bucket, '', [['versioning', '']], { body, contentType: 'application/xml' });
}

// '' (never versioned), 'Enabled' or 'Suspended'.
export async function versioning(bucket) {
  return child(xml(await send('GET', bucket, '', [['versioning', '']])), 'Status') || '';
}

// The versions and delete markers of `key` (newest first), up to 1000.
export async function versions(bucket, key) {
  const root = xml(await send('GET', bucket, '', [['versions', ''], ['prefix', key]]));
  const out = [];
  for (const c of root.children) {
    if (c.localName !== 'Version' && c.localName !== 'DeleteMarker') continue;
    if (child(c, 'Key') !== key) continue;
    out.push({
      id: child(c, 'VersionId'),
      latest: child(c, 'IsLatest') === 'true',
      modified: child(c, 'LastModified'),
      size: Number(child(c, 'Size') || 0),
      marker: c.localName === 'DeleteMarker',
    });
  }
  return out;
}

// What is deleted directly under `prefix` (delimiter '/'), every page of ListObjectVersions
// read: `keys`, whose latest version is a delete marker (`{key, markerId, modified}`), and
// `folders`, the prefixes that hold versions but that the listing of objects leaves out
// (no key is left under them).
export async function deletedKeys(bucket, prefix) {
  const keys = [];
  const folders = [];
  let marker = null;
  for (;;) {
    const query = [['versions', ''], ['prefix', prefix], ['delimiter', '/']];
    if (marker) query.push(['key-marker', marker.key], ['version-id-marker', marker.id]);
    const root = xml(await send('GET', bucket, '', query));
    for (const c of root.children) {
      if (c.localName === 'CommonPrefixes') folders.push(child(c, 'Prefix'));
      if (c.localName !== 'DeleteMarker' || child(c, 'IsLatest') !== 'true') continue;
      if (child(c, 'Key') === prefix) continue;
      keys.push({ key: child(c, 'Key'), markerId: child(c, 'VersionId'), modified: child(c, 'LastModified') });
    }
    if (child(root, 'IsTruncated') !== 'true') break;
    marker = { key: child(root, 'NextKeyMarker'), id: child(root, 'NextVersionIdMarker') || '' };
  }
  // A folder whose keys are all deleted is not listed (as in S3): it is reached from here.
  const live = new Set();
  let token = null;
  do {
    const page = await listPage(bucket, prefix, token);
    for (const f of page.folders) live.add(f);
    token = page.next;
  } while (token);
  return { keys, folders: folders.filter((f) => !live.has(f)) };
}

// Makes version `id` of `key` its current version again (a copy of it onto the key).
export async function restoreVersion(bucket, key, id) {
  const source = `${copySource(bucket, key)}?versionId=${encodeURIComponent(id)}`;
  await send('PUT', bucket, key, [], { headers: [['x-amz-copy-source', source]] });
}

export async function deleteVersion(bucket, key, id) {
  await send('DELETE', bucket, key, [['versionId', id]]);
}

// The bucket's policy document, or '' when it has none.
export async function bucketPolicy(bucket) {
  try {
    return (await send('GET', bucket, '', [['policy', '']])).responseText;
  } catch (e) {
    if (e.code === 'NoSuchBucketPolicy') return '';
    throw e;
  }
}

export async function putBucketPolicy(bucket, document) {
  await send('PUT', bucket, '', [['policy', '']], { body: document, contentType: 'application/json' });
}

export async function deleteBucketPolicy(bucket) {
  await send('DELETE', bucket, '', [['policy', '']]);
}

export async function deleteBucket(bucket) {
  await send('DELETE', bucket);
}

// One page of `prefix`: folders (common prefixes) and objects, and the next page's token.
export async function listPage(bucket, prefix, token = null, delimiter = '/', maxKeys = 1000) {
  const query = [['list-type', '2'], ['prefix', prefix], ['max-keys', String(maxKeys)]];
  if (delimiter) query.push(['delimiter', delimiter]);
  if (token) query.push(['continuation-token', token]);
  const root = xml(await send('GET', bucket, '', query));
  const folders = [];
  const objects = [];
  let next = null;
  for (const c of root.children) {
    if (c.localName === 'CommonPrefixes') folders.push(child(c, 'Prefix'));
    else if (c.localName === 'Contents') {
      objects.push({
        key: child(c, 'Key'),
        size: Number(child(c, 'Size') || 0),
        modified: child(c, 'LastModified'),
      });
    } else if (c.localName === 'NextContinuationToken') next = c.textContent;
  }
  return { folders, objects, next };
}

// Every key under `prefix` (all pages, no delimiter).
export async function listAll(bucket, prefix) {
  const keys = [];
  let token = null;
  do {
    const page = await listPage(bucket, prefix, token, '');
    for (const o of page.objects) keys.push(o.key);
    token = page.next;
  } while (token);
  return keys;
}

export async function deleteObject(bucket, key) {
  await send('DELETE', bucket, key);
}

// Deletes `keys`, a few at a time; `onDone(n)` after each.
export async function deleteMany(bucket, keys, onDone = () => {}) {
  let i = 0;
  let done = 0;
  const worker = async () => {
    while (i < keys.length) {
      const key = keys[i++];
      await deleteObject(bucket, key);
      onDone(++done);
    }
  };
  await Promise.all([worker(), worker(), worker(), worker()]);
}

// The copy-source header value of `bucket/key`.
function copySource(bucket, key) {
  return `/${encodeURIComponent(bucket)}/${key.split('/').map(encodeURIComponent).join('/')}`;
}

// Renames (moves) an object within its bucket: a server-side copy, then a delete.
export async function rename(bucket, from, to) {
  await send('PUT', bucket, to, [], { headers: [['x-amz-copy-source', copySource(bucket, from)]] });
  await deleteObject(bucket, from);
}

// An object's headers (HEAD): { type, size, etag, modified, meta: [[name, value]] }.
export async function head(bucket, key) {
  const xhr = await send('HEAD', bucket, key);
  const meta = xhr.getAllResponseHeaders().trim().split(/\r?\n/)
    .map((line) => line.split(/:\s*/, 2))
    .filter(([n]) => n && n.toLowerCase().startsWith('x-amz-meta-'));
  return {
    type: xhr.getResponseHeader('Content-Type') || '',
    size: Number(xhr.getResponseHeader('Content-Length') || 0),
    etag: xhr.getResponseHeader('ETag') || '',
    modified: xhr.getResponseHeader('Last-Modified') || '',
    meta,
  };
}

// The first `bytes` of an object as text.
export async function headText(bucket, key, bytes) {
  const xhr = await send('GET', bucket, key, [], { range: `bytes=0-${bytes - 1}` });
  return xhr.responseText;
}

export async function putObject(bucket, key, body, contentType, onProgress) {
  return send('PUT', bucket, key, [], { body, contentType, onProgress });
}

export async function createUpload(bucket, key, contentType) {
  const xhr = await send('POST', bucket, key, [['uploads', '']], { contentType });
  return child(xml(xhr), 'UploadId');
}

export async function uploadPart(bucket, key, uploadId, n, blob, onProgress, contentMd5) {
  const xhr = await send('PUT', bucket, key, [['partNumber', String(n)], ['uploadId', uploadId]],
    { body: blob, onProgress, contentMd5 });
  return xhr.getResponseHeader('ETag');
}

// The parts the node holds of an upload (ListParts, every page): Map(number -> { etag, size }).
export async function listParts(bucket, key, uploadId) {
  const parts = new Map();
  let marker = '';
  for (;;) {
    const query = [['uploadId', uploadId]];
    if (marker) query.push(['part-number-marker', marker]);
    const root = xml(await send('GET', bucket, key, query));
    for (const c of root.children) {
      if (c.localName !== 'Part') continue;
      parts.set(Number(child(c, 'PartNumber')), { etag: child(c, 'ETag'), size: Number(child(c, 'Size')) });
    }
    marker = child(root, 'NextPartNumberMarker');
    if (child(root, 'IsTruncated') !== 'true' || !marker) return parts;
  }
}

export async function completeUpload(bucket, key, uploadId, etags) {
  const parts = etags.map((etag, i) =>
    `<Part><PartNumber>${i + 1}</PartNumber><ETag>${etag.replace(/[<>&]/g, '')}</ETag></Part>`).join('');
  const body = `<CompleteMultipartUpload>${parts}</CompleteMultipartUpload>`;
  const xhr = await send('POST', bucket, key, [['uploadId', uploadId]],
    { body, contentType: 'application/xml' });
  // S3 may answer 200 with an error document.
  const root = xml(xhr);
  if (root && root.localName === 'Error') throw parseError(500, xhr.responseText);
}

export async function abortUpload(bucket, key, uploadId) {
  await send('DELETE', bucket, key, [['uploadId', uploadId]]);
}
