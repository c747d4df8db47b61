//! `rampart`: the console server and operator CLI.
#![forbid(unsafe_code)]

/// mimalloc instead of the system allocator: a signed-in page spent a quarter of its time in glibc's malloc and
/// free (perf, `/overview`), and glibc kept the 19 MiB argon2 blocks of a sign-in storm per arena.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> std::process::ExitCode {
    server::startup::cli::run()
}
