//! The codec section: Reed-Solomon encode and reconstruct per core, beside memcpy.

use super::*;

/// GB/s (1e9 bytes/s) of `op` handling `bytes` per call: the best of three runs of `each`.
fn gbps(bytes: usize, each: Duration, mut op: impl FnMut()) -> f64 {
    for _ in 0..4 {
        op();
    }
    let run = |_| {
        let (start, mut n) = (Instant::now(), 0u64);
        while start.elapsed() < each {
            for _ in 0..8 {
                op();
            }
            n += 8;
        }
        (n * bytes as u64) as f64 / start.elapsed().as_secs_f64() / 1e9
    };
    (0..3).map(run).fold(0.0, f64::max)
}

pub(super) fn codec_rows(each: Duration) -> anyhow::Result<Vec<Row>> {
    let block = pattern(BLOCK_SIZE, 1);
    let mut dst = vec![0u8; BLOCK_SIZE];
    let memcpy = ("memcpy", {
        gbps(BLOCK_SIZE, each, || {
            dst.copy_from_slice(black_box(&block));
            black_box(&mut dst);
        })
    });
    let mut out = Vec::new();
    for (k, m) in [(2, 2), (4, 2), (8, 4), (12, 4)] {
        let codec = Codec::new(k, m)?;
        let rs = ReedSolomon::new(k, m).map_err(|e| anyhow!("{k}+{m}: {e:?}"))?;
        let framed = gbps(BLOCK_SIZE, each, || {
            black_box(codec.encode_block(black_box(&block)).expect("encode"));
        });
        // The unframed shards: the block split and padded, then parity.
        let frames = codec.encode_block(&block)?;
        let unframed: Vec<Vec<u8>> = frames.iter().map(|f| f[8..].to_vec()).collect();
        let mut shards = unframed.clone();
        let raw = gbps(BLOCK_SIZE, each, || {
            rs.encode(black_box(&mut shards)).expect("encode");
        });

        // Reconstruct with the first m shards (data shards) lost: through the codec ...
        let mut present: Vec<Option<Vec<u8>>> = unframed.iter().cloned().map(Some).collect();
        present[..m].fill(None);
        codec.reconstruct_data(&mut present)?;
        let rebuilt: Vec<u8> = present[..k].iter().flatten().flatten().copied().collect();
        ensure!(rebuilt[..BLOCK_SIZE] == block[..], "{k}+{m}: bad rebuild");
        let rec = gbps(BLOCK_SIZE, each, || {
            present[..m].fill(None);
            codec
                .reconstruct_data(black_box(&mut present))
                .expect("reconstruct");
        });
        // ... and raw, into buffers allocated once.
        let raw_rec = gbps(BLOCK_SIZE, each, || {
            let mut slices: Vec<(&mut [u8], bool)> = shards
                .iter_mut()
                .enumerate()
                .map(|(i, b)| (&mut b[..], i >= m))
                .collect();
            rs.reconstruct_data(black_box(&mut slices))
                .expect("reconstruct");
        });

        let goal = ((k, m) == (8, 4)).then_some(Target::AtLeast(10.0));
        let figures = [
            ("encode, Codec (frames+xxh3)", framed, goal),
            ("encode, raw crate", raw, goal),
            ("reconstruct (lost), Codec", rec, None),
            ("reconstruct (lost), raw crate", raw_rec, None),
        ];
        for (what, v, goal) in figures {
            let what = what.replace("lost", &format!("{m} data shards lost"));
            out.push(Row::new(format!("RS {k}+{m} {what}"), "GB/s", v, memcpy).target(goal));
        }
    }
    Ok(out)
}
