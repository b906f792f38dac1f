//! Go: module build info embedded in binaries, and `go.mod` files.

pub mod buildinfo;

use caisson_model::{Package, PackageType, Purl};

use crate::Found;

/// One module named in a binary's build info or a `go.mod`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Module {
    pub path: String,
    pub version: String,
    /// `h1:` checksum, when recorded.
    pub sum: Option<String>,
}

/// What `runtime/debug.BuildInfo` holds, parsed from the module info text.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ModInfo {
    /// The main package's import path (`path` line).
    pub path: Option<String>,
    /// The main module (`mod` line).
    pub main: Option<Module>,
    /// Dependencies after `=>` replacements.
    pub deps: Vec<Module>,
    /// `build` settings (`-compiler=gc`, `vcs.revision=…`).
    pub settings: Vec<(String, String)>,
}

fn module(fields: &[&str]) -> Option<Module> {
    let path = fields.first()?.trim();
    if path.is_empty() {
        return None;
    }
    Some(Module {
        path: path.to_string(),
        version: fields.get(1).map(|v| v.trim()).unwrap_or("").to_string(),
        sum: fields
            .get(2)
            .map(|s| s.trim().to_string())
            .filter(|s| !s.is_empty()),
    })
}

/// Parses module info text (tab-separated lines `path`, `mod`, `dep`, `=>`, `build`).
/// A `=>` line replaces the module on the line before it; a replacement by a
/// local directory (no version) is ignored, keeping the original path and
/// version, since a directory has no version to match advisories with.
pub fn parse_modinfo(text: &str) -> ModInfo {
    let mut m = ModInfo::default();
    // Which module a `=>` line replaces: the main module or the last dep.
    let mut last_is_main = false;
    for line in text.lines() {
        let mut parts = line.split('\t');
        let Some(kind) = parts.next() else { continue };
        let fields: Vec<&str> = parts.collect();
        match kind {
            "path" => m.path = fields.first().map(|s| s.to_string()),
            "mod" => {
                m.main = module(&fields);
                last_is_main = true;
            }
            "dep" => {
                if let Some(d) = module(&fields) {
                    m.deps.push(d);
                }
                last_is_main = false;
            }
            "=>" => {
                let Some(r) = module(&fields) else { continue };
                if r.version.is_empty() {
                    continue;
                }
                let target = if last_is_main {
                    m.main.as_mut()
                } else {
                    m.deps.last_mut()
                };
                if let Some(t) = target {
                    *t = r;
                }
            }
            "build" => {
                if let Some((k, v)) = fields.first().and_then(|s| s.split_once('=')) {
                    m.settings.push((k.to_string(), v.to_string()));
                }
            }
            _ => {}
        }
    }
    m
}

/// `go1.21.5` (or `go1.21.5 X:boringcrypto`) → `1.21.5`; `None` for devel builds.
pub fn stdlib_version(go_version: &str) -> Option<String> {
    let v = go_version.split_whitespace().next()?.strip_prefix("go")?;
    (v.starts_with(|c: char| c.is_ascii_digit())).then(|| v.to_string())
}

fn purl(path: &str, version: &str) -> String {
    // The module path is the purl namespace plus name: pkg:golang/github.com/x/y@v1.
    let (ns, name) = match path.rsplit_once('/') {
        Some((ns, name)) => (ns, name),
        None => ("", path),
    };
    Purl::new("golang", name)
        .namespace(ns)
        .version(version)
        .to_string()
}

fn go_package(path: &str, version: &str, location: &str) -> Package {
    Package::found(
        PackageType::Golang,
        path,
        version,
        purl(path, version),
        location,
    )
}

/// Packages of one Go binary: its modules and the toolchain as `stdlib`.
pub fn binary_packages(go_version: &str, modinfo: &str, location: &str, found: &mut Found) {
    let info = parse_modinfo(modinfo);
    if let Some(main) = &info.main {
        // `(devel)` is what `go build` in a module checkout records; it names
        // no release, but the module is still part of the image.
        found
            .packages
            .push(go_package(&main.path, &main.version, location));
    }
    for d in &info.deps {
        found
            .packages
            .push(go_package(&d.path, &d.version, location));
    }
    if let Some(v) = stdlib_version(go_version) {
        found.packages.push(go_package("stdlib", &v, location));
    }
}

/// Parses `require` directives (single and block form) and `replace`
/// directives that give a module version.
pub fn parse_go_mod(text: &str) -> Vec<Module> {
    let mut req: Vec<Module> = Vec::new();
    let mut repl: Vec<(String, Option<String>, Module)> = Vec::new();
    let mut block: Option<&str> = None;
    for raw in text.lines() {
        let line = raw.split("//").next().unwrap_or("").trim();
        if line.is_empty() {
            continue;
        }
        if let Some(b) = block {
            if line == ")" {
                block = None;
                continue;
            }
            directive(b, line, &mut req, &mut repl);
            continue;
        }
        let (verb, rest) = line.split_once(char::is_whitespace).unwrap_or((line, ""));
        let rest = rest.trim();
        if rest == "(" && matches!(verb, "require" | "replace") {
            block = Some(if verb == "require" {
                "require"
            } else {
                "replace"
            });
            continue;
        }
        directive(verb, rest, &mut req, &mut repl);
    }
    for (from, from_ver, to) in repl {
        for r in req.iter_mut() {
            if r.path == from && from_ver.as_ref().is_none_or(|v| *v == r.version) {
                *r = to.clone();
            }
        }
    }
    req
}

fn unquote(s: &str) -> &str {
    s.trim_matches('"')
}

fn directive(
    verb: &str,
    rest: &str,
    req: &mut Vec<Module>,
    repl: &mut Vec<(String, Option<String>, Module)>,
) {
    let words: Vec<&str> = rest.split_whitespace().map(unquote).collect();
    match verb {
        "require" => {
            if let [path, version, ..] = words.as_slice() {
                req.push(Module {
                    path: path.to_string(),
                    version: version.to_string(),
                    sum: None,
                });
            }
        }
        "replace" => {
            let Some(arrow) = words.iter().position(|w| *w == "=>") else {
                return;
            };
            let (left, right) = words.split_at(arrow);
            let right = right.get(1..).unwrap_or_default();
            if let ([from, from_ver @ ..], [to, to_ver]) = (left, right) {
                repl.push((
                    from.to_string(),
                    from_ver.first().map(|v| v.to_string()),
                    Module {
                        path: to.to_string(),
                        version: to_ver.to_string(),
                        sum: None,
                    },
                ));
            }
        }
        _ => {}
    }
}

/// Packages required by one `go.mod`.
pub fn go_mod_packages(text: &str, location: &str, found: &mut Found) {
    for m in parse_go_mod(text) {
        found
            .packages
            .push(go_package(&m.path, &m.version, location));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn modinfo_with_replacements() {
        let text = "path\tgithub.com/containers/skopeo/cmd/skopeo\n\
            mod\tgithub.com/containers/skopeo\t(devel)\t\n\
            dep\tgithub.com/a/b\tv1.0.0\th1:x=\n\
            =>\tgithub.com/fork/b\tv1.0.1\th1:y=\n\
            dep\tgithub.com/c/d\tv0.2.0\th1:z=\n\
            =>\t../local/d\t\n\
            build\t-compiler=gc\n\
            build\tvcs.revision=abc\n";
        let m = parse_modinfo(text);
        assert_eq!(
            m.path.as_deref(),
            Some("github.com/containers/skopeo/cmd/skopeo")
        );
        assert_eq!(m.main.as_ref().unwrap().version, "(devel)");
        let deps: Vec<_> = m
            .deps
            .iter()
            .map(|d| (d.path.as_str(), d.version.as_str()))
            .collect();
        assert_eq!(
            deps,
            [
                ("github.com/fork/b", "v1.0.1"),
                ("github.com/c/d", "v0.2.0")
            ]
        );
        assert_eq!(m.settings.len(), 2);
    }

    #[test]
    fn stdlib_and_purls() {
        assert_eq!(stdlib_version("go1.21.5").as_deref(), Some("1.21.5"));
        assert_eq!(
            stdlib_version("go1.22.0 X:boringcrypto").as_deref(),
            Some("1.22.0")
        );
        assert_eq!(stdlib_version("devel go1.23-abc"), None);
        assert_eq!(
            purl("github.com/a/b", "v1.0.0"),
            "pkg:golang/github.com/a/b@v1.0.0"
        );
        assert_eq!(purl("stdlib", "1.21.5"), "pkg:golang/stdlib@1.21.5");
    }

    #[test]
    fn go_mod_requires_and_replaces() {
        let text = "module example.com/m\n\ngo 1.21\n\nrequire (\n\tgolang.org/x/sys v0.1.0 // indirect\n\tgithub.com/a/b v1.2.3\n)\nrequire github.com/c/d v0.0.1\nreplace github.com/a/b => github.com/fork/b v1.2.4\nreplace github.com/c/d v0.0.9 => github.com/x/d v0.0.2\n";
        let mods: Vec<_> = parse_go_mod(text)
            .into_iter()
            .map(|m| (m.path, m.version))
            .collect();
        assert_eq!(
            mods,
            [
                ("golang.org/x/sys".to_string(), "v0.1.0".to_string()),
                ("github.com/fork/b".to_string(), "v1.2.4".to_string()),
                ("github.com/c/d".to_string(), "v0.0.1".to_string()),
            ]
        );
    }
}
