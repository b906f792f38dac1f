//! `caisson netpol`: network segmentation learned from the sensor's flows
//! (`caisson-netpol`): learn policies, check them against what was seen,
//! apply and remove the nftables ruleset.

use std::io::Write;
use std::path::PathBuf;
use std::process::{Command, ExitCode, Stdio};
use std::time::{Duration, SystemTime};

use anyhow::{bail, Context};
use caisson_netpol::check::{denied_flows, Policy};
use caisson_netpol::flow::{aggregate_external, read_flows, Filter};
use caisson_netpol::{k8s, nft, Flow};
use clap::{Args, Subcommand, ValueEnum};

#[derive(Debug, Args)]
pub struct NetpolArgs {
    #[command(subcommand)]
    command: NetpolCommand,
}

#[derive(Debug, Subcommand)]
enum NetpolCommand {
    /// Write policies that allow exactly the observed flows (`caisson sensor run --flows FILE`).
    Learn(LearnArgs),
    /// List the observed flows a policy (NetworkPolicy YAML or the nftables ruleset) would deny; exit 1 when there are any.
    Check(CheckArgs),
    /// Load an nftables ruleset written by `learn --format nftables` (root); --audit logs and counts would-be drops without dropping.
    Apply(ApplyArgs),
    /// Remove the loaded ruleset (table inet caisson).
    Remove(RemoveArgs),
}

#[derive(Debug, Clone, Copy, ValueEnum)]
enum Format {
    /// One Kubernetes NetworkPolicy per workload.
    K8s,
    /// One nftables table for this Docker host.
    Nftables,
}

#[derive(Debug, Args)]
struct FlowArgs {
    /// Flows file (JSON lines) the sensor wrote.
    #[arg(long, value_name = "FILE")]
    flows: PathBuf,
    /// Only flows seen within this long before now: 90s, 30m, 1h, 7d.
    #[arg(long, value_name = "DURATION", value_parser = parse_duration)]
    since: Option<Duration>,
    /// Only flows with a Kubernetes workload of this namespace on a side.
    #[arg(long, value_name = "NS")]
    namespace: Option<String>,
}

impl FlowArgs {
    fn load(&self) -> anyhow::Result<Vec<Flow>> {
        let name = self.flows.display().to_string();
        let f = fs_err::File::open(&self.flows)?;
        let flows = read_flows(&mut std::io::BufReader::new(f), &name)?;
        let now = SystemTime::now()
            .duration_since(SystemTime::UNIX_EPOCH)
            .map_or(0, |d| d.as_secs());
        let filter = Filter {
            since: self
                .since
                .map(|d| i64::try_from(now.saturating_sub(d.as_secs())).unwrap_or(0)),
            namespace: self.namespace.clone(),
        };
        Ok(flows.into_iter().filter(|f| filter.keep(f)).collect())
    }
}

#[derive(Debug, Args)]
struct LearnArgs {
    #[command(flatten)]
    flows: FlowArgs,
    #[arg(long, value_enum)]
    format: Format,
    /// Directory for the output (one file per NetworkPolicy, or caisson.nft); default stdout.
    #[arg(short, long, value_name = "DIR")]
    output: Option<PathBuf>,
    /// External addresses sharing a /24 (/64) with at least this many others become that network.
    #[arg(long, value_name = "N", default_value_t = 4)]
    aggregate: usize,
}

#[derive(Debug, Args)]
struct CheckArgs {
    /// The policy: NetworkPolicy YAML (one or more documents) or an nftables ruleset from `learn`.
    policy: PathBuf,
    #[command(flatten)]
    flows: FlowArgs,
}

#[derive(Debug, Args)]
struct ApplyArgs {
    /// The ruleset (`learn --format nftables`).
    #[arg(long, value_name = "FILE")]
    nftables: PathBuf,
    /// Log and count the connections it would drop, drop nothing.
    #[arg(long)]
    audit: bool,
    /// The nft program.
    #[arg(long, value_name = "PATH", default_value = "nft")]
    nft: String,
}

#[derive(Debug, Args)]
struct RemoveArgs {
    #[arg(long, value_name = "PATH", default_value = "nft")]
    nft: String,
}

fn parse_duration(s: &str) -> Result<Duration, String> {
    let (n, unit) = s
        .find(|c: char| !c.is_ascii_digit())
        .map_or((s, "s"), |i| s.split_at(i));
    let n: u64 = n
        .parse()
        .map_err(|_| format!("{s:?} is not a duration (90s, 30m, 1h, 7d)"))?;
    let secs = match unit {
        "s" => 1,
        "m" => 60,
        "h" => 3600,
        "d" => 86400,
        _ => return Err(format!("{s:?}: unit must be s, m, h or d")),
    };
    Ok(Duration::from_secs(n.saturating_mul(secs)))
}

pub fn run(args: NetpolArgs) -> anyhow::Result<ExitCode> {
    match args.command {
        NetpolCommand::Learn(a) => learn(a),
        NetpolCommand::Check(a) => check(a),
        NetpolCommand::Apply(a) => apply(a),
        NetpolCommand::Remove(a) => remove(a),
    }
}

fn learn(a: LearnArgs) -> anyhow::Result<ExitCode> {
    let flows = aggregate_external(a.flows.load()?, a.aggregate.max(1));
    if flows.is_empty() {
        bail!(
            "no flows in {} (after --since/--namespace): nothing to learn from",
            a.flows.flows.display()
        );
    }
    let mut files: Vec<(String, String)> = Vec::new();
    match a.format {
        Format::K8s => {
            let mut skipped = Vec::new();
            let generated = k8s::generate(&flows, a.flows.namespace.as_deref(), &mut skipped)?;
            for s in skipped {
                eprintln!("warning: no NetworkPolicy for {s}");
            }
            if generated.is_empty() {
                bail!("no Kubernetes workloads in the flows (hint: containers need the io.kubernetes.pod.* labels; use --format nftables for a Docker host)");
            }
            files.extend(generated.into_iter().map(|g| (g.file_name, g.text)));
        }
        Format::Nftables => files.push(("caisson.nft".into(), nft::generate(&flows))),
    }
    match &a.output {
        Some(dir) => {
            fs_err::create_dir_all(dir)?;
            for (name, text) in &files {
                let path = dir.join(name);
                fs_err::write(&path, text)?;
                eprintln!("caisson netpol: wrote {}", path.display());
            }
        }
        None => {
            let mut out = std::io::stdout().lock();
            for (i, (_, text)) in files.iter().enumerate() {
                if i > 0 {
                    writeln!(out, "---")?;
                }
                out.write_all(text.as_bytes())?;
            }
        }
    }
    eprintln!(
        "caisson netpol: {} flows learned; review, then `caisson netpol check` against newer flows",
        flows.len()
    );
    Ok(ExitCode::SUCCESS)
}

fn check(a: CheckArgs) -> anyhow::Result<ExitCode> {
    let text = fs_err::read_to_string(&a.policy)?;
    let policy = Policy::parse(&text, &a.policy.display().to_string())?;
    let flows = a.flows.load()?;
    let denied = denied_flows(&policy, &flows);
    let mut out = std::io::stdout().lock();
    for d in &denied {
        writeln!(
            out,
            "DENY  {} -> {}  {}/{}  {} connections  {} -> {}  {}",
            d.flow.src.display(),
            d.flow.dst.display(),
            d.flow.proto,
            d.flow.port,
            d.flow.count,
            d.src_addr,
            d.dst_addr,
            d.reason
        )?;
    }
    eprintln!(
        "caisson netpol: {} of {} observed flows would be denied by {}",
        denied.len(),
        flows.len(),
        a.policy.display()
    );
    Ok(if denied.is_empty() {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
}

fn nft_run(
    nft_prog: &str,
    args: &[&str],
    stdin: Option<&str>,
) -> anyhow::Result<std::process::Output> {
    let mut child = Command::new(nft_prog)
        .args(args)
        .stdin(if stdin.is_some() {
            Stdio::piped()
        } else {
            Stdio::null()
        })
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .with_context(|| format!("running {nft_prog} (hint: install nftables; it needs root)"))?;
    if let (Some(text), Some(mut w)) = (stdin, child.stdin.take()) {
        w.write_all(text.as_bytes())?;
    }
    Ok(child.wait_with_output()?)
}

fn apply(a: ApplyArgs) -> anyhow::Result<ExitCode> {
    let name = a.nftables.display().to_string();
    let text = fs_err::read_to_string(&a.nftables)?;
    let Policy::Nft(rs) = Policy::parse(&text, &name)? else {
        bail!("{name} is not an nftables ruleset (hint: `caisson netpol learn --format nftables`)");
    };
    let text = if a.audit { rs.audit_text(&text) } else { text };
    let out = nft_run(&a.nft, &["-f", "-"], Some(&text))?;
    if !out.status.success() {
        bail!(
            "nft -f {name} failed: {}",
            String::from_utf8_lossy(&out.stderr).trim()
        );
    }
    eprintln!(
        "caisson netpol: table inet {} loaded from {name} ({}; {} rules); `caisson netpol remove` takes it out",
        nft::TABLE,
        if a.audit { "audit: would-be drops are logged and counted, not dropped" } else { "enforcing" },
        rs.rules.len()
    );
    Ok(ExitCode::SUCCESS)
}

fn remove(a: RemoveArgs) -> anyhow::Result<ExitCode> {
    let listed = nft_run(&a.nft, &["list", "table", "inet", nft::TABLE], None)?;
    if !listed.status.success() {
        eprintln!("caisson netpol: no table inet {} loaded", nft::TABLE);
        return Ok(ExitCode::SUCCESS);
    }
    let out = nft_run(&a.nft, &["delete", "table", "inet", nft::TABLE], None)?;
    if !out.status.success() {
        bail!(
            "nft delete table inet {} failed: {}",
            nft::TABLE,
            String::from_utf8_lossy(&out.stderr).trim()
        );
    }
    eprintln!("caisson netpol: table inet {} removed", nft::TABLE);
    Ok(ExitCode::SUCCESS)
}
