//! CORS, so browser apps can use a bucket (uploads with presigned URLs among them):
//! PutBucketCors, GetBucketCors and DeleteBucketCors keep a bucket's rules in the identity
//! store (`iam::cors`, beside its policy); the router answers a preflight `OPTIONS` from
//! them before s3s sees it ([`Cors::preflight`]: unauthenticated, as browsers send it), and
//! gives every other answer to a request with an `Origin` the headers its matching rule
//! allows ([`Cors::decorate`]), errors included, so the page can read them.
//!
//! A preflight no rule allows, on a bucket without rules or without the bucket, is 403
//! AccessForbidden (as S3, and without telling which). Tested end to end in `s3_cors`.

use std::sync::Arc;

use http::header::{
    ACCESS_CONTROL_ALLOW_CREDENTIALS, ACCESS_CONTROL_ALLOW_HEADERS, ACCESS_CONTROL_ALLOW_METHODS,
    ACCESS_CONTROL_ALLOW_ORIGIN, ACCESS_CONTROL_EXPOSE_HEADERS, ACCESS_CONTROL_MAX_AGE,
    ACCESS_CONTROL_REQUEST_HEADERS, ACCESS_CONTROL_REQUEST_METHOD, ORIGIN, VARY,
};
use http::{HeaderMap, HeaderValue, Response, StatusCode};
use s3s::dto::*;
use s3s::host::S3Host;
use s3s::{S3ErrorCode, S3Request, S3Response, S3Result};

use super::edge::DomainHost;
use super::error::{error_response, iam_to_s3, s3_err, to_s3};
use crate::iam::Iam;
use crate::iam::cors::{CorsRule, matching};
use crate::object::ObjectLayer;

pub async fn put_bucket_cors(
    layer: &ObjectLayer,
    iam: &Iam,
    req: S3Request<PutBucketCorsInput>,
) -> S3Result<S3Response<PutBucketCorsOutput>> {
    let bucket = req.input.bucket;
    layer.head_bucket(&bucket).await.map_err(to_s3)?;
    let rules: Vec<CorsRule> = (req.input.cors_configuration.cors_rules.into_iter())
        .map(|r| CorsRule {
            id: r.id,
            allowed_origins: r.allowed_origins,
            allowed_methods: r.allowed_methods,
            allowed_headers: r.allowed_headers.unwrap_or_default(),
            expose_headers: r.expose_headers.unwrap_or_default(),
            max_age_seconds: r.max_age_seconds,
        })
        .collect();
    iam.change(|s| s.set_bucket_cors(&bucket, Some(rules)))
        .await
        .map_err(iam_to_s3)?;
    Ok(S3Response::new(PutBucketCorsOutput {}))
}

pub async fn get_bucket_cors(
    layer: &ObjectLayer,
    iam: &Iam,
    req: S3Request<GetBucketCorsInput>,
) -> S3Result<S3Response<GetBucketCorsOutput>> {
    let bucket = req.input.bucket;
    layer.head_bucket(&bucket).await.map_err(to_s3)?;
    let rules = iam.bucket_cors(&bucket).await.ok_or_else(|| {
        s3_err(
            S3ErrorCode::NoSuchCORSConfiguration,
            "The CORS configuration does not exist",
        )
    })?;
    let nonempty = |v: Vec<String>| (!v.is_empty()).then_some(v);
    Ok(S3Response::new(GetBucketCorsOutput {
        cors_rules: Some(
            rules
                .into_iter()
                .map(|r| CORSRule {
                    id: r.id,
                    allowed_origins: r.allowed_origins,
                    allowed_methods: r.allowed_methods,
                    allowed_headers: nonempty(r.allowed_headers),
                    expose_headers: nonempty(r.expose_headers),
                    max_age_seconds: r.max_age_seconds,
                })
                .collect(),
        ),
    }))
}

pub async fn delete_bucket_cors(
    layer: &ObjectLayer,
    iam: &Iam,
    req: S3Request<DeleteBucketCorsInput>,
) -> S3Result<S3Response<DeleteBucketCorsOutput>> {
    let bucket = req.input.bucket;
    layer.head_bucket(&bucket).await.map_err(to_s3)?;
    iam.change(|s| s.set_bucket_cors(&bucket, None))
        .await
        .map_err(iam_to_s3)?;
    Ok(S3Response::new(DeleteBucketCorsOutput {}))
}

/// CORS at the router: preflights answered, answers to browsers decorated.
#[derive(Clone)]
pub struct Cors {
    iam: Arc<Iam>,
    host: Option<Arc<DomainHost>>,
}

/// What a request tells of its browser origin, read before s3s takes the request.
pub struct Origin {
    origin: String,
    method: String,
    bucket: String,
}

impl Cors {
    /// CORS over the rules in `iam`, buckets named as the S3 service names them (`domain`).
    pub fn new(iam: Arc<Iam>, domain: Option<&str>) -> Self {
        Self {
            iam,
            host: domain.map(|d| Arc::new(DomainHost::new(d))),
        }
    }

    /// The bucket a request names: its virtual host, or the first segment of its path.
    fn bucket(&self, parts: &http::request::Parts) -> Option<String> {
        if let Some(host) = &self.host
            && let Some(name) = parts.headers.get(http::header::HOST)
            && let Ok(name) = name.to_str()
            && let Ok(vh) = host.parse_host_header(name)
            && let Some(bucket) = vh.bucket()
        {
            return Some(bucket.to_owned());
        }
        let first = parts.uri.path().trim_start_matches('/').split('/').next()?;
        let bucket = percent_encoding::percent_decode_str(first)
            .decode_utf8()
            .ok()?;
        (!bucket.is_empty()).then(|| bucket.into_owned())
    }

    /// The origin of a browser's request to a bucket; `None` for other requests.
    pub fn origin(&self, parts: &http::request::Parts) -> Option<Origin> {
        let origin = parts.headers.get(ORIGIN)?.to_str().ok()?.to_owned();
        Some(Origin {
            origin,
            method: parts.method.as_str().to_owned(),
            bucket: self.bucket(parts)?,
        })
    }

    /// The answer to a preflight `OPTIONS` request.
    pub async fn preflight(&self, parts: &http::request::Parts) -> Response<s3s::Body> {
        let header = |name: http::HeaderName| {
            parts
                .headers
                .get(name)
                .and_then(|v: &HeaderValue| v.to_str().ok())
        };
        let (Some(origin), Some(method)) = (header(ORIGIN), header(ACCESS_CONTROL_REQUEST_METHOD))
        else {
            return error_response(
                StatusCode::BAD_REQUEST,
                "BadRequest",
                "Insufficient information. Origin and Access-Control-Request-Method request \
                 headers needed.",
            );
        };
        let asked: Vec<&str> = header(ACCESS_CONTROL_REQUEST_HEADERS)
            .unwrap_or_default()
            .split(',')
            .map(str::trim)
            .filter(|h| !h.is_empty())
            .collect();
        let rules = match self.bucket(parts) {
            Some(bucket) => self.iam.bucket_cors(&bucket).await,
            None => None,
        };
        let Some(rule) = rules
            .as_deref()
            .and_then(|rules| matching(rules, origin, method, &asked))
        else {
            return error_response(
                StatusCode::FORBIDDEN,
                "AccessForbidden",
                "CORSResponse: This CORS request is not allowed. This is usually because the \
                 evaluation of Origin, request method / Access-Control-Request-Method or \
                 Access-Control-Request-Headers are not whitelisted by the resource's CORS spec.",
            );
        };
        let mut resp = Response::new(s3s::Body::empty());
        let h = resp.headers_mut();
        allow(h, rule, origin);
        if !asked.is_empty() {
            set(h, ACCESS_CONTROL_ALLOW_HEADERS, &asked.join(", "));
        }
        if let Some(age) = rule.max_age_seconds {
            set(h, ACCESS_CONTROL_MAX_AGE, &age.to_string());
        }
        set(
            h,
            VARY,
            "Origin, Access-Control-Request-Headers, Access-Control-Request-Method",
        );
        resp
    }

    /// Adds to the answer of a browser's request the headers its bucket's matching rule
    /// allows; nothing when no rule matches.
    pub async fn decorate(&self, origin: &Origin, resp: &mut Response<s3s::Body>) {
        let Some(rules) = self.iam.bucket_cors(&origin.bucket).await else {
            return;
        };
        let Some(rule) = matching(&rules, &origin.origin, &origin.method, &[]) else {
            return;
        };
        let h = resp.headers_mut();
        allow(h, rule, &origin.origin);
        if !rule.expose_headers.is_empty() {
            set(
                h,
                ACCESS_CONTROL_EXPOSE_HEADERS,
                &rule.expose_headers.join(", "),
            );
        }
        set(h, VARY, "Origin");
    }
}

/// The headers a matching rule gives every answer: the origin (`*` when the rule allows
/// any, without credentials then) and the rule's methods.
fn allow(h: &mut HeaderMap, rule: &CorsRule, origin: &str) {
    if rule.allowed_origins.iter().any(|o| o == "*") {
        set(h, ACCESS_CONTROL_ALLOW_ORIGIN, "*");
    } else {
        set(h, ACCESS_CONTROL_ALLOW_ORIGIN, origin);
        set(h, ACCESS_CONTROL_ALLOW_CREDENTIALS, "true");
    }
    set(
        h,
        ACCESS_CONTROL_ALLOW_METHODS,
        &rule.allowed_methods.join(", "),
    );
}

fn set(h: &mut HeaderMap, name: http::HeaderName, value: &str) {
    if let Ok(v) = HeaderValue::from_str(value) {
        h.insert(name, v);
    }
}
