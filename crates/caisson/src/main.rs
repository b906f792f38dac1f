//! The `caisson` binary: parse arguments, dispatch, print errors once.

mod cmd;

use std::process::ExitCode;

use clap::Parser;

// The global allocator is mimalloc, declared by `regorus` (feature
// `allocator-memory-limits`): matching and cataloging allocate many
// short-lived strings, and glibc's allocator spent a third of a
// 10,000-package match consolidating free lists (`cargo bench -p
// caisson-scan --bench match`); its allocation counters are how policy
// evaluation enforces its memory ceiling (`caisson_policy::Limits::memory`).

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
