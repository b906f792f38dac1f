//! Parsing package URLs (<https://github.com/package-url/purl-spec>).
//!
//! The parser follows the spec's "How to parse a purl string" steps: subpath
//! after `#`, qualifiers after `?`, the `pkg:` scheme, the type, the version
//! after the last `@`, the name after the last `/`, and namespace segments
//! before it; every component is percent-decoded. It is strict about what the
//! spec makes an error (no scheme or type, no name, bad percent-encoding,
//! invalid type or qualifier key, repeated qualifier keys) and forgiving of
//! what real SBOMs write unencoded in versions (`+`, `:`, as syft writes
//! `1:2.38.1-5+deb12u3`): `+` is never read as a space.

use std::collections::BTreeMap;

/// The components of a package URL, percent-decoded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ParsedPurl {
    /// Lower-cased type: `deb`, `npm`, `maven`.
    pub ty: String,
    /// Namespace segments, decoded: `["@angular"]`, `["github.com", "x"]`.
    pub namespace: Vec<String>,
    pub name: String,
    pub version: Option<String>,
    /// Keys lower-cased; entries with empty values are dropped, as the spec says.
    pub qualifiers: BTreeMap<String, String>,
    /// Segments joined with `/`, without `.`/`..`/empty segments.
    pub subpath: Option<String>,
}

impl ParsedPurl {
    /// The value of qualifier `key` (lower-case).
    pub fn qualifier(&self, key: &str) -> Option<&str> {
        self.qualifiers.get(key).map(String::as_str)
    }

    /// The namespace segments joined with `/`, if any.
    pub fn namespace_path(&self) -> Option<String> {
        (!self.namespace.is_empty()).then(|| self.namespace.join("/"))
    }
}

/// Why a string is not a valid package URL. Each message quotes the input.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PurlError {
    #[error("invalid purl `{purl}`: it must start with the scheme `pkg:`")]
    NoScheme { purl: String },
    #[error("invalid purl `{purl}`: no type after `pkg:`")]
    NoType { purl: String },
    #[error("invalid purl `{purl}`: type `{ty}` may contain only ASCII letters, digits, `.`, `+` and `-`, and must not start with a digit")]
    BadType { purl: String, ty: String },
    #[error("invalid purl `{purl}`: no name")]
    NoName { purl: String },
    #[error("invalid purl `{purl}`: bad percent-encoding in `{part}`")]
    BadEncoding { purl: String, part: String },
    #[error(
        "invalid purl `{purl}`: a namespace segment decodes to `{segment}`, which contains `/`"
    )]
    SlashInSegment { purl: String, segment: String },
    #[error("invalid purl `{purl}`: qualifier key `{key}` may contain only ASCII letters, digits, `.`, `-` and `_`, and must not start with a digit")]
    BadQualifierKey { purl: String, key: String },
    #[error("invalid purl `{purl}`: qualifier `{key}` is given twice")]
    DuplicateQualifier { purl: String, key: String },
    #[error("invalid purl `{purl}`: {rule}")]
    TypeRule { purl: String, rule: &'static str },
}

/// Parses a package URL.
pub fn parse_purl(input: &str) -> Result<ParsedPurl, PurlError> {
    let err_purl = || input.to_string();
    let decode = |part: &str| {
        percent_decode(part).ok_or_else(|| PurlError::BadEncoding {
            purl: err_purl(),
            part: part.to_string(),
        })
    };

    // 1. Subpath after the last '#'.
    let (rest, subpath) = match input.rsplit_once('#') {
        Some((r, s)) => (r, Some(s)),
        None => (input, None),
    };
    let subpath = match subpath {
        Some(s) => {
            let mut segs = Vec::new();
            for seg in s.split('/') {
                if seg.is_empty() || seg == "." || seg == ".." {
                    continue;
                }
                segs.push(decode(seg)?);
            }
            (!segs.is_empty()).then(|| segs.join("/"))
        }
        None => None,
    };

    // 2. Qualifiers after the last '?'.
    let (rest, query) = match rest.rsplit_once('?') {
        Some((r, q)) => (r, Some(q)),
        None => (rest, None),
    };
    let mut qualifiers = BTreeMap::new();
    for pair in query.into_iter().flat_map(|q| q.split('&')) {
        if pair.is_empty() {
            continue;
        }
        let (key, value) = pair.split_once('=').unwrap_or((pair, ""));
        let key = key.to_ascii_lowercase();
        if !valid_qualifier_key(&key) {
            return Err(PurlError::BadQualifierKey {
                purl: err_purl(),
                key,
            });
        }
        let value = decode(value)?;
        if value.is_empty() {
            continue;
        }
        if qualifiers.insert(key.clone(), value).is_some() {
            return Err(PurlError::DuplicateQualifier {
                purl: err_purl(),
                key,
            });
        }
    }

    // 3. Scheme.
    let (scheme, rest) = rest
        .split_once(':')
        .ok_or_else(|| PurlError::NoScheme { purl: err_purl() })?;
    if !scheme.eq_ignore_ascii_case("pkg") {
        return Err(PurlError::NoScheme { purl: err_purl() });
    }

    // 4–5. Type (slashes right after the scheme are not significant).
    let rest = rest.trim_matches('/');
    let (ty, rest) = rest.split_once('/').unwrap_or((rest, ""));
    if ty.is_empty() || ty.contains('@') {
        return Err(PurlError::NoType { purl: err_purl() });
    }
    let ty = ty.to_ascii_lowercase();
    if !valid_type(&ty) {
        return Err(PurlError::BadType {
            purl: err_purl(),
            ty,
        });
    }

    // 6. Version after the last '@'. A version must encode '/', so an '@'
    // followed by a '/' belongs to an unencoded npm scope instead.
    let (rest, version) = match rest.rsplit_once('@') {
        Some((r, v)) if !v.contains('/') => (r, Some(v)),
        _ => (rest, None),
    };
    let version = match version {
        Some(v) => Some(decode(v)?).filter(|v| !v.is_empty()),
        None => None,
    };

    // 7. Name after the last '/', namespace segments before it.
    let (ns, name) = match rest.rsplit_once('/') {
        Some((ns, n)) => (ns, n),
        None => ("", rest),
    };
    let mut name = decode(name)?;
    if name.is_empty() {
        return Err(PurlError::NoName { purl: err_purl() });
    }
    let mut namespace = Vec::new();
    for seg in ns.split('/').filter(|s| !s.is_empty()) {
        let seg = decode(seg)?;
        if seg.contains('/') {
            return Err(PurlError::SlashInSegment {
                purl: err_purl(),
                segment: seg,
            });
        }
        namespace.push(seg);
    }

    // Type-specific rules from the spec's type definitions.
    match ty.as_str() {
        "pypi" => name = name.to_ascii_lowercase().replace('_', "-"),
        "github" | "bitbucket" => {
            name = name.to_ascii_lowercase();
            for s in &mut namespace {
                *s = s.to_ascii_lowercase();
            }
        }
        _ => {}
    }
    let rule = |rule| PurlError::TypeRule {
        purl: err_purl(),
        rule,
    };
    match ty.as_str() {
        "cran" if version.is_none() => return Err(rule("a cran purl needs a version")),
        "swift" if namespace.is_empty() => return Err(rule("a swift purl needs a namespace")),
        "swift" if version.is_none() => return Err(rule("a swift purl needs a version")),
        "conan" if namespace.is_empty() == qualifiers.contains_key("channel") => {
            return Err(rule(
                "a conan purl has a namespace exactly when it has a `channel` qualifier",
            ))
        }
        _ => {}
    }

    Ok(ParsedPurl {
        ty,
        namespace,
        name,
        version,
        qualifiers,
        subpath,
    })
}

fn valid_type(ty: &str) -> bool {
    !ty.starts_with(|c: char| c.is_ascii_digit())
        && ty
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'+' | b'-'))
}

fn valid_qualifier_key(key: &str) -> bool {
    !key.is_empty()
        && !key.starts_with(|c: char| c.is_ascii_digit())
        && key
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'-' | b'_'))
}

/// Decodes `%XX` escapes; `None` for a bad escape (`%` not followed by two
/// hex digits) or bytes that are not UTF-8.
fn percent_decode(s: &str) -> Option<String> {
    // percent-encoding passes a malformed escape through; a purl may not have one.
    let mut rest = s;
    while let Some(at) = rest.find('%') {
        let hex = rest.get(at + 1..at + 3)?;
        if !hex.bytes().all(|b| b.is_ascii_hexdigit()) {
            return None;
        }
        rest = rest.get(at + 3..)?;
    }
    percent_encoding::percent_decode_str(s)
        .decode_utf8()
        .ok()
        .map(std::borrow::Cow::into_owned)
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]
mod tests {
    use super::*;
    use caisson_model::Purl;

    #[test]
    fn syft_deb_purl_with_unencoded_epoch_and_plus() {
        let p = parse_purl(
            "pkg:deb/debian/bsdutils@1:2.38.1-5+deb12u3?arch=amd64&distro=debian-12&upstream=util-linux%402.38.1-5%2Bdeb12u3",
        )
        .unwrap();
        assert_eq!(p.ty, "deb");
        assert_eq!(p.namespace, ["debian"]);
        assert_eq!(p.name, "bsdutils");
        assert_eq!(p.version.as_deref(), Some("1:2.38.1-5+deb12u3"));
        assert_eq!(p.qualifier("upstream"), Some("util-linux@2.38.1-5+deb12u3"));
        assert_eq!(p.qualifier("distro"), Some("debian-12"));
    }

    #[test]
    fn what_caisson_writes_parses_back() {
        let s = Purl::new("deb", "libstdc++6")
            .namespace("debian")
            .version("1:12.2.0-14+deb12u1")
            .qualifier("arch", "amd64")
            .qualifier("upstream", "gcc-12@12.2.0-14")
            .to_string();
        let p = parse_purl(&s).unwrap();
        assert_eq!(p.name, "libstdc++6");
        assert_eq!(p.version.as_deref(), Some("1:12.2.0-14+deb12u1"));
        assert_eq!(p.qualifier("upstream"), Some("gcc-12@12.2.0-14"));
        let go = Purl::new("golang", "y")
            .namespace("github.com/x")
            .version("v1.0.0")
            .to_string();
        assert_eq!(parse_purl(&go).unwrap().namespace, ["github.com", "x"]);
    }

    #[test]
    fn unencoded_npm_scope_without_version() {
        let p = parse_purl("pkg:npm/@angular/core").unwrap();
        assert_eq!(p.namespace, ["@angular"]);
        assert_eq!(p.name, "core");
        assert_eq!(p.version, None);
        let p = parse_purl("pkg:npm/@angular/core@1.0.0").unwrap();
        assert_eq!(p.version.as_deref(), Some("1.0.0"));
    }

    #[test]
    fn errors_name_the_input() {
        let e = parse_purl("pkg:deb/debian/x@1%G0").unwrap_err();
        assert!(e.to_string().contains("pkg:deb/debian/x@1%G0"), "{e}");
        assert!(matches!(e, PurlError::BadEncoding { .. }));
        assert!(matches!(
            parse_purl("pkg:deb/x?arch=a&arch=b"),
            Err(PurlError::DuplicateQualifier { .. })
        ));
        assert!(matches!(
            parse_purl("pkg:1deb/x"),
            Err(PurlError::BadType { .. })
        ));
        assert!(matches!(
            parse_purl("pkg:deb/%2F/x"),
            Err(PurlError::SlashInSegment { .. })
        ));
        assert!(matches!(
            parse_purl("pkg:deb/x@%FF"),
            Err(PurlError::BadEncoding { .. })
        ));
        assert!(matches!(parse_purl(""), Err(PurlError::NoScheme { .. })));
        for bad in [
            "pkg:deb/x@1%",
            "pkg:deb/x@1%4",
            "pkg:deb/x@1%+1",
            "pkg:deb/x@%é1",
        ] {
            let e = parse_purl(bad).unwrap_err();
            assert!(matches!(e, PurlError::BadEncoding { .. }), "{bad}: {e}");
        }
        assert_eq!(
            parse_purl("pkg:deb/x@1%3a2%2B3")
                .unwrap()
                .version
                .as_deref(),
            Some("1:2+3")
        );
        assert!(matches!(parse_purl("pkg:"), Err(PurlError::NoType { .. })));
        assert!(matches!(
            parse_purl("pkg:deb/"),
            Err(PurlError::NoName { .. })
        ));
    }
}
