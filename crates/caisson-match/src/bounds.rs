//! Bounds an index stores next to each (package, record) pair, so that the
//! matcher can pass over records that cannot affect an installed version
//! without loading them: most installed packages are newer than every
//! version their advisories mention.
//!
//! A record's entries for one package affect no version strictly above
//! every bound when, in each range the matcher evaluates, the highest event
//! (in the order [`evaluate`](crate::evaluate::evaluate) walks them) closes
//! the range — `fixed`, `last_affected` or `limit` — and every listed
//! version is below. Anything the matcher would treat specially (an open
//! range, an unparseable event, which it reports, an `unfixed` /
//! `end-of-life` entry without ranges) gives no bound, so the matcher
//! evaluates the record in full, exactly as before.

use caisson_model::{Advisory, Affected, Bound, BoundOrdering};
use caisson_version::{Ecosystem, Version};

use crate::evaluate::{
    event_parts, parse_events, parse_version, range_affects, range_scheme, Kind,
};

/// The `database_specific.status` an importer set (entry first, then record).
pub(crate) fn status<'a>(adv: &'a Advisory, entry: &'a Affected) -> Option<&'a str> {
    let get = |v: Option<&'a serde_json::Value>| v?.get("status")?.as_str();
    get(entry.database_specific.as_ref()).or_else(|| get(adv.database_specific.as_ref()))
}

/// True for an entry that affects every version regardless of ranges.
pub(crate) fn unconditional(status: Option<&str>, entry: &Affected) -> bool {
    matches!(status, Some("unfixed" | "end-of-life"))
        && entry.ranges.is_empty()
        && entry.versions.is_empty()
}

/// The bounds above which `entries` (the entries of `adv` for one package)
/// affect nothing; `None` when there are none. An empty list: the entries
/// affect no version at all.
pub fn bounds_above(adv: &Advisory, entries: &[&Affected]) -> Option<Vec<Bound>> {
    if adv.withdrawn.is_some() {
        return Some(Vec::new());
    }
    let mut eco: Option<(Version, String)> = None;
    let mut semver: Option<(Version, String)> = None;
    let raise = |slot: &mut Option<(Version, String)>, v: Version, raw: &str| {
        if slot.as_ref().is_none_or(|(m, _)| v > *m) {
            *slot = Some((v, raw.to_string()));
        }
    };
    for entry in entries {
        let st = status(adv, entry);
        if st == Some("not-affected") {
            continue;
        }
        if unconditional(st, entry) {
            return None;
        }
        let scheme: Ecosystem = entry.package.as_ref()?.ecosystem.parse().ok()?;
        for range in &entry.ranges {
            let Some(rs) = range_scheme(&range.kind, scheme) else {
                continue; // GIT ranges are not evaluated
            };
            let events = parse_events(rs, &range.events).ok()?;
            let Some(last) = events.last() else { continue };
            if last.kind == Kind::Introduced {
                return None; // open: every later version is affected
            }
            let version = last.version.clone()?;
            let slot = if range.kind == "SEMVER" {
                &mut semver
            } else {
                &mut eco
            };
            raise(slot, version, last.raw);
        }
        // A listed version that does not parse can only match an installed
        // version that does not parse either, which no bound rejects.
        for listed in &entry.versions {
            if let Some(v) = parse_version(scheme, listed) {
                raise(&mut eco, v, listed);
            }
        }
    }
    Some(
        [
            (BoundOrdering::Ecosystem, eco),
            (BoundOrdering::SemVer, semver),
        ]
        .into_iter()
        .filter_map(|(ordering, slot)| slot.map(|(_, version)| Bound { ordering, version }))
        .collect(),
    )
}

/// How the versions of a record's range events order.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct VersionCounts {
    /// Event versions the ecosystem's own rules reject and OSV's fallback
    /// rules order ([`caisson_version::Ecosystem::parse_lenient`]).
    pub fallback: u64,
    /// Event versions that nothing orders: their ranges cannot be
    /// evaluated (the matcher reports each as `advisory-range-unusable`).
    pub unorderable: u64,
}

impl VersionCounts {
    pub fn add(&mut self, other: VersionCounts) {
        self.fallback = self.fallback.saturating_add(other.fallback);
        self.unorderable = self.unorderable.saturating_add(other.unorderable);
    }
}

/// Counts the event versions of `adv`'s `ECOSYSTEM` and `SEMVER` ranges
/// (entries of ecosystems `caisson-version` orders; not `introduced: "0"`
/// nor `limit: "*"`) that order only by the fallback, or not at all.
pub fn version_counts(adv: &Advisory) -> VersionCounts {
    let mut counts = VersionCounts::default();
    if adv.withdrawn.is_some() {
        return counts;
    }
    for entry in &adv.affected {
        let Some(scheme) = entry
            .package
            .as_ref()
            .and_then(|p| p.ecosystem.parse::<Ecosystem>().ok())
        else {
            continue;
        };
        for range in &entry.ranges {
            let Some(rs) = range_scheme(&range.kind, scheme) else {
                continue;
            };
            for (kind, raw) in range.events.iter().filter_map(event_parts) {
                if (kind == Kind::Introduced && raw == "0") || (kind == Kind::Limit && raw == "*") {
                    continue;
                }
                match parse_version(rs, raw) {
                    None => counts.unorderable += 1,
                    Some(v) if v.is_fallback() => counts.fallback += 1,
                    Some(_) => {}
                }
            }
        }
    }
    counts
}

/// Drops from each `affected[]` entry's `versions` the versions its own
/// ranges already affect (OSV lists are often an enumeration of the
/// ranges), so that a stored record loads fast; what the record affects is
/// unchanged: a version is affected when listed *or* in a range. Returns the
/// number of versions dropped.
pub fn prune_covered_versions(adv: &mut Advisory) -> usize {
    let mut dropped = 0;
    for entry in &mut adv.affected {
        if entry.versions.is_empty() || entry.ranges.is_empty() {
            continue;
        }
        let Some(scheme) = entry
            .package
            .as_ref()
            .and_then(|p| p.ecosystem.parse::<Ecosystem>().ok())
        else {
            continue;
        };
        let ranges: Vec<_> = entry
            .ranges
            .iter()
            .filter_map(|r| {
                let rs = range_scheme(&r.kind, scheme)?;
                Some((rs, parse_events(rs, &r.events).ok()?))
            })
            .collect();
        let before = entry.versions.len();
        entry.versions.retain(|listed| {
            !ranges.iter().any(|(rs, events)| {
                parse_version(*rs, listed).is_some_and(|v| range_affects(&v, events))
            })
        });
        dropped += before - entry.versions.len();
    }
    dropped
}

/// Parsed bounds, ready to compare installed versions against.
#[derive(Debug, Clone)]
pub(crate) struct ParsedBounds(Vec<(Ecosystem, Version)>);

impl ParsedBounds {
    /// Parses `bounds` for a package whose ecosystem orders by `scheme`;
    /// `None` when a bound does not parse (the record is then evaluated).
    pub(crate) fn parse(bounds: &[Bound], scheme: Ecosystem) -> Option<ParsedBounds> {
        bounds
            .iter()
            .map(|b| {
                let s = match b.ordering {
                    BoundOrdering::Ecosystem => scheme,
                    BoundOrdering::SemVer => Ecosystem::SemVer,
                };
                Some((s, parse_version(s, &b.version)?))
            })
            .collect::<Option<Vec<_>>>()
            .map(ParsedBounds)
    }

    /// True when `installed` is strictly above every bound, so the record
    /// cannot affect it. `parse` memoizes the installed version per ordering.
    pub(crate) fn excludes(&self, parse: &mut impl FnMut(Ecosystem) -> Option<Version>) -> bool {
        self.0
            .iter()
            .all(|(scheme, bound)| parse(*scheme).is_some_and(|v| v > *bound))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::evaluate::evaluate;
    use caisson_model::{AffectedPackage, Event, Range};

    fn entry(eco: &str, kind: &str, events: &[(&str, &str)], versions: &[&str]) -> Affected {
        let events = events
            .iter()
            .map(|(k, v)| {
                let mut e = Event::default();
                let s = Some(v.to_string());
                match *k {
                    "i" => e.introduced = s,
                    "f" => e.fixed = s,
                    "l" => e.last_affected = s,
                    _ => e.limit = s,
                }
                e
            })
            .collect();
        Affected {
            package: Some(AffectedPackage {
                ecosystem: eco.into(),
                name: "p".into(),
                ..AffectedPackage::default()
            }),
            ranges: vec![Range {
                kind: kind.into(),
                events,
                ..Range::default()
            }],
            versions: versions.iter().map(|s| s.to_string()).collect(),
            ..Affected::default()
        }
    }

    fn bounds(entries: &[Affected]) -> Option<Vec<(BoundOrdering, String)>> {
        let adv = Advisory::default();
        let refs: Vec<&Affected> = entries.iter().collect();
        bounds_above(&adv, &refs).map(|b| b.into_iter().map(|b| (b.ordering, b.version)).collect())
    }

    #[test]
    fn closed_ranges_and_lists_give_their_highest_version() {
        let e = entry(
            "PyPI",
            "ECOSYSTEM",
            &[("i", "0"), ("f", "1.10"), ("i", "2.0"), ("f", "2.3")],
            &["2.9"],
        );
        assert_eq!(
            bounds(&[e]),
            Some(vec![(BoundOrdering::Ecosystem, "2.9".into())])
        );
        let e = entry("Go", "SEMVER", &[("i", "0"), ("l", "1.4.0")], &[]);
        assert_eq!(
            bounds(&[e]),
            Some(vec![(BoundOrdering::SemVer, "1.4.0".into())])
        );
    }

    #[test]
    fn open_ranges_bad_events_and_unfixed_entries_give_none() {
        assert_eq!(
            bounds(&[entry("npm", "SEMVER", &[("i", "1.0.0")], &[])]),
            None
        );
        assert_eq!(
            bounds(&[entry("npm", "SEMVER", &[("i", "0"), ("f", "x.y")], &[])]),
            None
        );
        let mut e = entry("Debian:12", "ECOSYSTEM", &[], &[]);
        e.ranges.clear();
        e.database_specific = Some(serde_json::json!({"status": "unfixed"}));
        assert_eq!(bounds(&[e]), None);
    }

    #[test]
    fn git_ranges_and_not_affected_entries_bound_nothing() {
        assert_eq!(
            bounds(&[entry("PyPI", "GIT", &[("i", "abc")], &[])]),
            Some(vec![])
        );
        let mut e = entry("PyPI", "ECOSYSTEM", &[("i", "0")], &[]);
        e.database_specific = Some(serde_json::json!({"status": "not-affected"}));
        assert_eq!(bounds(&[e]), Some(vec![]));
    }

    /// Pruning keeps exactly the listed versions no range affects, and what
    /// the entry affects does not change.
    #[test]
    fn pruning_drops_only_what_ranges_cover() {
        let e = entry(
            "PyPI",
            "ECOSYSTEM",
            &[("i", "1.0"), ("f", "1.5")],
            &["1.0", "1.2", "1.4.9", "1.5", "0.9", "2.0"],
        );
        let mut adv = Advisory {
            affected: vec![e.clone()],
            ..Advisory::default()
        };
        assert_eq!(prune_covered_versions(&mut adv), 3);
        assert_eq!(adv.affected[0].versions, ["1.5", "0.9", "2.0"]);
        for v in [
            "0.8", "0.9", "1.0", "1.2", "1.4.9", "1.5", "1.6", "2.0", "2.0.0", "3",
        ] {
            assert_eq!(
                evaluate(&e, Ecosystem::PyPI, v),
                evaluate(&adv.affected[0], Ecosystem::PyPI, v),
                "{v}"
            );
        }
    }

    /// The promise, checked against the evaluation itself: above the
    /// bounds nothing is affected.
    #[test]
    fn nothing_above_the_bounds_is_affected() {
        let entries = [
            entry(
                "PyPI",
                "ECOSYSTEM",
                &[
                    ("i", "1.0"),
                    ("f", "1.5"),
                    ("i", "2.0rc1"),
                    ("l", "2.4.post1"),
                ],
                &["0.9", "3.0.dev0"],
            ),
            entry(
                "crates.io",
                "SEMVER",
                &[("i", "0"), ("f", "0.3.1-alpha"), ("limit", "*")],
                &[],
            ),
            entry(
                "Alpine:v3.20",
                "ECOSYSTEM",
                &[("i", "0"), ("f", "1.2.3-r4")],
                &[],
            ),
        ];
        let probes = [
            "0",
            "1.0",
            "1.4.9",
            "2.4.post1",
            "2.4.post2",
            "3.0.dev0",
            "3.0",
            "0.3.1-alpha",
            "0.3.1",
            "1.2.3-r4",
            "1.2.3-r5",
            "9",
        ];
        for e in &entries {
            let adv = Advisory::default();
            let b = bounds_above(&adv, &[e]).expect("bounded");
            let scheme: Ecosystem = e
                .package
                .as_ref()
                .expect("package")
                .ecosystem
                .parse()
                .expect("scheme");
            let parsed = ParsedBounds::parse(&b, scheme).expect("bounds parse");
            for v in probes {
                let excluded = parsed.excludes(&mut |s| parse_version(s, v));
                if excluded {
                    assert!(
                        !evaluate(e, scheme, v).affected,
                        "{v} excluded but affected by {e:?}"
                    );
                }
            }
            let top = b.iter().map(|b| b.version.as_str()).collect::<Vec<_>>();
            assert!(
                !parsed.excludes(&mut |s| parse_version(s, top[0])),
                "a bound itself is not excluded"
            );
        }
    }
}
