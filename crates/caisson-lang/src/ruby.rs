//! Ruby: installed `specifications/[default/]*.gemspec` files (read as text:
//! literal `name`/`version`/`licenses` assignments and the `# stub:` line; the
//! Ruby is never evaluated) and `Gemfile.lock`.

use caisson_image::Vfs;
use caisson_model::{Package, PackageType, Purl};

use crate::common::{self, Collector};
use crate::{MAX_LOCK_BYTES, MAX_METADATA_BYTES};

fn is_gemspec(path: &str) -> bool {
    path.ends_with(".gemspec") && {
        let dir = common::parent(path);
        dir.ends_with("/specifications") || dir.ends_with("/specifications/default")
    }
}

fn is_lock(path: &str) -> bool {
    common::basename(path) == "Gemfile.lock"
}

pub fn wants(path: &str) -> Option<u64> {
    if is_gemspec(path) {
        Some(MAX_METADATA_BYTES)
    } else if is_lock(path) {
        Some(MAX_LOCK_BYTES)
    } else {
        None
    }
}

pub fn package(name: &str, version: &str, location: &str) -> Package {
    let purl = Purl::new("gem", name).version(version).to_string();
    Package::found(PackageType::Gem, name, version, purl, location)
}

/// The first string literal of `expr`: `"x"`, `'x'`, `%q{x}`, optionally
/// `.freeze`d or wrapped in `Gem::Version.new(…)`.
fn literal(expr: &str) -> Option<&str> {
    let expr = expr.trim();
    let expr = expr.strip_prefix("Gem::Version.new(").unwrap_or(expr);
    let (close, rest) = if let Some(r) = expr.strip_prefix('"') {
        ('"', r)
    } else if let Some(r) = expr.strip_prefix('\'') {
        ('\'', r)
    } else if let Some(r) = expr.strip_prefix("%q{") {
        ('}', r)
    } else {
        return None;
    };
    let end = rest.find(close)?;
    rest.get(..end).filter(|s| !s.contains(['\\', '#']))
}

/// Every string literal in `expr` (for `licenses = ["MIT".freeze, "Ruby"]`).
fn literals(expr: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut rest = expr;
    while let Some(i) = rest.find(['"', '\'']) {
        let Some(tail) = rest.get(i..) else { break };
        let Some(l) = literal(tail) else { break };
        out.push(l.to_string());
        rest = tail.get(l.len() + 2..).unwrap_or("");
        if out.len() >= 16 {
            break;
        }
    }
    out
}

/// Name, version and licenses of an installed gemspec.
pub fn parse_gemspec(text: &str) -> Option<(String, String, Vec<String>)> {
    let (mut name, mut version, mut licenses) = (None, None, Vec::new());
    let mut stub = None;
    for line in text.lines() {
        let t = line.trim();
        if let Some(s) = t.strip_prefix("# stub: ") {
            let mut w = s.split_whitespace();
            if let (Some(n), Some(v)) = (w.next(), w.next()) {
                stub = Some((n.to_string(), v.to_string()));
            }
            continue;
        }
        let Some((lhs, rhs)) = t.split_once('=') else {
            continue;
        };
        let lhs = lhs.trim();
        let attr = lhs.rsplit('.').next().unwrap_or("");
        if !lhs.contains('.') || rhs.starts_with(['=', '~']) {
            continue;
        }
        match attr {
            "name" if name.is_none() => name = literal(rhs).map(str::to_string),
            "version" if version.is_none() => version = literal(rhs).map(str::to_string),
            "licenses" | "license" if licenses.is_empty() => licenses = literals(rhs),
            _ => {}
        }
    }
    match (name, version, stub) {
        (Some(n), Some(v), _) if !n.is_empty() && !v.is_empty() => Some((n, v, licenses)),
        (_, _, Some((n, v))) => Some((n, v, licenses)),
        _ => None,
    }
}

/// `(name, version)` of every `specs:` entry of the GEM, GIT and PATH sections.
pub fn parse_gemfile_lock(text: &str) -> Vec<(String, String)> {
    let mut out = Vec::new();
    let mut in_specs = false;
    let mut section = "";
    for line in text.lines() {
        let line = line.strip_suffix('\r').unwrap_or(line);
        if !line.starts_with(' ') {
            section = line.trim();
            in_specs = false;
            continue;
        }
        if line == "  specs:" {
            in_specs = matches!(section, "GEM" | "GIT" | "PATH");
            continue;
        }
        let Some(spec) = line.strip_prefix("    ") else {
            continue;
        };
        if !in_specs || spec.starts_with(' ') {
            continue; // a dependency of the spec above
        }
        let Some((name, rest)) = spec.split_once(" (") else {
            continue;
        };
        let Some(version) = rest.strip_suffix(')') else {
            continue;
        };
        if !name.is_empty() && !version.is_empty() && !version.contains([' ', ',']) {
            out.push((name.to_string(), version.to_string()));
        }
    }
    out
}

pub fn catalog(vfs: &Vfs, c: &mut Collector) {
    for f in common::files(vfs, is_gemspec) {
        match parse_gemspec(&common::text(&f)) {
            Some((name, version, licenses)) => {
                let mut p = package(&name, &version, &f.path);
                p.licenses = licenses;
                c.installed(p, common::parent(&f.path));
            }
            None => c.warn(
                "gemspec-malformed",
                format!("{}: no literal name and version; skipped", f.path),
            ),
        }
    }
    for f in common::files(vfs, is_lock) {
        for (name, version) in parse_gemfile_lock(&common::text(&f)) {
            c.declared(package(&name, &version, &f.path), &f.path);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn gemspec_literals_not_code() {
        let t = "# -*- encoding: utf-8 -*-\n# stub: rack 2.2.6.4 ruby lib\n\nGem::Specification.new do |s|\n  s.name = \"rack\".freeze\n  s.version = \"2.2.6.4\"\n  s.required_rubygems_version = Gem::Requirement.new(\">= 0\".freeze) if s.respond_to? :required_rubygems_version=\n  s.licenses = [\"MIT\".freeze, 'Ruby']\n  s.rubygems_version = \"3.3.15\".freeze\nend\n";
        assert_eq!(
            parse_gemspec(t),
            Some((
                "rack".into(),
                "2.2.6.4".into(),
                vec!["MIT".into(), "Ruby".into()]
            ))
        );
        // Interpolation and computed values are not evaluated; the stub line is the fallback.
        let t = "# stub: x 1.0 ruby lib\ns.name = \"#{`rm -rf /`}\"\ns.version = File.read('V')\n";
        assert_eq!(parse_gemspec(t), Some(("x".into(), "1.0".into(), vec![])));
        assert_eq!(parse_gemspec("s.name = 'a'\n"), None);
        assert_eq!(
            parse_gemspec("spec.name = %q{b}\nspec.version = Gem::Version.new(\"2\")"),
            Some(("b".into(), "2".into(), vec![]))
        );
    }

    #[test]
    fn gemfile_lock_specs_only() {
        let t = "GIT\n  remote: https://x\n  specs:\n    g (0.1)\n\nGEM\n  remote: https://rubygems.org/\n  specs:\n    nokogiri (1.10.10-x86_64-linux)\n      mini_portile2 (~> 2.4.0)\n    crass (1.0.6)\n\nPLATFORMS\n  ruby\n\nDEPENDENCIES\n  nokogiri (= 1.10.10)\n\nBUNDLED WITH\n   2.4.10\n";
        assert_eq!(
            parse_gemfile_lock(t),
            vec![
                ("g".into(), "0.1".into()),
                ("nokogiri".into(), "1.10.10-x86_64-linux".into()),
                ("crass".into(), "1.0.6".into())
            ]
        );
    }
}
