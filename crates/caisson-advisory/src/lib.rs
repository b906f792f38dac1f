//! Caisson's advisory database.
//!
//! * [`import`]: pure importers, bytes in, OSV-shaped [`Advisory`] records
//!   out (OSV `all.zip` / JSON, Alpine secdb, Debian security tracker JSON,
//!   Red Hat CSAF VEX). They do no I/O, bound everything they read and never
//!   panic on hostile input.
//! * [`Database`]: the SQLite store, opened read-only (and cheaply) by the
//!   matcher through [`caisson_model::AdvisorySource`].
//! * [`import_paths`] and [`update`]: build a new database from local files or
//!   from the live feeds and swap it in atomically; the previous database stays
//!   in use when anything fails.
//!
//! [`Advisory`]: caisson_model::Advisory
#![cfg_attr(
    not(test),
    deny(clippy::indexing_slicing, clippy::unwrap_used, clippy::panic)
)]

mod db;
mod error;
pub mod import;
mod sources;
mod update;

pub use db::{
    ecosystem_key, Database, EcosystemCount, SourceInfo, Status, DB_FILE_NAME, SCHEMA_VERSION,
};
pub use error::{DbError, ImportError, UpdateError};
pub use import::{Format, ImportStats, Imported, Limits};
pub use sources::{default_db_dir, default_sources, resolve_db_dir, Source, DB_ENV_VAR};
pub use update::{
    import_paths, update, ImportReport, Progress, SourceOutcome, UpdateOptions, UpdateReport,
};
