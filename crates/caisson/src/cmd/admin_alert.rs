//! `caisson admin alert list|show|ack`: the runtime alerts sensors sent to
//! the server (`caisson sensor run --server`), as a table (default on a
//! terminal) or JSON.

use std::io::IsTerminal;

use anyhow::bail;
use serde_json::{json, Value};

use super::admin_host::{print_rows, s};

#[derive(Debug, clap::Subcommand)]
pub enum AlertCmd {
    /// Alerts, newest first (every page is fetched up to --limit).
    List {
        #[arg(long)]
        host: Option<String>,
        /// Container id.
        #[arg(long)]
        container: Option<String>,
        #[arg(long)]
        rule: Option<String>,
        /// critical, high, medium, low, negligible or unknown.
        #[arg(long)]
        severity: Option<String>,
        /// Alerts of the last 90s, 30m, 12h, 7d, or since an RFC 3339 UTC time.
        #[arg(long, value_name = "AGE|TIME")]
        since: Option<String>,
        /// Only alerts nobody acknowledged yet.
        #[arg(long)]
        unacked: bool,
        /// Most alerts shown.
        #[arg(long, default_value_t = 100)]
        limit: usize,
        /// table (default on a terminal) or json.
        #[arg(short, long)]
        format: Option<String>,
    },
    /// One alert, as JSON.
    Show { id: String },
    /// Acknowledge an alert (recorded in the audit log with your name).
    Ack {
        id: String,
        #[arg(long)]
        comment: Option<String>,
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

/// `30m`, `12h`, `7d`, `90s` ago as Unix milliseconds; anything else is
/// passed on (an RFC 3339 time the server checks).
fn since_param(v: &str, now_ms: i64) -> String {
    let (digits, unit) = v.split_at(v.find(|c: char| !c.is_ascii_digit()).unwrap_or(v.len()));
    let secs: Option<i64> = digits.parse().ok().and_then(|n: i64| match unit {
        "s" => Some(n),
        "m" => n.checked_mul(60),
        "h" => n.checked_mul(3600),
        "d" => n.checked_mul(86_400),
        _ => None,
    });
    match secs {
        Some(s) => now_ms.saturating_sub(s.saturating_mul(1000)).to_string(),
        None => v.to_string(),
    }
}

fn enc(v: &str) -> String {
    v.bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~') {
                (b as char).to_string()
            } else {
                format!("%{b:02X}")
            }
        })
        .collect()
}

fn row(a: &Value) -> Vec<String> {
    let container = match (&a["container"]["name"], &a["container"]["id"]) {
        (Value::String(n), _) => n.clone(),
        (_, Value::String(id)) => id.chars().take(12).collect(),
        _ => "-".into(),
    };
    vec![
        s(&a["id"]),
        s(&a["time"]),
        s(&a["severity"]),
        s(&a["rule"]),
        s(&a["host"]),
        container,
        if a["acknowledged"] == true {
            s(&a["ack"]["by"])
        } else {
            "-".into()
        },
    ]
}

/// Runs `cmd`; `call(method, path, body)` does an authenticated request under `/api/v1`.
pub fn run(
    cmd: AlertCmd,
    call: impl Fn(reqwest::Method, &str, Option<Value>) -> anyhow::Result<Value>,
) -> anyhow::Result<()> {
    use reqwest::Method as M;
    match cmd {
        AlertCmd::List {
            host,
            container,
            rule,
            severity,
            since,
            unacked,
            limit,
            format,
        } => {
            let table = table_format(&format)?;
            let now = caisson_registry::store::now_ms();
            let mut params: Vec<(String, String)> = Vec::new();
            for (k, v) in [
                ("host", host),
                ("container", container),
                ("rule", rule),
                ("severity", severity),
                ("since", since.map(|v| since_param(&v, now))),
            ] {
                if let Some(v) = v {
                    params.push((k.into(), v));
                }
            }
            if unacked {
                params.push(("acknowledged".into(), "false".into()));
            }
            let mut alerts: Vec<Value> = Vec::new();
            let mut cursor: Option<String> = None;
            while alerts.len() < limit {
                let mut q = params.clone();
                q.push(("limit".into(), (limit - alerts.len()).min(1000).to_string()));
                if let Some(c) = &cursor {
                    q.push(("cursor".into(), c.clone()));
                }
                let qs: Vec<String> = q.iter().map(|(k, v)| format!("{k}={}", enc(v))).collect();
                let page = call(M::GET, &format!("/alerts?{}", qs.join("&")), None)?;
                alerts.extend(page["alerts"].as_array().cloned().unwrap_or_default());
                match page["next_cursor"].as_str() {
                    Some(c) => cursor = Some(c.to_string()),
                    None => break,
                }
            }
            if !table {
                println!("{}", serde_json::to_string_pretty(&alerts)?);
                return Ok(());
            }
            let mut rows = vec![[
                "ID",
                "TIME",
                "SEVERITY",
                "RULE",
                "HOST",
                "CONTAINER",
                "ACKED-BY",
            ]
            .iter()
            .map(|h| h.to_string())
            .collect::<Vec<_>>()];
            rows.extend(alerts.iter().map(row));
            print_rows(&rows);
        }
        AlertCmd::Show { id } => {
            let a = call(M::GET, &format!("/alerts/{}", enc(&id)), None)?;
            println!("{}", serde_json::to_string_pretty(&a)?);
        }
        AlertCmd::Ack { id, comment } => {
            let body = match comment {
                Some(c) => json!({"comment": c}),
                None => json!({}),
            };
            let a = call(M::POST, &format!("/alerts/{}/ack", enc(&id)), Some(body))?;
            eprintln!("acknowledged {} ({})", s(&a["id"]), s(&a["rule"]));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn since_takes_ages_and_passes_times_on() {
        assert_eq!(since_param("30m", 10_000_000), "8200000");
        assert_eq!(since_param("2d", 200_000_000), "27200000");
        assert_eq!(
            since_param("2026-12-07T01:52:34Z", 0),
            "2026-12-07T01:52:34Z"
        );
    }
}
