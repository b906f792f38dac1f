//! `caisson profile list|show|mode|allow|export`: the executable allowlist
//! profiles a Caisson server stores (`/api/v1/profiles…`, docs/runtime.md
//! "Server-stored profiles"), with the credentials handling of `caisson
//! admin`. `export` writes the sensor's YAML profile format, for
//! `caisson sensor run --profiles DIR` without a server.

use std::io::IsTerminal;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use anyhow::{bail, Context};
use caisson_sensor::allowlist::{Executable, Profile, PROFILE_VERSION};
use serde_json::{json, Value};

use super::admin_host::{print_rows, s};

use super::admin::Api;

#[derive(Debug, clap::Args)]
pub struct ProfileArgs {
    /// Caisson server (registry) base URL.
    #[arg(
        long = "registry",
        visible_alias = "url",
        env = "CAISSON_URL",
        default_value = "http://127.0.0.1:5000",
        global = true
    )]
    pub url: String,
    /// User to authenticate as (system admin, or admin of the image's namespace).
    #[arg(long, env = "CAISSON_USER", default_value = "admin", global = true)]
    pub user: String,
    /// Password.
    #[arg(long, env = "CAISSON_PASSWORD", hide_env_values = true, global = true)]
    pub password: Option<String>,
    /// PEM CA certificate to trust for the server.
    #[arg(long, value_name = "FILE", global = true)]
    pub ca_cert: Option<PathBuf>,
    #[command(subcommand)]
    pub command: ProfileCmd,
}

#[derive(Debug, Clone, Copy, clap::ValueEnum)]
pub enum ModeArg {
    Discover,
    Monitor,
    Protect,
}

#[derive(Debug, clap::Subcommand)]
pub enum ProfileCmd {
    /// Every profile: key, mode, version, executable count, last change.
    List {
        /// table (default on a terminal) or json.
        #[arg(short, long)]
        format: Option<String>,
    },
    /// One profile (current, or --version N) and its history.
    Show {
        /// Image key: name@sha256:… (first repo digest) or sha256:… (image id).
        key: String,
        #[arg(long, value_name = "N")]
        version: Option<u64>,
        /// table (default on a terminal) or json.
        #[arg(short, long)]
        format: Option<String>,
    },
    /// Set a profile's mode (a new version, audited).
    Mode {
        key: String,
        #[arg(value_enum)]
        mode: ModeArg,
        /// Discover only: switch to monitor after this long (30s, 15m, 1h, 2d; 0: never).
        #[arg(long, value_name = "DURATION", value_parser = parse_window)]
        learning: Option<Duration>,
        /// Why (kept with the version).
        #[arg(long)]
        reason: Option<String>,
    },
    /// Allow an executable (a new version, audited). Without --size and
    /// --mtime-ns the path is allowed whatever its contents (the sensor
    /// decides by path, size and mtime; it never reads contents).
    Allow {
        key: String,
        #[arg(long, value_name = "PATH")]
        path: String,
        #[arg(long, value_name = "HEX")]
        sha256: String,
        #[arg(long, value_name = "BYTES", requires = "mtime_ns")]
        size: Option<u64>,
        #[arg(long, value_name = "NS", requires = "size")]
        mtime_ns: Option<i64>,
        #[arg(long)]
        reason: Option<String>,
    },
    /// Write a profile (current, or --version N) as a sensor profile file (YAML).
    Export {
        key: String,
        #[arg(long, value_name = "N")]
        version: Option<u64>,
        #[arg(short, long, value_name = "FILE")]
        output: PathBuf,
    },
}

/// `30s`, `15m`, `1h`, `2d`, `1500ms`, `0`.
pub fn parse_window(s: &str) -> Result<Duration, String> {
    let split = s.find(|c: char| !c.is_ascii_digit()).unwrap_or(s.len());
    let (n, unit) = s.split_at(split);
    let n: u64 = n
        .parse()
        .map_err(|_| format!("{s:?} is not a duration (30s, 15m, 1h, 2d)"))?;
    let secs = |m: u64| Duration::from_secs(n.saturating_mul(m));
    match unit {
        "ms" => Ok(Duration::from_millis(n)),
        "s" | "" => Ok(secs(1)),
        "m" => Ok(secs(60)),
        "h" => Ok(secs(3600)),
        "d" => Ok(secs(86_400)),
        _ => Err(format!("{s:?}: unit must be ms, s, m, h or d")),
    }
}

/// The key as one path segment.
pub fn encode_key(key: &str) -> String {
    key.replace('%', "%25")
        .replace('/', "%2F")
        .replace('?', "%3F")
        .replace('#', "%23")
}

fn table(f: &Option<String>) -> anyhow::Result<bool> {
    match f.as_deref() {
        None => Ok(std::io::stdout().is_terminal()),
        Some("table") => Ok(true),
        Some("json") => Ok(false),
        Some(other) => bail!("--format {other}: expected table or json"),
    }
}

fn path_of(key: &str, version: Option<u64>) -> String {
    match version {
        Some(v) => format!("/profiles/{}?version={v}", encode_key(key)),
        None => format!("/profiles/{}", encode_key(key)),
    }
}

/// A server profile (`GET /api/v1/profiles/{key}`) as a sensor profile file.
pub fn to_sensor_profile(p: &Value) -> anyhow::Result<Profile> {
    let key = p["key"].as_str().context("the profile has no key")?;
    let mut executables = Vec::new();
    let mut any_contents = Vec::new();
    for e in p["executables"].as_array().into_iter().flatten() {
        let path = e["path"].as_str().context("an executable has no path")?;
        let sha = e["sha256"]
            .as_str()
            .context("an executable has no sha256")?;
        match (e["size"].as_u64(), e["mtime_ns"].as_i64()) {
            (Some(size), Some(mtime_ns)) => executables.push(Executable {
                path: path.to_string(),
                sha256: sha.to_string(),
                size,
                mtime_ns,
            }),
            _ => any_contents.push(path.to_string()),
        }
    }
    executables.sort();
    any_contents.sort();
    any_contents.dedup();
    Ok(Profile {
        version: PROFILE_VERSION,
        image: key.to_string(),
        reference: p["reference"].as_str().unwrap_or_default().to_string(),
        executables,
        any_contents,
    })
}

pub fn run(args: ProfileArgs) -> anyhow::Result<ExitCode> {
    let api = Api::connect(
        &args.url,
        &args.user,
        args.password.clone(),
        args.ca_cert.as_deref(),
    )?;
    use reqwest::Method as M;
    match args.command {
        ProfileCmd::List { format } => {
            let list = api.call(M::GET, "/profiles", None)?;
            if !table(&format)? {
                println!("{}", serde_json::to_string_pretty(&list)?);
                return Ok(ExitCode::SUCCESS);
            }
            let mut rows = vec![["KEY", "MODE", "VERSION", "EXECUTABLES", "UPDATED"]
                .iter()
                .map(|h| h.to_string())
                .collect::<Vec<_>>()];
            let now = caisson_registry::store::now_ms();
            for p in list.as_array().into_iter().flatten() {
                rows.push(vec![
                    s(&p["key"]),
                    s(&p["mode"]),
                    s(&p["version"]),
                    s(&p["executables"]),
                    p["updated_ms"].as_i64().map_or("-".into(), |t| {
                        format!("{}s ago", now.saturating_sub(t) / 1000)
                    }),
                ]);
            }
            print_rows(&rows);
        }
        ProfileCmd::Show {
            key,
            version,
            format,
        } => {
            let p = api.call(M::GET, &path_of(&key, version), None)?;
            let versions = api.call(
                M::GET,
                &format!("/profiles/{}/versions", encode_key(&key)),
                None,
            )?;
            if !table(&format)? {
                let doc = json!({"profile": p, "versions": versions});
                println!("{}", serde_json::to_string_pretty(&doc)?);
                return Ok(ExitCode::SUCCESS);
            }
            println!(
                "{}  mode {}  version {} of {}  ({})",
                s(&p["key"]),
                s(&p["mode"]),
                s(&p["version"]),
                s(&p["current_version"]),
                s(&p["reason"])
            );
            let mut rows = vec![["PATH", "SHA256", "SIZE", "MTIME_NS"]
                .iter()
                .map(|h| h.to_string())
                .collect::<Vec<_>>()];
            for e in p["executables"].as_array().into_iter().flatten() {
                rows.push(vec![
                    s(&e["path"]),
                    s(&e["sha256"]),
                    s(&e["size"]),
                    s(&e["mtime_ns"]),
                ]);
            }
            print_rows(&rows);
            println!();
            let mut rows = vec![["VERSION", "MODE", "EXECUTABLES", "ACTOR", "REASON"]
                .iter()
                .map(|h| h.to_string())
                .collect::<Vec<_>>()];
            for v in versions.as_array().into_iter().flatten() {
                rows.push(vec![
                    s(&v["version"]),
                    s(&v["mode"]),
                    s(&v["executables"]),
                    s(&v["actor"]),
                    s(&v["reason"]),
                ]);
            }
            print_rows(&rows);
        }
        ProfileCmd::Mode {
            key,
            mode,
            learning,
            reason,
        } => {
            let mode = match mode {
                ModeArg::Discover => "discover",
                ModeArg::Monitor => "monitor",
                ModeArg::Protect => "protect",
            };
            let mut body = json!({"mode": mode});
            if let Some(l) = learning {
                body["learning_secs"] = json!(l.as_secs());
            }
            if let Some(r) = reason {
                body["reason"] = json!(r);
            }
            let v = api.call(
                M::PUT,
                &format!("/profiles/{}/mode", encode_key(&key)),
                Some(body),
            )?;
            report_change(&key, &v);
        }
        ProfileCmd::Allow {
            key,
            path,
            sha256,
            size,
            mtime_ns,
            reason,
        } => {
            let mut e = json!({"path": path, "sha256": sha256});
            if let (Some(sz), Some(mt)) = (size, mtime_ns) {
                e["size"] = json!(sz);
                e["mtime_ns"] = json!(mt);
            }
            let mut body = json!({"executables": [e]});
            if let Some(r) = reason {
                body["reason"] = json!(r);
            }
            let v = api.call(
                M::POST,
                &format!("/profiles/{}/allow", encode_key(&key)),
                Some(body),
            )?;
            report_change(&key, &v);
        }
        ProfileCmd::Export {
            key,
            version,
            output,
        } => {
            let p = api.call(M::GET, &path_of(&key, version), None)?;
            let profile = to_sensor_profile(&p)?;
            profile.write(&output)?;
            eprintln!(
                "caisson profile: {} version {} ({} executables, mode {}) written to {}",
                key,
                s(&p["version"]),
                profile.executables.len() + profile.any_contents.len(),
                s(&p["mode"]),
                output.display()
            );
        }
    }
    Ok(ExitCode::SUCCESS)
}

fn report_change(key: &str, v: &Value) {
    if v["changed"] == true {
        eprintln!(
            "caisson profile: {key} is now at version {} ({})",
            s(&v["version"]),
            s(&v["reason"])
        );
    } else {
        eprintln!(
            "caisson profile: {key} unchanged at version {}",
            s(&v["version"])
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn windows() {
        assert_eq!(parse_window("90s"), Ok(Duration::from_secs(90)));
        assert_eq!(parse_window("2h"), Ok(Duration::from_secs(7200)));
        assert_eq!(parse_window("0"), Ok(Duration::ZERO));
        assert_eq!(parse_window("1500ms"), Ok(Duration::from_millis(1500)));
        assert!(parse_window("1w").is_err());
        assert!(parse_window("h").is_err());
    }
}
