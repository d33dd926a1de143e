//! The console's static files (`daemon/console/`), embedded in the binary at compile time:
//! plain HTML, CSS and ES modules, no build step, nothing fetched from elsewhere.
//!
//! Invariants: only the files listed in [`FILES`] are served, each with its content type;
//! `/console` redirects to `/console/`, which is `index.html`; no page holds inline script
//! (the CSP forbids it).

use bytes::Bytes;
use http::header::{CONTENT_TYPE, HeaderValue, LOCATION};
use http::{Method, Response, StatusCode};

use super::ConsoleError;

/// Path under `/console/`, content type, content.
const FILES: &[(&str, &str, &str)] = &[
    (
        "",
        "text/html; charset=utf-8",
        include_str!("../../console/index.html"),
    ),
    (
        "app.css",
        "text/css; charset=utf-8",
        include_str!("../../console/app.css"),
    ),
    (
        "js/app.js",
        "text/javascript; charset=utf-8",
        include_str!("../../console/js/app.js"),
    ),
    (
        "js/api.js",
        "text/javascript; charset=utf-8",
        include_str!("../../console/js/api.js"),
    ),
    (
        "js/dom.js",
        "text/javascript; charset=utf-8",
        include_str!("../../console/js/dom.js"),
    ),
    (
        "js/s3.js",
        "text/javascript; charset=utf-8",
        include_str!("../../console/js/s3.js"),
    ),
    (
        "js/browser.js",
        "text/javascript; charset=utf-8",
        include_str!("../../console/js/browser.js"),
    ),
    (
        "js/upload.js",
        "text/javascript; charset=utf-8",
        include_str!("../../console/js/upload.js"),
    ),
    (
        "js/versions.js",
        "text/javascript; charset=utf-8",
        include_str!("../../console/js/versions.js"),
    ),
    (
        "js/deleted.js",
        "text/javascript; charset=utf-8",
        include_str!("../../console/js/deleted.js"),
    ),
    (
        "js/policy.js",
        "text/javascript; charset=utf-8",
        include_str!("../../console/js/policy.js"),
    ),
    (
        "js/identities.js",
        "text/javascript; charset=utf-8",
        include_str!("../../console/js/identities.js"),
    ),
    (
        "js/cluster.js",
        "text/javascript; charset=utf-8",
        include_str!("../../console/js/cluster.js"),
    ),
    (
        "js/tags.js",
        "text/javascript; charset=utf-8",
        include_str!("../../console/js/tags.js"),
    ),
    (
        "js/lifecycle.js",
        "text/javascript; charset=utf-8",
        include_str!("../../console/js/lifecycle.js"),
    ),
    (
        "js/folders.js",
        "text/javascript; charset=utf-8",
        include_str!("../../console/js/folders.js"),
    ),
];

/// The answer to a `GET`/`HEAD` of a static path.
pub(super) fn answer(path: &str, method: &Method) -> Result<Response<Bytes>, ConsoleError> {
    if !matches!(*method, Method::GET | Method::HEAD) {
        return Err(ConsoleError::Method);
    }
    if path == super::PREFIX {
        let mut resp = Response::new(Bytes::new());
        *resp.status_mut() = StatusCode::PERMANENT_REDIRECT;
        resp.headers_mut()
            .insert(LOCATION, HeaderValue::from_static("/console/"));
        return Ok(resp);
    }
    let name = path
        .strip_prefix("/console/")
        .ok_or(ConsoleError::NotFound)?;
    let (_, content_type, content) = (FILES.iter())
        .find(|(n, _, _)| *n == name)
        .ok_or(ConsoleError::NotFound)?;
    let mut resp = Response::new(Bytes::from_static(content.as_bytes()));
    resp.headers_mut()
        .insert(CONTENT_TYPE, HeaderValue::from_static(content_type));
    Ok(resp)
}
