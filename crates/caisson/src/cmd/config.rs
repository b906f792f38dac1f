//! `caisson config <Dockerfile>`: the misconfiguration checks on a Dockerfile.

use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;
use caisson_model::Severity;

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum ConfigFormat {
    Text,
    Json,
    Sarif,
}

#[derive(Debug, clap::Args)]
pub struct ConfigArgs {
    /// The Dockerfile to lint.
    pub dockerfile: PathBuf,
    /// Output format.
    #[arg(short, long, value_enum, default_value_t = ConfigFormat::Text)]
    pub format: ConfigFormat,
    /// Write the report to FILE instead of stdout.
    #[arg(short, long, value_name = "FILE")]
    pub output: Option<PathBuf>,
    /// Only report these severities, e.g. HIGH,CRITICAL.
    #[arg(long, value_name = "LIST")]
    pub severity: Option<String>,
    /// Exit with this code when any finding is reported (CI gate).
    #[arg(long, value_name = "N", default_value_t = 0)]
    pub exit_code: u8,
}

fn text(
    findings: &[caisson_misconfig::MisconfigFinding],
    out: &mut dyn Write,
) -> std::io::Result<()> {
    for f in findings {
        let cis = f
            .cis
            .as_deref()
            .map_or(String::new(), |c| format!(" [CIS {c}]"));
        writeln!(
            out,
            "{}:{}  {}  {}{cis}  {}",
            f.location,
            f.line.unwrap_or(0),
            caisson_scan_report::severity_name(f.severity),
            f.id,
            f.message.escape_debug()
        )?;
    }
    writeln!(out, "{} misconfigurations", findings.len())
}

pub fn run(args: ConfigArgs) -> anyhow::Result<ExitCode> {
    let body = fs_err::read(&args.dockerfile).context("cannot read the Dockerfile")?;
    let name = args.dockerfile.display().to_string();
    let mut findings = caisson_misconfig::lint_dockerfile(&name, &String::from_utf8_lossy(&body));
    if let Some(list) = &args.severity {
        let keep: std::collections::BTreeSet<Severity> =
            caisson_match::parse_severities(list).map_err(anyhow::Error::msg)?;
        findings.retain(|f| keep.contains(&f.severity));
    }
    let mut buf = Vec::new();
    match args.format {
        ConfigFormat::Text => text(&findings, &mut buf)?,
        ConfigFormat::Json | ConfigFormat::Sarif => {
            let sbom = caisson_model::Sbom {
                source: caisson_model::SourceInfo {
                    reference: name.clone(),
                    kind: "dockerfile".into(),
                    ..Default::default()
                },
                ..Default::default()
            };
            let format = if args.format == ConfigFormat::Json {
                caisson_scan_report::ScanFormat::Json
            } else {
                caisson_scan_report::ScanFormat::Sarif
            };
            let render = caisson_report::RenderOptions::new(
                &sbom,
                &super::sbom::now_rfc3339(),
                env!("CARGO_PKG_VERSION"),
            );
            let extras = caisson_scan_report::Extras {
                secrets: None,
                misconfigs: Some(&findings),
            };
            caisson_scan_report::write_with(
                format,
                &sbom,
                &caisson_match::ScanResults::default(),
                extras,
                &render,
                &mut buf,
            )?;
        }
    }
    match &args.output {
        Some(p) => fs_err::write(p, &buf).context("cannot write the output file")?,
        None => std::io::stdout()
            .write_all(&buf)
            .context("cannot write to stdout")?,
    }
    if args.exit_code != 0 && !findings.is_empty() {
        return Ok(ExitCode::from(args.exit_code));
    }
    Ok(ExitCode::SUCCESS)
}
