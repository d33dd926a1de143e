//! Cluster layout rules: `{a...b}` expansion of drive arguments, the choice of set size and
//! default parity (MinIO's rules, DESIGN.md "Sets and placement"), and object placement.
//!
//! Invariants: the set size divides the pool's drive count and is symmetric across nodes;
//! placement of a key depends only on the deployment id, the set count and the key, so it
//! is stable across restarts. Pure functions, unit-tested below.

use std::hash::Hasher;

use siphasher::sip::SipHasher24;

/// Why a drive list cannot form a pool.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum LayoutError {
    /// A `{a...b}` pattern is malformed.
    #[error("bad ellipsis pattern in {arg:?}: {reason}")]
    BadPattern {
        /// The argument.
        arg: String,
        /// What is wrong.
        reason: String,
    },
    /// No set size fits the drive count.
    #[error(
        "{drives} drives cannot be split into equal sets of 2..=16 drives spread evenly over {nodes} node(s)"
    )]
    NoSetSize {
        /// Drives in the pool.
        drives: usize,
        /// Nodes in the pool.
        nodes: usize,
    },
    /// The parity asked for does not fit the set size.
    #[error("parity {parity} is not allowed for sets of {set_size} drives (at most {max})")]
    BadParity {
        /// Asked parity.
        parity: usize,
        /// Set size.
        set_size: usize,
        /// Largest parity allowed.
        max: usize,
    },
    /// The same drive appears twice.
    #[error("drive {0} is given twice")]
    Duplicate(String),
}

/// Expands every `{a...b}` in `arg` (a cartesian product, left to right). Numbers keep the
/// zero padding of `a` (`{01...10}` → `01`, `02` … `10`).
pub fn expand_ellipses(arg: &str) -> Result<Vec<String>, LayoutError> {
    let bad = |reason: &str| LayoutError::BadPattern {
        arg: arg.to_string(),
        reason: reason.to_string(),
    };
    let Some(open) = arg.find('{') else {
        return Ok(vec![arg.to_string()]);
    };
    let close = arg[open..]
        .find('}')
        .map(|i| open + i)
        .ok_or_else(|| bad("no closing }"))?;
    let inner = &arg[open + 1..close];
    let (a, b) = inner
        .split_once("...")
        .ok_or_else(|| bad("expected {a...b}"))?;
    let start: u64 = a.parse().map_err(|_| bad("range start is not a number"))?;
    let end: u64 = b.parse().map_err(|_| bad("range end is not a number"))?;
    if start > end {
        return Err(bad("range start is after its end"));
    }
    if end - start >= 4096 {
        return Err(bad("range too large"));
    }
    let width = if a.len() > 1 && a.starts_with('0') {
        a.len()
    } else {
        0
    };
    let rest = expand_ellipses(&arg[close + 1..])?;
    let mut out = Vec::new();
    for n in start..=end {
        for tail in &rest {
            out.push(format!("{}{:0width$}{}", &arg[..open], n, tail));
        }
    }
    Ok(out)
}

/// True when `arg` holds a `{a...b}` pattern.
pub fn has_ellipses(arg: &str) -> bool {
    arg.contains("...") && arg.contains('{')
}

/// The set size for `drives` drives spread over nodes holding `per_node` drives each
/// (in order): the largest of 2..=16 that divides the count and gives every node the same
/// number of each set's drives. One drive alone is a set of one.
pub fn set_size(per_node: &[usize]) -> Result<usize, LayoutError> {
    let drives: usize = per_node.iter().sum();
    let nodes = per_node.len().max(1);
    if drives == 1 {
        return Ok(1);
    }
    let even = per_node.iter().all(|&d| d == per_node[0]);
    (2..=16)
        .rev()
        .find(|&size| {
            even && drives.is_multiple_of(size)
                && (size.is_multiple_of(nodes) || nodes.is_multiple_of(size))
        })
        .ok_or(LayoutError::NoSetSize { drives, nodes })
}

/// Default parity for a set size: 1 → 0; 2–3 → 1; 4–5 → 2; 6–7 → 3; 8–16 → 4.
pub fn default_parity(set_size: usize) -> usize {
    match set_size {
        0 | 1 => 0,
        2..=3 => 1,
        4..=5 => 2,
        6..=7 => 3,
        _ => 4,
    }
}

/// Checks an explicit parity: at most half the set (and 0 only for a set of one).
pub fn check_parity(parity: usize, set_size: usize) -> Result<(), LayoutError> {
    let max = set_size / 2;
    if parity > max || (parity == 0 && set_size > 1) {
        return Err(LayoutError::BadParity {
            parity,
            set_size,
            max,
        });
    }
    Ok(())
}

/// Write quorum for k data and m parity shards: k, or k+1 when k == m.
pub fn write_quorum(data: usize, parity: usize) -> usize {
    if data == parity { data + 1 } else { data }
}

/// Maps keys to sets with SipHash-2-4 keyed by the deployment id.
#[derive(Debug, Clone, Copy)]
pub struct Placement {
    k0: u64,
    k1: u64,
    sets: usize,
}

impl Placement {
    /// Placement over `sets` sets for the deployment `deployment_id` (a UUID's 16 bytes).
    pub fn new(deployment_id: &uuid::Uuid, sets: usize) -> Self {
        let b = deployment_id.as_bytes();
        let mut k0 = [0u8; 8];
        let mut k1 = [0u8; 8];
        k0.copy_from_slice(&b[..8]);
        k1.copy_from_slice(&b[8..]);
        Self {
            k0: u64::from_le_bytes(k0),
            k1: u64::from_le_bytes(k1),
            sets: sets.max(1),
        }
    }

    fn hash(&self, bucket: &str, key: &str) -> u64 {
        let mut h = SipHasher24::new_with_keys(self.k0, self.k1);
        h.write(bucket.as_bytes());
        h.write(b"/");
        h.write(key.as_bytes());
        h.finish()
    }

    /// The set index of `bucket/key`.
    pub fn set_of(&self, bucket: &str, key: &str) -> usize {
        (self.hash(bucket, key) % self.sets as u64) as usize
    }

    /// Where shard i of a new object goes: drive `distribution[i]` of the set, a rotation
    /// starting at a drive chosen by the key's hash.
    pub fn distribution(&self, bucket: &str, key: &str, set_size: usize) -> Vec<u32> {
        let start = (self.hash(bucket, key).rotate_left(17) % set_size.max(1) as u64) as usize;
        (0..set_size)
            .map(|i| ((start + i) % set_size) as u32)
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ellipses_expand_as_a_cartesian_product() {
        assert_eq!(expand_ellipses("/d{1...3}").unwrap(), ["/d1", "/d2", "/d3"]);
        assert_eq!(
            expand_ellipses("http://n{1...2}:9000/d{1...2}").unwrap(),
            [
                "http://n1:9000/d1",
                "http://n1:9000/d2",
                "http://n2:9000/d1",
                "http://n2:9000/d2"
            ]
        );
        assert_eq!(
            expand_ellipses("/d{08...10}").unwrap(),
            ["/d08", "/d09", "/d10"]
        );
        assert_eq!(expand_ellipses("/plain").unwrap(), ["/plain"]);
        assert!(expand_ellipses("/d{3...1}").is_err());
        assert!(expand_ellipses("/d{1..3}").is_err());
        assert!(expand_ellipses("/d{1...3").is_err());
    }

    #[test]
    fn set_size_follows_minio_rules() {
        // Single node: the largest divisor in 2..=16.
        assert_eq!(set_size(&[1]).unwrap(), 1);
        assert_eq!(set_size(&[2]).unwrap(), 2);
        assert_eq!(set_size(&[4]).unwrap(), 4);
        assert_eq!(set_size(&[6]).unwrap(), 6);
        assert_eq!(set_size(&[16]).unwrap(), 16);
        assert_eq!(set_size(&[32]).unwrap(), 16);
        assert_eq!(set_size(&[24]).unwrap(), 12);
        assert_eq!(set_size(&[18]).unwrap(), 9);
        assert_eq!(set_size(&[64]).unwrap(), 16);
        // 17 drives (prime beyond 16) cannot form equal sets.
        assert!(set_size(&[17]).is_err());
        // MinIO's worked examples: 4 nodes × 4 drives → one set of 16;
        // 4 nodes × 6 drives = 24 → sets of 12 (3 drives per node each);
        // 3 nodes × 4 drives = 12 → one set of 12; 2 nodes × 8 → 16.
        assert_eq!(set_size(&[4, 4, 4, 4]).unwrap(), 16);
        assert_eq!(set_size(&[6, 6, 6, 6]).unwrap(), 12);
        assert_eq!(set_size(&[4, 4, 4]).unwrap(), 12);
        assert_eq!(set_size(&[8, 8]).unwrap(), 16);
        // 5 nodes × 1 drive: 5 divides 5 and spreads one drive per node.
        assert_eq!(set_size(&[1, 1, 1, 1, 1]).unwrap(), 5);
        // 3 nodes × 2 drives = 6: a set of 6 holds 2 drives per node.
        assert_eq!(set_size(&[2, 2, 2]).unwrap(), 6);
        // Uneven nodes are refused.
        assert!(set_size(&[2, 1]).is_err());
    }

    #[test]
    fn default_parity_table() {
        let table = [
            (1, 0),
            (2, 1),
            (3, 1),
            (4, 2),
            (5, 2),
            (6, 3),
            (7, 3),
            (8, 4),
            (12, 4),
            (16, 4),
        ];
        for (size, parity) in table {
            assert_eq!(default_parity(size), parity, "set of {size}");
        }
        assert!(check_parity(2, 4).is_ok());
        assert!(check_parity(3, 4).is_err());
        assert!(check_parity(0, 4).is_err());
        assert!(check_parity(0, 1).is_ok());
        assert_eq!(write_quorum(2, 2), 3);
        assert_eq!(write_quorum(12, 4), 12);
    }

    #[test]
    fn placement_is_stable_and_spreads_keys() {
        let id = uuid::Uuid::from_u128(0x0123_4567_89ab_cdef_0123_4567_89ab_cdef);
        let p = Placement::new(&id, 2);
        // Stable across instances (and so across restarts).
        assert_eq!(
            (0..100)
                .map(|i| p.set_of("b", &format!("k{i}")))
                .collect::<Vec<_>>(),
            (0..100)
                .map(|i| Placement::new(&id, 2).set_of("b", &format!("k{i}")))
                .collect::<Vec<_>>()
        );
        let in_set0 = (0..1000)
            .filter(|i| p.set_of("b", &format!("k{i}")) == 0)
            .count();
        assert!((350..650).contains(&in_set0), "{in_set0} of 1000 in set 0");
        // A distribution is a rotation covering every drive.
        let d = p.distribution("b", "k", 6);
        let mut sorted = d.clone();
        sorted.sort();
        assert_eq!(sorted, [0, 1, 2, 3, 4, 5]);
        // Another deployment places differently.
        let q = Placement::new(&uuid::Uuid::from_u128(7), 2);
        assert!(
            (0..100).any(|i| p.set_of("b", &format!("k{i}")) != q.set_of("b", &format!("k{i}")))
        );
    }
}
