//! The on-disk schema. Bump [`SCHEMA_VERSION`] on any change; readers refuse
//! other versions and `update` then rebuilds from scratch.

/// `PRAGMA user_version` of databases this build writes and reads.
pub const SCHEMA_VERSION: i64 = 3;

/// `PRAGMA application_id`: "CAIS".
pub(crate) const APPLICATION_ID: i64 = 0x4341_4953;

/// The database file inside the database directory.
pub const DB_FILE_NAME: &str = "advisory.db";

pub(crate) const CREATE: &str = r#"
CREATE TABLE meta (
    key   TEXT PRIMARY KEY,
    value TEXT NOT NULL
);
-- One row per feed.
CREATE TABLE sources (
    name            TEXT PRIMARY KEY,
    url             TEXT NOT NULL,
    format          TEXT NOT NULL,
    etag            TEXT,
    last_modified   TEXT,
    sha256          TEXT,
    fetched_at      INTEGER NOT NULL,  -- unix seconds
    record_count    INTEGER NOT NULL,
    withdrawn_count INTEGER NOT NULL,
    warning_count   INTEGER NOT NULL,
    -- Range event versions the ecosystem's rules reject: ordered by OSV's
    -- fallback rules, or by nothing (those ranges cannot be evaluated).
    fallback_versions    INTEGER NOT NULL DEFAULT 0,
    unorderable_versions INTEGER NOT NULL DEFAULT 0
);
-- One row per advisory record: the OSV JSON, zstd-compressed.
CREATE TABLE advisories (
    rowid    INTEGER PRIMARY KEY,
    id       TEXT NOT NULL,
    source   TEXT NOT NULL,
    modified TEXT,
    data     BLOB NOT NULL
);
CREATE INDEX advisories_by_id ON advisories(id);
CREATE INDEX advisories_by_source ON advisories(source);
-- (ecosystem, package) -> advisory; the name is normalize_package_name'd,
-- the ecosystem split by ecosystem_key. `above`: the versions above which
-- the record's entries for this package affect nothing (see
-- caisson_match::bounds), one `E <version>` (ecosystem ordering) or
-- `S <version>` (SemVer) per line; NULL when there is no such bound.
CREATE TABLE affected (
    ecosystem_base    TEXT NOT NULL,
    name              TEXT NOT NULL,
    ecosystem_release TEXT NOT NULL,
    advisory          INTEGER NOT NULL,
    above             TEXT,
    PRIMARY KEY (ecosystem_base, name, ecosystem_release, advisory)
) WITHOUT ROWID;
-- Every id an advisory is known by: its own id, aliases[] and upstream[].
CREATE TABLE aliases (
    alias    TEXT NOT NULL,
    advisory INTEGER NOT NULL,
    PRIMARY KEY (alias, advisory)
) WITHOUT ROWID;
CREATE INDEX aliases_by_advisory ON aliases(advisory, alias);
"#;
