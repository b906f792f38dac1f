//! Command-line definitions; each subcommand lives in its own module.

use std::process::ExitCode;

mod admin;
mod admin_alert;
mod admin_host;
mod admission;
mod audit;
mod completion;
mod config;
mod db;
mod deploy;
mod host;
mod host_agent;
mod host_bench;
mod key;
mod netpol;
mod policy;
mod profile;
mod registry;
mod registry_args;
mod sbom;
mod sbom_attach;
mod scan;
mod sensor;
mod sensor_send;
mod sensor_sync;
mod serve;
mod sign;
mod verify;
mod version;

use clap::{Parser, Subcommand};

#[derive(Debug, Parser)]
#[command(
    name = "caisson",
    version = env!("CAISSON_VERSION"),
    about = "Container security: SBOM, scan, registry, sign, policy"
)]
pub struct Cli {
    /// More log output on stderr (-v info, -vv debug).
    #[arg(short, long, global = true, action = clap::ArgAction::Count)]
    pub verbose: u8,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// List the packages in an image and write an SBOM.
    Sbom(sbom::SbomArgs),
    /// Find vulnerabilities, secrets and misconfigurations in an image (or vulnerabilities in an SBOM); --exit-code gates CI.
    Scan(scan::ScanArgs),
    /// Lint a Dockerfile: CIS Docker Benchmark image rules and hadolint-style checks.
    Config(config::ConfigArgs),
    /// Manage the advisory database (update, import, status).
    Db(db::DbArgs),
    /// Evaluate manifests against policies (Pod Security Standards, supply chain, Rego, Gatekeeper).
    Policy(policy::PolicyArgs),
    /// Kubernetes admission webhook: serve it, or write its cluster manifests.
    Admission(admission::AdmissionArgs),
    /// Manage signing keys (cosign-compatible).
    Key(key::KeyArgs),
    /// Sign an image in a registry, the way cosign does (optionally also as an OCI referrer).
    Sign(sign::SignArgs),
    /// Verify an image's signatures; exit 0 when at least one is valid, 1 otherwise.
    Verify(verify::VerifyArgs),
    /// Run the private OCI registry.
    Serve(Box<serve::ServeArgs>),
    /// Verify or export the registry's hash-chained audit log.
    Audit(audit::AuditArgs),
    /// Administer a running registry (users, robots, namespaces, members, GC).
    Admin(admin::AdminArgs),
    /// A Caisson registry's scan results: `status <ref>` (health, findings, DB age), `scan <ref>` (on demand).
    Registry(registry::RegistryCmdArgs),
    /// Host posture: the containers of a Docker or Podman host and their images' vulnerabilities.
    Host(host::HostArgs),
    /// Runtime sensor: alerts on suspicious process and network activity in running containers.
    Sensor(sensor::SensorArgs),
    /// Network segmentation learned from the sensor's flows: learn NetworkPolicies or an nftables ruleset, check, apply, remove.
    Netpol(netpol::NetpolArgs),
    /// Executable allowlist profiles stored on a Caisson server: list, show, mode, allow, export.
    Profile(profile::ProfileArgs),
    /// Version ordering per ecosystem (dpkg, apk, rpm, PEP 440, SemVer, Maven…).
    Version(version::VersionArgs),
    /// Kubernetes manifests for the registry, the webhook, the host agent and the sensor.
    Deploy(deploy::DeployArgs),
    /// Print a shell completion script (bash, zsh, fish, elvish, powershell).
    Completion(completion::CompletionArgs),
    /// Print the manual page, or write one per subcommand with --out-dir.
    Man(completion::ManArgs),
}

pub fn init_logging(verbose: u8) {
    let default = match verbose {
        0 => "warn",
        1 => "info",
        _ => "debug",
    };
    let filter = tracing_subscriber::EnvFilter::try_from_env("CAISSON_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(default));
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .init();
}

/// Sets `stop` on SIGINT or SIGTERM (`docker stop` of a container running
/// the command), from a thread of its own, for the long-running commands
/// whose loops poll a stop flag (the sensor, the host agent).
pub fn stop_on_signal(stop: std::sync::Arc<std::sync::atomic::AtomicBool>) -> anyhow::Result<()> {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    std::thread::Builder::new()
        .name("signals".into())
        .spawn(move || {
            rt.block_on(caisson_http::shutdown_signal());
            stop.store(true, std::sync::atomic::Ordering::Relaxed);
        })?;
    Ok(())
}

/// The long-running commands (the host agent, the sensor) give up
/// transparent huge pages for the rest of the process. The allocator
/// (mimalloc) advises its arena for them, and on a mostly idle process each
/// 2 MiB page, once touched, stays resident: that was most of the agent's
/// memory at rest (`bench/host-agent.sh`: 60 MiB with them, 24 MiB
/// without). Short commands keep them (scans, the registry). A kernel that
/// refuses the `prctl` changes nothing but the footprint.
pub fn without_huge_pages() {
    if let Err(e) = nix::sys::prctl::set_thp_disable(true) {
        tracing::debug!("prctl(PR_SET_THP_DISABLE): {e}");
    }
}

pub fn run(cli: Cli) -> anyhow::Result<ExitCode> {
    match cli.command {
        Command::Sbom(args) => sbom::run(args),
        Command::Scan(args) => scan::run(args),
        Command::Config(args) => config::run(args),
        Command::Db(args) => db::run(args),
        Command::Policy(args) => policy::run(args),
        Command::Key(args) => key::run(args),
        Command::Sign(args) => sign::run(args),
        Command::Verify(args) => verify::run(args),
        Command::Version(args) => version::run(args),
        Command::Admission(args) => admission::run(args),
        Command::Serve(args) => serve::run(*args),
        Command::Audit(args) => audit::run(args),
        Command::Admin(args) => admin::run(args),
        Command::Registry(args) => registry::run(args),
        Command::Host(args) => host::run(args),
        Command::Sensor(args) => sensor::run(args),
        Command::Profile(args) => profile::run(args),
        Command::Deploy(args) => deploy::run(args),
        Command::Completion(args) => completion::completion(args),
        Command::Man(args) => completion::man(args),
        Command::Netpol(args) => netpol::run(args),
    }
}
