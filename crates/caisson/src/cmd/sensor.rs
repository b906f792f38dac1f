//! `caisson sensor`: the runtime sensor (see `caisson-sensor`).

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use anyhow::Context;
use std::sync::atomic::Ordering;
use std::sync::Arc;

use caisson_sensor::allowlist::{AllowlistMode, Profiles};
use caisson_sensor::metrics::Metrics;
use caisson_sensor::pipeline::{AlertSink, Engine, JsonLines, Pipeline, SensorConfig};
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
    Run(Box<RunArgs>),
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
    /// Record flows (who talks to whom, for `caisson netpol learn`) to this file as JSON lines, rewritten every 5 s and at exit.
    #[arg(long, value_name = "FILE")]
    flows: Option<PathBuf>,
    /// Most distinct flows kept; new flows beyond are dropped and counted.
    #[arg(long, value_name = "N", default_value_t = caisson_sensor::netpol::DEFAULT_FLOW_CAPACITY)]
    flows_max: usize,
    /// Raise network-violation alerts for connections this policy denies (NetworkPolicy YAML, or a `caisson netpol` nftables ruleset: then also for the packets it logs).
    #[arg(long, value_name = "FILE")]
    netpol: Option<PathBuf>,
    #[command(flatten)]
    server: ServerArgs,
}

/// A Caisson server: alerts go to it too (`POST /api/v1/alerts`, through an
/// on-disk queue) and, without `--mode`, profiles and their modes per image
/// come from it (docs/runtime.md "Server-stored profiles").
#[derive(Debug, Args)]
struct ServerArgs {
    /// The Caisson server (`caisson serve`) base URL; alerts still go to --alerts too; without --mode, allowlist profiles per image come from it (discover uploads what it learns).
    #[arg(long, env = "CAISSON_SERVER", value_name = "URL")]
    server: Option<String>,
    /// Robot account holding the alerts:write scope, and profiles:sync for profiles (robot$<label>).
    #[arg(long, env = "CAISSON_USER", requires = "server")]
    user: Option<String>,
    /// File holding the robot's secret (else CAISSON_PASSWORD).
    #[arg(long, value_name = "FILE", requires = "server")]
    password_file: Option<PathBuf>,
    /// PEM file of an extra CA certificate to trust for --server.
    #[arg(long, value_name = "FILE", requires = "server")]
    server_ca: Option<PathBuf>,
    /// Alert batch queue directory (default: <cache dir>/sensor/alert-queue).
    #[arg(long, value_name = "DIR", requires = "server")]
    queue: Option<PathBuf>,
    /// Most alert batches kept while the server is unreachable (the oldest are dropped first).
    #[arg(long, value_name = "N", default_value_t = caisson_host::agent::queue::DEFAULT_MAX_REPORTS)]
    max_queued: usize,
    /// How often profiles are fetched and discover uploads sent.
    #[arg(long, value_name = "DURATION", default_value = "10s", value_parser = parse_duration)]
    sync_interval: Duration,
}

impl ServerArgs {
    fn options(&self) -> anyhow::Result<Option<super::sensor_send::ServerOptions>> {
        let Some(server) = &self.server else {
            return Ok(None);
        };
        let user = self.user.clone().context(
            "--server needs --user (or CAISSON_USER): a robot with the alerts:write scope",
        )?;
        let password = match &self.password_file {
            Some(f) => fs_err::read_to_string(f)
                .context("reading --password-file")?
                .trim()
                .to_string(),
            None => std::env::var("CAISSON_PASSWORD")
                .context("--server needs --password-file FILE (or CAISSON_PASSWORD)")?,
        };
        let server_ca = match &self.server_ca {
            Some(p) => Some(fs_err::read(p).context("reading --server-ca")?),
            None => None,
        };
        let dir = self
            .queue
            .clone()
            .unwrap_or_else(|| caisson_sbom::default_cache_dir().join("sensor/alert-queue"));
        let queue = caisson_host::agent::queue::Queue::open(
            &dir,
            self.max_queued,
            caisson_host::agent::queue::DEFAULT_MAX_BYTES,
        )?;
        Ok(Some(super::sensor_send::ServerOptions {
            server: server.clone(),
            user,
            password,
            server_ca,
            queue,
        }))
    }
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
        SensorCommand::Run(a) => run_sensor(*a),
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

fn run_sensor(a: RunArgs) -> anyhow::Result<ExitCode> {
    let rules = RuleSet::load(a.rules.as_deref())?;
    let server = a.server.options()?;
    let directory = DockerDirectory::connect(a.docker_host.as_deref())?;
    let mode = match a.mode.unwrap_or(Mode::Off) {
        Mode::Off => AllowlistMode::Off,
        Mode::Discover => AllowlistMode::Discover,
        Mode::Monitor => AllowlistMode::Monitor,
        Mode::Protect => AllowlistMode::Protect,
    };
    // --server without --mode: the server's profiles and modes per image.
    let sync = match (&server, a.mode) {
        (Some(opts), None) => Some(super::sensor_sync::Sync::new(
            super::sensor_sync::SyncConfig {
                server: opts.server.clone(),
                user: opts.user.clone(),
                password: opts.password.clone(),
                ca: opts.server_ca.clone(),
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
    let policy = match &a.netpol {
        Some(p) => {
            let text = fs_err::read_to_string(p)?;
            Some(caisson_netpol::Policy::parse(
                &text,
                &p.display().to_string(),
            )?)
        }
        None => None,
    };
    let nflog_group = matches!(policy, Some(caisson_netpol::Policy::Nft(_)))
        .then_some(caisson_netpol::nft::LOG_GROUP);
    let config = SensorConfig {
        duration: a.duration.map(Duration::from_secs),
        mode,
        profiles,
        metrics,
        managed: sync.as_ref().map(|s| s.managed()),
        nflog_group,
        ..SensorConfig::default()
    };
    let mut engine = Engine::new(
        rules,
        directory,
        &config,
        caisson_sensor::pipeline::host_name(),
    );
    if a.flows.is_some() || policy.is_some() {
        let flows = a.flows.clone().map(|path| {
            caisson_sensor::netpol::FlowFile::new(path, a.flows_max, Duration::from_secs(5))
        });
        engine.netpol = Some(caisson_sensor::netpol::Netpol::new(
            flows,
            policy,
            config.rate_window,
        ));
    }
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
    let sink: Box<dyn AlertSink> = if a.alerts == "-" {
        Box::new(JsonLines(std::io::stdout().lock()))
    } else {
        let f = fs_err::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&a.alerts)
            .with_context(|| format!("opening the alerts file {}", a.alerts))?;
        Box::new(JsonLines(std::io::BufWriter::new(f)))
    };
    let (stats, forwarder) = match server {
        Some(opts) => {
            eprintln!(
                "caisson sensor: alerts also to {} (queue {})",
                opts.server,
                opts.queue.dir().display()
            );
            let log: caisson_host::agent::Log =
                Arc::new(|m: &str| eprintln!("caisson sensor: {m}"));
            let (mut fwd, forwarder) = super::sensor_send::Forwarder::start(opts, sink, log)?;
            let stats = pipeline.run(&mut engine, &mut fwd);
            drop(fwd);
            (stats, Some(forwarder))
        }
        None => {
            let mut sink = sink;
            (pipeline.run(&mut engine, &mut *sink), None)
        }
    };
    if let Some(np) = &mut engine.netpol {
        np.finish().context("writing the flows file")?;
        if let Some(f) = &np.flows {
            eprintln!(
                "caisson sensor: {} flows written to {} ({} observations of new flows dropped: table full)",
                f.table.len(),
                f.path.display(),
                f.table.dropped
            );
        }
        if a.netpol.is_some() {
            eprintln!("caisson sensor: {} network violations", np.violations);
        }
    }
    let not_forwarded = forwarder.map(|f| {
        let dropped = f.dropped.load(Ordering::Relaxed);
        f.finish(Duration::from_secs(5));
        dropped
    });
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
    if let Some(n) = not_forwarded.filter(|n| *n > 0) {
        eprintln!("caisson sensor: {n} alert(s) not forwarded to the server (channel full)");
    }
    Ok(ExitCode::SUCCESS)
}
