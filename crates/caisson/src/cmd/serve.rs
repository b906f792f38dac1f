//! `caisson serve`: the private OCI registry.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{bail, Context};
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
    if args.gc_interval > 0 {
        let gc_reg = reg.clone();
        let every = Duration::from_secs(args.gc_interval);
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(every);
            tick.tick().await;
            loop {
                tick.tick().await;
                match gc_reg.gc("system").await {
                    Ok(r) => tracing::info!(?r, "garbage collection"),
                    Err(e) => tracing::error!("garbage collection failed: {e}"),
                }
            }
        });
    }
    let app = router(reg).into_make_service_with_connect_info::<SocketAddr>();
    match (&args.tls_cert, &args.tls_key) {
        (Some(cert), Some(key)) => {
            let _ = rustls::crypto::ring::default_provider().install_default();
            let tls = axum_server::tls_rustls::RustlsConfig::from_pem_file(cert, key)
                .await
                .with_context(|| {
                    format!(
                        "loading TLS certificate {} and key {}",
                        cert.display(),
                        key.display()
                    )
                })?;
            eprintln!("caisson registry listening on https://{}", args.listen);
            axum_server::bind_rustls(args.listen, tls)
                .serve(app)
                .await
                .with_context(|| format!("serving on {}", args.listen))?;
        }
        _ => {
            let listener = tokio::net::TcpListener::bind(args.listen)
                .await
                .with_context(|| format!("binding {}", args.listen))?;
            eprintln!("caisson registry listening on http://{}", args.listen);
            axum::serve(listener, app)
                .await
                .with_context(|| format!("serving on {}", args.listen))?;
        }
    }
    Ok(())
}
