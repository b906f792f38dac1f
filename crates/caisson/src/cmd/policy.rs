//! `caisson policy`: evaluate manifests against policies (see `caisson-policy`).

use std::io::{Read, Write};
use std::process::ExitCode;

use anyhow::Context;
use caisson_policy::library::BUILTINS;
use caisson_policy::manifest::{parse_documents, ManifestLimits};
use caisson_policy::{Config, PolicySet, Request, SupplyChainFacts};
use clap::{Args, Subcommand, ValueEnum};

#[derive(Debug, Args)]
pub struct PolicyArgs {
    #[command(subcommand)]
    command: PolicyCommand,
}

#[derive(Debug, Subcommand)]
enum PolicyCommand {
    /// Evaluate manifests; exit 0 when allowed (warnings allowed), 1 when denied,
    /// 2 on usage or input errors.
    Check(CheckArgs),
    /// List the built-in policies.
    List(ListArgs),
}

#[derive(Debug, Clone, Copy, ValueEnum)]
enum Format {
    Table,
    Json,
    Sarif,
}

#[derive(Debug, Args)]
struct CheckArgs {
    /// A built-in policy id, a `.rego` file, a Gatekeeper template/constraint YAML,
    /// or a directory of them. Repeatable. Default: the built-in default set.
    #[arg(long = "policy", short = 'p', value_name = "ID|FILE|DIR")]
    policies: Vec<String>,
    /// Policy config (modes, parameters, exemptions), YAML.
    #[arg(long, value_name = "FILE")]
    config: Option<std::path::PathBuf>,
    /// Supply-chain facts per image (digest, os, signature, findings), JSON.
    #[arg(long, value_name = "FILE")]
    facts: Option<std::path::PathBuf>,
    #[arg(long, value_enum, default_value = "table")]
    format: Format,
    /// Manifests (multi-document YAML, JSON, `kind: List`); `-` reads stdin.
    #[arg(required = true, value_name = "MANIFEST|-")]
    manifests: Vec<String>,
}

#[derive(Debug, Args)]
struct ListArgs {
    #[arg(long, value_enum, default_value = "table")]
    format: Format,
}

pub fn run(args: PolicyArgs) -> anyhow::Result<ExitCode> {
    match args.command {
        PolicyCommand::Check(c) => check(c),
        PolicyCommand::List(l) => list(l),
    }
}

fn list(args: ListArgs) -> anyhow::Result<ExitCode> {
    let mut out = std::io::stdout().lock();
    match args.format {
        Format::Table => {
            writeln!(
                out,
                "{:<32} {:<8} {:<8} {:<7} DESCRIPTION",
                "ID", "MODE", "SEVERITY", "DEFAULT"
            )?;
            for b in BUILTINS {
                writeln!(
                    out,
                    "{:<32} {:<8} {:<8} {:<7} {}",
                    b.id,
                    b.default_mode.as_str(),
                    b.severity.as_str(),
                    if b.in_default_set { "yes" } else { "no" },
                    b.description
                )?;
            }
        }
        Format::Json | Format::Sarif => {
            let list: Vec<_> = BUILTINS
                .iter()
                .map(|b| {
                    let mut m = serde_json::to_value(b.meta()).unwrap_or_default();
                    m["default_set"] = b.in_default_set.into();
                    m["parameters"] = b.default_params();
                    m
                })
                .collect();
            serde_json::to_writer_pretty(&mut out, &list)?;
            writeln!(out)?;
        }
    }
    Ok(ExitCode::SUCCESS)
}

fn read_input(name: &str) -> anyhow::Result<Vec<u8>> {
    let limits = ManifestLimits::default();
    let mut buf = Vec::new();
    if name == "-" {
        std::io::stdin()
            .take(limits.max_bytes as u64 + 1)
            .read_to_end(&mut buf)
            .context("reading manifests from stdin")?;
    } else {
        let f = fs_err::File::open(name)?;
        f.take(limits.max_bytes as u64 + 1)
            .read_to_end(&mut buf)
            .with_context(|| format!("reading {name}"))?;
    }
    Ok(buf)
}

/// Builds the policy set of `--policy` (default: the built-in default set) and
/// `--config`, and reads `--facts`; shared with `caisson admission serve`.
pub(super) fn load(
    policies: &[String],
    config: Option<&std::path::Path>,
    facts: Option<&std::path::Path>,
) -> anyhow::Result<(PolicySet, SupplyChainFacts)> {
    let mut builder = PolicySet::builder();
    if policies.is_empty() {
        builder.default_builtins()?;
    }
    for p in policies {
        builder.add(p)?;
    }
    if let Some(path) = config {
        let text = fs_err::read_to_string(path)?;
        let label = path.display().to_string();
        builder.config(Config::parse(&text, &label)?, label);
    }
    let facts: SupplyChainFacts = match facts {
        Some(path) => serde_json::from_str(&fs_err::read_to_string(path)?)
            .with_context(|| format!("parsing facts {}", path.display()))?,
        None => SupplyChainFacts::default(),
    };
    let set = builder.build()?;
    for n in set.notes() {
        eprintln!("warning: {n}");
    }
    Ok((set, facts))
}

fn check(args: CheckArgs) -> anyhow::Result<ExitCode> {
    let (set, facts) = load(
        &args.policies,
        args.config.as_deref(),
        args.facts.as_deref(),
    )?;
    let limits = ManifestLimits::default();
    let mut decisions = Vec::new();
    for m in &args.manifests {
        let bytes = read_input(m)?;
        let label = if m == "-" { "<stdin>" } else { m.as_str() };
        for (object, origin) in parse_documents(&bytes, label, &limits)? {
            let req = Request::from_object(object).with_origin(origin);
            decisions.push(set.evaluate(&req, &facts));
        }
    }
    let mut out = std::io::stdout().lock();
    match args.format {
        Format::Table => out.write_all(caisson_policy::report::table(&decisions).as_bytes())?,
        Format::Json => {
            serde_json::to_writer_pretty(&mut out, &caisson_policy::report::json(&decisions))?;
            writeln!(out)?;
        }
        Format::Sarif => {
            let sarif = caisson_policy::report::sarif(&decisions, &set.policies());
            serde_json::to_writer_pretty(&mut out, &sarif)?;
            writeln!(out)?;
        }
    }
    Ok(if decisions.iter().all(|d| d.allowed) {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
}
