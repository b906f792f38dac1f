//! `caisson host bench`: the CIS Docker Benchmark (`caisson_cis`) over the
//! facts of this host (files under `--root`) and of its running containers
//! (`caisson_host::Engine`).

use std::io::IsTerminal;
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;
use caisson_cis::render::{render, Format};
use caisson_cis::{
    gather_containers, gather_host, Benchmark, ContainerSource, GatherOptions, Options, SourceError,
};
use caisson_host::bollard::models::{ContainerInspectResponse, ContainerTopResponse, ImageInspect};

#[derive(Debug, clap::Args)]
pub struct BenchArgs {
    /// Engine address (as for `host inventory`).
    #[arg(long, value_name = "URL")]
    pub docker_host: Option<String>,
    /// The host's root filesystem (e.g. /host when run in a container).
    #[arg(long, value_name = "DIR", default_value = "/")]
    pub root: PathBuf,
    /// Only these checks or sections, comma-separated (e.g. 5,2.1).
    #[arg(long, value_name = "IDS", value_delimiter = ',')]
    pub checks: Vec<String>,
    /// Benchmark numbering: v1.7 (default) or v1.8.
    #[arg(long, value_name = "VERSION", default_value = "v1.7")]
    pub benchmark: String,
    /// table (default on a terminal), json (default otherwise), sarif.
    #[arg(short, long)]
    pub format: Option<String>,
    /// Write the report to FILE instead of stdout.
    #[arg(short, long, value_name = "FILE")]
    pub output: Option<PathBuf>,
}

/// The engine as the benchmark's container source.
struct Source<'a>(&'a caisson_host::Engine);

fn source_err(e: caisson_host::HostError) -> SourceError {
    if e.is_not_found() {
        SourceError::Gone
    } else {
        SourceError::Other(e.to_string())
    }
}

impl ContainerSource for Source<'_> {
    fn list_running(&self) -> Result<Vec<(String, String)>, SourceError> {
        Ok(self
            .0
            .containers(false)
            .map_err(source_err)?
            .into_iter()
            .map(|c| {
                (
                    c.id.unwrap_or_default(),
                    c.names
                        .and_then(|n| n.into_iter().next())
                        .unwrap_or_default(),
                )
            })
            .collect())
    }
    fn inspect(&self, id: &str) -> Result<ContainerInspectResponse, SourceError> {
        self.0.inspect(id).map_err(source_err)
    }
    fn top(&self, id: &str) -> Result<ContainerTopResponse, SourceError> {
        self.0.top(id).map_err(source_err)
    }
    fn image_inspect(&self, id: &str) -> Result<ImageInspect, SourceError> {
        self.0.image_inspect(id).map_err(source_err)
    }
}

pub fn run(args: BenchArgs) -> anyhow::Result<ExitCode> {
    let benchmark = match args.benchmark.as_str() {
        "v1.7" | "1.7" | "v1.7.0" => Benchmark::V1_7,
        "v1.8" | "1.8" | "v1.8.0" => Benchmark::V1_8,
        other => anyhow::bail!("--benchmark {other}: expected v1.7 or v1.8"),
    };
    let to_terminal = args.output.is_none() && std::io::stdout().is_terminal();
    let format = match args.format.as_deref() {
        Some(f) => Format::parse(f)
            .with_context(|| format!("--format {f}: expected table, json or sarif"))?,
        None if to_terminal => Format::Table,
        None => Format::Json,
    };
    let engine = caisson_host::connect(args.docker_host.as_deref())?;
    let info = engine.info().context("reading the engine's /info")?;
    let gathered = gather_containers(&Source(&engine))
        .map_err(|e| anyhow::anyhow!("listing the running containers: {e}"))?;
    let mut facts = gather_host(
        &GatherOptions {
            root: args.root.clone(),
            docker_host: Some(engine.endpoint().to_string()),
            content_trust: std::env::var("DOCKER_CONTENT_TRUST").ok(),
            ..Default::default()
        },
        Some(info),
    );
    facts.notes.extend(gathered.notes);
    let report = caisson_cis::run(
        &facts,
        &gathered.containers,
        &gathered.skipped,
        &Options {
            benchmark,
            checks: args.checks.clone(),
            ..Default::default()
        },
    )?;
    let color = to_terminal && std::env::var_os("NO_COLOR").is_none();
    let text = render(&report, format, env!("CARGO_PKG_VERSION"), color);
    match &args.output {
        Some(path) => fs_err::write(path, text).context("cannot write the output file")?,
        None => print!("{text}"),
    }
    Ok(ExitCode::SUCCESS)
}
