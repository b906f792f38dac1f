//! Registry credentials from containers-auth.json / Docker config.json files
//! and Docker credential helpers. Secrets are wrapped in [`Secret`], whose
//! `Debug` never shows them.

use std::collections::BTreeMap;
use std::fmt;
use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use base64::Engine as _;
use serde::Deserialize;

use crate::env;

/// A string that must never be logged or shown.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    pub fn new(s: impl Into<String>) -> Self {
        Secret(s.into())
    }
    /// The secret itself, for building a request header.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret(<redacted>)")
    }
}

/// Credentials for one registry.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Credentials {
    /// User name and password (or personal access token).
    Basic { username: String, password: Secret },
    /// An OAuth2 refresh token (`identitytoken`), exchanged at the token realm.
    IdentityToken(Secret),
}

impl Credentials {
    /// The `Authorization: Basic …` header value, if these are basic credentials.
    pub fn basic_header(&self) -> Option<Secret> {
        match self {
            Credentials::Basic { username, password } => {
                let raw = format!("{username}:{}", password.expose());
                Some(Secret(format!(
                    "Basic {}",
                    base64::engine::general_purpose::STANDARD.encode(raw)
                )))
            }
            Credentials::IdentityToken(_) => None,
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum CredentialError {
    #[error("reading registry auth file {path}")]
    Read {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("registry auth file {path} is not valid JSON: {reason}")]
    Json { path: PathBuf, reason: String },
    #[error(
        "registry auth file {path}: the `auth` entry for {key:?} is not base64 of `user:password`"
    )]
    Malformed { path: PathBuf, key: String },
}

/// The auth files to consult, in order, given an environment lookup:
/// `$REGISTRY_AUTH_FILE`, `$XDG_RUNTIME_DIR/containers/auth.json`, then
/// `$DOCKER_CONFIG/config.json` or `~/.docker/config.json`.
pub fn default_auth_files(var: impl Fn(&str) -> Option<String>) -> Vec<PathBuf> {
    let nonempty = |k: &str| var(k).filter(|v| !v.is_empty());
    let mut files = Vec::new();
    if let Some(f) = nonempty(env::REGISTRY_AUTH_FILE) {
        files.push(PathBuf::from(f));
    }
    if let Some(d) = nonempty(env::XDG_RUNTIME_DIR) {
        files.push(Path::new(&d).join("containers").join("auth.json"));
    }
    if let Some(d) = nonempty(env::DOCKER_CONFIG) {
        files.push(Path::new(&d).join("config.json"));
    } else if let Some(h) = nonempty(env::HOME) {
        files.push(Path::new(&h).join(".docker").join("config.json"));
    }
    files
}

#[derive(Deserialize, Default)]
struct AuthFile {
    #[serde(default)]
    auths: BTreeMap<String, AuthEntry>,
    #[serde(default, rename = "credsStore")]
    creds_store: Option<String>,
    #[serde(default, rename = "credHelpers")]
    cred_helpers: BTreeMap<String, String>,
}

#[derive(Deserialize, Default)]
struct AuthEntry {
    #[serde(default)]
    auth: Option<String>,
    #[serde(default)]
    username: Option<String>,
    #[serde(default)]
    password: Option<String>,
    #[serde(default)]
    identitytoken: Option<String>,
}

/// Docker Hub is known under several names; they all mean `docker.io`.
fn canonical_host(host: &str) -> &str {
    match host {
        "index.docker.io" | "registry-1.docker.io" | "registry.hub.docker.com" => "docker.io",
        h => h,
    }
}

/// `https://index.docker.io/v1/` → `docker.io`; `host/ns/repo` stays as is.
fn normalise_key(key: &str) -> String {
    let (had_scheme, rest) = match key
        .strip_prefix("https://")
        .or_else(|| key.strip_prefix("http://"))
    {
        Some(r) => (true, r),
        None => (false, key),
    };
    let mut rest = rest.trim_end_matches('/');
    if had_scheme {
        rest = rest
            .strip_suffix("/v1")
            .or_else(|| rest.strip_suffix("/v2"))
            .unwrap_or(rest);
    }
    let (host, path) = match rest.split_once('/') {
        Some((h, p)) => (h, Some(p)),
        None => (rest, None),
    };
    let host = canonical_host(host);
    match path {
        Some(p) => format!("{host}/{p}"),
        None => host.to_string(),
    }
}

/// Lookup keys from most to least specific: `host/a/b`, `host/a`, `host`.
fn candidates(registry: &str, repository: &str) -> Vec<String> {
    let host = canonical_host(registry);
    let mut out = Vec::new();
    let mut path = repository.to_string();
    while !path.is_empty() {
        out.push(format!("{host}/{path}"));
        path = match path.rsplit_once('/') {
            Some((p, _)) => p.to_string(),
            None => String::new(),
        };
    }
    out.push(host.to_string());
    out
}

/// The server URL a credential helper is asked about.
fn helper_server_url(registry: &str) -> String {
    if canonical_host(registry) == "docker.io" {
        "https://index.docker.io/v1/".to_string()
    } else {
        registry.to_string()
    }
}

/// Looks up credentials for `registry`/`repository` in `files`, in order; the
/// first file with an entry wins. Missing files are skipped.
pub fn lookup(
    files: &[PathBuf],
    registry: &str,
    repository: &str,
) -> Result<Option<Credentials>, CredentialError> {
    let keys = candidates(registry, repository);
    for path in files {
        let text = match fs_err::read_to_string(path) {
            Ok(t) => t,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => continue,
            Err(e) => {
                return Err(CredentialError::Read {
                    path: path.clone(),
                    source: e,
                })
            }
        };
        // serde_json's messages quote no input values, only positions.
        let file: AuthFile = serde_json::from_str(&text).map_err(|e| CredentialError::Json {
            path: path.clone(),
            reason: format!("line {} column {}", e.line(), e.column()),
        })?;
        if let Some(c) = from_file(&file, path, registry, &keys)? {
            tracing::debug!(file = %path.display(), registry, "using registry credentials");
            return Ok(Some(c));
        }
    }
    Ok(None)
}

fn from_file(
    file: &AuthFile,
    path: &Path,
    registry: &str,
    keys: &[String],
) -> Result<Option<Credentials>, CredentialError> {
    let host = canonical_host(registry);
    let helper = file
        .cred_helpers
        .iter()
        .find(|(k, _)| normalise_key(k) == host)
        .map(|(_, v)| v);
    if let Some(h) = helper {
        if let Some(c) = run_helper(h, registry) {
            return Ok(Some(c));
        }
    }
    let normalised: Vec<(String, &String, &AuthEntry)> = file
        .auths
        .iter()
        .map(|(k, v)| (normalise_key(k), k, v))
        .collect();
    for key in keys {
        for (norm, raw_key, entry) in &normalised {
            if norm == key {
                if let Some(c) = entry_credentials(entry, path, raw_key)? {
                    return Ok(Some(c));
                }
            }
        }
    }
    if let Some(store) = &file.creds_store {
        if let Some(c) = run_helper(store, registry) {
            return Ok(Some(c));
        }
    }
    Ok(None)
}

fn entry_credentials(
    entry: &AuthEntry,
    path: &Path,
    key: &str,
) -> Result<Option<Credentials>, CredentialError> {
    if let Some(t) = entry.identitytoken.as_deref().filter(|t| !t.is_empty()) {
        return Ok(Some(Credentials::IdentityToken(Secret::new(t))));
    }
    if let Some(auth) = entry.auth.as_deref().filter(|a| !a.is_empty()) {
        let malformed = || CredentialError::Malformed {
            path: path.to_path_buf(),
            key: key.to_string(),
        };
        let raw = base64::engine::general_purpose::STANDARD
            .decode(auth.trim())
            .map_err(|_| malformed())?;
        let raw = String::from_utf8(raw).map_err(|_| malformed())?;
        let (user, pass) = raw.split_once(':').ok_or_else(malformed)?;
        return Ok(Some(Credentials::Basic {
            username: user.to_string(),
            password: Secret::new(pass),
        }));
    }
    match (&entry.username, &entry.password) {
        (Some(u), Some(p)) if !u.is_empty() => Ok(Some(Credentials::Basic {
            username: u.clone(),
            password: Secret::new(p.clone()),
        })),
        _ => Ok(None),
    }
}

#[derive(Deserialize)]
struct HelperOutput {
    #[serde(rename = "Username", default)]
    username: String,
    #[serde(rename = "Secret", default)]
    secret: String,
}

/// Runs `docker-credential-<name> get`. Any failure (helper not installed,
/// no entry, bad output) means "no credentials from this helper".
fn run_helper(name: &str, registry: &str) -> Option<Credentials> {
    if name.is_empty()
        || !name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'))
    {
        tracing::debug!(
            helper = name,
            "ignoring credential helper with an invalid name"
        );
        return None;
    }
    let program = format!("docker-credential-{name}");
    let child = Command::new(&program)
        .arg("get")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn();
    let mut child = match child {
        Ok(c) => c,
        Err(e) => {
            tracing::debug!(helper = %program, error = %e, "credential helper not available; skipping");
            return None;
        }
    };
    if let Some(mut stdin) = child.stdin.take() {
        let _ = stdin.write_all(helper_server_url(registry).as_bytes());
    }
    let out = match child.wait_with_output() {
        Ok(o) => o,
        Err(e) => {
            tracing::debug!(helper = %program, error = %e, "credential helper failed");
            return None;
        }
    };
    if !out.status.success() {
        tracing::debug!(helper = %program, status = %out.status, registry, "credential helper has no credentials");
        return None;
    }
    let parsed: HelperOutput = match serde_json::from_slice(&out.stdout) {
        Ok(p) => p,
        Err(_) => {
            tracing::debug!(helper = %program, "credential helper printed something that is not its JSON");
            return None;
        }
    };
    if parsed.secret.is_empty() {
        return None;
    }
    if parsed.username == "<token>" {
        Some(Credentials::IdentityToken(Secret::new(parsed.secret)))
    } else {
        Some(Credentials::Basic {
            username: parsed.username,
            password: Secret::new(parsed.secret),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn write(dir: &Path, name: &str, body: &str) -> PathBuf {
        let p = dir.join(name);
        fs_err::write(&p, body).expect("write auth file");
        p
    }

    #[test]
    fn discovery_order() {
        let vars = |k: &str| match k {
            "REGISTRY_AUTH_FILE" => Some("/a/auth.json".to_string()),
            "XDG_RUNTIME_DIR" => Some("/run/user/1".to_string()),
            "HOME" => Some("/home/u".to_string()),
            _ => None,
        };
        assert_eq!(
            default_auth_files(vars),
            [
                PathBuf::from("/a/auth.json"),
                PathBuf::from("/run/user/1/containers/auth.json"),
                PathBuf::from("/home/u/.docker/config.json"),
            ]
        );
        let docker_config = |k: &str| (k == "DOCKER_CONFIG").then(|| "/dc".to_string());
        assert_eq!(
            default_auth_files(docker_config),
            [PathBuf::from("/dc/config.json")]
        );
    }

    #[test]
    fn auth_forms_and_docker_hub_keys() {
        let dir = tempfile::tempdir().expect("tempdir");
        // "alice:s3cr:et" base64; password may contain ':'.
        let f = write(
            dir.path(),
            "a.json",
            r#"{"auths":{
                "https://index.docker.io/v1/":{"auth":"YWxpY2U6czNjcjpldA=="},
                "reg.example:5000":{"username":"bob","password":"pw"},
                "reg.example:5000/team/app":{"identitytoken":"tok"},
                "empty.example":{}
            }}"#,
        );
        let files = [f];
        let hub = lookup(&files, "docker.io", "library/alpine").expect("reads");
        assert_eq!(
            hub,
            Some(Credentials::Basic {
                username: "alice".into(),
                password: Secret::new("s3cr:et")
            })
        );
        let other = lookup(&files, "reg.example:5000", "team/other").expect("reads");
        assert!(
            matches!(other, Some(Credentials::Basic { ref username, .. }) if username == "bob")
        );
        let scoped = lookup(&files, "reg.example:5000", "team/app/sub").expect("reads");
        assert!(matches!(scoped, Some(Credentials::IdentityToken(_))));
        assert_eq!(lookup(&files, "empty.example", "x").expect("reads"), None);
        assert_eq!(lookup(&files, "nowhere.example", "x").expect("reads"), None);
    }

    #[test]
    fn first_file_with_an_entry_wins_and_missing_files_are_skipped() {
        let dir = tempfile::tempdir().expect("tempdir");
        let a = write(
            dir.path(),
            "a.json",
            r#"{"auths":{"other.example":{"username":"a","password":"a"}}}"#,
        );
        let b = write(
            dir.path(),
            "b.json",
            r#"{"auths":{"h.example":{"username":"b","password":"b"}}}"#,
        );
        let c = write(
            dir.path(),
            "c.json",
            r#"{"auths":{"h.example":{"username":"c","password":"c"}}}"#,
        );
        let files = [dir.path().join("missing.json"), a, b, c];
        let got = lookup(&files, "h.example", "r").expect("reads");
        assert!(matches!(got, Some(Credentials::Basic { ref username, .. }) if username == "b"));
    }

    #[test]
    fn errors_and_debug_never_show_secrets() {
        let dir = tempfile::tempdir().expect("tempdir");
        let f = write(
            dir.path(),
            "bad.json",
            r#"{"auths":{"h":{"auth":"!!notbase64-hunter2"}}}"#,
        );
        let err = lookup(&[f], "h", "r").expect_err("malformed");
        let shown = format!("{err} {err:?}");
        assert!(!shown.contains("hunter2"), "{shown}");
        let f = write(dir.path(), "bad2.json", r#"{"auths":{"h":{"auth":"hunter2"#);
        let err = lookup(&[f], "h", "r").expect_err("bad json");
        assert!(!format!("{err} {err:?}").contains("hunter2"));
        let c = Credentials::Basic {
            username: "u".into(),
            password: Secret::new("hunter2"),
        };
        assert!(!format!("{c:?}").contains("hunter2"));
        assert!(!format!("{:?}", c.basic_header()).contains("aHVudGVyMg"));
    }

    #[test]
    fn missing_credential_helper_is_skipped() {
        let dir = tempfile::tempdir().expect("tempdir");
        let f = write(
            dir.path(),
            "h.json",
            r#"{"credsStore":"caisson-test-absent","credHelpers":{"h.example":"also-absent"},
                "auths":{"h.example":{"username":"u","password":"p"}}}"#,
        );
        let got = lookup(std::slice::from_ref(&f), "h.example", "r").expect("reads");
        assert!(matches!(got, Some(Credentials::Basic { .. })));
        assert_eq!(lookup(&[f], "z.example", "r").expect("reads"), None);
    }
}
