//! The version-independent half of parsing: splitting `METRIC:VALUE/...` and checking
//! each field against a version's metric table.

use crate::error::{cut, CvssError};
use crate::Version;

/// Which group of a specification a metric belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(crate) enum Group {
    /// Mandatory base metrics.
    Base,
    /// v2/v3 temporal metrics, v4 threat metrics.
    Temporal,
    /// Environmental (requirement and modified base) metrics.
    Environmental,
    /// v4 supplemental metrics: parsed, never scored.
    Supplemental,
}

/// One metric of a version: its abbreviation and its allowed values. The first
/// value of an optional metric is its "not defined" value (`X` or `ND`).
#[derive(Debug, PartialEq, Eq, Hash)]
pub(crate) struct MetricDef {
    pub key: &'static str,
    pub group: Group,
    pub values: &'static [&'static str],
}

/// Shorthand for the metric tables.
pub(crate) const fn def(
    key: &'static str,
    group: Group,
    values: &'static [&'static str],
) -> MetricDef {
    MetricDef { key, group, values }
}

/// The metrics given in one vector, by position in the version's table. Values are
/// the table's own `&'static str`s, so scoring can `match` on them.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub(crate) struct Metrics {
    defs: &'static [MetricDef],
    values: Vec<Option<&'static str>>,
}

impl Metrics {
    /// The value given for `key`, or `None` when the vector does not name it.
    pub fn given(&self, key: &str) -> Option<&'static str> {
        self.defs
            .iter()
            .zip(&self.values)
            .find(|(d, _)| d.key == key)
            .and_then(|(_, v)| *v)
    }

    /// The value of `key`, or its "not defined" value when absent.
    pub fn get(&self, key: &str) -> &'static str {
        self.given(key)
            .or_else(|| {
                self.defs
                    .iter()
                    .find(|d| d.key == key)
                    .and_then(|d| d.values.first().copied())
            })
            .unwrap_or("")
    }

    /// Whether any metric of `group` is given with a value other than "not defined".
    pub fn any_defined(&self, group: Group) -> bool {
        self.defs.iter().zip(&self.values).any(|(d, v)| {
            d.group == group && v.is_some_and(|v| d.values.first().is_some_and(|nd| *nd != v))
        })
    }

    /// `(metric, value)` pairs of the given metrics, in the specification's order.
    pub fn iter(&self) -> impl Iterator<Item = (&'static str, &'static str)> + '_ {
        self.defs
            .iter()
            .zip(&self.values)
            .filter_map(|(d, v)| v.map(|v| (d.key, v)))
    }

    /// A copy holding only the metrics of the groups `keep` accepts.
    pub fn filtered(&self, keep: impl Fn(Group) -> bool) -> Metrics {
        Metrics {
            defs: self.defs,
            values: self
                .defs
                .iter()
                .zip(&self.values)
                .map(|(d, v)| if keep(d.group) { *v } else { None })
                .collect(),
        }
    }
}

/// Parses `body` (the vector without its `CVSS:x.y/` prefix or parentheses) against
/// `defs`. `vector` is the whole input, for error messages.
pub(crate) fn parse_fields(
    version: Version,
    vector: &str,
    body: &str,
    defs: &'static [MetricDef],
) -> Result<Metrics, CvssError> {
    let mut values: Vec<Option<&'static str>> = vec![None; defs.len()];
    for field in body.split('/') {
        let malformed = || CvssError::MalformedField {
            version,
            vector: cut(vector),
            field: cut(field),
        };
        let (metric, value) = field.split_once(':').ok_or_else(malformed)?;
        if metric.is_empty() || value.is_empty() || value.contains(':') {
            return Err(malformed());
        }
        let (def, slot) = defs
            .iter()
            .zip(values.iter_mut())
            .find(|(d, _)| d.key == metric)
            .ok_or_else(|| CvssError::UnknownMetric {
                version,
                vector: cut(vector),
                metric: cut(metric),
            })?;
        let value =
            def.values
                .iter()
                .find(|v| **v == value)
                .ok_or_else(|| CvssError::InvalidValue {
                    version,
                    vector: cut(vector),
                    metric: def.key,
                    value: cut(value),
                })?;
        if slot.is_some() {
            return Err(CvssError::DuplicateMetric {
                version,
                vector: cut(vector),
                metric: def.key,
            });
        }
        *slot = Some(value);
    }
    if let Some((def, _)) = defs
        .iter()
        .zip(&values)
        .find(|(d, v)| d.group == Group::Base && v.is_none())
    {
        return Err(CvssError::MissingMetric {
            version,
            vector: cut(vector),
            metric: def.key,
        });
    }
    Ok(Metrics { defs, values })
}
