//! The console's JSON API under `/console/api/`:
//!
//! | endpoint | method | needs | answer |
//! |---|---|---|---|
//! | `login` | POST `{accessKey, secretKey}` | a usable key, the address not rate-limited | `{accessKey, csrf, expiresIn}` + the session cookie |
//! | `session` | GET | a session | `{accessKey, csrf, expiresIn}` |
//! | `logout` | POST | a session, its CSRF token | 204, the cookie cleared |
//! | `presign` | POST `{method, bucket, key, query, headers, expires}` | a session, its CSRF token | `{url, path}` |
//! | `cluster` | GET | a session whose key is allowed `admin:ServerInfo` | sets, drives, heal queue |
//! | `users` | GET / POST `{name, policies}` | `admin:ListUsers` / `admin:CreateUser` (+ CSRF) | the users / the new key and its secret, once |
//! | `users/enable`, `users/remove`, `users/keys` | POST `{name, enabled}` / `{name}` / `{name}` | `admin:EnableUser` or `DisableUser` / `admin:DeleteUser` / `admin:CreateServiceAccount` (+ CSRF) | the change / the new key and its secret, once |
//! | `users/keys?name=U` | GET | `admin:ListServiceAccounts` | `{name, keys: [{accessKey, expires, hasPolicy}]}` (no secrets) |
//! | `users/keys/remove`, `users/policies` | POST `{accessKey}` / `{name, policy}` | `admin:RemoveServiceAccount` / `admin:AttachUserOrGroupPolicy` (+ CSRF) | the change |
//! | `policies` | GET / POST `{name, document}` | `admin:ListPolicies` / `admin:CreatePolicy` (+ CSRF) | the named policies / the saved name |
//! | `traffic` | GET | a session whose key is allowed `admin:Prometheus` | this node's request and byte counters |
//! | `access?bucket=B&prefix=P` | GET | a session | `{put, delete}`: whether the key's policies allow writing and deleting at `P` (the page disables what is refused; S3 still decides) |
//!
//! Invariants: a sign-in is a JSON body (`Content-Type: application/json`, which no
//! cross-site form can send without a preflight); the cookie holds only the session id and is `HttpOnly; SameSite=Strict;
//! Path=/console` (`Secure` over TLS); every POST but `login` needs the session's CSRF
//! token in [`CSRF_HEADER`]; a presigned URL is signed with the key's current secret (a
//! key removed or disabled after sign-in gets no more URLs).

use std::time::{Instant, SystemTime, UNIX_EPOCH};

use bytes::Bytes;
use http::header::{COOKIE, HOST, HeaderValue, SET_COOKIE};
use http::{Method, Response, StatusCode};
use http_body_util::BodyExt;
use percent_encoding::percent_decode_str;
use serde::Deserialize;

use super::presign::{self, Presign, Signer};
use super::session::{Session, same_token};
use super::{Console, ConsoleError, MAX_BODY, json};
use crate::iam::Env;
use crate::object::DriveState;
use crate::policy::{Action, Check, Need};
use crate::s3::MAX_PRESIGNED_EXPIRY;

/// The cookie naming the session.
pub const COOKIE_NAME: &str = "tessera_console";
/// The header carrying the CSRF token.
pub const CSRF_HEADER: &str = "x-tessera-csrf";
/// A presigned URL's default lifetime (the browser's own calls).
const DEFAULT_EXPIRY: u64 = 300;

/// One API call's context.
pub(super) struct Call<'a> {
    pub console: &'a Console,
    pub env: Env,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Login {
    access_key: String,
    secret_key: String,
}

#[derive(Deserialize)]
struct PresignRequest {
    method: String,
    #[serde(default)]
    bucket: String,
    #[serde(default)]
    key: String,
    #[serde(default)]
    query: Vec<(String, String)>,
    #[serde(default)]
    headers: Vec<(String, String)>,
    #[serde(default)]
    expires: Option<u64>,
}

fn unix_now() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX))
}

/// The session id of the request's cookie, if any.
fn session_id(headers: &http::HeaderMap) -> Option<&str> {
    (headers.get_all(COOKIE).iter())
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .find_map(|pair| {
            let (name, value) = pair.trim().split_once('=')?;
            (name == COOKIE_NAME).then_some(value)
        })
}

/// Reads a JSON body of at most `MAX_BODY` bytes.
async fn read_json<T, B>(body: B) -> Result<T, ConsoleError>
where
    T: for<'de> Deserialize<'de>,
    B: http_body::Body<Data = Bytes> + Send,
    B::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
{
    let collected = http_body_util::Limited::new(body, MAX_BODY)
        .collect()
        .await
        .map_err(|e| {
            if e.is::<http_body_util::LengthLimitError>() {
                ConsoleError::TooLarge
            } else {
                ConsoleError::BadRequest(format!("cannot read the body: {e}"))
            }
        })?;
    serde_json::from_slice(&collected.to_bytes())
        .map_err(|e| ConsoleError::BadRequest(format!("invalid JSON: {e}")))
}

fn session_json(access_key: &str, s: &Session, now: Instant) -> serde_json::Value {
    serde_json::json!({
        "accessKey": access_key,
        "csrf": s.csrf,
        "expiresIn": s.expires.saturating_duration_since(now).as_secs(),
    })
}

impl Call<'_> {
    /// The answer to `endpoint` (the path after `/console/api/`).
    pub async fn answer<B>(
        &self,
        endpoint: &str,
        req: http::Request<B>,
    ) -> Result<Response<Bytes>, ConsoleError>
    where
        B: http_body::Body<Data = Bytes> + Send,
        B::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
    {
        let (parts, body) = req.into_parts();
        match (endpoint, &parts.method) {
            ("login", &Method::POST) => {
                // A cross-site form can post text/plain without a preflight; JSON it cannot.
                let json = (parts.headers.get(http::header::CONTENT_TYPE))
                    .and_then(|v| v.to_str().ok())
                    .is_some_and(|v| v.trim_start().starts_with("application/json"));
                if !json {
                    return Err(ConsoleError::ContentType);
                }
                self.login(read_json(body).await?).await
            }
            ("session", &Method::GET) => {
                let (_, s) = self.session(&parts.headers).await?;
                Ok(json(&session_json(&s.access_key, &s, Instant::now())))
            }
            ("logout", &Method::POST) => {
                let (id, _) = self.guarded(&parts.headers).await?;
                self.console.sessions.close(&id).await;
                let mut resp = Response::new(Bytes::new());
                *resp.status_mut() = StatusCode::NO_CONTENT;
                let clear = format!("{COOKIE_NAME}=; {}; Max-Age=0", self.cookie_attributes());
                set_cookie(&mut resp, &clear)?;
                Ok(resp)
            }
            ("presign", &Method::POST) => {
                let (_, s) = self.guarded(&parts.headers).await?;
                let host = host(&parts)?;
                self.presign(&s, &host, read_json(body).await?).await
            }
            ("cluster", &Method::GET) => {
                let (_, s) = self.session(&parts.headers).await?;
                self.cluster(&s).await
            }
            ("access", &Method::GET) => {
                let (_, s) = self.session(&parts.headers).await?;
                self.access(&s, parts.uri.query().unwrap_or_default()).await
            }
            ("users", &Method::GET) => {
                let (_, s) = self.session(&parts.headers).await?;
                self.users(&s).await
            }
            ("users", &Method::POST) => {
                let (_, s) = self.guarded(&parts.headers).await?;
                self.add_user(&s, read_json(body).await?).await
            }
            ("traffic", &Method::GET) => {
                let (_, s) = self.session(&parts.headers).await?;
                self.traffic(&s).await
            }
            ("users/enable", &Method::POST) => {
                let (_, s) = self.guarded(&parts.headers).await?;
                self.set_enabled(&s, read_json(body).await?).await
            }
            ("users/remove", &Method::POST) => {
                let (_, s) = self.guarded(&parts.headers).await?;
                self.remove_user(&s, read_json(body).await?).await
            }
            ("users/keys", &Method::GET) => {
                let (_, s) = self.session(&parts.headers).await?;
                let name = query_param(parts.uri.query().unwrap_or_default(), "name")
                    .ok_or_else(|| ConsoleError::BadRequest("say which user: name=".into()))?;
                self.user_keys(&s, &name).await
            }
            ("users/keys/remove", &Method::POST) => {
                let (_, s) = self.guarded(&parts.headers).await?;
                self.remove_key(&s, read_json(body).await?).await
            }
            ("users/policies", &Method::POST) => {
                let (_, s) = self.guarded(&parts.headers).await?;
                self.attach_policy(&s, read_json(body).await?).await
            }
            ("users/keys", &Method::POST) => {
                let (_, s) = self.guarded(&parts.headers).await?;
                self.add_key(&s, read_json(body).await?).await
            }
            ("policies", &Method::GET) => {
                let (_, s) = self.session(&parts.headers).await?;
                self.policies(&s).await
            }
            ("policies", &Method::POST) => {
                let (_, s) = self.guarded(&parts.headers).await?;
                self.put_policy(&s, read_json(body).await?).await
            }
            (
                "login" | "logout" | "presign" | "session" | "cluster" | "access" | "users"
                | "users/enable" | "users/remove" | "users/keys" | "users/keys/remove"
                | "users/policies" | "policies" | "traffic",
                _,
            ) => Err(ConsoleError::Method),
            _ => Err(ConsoleError::NotFound),
        }
    }

    fn cookie_attributes(&self) -> &'static str {
        if self.env.secure {
            "HttpOnly; SameSite=Strict; Path=/console; Secure"
        } else {
            "HttpOnly; SameSite=Strict; Path=/console"
        }
    }

    /// The live session the request's cookie names.
    async fn session(&self, headers: &http::HeaderMap) -> Result<(String, Session), ConsoleError> {
        let id = session_id(headers).ok_or(ConsoleError::NoSession)?;
        let s =
            (self.console.sessions.get(id, Instant::now()).await).ok_or(ConsoleError::NoSession)?;
        Ok((id.to_owned(), s))
    }

    /// The live session, for a state-changing call: its CSRF token must be in the request.
    async fn guarded(&self, headers: &http::HeaderMap) -> Result<(String, Session), ConsoleError> {
        let (id, s) = self.session(headers).await?;
        let token = (headers.get(CSRF_HEADER))
            .and_then(|v| v.to_str().ok())
            .ok_or(ConsoleError::Csrf)?;
        if !same_token(token, &s.csrf) {
            return Err(ConsoleError::Csrf);
        }
        Ok((id, s))
    }

    async fn login(&self, login: Login) -> Result<Response<Bytes>, ConsoleError> {
        let (console, addr, now) = (self.console, self.env.source_ip, Instant::now());
        if !console.limiter.admits(addr, now).await {
            return Err(ConsoleError::RateLimited);
        }
        let matches = match console.iam.resolve(&login.access_key).await {
            Ok((secret, _)) => same_token(&secret, &login.secret_key),
            Err(_) => false,
        };
        if !matches {
            console.limiter.failed(addr, now).await;
            tracing::info!(source = ?addr, "console sign-in refused");
            return Err(ConsoleError::BadLogin);
        }
        let (id, s) = console.sessions.open(&login.access_key, now).await;
        tracing::info!(access_key = %login.access_key, "console sign-in");
        let mut resp = json(&session_json(&login.access_key, &s, now));
        let cookie = format!(
            "{COOKIE_NAME}={id}; {}; Max-Age={}",
            self.cookie_attributes(),
            console.sessions.ttl().as_secs()
        );
        set_cookie(&mut resp, &cookie)?;
        Ok(resp)
    }

    async fn presign(
        &self,
        s: &Session,
        host: &str,
        req: PresignRequest,
    ) -> Result<Response<Bytes>, ConsoleError> {
        let method = req.method.to_ascii_uppercase();
        if !matches!(method.as_str(), "GET" | "PUT" | "POST" | "DELETE" | "HEAD") {
            return Err(ConsoleError::BadRequest(format!("method {method}")));
        }
        let expires = req.expires.unwrap_or(DEFAULT_EXPIRY);
        if !(1..=MAX_PRESIGNED_EXPIRY).contains(&expires) {
            return Err(ConsoleError::BadRequest(format!(
                "expiry {expires} s: choose 1 s to 7 days"
            )));
        }
        if let Some((name, _)) = (req.headers.iter()).find(|(n, v)| !presign::signable(n, v)) {
            return Err(ConsoleError::BadRequest(format!(
                "header {name:?}: only x-amz-* headers with plain values are signed"
            )));
        }
        if req.bucket.is_empty() && !req.key.is_empty() {
            return Err(ConsoleError::BadRequest("a key needs a bucket".into()));
        }
        let (secret, _) = self.console.iam.resolve(&s.access_key).await?;
        let signer = Signer {
            access_key: &s.access_key,
            secret_key: &secret,
            region: &self.console.region,
        };
        let path = presign::presign(
            signer,
            &Presign {
                method: &method,
                host,
                bucket: &req.bucket,
                key: &req.key,
                query: &req.query,
                headers: &req.headers,
                expires,
                now: unix_now(),
            },
        );
        let scheme = if self.env.secure { "https" } else { "http" };
        Ok(json(&serde_json::json!({
            "path": path,
            "url": format!("{scheme}://{host}{path}"),
        })))
    }

    /// Whether the session's key may put and delete at a prefix: a hint for the page, from
    /// the one authorization check S3 also uses (`Iam::authorize`).
    async fn access(&self, s: &Session, query: &str) -> Result<Response<Bytes>, ConsoleError> {
        let param = |name: &str| query_param(query, name);
        let bucket = param("bucket")
            .filter(|b| !b.is_empty())
            .ok_or_else(|| ConsoleError::BadRequest("access needs a bucket".into()))?;
        let prefix = param("prefix").unwrap_or_default();
        let console = self.console;
        let (_, identity) = console.iam.resolve(&s.access_key).await?;
        let may = |action| {
            let need = Need {
                checks: vec![Check {
                    action,
                    bucket: Some(bucket.clone()),
                    key: Some(prefix.clone()),
                }],
                listing: Default::default(),
            };
            let (iam, identity, env) = (&console.iam, &identity, &self.env);
            async move { iam.authorize(Some(identity), &need, env).await.is_ok() }
        };
        Ok(json(&serde_json::json!({
            "put": may(Action::PutObject).await,
            "delete": may(Action::DeleteObject).await,
        })))
    }

    async fn cluster(&self, s: &Session) -> Result<Response<Bytes>, ConsoleError> {
        let console = self.console;
        let (_, identity) = console.iam.resolve(&s.access_key).await?;
        let need = Need {
            checks: vec![Check {
                action: Action::ServerInfo,
                bucket: None,
                key: None,
            }],
            listing: Default::default(),
        };
        console
            .iam
            .authorize(Some(&identity), &need, &self.env)
            .await?;
        let info = console.layer.cluster_info().await;
        let sets: Vec<_> = (info.sets.iter())
            .map(|set| {
                let drives: Vec<_> = (set.drives.iter())
                    .map(|d| {
                        serde_json::json!({
                            "endpoint": d.endpoint,
                            "state": match d.state {
                                DriveState::Online => "online",
                                DriveState::Offline => "offline",
                                DriveState::Unformatted => "unformatted",
                            },
                            "total": d.total,
                            "used": d.used,
                            "free": d.free,
                            "error": d.error,
                        })
                    })
                    .collect();
                serde_json::json!({
                    "pool": set.pool,
                    "set": set.index,
                    "data": set.data,
                    "parity": set.parity,
                    "drives": drives,
                })
            })
            .collect();
        let (healed, failed, scanned, last_cycle) = console.metrics.heal.totals();
        Ok(json(&serde_json::json!({
            "deploymentId": info.deployment_id,
            "writable": console.layer.writable(false),
            "healQueue": console.layer.queued_heals().await,
            "healed": healed,
            "healFailures": failed,
            "scanned": scanned,
            "lastScanSeconds": last_cycle,
            "sets": sets,
        })))
    }
}

/// The host the browser addressed (what a presigned URL must be signed for).
fn host(parts: &http::request::Parts) -> Result<String, ConsoleError> {
    let host = (parts.headers.get(HOST))
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned)
        .or_else(|| parts.uri.authority().map(|a| a.to_string()))
        .ok_or_else(|| ConsoleError::BadRequest("no Host header".into()))?;
    if host.is_empty() || host.bytes().any(|b| b <= b' ' || b == b'/' || b >= 0x7f) {
        return Err(ConsoleError::BadRequest("invalid Host header".into()));
    }
    Ok(host)
}

fn set_cookie(resp: &mut Response<Bytes>, cookie: &str) -> Result<(), ConsoleError> {
    let value = HeaderValue::from_str(cookie)
        .map_err(|_| ConsoleError::BadRequest("invalid cookie".into()))?;
    resp.headers_mut().insert(SET_COOKIE, value);
    Ok(())
}

/// The percent-decoded value of `name` in query string `query`.
fn query_param(query: &str, name: &str) -> Option<String> {
    (query.split('&'))
        .filter_map(|pair| pair.split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| percent_decode_str(v).decode_utf8_lossy().into_owned())
}
