//! An in-memory [`ObjectApi`] for the core's unit tests: buckets as `BTreeMap`s of
//! objects, with the server's rules the core relies on (a listing rolls keys up at `/`
//! and pages with a continuation token; an aborted upload stores nothing; delete of a
//! missing key succeeds). It counts calls by name so tests can say what went over the wire,
//! can cap listing pages below what the core asks, to make paging cheap to exercise, and
//! fails the next call of a name on demand (`fail_next`), to see errors reach the caller.

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex, MutexGuard};

use async_trait::async_trait;
use bytes::{Bytes, BytesMut};
use tokio::sync::mpsc;

use crate::api::{
    ApiError, ApiResult, BucketInfo, ClusterInfoResponse, ListObjectsResponse, LookupResponse,
    ObjectApi, ObjectInfo, RangeBody, ServiceError, Timestamp, UploadTask,
};

/// A stored object.
#[derive(Clone, Debug)]
pub struct Object {
    /// Its data.
    pub data: Bytes,
    /// Its user metadata.
    pub meta: HashMap<String, String>,
}

#[derive(Default)]
struct State {
    buckets: BTreeMap<String, BTreeMap<String, Object>>,
    calls: HashMap<&'static str, usize>,
    /// Errors the next call of each name answers with.
    failures: HashMap<&'static str, ApiError>,
    /// How long each listing takes.
    list_delay: std::time::Duration,
}

/// The in-memory cluster.
#[derive(Clone, Default)]
pub struct Memory {
    state: Arc<Mutex<State>>,
    /// Largest listing page answered, whatever the caller asks (0: no cap).
    page_cap: u32,
}

fn not_found(what: &str) -> ApiError {
    ApiError::service(ServiceError::NotFound, format!("no such {what}"))
}

fn info(bucket: &str, key: &str, o: &Object) -> ObjectInfo {
    ObjectInfo {
        bucket: bucket.into(),
        key: key.into(),
        size: o.data.len() as u64,
        etag: {
            use std::hash::{Hash, Hasher};
            let mut h = std::hash::DefaultHasher::new();
            o.data.hash(&mut h);
            format!("{:016x}", h.finish())
        },
        modified: Some(Timestamp {
            seconds: 1_000,
            nanos: 0,
        }),
        user_metadata: o.meta.clone(),
        ..Default::default()
    }
}

impl Memory {
    /// A cluster with the buckets `names`, answering listings `page_cap` entries a page.
    pub fn new(names: &[&str], page_cap: u32) -> Self {
        let m = Self {
            state: Arc::default(),
            page_cap,
        };
        for name in names {
            m.lock().buckets.insert(name.to_string(), BTreeMap::new());
        }
        m
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Counts a call of `call`; fails it if a failure was injected for it.
    fn call(&self, call: &'static str) -> ApiResult<MutexGuard<'_, State>> {
        let mut s = self.lock();
        *s.calls.entry(call).or_default() += 1;
        match s.failures.remove(call) {
            Some(e) => Err(e),
            None => Ok(s),
        }
    }

    /// Makes the next call of `call` fail with `e`.
    pub fn fail_next(&self, call: &'static str, e: ApiError) {
        self.lock().failures.insert(call, e);
    }

    /// Makes every listing take `delay`.
    pub fn slow_lists(&self, delay: std::time::Duration) {
        self.lock().list_delay = delay;
    }

    /// How many times `call` was made.
    pub fn calls(&self, call: &str) -> usize {
        self.lock().calls.get(call).copied().unwrap_or(0)
    }

    /// Puts an object out of band (as an S3 client would).
    pub fn insert(&self, bucket: &str, key: &str, data: &[u8]) {
        let object = Object {
            data: Bytes::copy_from_slice(data),
            meta: HashMap::new(),
        };
        self.lock()
            .buckets
            .entry(bucket.into())
            .or_default()
            .insert(key.into(), object);
    }

    /// The object at `bucket/key`.
    pub fn object(&self, bucket: &str, key: &str) -> Option<Object> {
        self.lock().buckets.get(bucket)?.get(key).cloned()
    }

    /// Every key of `bucket`, in order.
    pub fn keys(&self, bucket: &str) -> Vec<String> {
        self.lock()
            .buckets
            .get(bucket)
            .map(|b| b.keys().cloned().collect())
            .unwrap_or_default()
    }

    fn store(&self, bucket: &str, key: &str, object: Object) -> ApiResult<ObjectInfo> {
        let mut s = self.lock();
        let b = s
            .buckets
            .get_mut(bucket)
            .ok_or_else(|| not_found("bucket"))?;
        let i = info(bucket, key, &object);
        b.insert(key.into(), object);
        Ok(i)
    }
}

#[async_trait]
impl ObjectApi for Memory {
    async fn list_buckets(&self) -> ApiResult<Vec<BucketInfo>> {
        let s = self.call("list_buckets")?;
        Ok(s.buckets
            .keys()
            .map(|name| BucketInfo {
                name: name.clone(),
                created: None,
            })
            .collect())
    }

    async fn head_bucket(&self, bucket: &str) -> ApiResult<BucketInfo> {
        let s = self.call("head_bucket")?;
        s.buckets.get(bucket).ok_or_else(|| not_found("bucket"))?;
        Ok(BucketInfo {
            name: bucket.into(),
            created: None,
        })
    }

    async fn create_bucket(&self, bucket: &str) -> ApiResult<()> {
        let mut s = self.call("create_bucket")?;
        if s.buckets.contains_key(bucket) {
            return Err(ApiError::service(ServiceError::AlreadyExists, "exists"));
        }
        s.buckets.insert(bucket.into(), BTreeMap::new());
        Ok(())
    }

    async fn delete_bucket(&self, bucket: &str) -> ApiResult<()> {
        let mut s = self.call("delete_bucket")?;
        match s.buckets.get(bucket) {
            None => Err(not_found("bucket")),
            Some(b) if !b.is_empty() => Err(ApiError::service(ServiceError::NotEmpty, "not empty")),
            Some(_) => {
                s.buckets.remove(bucket);
                Ok(())
            }
        }
    }

    async fn head(&self, bucket: &str, key: &str) -> ApiResult<ObjectInfo> {
        let s = self.call("head")?;
        let b = s.buckets.get(bucket).ok_or_else(|| not_found("bucket"))?;
        let o = b.get(key).ok_or_else(|| not_found("key"))?;
        Ok(info(bucket, key, o))
    }

    async fn lookup(&self, bucket: &str, key: &str) -> ApiResult<LookupResponse> {
        let s = self.call("lookup")?;
        let b = s.buckets.get(bucket).ok_or_else(|| not_found("bucket"))?;
        let dir = format!("{key}/");
        Ok(LookupResponse {
            object: b.get(key).map(|o| info(bucket, key, o)),
            marker: b.get(&dir).map(|o| info(bucket, &dir, o)),
            is_prefix: b
                .range(dir.clone()..)
                .next()
                .is_some_and(|(k, _)| k.starts_with(&dir)),
        })
    }

    async fn list(
        &self,
        bucket: &str,
        prefix: &str,
        delimiter: bool,
        token: &str,
        max_keys: u32,
    ) -> ApiResult<ListObjectsResponse> {
        let delay = self.lock().list_delay;
        if !delay.is_zero() {
            tokio::time::sleep(delay).await;
        }
        let s = self.call("list")?;
        let b = s.buckets.get(bucket).ok_or_else(|| not_found("bucket"))?;
        let cap = match self.page_cap {
            0 => max_keys,
            cap => cap.min(max_keys),
        } as usize;
        let mut out = ListObjectsResponse::default();
        let mut last = String::new();
        let mut taken = 0;
        for (key, o) in b.range(prefix.to_string()..) {
            if !key.starts_with(prefix) {
                break;
            }
            // The token names the last key (`k`) or common prefix (`p`) of the page before.
            let after = match token.split_at_checked(1) {
                Some(("k", last)) => key.as_str() > last,
                Some(("p", last)) => key.as_str() > last && !key.starts_with(last),
                _ => true,
            };
            if !after {
                continue;
            }
            let rolled = delimiter
                .then(|| key[prefix.len()..].find('/'))
                .flatten()
                .map(|i| key[..prefix.len() + i + 1].to_string());
            if let Some(p) = &rolled
                && out.common_prefixes.last() == Some(p)
            {
                continue;
            }
            if taken == cap {
                out.truncated = true;
                out.next_continuation_token = last;
                return Ok(out);
            }
            taken += 1;
            match rolled {
                Some(p) => {
                    last = format!("p{p}");
                    out.common_prefixes.push(p);
                }
                None => {
                    last = format!("k{key}");
                    out.objects.push(info(bucket, key, o));
                }
            }
        }
        Ok(out)
    }

    async fn get(&self, bucket: &str, key: &str, start: u64, end: u64) -> ApiResult<RangeBody> {
        let s = self.call("get")?;
        let b = s.buckets.get(bucket).ok_or_else(|| not_found("bucket"))?;
        let o = b.get(key).ok_or_else(|| not_found("key"))?;
        let len = o.data.len() as u64;
        let data = o.data.slice(start.min(len) as usize..end.min(len) as usize);
        // Chunks of 64 KiB, as a stream of messages would bring them.
        let chunks: Vec<ApiResult<Bytes>> = data
            .chunks(64 << 10)
            .map(|c| Ok(Bytes::copy_from_slice(c)))
            .collect();
        Ok(RangeBody::new(
            &info(bucket, key, o),
            futures::stream::iter(chunks),
        ))
    }

    async fn delete(&self, bucket: &str, key: &str) -> ApiResult<()> {
        let mut s = self.call("delete")?;
        let b = s
            .buckets
            .get_mut(bucket)
            .ok_or_else(|| not_found("bucket"))?;
        b.remove(key);
        Ok(())
    }

    async fn delete_many(&self, bucket: &str, keys: Vec<String>) -> ApiResult<Vec<ApiResult<()>>> {
        let mut s = self.call("delete_many")?;
        let b = s
            .buckets
            .get_mut(bucket)
            .ok_or_else(|| not_found("bucket"))?;
        Ok(keys.iter().map(|k| b.remove(k)).map(|_| Ok(())).collect())
    }

    async fn rename(&self, bucket: &str, src: &str, dst: &str) -> ApiResult<ObjectInfo> {
        let mut s = self.call("rename")?;
        let b = s
            .buckets
            .get_mut(bucket)
            .ok_or_else(|| not_found("bucket"))?;
        let o = b.remove(src).ok_or_else(|| not_found("key"))?;
        let i = info(bucket, dst, &o);
        b.insert(dst.into(), o);
        Ok(i)
    }

    async fn rename_prefix(&self, bucket: &str, src: &str, dst: &str) -> ApiResult<u64> {
        let mut s = self.call("rename_prefix")?;
        let b = s
            .buckets
            .get_mut(bucket)
            .ok_or_else(|| not_found("bucket"))?;
        let keys: Vec<String> = b.keys().filter(|k| k.starts_with(src)).cloned().collect();
        for key in &keys {
            if let Some(o) = b.remove(key) {
                b.insert(format!("{dst}{}", &key[src.len()..]), o);
            }
        }
        Ok(keys.len() as u64)
    }

    async fn update_metadata(
        &self,
        bucket: &str,
        key: &str,
        set: HashMap<String, String>,
        remove: Vec<String>,
    ) -> ApiResult<ObjectInfo> {
        let mut s = self.call("update_metadata")?;
        let b = s
            .buckets
            .get_mut(bucket)
            .ok_or_else(|| not_found("bucket"))?;
        let o = b.get_mut(key).ok_or_else(|| not_found("key"))?;
        o.meta.extend(set);
        o.meta.retain(|k, _| !remove.contains(k));
        Ok(info(bucket, key, o))
    }

    async fn cluster_info(&self) -> ApiResult<ClusterInfoResponse> {
        drop(self.call("cluster_info")?);
        Ok(ClusterInfoResponse {
            total_bytes: 3 << 30,
            free_bytes: 2 << 30,
            usable_free_bytes: 1 << 30,
            ..Default::default()
        })
    }

    fn upload(
        &self,
        bucket: &str,
        key: &str,
        metadata: HashMap<String, String>,
        size: Option<u64>,
    ) -> (mpsc::Sender<Option<Bytes>>, UploadTask) {
        let failed = self.call("upload").err();
        let (tx, mut rx) = mpsc::channel::<Option<Bytes>>(4);
        let (me, bucket, key) = (self.clone(), bucket.to_string(), key.to_string());
        let task = tokio::spawn(async move {
            if let Some(e) = failed {
                return Err(e);
            }
            let mut data = BytesMut::new();
            while let Some(chunk) = rx.recv().await {
                match chunk {
                    Some(chunk) => data.extend_from_slice(&chunk),
                    None => return Err(ApiError::service(ServiceError::Other, "aborted")),
                }
            }
            if size.is_some_and(|n| n != data.len() as u64) {
                return Err(ApiError::service(ServiceError::InvalidArgument, "size"));
            }
            let object = Object {
                data: data.freeze(),
                meta: metadata,
            };
            me.store(&bucket, &key, object)
        });
        (tx, task)
    }

    async fn put_bytes(
        &self,
        bucket: &str,
        key: &str,
        metadata: HashMap<String, String>,
        data: Bytes,
    ) -> ApiResult<ObjectInfo> {
        drop(self.call("put_bytes")?);
        self.store(
            bucket,
            key,
            Object {
                data,
                meta: metadata,
            },
        )
    }
}
