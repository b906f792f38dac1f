//! `caisson admin host list|show ID`: the hosts `caisson host agent`
//! reports, as a table (default on a terminal) or JSON.

use std::io::IsTerminal;

use anyhow::bail;
use serde_json::{json, Value};

#[derive(Debug, clap::Subcommand)]
pub enum HostCmd {
    /// Every reporting host, with its status (ok, or stale after three missed intervals).
    List {
        /// table (default on a terminal) or json.
        #[arg(short, long)]
        format: Option<String>,
    },
    /// One host: its facts, benchmark summary and containers with their findings.
    Show {
        id: String,
        /// table (default on a terminal) or json.
        #[arg(short, long)]
        format: Option<String>,
    },
}

fn table_format(f: &Option<String>) -> anyhow::Result<bool> {
    match f.as_deref() {
        None => Ok(std::io::stdout().is_terminal()),
        Some("table") => Ok(true),
        Some("json") => Ok(false),
        Some(other) => bail!("--format {other}: expected table or json"),
    }
}

fn age(ms: &Value) -> String {
    let now = caisson_registry::store::now_ms();
    match ms.as_i64() {
        Some(t) => format!("{}s ago", now.saturating_sub(t) / 1000),
        None => "-".into(),
    }
}

/// A JSON value as a table cell: strings bare, null as `-`.
pub(super) fn s(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        Value::Null => "-".into(),
        other => other.to_string(),
    }
}

pub(super) fn print_rows(rows: &[Vec<String>]) {
    let cols = rows.first().map_or(0, Vec::len);
    let widths: Vec<usize> = (0..cols)
        .map(|i| {
            rows.iter()
                .map(|r| r.get(i).map_or(0, |c| c.chars().count()))
                .max()
                .unwrap_or(0)
        })
        .collect();
    for r in rows {
        let line: Vec<String> = r
            .iter()
            .zip(&widths)
            .map(|(c, w)| format!("{c:<w$}"))
            .collect();
        println!("{}", line.join("  ").trim_end());
    }
}

fn host_row(h: &Value) -> Vec<String> {
    vec![
        s(&h["id"]),
        s(&h["hostname"]),
        s(&h["status"]),
        format!("{}/{}", s(&h["running"]), s(&h["containers"])),
        s(&h["bench"]["summary"]["warn"]),
        age(&h["last_report_ms"]),
    ]
}

const HOST_HEADER: [&str; 6] = [
    "ID",
    "HOSTNAME",
    "STATUS",
    "RUNNING",
    "BENCH-WARN",
    "LAST-REPORT",
];

/// Runs `cmd` with `call(path)` doing an authenticated GET under `/api/v1`.
pub fn run(cmd: HostCmd, call: impl Fn(&str) -> anyhow::Result<Value>) -> anyhow::Result<()> {
    match cmd {
        HostCmd::List { format } => {
            let hosts = call("/hosts")?;
            if !table_format(&format)? {
                println!("{}", serde_json::to_string_pretty(&hosts)?);
                return Ok(());
            }
            let mut rows = vec![HOST_HEADER.iter().map(|h| h.to_string()).collect()];
            for h in hosts.as_array().into_iter().flatten() {
                rows.push(host_row(h));
            }
            print_rows(&rows);
        }
        HostCmd::Show { id, format } => {
            let host = call(&format!("/hosts/{id}"))?;
            let containers = call(&format!("/hosts/{id}/containers"))?;
            if !table_format(&format)? {
                let doc = json!({"host": host, "containers": containers});
                println!("{}", serde_json::to_string_pretty(&doc)?);
                return Ok(());
            }
            print_rows(&[
                HOST_HEADER.iter().map(|h| h.to_string()).collect(),
                host_row(&host),
            ]);
            println!();
            let mut rows = vec![[
                "NAME", "STATE", "IMAGE", "SCANNED", "CRITICAL", "HIGH", "FINDINGS",
            ]
            .iter()
            .map(|h| h.to_string())
            .collect::<Vec<_>>()];
            for c in containers.as_array().into_iter().flatten() {
                let v = &c["vulnerabilities"];
                rows.push(vec![
                    s(&c["name"]),
                    s(&c["state"]),
                    s(&c["image"]),
                    if c["scanned"] == true { "yes" } else { "no" }.into(),
                    v["critical"].as_u64().unwrap_or(0).to_string(),
                    v["high"].as_u64().unwrap_or(0).to_string(),
                    c["findings"].as_array().map_or(0, Vec::len).to_string(),
                ]);
            }
            print_rows(&rows);
        }
    }
    Ok(())
}
