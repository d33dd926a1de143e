//! The lines a node prints once it serves: where to point clients, the region, the drive
//! layout and what it survives, and a first command to try (as MinIO's start-up banner).

use std::net::SocketAddr;

use crate::layout::write_quorum;

/// What the banner describes.
pub struct Banner {
    /// The address the node listens on.
    pub address: SocketAddr,
    /// Whether the port speaks TLS.
    pub tls: bool,
    /// Nodes of the deployment.
    pub nodes: usize,
    /// Per set: (data, parity) shards.
    pub sets: Vec<(usize, usize)>,
    /// The S3 region.
    pub region: String,
}

impl Banner {
    /// The URL clients use: a wildcard address is shown as loopback.
    pub fn endpoint(&self) -> String {
        let scheme = if self.tls { "https" } else { "http" };
        let mut addr = self.address;
        if addr.ip().is_unspecified() {
            addr.set_ip(std::net::Ipv4Addr::LOCALHOST.into());
        }
        format!("{scheme}://{addr}")
    }

    /// The banner's lines.
    pub fn render(&self) -> String {
        let endpoint = self.endpoint();
        let drives: usize = self.sets.iter().map(|(k, m)| k + m).sum();
        let nodes = match self.nodes {
            1 => "1 node".to_string(),
            n => format!("{n} nodes"),
        };
        let layout = match self.sets.as_slice() {
            [] => String::from("no sets"),
            [(k, m), rest @ ..] if rest.iter().all(|s| s == &(*k, *m)) => {
                let writes = k + m - write_quorum(*k, *m);
                format!(
                    "{} set(s) of {} ({k} data + {m} parity): each keeps reading with {m} \
                     drive(s) lost and writing with {writes} lost",
                    self.sets.len(),
                    k + m
                )
            }
            _ => format!("{} sets of mixed geometry", self.sets.len()),
        };
        let wildcard = if self.address.ip().is_unspecified() {
            " (all interfaces)"
        } else {
            ""
        };
        [
            "Tessera is serving.".to_string(),
            format!(
                "  S3 and gRPC:  {endpoint}{wildcard}   region {}",
                self.region
            ),
            format!("  Drives:       {drives} on {nodes}, {layout}"),
            format!("  Health:       {endpoint}/health/ready"),
            format!("  Try:          tessera --endpoint {endpoint} mb photos"),
            format!("                aws --endpoint-url {endpoint} s3 ls"),
        ]
        .join("\n")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_banner_says_where_and_what_the_layout_survives() {
        let banner = Banner {
            address: "0.0.0.0:9000".parse().unwrap(),
            tls: false,
            nodes: 1,
            sets: vec![(2, 2)],
            region: "us-east-1".into(),
        };
        let text = banner.render();
        assert!(
            text.contains("http://127.0.0.1:9000 (all interfaces)"),
            "{text}"
        );
        assert!(text.contains("4 on 1 node, 1 set(s) of 4 (2 data + 2 parity)"));
        assert!(text.contains("reading with 2 drive(s) lost and writing with 1 lost"));
        let tls = Banner {
            address: "10.0.0.5:9443".parse().unwrap(),
            tls: true,
            nodes: 4,
            sets: vec![(12, 4)],
            region: "eu-west-3".into(),
        };
        let text = tls.render();
        assert!(
            text.contains("https://10.0.0.5:9443   region eu-west-3"),
            "{text}"
        );
        assert!(text.contains("16 on 4 nodes") && text.contains("writing with 4 lost"));
    }
}
