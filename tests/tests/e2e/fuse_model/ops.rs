//! The model test's operations and their seeded generator: what an operation is, the
//! model's view of the tree it draws targets from, and the random choice of the next one.

use std::fs;
use std::path::{Path, PathBuf};
use std::time::Duration;

use tessera_fuse::inode::{join, parent_of as parent};
use tessera_tests::pattern;

use crate::fuse::tree;

pub(super) const OPS: usize = 400;
pub(super) const CHECK_EVERY: usize = 50;
pub(super) const MAX_FILE: u64 = 300 << 10;
pub(super) const DEFAULT_SEED: u64 = 20_250_601;
/// Past the mount's 200 ms TTL: what S3 changed is visible after it.
pub(super) const PAST_TTL: Duration = Duration::from_millis(400);
pub(super) const MODES: [u32; 10] = [
    0o600, 0o640, 0o644, 0o664, 0o700, 0o750, 0o755, 0o444, 0o555, 0o711,
];

/// How a write opens its file and what it does there: `O_CREAT | O_TRUNC` or
/// `O_CREAT | O_EXCL` and write, pwrite at an offset, `O_APPEND` and write, ftruncate.
#[derive(Debug, Clone, Copy)]
pub(super) enum How {
    Create,
    CreateNew,
    At(u64),
    Append,
    Truncate(u64),
}

/// One operation; what a write or put writes is `pattern(len, seed)`.
#[derive(Debug, Clone)]
pub(super) enum Op {
    Write {
        path: String,
        how: How,
        len: u64,
        seed: u64,
        fsync: bool,
    },
    Read(String),
    Rename(String, String),
    Unlink(String),
    Mkdir(String),
    Rmdir(String),
    Chmod(String, Mode),
    /// A symlink at the first path to the second.
    Symlink(String, String),
    Mkfifo(String),
    /// (path, name, value).
    SetXattr(String, String, Vec<u8>),
    /// (path, atime, mtime) as (seconds, nanoseconds).
    Utimens(String, (u64, u32), (u64, u32)),
    /// (path, len, seed).
    S3Put(String, u64, u64),
    S3Delete(String),
}

impl Op {
    /// The kind of operation, as the tally names it.
    pub(super) fn kind(&self) -> String {
        let text = match self {
            Op::Write { how, .. } => format!("{how:?}"),
            _ => format!("{self:?}"),
        };
        text.split(['(', ' '])
            .next()
            .unwrap_or_default()
            .to_string()
    }
}

/// Permission bits, shown in octal.
#[derive(Clone, Copy)]
pub(super) struct Mode(pub(super) u32);

impl std::fmt::Debug for Mode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "0o{:o}", self.0)
    }
}

/// What the local directory (the model) holds now: relative paths, `""` is the root.
pub(super) struct State {
    root: PathBuf,
    dirs: Vec<String>,
    files: Vec<String>,
    links: Vec<String>,
    fifos: Vec<String>,
}

impl State {
    pub(super) fn scan(root: &Path) -> State {
        let (mut dirs, mut files, mut links) = (vec![String::new()], Vec::new(), Vec::new());
        let mut fifos = Vec::new();
        for e in tree(root, &[], &[]) {
            match e.kind {
                'd' => dirs.push(e.path),
                'l' => links.push(e.path),
                'p' => fifos.push(e.path),
                _ => files.push(e.path),
            }
        }
        let root = root.to_path_buf();
        State {
            root,
            dirs,
            files,
            links,
            fifos,
        }
    }

    /// The size of what `path` leads to (through a symlink), 0 when nothing.
    fn size(&self, path: &str) -> u64 {
        fs::metadata(self.root.join(path)).map_or(0, |m| m.len())
    }

    fn subdirs(&self) -> &[String] {
        &self.dirs[1..]
    }

    fn files_and_links(&self) -> Vec<String> {
        [&self.files[..], &self.links[..]].concat()
    }

    /// Everything but FIFOs (which a write or read would wait on).
    fn openable(&self) -> Vec<String> {
        [&self.files[..], &self.links[..], self.subdirs()].concat()
    }

    fn everything(&self) -> Vec<String> {
        [self.openable(), self.fifos.clone()].concat()
    }

    fn is_empty_dir(&self, dir: &str) -> bool {
        let under = format!("{dir}/");
        !self.everything().iter().any(|p| p.starts_with(&under))
    }
}

/// Draws operations from the model's state (splitmix64).
pub(super) struct Gen {
    rng: u64,
    names: u64,
    /// Every name [`Gen::fresh`] made, to be reused.
    used: Vec<String>,
}

impl Gen {
    /// A generator of the run of `seed`.
    pub(super) fn new(seed: u64) -> Gen {
        Gen {
            rng: seed,
            names: 0,
            used: Vec::new(),
        }
    }

    fn next(&mut self) -> u64 {
        self.rng = self.rng.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let z = (self.rng ^ (self.rng >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        let z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    fn below(&mut self, n: u64) -> u64 {
        self.next() % n.max(1)
    }

    fn chance(&mut self, percent: u64) -> bool {
        self.below(100) < percent
    }

    fn pick(&mut self, items: &[String]) -> Option<String> {
        (!items.is_empty()).then(|| items[self.below(items.len() as u64) as usize].clone())
    }

    /// A name never used before, in `dir`.
    fn name(&mut self, dir: &str, prefix: &str) -> String {
        self.names += 1;
        join(dir, &format!("{prefix}{}", self.names))
    }

    /// A free name in an existing directory: sometimes one that was used before (a file
    /// where a directory was, a name removed and made again), else a new one.
    fn fresh(&mut self, s: &State, prefix: &str) -> String {
        let all = s.everything();
        let free: Vec<String> = (self.used.iter())
            .filter(|p| !all.contains(p) && s.dirs.iter().any(|d| d == parent(p)))
            .cloned()
            .collect();
        if let Some(path) = self.pick(&free).filter(|_| self.chance(30)) {
            return path;
        }
        let dir = self.pick(&s.dirs).unwrap_or_default();
        let path = self.name(&dir, prefix);
        self.used.push(path.clone());
        path
    }

    /// A path from one of `lists`, each chosen with its weight in percent; the rest of the
    /// time, or when the chosen list is empty, a free name made with `prefix`.
    fn choose(&mut self, s: &State, prefix: &str, lists: &[(u64, &[String])]) -> String {
        let mut roll = self.below(100);
        for &(weight, list) in lists {
            if roll < weight {
                let picked = self.pick(list);
                return picked.unwrap_or_else(|| self.fresh(s, prefix));
            }
            roll -= weight;
        }
        self.fresh(s, prefix)
    }

    /// A name in a directory that does not exist (ENOENT).
    fn orphan(&mut self, s: &State) -> [String; 1] {
        let dir = self.fresh(s, "gone");
        [self.name(&dir, "x")]
    }

    /// 1..=max bytes, mostly small.
    fn len(&mut self, max: u64) -> u64 {
        let cap = match self.below(20) {
            0 => 256 << 10,
            1..5 => 64 << 10,
            _ => 4 << 10,
        };
        1 + self.below(cap.min(max.max(1)))
    }

    /// What a file operation works on: mostly a file, sometimes a symlink (followed), a
    /// directory (EISDIR) or nothing (ENOENT).
    fn target(&mut self, s: &State) -> String {
        let lists = [(80, &s.files[..]), (5, &s.links), (5, s.subdirs())];
        self.choose(s, "none", &lists)
    }

    pub(super) fn op(&mut self, s: &State) -> Op {
        let (fsync, seed) = (self.chance(30), self.next());
        let write = |path, how, len| Op::Write {
            path,
            how,
            len,
            seed,
            fsync,
        };
        match self.below(100) {
            0..12 => {
                let orphan = self.orphan(s);
                let path = self.choose(s, "f", &[(15, &s.openable()), (5, &orphan)]);
                let len = (!self.chance(5)).then(|| self.len(MAX_FILE));
                let how = [How::Create, How::CreateNew][usize::from(self.chance(30))];
                write(path, how, len.unwrap_or(0))
            }
            12..24 => {
                let path = self.target(s);
                let len = self.len(64 << 10);
                let room = (MAX_FILE - len).min(s.size(&path) + (16 << 10));
                write(path, How::At(self.below(room + 1)), len)
            }
            24..32 => {
                let path = self.target(s);
                let len = self.len(MAX_FILE.saturating_sub(s.size(&path)));
                write(path, How::Append, len)
            }
            32..40 => {
                let path = self.target(s);
                let now = s.size(&path);
                let size = match self.chance(50) {
                    true if now > 0 => self.below(now),
                    _ => (now + self.below(64 << 10)).min(MAX_FILE),
                };
                write(path, How::Truncate(size), 0)
            }
            40..49 => Op::Read(self.target(s)),
            49..57 => self.rename_file(s),
            57..63 => self.rename_dir(s),
            63..69 => {
                let lists = [
                    (80, &s.files_and_links()[..]),
                    (5, &s.fifos),
                    (7, s.subdirs()),
                ];
                Op::Unlink(self.choose(s, "none", &lists))
            }
            69..76 => {
                let orphan = self.orphan(s);
                Op::Mkdir(self.choose(s, "d", &[(10, &s.everything()), (5, &orphan)]))
            }
            76..81 => {
                let (empty, full): (Vec<String>, Vec<String>) =
                    (s.subdirs().iter().cloned()).partition(|d| s.is_empty_dir(d));
                let lists = [(45, &empty[..]), (40, &full), (10, &s.files)];
                Op::Rmdir(self.choose(s, "none", &lists))
            }
            81..86 => {
                // Not the root: the bucket has no attributes to change (EPERM).
                let all = [&s.files[..], s.subdirs(), &s.fifos].concat();
                let path = self.choose(s, "none", &[(90, &all)]);
                Op::Chmod(path, Mode(MODES[self.below(MODES.len() as u64) as usize]))
            }
            86..90 => {
                let path = self.choose(s, "l", &[(10, &s.everything())]);
                let siblings: Vec<String> = (s.files.iter())
                    .filter(|f| parent(f) == parent(&path))
                    .map(|f| f.rsplit('/').next().unwrap_or(f).to_string())
                    .collect();
                let target = self.pick(&siblings).filter(|_| self.chance(50));
                let target = target.unwrap_or_else(|| self.name("", "nowhere"));
                Op::Symlink(path, target)
            }
            90..91 => {
                // Always a new name: no symlink leads to it, so nothing opens it.
                let dir = self.pick(&s.dirs).unwrap_or_default();
                Op::Mkfifo(self.name(&dir, "p"))
            }
            91..93 => {
                let lists = [(85, &[&s.files[..], s.subdirs()].concat()[..])];
                let path = self.choose(s, "none", &lists);
                let name = format!("user.k{}", self.below(4));
                let value = pattern(self.below(200) as usize, self.next());
                Op::SetXattr(path, name, value)
            }
            93..95 => {
                let lists = [(85, &[&s.files[..], s.subdirs()].concat()[..])];
                let path = self.choose(s, "none", &lists);
                let mut time = || {
                    (
                        1_000_000_000 + self.below(1 << 30),
                        self.below(1_000_000_000) as u32,
                    )
                };
                Op::Utimens(path, time(), time())
            }
            r => {
                let len = self.len(MAX_FILE);
                match self.pick(&s.files) {
                    Some(path) if r >= 98 => Op::S3Delete(path),
                    Some(path) if self.chance(40) => Op::S3Put(path, len, seed),
                    _ => Op::S3Put(self.fresh(s, "s"), len, seed),
                }
            }
        }
    }

    /// Elsewhere, onto a file or symlink (replacing it) or a directory, nowhere, in place.
    fn rename_file(&mut self, s: &State) -> Op {
        let from = self.choose(s, "none", &[(70, &s.files), (20, &s.links)]);
        let (orphan, same) = (self.orphan(s), [from.clone()]);
        let lists = [
            (25, &s.files_and_links()[..]),
            (10, s.subdirs()),
            (10, &orphan),
            (5, &same),
        ];
        Op::Rename(from, self.choose(s, "f", &lists))
    }

    /// Elsewhere, onto a directory (empty or not) or a file, into itself, nowhere, in place.
    fn rename_dir(&mut self, s: &State) -> Op {
        let Some(from) = self.pick(s.subdirs()) else {
            return Op::Mkdir(self.fresh(s, "d"));
        };
        let under = format!("{from}/");
        let (inside, outside): (Vec<String>, Vec<String>) =
            (s.dirs.iter().cloned()).partition(|d| *d == from || d.starts_with(&under));
        let away = self.pick(&outside).map(|d| self.name(&d, "d"));
        let into = self.pick(&inside).map(|d| self.name(&d, "d"));
        let (orphan, same) = (self.orphan(s), [from.clone()]);
        let lists = [
            (50, away.as_slice()),
            (15, s.subdirs()),
            (10, &s.files_and_links()),
            (10, into.as_slice()),
            (10, &orphan),
            (5, &same),
        ];
        Op::Rename(from, self.choose(s, "d", &lists))
    }
}
