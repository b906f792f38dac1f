//! `caisson scan <source>`: vulnerabilities, secrets and misconfigurations in
//! an image (vulnerabilities only for an SBOM), with a CI gate.

use std::io::{IsTerminal, Write};
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;
use caisson_match::{Date, IgnoreFile, VexDocument};
use caisson_scan_report::ScanFormat;

#[derive(Debug, clap::Args)]
pub struct ScanArgs {
    /// An image source (oci:, oci-archive:, docker-archive:, dir:, registry:) or sbom:<file>.
    pub source: String,
    /// Advisory database directory (default: $CAISSON_DB, else the user cache dir).
    #[arg(long, value_name = "DIR")]
    pub db: Option<PathBuf>,
    /// table (default on a terminal), json (default otherwise), sarif, cyclonedx-json.
    #[arg(short, long)]
    pub format: Option<ScanFormat>,
    /// Write the report to FILE instead of stdout.
    #[arg(short, long, value_name = "FILE")]
    pub output: Option<PathBuf>,
    /// Only report these severities, e.g. HIGH,CRITICAL.
    #[arg(long, value_name = "LIST")]
    pub severity: Option<String>,
    /// Hide findings that have no fixed version.
    #[arg(long)]
    pub ignore_unfixed: bool,
    /// Also match language packages that an OS package installed (Debian's node-*, ruby-*,
    /// python3-*, lib*-java) against their language advisories; by default only their OS
    /// package's advisories apply, since the distribution backports fixes.
    #[arg(long)]
    pub match_os_owned_language_packages: bool,
    /// Exit with this code when any reported finding remains (CI gate).
    #[arg(long, value_name = "N", default_value_t = 0)]
    pub exit_code: u8,
    /// Ignore file (default: .caissonignore in the current directory, if present).
    #[arg(long, value_name = "FILE")]
    pub ignorefile: Option<PathBuf>,
    /// OpenVEX document whose not_affected/fixed statements suppress findings (repeatable).
    #[arg(long, value_name = "FILE")]
    pub vex: Vec<PathBuf>,
    /// Warn when the database is older than this many days.
    #[arg(long, value_name = "DAYS", default_value_t = 7)]
    pub max_db_age_days: u64,
    /// Platform to choose from a multi-platform image: os/arch[/variant].
    #[arg(long)]
    pub platform: Option<caisson_oci::Platform>,
    /// Scanners to run, comma-separated: vuln, secret, misconfig.
    #[arg(long, value_name = "LIST", default_value = "vuln,secret,misconfig")]
    pub scanners: caisson_scan::Scanners,
    /// Secret rule file (TOML) that adds rules, disables built-in ones, extends the allow-list (docs/secrets.md).
    #[arg(long, value_name = "FILE")]
    pub secret_config: Option<PathBuf>,
    /// Registry host[:port] to reach over plain HTTP (repeatable).
    #[arg(long = "insecure-registry", value_name = "HOST")]
    pub insecure_registries: Vec<String>,
}

pub fn run(args: ScanArgs) -> anyhow::Result<ExitCode> {
    let mut opts = caisson_scan::Options {
        db_dir: args.db,
        max_db_age: Some(std::time::Duration::from_secs(
            args.max_db_age_days * 86_400,
        )),
        ..Default::default()
    };
    opts.scanners = args.scanners;
    if let Some(p) = &args.secret_config {
        let text = fs_err::read_to_string(p).context("cannot read the secret rule file")?;
        let origin = p.display().to_string();
        opts.secret_rules = Some(caisson_secrets::RuleSet::with_user(Some((&origin, &text)))?);
    }
    opts.sbom.platform = args.platform;
    opts.sbom.insecure_registries = args.insecure_registries;
    if let Some(list) = &args.severity {
        opts.policy.severities =
            Some(caisson_match::parse_severities(list).map_err(anyhow::Error::msg)?);
    }
    opts.policy.ignore_unfixed = args.ignore_unfixed;
    if args.match_os_owned_language_packages {
        opts.policy.os_owned = caisson_match::OsOwnedMatching::OsAndLanguageAdvisories;
    }
    let ignore_path = args.ignorefile.clone().or_else(|| {
        let default = PathBuf::from(".caissonignore");
        default.exists().then_some(default)
    });
    if let Some(p) = ignore_path {
        opts.policy.ignore = Some(IgnoreFile::load(&p)?);
    }
    for v in &args.vex {
        opts.policy.vex.push(VexDocument::load(v)?);
    }
    opts.policy.today = Some(Date::today_utc());
    let out = caisson_scan::scan(&args.source, &opts)
        .with_context(|| format!("cannot scan {}", args.source))?;
    for w in &out.results.warnings {
        eprintln!("warning[{}]: {}", w.code, w.message);
    }
    let to_terminal = args.output.is_none() && std::io::stdout().is_terminal();
    let format = args.format.unwrap_or(if to_terminal {
        ScanFormat::Table
    } else {
        ScanFormat::Json
    });
    let mut render = caisson_report::RenderOptions::new(
        &out.sbom,
        &super::sbom::now_rfc3339(),
        env!("CARGO_PKG_VERSION"),
    );
    render.color = to_terminal && std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty());
    let extras = caisson_scan_report::Extras {
        secrets: out.secrets.as_deref(),
        misconfigs: out.misconfigs.as_deref(),
    };
    match &args.output {
        Some(path) => {
            let mut f = std::io::BufWriter::new(
                fs_err::File::create(path).context("cannot create the output file")?,
            );
            caisson_scan_report::write_with(
                format,
                &out.sbom,
                &out.results,
                extras,
                &render,
                &mut f,
            )?;
            f.flush().context("cannot write the output file")?;
        }
        None => {
            let stdout = std::io::stdout();
            let mut lock = stdout.lock();
            caisson_scan_report::write_with(
                format,
                &out.sbom,
                &out.results,
                extras,
                &render,
                &mut lock,
            )?;
        }
    }
    if args.exit_code != 0 && (!out.results.findings.is_empty() || extras.count() > 0) {
        return Ok(ExitCode::from(args.exit_code));
    }
    Ok(ExitCode::SUCCESS)
}
