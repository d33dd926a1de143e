//! `tessera admin …`: cluster information and healing, as a client of a node.

use anyhow::bail;
use tessera_proto::object as pb;

use super::client::{Client, human, status_error};

impl Client {
    /// `admin info`: sets, drives, their state and capacity.
    pub async fn admin_info(&mut self) -> anyhow::Result<()> {
        let info = self
            .rpc
            .cluster_info(pb::ClusterInfoRequest {})
            .await
            .map_err(status_error)?
            .into_inner();
        println!("Endpoint   : {} (S3 and gRPC)", self.endpoint);
        println!("Deployment : {}", info.deployment_id);
        println!(
            "Capacity   : {} used of {} ({} free; {} usable after parity)",
            human(info.used_bytes),
            human(info.total_bytes),
            human(info.free_bytes),
            human(info.usable_free_bytes)
        );
        for set in info.sets {
            let (k, m) = (set.data_shards as usize, set.parity_shards as usize);
            let writes = k + m - tessera_daemon::layout::write_quorum(k, m);
            println!(
                "Set {} (pool {}): {k} data + {m} parity; reads survive {m} drive(s) lost, \
                 writes {writes}",
                set.index + 1,
                set.pool + 1,
            );
            for d in set.drives {
                let state = match pb::DriveState::try_from(d.state) {
                    Ok(pb::DriveState::Online) => "online",
                    Ok(pb::DriveState::Unformatted) => "unformatted",
                    _ => "offline",
                };
                let detail = if d.error.is_empty() {
                    format!("{} used of {}", human(d.used_bytes), human(d.total_bytes))
                } else {
                    d.error
                };
                println!("  {:<11} {}  {detail}", state, d.endpoint);
            }
        }
        Ok(())
    }

    /// `admin heal [BUCKET[/PREFIX]]`: heals one bucket (under a prefix), or every bucket,
    /// one line per bucket; fails when an object could not be healed.
    pub async fn admin_heal(&mut self, target: Option<&str>, deep: bool) -> anyhow::Result<()> {
        let targets: Vec<(String, String)> = match target {
            Some(t) => {
                let (bucket, prefix) = t.split_once('/').unwrap_or((t, ""));
                vec![(bucket.to_string(), prefix.to_string())]
            }
            None => self
                .rpc
                .list_buckets(pb::ListBucketsRequest {})
                .await
                .map_err(status_error)?
                .into_inner()
                .buckets
                .into_iter()
                .map(|b| (b.name, String::new()))
                .collect(),
        };
        let (mut unhealed, mut failed_buckets) = (0, 0);
        for (bucket, prefix) in targets {
            let answer = self
                .rpc
                .heal_bucket(pb::HealBucketRequest {
                    bucket: bucket.clone(),
                    prefix: prefix.clone(),
                    deep,
                })
                .await;
            // One bucket's failure is that bucket's: the others are still healed.
            let r = match answer {
                Ok(r) => r.into_inner(),
                Err(status) => {
                    eprintln!("{bucket}/{prefix}: heal failed: {}", status_error(status));
                    failed_buckets += 1;
                    continue;
                }
            };
            println!(
                "{bucket}/{prefix}: {} object(s) checked, {} repaired, {} waiting for offline drives, {} failed{}",
                r.scanned,
                r.repaired,
                r.incomplete,
                r.failed,
                if r.volumes_created > 0 {
                    format!("; bucket created on {} drive(s)", r.volumes_created)
                } else {
                    String::new()
                }
            );
            for failure in &r.failures {
                println!("  not healed: {bucket}/{failure}");
            }
            if r.failed > r.failures.len() as u64 {
                println!(
                    "  … and {} more (the node's log names each)",
                    r.failed - r.failures.len() as u64
                );
            }
            unhealed += r.failed + r.incomplete;
        }
        match (unhealed, failed_buckets) {
            (0, 0) => {}
            (n, 0) => bail!("{n} object(s) are not fully healed yet"),
            (0, b) => bail!("{b} bucket(s) could not be healed"),
            (n, b) => {
                bail!("{n} object(s) are not fully healed yet; {b} bucket(s) could not be healed")
            }
        }
        Ok(())
    }
}
