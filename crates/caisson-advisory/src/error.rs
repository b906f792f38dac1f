use std::path::PathBuf;

/// An importer failed on a whole input (a corrupt entry inside a valid input
/// is a warning in [`crate::ImportStats`], not an error).
#[derive(Debug, thiserror::Error)]
pub enum ImportError {
    #[error("reading {format} input: not a valid zip archive")]
    Zip {
        format: &'static str,
        #[source]
        source: zip::result::ZipError,
    },
    #[error("reading {format} input: invalid JSON")]
    Json {
        format: &'static str,
        #[source]
        source: serde_json::Error,
    },
    #[error("reading {format} input: {reason}")]
    Invalid {
        format: &'static str,
        reason: String,
    },
    #[error("reading {format} input: limit exceeded: {what} (limit {limit})")]
    Limit {
        format: &'static str,
        what: String,
        limit: u64,
    },
    #[error("reading {format} input: I/O error")]
    Io {
        format: &'static str,
        #[source]
        source: std::io::Error,
    },
    #[error("storing imported advisories")]
    Sink(#[source] Box<dyn std::error::Error + Send + Sync>),
}

/// Opening or querying the database.
#[derive(Debug, thiserror::Error)]
pub enum DbError {
    #[error("no advisory database at {path}")]
    Missing { path: PathBuf },
    #[error("advisory database {path} has no record {key}")]
    NoRecord { path: PathBuf, key: u64 },
    #[error("advisory database {path} has schema version {found}, this build reads {expected}")]
    Schema {
        path: PathBuf,
        found: i64,
        expected: i64,
    },
    #[error("advisory database {path}: {op}")]
    Sqlite {
        path: PathBuf,
        op: &'static str,
        #[source]
        source: rusqlite::Error,
    },
    #[error("advisory database {path}: corrupt record {id}")]
    Record {
        path: PathBuf,
        id: String,
        #[source]
        source: Box<dyn std::error::Error + Send + Sync>,
    },
    #[error("advisory database directory {path}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("cannot determine the user cache directory (set CAISSON_DB or pass --db)")]
    NoCacheDir,
}

/// `update` or `import_paths` could not even start, or could not write the
/// new database. Per-source failures are reported in the returned report.
#[derive(Debug, thiserror::Error)]
pub enum UpdateError {
    #[error(transparent)]
    Db(#[from] DbError),
    #[error("building the HTTP client")]
    Client(#[source] reqwest::Error),
    #[error("reading the CA bundle {path}: {reason}")]
    CaBundle { path: PathBuf, reason: String },
    #[error("invalid source list: {0}")]
    Config(String),
}
