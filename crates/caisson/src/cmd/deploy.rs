//! `caisson deploy manifests`: Kubernetes YAML for Caisson's own components
//! (see `caisson-deploy`; docs/deploy.md).

use std::process::ExitCode;

use caisson_admission::manifests::{FailurePolicy, ManifestOptions};
use caisson_deploy::{Component, Options};
use clap::{Args, Subcommand};

#[derive(Debug, Args)]
pub struct DeployArgs {
    #[command(subcommand)]
    command: DeployCommand,
}

#[derive(Debug, Subcommand)]
enum DeployCommand {
    /// Write one component's manifests to stdout (`caisson admission
    /// manifests` is the webhook's older spelling, with the same output).
    Manifests(ManifestArgs),
}

#[derive(Debug, Args)]
struct ManifestArgs {
    /// registry, admission, host-agent or sensor.
    #[arg(long, value_parser = clap::builder::PossibleValuesParser::new(["registry", "admission", "host-agent", "sensor"]))]
    component: String,
    /// The Caisson image, by tag or digest (`scripts/image` builds it; push it
    /// to a registry the cluster pulls from).
    #[arg(long, value_name = "REF")]
    image: String,
    #[arg(long, default_value = "caisson", value_name = "NS")]
    namespace: String,
    /// Object and Service name (default: caisson-<component>).
    #[arg(long)]
    name: Option<String>,
    /// registry: serve HTTPS with this kubernetes.io/tls Secret (without it:
    /// plain HTTP, for TLS terminated in front of the registry).
    #[arg(long, value_name = "SECRET")]
    tls_secret: Option<String>,
    /// registry: size of the data volume.
    #[arg(long, default_value = "10Gi", value_name = "QUANTITY")]
    storage: String,
    /// host-agent, sensor: the registry's URL (default: the registry
    /// component's Service in the namespace).
    #[arg(long, value_name = "URL")]
    server: Option<String>,
    /// host-agent, sensor: a Secret whose `ca.crt` is the server's CA.
    #[arg(long, value_name = "SECRET")]
    server_ca_secret: Option<String>,
    /// admission: Fail or Ignore while the webhook is unavailable.
    #[arg(long, default_value = "Fail", value_parser = clap::builder::PossibleValuesParser::new(["Fail", "Ignore"]))]
    failure_policy: String,
    /// admission: how long the API server waits for an answer (1-30).
    #[arg(long, default_value_t = 5, value_parser = clap::value_parser!(u8).range(1..=30))]
    timeout_seconds: u8,
    /// admission: replicas of the webhook Deployment.
    #[arg(long, default_value_t = 2)]
    replicas: u32,
    /// admission: passed to `caisson admission serve` (repeatable).
    #[arg(long = "policy", short = 'p', value_name = "ID")]
    policies: Vec<String>,
}

pub fn run(args: DeployArgs) -> anyhow::Result<ExitCode> {
    let DeployCommand::Manifests(m) = args.command;
    let component: Component = m.component.parse()?;
    let mut opts = Options::new(&m.namespace, &m.image);
    opts.name = m.name;
    opts.tls_secret = m.tls_secret;
    opts.storage = m.storage;
    opts.server = m.server;
    opts.server_ca_secret = m.server_ca_secret;
    if component == Component::Admission {
        let name = opts
            .name
            .clone()
            .unwrap_or_else(|| "caisson-admission".into());
        let mut a = ManifestOptions::new(&m.namespace, name);
        a.failure_policy = m
            .failure_policy
            .parse::<FailurePolicy>()
            .map_err(anyhow::Error::msg)?;
        a.timeout_seconds = m.timeout_seconds;
        a.replicas = m.replicas;
        for p in &m.policies {
            a.serve_args.push("--policy".into());
            a.serve_args.push(p.clone());
        }
        opts.admission = Some(a);
    }
    print!("{}", caisson_deploy::generate(component, &opts)?);
    Ok(ExitCode::SUCCESS)
}
