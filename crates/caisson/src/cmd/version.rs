//! `caisson version`: version ordering per ecosystem (see `caisson-version`).

use std::cmp::Ordering;
use std::io::{BufRead, BufWriter, Write};
use std::process::ExitCode;

use anyhow::Context;
use caisson_version::Ecosystem;
use clap::{Args, Subcommand};

#[derive(Debug, Args)]
pub struct VersionArgs {
    #[command(subcommand)]
    command: VersionCommand,
}

#[derive(Debug, Subcommand)]
enum VersionCommand {
    /// Compare versions the way the ecosystem's own tooling does; prints `<`, `=` or `>`.
    Compare(CompareArgs),
}

#[derive(Debug, Args)]
struct CompareArgs {
    /// OSV ecosystem name: Debian, Ubuntu, Alpine, "Red Hat", PyPI, npm, Go,
    /// crates.io, Maven, RubyGems, NuGet, Packagist, Pub, Hackage, CRAN, SemVer.
    ecosystem: String,
    /// First version.
    #[arg(allow_hyphen_values = true, required_unless_present = "stdin")]
    a: Option<String>,
    /// Second version.
    #[arg(allow_hyphen_values = true, required_unless_present = "stdin")]
    b: Option<String>,
    /// Read `A B` pairs, one per line, and print one result line per pair
    /// (`<`, `=`, `>` or `error: <reason>`).
    #[arg(long, conflicts_with_all = ["a", "b"])]
    stdin: bool,
}

fn symbol(ord: Ordering) -> &'static str {
    match ord {
        Ordering::Less => "<",
        Ordering::Equal => "=",
        Ordering::Greater => ">",
    }
}

pub fn run(args: VersionArgs) -> anyhow::Result<ExitCode> {
    match args.command {
        VersionCommand::Compare(c) => compare(c),
    }
}

fn compare(args: CompareArgs) -> anyhow::Result<ExitCode> {
    let eco: Ecosystem = args.ecosystem.parse()?;
    if args.stdin {
        compare_stdin(eco)?;
        return Ok(ExitCode::SUCCESS);
    }
    let (Some(a), Some(b)) = (args.a, args.b) else {
        anyhow::bail!("comparing versions: expected two versions or --stdin");
    };
    match caisson_version::compare(eco, &a, &b) {
        Ok(ord) => {
            println!("{}", symbol(ord));
            Ok(ExitCode::SUCCESS)
        }
        Err(e) => {
            eprintln!("error: {e}");
            Ok(ExitCode::from(2))
        }
    }
}

fn compare_stdin(eco: Ecosystem) -> anyhow::Result<()> {
    let stdin = std::io::stdin();
    let mut input = stdin.lock();
    let stdout = std::io::stdout();
    let mut out = BufWriter::with_capacity(64 * 1024, stdout.lock());
    let mut line = Vec::new();
    loop {
        line.clear();
        if input
            .read_until(b'\n', &mut line)
            .context("reading version pairs from stdin")?
            == 0
        {
            break;
        }
        let text = String::from_utf8_lossy(&line);
        let mut words = text.split_whitespace();
        let result = match (words.next(), words.next(), words.next()) {
            (Some(a), Some(b), None) => caisson_version::compare(eco, a, b).map(symbol),
            _ => {
                writeln!(out, "error: expected two whitespace-separated versions")?;
                continue;
            }
        };
        match result {
            Ok(s) => writeln!(out, "{s}")?,
            Err(e) => writeln!(out, "error: {e}")?,
        }
    }
    out.flush().context("writing comparison results")?;
    Ok(())
}
