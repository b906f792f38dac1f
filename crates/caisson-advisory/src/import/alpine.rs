//! Alpine secdb (`https://secdb.alpinelinux.org/v3.X/{main,community}.json`).
//!
//! Each `secfixes` key is the first package version that fixes the listed
//! issues. Following the aports convention (see the "secfixes" section of the
//! Alpine wiki's "Security" / APKBUILD reference), the version `0` lists
//! issues that never affected the Alpine package (fixed before packaging,
//! or not applicable): those produce no advisory and are counted in
//! [`ImportStats::not_affected`].
//!
//! One advisory is produced per issue id per package: id = the CVE (the first
//! `CVE-YYYY-N…` token of the entry, trimmed of suffixes such as `.patch` or
//! `-1`; the entry itself when it has no CVE), other tokens of the entry
//! become aliases, and each fixed version is one `ECOSYSTEM` range
//! `introduced: "0"`, `fixed: <version>` in ecosystem `Alpine:<distroversion>`.
//! When an issue is listed under several versions (a re-fix) each version is
//! its own range, so a version is affected below the newest fix.

use std::collections::BTreeMap;

use caisson_model::{Advisory, Affected, AffectedPackage, Reference};
use serde_json::Value;

use super::{
    collect, ecosystem_range, emit_to, json_document, Emit, ImportStats, Imported, Limits,
};
use crate::ImportError;

const FORMAT: &str = "alpine-secdb";

/// Imports one secdb JSON file.
pub fn alpine_secdb(bytes: &[u8], limits: &Limits) -> Result<Imported, ImportError> {
    collect(|emit| alpine_secdb_with(bytes, limits, emit))
}

#[derive(Default)]
struct Issue {
    aliases: Vec<String>,
    fixed: Vec<String>,
}

/// Streaming form of [`alpine_secdb`].
pub fn alpine_secdb_with(
    bytes: &[u8],
    limits: &Limits,
    emit: &mut Emit<'_>,
) -> Result<ImportStats, ImportError> {
    let doc = json_document(FORMAT, bytes, limits)?;
    let Some(obj) = doc.as_object() else {
        return Err(invalid("the document is not a JSON object"));
    };
    let Some(distro) = obj.get("distroversion").and_then(Value::as_str) else {
        return Err(invalid("no \"distroversion\" string"));
    };
    let distro = distro.trim();
    if distro.is_empty() {
        return Err(invalid("empty \"distroversion\""));
    }
    let repo = obj
        .get("reponame")
        .and_then(Value::as_str)
        .map(str::to_string);
    let ecosystem = format!("Alpine:{distro}");
    let mut stats = ImportStats::default();
    let packages: &[Value] = match obj.get("packages") {
        Some(Value::Array(a)) => a,
        // The generator writes an empty list as `{}` (v3.3/community.json).
        Some(Value::Object(o)) if o.is_empty() => &[],
        Some(Value::Null) | None => &[],
        Some(_) => return Err(invalid("\"packages\" is not a list")),
    };
    for (i, entry) in packages.iter().enumerate() {
        let loc = format!("packages[{i}]");
        let Some(pkg) = entry.get("pkg") else {
            stats.warn(limits, &loc, "no \"pkg\" object");
            continue;
        };
        let Some(name) = pkg
            .get("name")
            .and_then(Value::as_str)
            .filter(|n| !n.is_empty())
        else {
            stats.warn(limits, &loc, "package without a name");
            continue;
        };
        let secfixes = match pkg.get("secfixes") {
            Some(Value::Object(o)) => o,
            Some(Value::Null) | None => continue,
            Some(_) => {
                stats.warn(
                    limits,
                    &loc,
                    format_args!("{name}: \"secfixes\" is not a map"),
                );
                continue;
            }
        };
        // id -> issue, in first-seen order for stable output.
        let mut issues: BTreeMap<String, Issue> = BTreeMap::new();
        let mut order: Vec<String> = Vec::new();
        for (version, list) in secfixes {
            let items: &[Value] = match list {
                Value::Array(a) => a,
                // `"7.4.0-r0": {}` (v3.6/main.json heimdal): nothing listed.
                Value::Object(o) if o.is_empty() => &[],
                Value::Null => &[],
                _ => {
                    stats.warn(
                        limits,
                        &loc,
                        format_args!("{name} {version}: issue list is not a list"),
                    );
                    continue;
                }
            };
            let version = version.trim();
            for item in items {
                let Some(text) = item.as_str() else {
                    stats.warn(
                        limits,
                        &loc,
                        format_args!("{name} {version}: non-string issue entry"),
                    );
                    continue;
                };
                let Some((id, aliases)) = parse_issue(text) else {
                    stats.warn(
                        limits,
                        &loc,
                        format_args!("{name} {version}: empty issue entry"),
                    );
                    continue;
                };
                if version == "0" {
                    stats.not_affected += 1;
                    continue;
                }
                if version.is_empty() {
                    stats.warn(
                        limits,
                        &loc,
                        format_args!("{name}: empty fixed version for {id}"),
                    );
                    continue;
                }
                let issue = issues.entry(id.clone()).or_insert_with(|| {
                    order.push(id.clone());
                    Issue::default()
                });
                for a in aliases {
                    if !issue.aliases.contains(&a) {
                        issue.aliases.push(a);
                    }
                }
                if !issue.fixed.iter().any(|f| f == version) {
                    issue.fixed.push(version.to_string());
                }
            }
        }
        for id in order {
            let Some(issue) = issues.remove(&id) else {
                continue;
            };
            let adv = advisory(&id, issue, name, &ecosystem, repo.as_deref(), distro);
            emit_to(emit, &mut stats, adv)?;
        }
    }
    Ok(stats)
}

fn advisory(
    id: &str,
    issue: Issue,
    name: &str,
    ecosystem: &str,
    repo: Option<&str>,
    distro: &str,
) -> Advisory {
    let ranges = issue
        .fixed
        .iter()
        .map(|f| ecosystem_range(Some(f)))
        .collect();
    let mut references = Vec::new();
    if id.starts_with("CVE-") {
        references.push(Reference {
            kind: "ADVISORY".to_string(),
            url: format!("https://security.alpinelinux.org/vuln/{id}"),
        });
    }
    Advisory {
        id: id.to_string(),
        aliases: issue.aliases,
        affected: vec![Affected {
            package: Some(AffectedPackage {
                ecosystem: ecosystem.to_string(),
                name: name.to_string(),
                purl: Some(format!(
                    "pkg:apk/alpine/{name}?distro=alpine-{}",
                    distro.trim_start_matches('v')
                )),
            }),
            ranges,
            database_specific: repo.map(|r| serde_json::json!({ "repository": r })),
            ..Default::default()
        }],
        references,
        database_specific: Some(serde_json::json!({ "source": "alpine-secdb" })),
        ..Default::default()
    }
}

/// `"CVE-2017-2887 TALOS-2017-0394"` → (`CVE-2017-2887`, [`TALOS-2017-0394`]);
/// `"CVE-2017-8073.patch"` → (`CVE-2017-8073`, []); `"wnpa-sec-2017-18"` →
/// (`wnpa-sec-2017-18`, []).
fn parse_issue(text: &str) -> Option<(String, Vec<String>)> {
    let tokens: Vec<&str> = text.split_whitespace().collect();
    let first = *tokens.first()?;
    let cve_pos = tokens.iter().position(|t| cve_prefix(t).is_some());
    let (id, id_token) = match cve_pos.and_then(|p| tokens.get(p).map(|t| (p, *t))) {
        Some((p, t)) => (cve_prefix(t)?.to_string(), p),
        None => (first.to_string(), 0),
    };
    let aliases = tokens
        .iter()
        .enumerate()
        .filter(|(i, t)| *i != id_token && **t != id)
        .map(|(_, t)| (*t).to_string())
        .collect();
    Some((id, aliases))
}

/// The `CVE-YYYY-NNNN…` prefix of a token, upper-cased.
fn cve_prefix(token: &str) -> Option<String> {
    let upper = token.to_ascii_uppercase();
    let rest = upper.strip_prefix("CVE-")?;
    let year: String = rest.chars().take_while(char::is_ascii_digit).collect();
    if year.len() != 4 {
        return None;
    }
    let after = rest.get(4..)?.strip_prefix('-')?;
    let num: String = after.chars().take_while(char::is_ascii_digit).collect();
    if num.len() < 4 {
        return None;
    }
    Some(format!("CVE-{year}-{num}"))
}

fn invalid(reason: &str) -> ImportError {
    ImportError::Invalid {
        format: FORMAT,
        reason: reason.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn issue_tokens() {
        assert_eq!(
            parse_issue("CVE-2017-2887 TALOS-2017-0394"),
            Some(("CVE-2017-2887".into(), vec!["TALOS-2017-0394".into()]))
        );
        assert_eq!(
            parse_issue("CVE-2017-8073.patch"),
            Some(("CVE-2017-8073".into(), vec![]))
        );
        assert_eq!(
            parse_issue("CVE-2017-17434-1"),
            Some(("CVE-2017-17434".into(), vec![]))
        );
        assert_eq!(
            parse_issue("wnpa-sec-2017-18"),
            Some(("wnpa-sec-2017-18".into(), vec![]))
        );
        assert_eq!(parse_issue("  "), None);
    }
}
