//! The FUSE metadata section's table: one row per figure, tessera-mount beside s3fs and the
//! local directory, with issue 24's targets: every row at least 2× as fast as s3fs, warm
//! `find` and `ls -lR` at most 5× slower than the local directory, cached random reads at
//! least half the local directory's rate.
//!
//! A figure the tessera-mount under test cannot produce (a flag its `--help` does not list)
//! is a row that says so; a row is left out when its part was skipped.

use super::super::fuse_ops::TAR_PER_DIR;
use super::super::{cell, ratio_cell};
use super::{Results, Work};

/// How a figure compares.
#[derive(Clone, Copy)]
enum Kind {
    /// Seconds: lower is better.
    Time,
    /// Operations per second: higher is better.
    Rate,
}

/// What a figure should reach.
#[derive(Clone, Copy)]
enum Goal {
    /// At least this many times as fast as s3fs.
    VsS3fs(f64),
    /// At most this many times slower than the local directory.
    LocalSlowdown(f64),
    /// At least this fraction of the local directory's speed.
    OfLocal(f64),
}

/// tessera-mount's figure.
#[derive(Clone, Copy)]
enum Cell {
    Value(f64),
    /// The build under test lacks the flag this row needs.
    Unsupported,
}

/// One line of the FUSE metadata table.
pub struct Figure {
    measure: String,
    unit: &'static str,
    kind: Kind,
    ours: Cell,
    s3fs: Option<f64>,
    local: Option<f64>,
    goals: Vec<Goal>,
}

impl Figure {
    /// How many times as fast as `base` tessera-mount is.
    fn speedup(&self, base: Option<f64>) -> Option<f64> {
        let Cell::Value(v) = self.ours else {
            return None;
        };
        base.map(|b| match self.kind {
            Kind::Time => b / v,
            Kind::Rate => v / b,
        })
    }
}

/// A figure picked from one target's results.
type Pick = fn(&Results) -> Option<f64>;

/// The rows, from each target's results; `negative` says whether tessera-mount has
/// `--negative-ttl` and holds its results, `cache` whether it has `--cache-size`.
pub(super) fn rows(
    work: &Work,
    ours: &Results,
    negative: (bool, Option<&Results>),
    cache: bool,
    theirs: Option<&Results>,
    local: &Results,
) -> Vec<Figure> {
    let mut out = Vec::new();
    let mut row = |measure: String, unit, kind, ours: Option<Cell>, pick: Pick, goals| {
        if let Some(ours) = ours {
            out.push(Figure {
                measure,
                unit,
                kind,
                ours,
                s3fs: theirs.and_then(pick),
                local: pick(local),
                goals,
            });
        }
    };
    let value = |pick: Pick, r: &Results| pick(r).map(Cell::Value);
    let s3fs = Goal::VsS3fs(2.0);
    let warm = vec![s3fs, Goal::LocalSlowdown(5.0)];
    if let Some(tar) = &work.tar {
        let files = tar.files.len();
        let (dirs, entries) = (
            files.div_ceil(TAR_PER_DIR),
            files + files.div_ceil(TAR_PER_DIR) + 2,
        );
        let tree: [(String, Pick, bool); 5] = [
            (
                format!("`tar x` of {files} files of 1–8 KiB in {dirs} dirs (local: + sync)"),
                |r| r.untar,
                false,
            ),
            (
                format!(
                    "`find | wc -l` of that tree ({entries} entries), fresh mount, \
                     page cache dropped"
                ),
                |r| r.find_cold,
                false,
            ),
            (
                "`find | wc -l` again at once (warm)".into(),
                |r| r.find_warm,
                true,
            ),
            (
                "`ls -lR` of that tree, fresh mount, page cache dropped".into(),
                |r| r.ls_cold,
                false,
            ),
            ("`ls -lR` again at once (warm)".into(), |r| r.ls_warm, true),
        ];
        for (text, pick, hot) in &tree {
            let goals = if *hot { warm.clone() } else { vec![s3fs] };
            row(
                text.clone(),
                "s",
                Kind::Time,
                value(*pick, ours),
                *pick,
                goals,
            );
        }
        match negative {
            (_, Some(neg)) => {
                for (text, pick, hot) in &tree {
                    let goals = if *hot { warm.clone() } else { vec![s3fs] };
                    let text = format!("with `--negative-ttl 5s`: {text}");
                    row(text, "s", Kind::Time, value(*pick, neg), *pick, goals);
                }
            }
            (supported, None) => {
                let text = "with `--negative-ttl 5s`: `tar x`, `find`, `ls -lR`".into();
                let cell = (!supported).then_some(Cell::Unsupported);
                row(text, "s", Kind::Time, cell, |_| None, vec![]);
            }
        }
    }
    let n = work.reads;
    let plain: [(String, &str, Kind, Pick); 3] = [
        (
            format!(
                "stat(2) of {} files, one process, fresh mount, page cache dropped",
                work.stat_files
            ),
            "ops/s",
            Kind::Rate,
            |r| r.stat,
        ),
        (
            format!(
                "`rm -r` of {} files, fresh mount (local: + sync)",
                work.rm_files
            ),
            "s",
            Kind::Time,
            |r| r.rm,
        ),
        (
            format!(
                "{n} random 4 KiB reads of a 16 MiB file, fresh mount, page cache dropped \
                 (median of 5 runs)"
            ),
            "ops/s",
            Kind::Rate,
            |r| r.random,
        ),
    ];
    for (text, unit, kind, pick) in plain {
        row(text, unit, kind, value(pick, ours), pick, vec![s3fs]);
    }
    let cell = match cache {
        true => value(|r| r.cached, ours),
        false => (n > 0).then_some(Cell::Unsupported),
    };
    let text = format!(
        "{n} random 4 KiB reads, cached: `--cache-size 1G` / s3fs `use_cache`, file read once, \
         then read in a new open (page cache as each client leaves it)"
    );
    let goals = vec![s3fs, Goal::OfLocal(0.5)];
    row(text, "ops/s", Kind::Rate, cell, |r| r.cached, goals);
    let cell = match cache {
        true => value(|r| r.disk_cached, ours),
        false => (n > 0).then_some(Cell::Unsupported),
    };
    let text = format!(
        "{n} random 4 KiB reads, the same with the page cache dropped (from the clients' disk \
         caches; local: from its disk)"
    );
    row(
        text,
        "ops/s",
        Kind::Rate,
        cell,
        |r| r.disk_cached,
        vec![s3fs],
    );
    if let Some(repo) = &work.git {
        let (files, commits) = (repo.files, repo.commits);
        let text = format!(
            "`git clone --no-hardlinks` of {files} files, {commits} commits (local: + sync)"
        );
        row(
            text,
            "s",
            Kind::Time,
            value(|r| r.clone, ours),
            |r| r.clone,
            vec![s3fs],
        );
        let (first, again): (Pick, Pick) = (|r| r.status_first, |r| r.status_again);
        let text = "`git status` in the clone, right after it".into();
        row(text, "s", Kind::Time, value(first, ours), first, vec![s3fs]);
        let text = "`git status` again".into();
        row(text, "s", Kind::Time, value(again, ours), again, vec![s3fs]);
    }
    out
}

/// Prints the FUSE metadata table.
pub fn print(figures: &[Figure]) {
    println!(
        "\n| FUSE metadata measure | tessera-mount | s3fs | × s3fs | local | × local (slowdown) | target |"
    );
    println!("|---|---|---|---|---|---|---|");
    for f in figures {
        let u = f.unit;
        let value = |v: Option<f64>| cell(v, u);
        let ratio = ratio_cell;
        let ours = match f.ours {
            Cell::Value(v) => value(Some(v)),
            Cell::Unsupported => "not supported by this build".into(),
        };
        let vs_fs = f.speedup(f.s3fs);
        let slowdown = f.speedup(f.local).map(|s| 1.0 / s);
        let goals: Vec<String> = f
            .goals
            .iter()
            .map(|g| {
                let (text, met) = match *g {
                    Goal::VsS3fs(x) => (format!("≥ {x}× s3fs"), vs_fs.map(|r| r >= x)),
                    Goal::LocalSlowdown(x) => (format!("≤ {x}× local"), slowdown.map(|s| s <= x)),
                    Goal::OfLocal(x) => (format!("≥ {x}× local"), slowdown.map(|s| 1.0 / s >= x)),
                };
                let met = match (met, f.ours) {
                    (Some(true), _) => "met",
                    (Some(false), _) => "MISSED",
                    (None, Cell::Unsupported) => "not measured",
                    (None, Cell::Value(_)) => "no baseline",
                };
                format!("{text}: {met}")
            })
            .collect();
        let (m, fs, local) = (&f.measure, value(f.s3fs), value(f.local));
        let (r_fs, r_local, goals) = (ratio(vs_fs), ratio(slowdown), goals.join("; "));
        println!("| {m} | {ours} | {fs} | {r_fs} | {local} | {r_local} | {goals} |");
    }
}
