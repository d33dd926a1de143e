//! What a CLI argument names: stdin/stdout, a local path, or a remote `BUCKET/KEY`.

use std::path::{Path, PathBuf};

/// A parsed argument.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Target {
    /// `-`: stdin or stdout.
    Stdio,
    /// A local file or directory.
    Local(PathBuf),
    /// An object (or prefix, or bucket when `key` is empty).
    Remote {
        /// Bucket.
        bucket: String,
        /// Key or prefix; may be empty.
        key: String,
    },
}

/// Local if `-`, an explicit path (`/`, `./`, `../`, `~/`, `.`, `..`) or an existing path;
/// otherwise `BUCKET[/KEY]`.
pub fn parse(arg: &str) -> Target {
    if arg == "-" {
        return Target::Stdio;
    }
    let explicit =
        ["/", "./", "../", "~/"].iter().any(|p| arg.starts_with(p)) || arg == "." || arg == "..";
    if explicit || Path::new(arg).exists() {
        return Target::Local(expand_home(arg));
    }
    remote(arg)
}

/// `BUCKET[/KEY]`, whatever exists locally.
pub fn remote(arg: &str) -> Target {
    let (bucket, key) = arg.split_once('/').unwrap_or((arg, ""));
    Target::Remote {
        bucket: bucket.to_string(),
        key: key.to_string(),
    }
}

fn expand_home(arg: &str) -> PathBuf {
    match (arg.strip_prefix("~/"), std::env::var_os("HOME")) {
        (Some(rest), Some(home)) => PathBuf::from(home).join(rest),
        _ => PathBuf::from(arg),
    }
}

/// The last segment of a key or path, for copies into a "directory".
pub fn base_name(s: &str) -> &str {
    s.trim_end_matches('/').rsplit('/').next().unwrap_or(s)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn arguments_are_classified() {
        assert_eq!(parse("-"), Target::Stdio);
        assert_eq!(parse("/tmp/x"), Target::Local("/tmp/x".into()));
        assert_eq!(parse("./x"), Target::Local("./x".into()));
        assert_eq!(
            parse("bucket/a/b"),
            Target::Remote {
                bucket: "bucket".into(),
                key: "a/b".into()
            }
        );
        assert_eq!(
            parse("bucket"),
            Target::Remote {
                bucket: "bucket".into(),
                key: String::new()
            }
        );
        assert_eq!(base_name("a/b/c.txt"), "c.txt");
        assert_eq!(base_name("dir/"), "dir");
    }
}
