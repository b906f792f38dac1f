//! `caisson host agent`: reports this host's containers and CIS benchmark
//! result to a Caisson server on every engine event and every interval
//! (`caisson_host::agent`), through an on-disk queue.

use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::atomic::AtomicBool;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use caisson_cis::Benchmark;
use caisson_host::agent::{self, queue::Queue};
use caisson_model::host_report::{ReportedBench, ReportedCheck, MAX_LONG};

#[derive(Debug, clap::Args)]
pub struct AgentArgs {
    /// The Caisson server (`caisson serve`) base URL, e.g. https://caisson.example:5000.
    #[arg(long, env = "CAISSON_SERVER", value_name = "URL")]
    pub server: String,
    /// Robot account holding the hosts:report scope (robot$<label>).
    #[arg(long, env = "CAISSON_USER")]
    pub user: String,
    /// The robot's secret.
    #[arg(long, env = "CAISSON_PASSWORD", hide_env_values = true)]
    pub password: String,
    /// PEM file of an extra CA certificate to trust for --server.
    #[arg(long, value_name = "FILE")]
    pub server_ca: Option<PathBuf>,
    /// Report at least this often (30s, 10m, 1h); events report sooner.
    #[arg(long, default_value = "10m", value_parser = agent::parse_interval)]
    pub interval: Duration,
    /// Engine address (as for `host inventory`).
    #[arg(long, value_name = "URL")]
    pub docker_host: Option<String>,
    /// The host's root filesystem for the benchmark (e.g. /host in a container).
    #[arg(long, value_name = "DIR", default_value = "/")]
    pub root: PathBuf,
    /// Report queue directory (default: <cache dir>/host/agent-queue).
    #[arg(long, value_name = "DIR")]
    pub queue: Option<PathBuf>,
    /// Most reports kept while the server is unreachable (the oldest are dropped first).
    #[arg(long, value_name = "N", default_value_t = agent::queue::DEFAULT_MAX_REPORTS)]
    pub max_queued: usize,
    /// Host id (default: the engine's daemon id).
    #[arg(long, value_name = "ID")]
    pub host_id: Option<String>,
    /// Benchmark numbering: v1.7 (default) or v1.8.
    #[arg(long, value_name = "VERSION", default_value = "v1.7")]
    pub benchmark: String,
    /// Quiet time after an engine event before reporting, in milliseconds.
    #[arg(long, value_name = "MS", default_value_t = 1000)]
    pub debounce_ms: u64,
}

/// `s` without control characters, at most [`MAX_LONG`] bytes.
fn clean(s: &str) -> String {
    let mut out = String::new();
    for c in s.chars() {
        let c = if c.is_control() { ' ' } else { c };
        if out.len() + c.len_utf8() > MAX_LONG {
            break;
        }
        out.push(c);
    }
    out
}

pub fn run(args: AgentArgs) -> anyhow::Result<ExitCode> {
    super::without_huge_pages();
    let benchmark = Benchmark::parse(&args.benchmark)
        .with_context(|| format!("--benchmark {}: expected v1.7 or v1.8", args.benchmark))?;
    if let Some(id) = &args.host_id {
        anyhow::ensure!(
            caisson_model::host_report::valid_host_id(id),
            "--host-id {id:?}: must be 1-128 of [A-Za-z0-9._:-]"
        );
    }
    let queue_dir = args
        .queue
        .clone()
        .unwrap_or_else(|| caisson_sbom::default_cache_dir().join("host/agent-queue"));
    let queue = Queue::open(&queue_dir, args.max_queued, agent::queue::DEFAULT_MAX_BYTES)?;
    let server_ca = match &args.server_ca {
        Some(p) => Some(fs_err::read(p).context("reading --server-ca")?),
        None => None,
    };
    let env = |k: &str| std::env::var(k).ok();
    let endpoint = caisson_host::engine::resolve_endpoint(
        args.docker_host.as_deref(),
        &env,
        &|p: &std::path::Path| p.exists(),
    )?;
    // Fail fast on a wrong address; later outages are retried.
    caisson_host::Engine::connect_to(endpoint.clone())?;
    let root = args.root.clone();
    let bench: agent::Bench = Box::new(move |engine| {
        let report = super::host_bench::bench_report(engine, &root, benchmark, &[])
            .map_err(|e| format!("{e:#}"))?;
        Ok(ReportedBench {
            benchmark: benchmark.as_str().into(),
            checks: report
                .results
                .iter()
                .map(|r| ReportedCheck {
                    id: r.id.clone(),
                    title: clean(&r.title),
                    status: r.status.as_str().into(),
                    evidence: clean(&r.evidence),
                })
                .collect(),
        })
    });
    eprintln!(
        "caisson host agent: reporting to {} every {:?} (and on engine events); queue {}",
        args.server,
        args.interval,
        queue_dir.display()
    );
    let opts = agent::Options {
        server: args.server.clone(),
        user: args.user.clone(),
        password: args.password.clone(),
        server_ca,
        endpoint,
        interval: args.interval,
        debounce: Duration::from_millis(args.debounce_ms),
        host_id: args.host_id.clone(),
        queue,
        version: env!("CARGO_PKG_VERSION").into(),
        log: Arc::new(|m: &str| eprintln!("agent: {m}")),
    };
    // SIGTERM/SIGINT: the report being sent is finished (or stays queued
    // on disk) and the agent exits.
    let stop = Arc::new(AtomicBool::new(false));
    super::stop_on_signal(stop.clone())?;
    agent::run(opts, bench, stop)?;
    eprintln!("caisson host agent: stopped");
    Ok(ExitCode::SUCCESS)
}
