//! Error types: [`DbError`] for a database file that cannot be read at all,
//! [`EntryError`] / [`HeaderError`] for one record that is damaged while the
//! others are still usable.

use crate::DbFormat;

/// The database file as a whole could not be read.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum DbError {
    /// The bytes carry none of the three known magic numbers.
    #[error("detecting the rpmdb format: no sqlite, Berkeley DB hash or ndb magic found")]
    UnknownFormat,
    /// The file is shorter than its own structures say it is.
    #[error("reading {format} rpmdb: file truncated ({reason})")]
    Truncated {
        /// Which reader saw it.
        format: DbFormat,
        /// What was missing.
        reason: String,
    },
    /// A structural part of the file (metadata, page, slot) is invalid.
    #[error("reading {format} rpmdb: corrupt database ({reason})")]
    Corrupt {
        /// Which reader saw it.
        format: DbFormat,
        /// What was wrong.
        reason: String,
    },
    /// A valid file using a feature this reader does not implement.
    #[error("reading {format} rpmdb: unsupported ({reason})")]
    Unsupported {
        /// Which reader saw it.
        format: DbFormat,
        /// The feature.
        reason: String,
    },
    /// A [`crate::Limits`] bound was hit.
    #[error("reading {format} rpmdb: limit exceeded: {what} (limit {limit})")]
    LimitExceeded {
        /// Which reader hit it.
        format: DbFormat,
        /// Which limit.
        what: &'static str,
        /// Its value.
        limit: u64,
    },
    /// SQLite refused the database or the query.
    #[error("reading sqlite rpmdb: {operation}")]
    Sqlite {
        /// What was being done.
        operation: &'static str,
        /// SQLite's error.
        #[source]
        source: rusqlite::Error,
    },
    /// Writing the private temporary copy needed to replay a WAL failed.
    #[error("reading sqlite rpmdb: preparing a private copy to replay its WAL")]
    TempCopy {
        /// The I/O error.
        #[source]
        source: std::io::Error,
    },
}

/// One record (package header) of the database could not be read or parsed.
#[derive(Debug, thiserror::Error)]
#[error("reading rpmdb record {record}")]
pub struct EntryError {
    /// The record's key: header number (sqlite `hnum`, Berkeley DB key, ndb pkgidx).
    pub record: u32,
    /// What was wrong.
    #[source]
    pub error: HeaderError,
}

/// A header blob (or the storage holding it) is invalid.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[non_exhaustive]
pub enum HeaderError {
    /// The storage around the blob is damaged (overflow chain, ndb blob frame...).
    #[error("reading the header blob from storage: {0}")]
    Storage(String),
    /// The blob is smaller than the 8-byte preamble or than il/dl announce.
    #[error("parsing rpm header: blob of {len} bytes is too short ({reason})")]
    TooShort {
        /// Blob length.
        len: usize,
        /// Which part is missing.
        reason: &'static str,
    },
    /// The blob is longer than `8 + 16 * il + dl`.
    #[error(
        "parsing rpm header: blob of {len} bytes has {extra} trailing bytes after the data store"
    )]
    TrailingBytes {
        /// Blob length.
        len: usize,
        /// Bytes left over.
        extra: usize,
    },
    /// A [`crate::Limits`] bound was hit.
    #[error("parsing rpm header: limit exceeded: {what} is {value} (limit {limit})")]
    LimitExceeded {
        /// Which limit.
        what: &'static str,
        /// Actual value.
        value: u64,
        /// Limit.
        limit: u64,
    },
    /// An index entry has an unknown type code.
    #[error("parsing rpm header: tag {tag} has unknown type {ty}")]
    UnknownType {
        /// Tag number.
        tag: u32,
        /// Type code.
        ty: u32,
    },
    /// An index entry points outside the data store.
    #[error("parsing rpm header: tag {tag} (offset {offset}, count {count}) lies outside the {dl}-byte data store")]
    OutOfBounds {
        /// Tag number.
        tag: u32,
        /// Offset in the data store.
        offset: u32,
        /// Element count.
        count: u32,
        /// Data store length.
        dl: u32,
    },
    /// A tag has a type other than the one its meaning requires.
    #[error("parsing rpm header: tag {tag} has type {ty}, expected {expected}")]
    WrongType {
        /// Tag number.
        tag: u32,
        /// Actual type code.
        ty: u32,
        /// What was expected.
        expected: &'static str,
    },
    /// A string runs off the end of the data store.
    #[error("parsing rpm header: string {index} of tag {tag} is not NUL-terminated")]
    UnterminatedString {
        /// Tag number.
        tag: u32,
        /// Index within the tag's array.
        index: u32,
    },
    /// A required tag is absent.
    #[error("parsing rpm header: required tag {name} ({tag}) is missing")]
    MissingTag {
        /// Tag name.
        name: &'static str,
        /// Tag number.
        tag: u32,
    },
    /// The file list tags disagree with each other.
    #[error("parsing rpm header: inconsistent file list ({0})")]
    BadFileList(String),
}

impl HeaderError {
    pub(crate) fn limit(what: &'static str, value: impl TryInto<u64>, limit: usize) -> Self {
        HeaderError::LimitExceeded {
            what,
            value: value.try_into().unwrap_or(u64::MAX),
            limit: u64::try_from(limit).unwrap_or(u64::MAX),
        }
    }
}
