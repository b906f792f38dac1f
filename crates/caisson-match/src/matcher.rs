//! The matcher: per package, ask the source, evaluate every record, merge
//! records that name the same vulnerability, and build [`Finding`]s.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::rc::Rc;

use caisson_model::{
    normalize_package_name, Advisory, AdvisorySource, Affected, CandidateRecord, Finding, Package,
    Sbom, Warning,
};
use caisson_version::{Ecosystem, Version};

use crate::bounds::{status, unconditional, ParsedBounds};
use crate::evaluate::{evaluate, parse_version};
use crate::query::{query_with, OsOwnedMatching, Query, Skip};
use crate::severity::{assess, CvssScorer};

/// What matching an SBOM produced.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct MatchOutput {
    /// Findings ordered by package (name, version, id), then finding id.
    pub findings: Vec<Finding>,
    /// Non-fatal problems: unsupported distributions, unparseable versions or ranges.
    pub warnings: Vec<Warning>,
}

/// Why matching failed.
#[derive(Debug, thiserror::Error)]
pub enum MatchError {
    #[error("querying advisories for {ecosystem} package {name:?}")]
    Source {
        ecosystem: String,
        name: String,
        #[source]
        source: Box<dyn std::error::Error + Send + Sync>,
    },
}

/// One record that affects the package, with its entries and fixes.
struct Hit {
    advisory: Rc<Advisory>,
    fixed: Vec<String>,
    entries: Vec<usize>,
}

/// Evaluates one record for one query. `None` when it does not affect the version.
fn evaluate_record(adv: &Rc<Advisory>, q: &Query, warnings: &mut Vec<Warning>) -> Option<Hit> {
    if adv.withdrawn.is_some() {
        return None;
    }
    let mut hit = Hit {
        advisory: Rc::clone(adv),
        fixed: Vec::new(),
        entries: Vec::new(),
    };
    let mut affected = false;
    for (i, entry) in adv.affected.iter().enumerate() {
        let Some(pkg) = &entry.package else { continue };
        if pkg.ecosystem != q.ecosystem
            || (pkg.name != q.name && normalize_package_name(&pkg.ecosystem, &pkg.name) != q.name)
        {
            continue;
        }
        let st = status(adv, entry);
        if st == Some("not-affected") {
            continue;
        }
        let verdict = evaluate(entry, q.scheme, &q.version);
        let record_versions: Vec<&String> = verdict
            .fallback
            .iter()
            .filter(|f| f.as_str() != q.version.trim())
            .collect();
        if !record_versions.is_empty() {
            warnings.push(Warning {
                code: "version-fallback-order".into(),
                message: format!(
                    "{} affected[{i}] for {} {}: {} rejected by {} rules, ordered by OSV's",
                    adv.id,
                    q.ecosystem,
                    q.name,
                    record_versions
                        .iter()
                        .map(|v| format!("{v:?}"))
                        .collect::<Vec<_>>()
                        .join(", "),
                    q.scheme
                ),
            });
        }
        for (r, reason) in verdict.skipped {
            warnings.push(Warning {
                code: "advisory-range-unusable".into(),
                message: format!(
                    "{} affected[{i}].ranges[{r}] for {} {}: {reason}",
                    adv.id, q.ecosystem, q.name
                ),
            });
        }
        if verdict.affected || unconditional(st, entry) {
            affected = true;
            hit.entries.push(i);
            hit.fixed.extend(verdict.fixed);
        }
    }
    affected.then_some(hit)
}

/// Matches every package of `sbom` against `source`; language packages an
/// OS package installed are left to that OS package's advisories.
pub fn match_sbom(
    sbom: &Sbom,
    source: &dyn AdvisorySource,
    scorer: &dyn CvssScorer,
) -> Result<MatchOutput, MatchError> {
    match_sbom_with(sbom, source, scorer, OsOwnedMatching::default())
}

/// [`match_sbom`], with OS-owned language packages matched as `os_owned` says.
pub fn match_sbom_with(
    sbom: &Sbom,
    source: &dyn AdvisorySource,
    scorer: &dyn CvssScorer,
    os_owned: OsOwnedMatching,
) -> Result<MatchOutput, MatchError> {
    let mut out = MatchOutput::default();
    let mut lookups = Lookups::new(source);
    let mut unsupported: BTreeSet<String> = BTreeSet::new();
    let mut bad_versions: BTreeSet<String> = BTreeSet::new();
    let mut fallback_versions: BTreeSet<String> = BTreeSet::new();

    for p in &sbom.packages {
        let q = match query_with(p, sbom.os.as_ref(), os_owned) {
            Ok(q) => q,
            Err(Skip::OwnedByOsPackage) => continue,
            Err(Skip::UnsupportedOs(what)) => {
                unsupported.insert(what);
                continue;
            }
        };
        let (hits, known) = lookups.hits(&q, &mut out.warnings)?;
        if known {
            match parse_version(q.scheme, &q.version) {
                None => {
                    bad_versions.insert(format!("{} {} ({})", p.name, q.version, q.scheme));
                }
                Some(v) if v.is_fallback() => {
                    fallback_versions.insert(format!("{} {} ({})", p.name, q.version, q.scheme));
                }
                Some(_) => {}
            }
        }
        out.findings.extend(merge(hits, p, &q, scorer));
    }

    for what in unsupported {
        out.warnings.push(Warning {
            code: "no-advisory-data".into(),
            message: format!("no advisory data for {what}; those packages were not matched"),
        });
    }
    for v in fallback_versions {
        out.warnings.push(Warning {
            code: "version-fallback-order".into(),
            message: format!(
                "installed version of {v} is rejected by the ecosystem's rules; ordered by OSV's"
            ),
        });
    }
    for v in bad_versions {
        out.warnings.push(Warning {
            code: "version-unparseable".into(),
            message: format!("installed version of {v} cannot be ordered; only exact listed versions were matched"),
        });
    }
    out.warnings
        .sort_by(|a, b| (&a.code, &a.message).cmp(&(&b.code, &b.message)));
    out.warnings.dedup();

    let order: HashMap<&str, (&str, &str)> = sbom
        .packages
        .iter()
        .map(|p| (p.id.as_str(), (p.name.as_str(), p.version.as_str())))
        .collect();
    // One key per finding, not two hash lookups per comparison.
    let mut keyed: Vec<((&str, &str), Finding)> = std::mem::take(&mut out.findings)
        .into_iter()
        .map(|f| {
            let k = order
                .get(f.package_id.as_str())
                .copied()
                .unwrap_or_default();
            (k, f)
        })
        .collect();
    keyed.sort_by(|(ka, a), (kb, b)| (ka, &a.package_id, &a.id).cmp(&(kb, &b.package_id, &b.id)));
    out.findings = keyed.into_iter().map(|(_, f)| f).collect();
    Ok(out)
}

/// Matches each distinct lookup once (the registry's re-scan: packages the
/// stored SBOMs share are matched a single time). `out[i]` holds the findings
/// of `queries[i]`, with the query's name and version as package name and
/// installed version and an empty `package_id`; the caller maps them back
/// onto its packages. Advisories are fetched once per (ecosystem, name).
pub fn match_queries(
    queries: &[Query],
    source: &dyn AdvisorySource,
    scorer: &dyn CvssScorer,
) -> Result<(Vec<Vec<Finding>>, Vec<Warning>), MatchError> {
    let mut warnings = Vec::new();
    let mut lookups = Lookups::new(source);
    let mut out = Vec::with_capacity(queries.len());
    for q in queries {
        let (hits, _) = lookups.hits(q, &mut warnings)?;
        if hits.is_empty() {
            out.push(Vec::new());
            continue;
        }
        let p = Package::found(
            caisson_model::PackageType::Python,
            &q.name,
            &q.version,
            String::new(),
            "",
        );
        let mut f = merge(hits, &p, q, scorer);
        f.sort_by(|a, b| a.id.cmp(&b.id));
        out.push(f);
    }
    warnings.sort_by(|a, b| (&a.code, &a.message).cmp(&(&b.code, &b.message)));
    warnings.dedup();
    Ok((out, warnings))
}

/// Candidates per (ecosystem, name) and records loaded once, for one run.
struct Lookups<'s> {
    source: &'s dyn AdvisorySource,
    cache: HashMap<(String, String), Vec<Slot>>,
    loaded: HashMap<u64, Rc<Advisory>>,
}

impl<'s> Lookups<'s> {
    fn new(source: &'s dyn AdvisorySource) -> Self {
        Lookups {
            source,
            cache: HashMap::new(),
            loaded: HashMap::new(),
        }
    }

    /// The records that affect `q`, and whether any record names the package.
    fn hits(
        &mut self,
        q: &Query,
        warnings: &mut Vec<Warning>,
    ) -> Result<(Vec<Hit>, bool), MatchError> {
        let source_error = |source| MatchError::Source {
            ecosystem: q.ecosystem.clone(),
            name: q.name.clone(),
            source,
        };
        let key = (q.ecosystem.clone(), q.name.clone());
        if !self.cache.contains_key(&key) {
            let slots = candidates(self.source, q).map_err(source_error)?;
            self.cache.insert(key.clone(), slots);
        }
        let slots = self.cache.get(&key).map(Vec::as_slice).unwrap_or_default();
        let mut installed = InstalledVersion::new(&q.version);
        let mut hits = Vec::new();
        for slot in slots {
            if slot
                .bounds
                .as_ref()
                .is_some_and(|b| b.excludes(&mut |s| installed.parsed(s)))
            {
                continue;
            }
            let adv = match &slot.record {
                SlotRecord::Loaded(a) => Rc::clone(a),
                SlotRecord::Stored(k) => match self.loaded.get(k) {
                    Some(a) => Rc::clone(a),
                    None => {
                        let a = Rc::new(self.source.load(*k).map_err(source_error)?);
                        self.loaded.insert(*k, Rc::clone(&a));
                        a
                    }
                },
            };
            hits.extend(evaluate_record(&adv, q, warnings));
        }
        Ok((hits, !slots.is_empty()))
    }
}

/// A candidate record for one (ecosystem, name), with its bounds parsed.
struct Slot {
    bounds: Option<ParsedBounds>,
    record: SlotRecord,
}

enum SlotRecord {
    Loaded(Rc<Advisory>),
    Stored(u64),
}

fn candidates(
    source: &dyn AdvisorySource,
    q: &Query,
) -> Result<Vec<Slot>, Box<dyn std::error::Error + Send + Sync>> {
    // Bounds were computed under the ordering the ecosystem names; use them
    // only when the query orders the same way.
    let usable = q.ecosystem.parse::<Ecosystem>().ok() == Some(q.scheme);
    Ok(source
        .candidates(&q.ecosystem, &q.name)?
        .into_iter()
        .map(|c| Slot {
            bounds: c
                .above
                .filter(|_| usable)
                .and_then(|b| ParsedBounds::parse(&b, q.scheme)),
            record: match c.record {
                CandidateRecord::Loaded(a) => SlotRecord::Loaded(Rc::new(*a)),
                CandidateRecord::Stored(k) => SlotRecord::Stored(k),
            },
        })
        .collect())
}

/// The installed version, parsed once per ordering on demand.
struct InstalledVersion<'v> {
    raw: &'v str,
    parsed: Vec<(Ecosystem, Option<Version>)>,
}

impl<'v> InstalledVersion<'v> {
    fn new(raw: &'v str) -> Self {
        InstalledVersion {
            raw,
            parsed: Vec::new(),
        }
    }

    fn parsed(&mut self, scheme: Ecosystem) -> Option<Version> {
        if let Some((_, v)) = self.parsed.iter().find(|(s, _)| *s == scheme) {
            return v.clone();
        }
        let v = parse_version(scheme, self.raw);
        self.parsed.push((scheme, v.clone()));
        v
    }
}

/// Every id a record is known by.
fn ids(a: &Advisory) -> impl Iterator<Item = &str> {
    std::iter::once(a.id.as_str()).chain(a.aliases.iter().map(String::as_str))
}

/// Preference for the reported id: CVE, then GHSA, then anything, then by name.
fn id_rank(id: &str) -> (u8, &str) {
    if id.starts_with("CVE-") {
        (0, id)
    } else if id.starts_with("GHSA-") {
        (1, id)
    } else {
        (2, id)
    }
}

fn find(parent: &mut [usize], mut i: usize) -> usize {
    while let Some(&p) = parent.get(i) {
        if p == i {
            break;
        }
        let gp = parent.get(p).copied().unwrap_or(p);
        if let Some(slot) = parent.get_mut(i) {
            *slot = gp;
        }
        i = p;
    }
    i
}

/// Merges hits that share any id (transitively) into one finding each.
fn merge(hits: Vec<Hit>, p: &Package, q: &Query, scorer: &dyn CvssScorer) -> Vec<Finding> {
    let mut parent: Vec<usize> = (0..hits.len()).collect();
    let mut owner: HashMap<&str, usize> = HashMap::new();
    for (i, h) in hits.iter().enumerate() {
        for id in ids(&h.advisory) {
            match owner.get(id) {
                Some(&j) => {
                    let (a, b) = (find(&mut parent, i), find(&mut parent, j));
                    if let Some(slot) = parent.get_mut(a) {
                        *slot = b;
                    }
                }
                None => {
                    owner.insert(id, i);
                }
            }
        }
    }
    let mut groups: BTreeMap<usize, Vec<&Hit>> = BTreeMap::new();
    for (i, h) in hits.iter().enumerate() {
        let root = find(&mut parent, i);
        groups.entry(root).or_default().push(h);
    }
    groups
        .into_values()
        .map(|group| finding(group, p, q, scorer))
        .collect()
}

fn finding(mut group: Vec<&Hit>, p: &Package, q: &Query, scorer: &dyn CvssScorer) -> Finding {
    let all_ids: BTreeSet<&str> = group.iter().flat_map(|h| ids(&h.advisory)).collect();
    let id = all_ids
        .iter()
        .copied()
        .min_by(|a, b| id_rank(a).cmp(&id_rank(b)))
        .unwrap_or_default()
        .to_string();
    // The record carrying the reported id (or the best-ranked record) leads.
    let carries = |h: &Hit| !ids(&h.advisory).any(|x| x == id);
    group.sort_by(|a, b| {
        (carries(a), id_rank(&a.advisory.id)).cmp(&(carries(b), id_rank(&b.advisory.id)))
    });
    let aliases: Vec<String> = all_ids
        .iter()
        .filter(|x| **x != id)
        .map(|x| x.to_string())
        .collect();

    let mut fixed: Vec<String> = group.iter().flat_map(|h| h.fixed.iter().cloned()).collect();
    fixed.sort_by(|a, b| version_order(q.scheme, a, b));
    fixed.dedup();

    let records: Vec<(&Advisory, Vec<&Affected>)> = group
        .iter()
        .map(|h| {
            let entries = h
                .entries
                .iter()
                .filter_map(|i| h.advisory.affected.get(*i))
                .collect();
            (&*h.advisory, entries)
        })
        .collect();
    let assessment = assess(&records, scorer);

    let title = group
        .iter()
        .find_map(|h| h.advisory.summary.clone().filter(|s| !s.trim().is_empty()))
        .or_else(|| {
            group.iter().find_map(|h| {
                let d = h.advisory.details.as_deref()?.lines().next()?.trim();
                (!d.is_empty()).then(|| d.chars().take(200).collect())
            })
        });
    let mut seen = BTreeSet::new();
    let references = group
        .iter()
        .flat_map(|h| h.advisory.references.iter().map(|r| r.url.clone()))
        .filter(|u| seen.insert(u.clone()))
        .collect();
    let data_source = group
        .first()
        .and_then(|h| {
            h.advisory
                .database_specific
                .as_ref()?
                .get("source")?
                .as_str()
        })
        .map_or_else(|| format!("osv:{}", q.ecosystem), str::to_string);

    let records: BTreeSet<String> = group.iter().map(|h| h.advisory.id.clone()).collect();
    Finding {
        id,
        aliases,
        records: records.into_iter().collect(),
        package_id: p.id.clone(),
        package_name: p.name.clone(),
        installed_version: match (p.package_type.is_os(), p.epoch) {
            (true, Some(e)) => format!("{e}:{}", p.version),
            _ => p.version.clone(),
        },
        fixed_versions: fixed,
        severity: assessment.severity,
        severity_source: assessment.source,
        cvss_score: assessment.cvss_score,
        cvss_vector: assessment.cvss_vector,
        title,
        references,
        layer: p.layer.clone(),
        locations: p.locations.clone(),
        data_source,
    }
}

/// Orders fixed versions by the ecosystem (SemVer-looking strings fall back
/// to SemVer), then as strings.
fn version_order(scheme: Ecosystem, a: &str, b: &str) -> std::cmp::Ordering {
    let parse = |v: &str| parse_version(scheme, v).or_else(|| parse_version(Ecosystem::SemVer, v));
    match (parse(a), parse(b)) {
        (Some(x), Some(y)) if x.ecosystem() == y.ecosystem() => x.cmp(&y).then_with(|| a.cmp(b)),
        _ => a.cmp(b),
    }
}
