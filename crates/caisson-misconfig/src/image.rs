//! Checks on a built image: config, history, final file list.

use std::collections::BTreeMap;

use serde_json::Value;

use crate::{finding, MisconfigFinding};

/// A file of the image's final view the checks care about.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FileFact {
    pub path: String,
    /// Unix mode bits (`0o4755`).
    pub mode: u32,
}

/// What [`check_image`] reads.
#[derive(Debug, Clone, Copy, Default)]
pub struct ImageInput<'a> {
    /// The config's `config` object (`User`, `Env`, `ExposedPorts`, …).
    pub config: Option<&'a Value>,
    /// The config's `history` entries.
    pub history: &'a [Value],
    /// The files [`wanted_file`] selected, as they are in the final view.
    pub files: &'a [FileFact],
}

const CACHE_DIRS: &[(&str, &str)] = &[
    ("/var/lib/apt/lists/", "apt package lists"),
    ("/var/cache/apt/archives/", "apt downloaded packages"),
    ("/var/cache/apk/", "apk cache"),
    ("/root/.cache/pip/", "pip cache"),
    ("/root/.npm/_cacache/", "npm cache"),
    ("/usr/local/share/.cache/yarn/", "yarn cache"),
    ("/var/cache/yum/", "yum cache"),
    ("/var/cache/dnf/", "dnf cache"),
];

const SSHD: &[&str] = &["/usr/sbin/sshd", "/etc/ssh/sshd_config"];

fn is_cache_file(path: &str) -> Option<&'static str> {
    CACHE_DIRS.iter().find_map(|(dir, what)| {
        let rest = path.strip_prefix(dir)?;
        // apt's lock and partial/ exist in every image that has apt.
        let noise = rest == "lock" || rest.starts_with("partial/") || rest.starts_with("auxfiles/");
        (!noise && !rest.is_empty()).then_some(*what)
    })
}

/// Whether the walker should record this file for [`check_image`]: set-uid or
/// set-gid regular files, `sshd`, package-manager caches.
pub fn wanted_file(path: &str, mode: u32) -> bool {
    mode & 0o6000 != 0 || SSHD.contains(&path) || is_cache_file(path).is_some()
}

/// Environment/argument names that carry secrets.
pub fn is_secret_name(name: &str) -> bool {
    let n = name.to_ascii_lowercase();
    let hits = [
        "password",
        "passwd",
        "secret",
        "token",
        "api_key",
        "apikey",
        "api-key",
        "access_key",
        "accesskey",
        "private_key",
        "credential",
    ];
    // Names that mention a secret but only point at one.
    let pointers = [
        "_file",
        "_path",
        "_dir",
        "_url_file",
        "_env",
        "_name",
        "_id",
        "_type",
    ];
    hits.iter().any(|h| n.contains(h)) && !pointers.iter().any(|p| n.ends_with(p))
}

/// Why an image reference (as in FROM) is not pinned, if it is not.
pub(crate) fn base_ref_problem(image: &str) -> Option<&'static str> {
    if image.is_empty() {
        return Some("no image");
    }
    if image.eq_ignore_ascii_case("scratch") || image.contains('$') || image.contains('@') {
        return None;
    }
    let last = image.rsplit('/').next().unwrap_or(image);
    match last.split_once(':') {
        None => Some("no tag (implies `latest`)"),
        Some((_, "latest")) => Some("the `latest` tag"),
        Some(_) => None,
    }
}

/// Ports below 1024 in `80`, `80/tcp`, `1-100` forms.
pub(crate) fn privileged_ports<'a>(specs: impl Iterator<Item = &'a str>) -> Vec<u16> {
    let mut out = Vec::new();
    for s in specs {
        let port = s.split('/').next().unwrap_or("");
        let first = port.split('-').next().unwrap_or("");
        if let Ok(p) = first.parse::<u16>() {
            if p < 1024 {
                out.push(p);
            }
        }
    }
    out
}

fn created_by(h: &Value) -> &str {
    h.get("created_by").and_then(Value::as_str).unwrap_or("")
}

/// The Dockerfile-ish instruction a history line records: BuildKit writes
/// `RUN |2 A=b C=d /bin/sh -c …`, `ENV K=V`, `ADD url dst # buildkit`; the
/// classic builder `/bin/sh -c #(nop)  ENV K=V` or `/bin/sh -c <command>`.
fn instruction(line: &str) -> (&str, &str) {
    let l = line.trim();
    let l = l.strip_prefix("/bin/sh -c ").unwrap_or(l).trim();
    if let Some(nop) = l.strip_prefix("#(nop)") {
        let nop = nop.trim();
        return nop
            .split_once(char::is_whitespace)
            .map_or((nop, ""), |(k, a)| (k, a.trim()));
    }
    let l = l.strip_suffix("# buildkit").unwrap_or(l).trim();
    match l.split_once(char::is_whitespace) {
        Some((k, a)) if k.chars().all(|c| c.is_ascii_uppercase()) => (k, a.trim()),
        _ => ("RUN", l),
    }
}

/// Secret-like `KEY=value` words at the start of `s` (BuildKit's `|N K=V …`
/// prefix, ENV/ARG arguments).
fn secret_assignments(s: &str, keyword: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut words = s.split_whitespace().peekable();
    if keyword == "RUN" {
        // Only the `|N` build-arg prefix is structured.
        match words.peek() {
            Some(w) if w.starts_with('|') => {
                words.next();
            }
            _ => return out,
        }
    }
    for w in words {
        let Some((k, v)) = w.split_once('=') else {
            if keyword == "ARG" && is_secret_name(w) {
                out.push(w.to_string());
            }
            if keyword == "RUN" {
                break;
            }
            continue;
        };
        if !k.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') {
            break;
        }
        if is_secret_name(k) && !v.is_empty() {
            out.push(k.to_string());
        }
    }
    out
}

/// Runs the image checks.
pub fn check_image(input: &ImageInput<'_>) -> Vec<MisconfigFinding> {
    let mut out = Vec::new();
    let cfg = input.config;
    let field = |k: &str| cfg.and_then(|c| c.get(k));
    // 4.1
    let user = field("User").and_then(Value::as_str).unwrap_or("").trim();
    let name = user.split(':').next().unwrap_or("");
    if name.is_empty() || name == "root" || name == "0" {
        let msg = if user.is_empty() {
            "the config sets no User; the container runs as root".to_string()
        } else {
            format!("the config's User is {user}")
        };
        out.push(finding("root-user", msg, "config", None));
    }
    // 4.6
    let hc = field("Healthcheck")
        .and_then(|h| h.get("Test"))
        .and_then(Value::as_array)
        .and_then(|t| t.first())
        .and_then(Value::as_str);
    if hc.is_none() || hc == Some("NONE") {
        out.push(finding(
            "no-healthcheck",
            "the config has no Healthcheck".into(),
            "config",
            None,
        ));
    }
    // 5.8
    if let Some(ports) = field("ExposedPorts").and_then(Value::as_object) {
        for p in privileged_ports(ports.keys().map(String::as_str)) {
            out.push(finding(
                "privileged-port",
                format!("port {p} is exposed"),
                "config",
                None,
            ));
        }
    }
    // 4.10: config Env
    if let Some(env) = field("Env").and_then(Value::as_array) {
        for e in env.iter().filter_map(Value::as_str) {
            if let Some((k, v)) = e.split_once('=') {
                if is_secret_name(k) && !v.is_empty() {
                    out.push(finding(
                        "secret-in-env-arg",
                        format!("Env {k} looks like a secret (value not shown)"),
                        "config",
                        None,
                    ));
                }
            }
        }
    }
    if let Some(labels) = field("Labels").and_then(Value::as_object) {
        for key in ["org.opencontainers.image.base.name"] {
            if let Some(base) = labels.get(key).and_then(Value::as_str) {
                if let Some(p) = base_ref_problem(base) {
                    out.push(finding(
                        "unpinned-base-image",
                        format!("label {key} = {base}: {p}"),
                        "config",
                        None,
                    ));
                }
            }
        }
    }
    for (i, h) in input.history.iter().enumerate() {
        let loc = format!("history[{i}]");
        let (kw, args) = instruction(created_by(h));
        match kw {
            "ADD" => {
                let srcs: Vec<&str> = args
                    .split_whitespace()
                    .filter(|a| !a.starts_with("--"))
                    .collect();
                let srcs = srcs.get(..srcs.len().saturating_sub(1)).unwrap_or_default();
                if srcs
                    .iter()
                    .any(|s| s.starts_with("http://") || s.starts_with("https://"))
                {
                    out.push(finding(
                        "add-instead-of-copy",
                        "ADD of a remote URL".into(),
                        &loc,
                        None,
                    ));
                } else if srcs.iter().any(|s| crate::dockerfile::is_archive(s)) {
                    out.push(finding(
                        "add-instead-of-copy",
                        "ADD of a local archive (auto-extracted)".into(),
                        &loc,
                        None,
                    ));
                }
            }
            "FROM" => {
                let image = args
                    .split_whitespace()
                    .find(|w| !w.starts_with("--"))
                    .unwrap_or("");
                if let Some(p) = base_ref_problem(image) {
                    out.push(finding(
                        "unpinned-base-image",
                        format!("FROM {image}: {p}"),
                        &loc,
                        None,
                    ));
                }
            }
            "ENV" | "ARG" | "RUN" => {
                for k in secret_assignments(args, kw) {
                    out.push(finding(
                        "secret-in-env-arg",
                        format!("{kw} {k} looks like a secret (value not shown)"),
                        &loc,
                        None,
                    ));
                }
            }
            _ => {}
        }
    }
    // Files.
    let setuid: Vec<&str> = input
        .files
        .iter()
        .filter(|f| f.mode & 0o6000 != 0)
        .map(|f| f.path.as_str())
        .collect();
    for p in &setuid {
        out.push(finding(
            "setuid-files",
            format!("{p} has the set-uid or set-gid bit"),
            p,
            None,
        ));
    }
    for f in input
        .files
        .iter()
        .filter(|f| SSHD.contains(&f.path.as_str()))
    {
        out.push(finding(
            "sshd-installed",
            format!("{} is present", f.path),
            &f.path,
            None,
        ));
    }
    let mut caches: BTreeMap<&str, usize> = BTreeMap::new();
    for f in input.files {
        if let Some(what) = is_cache_file(&f.path) {
            *caches.entry(what).or_insert(0) += 1;
        }
    }
    for (what, n) in caches {
        let dir = CACHE_DIRS
            .iter()
            .find(|(_, w)| *w == what)
            .map_or("", |(d, _)| *d);
        out.push(finding(
            "package-cache-left",
            format!("{what}: {n} files under {dir}"),
            dir,
            None,
        ));
    }
    out
}
