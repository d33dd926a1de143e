//! The cluster page's live figures: this node's request and byte counters, read from its
//! Prometheus registry as a scrape reads them (`Metrics::encode`, parsed back with
//! prometheus-parse, as `tessera admin top` does), for keys allowed `admin:Prometheus`
//! (the action a scrape needs). The page turns two readings into rates.
//!
//! Invariants: counters only (never reset while the node runs), summed over their labels
//! but `api`; one node's figures (the node the browser talks to).

use std::time::{SystemTime, UNIX_EPOCH};

use bytes::Bytes;
use http::Response;
use prometheus_parse::Scrape;

use super::api::Call;
use super::session::Session;
use super::{ConsoleError, json};
use crate::metrics::sum;
use crate::policy::Action;

impl Call<'_> {
    pub(super) async fn traffic(&self, s: &Session) -> Result<Response<Bytes>, ConsoleError> {
        self.allowed(s, Action::Prometheus).await?;
        let (text, _) = self.console.metrics.encode(false);
        let scrape = Scrape::parse(text.lines().map(|l| Ok(l.to_owned())))
            .map_err(|e| ConsoleError::BadRequest(format!("metrics unreadable: {e}")))?;
        let requests = "tessera_requests_total";
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0.0, |d| d.as_secs_f64());
        Ok(json(&serde_json::json!({
            "time": now,
            "requests": {
                "s3": sum(&scrape, requests, &[("api", "s3")]),
                "grpc": sum(&scrape, requests, &[("api", "grpc")]),
                "internode": sum(&scrape, requests, &[("api", "internode")]),
            },
            "received": sum(&scrape, "tessera_received_bytes_total", &[]),
            "sent": sum(&scrape, "tessera_sent_bytes_total", &[]),
            "errors5xx": sum(&scrape, requests, &[("class", "5xx")]),
        })))
    }
}
