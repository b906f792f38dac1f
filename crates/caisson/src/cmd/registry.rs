//! `caisson registry status|scan <ref>`: a Caisson registry's scan results
//! and on-demand scans, through its `/api/v1`. The registry is the
//! reference's host (`--insecure-registry` for plain HTTP, `--registry-ca`
//! for a private CA); credentials come from the same auth files as pulls
//! (REGISTRY_AUTH_FILE, containers auth.json, Docker config), or
//! `CAISSON_USER`/`CAISSON_PASSWORD`.

use std::process::ExitCode;

use anyhow::Context;
use caisson_oci::Reference;
use caisson_registry_client::caisson_api::{manifest_path, CaissonApi};
use serde_json::Value;

use super::registry_args::RegistryArgs;

#[derive(Debug, clap::Args)]
pub struct RegistryCmdArgs {
    #[command(subcommand)]
    pub command: RegistryCommand,
    /// User for the registry API (default: from the auth files).
    #[arg(long, env = "CAISSON_USER", global = true)]
    pub user: Option<String>,
    /// Password or robot secret (default: from the auth files).
    #[arg(long, env = "CAISSON_PASSWORD", hide_env_values = true, global = true)]
    pub password: Option<String>,
}

#[derive(Debug, clap::Subcommand)]
pub enum RegistryCommand {
    /// Health, findings per severity, scan time and database age of an image.
    Status {
        /// Image reference: host[:port]/repo[:tag|@digest].
        reference: String,
        /// Print the API's JSON instead of text.
        #[arg(long)]
        json: bool,
        /// Exit 1 when the image is not healthy.
        #[arg(long)]
        exit_code: bool,
        #[command(flatten)]
        registry: RegistryArgs,
    },
    /// Queue a scan of an image now (needs push permission).
    Scan {
        /// Image reference: host[:port]/repo[:tag|@digest].
        reference: String,
        #[command(flatten)]
        registry: RegistryArgs,
    },
}

fn api(
    args: &RegistryCmdArgs,
    registry: &RegistryArgs,
    r: &Reference,
) -> anyhow::Result<CaissonApi> {
    let explicit = match (&args.user, &args.password) {
        (Some(u), Some(p)) => Some((u.clone(), p.clone())),
        _ => None,
    };
    Ok(CaissonApi::for_reference(
        r,
        &registry.insecure_registries,
        registry.registry_ca.as_deref(),
        explicit,
    )?)
}

fn age(secs: u64) -> String {
    match secs {
        s if s < 3600 => format!("{} min", s / 60),
        s if s < 2 * 86_400 => format!("{} h", s / 3600),
        s => format!("{} days", s / 86_400),
    }
}

/// The text `caisson registry status` prints.
pub fn render_status(h: &Value) -> String {
    let mut out = String::new();
    let s = |v: &Value| v.as_str().unwrap_or("-").to_string();
    out.push_str(&format!(
        "image:      {}@{}\n",
        s(&h["repository"]),
        s(&h["digest"])
    ));
    out.push_str(&format!("health:     {}", s(&h["health"])));
    if let Some(r) = h["reason"].as_str() {
        out.push_str(&format!(" ({r})"));
    }
    out.push('\n');
    out.push_str(&format!("threshold:  {}\n", s(&h["threshold"])));
    let counts: Vec<String> = ["CRITICAL", "HIGH", "MEDIUM", "LOW", "NEGLIGIBLE", "UNKNOWN"]
        .iter()
        .map(|k| {
            format!(
                "{}={}",
                k.to_lowercase(),
                h["counts"][*k].as_u64().unwrap_or(0)
            )
        })
        .collect();
    out.push_str(&format!("findings:   {}\n", counts.join(" ")));
    out.push_str(&format!(
        "packages:   {}\n",
        h["packages"].as_u64().unwrap_or(0)
    ));
    match h["scanned_at_ms"].as_i64() {
        Some(ms) => {
            let t = std::time::UNIX_EPOCH
                + std::time::Duration::from_millis(u64::try_from(ms).unwrap_or(0));
            out.push_str(&format!("scanned at: {}\n", caisson_report::rfc3339_utc(t)));
        }
        None => out.push_str("scanned at: never\n"),
    }
    if let Some(j) = h["job"].as_str() {
        out.push_str(&format!("scan job:   {j}\n"));
    }
    if let Some(sbom) = h["sbom_manifest"].as_str() {
        out.push_str(&format!("sbom:       referrer {sbom}\n"));
    }
    match h["db"]["age_seconds"].as_u64() {
        Some(a) => out.push_str(&format!("db age:     {}\n", age(a))),
        None if h["db"].is_null() => out.push_str("db age:     no advisory database\n"),
        None => out.push_str("db age:     unknown\n"),
    }
    out
}

pub fn run(args: RegistryCmdArgs) -> anyhow::Result<ExitCode> {
    let (reference, registry) = match &args.command {
        RegistryCommand::Status {
            reference,
            registry,
            ..
        }
        | RegistryCommand::Scan {
            reference,
            registry,
        } => (reference, registry),
    };
    let r: Reference = reference
        .parse()
        .with_context(|| format!("invalid image reference {reference:?}"))?;
    let api = api(&args, registry, &r)?;
    use reqwest::Method as M;
    match &args.command {
        RegistryCommand::Status {
            json, exit_code, ..
        } => {
            let h = api.call(M::GET, &format!("{}/health", manifest_path(&r)))?;
            if *json {
                println!("{}", serde_json::to_string_pretty(&h)?);
            } else {
                print!("{}", render_status(&h));
            }
            if *exit_code && h["health"].as_str() != Some("healthy") {
                return Ok(ExitCode::from(1));
            }
        }
        RegistryCommand::Scan { .. } => {
            let v = api.call(M::POST, &format!("{}/scan", manifest_path(&r)))?;
            println!("{}", serde_json::to_string_pretty(&v)?);
            eprintln!(
                "hint: `caisson registry status {reference}` shows the result once the scan ran"
            );
        }
    }
    Ok(ExitCode::SUCCESS)
}
