//! `caisson host inventory`: the containers of a Docker or Podman host and
//! the vulnerabilities of their images (`caisson_host::inventory`).

use std::io::{IsTerminal, Write};
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;
use caisson_host::inventory::{self, cache::SbomCache, registry::RegistrySource};
use caisson_host::spool::{SpoolOptions, DEFAULT_SPOOL_LIMIT};
use caisson_scan_report::ScanFormat;

#[derive(Debug, clap::Args)]
pub struct HostArgs {
    #[command(subcommand)]
    pub command: HostCommand,
}

#[derive(Debug, clap::Subcommand)]
pub enum HostCommand {
    /// Every container (running and stopped) with its image and that image's vulnerabilities.
    Inventory(InventoryArgs),
    /// The CIS Docker Benchmark for this host, its daemon and its running containers.
    Bench(super::host_bench::BenchArgs),
}

#[derive(Debug, clap::Args)]
pub struct InventoryArgs {
    /// Engine address: unix:///path.sock, tcp://host:port, https://host:port (default: DOCKER_HOST, else /var/run/docker.sock, else Podman's sockets).
    #[arg(long, value_name = "URL")]
    pub docker_host: Option<String>,
    /// Advisory database directory (default: $CAISSON_DB, else the user cache dir).
    #[arg(long, value_name = "DIR")]
    pub db: Option<PathBuf>,
    /// A Caisson registry whose stored findings replace a local scan for images pulled from it.
    #[arg(long, value_name = "URL")]
    pub registry: Option<String>,
    /// PEM file of extra CA certificates to trust for --registry.
    #[arg(long, value_name = "FILE")]
    pub registry_ca: Option<PathBuf>,
    /// User for the registry API (default: from the auth files).
    #[arg(long, env = "CAISSON_USER")]
    pub user: Option<String>,
    /// Password or robot secret for the registry API (default: from the auth files).
    #[arg(long, env = "CAISSON_PASSWORD", hide_env_values = true)]
    pub password: Option<String>,
    /// Only running containers.
    #[arg(long)]
    pub running: bool,
    /// table (default on a terminal), json (default otherwise), sarif, cyclonedx-json.
    #[arg(short, long)]
    pub format: Option<ScanFormat>,
    /// Write the report to FILE instead of stdout.
    #[arg(short, long, value_name = "FILE")]
    pub output: Option<PathBuf>,
    /// Only report these severities, e.g. HIGH,CRITICAL.
    #[arg(long, value_name = "LIST")]
    pub severity: Option<String>,
    /// Exit with this code when any listed container's image has a reported finding (CI gate).
    #[arg(long, value_name = "N", default_value_t = 0)]
    pub exit_code: u8,
    /// Where image SBOMs are cached by image id (default: <cache dir>/host).
    #[arg(long, value_name = "DIR")]
    pub cache_dir: Option<PathBuf>,
    /// Largest image export spooled for scanning, in bytes; larger images are scan-failed.
    #[arg(long, value_name = "BYTES", default_value_t = DEFAULT_SPOOL_LIMIT)]
    pub spool_limit: u64,
    /// Warn when the database is older than this many days.
    #[arg(long, value_name = "DAYS", default_value_t = 7)]
    pub max_db_age_days: u64,
}

pub fn run(args: HostArgs) -> anyhow::Result<ExitCode> {
    match args.command {
        HostCommand::Inventory(a) => inventory_cmd(a),
        HostCommand::Bench(a) => super::host_bench::run(a),
    }
}

fn inventory_cmd(args: InventoryArgs) -> anyhow::Result<ExitCode> {
    let cache_dir = args
        .cache_dir
        .clone()
        .unwrap_or_else(|| caisson_sbom::default_cache_dir().join("host"));
    let mut scan = caisson_scan::Options {
        db_dir: args.db.clone(),
        max_db_age: Some(std::time::Duration::from_secs(
            args.max_db_age_days * 86_400,
        )),
        ..Default::default()
    };
    if let Some(list) = &args.severity {
        scan.policy.severities =
            Some(caisson_match::parse_severities(list).map_err(anyhow::Error::msg)?);
    }
    scan.policy.today = Some(caisson_match::Date::today_utc());
    let registry = match &args.registry {
        Some(url) => {
            let explicit = match (&args.user, &args.password) {
                (Some(u), Some(p)) => Some((u.clone(), p.clone())),
                _ => None,
            };
            Some(RegistrySource::new(
                url,
                args.registry_ca.as_deref(),
                explicit,
            )?)
        }
        None => None,
    };
    let now = super::sbom::now_rfc3339();
    let opts = inventory::Options {
        running_only: args.running,
        cache: SbomCache::new(&cache_dir),
        spool: SpoolOptions {
            dir: cache_dir.join("spool"),
            limit: args.spool_limit,
        },
        scan,
        registry,
        now: now.clone(),
    };
    let engine = caisson_host::connect(args.docker_host.as_deref())?;
    let report = inventory::inventory(&engine, &opts)?;
    for w in &report.warnings {
        eprintln!("warning[{}]: {}", w.code, w.message);
    }
    let to_terminal = args.output.is_none() && std::io::stdout().is_terminal();
    let format = args.format.unwrap_or(if to_terminal {
        ScanFormat::Table
    } else {
        ScanFormat::Json
    });
    if format != ScanFormat::Table {
        for n in &report.inventory.notes {
            eprintln!("note[{}]: {}", n.code, n.message);
        }
    }
    let stub = caisson_model::Sbom {
        source: caisson_model::SourceInfo {
            reference: report.inventory.engine.endpoint.clone(),
            ..Default::default()
        },
        ..Default::default()
    };
    let render = caisson_report::RenderOptions::new(&stub, &now, env!("CARGO_PKG_VERSION"));
    match &args.output {
        Some(path) => {
            let mut f = std::io::BufWriter::new(
                fs_err::File::create(path).context("cannot create the output file")?,
            );
            caisson_host::render::write(format, &report, &render, &mut f)?;
            f.flush().context("cannot write the output file")?;
        }
        None => {
            let stdout = std::io::stdout();
            let mut lock = stdout.lock();
            caisson_host::render::write(format, &report, &render, &mut lock)?;
        }
    }
    if args.exit_code != 0 && inventory::has_findings(&report.inventory) {
        return Ok(ExitCode::from(args.exit_code));
    }
    Ok(ExitCode::SUCCESS)
}
