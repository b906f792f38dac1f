//! `caisson serve`: the private OCI registry, and with `--admission` the
//! Kubernetes admission webhook beside it (decisions in the same audit log).

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{bail, Context};
use caisson_admission::{AdmissionState, DecisionRecord, DecisionSink, ServerLimits};
use caisson_audit::Outcome;
use caisson_registry::{open_embedded, router, Config};

#[derive(Debug, clap::Args)]
pub struct ServeArgs {
    /// Directory for blobs, metadata (SQLite), the token key and the audit log.
    #[arg(long, value_name = "DIR")]
    pub data_dir: PathBuf,
    /// Address to listen on.
    #[arg(long, default_value = "127.0.0.1:5000", value_name = "ADDR")]
    pub listen: SocketAddr,
    /// PEM certificate chain for TLS.
    #[arg(long, value_name = "FILE", requires = "tls_key")]
    pub tls_cert: Option<PathBuf>,
    /// PEM private key for TLS.
    #[arg(long, value_name = "FILE", requires = "tls_cert")]
    pub tls_key: Option<PathBuf>,
    /// Allow plain HTTP on a non-loopback address.
    #[arg(long)]
    pub allow_insecure_http: bool,
    /// Externally visible URL (for token realms behind a proxy).
    #[arg(long, value_name = "URL")]
    pub public_url: Option<String>,
    /// Seconds between garbage collections (0 = never).
    #[arg(long, default_value_t = 3600)]
    pub gc_interval: u64,
    /// Unreferenced blobs younger than this many seconds are kept.
    #[arg(long, default_value_t = 3600)]
    pub gc_grace: u64,
    /// Upload sessions idle longer than this many seconds are removed.
    #[arg(long, default_value_t = 86400)]
    pub upload_ttl: u64,
    /// Record one pull in N in the audit log (0 = none).
    #[arg(long, default_value_t = 1)]
    pub pull_audit_every: u64,
    /// Lifetime of issued bearer tokens, in seconds.
    #[arg(long, default_value_t = 300)]
    pub token_ttl: i64,
    /// Also serve the Kubernetes admission webhook (`POST /admission/validate`)
    /// with the default policy set; every decision goes to the audit log.
    #[arg(long)]
    pub admission: bool,
    /// Admission policies: a built-in id, a `.rego` file, Gatekeeper YAML or a
    /// directory (repeatable; implies --admission).
    #[arg(long = "admission-policy", value_name = "ID|FILE|DIR")]
    pub admission_policies: Vec<String>,
    /// Admission policy config (modes, parameters, exemptions), YAML.
    #[arg(long, value_name = "FILE")]
    pub admission_config: Option<PathBuf>,
    /// Supply-chain facts per image for the admission policies, JSON.
    #[arg(long, value_name = "FILE")]
    pub admission_facts: Option<PathBuf>,
    #[command(flatten)]
    pub trust: super::verify::TrustArgs,
    /// Advisory database directory for scan on push (as `caisson db --db`);
    /// without it, pushed images get an SBOM but stay `unscanned`.
    #[arg(long, value_name = "DIR")]
    pub db: Option<PathBuf>,
    /// Concurrent scan workers (0 = no background scanning).
    #[arg(long, default_value_t = 2)]
    pub scan_workers: usize,
    /// Seconds between checks for a swapped advisory database (`caisson db
    /// update`/`import`); a change re-matches every stored SBOM.
    #[arg(long, default_value_t = 30)]
    pub db_poll: u64,
    /// Days finished scan jobs are kept (history: the newest 100 lines per
    /// digest); pruned hourly.
    #[arg(long, value_name = "DAYS", default_value_t = 7)]
    pub scan_retention_days: u64,
    /// Webhook endpoints (YAML, see docs/registry.md) notified of pushes,
    /// deletions, scans, new critical findings and admission denials;
    /// deliveries are logged to `<data-dir>/webhook-deliveries.jsonl`.
    #[arg(long, value_name = "FILE")]
    pub webhooks: Option<PathBuf>,
    /// Key that signs checkpoints of the audit chain (created 0600 if
    /// missing). Default: `<data-dir>/audit-key.pem`.
    #[arg(long, value_name = "FILE")]
    pub audit_key: Option<PathBuf>,
    /// Append-only file of signed audit checkpoints. Default:
    /// `<data-dir>/audit-checkpoints.jsonl`.
    #[arg(long, value_name = "FILE")]
    pub audit_checkpoints: Option<PathBuf>,
    /// Sign a checkpoint after this many audit records (0: interval only).
    #[arg(long, value_name = "N", default_value_t = 1000)]
    pub checkpoint_every: u64,
    /// Seconds between checkpoints while the audit chain grows.
    #[arg(long, value_name = "S", default_value_t = 60)]
    pub checkpoint_interval: u64,
    /// How long a new image's executable profile stays in discover before
    /// it is switched to monitor (30s, 15m, 1h, 2d; 0: never).
    #[arg(long, value_name = "DURATION", default_value = "1h", value_parser = super::profile::parse_window)]
    pub profile_learning: Duration,
    /// How long runtime alerts (`caisson sensor run --server`) are kept: 30d, 12h; pruned hourly.
    #[arg(long, value_name = "AGE", default_value = "30d", value_parser = parse_age)]
    pub alert_retention: Duration,
    /// Most runtime alerts kept (the oldest received are pruned first).
    #[arg(long, value_name = "N", default_value_t = caisson_registry::alerts::DEFAULT_MAX_ALERTS)]
    pub max_alerts: u64,
}

/// `30d`, `12h`, `90m`: an age of at least a minute.
fn parse_age(s: &str) -> Result<Duration, String> {
    let (n, unit) = s.split_at(s.find(|c: char| !c.is_ascii_digit()).unwrap_or(s.len()));
    let n: u64 = n
        .parse()
        .map_err(|_| format!("{s:?} is not an age such as 30d, 12h or 90m"))?;
    let secs = match unit {
        "d" => n.checked_mul(86_400),
        "h" => n.checked_mul(3600),
        "m" => n.checked_mul(60),
        _ => return Err(format!("{s:?}: the unit must be d, h or m")),
    }
    .filter(|s| *s >= 60)
    .ok_or_else(|| format!("{s:?}: must be at least 1m"))?;
    Ok(Duration::from_secs(secs))
}

/// Decisions waiting for the audit log at once; beyond, a decision is
/// refused (and so denied) without waiting.
const ADMISSION_AUDIT_IN_FLIGHT: usize = 64;

type EmbeddedRegistry = caisson_registry::Registry<
    caisson_registry::store::fs::FsBlobStore,
    caisson_registry::store::sqlite::SqliteMetaStore,
>;

/// Admission decisions into the registry's hash-chained audit log, durable
/// before the webhook answers. The sink is called on an evaluation thread
/// (or a blocking thread for deadline denials) and waits there for the
/// group commit: a slow log holds evaluation threads, the bounded
/// evaluation queue fills and the webhook answers 503 (the API server
/// applies `failurePolicy`). At most [`ADMISSION_AUDIT_IN_FLIGHT`]
/// decisions wait at once; one more, or one whose append fails, is an
/// error, and the webhook denies that request (fail closed).
struct AuditSink {
    reg: Arc<EmbeddedRegistry>,
    runtime: tokio::runtime::Handle,
    in_flight: tokio::sync::Semaphore,
    violations: Option<caisson_notify::Notifier>,
}

impl DecisionSink for AuditSink {
    fn record(&self, d: &DecisionRecord) -> Result<(), caisson_admission::AdmissionError> {
        let refused = |why: String| caisson_admission::AdmissionError::Record(why);
        let _permit = self.in_flight.try_acquire().map_err(|_| {
            refused(format!(
                "{ADMISSION_AUDIT_IN_FLIGHT} decisions already wait for the audit log"
            ))
        })?;
        let target = match &d.namespace {
            Some(ns) => format!("{} {ns}/{}", d.kind, d.name),
            None => format!("{} {}", d.kind, d.name),
        };
        let outcome = if d.allowed {
            Outcome::Success
        } else {
            Outcome::Denied
        };
        let detail = serde_json::to_string(d).unwrap_or_default();
        self.runtime
            .block_on(self.reg.audit(
                &d.user,
                "kubernetes",
                "admission.review",
                &target,
                outcome,
                &detail,
            ))
            .map_err(|e| refused(format!("audit log: {e}")))?;
        if let (false, Some(n)) = (d.allowed, &self.violations) {
            n.send(caisson_notify::Notification::new(
                caisson_notify::events::POLICY_VIOLATION,
                serde_json::json!({"gate": "admission", "decision": d}),
            ));
        }
        Ok(())
    }
}

pub fn run(args: ServeArgs) -> anyhow::Result<ExitCode> {
    let tls = args.tls_cert.is_some();
    if !tls && !args.listen.ip().is_loopback() && !args.allow_insecure_http {
        bail!(
            "refusing plain HTTP on non-loopback address {}\nhint: pass --tls-cert/--tls-key, or --allow-insecure-http behind a TLS-terminating proxy",
            args.listen
        );
    }
    let config = Config {
        public_url: args.public_url.clone(),
        tls,
        gc_grace: Duration::from_secs(args.gc_grace),
        upload_ttl: Duration::from_secs(args.upload_ttl),
        pull_audit_every: args.pull_audit_every,
        token_ttl_secs: args.token_ttl,
        scan: caisson_registry::scan::ScanConfig {
            workers: args.scan_workers,
            db_dir: args.db.clone(),
            db_poll: Duration::from_secs(args.db_poll.max(1)),
            job_retention: Duration::from_secs(args.scan_retention_days.saturating_mul(86_400)),
            ..Default::default()
        },
        checkpoint_every: args.checkpoint_every,
        checkpoint_interval: Duration::from_secs(args.checkpoint_interval.max(1)),
        audit_key: args.audit_key.clone(),
        audit_checkpoints: args.audit_checkpoints.clone(),
        profile_learning: args.profile_learning,
        alerts: caisson_registry::alerts::AlertConfig {
            retention: args.alert_retention,
            max_alerts: args.max_alerts,
        },
        ..Config::default()
    };
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("starting the async runtime")?;
    runtime.block_on(serve(args, config))?;
    Ok(ExitCode::SUCCESS)
}

async fn serve(args: ServeArgs, config: Config) -> anyhow::Result<()> {
    let reg = open_embedded(&args.data_dir, config)
        .with_context(|| format!("opening registry data in {}", args.data_dir.display()))?;
    let password = std::env::var("CAISSON_ADMIN_PASSWORD").ok();
    if let Some(generated) = reg.bootstrap_admin(password).await? {
        eprintln!("created administrator `admin` with password: {generated}");
        eprintln!("hint: this is shown once; change it with `caisson admin user passwd admin`");
    }
    let cleaned = reg
        .clean_uploads(Duration::from_secs(args.upload_ttl))
        .await
        .context("cleaning interrupted uploads")?;
    if cleaned > 0 {
        eprintln!("removed {cleaned} interrupted upload(s)");
    }
    let reg = Arc::new(reg);
    // Re-scans of digests that reported hosts run become
    // `container.vulnerable` events (subscribed before the scan workers start).
    caisson_registry::hosts::watch::watch(reg.clone());
    let notifier = match &args.webhooks {
        Some(path) => {
            let endpoints = caisson_notify::load_endpoints(path)?;
            let log_path = args.data_dir.join("webhook-deliveries.jsonl");
            let log = caisson_notify::JsonLinesLog::open(&log_path)?;
            let count = endpoints.len();
            let n = caisson_notify::Notifier::start(
                endpoints,
                caisson_notify::Options::default(),
                Arc::new(log),
            )?;
            // Subscribed before the scan workers start: the startup re-scan's
            // events are delivered too.
            caisson_registry::notify::forward(reg.subscribe(), n.clone());
            eprintln!(
                "webhooks: {count} endpoint(s), deliveries logged to {}",
                log_path.display()
            );
            Some(n)
        }
        None => None,
    };
    if let Err(e) = reg.check_last_checkpoint().await {
        eprintln!(
            "error: the audit log does not match its last signed checkpoint: {e}\nhint: run `caisson audit verify --data-dir {}`; serving on, new checkpoints do not hide the old ones",
            args.data_dir.display()
        );
    }
    // Checkpoints go out as `audit.checkpoint` webhooks too: subscribed above.
    reg.start_anchoring(Duration::from_secs(args.checkpoint_interval.max(1)));
    reg.start_scanning()
        .await
        .context("starting the scan workers")?;
    if args.gc_interval > 0 {
        reg.start_gc(Duration::from_secs(args.gc_interval));
    }
    let mut app = router(reg.clone());
    if args.admission || !args.admission_policies.is_empty() {
        let (set, facts) = super::policy::load(
            &args.admission_policies,
            args.admission_config.as_deref(),
            args.admission_facts.as_deref(),
        )?;
        let policies = set.policies().len();
        let sink: Arc<dyn DecisionSink> = Arc::new(AuditSink {
            reg: reg.clone(),
            runtime: tokio::runtime::Handle::current(),
            in_flight: tokio::sync::Semaphore::new(ADMISSION_AUDIT_IN_FLIGHT),
            violations: notifier.clone(),
        });
        let source = args.trust.source()?;
        let state =
            AdmissionState::with_source(set, facts, source, Some(sink), ServerLimits::default())?;
        app = app.merge(caisson_admission::router(state));
        eprintln!("admission webhook at /admission/validate ({policies} policies)");
    }
    let tls = match (&args.tls_cert, &args.tls_key) {
        (Some(cert), Some(key)) => Some(
            caisson_admission::tls::server_config(cert, key).with_context(|| {
                format!(
                    "loading TLS certificate {} and key {}",
                    cert.display(),
                    key.display()
                )
            })?,
        ),
        _ => None,
    };
    let listener = tokio::net::TcpListener::bind(args.listen)
        .await
        .with_context(|| format!("binding {}", args.listen))?;
    let scheme = if tls.is_some() { "https" } else { "http" };
    eprintln!("caisson registry listening on {scheme}://{}", args.listen);
    // Header-read and body-idle timeouts and per-address connection limits
    // (slowloris); SIGINT/SIGTERM stop accepting and drain in-flight requests.
    caisson_http::serve(
        listener,
        tls,
        app,
        caisson_http::Limits::default(),
        caisson_http::shutdown_signal(),
    )
    .await;
    // No request is in flight any more; scan workers finish the job they
    // hold (its results and record stored) and take no other.
    let (stopped, workers) = reg.stop_scanning(Duration::from_secs(30)).await;
    if stopped < workers {
        eprintln!(
            "{} scan worker(s) still busy after 30 s: their jobs run again at the next start",
            workers - stopped
        );
    }
    // Requests have drained: their records are in the chain, so the last
    // checkpoint covers everything this process wrote.
    match reg.checkpoint_audit().await {
        Ok(Some(cp)) => eprintln!("audit checkpoint at record {} ({})", cp.seq, cp.hash),
        Ok(None) => {}
        Err(e) => eprintln!("error: audit checkpoint at shutdown failed: {e}"),
    }
    eprintln!("caisson registry stopped");
    Ok(())
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use caisson_registry::store::MetaStore;

    fn decision(name: &str) -> DecisionRecord {
        DecisionRecord {
            time: "2026-12-06T00:00:00Z".into(),
            uid: name.into(),
            operation: "CREATE".into(),
            allowed: false,
            kind: "v1/Pod".into(),
            namespace: Some("team".into()),
            name: name.into(),
            sub_resource: None,
            user: "alice".into(),
            dry_run: false,
            denied_by: vec!["no-latest".into()],
            warned_by: vec![],
            audited_by: vec![],
            note: None,
        }
    }

    /// The admission → audit bridge is bounded: with every slot taken a
    /// decision is refused (the webhook then denies, fail closed) and nothing
    /// is recorded for it; once a slot frees, decisions are recorded again.
    #[test]
    fn admission_audit_bridge_refuses_past_its_bound() {
        let dir = tempfile::tempdir().unwrap();
        let rt = tokio::runtime::Runtime::new().unwrap();
        let reg = Arc::new(
            rt.block_on(async { open_embedded(dir.path(), Config::default()) })
                .unwrap(),
        );
        let sink = AuditSink {
            reg: reg.clone(),
            runtime: rt.handle().clone(),
            in_flight: tokio::sync::Semaphore::new(ADMISSION_AUDIT_IN_FLIGHT),
            violations: None,
        };
        let held = sink
            .in_flight
            .try_acquire_many(ADMISSION_AUDIT_IN_FLIGHT as u32)
            .unwrap();
        let err = sink.record(&decision("refused")).unwrap_err().to_string();
        assert!(
            err.contains(&format!(
                "{ADMISSION_AUDIT_IN_FLIGHT} decisions already wait"
            )),
            "{err}"
        );
        drop(held);
        sink.record(&decision("recorded")).unwrap();
        let records = rt.block_on(reg.meta().audit_records(0, 100)).unwrap();
        let reviews: Vec<_> = records
            .iter()
            .filter(|r| r.event.action == "admission.review")
            .collect();
        assert_eq!(reviews.len(), 1, "{reviews:?}");
        assert_eq!(reviews[0].event.target, "v1/Pod team/recorded");
        assert_eq!(reviews[0].event.outcome, Outcome::Denied);
    }
}
