//! OSV's affected-version evaluation for one `affected[]` entry
//! (<https://ossf.github.io/osv-schema/#evaluation>): the version is affected
//! when it is listed in `versions`, or when, walking a range's events sorted
//! by version, the last event at or below it opens the range (`introduced`)
//! rather than closing it (`fixed` at or below, `last_affected` strictly
//! below, `limit` at or below). `introduced: "0"` sorts before every version.
//!
//! Versions are ordered by [`Ecosystem::parse_lenient`]: the ecosystem's own
//! rules, and OSV's reference rules for the strings those reject (typos in
//! Alpine's secdb, legacy PyPI versions, `v`-prefixed SemVer). Only a range
//! with a version not even those rules can order is skipped, and reported.

use std::cmp::Ordering;

use caisson_model::{Affected, Event};
use caisson_version::{Ecosystem, Version};

/// The verdict for one `affected[]` entry.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Verdict {
    /// True when the version is affected.
    pub affected: bool,
    /// `fixed` events above the version in the ranges that affect it (or, when
    /// only `versions` matched, in every evaluated range), in version order.
    pub fixed: Vec<String>,
    /// Ranges that could not be evaluated: `(range index, reason)`.
    pub skipped: Vec<(usize, String)>,
    /// Versions of the evaluated ranges (and the installed version) that the
    /// ecosystem's rules reject and OSV's fallback rules ordered.
    pub fallback: Vec<String>,
}

/// The ordering a range type uses, given the package's ecosystem scheme.
/// `SEMVER` ranges use SemVer 2.0.0 precedence; `ECOSYSTEM` ranges use the
/// ecosystem's own; anything else (`GIT`) is not evaluated.
pub(crate) fn range_scheme(kind: &str, ecosystem: Ecosystem) -> Option<Ecosystem> {
    match kind {
        "SEMVER" => Some(Ecosystem::SemVer),
        "ECOSYSTEM" => Some(ecosystem),
        _ => None,
    }
}

/// Parses `v` under `scheme` ([`Ecosystem::parse_lenient`]: the
/// ecosystem's rules, else OSV's fallback rules); SemVer accepts (and drops)
/// a leading `v`, which Go module versions carry and OSV's SEMVER strings do
/// not. `None` only for what neither can order.
pub fn parse_version(scheme: Ecosystem, v: &str) -> Option<Version> {
    let v = v.trim();
    let v = if scheme == Ecosystem::SemVer {
        v.strip_prefix('v').unwrap_or(v)
    } else {
        v
    };
    scheme.parse_lenient(v).ok()
}

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub(crate) enum Kind {
    Introduced,
    Fixed,
    LastAffected,
    Limit,
}

pub(crate) struct Parsed<'e> {
    pub(crate) kind: Kind,
    pub(crate) raw: &'e str,
    /// `None` for `introduced: "0"`, which precedes every version.
    pub(crate) version: Option<Version>,
}

pub(crate) fn event_parts(e: &Event) -> Option<(Kind, &str)> {
    if let Some(v) = &e.introduced {
        return Some((Kind::Introduced, v));
    }
    if let Some(v) = &e.fixed {
        return Some((Kind::Fixed, v));
    }
    if let Some(v) = &e.last_affected {
        return Some((Kind::LastAffected, v));
    }
    e.limit.as_deref().map(|v| (Kind::Limit, v))
}

pub(crate) fn parse_events(scheme: Ecosystem, events: &[Event]) -> Result<Vec<Parsed<'_>>, String> {
    let mut out = Vec::with_capacity(events.len());
    for e in events {
        let Some((kind, raw)) = event_parts(e) else {
            continue;
        };
        if kind == Kind::Limit && raw == "*" {
            continue; // an unbounded limit bounds nothing
        }
        let version = if kind == Kind::Introduced && raw == "0" {
            None
        } else {
            Some(
                parse_version(scheme, raw)
                    .ok_or_else(|| format!("{kind:?} event {raw:?} is not a {scheme} version"))?,
            )
        };
        out.push(Parsed { kind, raw, version });
    }
    // Stable: events at the same version keep their written order.
    out.sort_by(|a, b| match (&a.version, &b.version) {
        (None, None) => Ordering::Equal,
        (None, Some(_)) => Ordering::Less,
        (Some(_), None) => Ordering::Greater,
        (Some(x), Some(y)) => x.cmp(y),
    });
    Ok(out)
}

/// Evaluates one range's events for `v` (already parsed under `scheme`).
pub(crate) fn range_affects(v: &Version, events: &[Parsed<'_>]) -> bool {
    let mut affected = false;
    for e in events {
        let cmp = e.version.as_ref().map_or(Ordering::Greater, |ev| v.cmp(ev));
        match e.kind {
            Kind::Introduced if cmp.is_ge() => affected = true,
            Kind::Fixed | Kind::Limit if cmp.is_ge() => affected = false,
            Kind::LastAffected if cmp.is_gt() => affected = false,
            _ => {}
        }
    }
    affected
}

/// Evaluates `installed` against one `affected[]` entry of a package whose
/// `ECOSYSTEM` ranges order by `ecosystem`.
pub fn evaluate(entry: &Affected, ecosystem: Ecosystem, installed: &str) -> Verdict {
    let mut verdict = Verdict::default();
    let eco_v = parse_version(ecosystem, installed);

    let mut ranges = Vec::new();
    for (i, range) in entry.ranges.iter().enumerate() {
        let Some(scheme) = range_scheme(&range.kind, ecosystem) else {
            continue;
        };
        let Some(v) = (if scheme == ecosystem {
            eco_v.clone()
        } else {
            parse_version(scheme, installed)
        }) else {
            verdict.skipped.push((
                i,
                format!("installed version {installed:?} is not a {scheme} version"),
            ));
            continue;
        };
        let events = match parse_events(scheme, &range.events) {
            Ok(e) => e,
            Err(reason) => {
                verdict.skipped.push((i, reason));
                continue;
            }
        };
        if v.is_fallback() && !verdict.fallback.iter().any(|f| f == installed) {
            verdict.fallback.push(installed.to_string());
        }
        for e in &events {
            if e.version.as_ref().is_some_and(Version::is_fallback)
                && !verdict.fallback.iter().any(|f| f == e.raw)
            {
                verdict.fallback.push(e.raw.to_string());
            }
        }
        let hit = range_affects(&v, &events);
        verdict.affected |= hit;
        ranges.push((v, events, hit));
    }

    // Listed versions: the exact string first; parsing every entry (PyPI and
    // Go records list hundreds) only when no range matched already.
    let listed = entry.versions.iter().any(|listed| listed == installed)
        || (!verdict.affected
            && eco_v.as_ref().is_some_and(|v| {
                entry
                    .versions
                    .iter()
                    .any(|listed| parse_version(ecosystem, listed).is_some_and(|l| &l == v))
            }));
    verdict.affected |= listed;

    for (v, events, hit) in &ranges {
        if *hit || listed {
            verdict.fixed.extend(
                events
                    .iter()
                    .filter(|e| e.kind == Kind::Fixed && e.version.as_ref().is_some_and(|f| f > v))
                    .map(|e| e.raw.to_string()),
            );
        }
    }
    let mut seen = std::collections::HashSet::new();
    verdict.fixed.retain(|f| seen.insert(f.clone()));
    verdict
}

#[cfg(test)]
mod tests {
    use super::*;
    use caisson_model::Range;

    fn ev(kind: &str, v: &str) -> Event {
        let mut e = Event::default();
        let s = Some(v.to_string());
        match kind {
            "i" => e.introduced = s,
            "f" => e.fixed = s,
            "l" => e.last_affected = s,
            _ => e.limit = s,
        }
        e
    }

    fn entry(kind: &str, events: Vec<Event>, versions: &[&str]) -> Affected {
        Affected {
            ranges: vec![Range {
                kind: kind.into(),
                events,
                ..Range::default()
            }],
            versions: versions.iter().map(|s| s.to_string()).collect(),
            ..Affected::default()
        }
    }

    #[test]
    fn introduced_fixed_pairs_in_any_written_order() {
        let e = entry(
            "ECOSYSTEM",
            vec![ev("i", "2.0"), ev("f", "2.3"), ev("i", "0"), ev("f", "1.2")],
            &[],
        );
        let check = |v: &str| evaluate(&e, Ecosystem::PyPI, v);
        assert!(check("1.0").affected);
        assert_eq!(check("1.0").fixed, vec!["1.2", "2.3"]);
        assert!(!check("1.2").affected);
        assert!(!check("1.9").affected);
        assert!(check("2.0").affected);
        assert_eq!(check("2.1").fixed, vec!["2.3"]);
        assert!(!check("2.3").affected);
        assert!(!check("10").affected);
    }

    #[test]
    fn last_affected_is_inclusive_and_limit_exclusive() {
        let e = entry("SEMVER", vec![ev("i", "1.0.0"), ev("l", "1.4.0")], &[]);
        assert!(evaluate(&e, Ecosystem::Go, "v1.4.0").affected);
        assert!(!evaluate(&e, Ecosystem::Go, "1.4.1").affected);
        assert!(evaluate(&e, Ecosystem::Go, "1.0.0").fixed.is_empty());
        let e = entry("ECOSYSTEM", vec![ev("i", "0"), ev("limit", "3")], &[]);
        assert!(evaluate(&e, Ecosystem::PyPI, "2.9").affected);
        assert!(!evaluate(&e, Ecosystem::PyPI, "3").affected);
    }

    #[test]
    fn listed_versions_and_git_ranges() {
        let e = entry("GIT", vec![ev("i", "abc"), ev("f", "def")], &["1.0.0"]);
        assert!(evaluate(&e, Ecosystem::PyPI, "1.0").affected);
        assert!(!evaluate(&e, Ecosystem::PyPI, "1.1").affected);
    }

    /// Regression (issue 15): `fixed: 1.18.-r2` in Alpine's secdb is not a
    /// version apk accepts, and the range was skipped, so no version was
    /// affected. OSV's rules read it as `1.18-r2`.
    #[test]
    fn secdb_typo_bounds_order_by_osv_rules() {
        let e = entry("ECOSYSTEM", vec![ev("i", "0"), ev("f", "1.18.-r2")], &[]);
        let v = evaluate(&e, Ecosystem::Alpine, "1.18-r1");
        assert!(v.affected && v.skipped.is_empty(), "{v:?}");
        assert_eq!(v.fixed, vec!["1.18.-r2"]);
        assert_eq!(v.fallback, vec!["1.18.-r2"]);
        assert!(!evaluate(&e, Ecosystem::Alpine, "1.18-r2").affected);
        // A remainder OSV cannot read puts the bound just below the rest.
        let e = entry("ECOSYSTEM", vec![ev("i", "0"), ev("f", "2.7.16-33")], &[]);
        assert!(evaluate(&e, Ecosystem::Alpine, "2.7.15-r3").affected);
        assert!(!evaluate(&e, Ecosystem::Alpine, "2.7.16-r0").affected);
    }

    /// Legacy PyPI versions sort below every PEP 440 version, as OSV and
    /// pre-22 `packaging` order them; `v`-prefixed SemVer reads as SemVer.
    #[test]
    fn legacy_pypi_and_prefixed_semver_order_by_osv_rules() {
        let e = entry("ECOSYSTEM", vec![ev("i", "0"), ev("f", "2019-09-12")], &[]);
        assert!(evaluate(&e, Ecosystem::PyPI, "0.3m1").affected);
        assert!(!evaluate(&e, Ecosystem::PyPI, "0.1").affected);
        let e = entry("ECOSYSTEM", vec![ev("i", "0"), ev("f", "v1.2.0")], &[]);
        assert!(evaluate(&e, Ecosystem::Pub, "1.1.9").affected);
        assert!(!evaluate(&e, Ecosystem::Pub, "v1.2.0").affected);
        let e = entry("ECOSYSTEM", vec![ev("i", "1.0"), ev("f", "1.4.2")], &[]);
        assert!(evaluate(&e, Ecosystem::Npm, "1.0.0").affected);
    }

    #[test]
    fn unparseable_events_skip_only_their_range() {
        let e = entry("SEMVER", vec![ev("i", "0"), ev("f", "not.a.version")], &[]);
        let v = evaluate(&e, Ecosystem::CratesIo, "1.0.0");
        assert!(!v.affected);
        assert_eq!(v.skipped.len(), 1);
    }
}
