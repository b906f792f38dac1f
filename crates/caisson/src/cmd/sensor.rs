//! `caisson sensor`: the runtime sensor (see `caisson-sensor`).

use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::atomic::Ordering;
use std::time::Duration;

use anyhow::Context;
use caisson_sensor::pipeline::{Engine, JsonLines, Pipeline, SensorConfig};
use caisson_sensor::{DockerDirectory, RuleSet};
use clap::{Args, Subcommand};

#[derive(Debug, Args)]
pub struct SensorArgs {
    #[command(subcommand)]
    command: SensorCommand,
}

#[derive(Debug, Subcommand)]
enum SensorCommand {
    /// Watch every container on this host (root, Linux): process execs and connections, checked against the rules; alerts as JSON lines.
    Run(RunArgs),
    /// Check a rules file and list the rules in force (built-in plus the file).
    Rules(RulesArgs),
}

#[derive(Debug, Args)]
struct RunArgs {
    /// Docker Engine address (unix:///path, tcp://host:port); default DOCKER_HOST, then /var/run/docker.sock.
    #[arg(long, value_name = "URL")]
    docker_host: Option<String>,
    /// User rules file (YAML): adds, overrides and disables rules, extends lists (docs/runtime.md).
    #[arg(long, value_name = "FILE")]
    rules: Option<PathBuf>,
    /// Where alerts go, one JSON object per line; `-` is stdout.
    #[arg(long, value_name = "FILE|-", default_value = "-")]
    alerts: String,
    /// Stop after this many seconds (default: until interrupted).
    #[arg(long, value_name = "SECS")]
    duration: Option<u64>,
}

#[derive(Debug, Args)]
struct RulesArgs {
    /// User rules file to check on top of the built-in rules.
    #[arg(long, value_name = "FILE")]
    rules: Option<PathBuf>,
}

pub fn run(args: SensorArgs) -> anyhow::Result<ExitCode> {
    match args.command {
        SensorCommand::Run(a) => run_sensor(a),
        SensorCommand::Rules(a) => {
            let set = RuleSet::load(a.rules.as_deref())?;
            for r in set.rules() {
                let severity = serde_json::to_value(r.severity)?;
                println!(
                    "{:<22} {:<8} {:<10} {:<16} {}",
                    r.id,
                    severity.as_str().unwrap_or("?"),
                    format!("{:?}", r.event).to_lowercase(),
                    r.mitre.join(","),
                    r.condition_text
                        .split_whitespace()
                        .collect::<Vec<_>>()
                        .join(" ")
                );
            }
            Ok(ExitCode::SUCCESS)
        }
    }
}

fn run_sensor(a: RunArgs) -> anyhow::Result<ExitCode> {
    let rules = RuleSet::load(a.rules.as_deref())?;
    let directory = DockerDirectory::connect(a.docker_host.as_deref())?;
    let config = SensorConfig {
        duration: a.duration.map(Duration::from_secs),
        ..SensorConfig::default()
    };
    let mut engine = Engine::new(
        rules,
        directory,
        &config,
        caisson_sensor::pipeline::host_name(),
    );
    let pipeline =
        Pipeline::start(config).context("starting the sensor (it needs root on Linux)")?;
    let stop = pipeline.stop.clone();
    std::thread::spawn(move || {
        if let Ok(rt) = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
        {
            rt.block_on(async {
                let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()).ok();
                tokio::select! {
                    _ = tokio::signal::ctrl_c() => {}
                    _ = async { match term.as_mut() { Some(t) => { t.recv().await; } None => std::future::pending::<()>().await } } => {}
                }
            });
            stop.store(true, Ordering::Relaxed);
        }
    });
    eprintln!(
        "caisson sensor: watching process execs and connections; alerts to {}",
        a.alerts
    );
    let stats = if a.alerts == "-" {
        pipeline.run(&mut engine, &mut JsonLines(std::io::stdout().lock()))
    } else {
        let f = fs_err::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&a.alerts)
            .with_context(|| format!("opening the alerts file {}", a.alerts))?;
        pipeline.run(&mut engine, &mut JsonLines(std::io::BufWriter::new(f)))
    };
    let lost: u64 = stats
        .sources
        .iter()
        .map(|s| s.dropped + s.kernel_overruns)
        .sum();
    eprintln!(
        "caisson sensor: {} events, {} alerts ({} suppressed as duplicates), {} lost, rule evaluation p99 {:.1} µs",
        stats.events, stats.alerts, stats.suppressed, lost, stats.eval_p99_us
    );
    Ok(ExitCode::SUCCESS)
}
