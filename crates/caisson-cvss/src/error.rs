//! Errors returned while parsing CVSS vectors.

use crate::Version;

/// Why a CVSS vector string was rejected. Every variant names the vector (cut to
/// [`ERROR_VECTOR_CHARS`] characters) and, where there is one, the offending metric.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum CvssError {
    /// The input is empty (or only whitespace).
    #[error("parsing CVSS vector: the input is empty")]
    Empty,
    /// The input exceeds [`crate::MAX_VECTOR_LEN`] bytes.
    #[error(
        "parsing CVSS vector {vector:?}: input is {len} bytes, longer than the {max}-byte limit"
    )]
    TooLong {
        /// The start of the input.
        vector: String,
        /// Length of the input in bytes.
        len: usize,
        /// The limit.
        max: usize,
    },
    /// A `CVSS:x.y/` prefix names a version this crate does not know, or the prefix
    /// is malformed (`CVSS:3.1` without fields, `cvss:3.1/...`, an unbalanced `(`).
    #[error("parsing CVSS vector {vector:?}: unsupported or malformed prefix {prefix:?}")]
    BadPrefix {
        /// The (cut) input.
        vector: String,
        /// The prefix as found.
        prefix: String,
    },
    /// A field is empty or not of the form `METRIC:VALUE`.
    #[error(
        "parsing CVSS {version} vector {vector:?}: field {field:?} is not of the form METRIC:VALUE"
    )]
    MalformedField {
        /// Version the vector was parsed as.
        version: Version,
        /// The (cut) input.
        vector: String,
        /// The offending field (cut).
        field: String,
    },
    /// The metric name is not defined by this CVSS version.
    #[error("parsing CVSS {version} vector {vector:?}: unknown metric {metric:?}")]
    UnknownMetric {
        /// Version the vector was parsed as.
        version: Version,
        /// The (cut) input.
        vector: String,
        /// The unknown metric name (cut).
        metric: String,
    },
    /// The metric exists but the value is not one of its values.
    #[error(
        "parsing CVSS {version} vector {vector:?}: invalid value {value:?} for metric {metric}"
    )]
    InvalidValue {
        /// Version the vector was parsed as.
        version: Version,
        /// The (cut) input.
        vector: String,
        /// The metric.
        metric: &'static str,
        /// The rejected value (cut).
        value: String,
    },
    /// The metric appears more than once.
    #[error("parsing CVSS {version} vector {vector:?}: metric {metric} appears more than once")]
    DuplicateMetric {
        /// Version the vector was parsed as.
        version: Version,
        /// The (cut) input.
        vector: String,
        /// The repeated metric.
        metric: &'static str,
    },
    /// A mandatory base metric is absent.
    #[error("parsing CVSS {version} vector {vector:?}: mandatory base metric {metric} is missing")]
    MissingMetric {
        /// Version the vector was parsed as.
        version: Version,
        /// The (cut) input.
        vector: String,
        /// The first missing metric, in the specification's order.
        metric: &'static str,
    },
}

/// How many characters of the input (or of a field) an error message keeps.
pub const ERROR_VECTOR_CHARS: usize = 200;

/// The first [`ERROR_VECTOR_CHARS`] characters of `s`, with `…` when cut.
pub(crate) fn cut(s: &str) -> String {
    match s.char_indices().nth(ERROR_VECTOR_CHARS) {
        Some((at, _)) => format!("{}…", s.get(..at).unwrap_or_default()),
        None => s.to_owned(),
    }
}
