//! `caisson admission`: the Kubernetes validating webhook (see `caisson-admission`).

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use caisson_admission::manifests::{self, FailurePolicy, ManifestOptions};
use caisson_admission::{AdmissionState, DecisionSink, JsonLinesSink, ServerLimits};
use clap::{Args, Subcommand};

#[derive(Debug, Args)]
pub struct AdmissionArgs {
    #[command(subcommand)]
    command: AdmissionCommand,
}

#[derive(Debug, Subcommand)]
enum AdmissionCommand {
    /// Serve POST /admission/validate (AdmissionReview admission.k8s.io/v1) and
    /// GET /healthz over HTTPS.
    Serve(ServeArgs),
    /// Write the ValidatingWebhookConfiguration, Service, Deployment and TLS
    /// Secret (self-generated CA) to stdout.
    Manifests(ManifestArgs),
}

#[derive(Debug, Args)]
struct ServeArgs {
    #[arg(long, default_value = "0.0.0.0:8443", value_name = "ADDR")]
    listen: SocketAddr,
    /// Serving certificate chain, PEM (leaf first).
    #[arg(long, value_name = "FILE")]
    tls_cert: PathBuf,
    /// Private key of the serving certificate, PEM.
    #[arg(long, value_name = "FILE")]
    tls_key: PathBuf,
    /// A built-in policy id, a `.rego` file, a Gatekeeper template/constraint YAML,
    /// or a directory of them. Repeatable. Default: the built-in default set.
    #[arg(long = "policy", short = 'p', value_name = "ID|FILE|DIR")]
    policies: Vec<String>,
    /// Policy config (modes, parameters, exemptions), YAML.
    #[arg(long, value_name = "FILE")]
    config: Option<PathBuf>,
    /// Supply-chain facts per image (digest, os, signature, findings), JSON.
    #[arg(long, value_name = "FILE")]
    facts: Option<PathBuf>,
    /// Append every decision as a JSON line to this file.
    #[arg(long, value_name = "FILE")]
    decision_log: Option<PathBuf>,
    /// Largest accepted request body.
    #[arg(long, default_value_t = 4 << 20, value_name = "BYTES")]
    max_body_bytes: usize,
    /// Answer within this time or deny (keep below the webhook's timeoutSeconds).
    #[arg(long, default_value_t = 3000, value_name = "MS")]
    deadline_ms: u64,
    /// Evaluation threads (default: one per CPU).
    #[arg(long, value_name = "N")]
    workers: Option<usize>,
    #[command(flatten)]
    trust: super::verify::TrustArgs,
}

#[derive(Debug, Args)]
struct ManifestArgs {
    /// Namespace the webhook runs in (excluded from its own namespaceSelector).
    #[arg(long)]
    namespace: String,
    /// Service name; the certificate is issued for NAME.NAMESPACE.svc.
    #[arg(long)]
    service: String,
    /// Container image (default: ghcr.io/caisson/caisson:VERSION).
    #[arg(long)]
    image: Option<String>,
    /// Fail (default: reject requests while the webhook is unavailable) or Ignore
    /// (admit them unchecked). See docs/admission.md.
    #[arg(long, default_value = "Fail", value_parser = clap::builder::PossibleValuesParser::new(["Fail", "Ignore"]))]
    failure_policy: String,
    /// How long the API server waits for an answer (1-30).
    #[arg(long, default_value_t = 5, value_parser = clap::value_parser!(u8).range(1..=30))]
    timeout_seconds: u8,
    #[arg(long, default_value_t = 2)]
    replicas: u32,
    /// Passed to `caisson admission serve` in the Deployment (repeatable).
    #[arg(long = "policy", short = 'p', value_name = "ID")]
    policies: Vec<String>,
    /// Also write ca.crt, tls.crt and tls.key into this directory (to run the
    /// webhook outside the cluster, or to keep the CA).
    #[arg(long, value_name = "DIR")]
    cert_dir: Option<PathBuf>,
}

pub fn run(args: AdmissionArgs) -> anyhow::Result<ExitCode> {
    match args.command {
        AdmissionCommand::Serve(s) => serve(s),
        AdmissionCommand::Manifests(m) => write_manifests(m),
    }
}

fn serve(args: ServeArgs) -> anyhow::Result<ExitCode> {
    let (set, facts) = super::policy::load(
        &args.policies,
        args.config.as_deref(),
        args.facts.as_deref(),
    )?;
    let sink: Option<Arc<dyn DecisionSink>> = match &args.decision_log {
        Some(path) => Some(Arc::new(JsonLinesSink::open(path)?)),
        None => None,
    };
    let mut limits = ServerLimits {
        max_body_bytes: args.max_body_bytes,
        deadline: Duration::from_millis(args.deadline_ms),
        ..ServerLimits::default()
    };
    if let Some(w) = args.workers {
        limits.workers = w.max(1);
    }
    let tls = caisson_admission::tls::server_config(&args.tls_cert, &args.tls_key)?;
    let policies = set.policies().len();
    let source = args.trust.source()?;
    let state = AdmissionState::with_source(set, facts, source, sink, limits)?;
    let app = caisson_admission::router(state);
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("starting the async runtime")?;
    runtime.block_on(async move {
        let listener = tokio::net::TcpListener::bind(args.listen)
            .await
            .with_context(|| format!("listening on {}", args.listen))?;
        let local = listener.local_addr().context("reading the bound address")?;
        eprintln!("caisson admission: listening on https://{local} ({policies} policies)");
        // Header-read and body-idle timeouts, connection limits; SIGINT or
        // SIGTERM stop accepting and let in-flight reviews finish.
        caisson_http::serve(
            listener,
            Some(tls),
            app,
            caisson_http::Limits::default(),
            caisson_http::shutdown_signal(),
        )
        .await;
        eprintln!("caisson admission: stopped");
        anyhow::Ok(())
    })?;
    Ok(ExitCode::SUCCESS)
}

fn write_manifests(args: ManifestArgs) -> anyhow::Result<ExitCode> {
    let mut opts = ManifestOptions::new(&args.namespace, &args.service);
    if let Some(image) = args.image {
        opts.image = image;
    }
    opts.failure_policy = args
        .failure_policy
        .parse::<FailurePolicy>()
        .map_err(anyhow::Error::msg)?;
    opts.timeout_seconds = args.timeout_seconds;
    opts.replicas = args.replicas;
    for p in &args.policies {
        opts.serve_args.push("--policy".into());
        opts.serve_args.push(p.clone());
    }
    let generated = manifests::generate(&opts)?;
    if let Some(dir) = &args.cert_dir {
        fs_err::create_dir_all(dir)?;
        fs_err::write(dir.join("ca.crt"), &generated.ca_pem)?;
        fs_err::write(dir.join("tls.crt"), &generated.cert_pem)?;
        fs_err::write(dir.join("tls.key"), &generated.key_pem)?;
    }
    print!("{}", generated.yaml);
    Ok(ExitCode::SUCCESS)
}
