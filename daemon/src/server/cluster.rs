//! Starting a node of a cluster: wait for the peers, check they run the same command, and
//! agree on one format.
//!
//! Invariants: only the leader (the owner of the first drive) formats a fresh deployment,
//! and only once every drive of the cluster answers blank, so two nodes never format
//! different deployments (no split brain); a node starts on an existing deployment once a
//! majority of all drives agree on its format; each node formats only its own blank
//! drives (replacements), except that the leader finishes a first format it left half
//! done (every drive answers, the formatted ones agree, the rest are blank); a corrupt
//! `format.json` is rewritten by its node only within an agreed majority, and stops the
//! start where no drive holds a readable format; a drive that does not answer (a peer
//! down, a damaged drive of this node) does not hold up a start on an agreed format: this
//! node's own start offline (see `probe`); a peer started with another drive list or
//! parity stops the start; the wait is bounded and logs its progress.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use futures::future::join_all;

use super::ServerError;
use super::bootstrap::{
    DriveState, Formatted, check_layout, corrupt_without_format, format_fresh, format_planned,
    majority_format, plan, read_state,
};
use super::topology::Topology;
use crate::drive::Drive;
use crate::peer::Peer;

/// How often the wait retries.
const RETRY: Duration = Duration::from_millis(500);
/// How often the wait logs where it stands.
const PROGRESS: Duration = Duration::from_secs(5);

/// Waits until the cluster's drives agree on a format (formatting a fresh deployment when
/// this node leads), for at most `timeout`.
pub(super) async fn agree_format(
    topology: &Topology,
    drives: &[Arc<dyn Drive>],
    peers: &HashMap<String, Arc<Peer>>,
    parity: Option<usize>,
    timeout: Duration,
) -> Result<Formatted, ServerError> {
    let hash = topology.hash(parity);
    let start = Instant::now();
    let mut last_log: Option<Instant> = None;
    loop {
        let answered = check_peers(peers, &hash).await?;
        let states: Vec<DriveState> = join_all(drives.iter().map(|d| read_state(d.as_ref()))).await;
        let total = drives.len();
        let reachable = states
            .iter()
            .filter(|s| !matches!(s, DriveState::Offline(_)))
            .count();
        let corrupt = states.iter().any(|s| matches!(s, DriveState::Corrupt(_)));
        let majority = majority_format(&states);
        if majority.is_none()
            && let Some(refused) = corrupt_without_format(drives, &states)
        {
            return Err(refused);
        }
        let waiting_for = match majority {
            None if reachable == total && topology.me == topology.leader() => {
                let format = format_fresh(drives, topology, parity).await?;
                return Ok(Formatted {
                    format,
                    replaced: 0,
                    offline: Vec::new(),
                });
            }
            None if reachable == total => {
                format!("node {} to format the new deployment", topology.leader())
            }
            None => format!(
                "every drive before formatting a new deployment ({reachable}/{total} answer)"
            ),
            Some((reference, agree)) if agree > total / 2 => {
                check_layout(drives, &states, &reference, topology)?;
                let local: Vec<bool> = topology.drives().map(|d| d.local).collect();
                let mut plan = plan(drives, &states, agree, |i| local[i])?;
                let replaced = format_planned(drives, &mut plan, &reference).await;
                tracing::info!(
                    deployment = %reference.deployment_id,
                    drives_agreeing = agree,
                    drives = total,
                    "cluster format agreed"
                );
                return Ok(Formatted {
                    format: reference,
                    replaced,
                    offline: plan.offline,
                });
            }
            // A first format cut short (its leader died half way): every drive answers,
            // those formatted agree and the rest are blank, so the leader finishes it.
            Some((reference, agree))
                if reachable == total
                    && !corrupt
                    && topology.me == topology.leader()
                    && agree == formatted_count(&states) =>
            {
                check_layout(drives, &states, &reference, topology)?;
                let mut plan = plan(drives, &states, agree, |_| true)?;
                let finished = format_planned(drives, &mut plan, &reference).await;
                if let Some((i, why)) = plan.offline.first() {
                    return Err(ServerError::Format(format!(
                        "cannot finish the format of a new deployment: drive {}: {why}",
                        drives[*i].endpoint()
                    )));
                }
                tracing::warn!(
                    deployment = %reference.deployment_id,
                    finished,
                    "finished the format of a new deployment that an earlier start left half done"
                );
                return Ok(Formatted {
                    format: reference,
                    replaced: 0,
                    offline: Vec::new(),
                });
            }
            Some((_, agree)) => format!(
                "a majority of drives to agree on the format ({agree}/{total} do, {reachable} answer)"
            ),
        };
        let waited = start.elapsed();
        if waited > timeout {
            return Err(ServerError::Format(format!(
                "gave up after {waited:?} waiting for {waiting_for}; {answered}/{} peers answer",
                peers.len()
            )));
        }
        if last_log.is_none_or(|t| t.elapsed() >= PROGRESS) {
            last_log = Some(Instant::now());
            tracing::info!(
                peers_answering = answered,
                peers = peers.len(),
                waited = ?waited,
                "waiting for {waiting_for}"
            );
        }
        tokio::time::sleep(RETRY).await;
    }
}

fn formatted_count(states: &[DriveState]) -> usize {
    states
        .iter()
        .filter(|s| matches!(s, DriveState::Formatted(_)))
        .count()
}

/// Says hello to every peer; counts the answers. A peer started with another command
/// stops the start.
async fn check_peers(peers: &HashMap<String, Arc<Peer>>, hash: &str) -> Result<usize, ServerError> {
    let answers = join_all(peers.values().map(|p| async move { (p, p.hello().await) })).await;
    let mut answered = 0;
    for (peer, answer) in answers {
        if let Ok(hello) = answer {
            if hello.cluster_hash != hash {
                return Err(ServerError::Format(format!(
                    "node {} runs with another drive list or parity than this node: \
                     start every node with the same endpoints and options",
                    peer.address()
                )));
            }
            answered += 1;
        }
    }
    Ok(answered)
}
