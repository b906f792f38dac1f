//! Pure parsing of `/v2/…` paths, repository names, tags and range headers.
//! Repository names contain `/`, so the path is split from the end.

use caisson_oci::Digest;

/// Longest repository name accepted (the spec bounds host + name at 255).
pub const MAX_NAME_LEN: usize = 255;

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Reference {
    Tag(String),
    Digest(Digest),
}

impl std::fmt::Display for Reference {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Reference::Tag(t) => f.write_str(t),
            Reference::Digest(d) => write!(f, "{d}"),
        }
    }
}

/// One endpoint of the distribution API, with its raw (unvalidated) parts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Route {
    Ping,
    Catalog,
    Tags { name: String },
    Manifest { name: String, reference: String },
    Blob { name: String, digest: String },
    UploadStart { name: String },
    Upload { name: String, id: String },
    Referrers { name: String, digest: String },
}

impl Route {
    pub fn name(&self) -> Option<&str> {
        match self {
            Route::Ping | Route::Catalog => None,
            Route::Tags { name }
            | Route::Manifest { name, .. }
            | Route::Blob { name, .. }
            | Route::UploadStart { name }
            | Route::Upload { name, .. }
            | Route::Referrers { name, .. } => Some(name),
        }
    }
}

/// Splits a request path (without query) into a [`Route`]; `None` when it is
/// not a distribution endpoint.
pub fn parse_v2_path(path: &str) -> Option<Route> {
    let rest = path.strip_prefix("/v2")?;
    if rest.is_empty() || rest == "/" {
        return Some(Route::Ping);
    }
    let rest = rest.strip_prefix('/')?;
    if rest == "_catalog" {
        return Some(Route::Catalog);
    }
    if let Some(name) = rest.strip_suffix("/tags/list") {
        return Some(Route::Tags { name: name.into() });
    }
    if let Some(name) = rest
        .strip_suffix("/blobs/uploads/")
        .or_else(|| rest.strip_suffix("/blobs/uploads"))
    {
        return Some(Route::UploadStart { name: name.into() });
    }
    let (head, last) = rest.rsplit_once('/')?;
    let (before, kind) = head.rsplit_once('/')?;
    if last.is_empty() || before.is_empty() {
        return None;
    }
    match kind {
        "manifests" => Some(Route::Manifest {
            name: before.into(),
            reference: last.into(),
        }),
        "blobs" => Some(Route::Blob {
            name: before.into(),
            digest: last.into(),
        }),
        "referrers" => Some(Route::Referrers {
            name: before.into(),
            digest: last.into(),
        }),
        "uploads" => {
            let name = before.strip_suffix("/blobs")?;
            if name.is_empty() {
                return None;
            }
            Some(Route::Upload {
                name: name.into(),
                id: last.into(),
            })
        }
        _ => None,
    }
}

/// Checks a repository name: the grammar and length limit are caisson-oci's
/// ([`caisson_oci::Reference::validate_repository`], the one implementation);
/// the registry adds an explicit refusal of empty names, `.`/`..` components
/// and uppercase, with messages that say which.
pub fn validate_name(name: &str) -> Result<(), String> {
    if name.is_empty() {
        return Err("repository name is empty".into());
    }
    if name.len() > MAX_NAME_LEN {
        return Err(format!(
            "repository name is {} characters, over the {MAX_NAME_LEN}-character limit",
            name.len()
        ));
    }
    for comp in name.split('/') {
        if comp == ".." || comp == "." {
            return Err(format!(
                "repository name {name:?} contains a {comp:?} component"
            ));
        }
        if comp.bytes().any(|b| b.is_ascii_uppercase()) {
            return Err(format!(
                "repository name {name:?} contains uppercase letters (names are lowercase)"
            ));
        }
    }
    caisson_oci::Reference::validate_repository(name).map_err(|e| e.to_string())
}

/// `[a-zA-Z0-9_][a-zA-Z0-9._-]{0,127}` (caisson-oci's tag grammar).
pub fn valid_tag(tag: &str) -> bool {
    caisson_oci::Reference::is_valid_tag(tag)
}

/// A manifest reference: a digest when it contains `:`, else a tag.
pub fn parse_reference(s: &str) -> Result<Reference, String> {
    if s.contains(':') {
        s.parse::<Digest>()
            .map(Reference::Digest)
            .map_err(|e| e.to_string())
    } else if valid_tag(s) {
        Ok(Reference::Tag(s.to_string()))
    } else {
        Err(format!("invalid tag {s:?}"))
    }
}

/// The namespace of a repository: the part before the first `/` (defined
/// beside the store's per-namespace tables, which the scanning service reads
/// too).
pub use caisson_registry_store::namespace_of;

/// Parses `Range: bytes=a-b` / `bytes=a-` / `bytes=-n` against a blob of
/// `size` bytes into an inclusive range; `Err(())` when unsatisfiable.
#[allow(clippy::result_unit_err)]
pub fn parse_range(header: &str, size: u64) -> Result<(u64, u64), ()> {
    let spec = header.trim().strip_prefix("bytes=").ok_or(())?;
    if spec.contains(',') {
        return Err(());
    }
    let (a, b) = spec.split_once('-').ok_or(())?;
    let (a, b) = (a.trim(), b.trim());
    let (start, end) = if a.is_empty() {
        let n: u64 = b.parse().map_err(|_| ())?;
        if n == 0 {
            return Err(());
        }
        (size.saturating_sub(n), size.checked_sub(1).ok_or(())?)
    } else {
        let start: u64 = a.parse().map_err(|_| ())?;
        let end = if b.is_empty() {
            size.checked_sub(1).ok_or(())?
        } else {
            b.parse::<u64>()
                .map_err(|_| ())?
                .min(size.checked_sub(1).ok_or(())?)
        };
        (start, end)
    };
    if start > end || start >= size {
        return Err(());
    }
    Ok((start, end))
}

/// Parses a chunk's `Content-Range: <start>-<end>` (with or without `bytes `).
pub fn parse_content_range(header: &str) -> Option<(u64, u64)> {
    let s = header.trim();
    let s = s.strip_prefix("bytes ").unwrap_or(s);
    let s = s.split('/').next().unwrap_or(s);
    let (a, b) = s.split_once('-')?;
    let start = a.trim().parse().ok()?;
    let end = b.trim().parse().ok()?;
    (start <= end).then_some((start, end))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_split_from_the_end() {
        assert_eq!(parse_v2_path("/v2/"), Some(Route::Ping));
        assert_eq!(parse_v2_path("/v2"), Some(Route::Ping));
        assert_eq!(
            parse_v2_path("/v2/a/blobs/manifests/latest"),
            Some(Route::Manifest {
                name: "a/blobs".into(),
                reference: "latest".into()
            })
        );
        assert_eq!(
            parse_v2_path("/v2/team/app/blobs/uploads/"),
            Some(Route::UploadStart {
                name: "team/app".into()
            })
        );
        assert_eq!(
            parse_v2_path("/v2/team/app/blobs/uploads/abc"),
            Some(Route::Upload {
                name: "team/app".into(),
                id: "abc".into()
            })
        );
        assert_eq!(
            parse_v2_path("/v2/x/tags/list"),
            Some(Route::Tags { name: "x".into() })
        );
        assert_eq!(parse_v2_path("/v2/x/other/y"), None);
        assert_eq!(parse_v2_path("/v2//manifests/y"), None);
    }

    #[test]
    fn names_follow_the_spec_grammar() {
        for ok in ["a", "library/debian", "a.b_c__d---e/f0", "x/y/z"] {
            assert!(validate_name(ok).is_ok(), "{ok}");
        }
        for bad in [
            "", "A", "a/../b", "a//b", "a_", "-a", "a___b", "a/./b", "a..b",
        ] {
            assert!(validate_name(bad).is_err(), "{bad}");
        }
        assert!(validate_name(&"a".repeat(256)).is_err());
        assert!(validate_name("a/..")
            .expect_err("dotdot")
            .contains("\"..\""));
    }

    #[test]
    fn ranges() {
        assert_eq!(parse_range("bytes=0-9", 100), Ok((0, 9)));
        assert_eq!(parse_range("bytes=90-", 100), Ok((90, 99)));
        assert_eq!(parse_range("bytes=-10", 100), Ok((90, 99)));
        assert_eq!(parse_range("bytes=95-200", 100), Ok((95, 99)));
        assert_eq!(parse_range("bytes=100-", 100), Err(()));
        assert_eq!(parse_range("bytes=5-1", 100), Err(()));
        assert_eq!(parse_content_range("0-99"), Some((0, 99)));
        assert_eq!(parse_content_range("bytes 10-19/*"), Some((10, 19)));
        assert_eq!(parse_content_range("9-1"), None);
    }

    #[test]
    fn tags() {
        assert!(valid_tag("v1.0_rc-1"));
        assert!(!valid_tag(".hidden"));
        assert!(!valid_tag(&"a".repeat(129)));
    }
}
