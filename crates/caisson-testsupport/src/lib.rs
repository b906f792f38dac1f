//! Test helpers shared across crates: a real `docker-registry` process killed
//! on drop, tool checks that fail under CI and skip elsewhere (every skip
//! recorded for `scripts/test`'s summary, see [`skip`]), a command runner.
#![allow(clippy::unwrap_used, clippy::panic)]

pub mod advisory_data;
pub mod engine;
pub mod registry;
pub mod schema;

use std::io::Write as _;
use std::path::Path;
use std::process::Command;

/// The variable `scripts/test` sets outside CI: a file every skipped test
/// appends one line to (`<test binary> <test>`, a tab, the reason),
/// summarised at the end of the run.
pub const SKIP_LOG_VAR: &str = "CAISSON_SKIP_LOG";

/// Skips the calling test for `reason` (the caller returns right after):
/// prints `SKIPPING: <reason>` and appends a line to `$CAISSON_SKIP_LOG`
/// when set. Under CI a missing fixture or tool is a failure instead, so
/// callers assert on `CI` before calling this.
pub fn skip(reason: &str) {
    eprintln!("SKIPPING: {reason}");
    let Some(log) = std::env::var_os(SKIP_LOG_VAR).filter(|v| !v.is_empty()) else {
        return;
    };
    let binary = std::env::current_exe()
        .ok()
        .and_then(|p| p.file_stem().map(|s| s.to_string_lossy().into_owned()))
        .map(|s| match s.rsplit_once('-') {
            // cargo names test binaries <target>-<16 hex digits>.
            Some((name, hash)) if hash.len() == 16 => name.to_string(),
            _ => s,
        })
        .unwrap_or_default();
    let thread = std::thread::current();
    let test = thread.name().unwrap_or("?");
    let line = format!("{binary} {test}\t{}\n", reason.replace(['\n', '\t'], " "));
    // One write of one short line to a file opened for appending: lines
    // from concurrent test processes do not interleave.
    let written = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(&log)
        .and_then(|mut f| f.write_all(line.as_bytes()));
    if let Err(e) = written {
        eprintln!(
            "cannot record the skip in {}: {e}",
            Path::new(&log).display()
        );
    }
}

/// True when `tool` is on PATH. Missing tools fail the test under CI (where
/// scripts/deps.d/registry-client.sh must have installed them) and skip it
/// with a message elsewhere.
pub fn have_tool(tool: &str) -> bool {
    let found = Command::new("sh")
        .arg("-c")
        .arg(format!("command -v {tool}"))
        .output()
        .map(|o| o.status.success())
        .unwrap_or(false);
    if !found {
        let msg = format!("{tool} is not installed; run scripts/install-deps");
        if std::env::var("CI").is_ok_and(|v| v == "true") {
            panic!("{msg}");
        }
        skip(&msg);
    }
    found
}

pub fn have_tools(tools: &[&str]) -> bool {
    tools.iter().all(|t| have_tool(t))
}

/// Runs a command, panicking with its stderr on failure; returns stdout.
pub fn run(cmd: &mut Command) -> Vec<u8> {
    let out = cmd
        .output()
        .unwrap_or_else(|e| panic!("running {cmd:?}: {e}"));
    assert!(
        out.status.success(),
        "{cmd:?} failed: {}\n{}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    out.stdout
}

/// `sha256=<hex HMAC-SHA256(secret, body)>` as `openssl dgst -hmac` computes
/// it (the independent oracle for webhook signatures); `dir` holds the body.
pub fn openssl_hmac_sha256(secret: &str, body: &[u8], dir: &Path) -> String {
    let f = dir.join("hmac-body");
    std::fs::write(&f, body).expect("writing the body for openssl");
    let out = std::process::Command::new("openssl")
        .args(["dgst", "-sha256", "-hmac", secret, "-r"])
        .arg(&f)
        .output()
        .expect("running openssl dgst");
    let text = String::from_utf8_lossy(&out.stdout);
    format!(
        "sha256={}",
        text.split_whitespace()
            .next()
            .expect("openssl printed a digest")
    )
}

/// Writes a containers-auth.json with `user:pass` for `host`.
pub fn write_auth_file(dir: &Path, host: &str, user: &str, pass: &str) -> std::path::PathBuf {
    use base64::Engine as _;
    let auth = base64::engine::general_purpose::STANDARD.encode(format!("{user}:{pass}"));
    let path = dir.join(format!("auth-{user}-{pass}.json"));
    let body = serde_json::json!({"auths": {host: {"auth": auth}}});
    fs_err::write(&path, body.to_string()).expect("write auth.json");
    path
}

/// The fixture images built by `scripts/fixtures` (`$CAISSON_FIXTURES`, else
/// `~/.cache/caisson/fixtures`). `None` skips the test with a message locally;
/// under CI missing fixtures are a failure.
pub fn fixtures_root() -> Option<std::path::PathBuf> {
    fixture_entry(None).map(|(root, _)| root)
}

/// One fixture by name: the fixtures root and its entry in `manifest.json`
/// (`oci_ref`, `docker_archive`, …). Skips locally, fails under CI, as
/// [`fixtures_root`] does.
pub fn fixture(name: &str) -> Option<(std::path::PathBuf, serde_json::Value)> {
    fixture_entry(Some(name))
}

fn fixture_entry(name: Option<&str>) -> Option<(std::path::PathBuf, serde_json::Value)> {
    use std::path::PathBuf;
    let root = std::env::var_os("CAISSON_FIXTURES")
        .map(PathBuf::from)
        .or_else(|| {
            std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".cache/caisson/fixtures"))
        })?;
    let manifest: Option<serde_json::Value> = std::fs::read(root.join("manifest.json"))
        .ok()
        .and_then(|b| serde_json::from_slice(&b).ok());
    let entry = match (manifest, name) {
        (Some(m), None) => Some(m),
        (Some(m), Some(n)) => Some(m["fixtures"][n].clone()).filter(|e| e.is_object()),
        (None, _) => None,
    };
    if let Some(entry) = entry {
        return Some((root, entry));
    }
    let what = name.map_or_else(|| "fixtures".to_string(), |n| format!("fixture {n}"));
    assert!(
        std::env::var_os("CI").is_none(),
        "{what} missing at {}: CI must run scripts/fixtures first",
        root.display()
    );
    skip(&format!(
        "no {what} at {} (run scripts/fixtures)",
        root.display()
    ));
    None
}

/// A bare package of `ty` for SBOMs under test: id `<purl type>:<name>@<version>`,
/// purl `pkg:<purl type>/<name>@<version>` (Maven's `group:artifact` as
/// `group/artifact`), nothing else set.
pub fn package(
    ty: caisson_model::PackageType,
    name: &str,
    version: &str,
) -> caisson_model::Package {
    let purl_name = match ty {
        caisson_model::PackageType::Maven => name.replacen(':', "/", 1),
        _ => name.to_string(),
    };
    let purl = format!("pkg:{}/{purl_name}@{version}", ty.purl_type());
    let mut p = caisson_model::Package::found(ty, name, version, purl, "");
    p.id = format!("{}:{name}@{version}", ty.purl_type());
    p.locations.clear();
    p
}
