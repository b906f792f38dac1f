//! Package URLs (<https://github.com/package-url/purl-spec>).

use std::fmt;

/// A package URL under construction. `Display` renders the canonical form:
/// lower-cased type, percent-encoded segments, qualifiers sorted by key,
/// empty qualifier values dropped.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Purl {
    ty: String,
    namespace: Option<String>,
    name: String,
    version: Option<String>,
    qualifiers: Vec<(String, String)>,
}

impl Purl {
    pub fn new(ty: &str, name: &str) -> Self {
        Purl {
            ty: ty.to_ascii_lowercase(),
            namespace: None,
            name: name.to_string(),
            version: None,
            qualifiers: Vec::new(),
        }
    }

    pub fn namespace(mut self, ns: &str) -> Self {
        if !ns.is_empty() {
            self.namespace = Some(ns.to_string());
        }
        self
    }

    pub fn version(mut self, v: &str) -> Self {
        if !v.is_empty() {
            self.version = Some(v.to_string());
        }
        self
    }

    /// Adds a qualifier; an empty value is ignored, as the spec requires.
    pub fn qualifier(mut self, key: &str, value: &str) -> Self {
        if !value.is_empty() {
            self.qualifiers
                .push((key.to_ascii_lowercase(), value.to_string()));
        }
        self
    }
}

/// Percent-encodes everything outside the purl-safe set. `/` is encoded in
/// names and versions; namespaces are encoded segment by segment.
fn encode(out: &mut fmt::Formatter<'_>, s: &str) -> fmt::Result {
    for b in s.bytes() {
        let safe = b.is_ascii_alphanumeric() || matches!(b, b'.' | b'-' | b'_' | b'~');
        if safe {
            write!(out, "{}", b as char)?;
        } else {
            write!(out, "%{b:02X}")?;
        }
    }
    Ok(())
}

impl fmt::Display for Purl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "pkg:{}/", self.ty)?;
        if let Some(ns) = &self.namespace {
            for seg in ns.split('/').filter(|s| !s.is_empty()) {
                encode(f, seg)?;
                f.write_str("/")?;
            }
        }
        encode(f, &self.name)?;
        if let Some(v) = &self.version {
            f.write_str("@")?;
            // ':' is allowed unencoded in versions (epochs) by the spec's examples.
            for part in v.split(':').enumerate() {
                if part.0 > 0 {
                    f.write_str("%3A")?;
                }
                encode(f, part.1)?;
            }
        }
        if !self.qualifiers.is_empty() {
            let mut q = self.qualifiers.clone();
            q.sort();
            for (i, (k, v)) in q.iter().enumerate() {
                f.write_str(if i == 0 { "?" } else { "&" })?;
                write!(f, "{k}=")?;
                encode(f, v)?;
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn deb_purl_with_epoch_and_qualifiers() {
        let p = Purl::new("deb", "libc6")
            .namespace("debian")
            .version("1:2.36-9+deb12u4")
            .qualifier("distro", "debian-12")
            .qualifier("arch", "amd64");
        assert_eq!(
            p.to_string(),
            "pkg:deb/debian/libc6@1%3A2.36-9%2Bdeb12u4?arch=amd64&distro=debian-12"
        );
    }

    #[test]
    fn empty_qualifiers_are_dropped_and_scoped_names_encoded() {
        let p = Purl::new("npm", "core")
            .namespace("@angular")
            .version("1.0.0")
            .qualifier("x", "");
        assert_eq!(p.to_string(), "pkg:npm/%40angular/core@1.0.0");
    }
}
