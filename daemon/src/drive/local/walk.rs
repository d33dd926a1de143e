//! The sorted walk of a local volume: objects are directories holding `tessera.meta`.
//!
//! Invariant: entries come out in ascending byte order of their keys. A directory `s` is two
//! events: the object `s` (at key `s`) and its children (at key `s/`); other siblings can sort
//! between the two (`s-x` < `s/`), so each directory's events are sorted before they are
//! visited. Only the directories the prefix and `start_after` can reach are read, so a
//! prefix listing never walks the whole volume.

use std::fs;
use std::io::ErrorKind;
use std::path::Path;

use crate::drive::{
    DIR_MARKER, DriveError, OBJECT_META_FILE, RESERVED_PREFIX, WalkEntry, WalkOptions, WalkPage,
    object_dir,
};

use super::{io_err, read_meta_header};

/// Names in `dir`, sorted; directories end in `/`.
pub(super) fn read_dir_sorted(dir: &Path) -> Result<Vec<String>, DriveError> {
    let mut names = Vec::new();
    for entry in fs::read_dir(dir).map_err(|e| io_err(dir, e))? {
        let entry = entry.map_err(|e| io_err(dir, e))?;
        let Ok(mut name) = entry.file_name().into_string() else {
            continue;
        };
        if entry.file_type().is_ok_and(|t| t.is_dir()) {
            name.push('/');
        }
        names.push(name);
    }
    names.sort_unstable();
    Ok(names)
}

enum Event {
    Object(String),
    Children(String),
}

impl Event {
    fn key(&self) -> &str {
        match self {
            Event::Object(k) | Event::Children(k) => k,
        }
    }
}

struct Walker<'a> {
    volume_dir: &'a Path,
    opts: &'a WalkOptions,
    page: WalkPage,
}

/// Walks `volume_dir` per `opts`.
pub(super) fn walk(volume_dir: &Path, opts: &WalkOptions) -> Result<WalkPage, DriveError> {
    if !volume_dir.is_dir() {
        return Err(DriveError::VolumeNotFound {
            volume: volume_dir
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_default(),
        });
    }
    let base = match opts.prefix.rfind('/') {
        Some(i) => &opts.prefix[..=i],
        None => "",
    };
    let mut walker = Walker {
        volume_dir,
        opts,
        page: WalkPage::default(),
    };
    if opts.limit > 0 {
        walker.visit(base)?;
    } else {
        walker.page.truncated = true;
    }
    Ok(walker.page)
}

impl Walker<'_> {
    /// Visits the directory of keys starting with `dir_key` ("" or ending in `/`).
    /// Returns false once the page is full.
    fn visit(&mut self, dir_key: &str) -> Result<bool, DriveError> {
        let dir = self.volume_dir.join(dir_key);
        let names = match read_dir_sorted(&dir) {
            Ok(names) => names,
            Err(DriveError::NotFound { .. }) => return Ok(true),
            Err(e) => return Err(e),
        };
        let mut events = Vec::new();
        for name in names {
            let Some(sub) = name.strip_suffix('/') else {
                continue;
            };
            if sub.starts_with(RESERVED_PREFIX) {
                continue;
            }
            let key = format!("{dir_key}{sub}");
            let (is_object, has_children) = self.inspect(&dir.join(sub))?;
            if is_object {
                events.push(Event::Object(key.clone()));
            }
            if has_children {
                events.push(Event::Children(format!("{key}/")));
            }
        }
        events.sort_unstable_by(|a, b| a.key().cmp(b.key()));
        // The directory marker `dir_key` itself sorts before everything under it.
        if !dir_key.is_empty() && dir.join(DIR_MARKER).join(OBJECT_META_FILE).is_file() {
            events.insert(0, Event::Object(dir_key.to_string()));
        }

        let opts = self.opts;
        for event in events {
            match event {
                Event::Object(key) => {
                    if !key.starts_with(&opts.prefix) || key.as_str() <= opts.start_after.as_str() {
                        continue;
                    }
                    let dir = self.volume_dir.join(object_dir(&key).as_ref());
                    let meta = match read_meta_header(&dir.join(OBJECT_META_FILE)) {
                        Ok(meta) => meta,
                        // Deleted or replaced under us, or damaged: not part of this drive's view.
                        Err(DriveError::NotFound { .. } | DriveError::Corrupt { .. }) => continue,
                        Err(e) => return Err(e),
                    };
                    if !self.emit(key, Some(meta)) {
                        return Ok(false);
                    }
                }
                Event::Children(child) => {
                    let reachable =
                        child.starts_with(&opts.prefix) || opts.prefix.starts_with(&child);
                    let passed = opts.start_after.as_str() >= child.as_str()
                        && !opts.start_after.starts_with(&child);
                    if !reachable || passed {
                        continue;
                    }
                    if opts.recursive {
                        if !self.visit(&child)? {
                            return Ok(false);
                        }
                    } else if child.as_str() > opts.start_after.as_str() && !self.emit(child, None)
                    {
                        return Ok(false);
                    }
                }
            }
        }
        Ok(true)
    }

    /// Whether a directory is an object, and whether it has key children.
    fn inspect(&self, dir: &Path) -> Result<(bool, bool), DriveError> {
        let entries = match fs::read_dir(dir) {
            Ok(e) => e,
            Err(e) if e.kind() == ErrorKind::NotFound => return Ok((false, false)),
            Err(e) => return Err(io_err(dir, e)),
        };
        let (mut is_object, mut has_children) = (false, false);
        for entry in entries {
            let entry = entry.map_err(|e| io_err(dir, e))?;
            let name = entry.file_name();
            let name = name.to_string_lossy();
            if name == OBJECT_META_FILE {
                is_object = true;
            } else if name == DIR_MARKER
                || (!name.starts_with(RESERVED_PREFIX)
                    && entry.file_type().is_ok_and(|t| t.is_dir()))
            {
                // A key directory below, or the marker object `<this>/`.
                has_children = true;
            }
        }
        Ok((is_object, has_children))
    }

    /// Adds an entry; false (and `truncated`) when the page is already full.
    fn emit(&mut self, name: String, meta: Option<bytes::Bytes>) -> bool {
        if self.page.entries.len() >= self.opts.limit {
            self.page.truncated = true;
            return false;
        }
        self.page.entries.push(WalkEntry { name, meta });
        true
    }
}
