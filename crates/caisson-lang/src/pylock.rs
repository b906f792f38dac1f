//! Python lockfiles: `requirements*.txt` (only `==` pins), `poetry.lock`,
//! `Pipfile.lock` and `uv.lock`.

use caisson_image::Vfs;
use serde::Deserialize;

use crate::common::{self, Collector};
use crate::{python, MAX_LOCK_BYTES, MAX_METADATA_BYTES};

fn is_requirements(path: &str) -> bool {
    let b = common::basename(path);
    b.starts_with("requirements") && b.ends_with(".txt")
}

fn is_lock(path: &str) -> bool {
    matches!(
        common::basename(path),
        "poetry.lock" | "Pipfile.lock" | "uv.lock"
    )
}

pub fn wants(path: &str) -> Option<u64> {
    if is_requirements(path) {
        Some(MAX_METADATA_BYTES)
    } else if is_lock(path) {
        Some(MAX_LOCK_BYTES)
    } else {
        None
    }
}

/// `(name, version)` for each line pinned with `==` to one exact version.
/// Options (`-r`, `-e`, `--hash`), URLs, ranges and wildcards are skipped.
pub fn parse_requirements(text: &str) -> Vec<(String, String)> {
    let mut out = Vec::new();
    let mut logical = String::new();
    for raw in text.lines() {
        let raw = raw.strip_suffix('\r').unwrap_or(raw);
        if let Some(cont) = raw.strip_suffix('\\') {
            logical.push_str(cont);
            logical.push(' ');
            continue;
        }
        logical.push_str(raw);
        let line = std::mem::take(&mut logical);
        if let Some(p) = requirement(&line) {
            out.push(p);
        }
    }
    if let Some(p) = requirement(&logical) {
        out.push(p);
    }
    out
}

fn requirement(line: &str) -> Option<(String, String)> {
    // A comment starts at `#` at the line start or after whitespace.
    let line = match line.find(" #").or_else(|| line.find("\t#")) {
        Some(i) => line.get(..i).unwrap_or(""),
        None => line,
    };
    let line = line.split(';').next().unwrap_or("").trim();
    if line.is_empty() || line.starts_with(['#', '-']) || line.contains('@') {
        return None;
    }
    let end = line
        .find(|c: char| !(c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.')))
        .unwrap_or(line.len());
    let name = line.get(..end)?;
    let mut rest = line.get(end..)?.trim_start();
    if rest.starts_with('[') {
        rest = rest.get(rest.find(']')? + 1..)?.trim_start();
    }
    let spec = rest.strip_prefix("==")?;
    if spec.starts_with('=') {
        return None; // `===` arbitrary equality
    }
    let version = spec.split_whitespace().next()?;
    if name.is_empty() || version.contains([',', '*', '<', '>', '!', '=', '~']) {
        return None;
    }
    Some((name.to_string(), version.to_string()))
}

#[derive(Deserialize)]
struct TomlLock {
    #[serde(default)]
    package: Vec<TomlPackage>,
}

#[derive(Deserialize)]
struct TomlPackage {
    name: String,
    #[serde(default)]
    version: Option<String>,
    #[serde(default)]
    source: Option<toml::Table>,
}

/// `[[package]]` entries of `poetry.lock` or `uv.lock`. uv's entry for the
/// project itself (`source = { virtual | editable = "." }`) is not a dependency.
pub fn parse_toml_lock(text: &str) -> Result<Vec<(String, String)>, String> {
    let lock: TomlLock = toml::from_str(text).map_err(|e| e.to_string())?;
    Ok(lock
        .package
        .into_iter()
        .filter(|p| {
            !p.source
                .as_ref()
                .is_some_and(|s| s.contains_key("virtual") || s.contains_key("editable"))
        })
        .filter_map(|p| Some((p.name, p.version.filter(|v| !v.is_empty())?)))
        .collect())
}

/// `default` entries of a `Pipfile.lock` pinned with `==`. `develop` ones
/// are left out, as syft and trivy do: they are not installed in production.
pub fn parse_pipfile_lock(bytes: &[u8]) -> Result<Vec<(String, String)>, String> {
    let v: serde_json::Value = serde_json::from_slice(bytes).map_err(|e| e.to_string())?;
    let mut out = Vec::new();
    for section in ["default"] {
        let Some(map) = v.get(section).and_then(|s| s.as_object()) else {
            continue;
        };
        for (name, entry) in map {
            let version = entry
                .get("version")
                .and_then(|v| v.as_str())
                .and_then(|v| v.strip_prefix("=="));
            if let Some(version) = version.filter(|v| !v.is_empty()) {
                out.push((name.clone(), version.to_string()));
            }
        }
    }
    Ok(out)
}

pub fn catalog(vfs: &Vfs, c: &mut Collector) {
    for f in common::files(vfs, |p| {
        (is_requirements(p) || is_lock(p)) && !p.contains("/node_modules/")
    }) {
        let base = common::basename(&f.path);
        let parsed = if is_requirements(&f.path) {
            Ok(parse_requirements(&common::text(&f)))
        } else if base == "Pipfile.lock" {
            parse_pipfile_lock(&f.data)
        } else {
            parse_toml_lock(&common::text(&f))
        };
        match parsed {
            Ok(entries) => {
                for (name, version) in entries {
                    c.declared(python::package(&name, &version, &f.path), &f.path);
                }
            }
            Err(e) => c.warn(
                "python-lockfile-malformed",
                format!("{}: {e}; skipped", f.path),
            ),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_exact_pins_from_requirements() {
        let t = "# top\nrequests==2.25.0 \\\n    --hash=sha256:abc\nDjango[argon2] == 3.2 ; python_version>'3'\nsix>=1.0\nflask\n-r other.txt\n-e git+https://x\nfoo===1.0\nbar==1.*\nbaz==1.0,<2\npkg @ https://x/y.whl\nlast==0.1 # c\n";
        assert_eq!(
            parse_requirements(t),
            vec![
                ("requests".into(), "2.25.0".into()),
                ("Django".into(), "3.2".into()),
                ("last".into(), "0.1".into())
            ]
        );
    }

    #[test]
    fn uv_lock_skips_the_project() {
        let t = "version = 1\n[[package]]\nname = \"app\"\nversion = \"0.1.0\"\nsource = { virtual = \".\" }\n[[package]]\nname = \"idna\"\nversion = \"2.10\"\nsource = { registry = \"https://pypi.org/simple\" }\n";
        assert_eq!(
            parse_toml_lock(t).unwrap(),
            vec![("idna".into(), "2.10".into())]
        );
        assert!(parse_toml_lock("[[package]]\nname = 1").is_err());
    }

    #[test]
    fn pipfile_lock_sections() {
        let t = br#"{"default":{"a":{"version":"==1.0"},"b":{"git":"x"}},"develop":{"c":{"version":"==2"}}}"#;
        assert_eq!(
            parse_pipfile_lock(t).unwrap(),
            vec![("a".into(), "1.0".into())]
        );
        assert!(parse_pipfile_lock(b"\xff\0").is_err());
    }
}
