//! Red Hat CSAF 2.0 VEX documents (`https://security.access.redhat.com/data/csaf/v2/vex/`).
//!
//! Reads `product_tree` (branches with `product_identification_helper.purl`
//! / `.cpe`, and `relationships` tying a component to a product) and
//! `vulnerabilities[]` (`cve`, `product_status.{fixed, known_affected,
//! known_not_affected}`, `remediations[].product_ids`, `scores`, `threats`).
//!
//! A product id such as `AppStream-9.2.0.Z.MAIN:nginx-1:1.20.1-14.el9.x86_64`
//! is resolved through its relationship (or, without one, split at the first
//! `:`) into a product (`AppStream-9.2.0.Z.MAIN`, whose CPE is kept) and a
//! component; the component's RPM purl (or else its NEVRA text) gives the
//! package name and the fixed version `epoch:version-release`. One advisory
//! per vulnerability (id = the CVE) with one `affected` entry per (product,
//! package, fixed version), ecosystem `Red Hat`:
//! * `fixed`: `introduced: "0"`, `fixed: <epoch:version-release>`;
//! * `known_affected`: `introduced: "0"` and no fix, `fix_status` from the
//!   product's remediation (`no_fix_planned` → `wont-fix`, otherwise `unfixed`);
//! * `known_not_affected`: no entry ([`ImportStats::not_affected`]).
//!
//! Components that are not RPMs (container images, modules) are skipped and
//! counted in [`ImportStats::skipped`]. RHSA ids from `vendor_fix`
//! remediation URLs go to `related`; the impact (`Important`…) goes to
//! `database_specific.vendor_severity`.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::io::Read;

use caisson_model::{Advisory, Affected, AffectedPackage, Reference, SeverityScore};
use serde_json::{json, Map, Value};

use super::{
    bound_affected, collect, ecosystem_range, emit_to, json_document, Emit, ImportStats, Imported,
    Limits,
};
use crate::ImportError;

const FORMAT: &str = "csaf-vex";
const ARCHIVE: &str = "csaf-vex-archive";
/// Nesting bound for `branches` (CSAF trees are 3–4 deep).
const MAX_DEPTH: usize = 32;
const ARCHES: &[&str] = &[
    "x86_64", "aarch64", "ppc64le", "s390x", "i686", "i386", "noarch", "src", "ppc64", "s390",
    "armv7hl",
];

/// Imports one CSAF VEX document.
pub fn csaf_vex(bytes: &[u8], limits: &Limits) -> Result<Imported, ImportError> {
    collect(|emit| csaf_vex_with(bytes, limits, emit))
}

#[derive(Default, Clone)]
struct ProductInfo {
    name: Option<String>,
    purl: Option<String>,
    cpe: Option<String>,
}

/// Streaming form of [`csaf_vex`].
pub fn csaf_vex_with(
    bytes: &[u8],
    limits: &Limits,
    emit: &mut Emit<'_>,
) -> Result<ImportStats, ImportError> {
    let doc = json_document(FORMAT, bytes, limits)?;
    let mut stats = ImportStats::default();
    document(&doc, "document", limits, &mut stats, emit)?;
    Ok(stats)
}

/// Streams every CSAF document (`*.json`) of a tar archive, zstd-compressed
/// (Red Hat's `csaf_vex_<date>.tar.zst`) or not. A bad document is a
/// warning; a bad archive an error.
pub fn csaf_vex_archive_with(
    bytes: &[u8],
    limits: &Limits,
    emit: &mut Emit<'_>,
) -> Result<ImportStats, ImportError> {
    csaf_vex_archive_reader_with(bytes, limits, emit)
}

/// Streaming form of [`csaf_vex_archive_with`] over any reader (the archive
/// is never held in memory as a whole).
pub fn csaf_vex_archive_reader_with<R: Read>(
    mut input: R,
    limits: &Limits,
    emit: &mut Emit<'_>,
) -> Result<ImportStats, ImportError> {
    let io = |source| ImportError::Io {
        format: ARCHIVE,
        source,
    };
    let mut magic = Vec::with_capacity(4);
    (&mut input).take(4).read_to_end(&mut magic).map_err(io)?;
    let input = std::io::Cursor::new(magic.clone()).chain(input);
    let reader: Box<dyn Read + '_> = if magic == [0x28, 0xb5, 0x2f, 0xfd] {
        Box::new(zstd::stream::read::Decoder::new(input).map_err(io)?)
    } else {
        Box::new(input)
    };
    let mut archive = tar::Archive::new(reader);
    let mut stats = ImportStats::default();
    let mut total: u64 = 0;
    let mut count: usize = 0;
    let mut buf = Vec::new();
    for entry in archive.entries().map_err(io)? {
        let mut entry = entry.map_err(io)?;
        count += 1;
        if count > limits.max_entries {
            return Err(ImportError::Limit {
                format: ARCHIVE,
                what: "entries".to_string(),
                limit: limits.max_entries as u64,
            });
        }
        if !entry.header().entry_type().is_file() {
            continue;
        }
        let name = entry
            .path()
            .map(|p| p.to_string_lossy().into_owned())
            .unwrap_or_else(|_| format!("entry #{count}"));
        if !name.ends_with(".json") {
            stats.skipped += 1;
            continue;
        }
        buf.clear();
        (&mut entry)
            .take(limits.max_entry_bytes.saturating_add(1))
            .read_to_end(&mut buf)
            .map_err(io)?;
        total = total.saturating_add(buf.len() as u64);
        if total > limits.max_total_bytes {
            return Err(ImportError::Limit {
                format: ARCHIVE,
                what: "decompressed size".to_string(),
                limit: limits.max_total_bytes,
            });
        }
        if buf.len() as u64 > limits.max_entry_bytes {
            stats.warn(limits, &name, "document over the size limit");
            continue;
        }
        match serde_json::from_slice::<Value>(&buf) {
            Ok(doc) => document(&doc, &name, limits, &mut stats, emit)?,
            Err(e) => stats.warn(limits, &name, format_args!("invalid JSON: {e}")),
        }
    }
    Ok(stats)
}

fn document(
    doc: &Value,
    loc: &str,
    limits: &Limits,
    stats: &mut ImportStats,
    emit: &mut Emit<'_>,
) -> Result<(), ImportError> {
    let Some(meta) = doc.get("document").and_then(Value::as_object) else {
        return Err(ImportError::Invalid {
            format: FORMAT,
            reason: format!("{loc}: no \"document\" object (not CSAF)"),
        });
    };
    let category = meta.get("category").and_then(Value::as_str).unwrap_or("");
    if category != "csaf_vex" {
        stats.warn(
            limits,
            loc,
            format_args!("document category {category:?}, reading it as VEX"),
        );
    }
    let aggregate = meta
        .get("aggregate_severity")
        .and_then(|s| s.get("text"))
        .and_then(Value::as_str)
        .map(str::to_string);
    let mut products: HashMap<String, ProductInfo> = HashMap::new();
    // full product id -> (product ref, component ref)
    let mut relations: HashMap<String, (String, String)> = HashMap::new();
    if let Some(tree) = doc.get("product_tree") {
        if let Some(branches) = tree.get("branches").and_then(Value::as_array) {
            for b in branches {
                walk_branch(b, 0, &mut products);
            }
        }
        if let Some(fpns) = tree.get("full_product_names").and_then(Value::as_array) {
            for p in fpns {
                add_product(p, &mut products);
            }
        }
        if let Some(rels) = tree.get("relationships").and_then(Value::as_array) {
            for r in rels {
                let full = r.get("full_product_name");
                let id = full
                    .and_then(|f| f.get("product_id"))
                    .and_then(Value::as_str);
                let comp = r.get("product_reference").and_then(Value::as_str);
                let prod = r
                    .get("relates_to_product_reference")
                    .and_then(Value::as_str);
                if let (Some(id), Some(comp), Some(prod)) = (id, comp, prod) {
                    relations.insert(id.to_string(), (prod.to_string(), comp.to_string()));
                    if let Some(f) = full {
                        add_product(f, &mut products);
                    }
                }
            }
        }
    }
    let vulns = doc
        .get("vulnerabilities")
        .and_then(Value::as_array)
        .map(Vec::as_slice)
        .unwrap_or(&[]);
    for (i, v) in vulns.iter().enumerate() {
        let vloc = format!("{loc}: vulnerabilities[{i}]");
        let id = v
            .get("cve")
            .and_then(Value::as_str)
            .or_else(|| {
                v.get("ids")
                    .and_then(Value::as_array)
                    .and_then(|ids| ids.first())
                    .and_then(|x| x.get("text"))
                    .and_then(Value::as_str)
            })
            .map(str::trim)
            .filter(|s| !s.is_empty());
        let Some(id) = id else {
            stats.warn(limits, &vloc, "vulnerability without a cve or id");
            continue;
        };
        let ctx = Ctx {
            products: &products,
            relations: &relations,
        };
        let mut adv = vulnerability(id, v, &ctx, aggregate.as_deref(), limits, stats, &vloc);
        if adv.affected.is_empty() {
            continue;
        }
        bound_affected(&mut adv, limits, stats, &vloc);
        emit_to(emit, stats, adv)?;
    }
    Ok(())
}

struct Ctx<'a> {
    products: &'a HashMap<String, ProductInfo>,
    relations: &'a HashMap<String, (String, String)>,
}

fn walk_branch(b: &Value, depth: usize, out: &mut HashMap<String, ProductInfo>) {
    if depth > MAX_DEPTH {
        return;
    }
    if let Some(p) = b.get("product") {
        add_product(p, out);
    }
    if let Some(children) = b.get("branches").and_then(Value::as_array) {
        for c in children {
            walk_branch(c, depth + 1, out);
        }
    }
}

fn add_product(p: &Value, out: &mut HashMap<String, ProductInfo>) {
    let Some(id) = p.get("product_id").and_then(Value::as_str) else {
        return;
    };
    let helper = p.get("product_identification_helper");
    let info = ProductInfo {
        name: p.get("name").and_then(Value::as_str).map(str::to_string),
        purl: helper
            .and_then(|h| h.get("purl"))
            .and_then(Value::as_str)
            .map(str::to_string),
        cpe: helper
            .and_then(|h| h.get("cpe"))
            .and_then(Value::as_str)
            .map(str::to_string),
    };
    let slot = out.entry(id.to_string()).or_default();
    if slot.name.is_none() {
        slot.name = info.name;
    }
    if slot.purl.is_none() {
        slot.purl = info.purl;
    }
    if slot.cpe.is_none() {
        slot.cpe = info.cpe;
    }
}

fn str_list(v: Option<&Value>) -> Vec<&str> {
    v.and_then(Value::as_array)
        .map(|a| a.iter().filter_map(Value::as_str).collect())
        .unwrap_or_default()
}

fn vulnerability(
    id: &str,
    v: &Value,
    ctx: &Ctx<'_>,
    aggregate: Option<&str>,
    limits: &Limits,
    stats: &mut ImportStats,
    loc: &str,
) -> Advisory {
    let status = v.get("product_status");
    let fixed = str_list(status.and_then(|s| s.get("fixed")));
    let affected_ids = str_list(status.and_then(|s| s.get("known_affected")));
    stats.not_affected += str_list(status.and_then(|s| s.get("known_not_affected"))).len();

    // product id -> remediation categories and URLs
    let mut remediation: HashMap<&str, Vec<(&str, Option<&str>)>> = HashMap::new();
    let mut related = BTreeSet::new();
    let mut references = Vec::new();
    for r in v
        .get("remediations")
        .and_then(Value::as_array)
        .map(Vec::as_slice)
        .unwrap_or(&[])
    {
        let cat = r.get("category").and_then(Value::as_str).unwrap_or("");
        let url = r.get("url").and_then(Value::as_str);
        if cat == "vendor_fix" {
            if let Some(rhsa) = url.and_then(rhsa_id) {
                if related.insert(rhsa.clone()) {
                    references.push(Reference {
                        kind: "ADVISORY".into(),
                        url: url.unwrap_or_default().to_string(),
                    });
                }
            }
        }
        for pid in str_list(r.get("product_ids")) {
            remediation.entry(pid).or_default().push((cat, url));
        }
    }

    // (product, name, fixed) -> entry, deduplicating architectures.
    let mut entries: BTreeMap<(String, String, Option<String>), Affected> = BTreeMap::new();
    for (pid, is_fixed) in fixed
        .iter()
        .map(|p| (*p, true))
        .chain(affected_ids.iter().map(|p| (*p, false)))
    {
        let (product, component) = match ctx.relations.get(pid) {
            Some((p, c)) => (p.clone(), c.clone()),
            None => match pid.split_once(':') {
                Some((p, c)) => (p.to_string(), c.to_string()),
                None => (String::new(), pid.to_string()),
            },
        };
        let comp_info = ctx.products.get(&component).cloned().unwrap_or_default();
        let Some((name, version)) = package_of(&component, comp_info.purl.as_deref()) else {
            stats.skipped += 1;
            continue;
        };
        let version = if is_fixed {
            match version {
                Some(v) => Some(v),
                None => {
                    stats.warn(
                        limits,
                        loc,
                        format_args!("fixed product {pid} has no version"),
                    );
                    continue;
                }
            }
        } else {
            None
        };
        let key = (product.clone(), name.clone(), version.clone());
        if entries.contains_key(&key) {
            continue;
        }
        let prod_info = ctx.products.get(&product).cloned().unwrap_or_default();
        let rems = remediation.get(pid).cloned().unwrap_or_default();
        let fix_status = if is_fixed {
            "fixed"
        } else if rems.iter().any(|(c, _)| *c == "no_fix_planned") {
            "wont-fix"
        } else {
            "unfixed"
        };
        let mut ds = Map::new();
        ds.insert("product_id".into(), json!(pid));
        ds.insert("product".into(), json!(product));
        if let Some(n) = prod_info.name {
            ds.insert("product_name".into(), json!(n));
        }
        if let Some(c) = prod_info.cpe {
            ds.insert("cpe".into(), json!(c));
        }
        ds.insert(
            "status".into(),
            json!(if is_fixed { "fixed" } else { "known_affected" }),
        );
        ds.insert("fix_status".into(), json!(fix_status));
        let cats: Vec<&str> = rems.iter().map(|(c, _)| *c).collect();
        if !cats.is_empty() {
            ds.insert("remediations".into(), json!(cats));
        }
        entries.insert(
            key,
            Affected {
                package: Some(AffectedPackage {
                    ecosystem: "Red Hat".to_string(),
                    name: name.clone(),
                    purl: comp_info.purl.clone(),
                }),
                ranges: vec![ecosystem_range(version.as_deref())],
                database_specific: Some(Value::Object(ds)),
                ..Default::default()
            },
        );
    }

    let mut severity = Vec::new();
    for s in v
        .get("scores")
        .and_then(Value::as_array)
        .map(Vec::as_slice)
        .unwrap_or(&[])
    {
        for (key, kind) in [
            ("cvss_v3", "CVSS_V3"),
            ("cvss_v4", "CVSS_V4"),
            ("cvss_v2", "CVSS_V2"),
        ] {
            if let Some(vec) = s
                .get(key)
                .and_then(|c| c.get("vectorString"))
                .and_then(Value::as_str)
            {
                let score = SeverityScore {
                    kind: kind.to_string(),
                    score: vec.to_string(),
                };
                if !severity.contains(&score) {
                    severity.push(score);
                }
            }
        }
    }
    let impact = v
        .get("threats")
        .and_then(Value::as_array)
        .and_then(|t| {
            t.iter()
                .find(|x| x.get("category").and_then(Value::as_str) == Some("impact"))
                .and_then(|x| x.get("details"))
                .and_then(Value::as_str)
        })
        .or(aggregate);
    let mut top = Map::new();
    top.insert("source".into(), json!("redhat-csaf-vex"));
    if let Some(i) = impact {
        top.insert("vendor_severity".into(), json!(i));
    }
    if id.starts_with("CVE-") {
        references.insert(
            0,
            Reference {
                kind: "ADVISORY".into(),
                url: format!(
                    "https://access.redhat.com/security/cve/{}",
                    id.to_ascii_lowercase()
                ),
            },
        );
    }
    let summary = v.get("title").and_then(Value::as_str).map(str::to_string);
    let details = v.get("notes").and_then(Value::as_array).and_then(|notes| {
        notes
            .iter()
            .find(|n| n.get("category").and_then(Value::as_str) == Some("description"))
            .and_then(|n| n.get("text"))
            .and_then(Value::as_str)
            .map(str::to_string)
    });
    Advisory {
        id: id.to_string(),
        published: v
            .get("release_date")
            .and_then(Value::as_str)
            .map(str::to_string),
        related: related.into_iter().collect(),
        summary,
        details,
        severity,
        affected: entries.into_values().collect(),
        references,
        database_specific: Some(Value::Object(top)),
        ..Default::default()
    }
}

/// `https://access.redhat.com/errata/RHSA-2023:1234` → `RHSA-2023:1234`.
fn rhsa_id(url: &str) -> Option<String> {
    let last = url.rsplit('/').next()?;
    let ok = ["RHSA-", "RHBA-", "RHEA-"]
        .iter()
        .any(|p| last.starts_with(p));
    ok.then(|| last.to_string())
}

/// Package name and (when known) `epoch:version-release` of a component, from
/// its RPM purl or else its NEVRA text. `None` for non-RPM components.
fn package_of(component: &str, purl: Option<&str>) -> Option<(String, Option<String>)> {
    if let Some(p) = purl {
        if let Some(rest) = p.strip_prefix("pkg:rpm/") {
            let (path, qualifiers) = rest.split_once('?').unwrap_or((rest, ""));
            let (path, version) = match path.split_once('@') {
                Some((a, v)) => (a, Some(v)),
                None => (path, None),
            };
            let name = path.rsplit('/').next()?.to_string();
            if name.is_empty() {
                return None;
            }
            let epoch = qualifiers
                .split('&')
                .find_map(|q| q.strip_prefix("epoch="))
                .filter(|e| !e.is_empty());
            let version = version.filter(|v| !v.is_empty()).map(|v| match epoch {
                Some(e) => format!("{e}:{v}"),
                None => v.to_string(),
            });
            return Some((name, version));
        }
        return None;
    }
    parse_nevra(component)
}

/// `nginx-1:1.20.1-14.el9.x86_64` → (`nginx`, `1:1.20.1-14.el9`); a bare name
/// (`nginx`, as unfixed components are written) → (`nginx`, None).
fn parse_nevra(text: &str) -> Option<(String, Option<String>)> {
    let text = text.trim();
    if text.is_empty() || text.contains('/') {
        return None;
    }
    let no_arch = match text.rsplit_once('.') {
        Some((head, arch)) if ARCHES.contains(&arch) => head,
        _ => text,
    };
    let parts = no_arch.rsplitn(3, '-').collect::<Vec<_>>();
    match parts.as_slice() {
        [release, version, name]
            if !name.is_empty() && version.chars().next().is_some_and(|c| c.is_ascii_digit()) =>
        {
            Some(((*name).to_string(), Some(format!("{version}-{release}"))))
        }
        _ if !no_arch.contains(':') => Some((no_arch.to_string(), None)),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nevra() {
        assert_eq!(
            parse_nevra("nginx-1:1.20.1-14.el9.x86_64"),
            Some(("nginx".into(), Some("1:1.20.1-14.el9".into())))
        );
        assert_eq!(
            parse_nevra("python3-libs-3.9.16-1.el9_2.1.aarch64"),
            Some(("python3-libs".into(), Some("3.9.16-1.el9_2.1".into())))
        );
        assert_eq!(parse_nevra("nginx"), Some(("nginx".into(), None)));
        assert_eq!(parse_nevra("kernel-rt"), Some(("kernel-rt".into(), None)));
    }

    #[test]
    fn purl_versions() {
        assert_eq!(
            package_of(
                "x",
                Some("pkg:rpm/redhat/nginx@1.20.1-14.el9?arch=x86_64&epoch=1")
            ),
            Some(("nginx".into(), Some("1:1.20.1-14.el9".into())))
        );
        assert_eq!(package_of("x", Some("pkg:oci/ubi9@sha256:abc")), None);
    }
}
