//! `tessera-mount`: see [`tessera_fuse::mount`].

fn main() -> std::process::ExitCode {
    tessera_fuse::mount::main()
}
