//! The on-disk schema. Bump [`SCHEMA_VERSION`] on any change; readers refuse
//! other versions and `update` then rebuilds from scratch.

/// `PRAGMA user_version` of databases this build writes and reads.
pub const SCHEMA_VERSION: i64 = 1;

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
    warning_count   INTEGER NOT NULL
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
-- the ecosystem split by ecosystem_key.
CREATE TABLE affected (
    ecosystem_base    TEXT NOT NULL,
    ecosystem_release TEXT NOT NULL,
    name              TEXT NOT NULL,
    advisory          INTEGER NOT NULL,
    PRIMARY KEY (ecosystem_base, ecosystem_release, name, advisory)
) WITHOUT ROWID;
CREATE INDEX affected_by_base_name ON affected(ecosystem_base, name);
-- Every id an advisory is known by: its own id, aliases[] and upstream[].
CREATE TABLE aliases (
    alias    TEXT NOT NULL,
    advisory INTEGER NOT NULL,
    PRIMARY KEY (alias, advisory)
) WITHOUT ROWID;
CREATE INDEX aliases_by_advisory ON aliases(advisory, alias);
"#;
