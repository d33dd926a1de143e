// The console's own API (/console/api/): the session and presigned URLs; and the one place
// where errors become messages a person understands (explain).

let session = null;

export class ApiError extends Error {
  constructor(status, code, message) {
    super(message);
    this.status = status;
    this.code = code;
  }
}

async function call(method, endpoint, body) {
  const headers = {};
  if (method !== 'GET') {
    headers['content-type'] = 'application/json';
    if (session) headers['x-tessera-csrf'] = session.csrf;
  }
  let resp;
  try {
    resp = await fetch(`/console/api/${endpoint}`, {
      method,
      headers,
      body: body === undefined ? undefined : JSON.stringify(body),
      credentials: 'same-origin',
      cache: 'no-store',
    });
  } catch (e) {
    throw new ApiError(0, 'Network', String(e));
  }
  if (resp.status === 204) return null;
  const data = await resp.json().catch(() => ({}));
  if (!resp.ok) {
    if (resp.status === 401 && endpoint !== 'login') {
      session = null;
      window.dispatchEvent(new Event('tessera-signed-out'));
    }
    throw new ApiError(resp.status, data.error || 'Error', data.message || resp.statusText);
  }
  return data;
}

export async function login(accessKey, secretKey) {
  session = await call('POST', 'login', { accessKey, secretKey });
  return session;
}

// The session the cookie names, if any (a reload keeps the sign-in).
export async function resume() {
  try {
    session = await call('GET', 'session');
  } catch (e) {
    session = null;
    if (e.status !== 401) throw e;
  }
  return session;
}

export async function logout() {
  try {
    await call('POST', 'logout');
  } finally {
    session = null;
  }
}

export function current() {
  return session;
}

// A URL for one S3 request signed for the session's key; `query` and `headers` (x-amz-*
// headers the request will carry, signed with their values) are lists of [name, value].
export async function presign(method, bucket, key = '', query = [], expires = undefined, headers = []) {
  return call('POST', 'presign', { method, bucket, key, query, expires, headers });
}

// Whether the session's key may write and delete under `prefix` of `bucket` (a hint: S3
// decides each request).
export async function access(bucket, prefix) {
  return call('GET', `access?bucket=${encodeURIComponent(bucket)}&prefix=${encodeURIComponent(prefix)}`);
}

export async function users() {
  return call('GET', 'users');
}

export async function addUser(name, policies) {
  return call('POST', 'users', { name, policies });
}

export async function setUserEnabled(name, enabled) {
  return call('POST', 'users/enable', { name, enabled });
}

export async function removeUser(name) {
  return call('POST', 'users/remove', { name });
}

export async function addKey(name) {
  return call('POST', 'users/keys', { name });
}

export async function userKeys(name) {
  return call('GET', `users/keys?name=${encodeURIComponent(name)}`);
}

export async function removeKey(accessKey) {
  return call('POST', 'users/keys/remove', { accessKey });
}

export async function attachPolicy(name, policy) {
  return call('POST', 'users/policies', { name, policy });
}

export async function policies() {
  return call('GET', 'policies');
}

export async function putPolicy(name, document) {
  return call('POST', 'policies', { name, document });
}

export async function traffic() {
  return call('GET', 'traffic');
}

export async function cluster() {
  return call('GET', 'cluster');
}

const MESSAGES = {
  AccessDenied: 'Access denied: this access key\'s policies do not allow it.',
  NoSuchBucket: 'The bucket does not exist (any more).',
  NoSuchKey: 'The object does not exist (any more).',
  BucketNotEmpty: 'The bucket is not empty: delete its objects first.',
  BucketAlreadyExists: 'A bucket of that name exists already.',
  BucketAlreadyOwnedByYou: 'A bucket of that name exists already.',
  InvalidBucketName: 'Invalid bucket name: use 3 to 63 of a-z 0-9 . -, starting and ending with a letter or digit.',
  EntityTooLarge: 'The file is too large for one request.',
  SlowDown: 'The node is busy: try again in a moment.',
  ServiceUnavailable: 'The node is starting or lacks its quorum: try again in a moment.',
  NoSession: 'Your session ended: sign in again.',
  BadLogin: 'Wrong access key or secret key.',
  RateLimited: 'Too many failed sign-ins from this address: wait a minute.',
  BadCsrfToken: 'The page is out of date: reload it.',
  Network: 'The node cannot be reached.',
  MalformedXML: 'The node could not read the document sent (malformed XML).',
  InvalidTag: 'Invalid tag: at most 10 tags, keys up to 128 and values up to 256 characters.',
  BadDigest: 'The data arrived damaged (its checksum does not match): send it again.',
  NoSuchUpload: 'The multipart upload does not exist any more (completed, aborted or expired).',
  NoSuchLifecycleConfiguration: 'The bucket has no lifecycle rules.',
};

// A message for a person, for an ApiError, an S3Error or anything else.
export function explain(err) {
  if (err && err.code && MESSAGES[err.code]) return MESSAGES[err.code];
  if (err && err.message) return err.message;
  return String(err);
}
