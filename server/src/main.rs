//! `rampart`: the console server and operator CLI.
#![forbid(unsafe_code)]

fn main() -> std::process::ExitCode {
    server::startup::cli::run()
}
