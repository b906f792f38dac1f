//! Image references: `[host[:port]/]path[:tag][@digest]`, normalised as Docker does
//! (`alpine` → `docker.io/library/alpine:latest`).

use std::fmt;
use std::str::FromStr;

use crate::Digest;

pub const DEFAULT_REGISTRY: &str = "docker.io";
const MAX_NAME_LEN: usize = 255;

#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Reference {
    /// Registry host (with port), e.g. `docker.io`, `localhost:5000`.
    pub registry: String,
    /// Repository path, e.g. `library/alpine`.
    pub repository: String,
    pub tag: Option<String>,
    pub digest: Option<Digest>,
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum ReferenceError {
    #[error("invalid image reference {reference:?}: {reason}")]
    Invalid { reference: String, reason: String },
}

fn invalid(reference: &str, reason: impl Into<String>) -> ReferenceError {
    ReferenceError::Invalid {
        reference: reference.to_string(),
        reason: reason.into(),
    }
}

/// A path component: `[a-z0-9]+(?:(?:[._]|__|[-]+)[a-z0-9]+)*`.
fn valid_component(c: &str) -> bool {
    let b = c.as_bytes();
    if b.is_empty() {
        return false;
    }
    let alnum = |x: u8| x.is_ascii_lowercase() || x.is_ascii_digit();
    let (Some(&first), Some(&last)) = (b.first(), b.last()) else {
        return false;
    };
    if !alnum(first) || !alnum(last) {
        return false;
    }
    let mut i = 0;
    while i < b.len() {
        let x = b.get(i).copied().unwrap_or(0);
        if alnum(x) {
            i += 1;
            continue;
        }
        // separator run
        let start = i;
        while i < b.len() && !alnum(b.get(i).copied().unwrap_or(b'a')) {
            i += 1;
        }
        let sep = c.get(start..i).unwrap_or("");
        let ok = sep == "." || sep == "_" || sep == "__" || sep.bytes().all(|s| s == b'-');
        if !ok {
            return false;
        }
    }
    true
}

fn valid_tag(t: &str) -> bool {
    let b = t.as_bytes();
    !b.is_empty()
        && b.len() <= 128
        && b.first()
            .is_some_and(|c| c.is_ascii_alphanumeric() || *c == b'_')
        && b.iter()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, b'_' | b'.' | b'-'))
}

fn valid_host(h: &str) -> bool {
    !h.is_empty()
        && h.bytes()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, b'.' | b'-' | b':' | b'[' | b']'))
}

impl Reference {
    /// `registry/repository`, the name without tag or digest.
    pub fn name(&self) -> String {
        format!("{}/{}", self.registry, self.repository)
    }

    /// What to ask the registry for: the digest if pinned, else the tag (default `latest`).
    pub fn target(&self) -> String {
        match (&self.digest, &self.tag) {
            (Some(d), _) => d.to_string(),
            (None, Some(t)) => t.clone(),
            (None, None) => "latest".to_string(),
        }
    }

    /// Whether `tag` matches `[a-zA-Z0-9_][a-zA-Z0-9._-]{0,127}`.
    pub fn is_valid_tag(tag: &str) -> bool {
        valid_tag(tag)
    }

    /// Parses a repository name on its own (no host, tag or digest), as the
    /// registry server receives it in URLs.
    pub fn validate_repository(name: &str) -> Result<(), ReferenceError> {
        if name.len() > MAX_NAME_LEN {
            return Err(invalid(
                name,
                format!("longer than {MAX_NAME_LEN} characters"),
            ));
        }
        for c in name.split('/') {
            if !valid_component(c) {
                return Err(invalid(
                    name,
                    format!("path component {c:?} must be lowercase letters and digits separated by '.', '_', '__' or '-'"),
                ));
            }
        }
        Ok(())
    }
}

impl FromStr for Reference {
    type Err = ReferenceError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        if s.is_empty() {
            return Err(invalid(s, "empty"));
        }
        let (rest, digest) = match s.split_once('@') {
            Some((r, d)) => (
                r,
                Some(d.parse::<Digest>().map_err(|e| invalid(s, e.to_string()))?),
            ),
            None => (s, None),
        };
        // A tag is after the last ':' that comes after the last '/'.
        let last_slash = rest.rfind('/').map_or(0, |i| i + 1);
        let (name, tag) = match rest.get(last_slash..).and_then(|t| t.rfind(':')) {
            Some(i) => {
                let at = last_slash + i;
                (
                    rest.get(..at).unwrap_or(""),
                    Some(rest.get(at + 1..).unwrap_or("").to_string()),
                )
            }
            None => (rest, None),
        };
        if let Some(t) = &tag {
            if !valid_tag(t) {
                return Err(invalid(
                    s,
                    format!("tag {t:?} is not valid ([A-Za-z0-9_][A-Za-z0-9_.-]{{0,127}})"),
                ));
            }
        }
        let (registry, repository) = match name.split_once('/') {
            Some((first, path))
                if first.contains('.') || first.contains(':') || first == "localhost" =>
            {
                if !valid_host(first) {
                    return Err(invalid(s, format!("registry host {first:?} is not valid")));
                }
                (first.to_string(), path.to_string())
            }
            _ => (DEFAULT_REGISTRY.to_string(), name.to_string()),
        };
        let repository = if registry == DEFAULT_REGISTRY && !repository.contains('/') {
            format!("library/{repository}")
        } else {
            repository
        };
        Reference::validate_repository(&repository).map_err(|e| match e {
            ReferenceError::Invalid { reason, .. } => invalid(s, reason),
        })?;
        Ok(Reference {
            registry,
            repository,
            tag,
            digest,
        })
    }
}

impl fmt::Display for Reference {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.registry, self.repository)?;
        if let Some(t) = &self.tag {
            write!(f, ":{t}")?;
        }
        if let Some(d) = &self.digest {
            write!(f, "@{d}")?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn docker_normalisation() {
        let r: Reference = "alpine".parse().expect("valid");
        assert_eq!(r.to_string(), "docker.io/library/alpine");
        assert_eq!(r.target(), "latest");
        let r: Reference = "localhost:5000/team/app:v1.2".parse().expect("valid");
        assert_eq!(r.registry, "localhost:5000");
        assert_eq!(r.repository, "team/app");
        assert_eq!(r.tag.as_deref(), Some("v1.2"));
        let d = "sha256:2cf24dba5fb0a30e26e83b2ac5b9e29e1b161e5c1fa7425e73043362938b9824";
        let r: Reference = format!("ghcr.io/o/r:t@{d}").parse().expect("valid");
        assert_eq!(r.target(), d);
    }

    #[test]
    fn rejects_bad_names() {
        for bad in [
            "",
            "UPPER/case",
            "a/../b",
            "a//b",
            "-a",
            "a:",
            "x/y:bad tag",
            "a@sha256:00",
        ] {
            assert!(
                bad.parse::<Reference>().is_err(),
                "{bad} should be rejected"
            );
        }
        let long = format!("h.io/{}", "a".repeat(300));
        assert!(long.parse::<Reference>().is_err());
    }
}
