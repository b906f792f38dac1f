//! The `caisson` binary: parse arguments, dispatch, print errors once.

mod cmd;

use std::process::ExitCode;

use clap::Parser;

/// mimalloc: matching and cataloging allocate many short-lived strings;
/// glibc's allocator spent a third of a 10,000-package match consolidating
/// free lists (`cargo bench -p caisson-scan --bench match`).
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> ExitCode {
    let cli = cmd::Cli::parse();
    cmd::init_logging(cli.verbose);
    match cmd::run(cli) {
        Ok(code) => code,
        Err(err) => {
            eprintln!("error: {err:#}");
            ExitCode::from(2)
        }
    }
}
