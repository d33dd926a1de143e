//! Links `mount.fuse.tessera` to `tessera-mount` in the build's output directory, so
//! `cargo build --release` leaves both names side by side (a Cargo binary cannot carry
//! dots in its name). Best effort: `cargo install` users make the link themselves (README).

fn main() {
    println!("cargo::rerun-if-changed=build.rs");
    let Some(out) = std::env::var_os("OUT_DIR") else {
        return;
    };
    // OUT_DIR is <profile dir>/build/<package>-<hash>/out.
    let Some(profile_dir) = std::path::Path::new(&out).ancestors().nth(3) else {
        return;
    };
    let link = profile_dir.join("mount.fuse.tessera");
    if std::fs::symlink_metadata(&link).is_err() {
        let _ = std::os::unix::fs::symlink("tessera-mount", &link);
    }
}
