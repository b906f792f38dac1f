//! `caisson sensor`: the runtime sensor (see `caisson-sensor`).

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use anyhow::Context;
use std::sync::Arc;

use caisson_sensor::allowlist::{AllowlistMode, Profiles};
use caisson_sensor::metrics::Metrics;
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
    /// Learn the executables one container runs for a while; write its image's allowlist profile.
    Learn(LearnArgs),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
enum Mode {
    /// File rules only, no allowlists.
    Off,
    /// Learn each image's executables; write profiles to --profiles DIR at exit.
    Discover,
    /// Alert (exec-not-allowed) on executables not in the image's profile.
    Monitor,
    /// Deny them: the exec fails with EPERM (fanotify permission events).
    Protect,
}

#[derive(Debug, Args)]
struct LearnArgs {
    /// Docker Engine address (unix:///path, tcp://host:port); default DOCKER_HOST, then /var/run/docker.sock.
    #[arg(long, value_name = "URL")]
    docker_host: Option<String>,
    /// The container (name or id prefix).
    #[arg(long, value_name = "NAME")]
    container: String,
    /// How long to learn: 30s, 5m, 1500ms.
    #[arg(long, value_name = "DURATION", default_value = "30s", value_parser = parse_duration)]
    duration: Duration,
    /// Where the profile goes (YAML).
    #[arg(short, long, value_name = "FILE")]
    output: PathBuf,
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
    /// Executable allowlists: off (default), discover, monitor or protect;
    /// with --server and no --mode, each image's mode is the server's.
    #[arg(long, value_enum)]
    mode: Option<Mode>,
    /// Directory of allowlist profiles (*.yaml): read in monitor and protect mode, written in discover mode.
    #[arg(long, value_name = "DIR")]
    profiles: Option<PathBuf>,
    /// Serve Prometheus metrics on this address (GET /metrics), e.g. 127.0.0.1:9464.
    #[arg(long, value_name = "ADDR")]
    metrics: Option<std::net::SocketAddr>,
    #[command(flatten)]
    server: ServerArgs,
}

/// The Caisson server the sensor syncs profiles with (docs/runtime.md
/// "Server-stored profiles").
#[derive(Debug, Args)]
struct ServerArgs {
    /// Caisson server base URL: profiles and their modes per image come from it (discover uploads what it learns).
    #[arg(long, value_name = "URL", requires_all = ["user", "password_file"])]
    server: Option<String>,
    /// Robot with the profiles:sync scope (robot$name).
    #[arg(long, value_name = "NAME")]
    user: Option<String>,
    /// File holding the robot's secret.
    #[arg(long, value_name = "FILE")]
    password_file: Option<PathBuf>,
    /// PEM CA certificate to trust for --server.
    #[arg(long, value_name = "FILE")]
    server_ca: Option<PathBuf>,
    /// How often profiles are fetched and discover uploads sent.
    #[arg(long, value_name = "DURATION", default_value = "10s", value_parser = parse_duration)]
    sync_interval: Duration,
}

fn parse_duration(s: &str) -> Result<Duration, String> {
    let (n, unit) = s
        .find(|c: char| !c.is_ascii_digit())
        .map_or((s, "s"), |i| s.split_at(i));
    let n: u64 = n
        .parse()
        .map_err(|_| format!("{s:?} is not a duration (30s, 5m, 1500ms)"))?;
    match unit {
        "ms" => Ok(Duration::from_millis(n)),
        "s" => Ok(Duration::from_secs(n)),
        "m" => Ok(Duration::from_secs(n * 60)),
        _ => Err(format!("{s:?}: unit must be ms, s or m")),
    }
}

#[derive(Debug, Args)]
struct RulesArgs {
    /// User rules file to check on top of the built-in rules.
    #[arg(long, value_name = "FILE")]
    rules: Option<PathBuf>,
}

pub fn run(args: SensorArgs) -> anyhow::Result<ExitCode> {
    super::without_huge_pages();
    match args.command {
        SensorCommand::Run(a) => run_sensor(a),
        SensorCommand::Learn(a) => learn(a),
        SensorCommand::Rules(a) => {
            let set = RuleSet::load(a.rules.as_deref())?;
            for r in set.rules() {
                let severity = serde_json::to_value(r.severity)?;
                println!(
                    "{:<24} {:<8} {:<10} {:<20} {}",
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

fn learn(a: LearnArgs) -> anyhow::Result<ExitCode> {
    let directory = DockerDirectory::connect(a.docker_host.as_deref())?;
    let config = SensorConfig {
        duration: Some(a.duration),
        exec: false,
        conntrack: false,
        resources: false,
        mode: AllowlistMode::Discover,
        only: Some(a.container.clone()),
        ..SensorConfig::default()
    };
    let mut engine = Engine::new(
        RuleSet::from_texts("", None)?,
        DockerDirectory::connect(a.docker_host.as_deref())?,
        &config,
        caisson_sensor::pipeline::host_name(),
    );
    let pipeline = Pipeline::start_with(config, Some(Box::new(directory)))
        .context("starting the sensor (it needs root on Linux)")?;
    let shared = pipeline.shared();
    eprintln!(
        "caisson sensor learn: learning the executables of {} for {:?}",
        a.container, a.duration
    );
    pipeline.run(&mut engine, &mut JsonLines(std::io::sink()));
    let profiles = shared.learned();
    let Some(p) = profiles.first() else {
        anyhow::bail!(
            "learned nothing: container {} was not found running (hint: check `docker ps`)",
            a.container
        );
    };
    p.write(&a.output)?;
    eprintln!(
        "caisson sensor learn: {} executables of image {} written to {}",
        p.executables.len(),
        p.image,
        a.output.display()
    );
    Ok(ExitCode::SUCCESS)
}

/// The secret in `path` (first line).
fn read_secret(path: Option<&std::path::Path>) -> anyhow::Result<String> {
    let path = path.context("--server needs --password-file")?;
    let text = fs_err::read_to_string(path)?;
    let secret = text.lines().next().unwrap_or_default().trim().to_string();
    if secret.is_empty() {
        anyhow::bail!("{} is empty", path.display());
    }
    Ok(secret)
}

fn run_sensor(a: RunArgs) -> anyhow::Result<ExitCode> {
    let rules = RuleSet::load(a.rules.as_deref())?;
    let directory = DockerDirectory::connect(a.docker_host.as_deref())?;
    let mode = match a.mode.unwrap_or(Mode::Off) {
        Mode::Off => AllowlistMode::Off,
        Mode::Discover => AllowlistMode::Discover,
        Mode::Monitor => AllowlistMode::Monitor,
        Mode::Protect => AllowlistMode::Protect,
    };
    // --server without --mode: the server's profiles and modes per image.
    let sync = match (&a.server.server, a.mode) {
        (Some(url), None) => Some(super::sensor_sync::Sync::new(
            super::sensor_sync::SyncConfig {
                server: url.clone(),
                user: a.server.user.clone().unwrap_or_default(),
                password: read_secret(a.server.password_file.as_deref())?,
                ca: a.server.server_ca.clone(),
                interval: a.server.sync_interval,
                cache_dir: a.profiles.clone(),
            },
        )?),
        _ => None,
    };
    let profiles = match (&a.profiles, mode) {
        _ if sync.is_some() => Profiles::default(),
        (Some(dir), AllowlistMode::Monitor | AllowlistMode::Protect) => Profiles::load_dir(dir)?,
        (None, AllowlistMode::Monitor | AllowlistMode::Protect | AllowlistMode::Discover) => {
            anyhow::bail!(
                "--mode {:?} needs --profiles DIR",
                a.mode.unwrap_or(Mode::Off)
            )
        }
        _ => Profiles::default(),
    };
    let metrics = a.metrics.map(|_| Arc::new(Metrics::new()));
    if let (Some(addr), Some(m)) = (a.metrics, &metrics) {
        let bound = caisson_sensor::metrics::serve(addr, m.clone())
            .with_context(|| format!("serving metrics on {addr}"))?;
        eprintln!("caisson sensor: metrics on http://{bound}/metrics");
    }
    let config = SensorConfig {
        duration: a.duration.map(Duration::from_secs),
        mode,
        profiles,
        metrics,
        managed: sync.as_ref().map(|s| s.managed()),
        ..SensorConfig::default()
    };
    let mut engine = Engine::new(
        rules,
        directory,
        &config,
        caisson_sensor::pipeline::host_name(),
    );
    let watcher = DockerDirectory::connect(a.docker_host.as_deref())?;
    let pipeline = Pipeline::start_with(config, Some(Box::new(watcher)))
        .context("starting the sensor (it needs root on Linux)")?;
    let shared = pipeline.shared();
    let stop = pipeline.stop.clone();
    if let Some(sync) = sync {
        sync.spawn(shared.clone(), stop.clone())
            .context("starting the profile sync")?;
    }
    super::stop_on_signal(stop)?;
    let allowlists = match (&a.server.server, a.mode) {
        (Some(url), None) => format!("per image from {url}"),
        (_, m) => format!("{:?}", m.unwrap_or(Mode::Off)),
    };
    eprintln!(
        "caisson sensor: watching process execs, connections and container files (allowlists: {allowlists}); alerts to {}",
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
    if mode == AllowlistMode::Discover {
        if let Some(dir) = &a.profiles {
            fs_err::create_dir_all(dir)?;
            for p in shared.learned() {
                let path = dir.join(p.file_name());
                p.write(&path)?;
                eprintln!(
                    "caisson sensor: profile of {} ({} executables) written to {}",
                    p.image,
                    p.executables.len(),
                    path.display()
                );
            }
        }
    }
    eprintln!(
        "caisson sensor: {} events, {} alerts ({} suppressed as duplicates), {} lost, rule evaluation p99 {:.1} µs",
        stats.events, stats.alerts, stats.suppressed, lost, stats.eval_p99_us
    );
    Ok(ExitCode::SUCCESS)
}
