//! `yarn.lock`: yarn 1's own format (parsed line by line) and yarn berry's
//! (2+) YAML with `__metadata`.

use caisson_image::Vfs;
use serde_norway::Value;

use crate::common::{self, Collector};
use crate::{npm, MAX_LOCK_BYTES};

fn is_lock(path: &str) -> bool {
    common::basename(path) == "yarn.lock" && !path.contains("/node_modules/")
}

pub fn wants(path: &str) -> Option<u64> {
    is_lock(path).then_some(MAX_LOCK_BYTES)
}

/// `name` and range of `name@range` (the name may start with `@scope/`).
pub fn split_spec(spec: &str) -> Option<(&str, &str)> {
    let spec = spec.trim().trim_matches('"');
    let at = spec.get(1..)?.find('@')? + 1;
    Some((spec.get(..at)?, spec.get(at + 1..)?))
}

/// `(name, version)` of every entry, for either format.
pub fn parse(text: &str) -> Result<Vec<(String, String)>, String> {
    if text.starts_with("__metadata:") || text.contains("\n__metadata:") {
        parse_berry(text)
    } else {
        Ok(parse_v1(text))
    }
}

/// yarn 1: an unindented `spec, spec:` header, then `  version "x"`.
pub fn parse_v1(text: &str) -> Vec<(String, String)> {
    let mut out = Vec::new();
    let mut name: Option<String> = None;
    for line in text.lines() {
        let line = line.strip_suffix('\r').unwrap_or(line);
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        if !line.starts_with(' ') {
            let first = line.trim_end_matches(':').split(',').next().unwrap_or("");
            name = split_spec(first).map(|(n, range)| {
                // An alias (`alias@npm:real@^1`) resolves to the real package.
                match range.strip_prefix("npm:").and_then(split_spec) {
                    Some((real, _)) => real.to_string(),
                    None => n.to_string(),
                }
            });
            continue;
        }
        // Only the entry's own two-space-indented `version`, not a dependency's.
        let Some(v) = line.strip_prefix("  version ") else {
            continue;
        };
        let v = v.trim().trim_matches('"');
        if let Some(n) = name.take() {
            if npm::registry_version(v) {
                out.push((n, v.to_string()));
            }
        }
    }
    out
}

/// yarn berry: a YAML map of `spec, spec` → `{version, resolution}`; only
/// packages resolved from the registry (`npm:`, or `patch:` of one) count.
pub fn parse_berry(text: &str) -> Result<Vec<(String, String)>, String> {
    let v: Value = serde_norway::from_str(text).map_err(|e| e.to_string())?;
    let Value::Mapping(m) = v else {
        return Err("not a YAML map".to_string());
    };
    let mut out = Vec::new();
    for (k, e) in &m {
        if k.as_str() == Some("__metadata") {
            continue;
        }
        let (Some(res), Some(version)) = (
            e.get("resolution").and_then(Value::as_str),
            e.get("version").map(|v| match v {
                Value::String(s) => s.clone(),
                Value::Number(n) => n.to_string(),
                _ => String::new(),
            }),
        ) else {
            continue;
        };
        let Some((name, range)) = split_spec(res) else {
            continue;
        };
        if (range.starts_with("npm:") || range.starts_with("patch:"))
            && npm::registry_version(&version)
        {
            out.push((name.to_string(), version));
        }
    }
    Ok(out)
}

pub fn catalog(vfs: &Vfs, c: &mut Collector) {
    for f in common::files(vfs, is_lock) {
        match parse(&common::text(&f)) {
            Ok(entries) => {
                for (name, version) in entries {
                    c.declared(npm::package(&name, &version, &f.path), &f.path);
                }
            }
            Err(e) => c.warn(
                "yarn-lockfile-malformed",
                format!("{}: {e}; skipped", f.path),
            ),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn specs() {
        assert_eq!(
            split_spec("\"@babel/x@^7.0.0\""),
            Some(("@babel/x", "^7.0.0"))
        );
        assert_eq!(split_spec("debug@2.6.9"), Some(("debug", "2.6.9")));
        assert_eq!(split_spec("@"), None);
        assert_eq!(split_spec(""), None);
    }

    #[test]
    fn v1_entries_and_aliases() {
        let t = "# yarn lockfile v1\n\n\"@babel/x@7.22.20\", \"@babel/x@^7\":\n  version \"7.22.20\"\n\ndebug@2.6.9:\n  version \"2.6.9\"\n  dependencies:\n    ms \"2.0.0\"\n\nalias@npm:ms@^2:\n  version \"2.1.3\"\n\ngit@git+https://x:\n  version \"0.0.0\"\n  resolved \"git+https://x\"\n";
        assert_eq!(
            parse(t).unwrap(),
            vec![
                ("@babel/x".into(), "7.22.20".into()),
                ("debug".into(), "2.6.9".into()),
                ("ms".into(), "2.1.3".into()),
                ("git".into(), "0.0.0".into()),
            ]
        );
    }

    #[test]
    fn berry_entries_skip_workspaces() {
        let t = "__metadata:\n  version: 8\n\n\"@types/ms@npm:0.7.34\":\n  version: 0.7.34\n  resolution: \"@types/ms@npm:0.7.34\"\n\n\"app@workspace:.\":\n  version: 0.0.0-use.local\n  resolution: \"app@workspace:.\"\n";
        assert_eq!(
            parse(t).unwrap(),
            vec![("@types/ms".into(), "0.7.34".into())]
        );
        // Alias bombs are refused, not expanded.
        let bomb = "__metadata: {}\na: &a [x,x,x,x,x,x,x,x,x]\nb: &b [*a,*a,*a,*a,*a,*a,*a,*a,*a]\nc: &c [*b,*b,*b,*b,*b,*b,*b,*b,*b]\nd: &d [*c,*c,*c,*c,*c,*c,*c,*c,*c]\ne: &e [*d,*d,*d,*d,*d,*d,*d,*d,*d]\nf: &f [*e,*e,*e,*e,*e,*e,*e,*e,*e]\ng: &g [*f,*f,*f,*f,*f,*f,*f,*f,*f]\n";
        assert!(parse(bomb).is_err());
    }
}
