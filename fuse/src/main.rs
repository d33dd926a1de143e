//! `tessera-mount`: see [`tessera_fuse::mount`]. Called as `mount.fuse.tessera` (the name
//! mount(8) calls for `-t fuse.tessera`; the build links it beside this program), it takes
//! mount(8)'s arguments instead: see [`tessera_fuse::mount_helper`].

fn main() -> std::process::ExitCode {
    let name = std::env::args_os().next().map(std::path::PathBuf::from);
    let name = name.as_deref().and_then(|p| p.file_name());
    if name.is_some_and(|n| n == tessera_fuse::mount_helper::HELPER_NAME) {
        tessera_fuse::mount::helper_main()
    } else {
        tessera_fuse::mount::main()
    }
}
