//! Where the database lives, and the feeds it is built from.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::{DbError, Format};

/// Environment variable overriding the database directory.
pub const DB_ENV_VAR: &str = "CAISSON_DB";

/// One feed: a name (unique, used in reports and in the `sources` table), an
/// HTTPS URL (or, for [`crate::import_paths`], a local path), its format, and
/// optionally the expected SHA-256 of the downloaded bytes.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Source {
    pub name: String,
    pub url: String,
    pub format: Format,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sha256: Option<String>,
}

impl Source {
    pub fn new(name: impl Into<String>, url: impl Into<String>, format: Format) -> Source {
        Source {
            name: name.into(),
            url: url.into(),
            format,
            sha256: None,
        }
    }
}

/// OSV ecosystems fetched by default from the osv.dev bucket.
const OSV_ECOSYSTEMS: &[&str] = &[
    "PyPI",
    "npm",
    "Go",
    "crates.io",
    "Maven",
    "RubyGems",
    "NuGet",
    "Packagist",
    "Pub",
    "Hex",
    "Debian",
    "Alpine",
    "Ubuntu",
];

/// Alpine releases whose secdb is fetched by default.
const ALPINE_RELEASES: &[&str] = &[
    "v3.12", "v3.13", "v3.14", "v3.15", "v3.16", "v3.17", "v3.18", "v3.19", "v3.20", "v3.21",
    "v3.22", "edge",
];

/// The default feed list:
/// * `osv-<Ecosystem>`: `https://osv-vulnerabilities.storage.googleapis.com/<Ecosystem>/all.zip`
///   for PyPI, npm, Go, crates.io, Maven, RubyGems, NuGet, Packagist, Pub,
///   Hex, Debian, Alpine and Ubuntu;
/// * `alpine-secdb-<release>-<repo>`: `https://secdb.alpinelinux.org/<release>/{main,community}.json`
///   for v3.12 … v3.22 and edge;
/// * `debian-tracker`: `https://security-tracker.debian.org/tracker/data/json`;
/// * `redhat-csaf-vex`: `https://security.access.redhat.com/data/csaf/v2/vex/archive_latest.txt`,
///   which names the current `csaf_vex_<date>.tar.zst` archive.
///
/// Debian and Alpine are covered twice (OSV's converted records and the
/// distributions' own feeds): records keep their own ids, and the alias
/// table ties `DEBIAN-CVE-…` / `ALPINE-CVE-…` to the CVE.
pub fn default_sources() -> Vec<Source> {
    let mut out: Vec<Source> = OSV_ECOSYSTEMS
        .iter()
        .map(|e| {
            Source::new(
                format!("osv-{e}"),
                format!("https://osv-vulnerabilities.storage.googleapis.com/{e}/all.zip"),
                Format::OsvZip,
            )
        })
        .collect();
    for rel in ALPINE_RELEASES {
        for repo in ["main", "community"] {
            out.push(Source::new(
                format!("alpine-secdb-{rel}-{repo}"),
                format!("https://secdb.alpinelinux.org/{rel}/{repo}.json"),
                Format::AlpineSecdb,
            ));
        }
    }
    out.push(Source::new(
        "debian-tracker",
        "https://security-tracker.debian.org/tracker/data/json",
        Format::DebianTracker,
    ));
    out.push(Source::new(
        "redhat-csaf-vex",
        "https://security.access.redhat.com/data/csaf/v2/vex/archive_latest.txt",
        Format::CsafVexLatest,
    ));
    out
}

/// The default database directory: `$CAISSON_DB` when set and non-empty,
/// else `<user cache dir>/caisson/db` (`$XDG_CACHE_HOME` or `~/.cache` on
/// Linux, `~/Library/Caches` on macOS, `%LOCALAPPDATA%` on Windows).
pub fn default_db_dir() -> Result<PathBuf, DbError> {
    resolve_db_dir(None)
}

/// The database directory with the documented precedence: the `--db` flag
/// (`flag`), then `$CAISSON_DB`, then the user cache directory.
pub fn resolve_db_dir(flag: Option<&Path>) -> Result<PathBuf, DbError> {
    resolve_with(flag, |k| std::env::var_os(k))
}

pub(crate) fn resolve_with(
    flag: Option<&Path>,
    env: impl Fn(&str) -> Option<std::ffi::OsString>,
) -> Result<PathBuf, DbError> {
    if let Some(f) = flag {
        return Ok(f.to_path_buf());
    }
    let non_empty = |k: &str| env(k).filter(|v| !v.is_empty()).map(PathBuf::from);
    if let Some(p) = non_empty(DB_ENV_VAR) {
        return Ok(p);
    }
    let cache = if cfg!(target_os = "macos") {
        non_empty("HOME").map(|h| h.join("Library").join("Caches"))
    } else if cfg!(windows) {
        non_empty("LOCALAPPDATA")
    } else {
        non_empty("XDG_CACHE_HOME")
            .filter(|p| p.is_absolute())
            .or_else(|| non_empty("HOME").map(|h| h.join(".cache")))
    };
    cache
        .map(|c| c.join("caisson").join("db"))
        .ok_or(DbError::NoCacheDir)
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use std::ffi::OsString;

    #[test]
    fn precedence_flag_env_default() {
        let env = |k: &str| match k {
            "CAISSON_DB" => Some(OsString::from("/env/db")),
            "HOME" => Some(OsString::from("/home/u")),
            _ => None,
        };
        assert_eq!(
            resolve_with(Some(Path::new("/flag")), env).unwrap(),
            PathBuf::from("/flag")
        );
        assert_eq!(resolve_with(None, env).unwrap(), PathBuf::from("/env/db"));
        let no_env = |k: &str| (k == "HOME").then(|| OsString::from("/home/u"));
        if cfg!(target_os = "linux") {
            assert_eq!(
                resolve_with(None, no_env).unwrap(),
                PathBuf::from("/home/u/.cache/caisson/db")
            );
            let xdg = |k: &str| match k {
                "XDG_CACHE_HOME" => Some(OsString::from("/xdg")),
                "HOME" => Some(OsString::from("/home/u")),
                _ => None,
            };
            assert_eq!(
                resolve_with(None, xdg).unwrap(),
                PathBuf::from("/xdg/caisson/db")
            );
        }
        assert!(matches!(
            resolve_with(None, |_| None),
            Err(DbError::NoCacheDir)
        ));
    }

    #[test]
    fn default_sources_are_unique_https() {
        let s = default_sources();
        let mut names: Vec<_> = s.iter().map(|x| x.name.clone()).collect();
        names.sort();
        names.dedup();
        assert_eq!(names.len(), s.len());
        assert!(s.iter().all(|x| x.url.starts_with("https://")));
    }
}
