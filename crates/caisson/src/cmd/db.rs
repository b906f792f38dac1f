//! `caisson db update|import|status`: the advisory database.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;
use caisson_advisory::{Progress, SourceOutcome, UpdateOptions, UpdateReport};

#[derive(Debug, clap::Args)]
pub struct DbArgs {
    /// Database directory (default: $CAISSON_DB, else the user cache dir).
    #[arg(long, global = true, value_name = "DIR")]
    pub db: Option<PathBuf>,
    #[command(subcommand)]
    pub command: DbCommand,
}

#[derive(Debug, clap::Subcommand)]
pub enum DbCommand {
    /// Download the live feeds and swap in a new database (the old one stays on failure).
    Update {
        /// PEM file of extra CA certificates to trust.
        #[arg(long, value_name = "FILE")]
        ca_bundle: Option<PathBuf>,
        /// Ignore ETag / Last-Modified and download everything.
        #[arg(long)]
        force: bool,
    },
    /// Import local feed files or directories (air-gapped use).
    Import {
        #[arg(required = true)]
        paths: Vec<PathBuf>,
    },
    /// Sources, record counts and age.
    Status {
        /// Print JSON instead of text.
        #[arg(long)]
        json: bool,
    },
}

fn print_report(report: &UpdateReport) -> ExitCode {
    for (name, outcome) in &report.sources {
        match outcome {
            SourceOutcome::Updated { stats, bytes } => {
                eprintln!(
                    "  {name}: updated ({} records, {bytes} bytes)",
                    stats.records
                )
            }
            SourceOutcome::NotModified { records } => {
                eprintln!("  {name}: not modified ({records} records kept)")
            }
            SourceOutcome::Failed { error } => eprintln!("  {name}: FAILED: {error}"),
            SourceOutcome::Skipped => eprintln!("  {name}: skipped"),
        }
    }
    if report.swapped {
        eprintln!("database ready at {}", report.path.display());
        ExitCode::SUCCESS
    } else {
        eprintln!(
            "error: update failed ({}); the previous database at {} is still in use",
            report.failed().join(", "),
            report.path.display()
        );
        ExitCode::from(1)
    }
}

pub fn run(args: DbArgs) -> anyhow::Result<ExitCode> {
    let dir = caisson_advisory::resolve_db_dir(args.db.as_deref())?;
    match args.command {
        DbCommand::Update { ca_bundle, force } => {
            let opts = UpdateOptions {
                ca_bundle,
                force,
                ..UpdateOptions::default()
            };
            let mut progress = |p: Progress<'_>| eprintln!("{p:?}");
            let report = caisson_advisory::update(
                &dir,
                &caisson_advisory::default_sources(),
                &opts,
                &mut progress,
            )
            .context("database update failed")?;
            Ok(print_report(&report))
        }
        DbCommand::Import { paths } => {
            let mut progress = |p: Progress<'_>| tracing::info!("{p:?}");
            let report = caisson_advisory::import_paths(
                &dir,
                &paths,
                &UpdateOptions::default(),
                &mut progress,
            )
            .context("database import failed")?;
            Ok(print_report(&report))
        }
        DbCommand::Status { json } => {
            let db = caisson_advisory::Database::open(&dir).with_context(|| {
                format!("no database at {} (run `caisson db update`)", dir.display())
            })?;
            let status = db.status()?;
            if json {
                println!("{}", serde_json::to_string_pretty(&status)?);
            } else {
                println!(
                    "database: {} (schema {})",
                    status.path.display(),
                    status.schema_version
                );
                println!("advisories: {}", status.advisories);
                for s in &status.sources {
                    println!(
                        "  source {}: {}, {} h old",
                        s.name,
                        s.url,
                        s.age_seconds() / 3600
                    );
                    if s.fallback_versions > 0 || s.unorderable_versions > 0 {
                        println!(
                            "    range versions its ecosystem's rules reject: {} ordered by OSV's rules, {} unorderable (their ranges are not evaluated)",
                            s.fallback_versions, s.unorderable_versions
                        );
                    }
                }
                let (fallback, unorderable) =
                    status.sources.iter().fold((0u64, 0u64), |(f, u), s| {
                        (
                            f.saturating_add(s.fallback_versions),
                            u.saturating_add(s.unorderable_versions),
                        )
                    });
                println!(
                    "range versions ordered by OSV's fallback rules: {fallback}; unorderable: {unorderable}"
                );
                for e in &status.ecosystems {
                    let rel = if e.release.is_empty() {
                        String::new()
                    } else {
                        format!(":{}", e.release)
                    };
                    println!("  {}{rel}: {} advisories", e.ecosystem, e.advisories);
                }
            }
            Ok(ExitCode::SUCCESS)
        }
    }
}
