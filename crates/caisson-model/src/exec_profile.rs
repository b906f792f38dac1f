//! Executable allowlist profiles as the server stores and serves them
//! (`/api/v1/profiles…`, docs/runtime.md "Server-stored profiles"): the
//! image keys, the modes, the executables and the request bodies, each
//! parsed and validated here so the server answers 400 naming the field.
//!
//! The rules are the sensor's profile-file rules
//! (`caisson_sensor::allowlist::Profile::parse`, which calls
//! [`check_executable`]): absolute paths, a 64-hex sha256, at most
//! [`MAX_EXECUTABLES`] per profile.
#![deny(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};

/// Most executables one profile holds.
pub const MAX_EXECUTABLES: usize = 65_536;
/// Largest request body (a learned upload or an allow) the server reads.
pub const MAX_BODY_BYTES: usize = 16 << 20;
/// Longest image key, path or reason.
pub const MAX_KEY_LEN: usize = 512;
pub const MAX_PATH_LEN: usize = 4096;
pub const MAX_REASON_LEN: usize = 1024;
/// Longest learning window that can be set (a year).
pub const MAX_LEARNING_SECS: u64 = 366 * 24 * 3600;

/// What the sensor does with a profile's image.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Mode {
    /// Learn the executables the image's containers run (uploaded to the server).
    Discover,
    /// Alert (`exec-not-allowed`) on executables not in the profile.
    Monitor,
    /// Deny them (the exec fails with `EPERM`).
    Protect,
}

impl Mode {
    pub fn as_str(self) -> &'static str {
        match self {
            Mode::Discover => "discover",
            Mode::Monitor => "monitor",
            Mode::Protect => "protect",
        }
    }

    pub fn parse(s: &str) -> Option<Mode> {
        match s {
            "discover" => Some(Mode::Discover),
            "monitor" => Some(Mode::Monitor),
            "protect" => Some(Mode::Protect),
            _ => None,
        }
    }
}

/// One allowed executable. `size` and `mtime_ns` are the sensor's decision
/// key (with the path); an entry without them (a manual allow that names
/// only path and sha256) allows the path whatever its contents, as the
/// sensor never reads file contents to decide.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Executable {
    pub path: String,
    pub sha256: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub size: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mtime_ns: Option<i64>,
}

/// `POST /api/v1/profiles/{key}/learned`: what a sensor learned in discover.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LearnedUpload {
    /// The image reference the containers were created from (information).
    #[serde(default)]
    pub reference: String,
    pub executables: Vec<Executable>,
}

/// `POST /api/v1/profiles/{key}/allow`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AllowRequest {
    pub executables: Vec<Executable>,
    #[serde(default)]
    pub reason: Option<String>,
}

/// `PUT /api/v1/profiles/{key}/mode`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ModeChange {
    pub mode: Mode,
    /// Discover only: switch to monitor automatically after this many
    /// seconds (absent: the server's `--profile-learning`; 0: never).
    #[serde(default)]
    pub learning_secs: Option<u64>,
    #[serde(default)]
    pub reason: Option<String>,
}

/// A body or key that was refused, naming the field.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FieldError {
    /// JSON path of the field (`executables[3].sha256`), `key`, or empty.
    pub field: String,
    pub message: String,
}

impl std::fmt::Display for FieldError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if self.field.is_empty() || self.field == "." {
            write!(f, "profile request: {}", self.message)
        } else {
            write!(f, "profile field `{}`: {}", self.field, self.message)
        }
    }
}

impl std::error::Error for FieldError {}

fn err(field: impl Into<String>, message: impl Into<String>) -> FieldError {
    FieldError {
        field: field.into(),
        message: message.into(),
    }
}

fn is_hex64(s: &str) -> bool {
    s.len() == 64 && s.bytes().all(|b| b.is_ascii_hexdigit())
}

/// The one-executable rules shared with the sensor's profile files: an
/// absolute path without NUL and a sha256 of 64 hex digits. The message
/// names the executable.
pub fn check_executable(path: &str, sha256: &str) -> Result<(), String> {
    if !path.starts_with('/') {
        return Err(format!("executable path {path:?} is not absolute"));
    }
    if path.len() > MAX_PATH_LEN || path.contains('\0') {
        return Err(format!(
            "executable path {:?} is longer than {MAX_PATH_LEN} bytes or holds a NUL",
            path.chars().take(64).collect::<String>()
        ));
    }
    if !is_hex64(sha256) {
        return Err(format!(
            "executable {path:?}: sha256 {sha256:?} is not 64 hex digits"
        ));
    }
    Ok(())
}

/// Checks a list of executables (`field` is the list's name).
pub fn check_executables(field: &str, list: &[Executable]) -> Result<(), FieldError> {
    if list.len() > MAX_EXECUTABLES {
        return Err(err(
            field,
            format!("more than {MAX_EXECUTABLES} executables"),
        ));
    }
    for (i, e) in list.iter().enumerate() {
        check_executable(&e.path, &e.sha256).map_err(|m| {
            let which = if e.path.starts_with('/') && !e.path.contains('\0') {
                "sha256"
            } else {
                "path"
            };
            err(format!("{field}[{i}].{which}"), m)
        })?;
    }
    Ok(())
}

fn check_reason(r: &Option<String>) -> Result<(), FieldError> {
    match r {
        Some(r) if r.len() > MAX_REASON_LEN || r.chars().any(char::is_control) => Err(err(
            "reason",
            format!("longer than {MAX_REASON_LEN} bytes or holds control characters"),
        )),
        _ => Ok(()),
    }
}

/// An image key: `name@sha256:<64 hex>` (the image's first repo digest) or
/// `sha256:<64 hex>` (an image id).
pub fn check_key(key: &str) -> Result<(), FieldError> {
    let bad = |m: &str| Err(err("key", format!("image key {key:?}: {m}")));
    if key.len() > MAX_KEY_LEN {
        return bad(&format!("longer than {MAX_KEY_LEN} bytes"));
    }
    if key.chars().any(|c| c.is_control() || c.is_whitespace()) {
        return bad("holds whitespace or control characters");
    }
    let (name, digest) = match key.rsplit_once('@') {
        Some((n, d)) => (Some(n), d),
        None => (None, key),
    };
    if name.is_some_and(|n| n.is_empty() || n.contains('@')) {
        return bad("the repository name before `@` is empty or holds `@`");
    }
    match digest.strip_prefix("sha256:") {
        Some(hex) if is_hex64(hex) => Ok(()),
        _ => bad("expected name@sha256:<64 hex> or sha256:<64 hex>"),
    }
}

/// The repository of a key (`name` of `name@sha256:…`; `None` for an image id).
pub fn repository_of(key: &str) -> Option<&str> {
    key.rsplit_once('@').map(|(n, _)| n)
}

/// The repository without a leading registry host (`host:5000/team/app` →
/// `team/app`), as this registry names its repositories.
pub fn strip_registry_host(repo: &str) -> &str {
    match repo.split_once('/') {
        Some((first, rest))
            if first.contains('.') || first.contains(':') || first == "localhost" =>
        {
            rest
        }
        _ => repo,
    }
}

/// Parses a JSON body (bounded) and names the field that is wrong.
fn parse_json<T: DeserializeOwned>(body: &[u8]) -> Result<T, FieldError> {
    if body.len() > MAX_BODY_BYTES {
        return Err(err(
            "",
            format!("body is over the {MAX_BODY_BYTES}-byte limit"),
        ));
    }
    let de = &mut serde_json::Deserializer::from_slice(body);
    serde_path_to_error::deserialize(de).map_err(|e| {
        let field = e.path().to_string();
        err(field, e.into_inner().to_string())
    })
}

pub fn parse_learned(body: &[u8]) -> Result<LearnedUpload, FieldError> {
    let u: LearnedUpload = parse_json(body)?;
    if u.reference.len() > MAX_KEY_LEN || u.reference.chars().any(char::is_control) {
        return Err(err(
            "reference",
            format!("longer than {MAX_KEY_LEN} bytes or holds control characters"),
        ));
    }
    check_executables("executables", &u.executables)?;
    Ok(u)
}

pub fn parse_allow(body: &[u8]) -> Result<AllowRequest, FieldError> {
    let a: AllowRequest = parse_json(body)?;
    if a.executables.is_empty() {
        return Err(err("executables", "is empty: name at least one executable"));
    }
    check_executables("executables", &a.executables)?;
    check_reason(&a.reason)?;
    Ok(a)
}

pub fn parse_mode(body: &[u8]) -> Result<ModeChange, FieldError> {
    let m: ModeChange = parse_json(body)?;
    if m.learning_secs.is_some_and(|s| s > MAX_LEARNING_SECS) {
        return Err(err(
            "learning_secs",
            format!("over {MAX_LEARNING_SECS} (a year)"),
        ));
    }
    if m.learning_secs.is_some() && m.mode != Mode::Discover {
        return Err(err(
            "learning_secs",
            "only a discover profile has a learning window",
        ));
    }
    check_reason(&m.reason)?;
    Ok(m)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]
    use super::*;

    const H: &str = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";

    #[test]
    fn keys() {
        assert!(check_key(&format!("reg:5000/team/app@sha256:{H}")).is_ok());
        assert!(check_key(&format!("sha256:{H}")).is_ok());
        for bad in [
            format!("app@sha256:{}", &H[1..]),
            format!("@sha256:{H}"),
            format!("app sha@sha256:{H}"),
            "app:latest".to_string(),
            format!("a@b@sha256:{H}"),
        ] {
            let e = check_key(&bad).unwrap_err();
            assert_eq!(e.field, "key", "{bad}");
        }
        assert_eq!(
            repository_of(&format!("reg:5000/team/app@sha256:{H}")),
            Some("reg:5000/team/app")
        );
        assert_eq!(repository_of(&format!("sha256:{H}")), None);
        assert_eq!(strip_registry_host("reg:5000/team/app"), "team/app");
        assert_eq!(strip_registry_host("team/app"), "team/app");
    }

    #[test]
    fn bodies_name_the_bad_field() {
        let e =
            parse_learned(br#"{"executables":[{"path":"/bin/sh","sha256":"xx"}]}"#).unwrap_err();
        assert_eq!(e.field, "executables[0].sha256");
        let e = parse_learned(
            format!(r#"{{"executables":[{{"path":"/a","sha256":"{H}"}},{{"path":"bin/sh","sha256":"{H}"}}]}}"#)
                .as_bytes(),
        )
        .unwrap_err();
        assert_eq!(e.field, "executables[1].path");
        assert!(e.to_string().contains("not absolute"), "{e}");
        let e = parse_learned(br#"{"executables":[{"path":"/a","sha256":1}]}"#).unwrap_err();
        assert_eq!(e.field, "executables[0].sha256");
        let e = parse_allow(br#"{"executables":[]}"#).unwrap_err();
        assert_eq!(e.field, "executables");
        let e = parse_mode(br#"{"mode":"enforce"}"#).unwrap_err();
        assert_eq!(e.field, "mode");
        let e = parse_mode(br#"{"mode":"monitor","learning_secs":5}"#).unwrap_err();
        assert_eq!(e.field, "learning_secs");
        let e = parse_mode(br#"{"mode":"monitor","extra":1}"#).unwrap_err();
        assert!(e.to_string().contains("unknown field"), "{e}");
        let m = parse_mode(br#"{"mode":"discover","learning_secs":5}"#).unwrap();
        assert_eq!((m.mode, m.learning_secs), (Mode::Discover, Some(5)));
    }

    #[test]
    fn too_many_executables() {
        let one = Executable {
            path: "/a".into(),
            sha256: H.into(),
            size: Some(1),
            mtime_ns: Some(1),
        };
        let list = vec![one; MAX_EXECUTABLES + 1];
        let e = check_executables("executables", &list).unwrap_err();
        assert_eq!(e.field, "executables");
    }
}
