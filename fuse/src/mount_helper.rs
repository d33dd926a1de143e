//! `mount.fuse.tessera`: the name mount(8) calls for `-t fuse.tessera` (an fstab line or
//! `mount -t fuse.tessera BUCKET DIR -o …`). It follows mount(8)'s helper convention,
//! `SOURCE MOUNTPOINT [-o OPTIONS] [-n] [-s] [-f] [-v]`, and turns it into
//! `tessera-mount` flags: the source is the bucket (`*` or `tessera:*` for every bucket),
//! options `endpoint=`, `credentials=`, `cache_ttl=`, `cache_dir=`, `cache_size=`,
//! `negative_ttl=`, `uid=`, `gid=`,
//! `umask=`, `file_mode=`, `dir_mode=`, `allow_other`, `ro`/`rw`, `ca_cert=`; mount(8)'s own options (`_netdev`,
//! `nofail`, `noauto`, `defaults`, `x-systemd.*`, …) are ignored, as mount.fuse does.
//!
//! Invariant: an option it does not know is refused with its name, never passed on or
//! dropped silently; credentials come only from a file, never from the command line.

use std::ffi::OsString;

/// The name mount(8) calls.
pub const HELPER_NAME: &str = "mount.fuse.tessera";

/// What mount(8) asked for.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Request {
    /// `tessera-mount` arguments.
    pub args: Vec<OsString>,
    /// `-f`: check everything but do not mount.
    pub fake: bool,
    /// `-v`: say what is run.
    pub verbose: bool,
}

/// Options mount(8) hands to every helper, which mean nothing to a FUSE mount of ours.
const IGNORED: &[&str] = &[
    "_netdev",
    "nofail",
    "noauto",
    "auto",
    "defaults",
    "user",
    "nouser",
    "users",
    "owner",
    "group",
    "exec",
    "noexec",
    "suid",
    "nosuid",
    "dev",
    "nodev",
    "async",
    "atime",
    "noatime",
    "relatime",
    "nodiratime",
    "loop",
];

/// Turns mount(8)'s arguments (without the program name) into `tessera-mount` flags.
pub fn translate(argv: &[String]) -> Result<Request, String> {
    let mut req = Request::default();
    let mut positional = Vec::new();
    let mut options = Vec::new();
    let mut it = argv.iter();
    while let Some(a) = it.next() {
        match a.as_str() {
            "-o" => options.push(it.next().ok_or("-o needs a value")?.clone()),
            "-n" | "-s" => {}
            "-f" => req.fake = true,
            "-v" => req.verbose = true,
            o if o.starts_with("-o") => options.push(o[2..].to_string()),
            o if o.starts_with('-') => return Err(format!("unknown flag {o}")),
            p => positional.push(p.to_string()),
        }
    }
    let [source, mountpoint] = positional.as_slice() else {
        return Err("usage: mount.fuse.tessera BUCKET MOUNTPOINT [-o OPTIONS]".into());
    };
    let flag = |name: &str| OsString::from(format!("--{name}"));
    let bucket = source.strip_prefix("tessera:").unwrap_or(source);
    if bucket != "*" {
        req.args.extend([flag("bucket"), bucket.into()]);
    }
    for option in options.iter().flat_map(|o| o.split(',')) {
        let (name, value) = option.split_once('=').unwrap_or((option, ""));
        let with_value = |name: &str| -> Result<[OsString; 2], String> {
            if value.is_empty() {
                return Err(format!("option {name} needs a value ({name}=…)"));
            }
            Ok([flag(name), value.into()])
        };
        match name {
            "" | "rw" => {}
            "ro" => req.args.push(flag("read-only")),
            "allow_other" => req.args.push(flag("allow-other")),
            "endpoint" | "uid" | "gid" | "umask" => req.args.extend(with_value(name)?),
            "credentials" => req.args.extend(with_value("credentials-file")?),
            "cache_ttl" | "cache_dir" | "cache_size" | "negative_ttl" | "file_mode"
            | "dir_mode" | "ca_cert" => req.args.extend(with_value(&name.replace('_', "-"))?),
            "insecure" => req.args.push(flag("insecure")),
            n if IGNORED.contains(&n) || n.starts_with("x-") || n.starts_with("comment=") => {}
            n => return Err(format!("unknown mount option {n}")),
        }
    }
    req.args.push(mountpoint.into());
    Ok(req)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(line: &str) -> Result<Vec<String>, String> {
        let argv: Vec<String> = line.split(' ').map(str::to_string).collect();
        let req = translate(&argv)?;
        Ok(req
            .args
            .iter()
            .map(|a| a.to_string_lossy().into())
            .collect())
    }

    #[test]
    fn an_fstab_line_becomes_tessera_mount_flags() {
        let got = args(
            "photos /mnt/p -o rw,_netdev,nofail,endpoint=http://n1:9000,credentials=/etc/t/c,uid=1000,umask=022,allow_other,x-systemd.automount",
        )
        .unwrap();
        let want = "--bucket photos --endpoint http://n1:9000 --credentials-file /etc/t/c --uid 1000 --umask 022 --allow-other /mnt/p";
        assert_eq!(got.join(" "), want);
        assert_eq!(
            args("tessera:* /m -o ro").unwrap().join(" "),
            "--read-only /m"
        );
        let got = args("b /m -n -s -o cache_ttl=2s -o file_mode=0640,dir_mode=0750").unwrap();
        assert_eq!(
            got.join(" "),
            "--bucket b --cache-ttl 2s --file-mode 0640 --dir-mode 0750 /m"
        );
        let got = args("b /m -o cache_size=1G,negative_ttl=5s").unwrap();
        assert_eq!(
            got.join(" "),
            "--bucket b --cache-size 1G --negative-ttl 5s /m"
        );
    }

    #[test]
    fn fake_and_verbose_are_understood_and_unknown_options_refused() {
        let argv: Vec<String> = ["b", "/m", "-f", "-v"].map(String::from).to_vec();
        let req = translate(&argv).unwrap();
        assert!(req.fake && req.verbose);
        assert_eq!(
            args("b /m -o secret=x").unwrap_err(),
            "unknown mount option secret"
        );
        assert!(args("b /m -o endpoint").unwrap_err().contains("endpoint="));
        assert!(args("b -o ro").unwrap_err().starts_with("usage"));
        assert!(args("b /m -x").is_err());
    }
}
