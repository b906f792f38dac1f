//! Comparing a purl pattern from an ignore file or VEX statement with a
//! package's purl: type, namespace, name (percent-decoded, type lower-cased)
//! must be equal (pypi names compared lower case, `_` as `-`, as the purl
//! spec normalises them); the version must be equal when the pattern has one;
//! qualifiers and subpath are ignored.

struct Parts {
    ty: String,
    path: String,
    version: Option<String>,
}

/// Decodes `%XX` escapes; a malformed escape stays as written.
fn decode(s: &str) -> String {
    percent_encoding::percent_decode_str(s)
        .decode_utf8_lossy()
        .into_owned()
}

fn parts(purl: &str) -> Option<Parts> {
    let rest = purl.trim().strip_prefix("pkg:")?;
    let rest = rest.split(['?', '#']).next().unwrap_or(rest);
    let rest = rest.trim_start_matches('/');
    let (ty, path) = rest.split_once('/')?;
    let last_slash = path.rfind('/').map_or(0, |i| i + 1);
    let tail = path.get(last_slash..).unwrap_or("");
    let (path, version) = match tail.rfind('@') {
        Some(at) => {
            let cut = last_slash + at;
            (
                path.get(..cut).unwrap_or(path),
                path.get(cut + 1..).map(decode),
            )
        }
        None => (path, None),
    };
    let ty = ty.to_ascii_lowercase();
    let mut path = decode(path.trim_end_matches('/'));
    if ty == "pypi" {
        // The purl spec's pypi rule: names are lower case with `_` as `-`.
        path = path.to_lowercase().replace('_', "-");
    }
    Some(Parts { ty, path, version })
}

/// True when `pattern` names the package whose purl is `purl`.
pub fn purl_matches(pattern: &str, purl: &str) -> bool {
    match (parts(pattern), parts(purl)) {
        (Some(p), Some(q)) => {
            p.ty == q.ty
                && p.path == q.path
                && p.version
                    .as_ref()
                    .is_none_or(|v| Some(v) == q.version.as_ref())
        }
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::purl_matches;

    #[test]
    fn versions_optional_qualifiers_ignored() {
        let full = "pkg:deb/debian/openssl@3.0.11-1~deb12u2?arch=amd64&distro=debian-12";
        assert!(purl_matches("pkg:deb/debian/openssl", full));
        assert!(purl_matches(
            "pkg:deb/debian/openssl@3.0.11-1~deb12u2",
            full
        ));
        assert!(!purl_matches("pkg:deb/debian/openssl@3.0.11-1", full));
        assert!(!purl_matches("pkg:deb/debian/openssh", full));
        assert!(purl_matches(
            "pkg:npm/@babel/core@7.0.0",
            "pkg:npm/%40babel/core@7.0.0"
        ));
        assert!(!purl_matches("not a purl", full));
        assert!(purl_matches("pkg:pypi/jinja2", "pkg:PyPI/Jinja2@3.1.2"));
    }
}
