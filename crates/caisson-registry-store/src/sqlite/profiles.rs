//! The profiles schema and the [`ProfileStore`] impl of the SQLite store.
//! A version row is a full snapshot (mode and executables as JSON), so any
//! version reads back in one query.

use std::collections::BTreeSet;

use rusqlite::{params, Connection, OptionalExtension};

use super::backend;
use crate::profiles::*;
use crate::{Result, StoreError};

/// Tables added by the profiles schema migration (idempotent).
pub const SCHEMA: &str = r#"
CREATE TABLE IF NOT EXISTS profiles (
  key TEXT PRIMARY KEY, repository TEXT, reference TEXT NOT NULL, mode TEXT NOT NULL,
  version INTEGER NOT NULL, executables INTEGER NOT NULL, created_ms INTEGER NOT NULL,
  updated_ms INTEGER NOT NULL, learning_until_ms INTEGER);
CREATE INDEX IF NOT EXISTS profiles_repository ON profiles(repository, created_ms);
CREATE TABLE IF NOT EXISTS profile_versions (
  key TEXT NOT NULL, version INTEGER NOT NULL, time_ms INTEGER NOT NULL, actor TEXT NOT NULL,
  reason TEXT NOT NULL, mode TEXT NOT NULL, count INTEGER NOT NULL, executables TEXT NOT NULL,
  PRIMARY KEY (key, version));
"#;

fn to_i64(v: u64) -> i64 {
    i64::try_from(v).unwrap_or(i64::MAX)
}

fn to_u64(v: i64) -> u64 {
    u64::try_from(v).unwrap_or(0)
}

const SUMMARY_COLUMNS: &str = "key, repository, reference, mode, version, executables, created_ms,
  updated_ms, learning_until_ms";

fn summary_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<ProfileSummary> {
    Ok(ProfileSummary {
        key: r.get(0)?,
        repository: r.get(1)?,
        reference: r.get(2)?,
        mode: r.get(3)?,
        version: to_u64(r.get(4)?),
        executables: to_u64(r.get(5)?),
        created_ms: r.get(6)?,
        updated_ms: r.get(7)?,
        learning_until_ms: r.get(8)?,
    })
}

fn summary(c: &Connection, key: &str) -> Result<Option<ProfileSummary>> {
    c.query_row(
        &format!("SELECT {SUMMARY_COLUMNS} FROM profiles WHERE key = ?1"),
        params![key],
        summary_row,
    )
    .optional()
    .map_err(backend("read profile"))
}

fn executables_of(c: &Connection, key: &str, version: u64) -> Result<Vec<ProfileExecutable>> {
    let text: Option<String> = c
        .query_row(
            "SELECT executables FROM profile_versions WHERE key = ?1 AND version = ?2",
            params![key, to_i64(version)],
            |r| r.get(0),
        )
        .optional()
        .map_err(backend("read profile version"))?;
    match text {
        None => Ok(Vec::new()),
        Some(t) => serde_json::from_str(&t).map_err(|e| {
            StoreError::Corrupt(format!(
                "stored executables of profile {key} version {version}: {e}"
            ))
        }),
    }
}

/// Writes a new version and moves the profile to it.
#[allow(clippy::too_many_arguments)]
fn write_version(
    c: &Connection,
    key: &str,
    version: u64,
    ch: &ProfileChange,
    reason: &str,
    mode: &str,
    executables: &[ProfileExecutable],
) -> Result<()> {
    let json = serde_json::to_string(executables)
        .map_err(|e| StoreError::Corrupt(format!("encoding executables of {key}: {e}")))?;
    let count = to_i64(executables.len() as u64);
    c.execute(
        "INSERT INTO profile_versions (key, version, time_ms, actor, reason, mode, count, executables)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
        params![key, to_i64(version), ch.time_ms, ch.actor, reason, mode, count, json],
    )
    .map_err(backend("store profile version"))?;
    c.execute(
        "UPDATE profiles SET mode = ?2, version = ?3, executables = ?4, updated_ms = ?5
         WHERE key = ?1",
        params![key, mode, to_i64(version), count, ch.time_ms],
    )
    .map_err(backend("update profile"))?;
    Ok(())
}

fn with_note(reason: String, note: &Option<String>) -> String {
    match note {
        Some(n) if !n.is_empty() => format!("{reason}: {n}"),
        _ => reason,
    }
}

/// Merges `new` into `old`; the number added, or `None` past the cap.
fn merge(old: &mut Vec<ProfileExecutable>, new: Vec<ProfileExecutable>) -> Option<u64> {
    let mut set: BTreeSet<ProfileExecutable> = old.drain(..).collect();
    let before = set.len();
    set.extend(new);
    if set.len() as u64 > MAX_PROFILE_EXECUTABLES {
        return None;
    }
    let added = (set.len() - before) as u64;
    old.extend(set);
    Some(added)
}

pub(super) fn apply(c: &mut Connection, ch: ProfileChange) -> Result<ProfileOutcome> {
    let tx = super::begin(c).map_err(backend("begin profile change"))?;
    let key = ch.update.key().to_string();
    let current = summary(&tx, &key)?;
    let outcome = match (&ch.update, current) {
        (
            ProfileUpdate::Create {
                repository,
                reference,
                learning_until_ms,
                ..
            },
            None,
        ) => {
            let parent: Option<(String, u64)> = match repository {
                Some(repo) => tx
                    .query_row(
                        "SELECT key, version FROM profiles WHERE repository = ?1 AND key != ?2
                         ORDER BY created_ms DESC, key DESC LIMIT 1",
                        params![repo, key],
                        |r| Ok((r.get(0)?, to_u64(r.get(1)?))),
                    )
                    .optional()
                    .map_err(backend("find the repository's newest profile"))?,
                None => None,
            };
            let (mode, reason, executables, until) = match &parent {
                Some((pk, pv)) => (
                    "monitor",
                    format!("inherited from {pk}"),
                    executables_of(&tx, pk, *pv)?,
                    None,
                ),
                None => (
                    "discover",
                    "new image: discover".to_string(),
                    Vec::new(),
                    *learning_until_ms,
                ),
            };
            tx.execute(
                "INSERT INTO profiles (key, repository, reference, mode, version, executables,
                   created_ms, updated_ms, learning_until_ms)
                 VALUES (?1, ?2, ?3, ?4, 0, 0, ?5, ?5, ?6)",
                params![key, repository, reference, mode, ch.time_ms, until],
            )
            .map_err(backend("create profile"))?;
            let reason = with_note(reason, &ch.note);
            write_version(&tx, &key, 1, &ch, &reason, mode, &executables)?;
            ProfileOutcome::Created {
                mode: mode.to_string(),
                inherited_from: parent.map(|p| p.0),
                executables: executables.len() as u64,
            }
        }
        (ProfileUpdate::Create { .. }, Some(cur)) => ProfileOutcome::Unchanged {
            version: cur.version,
        },
        (_, None) => ProfileOutcome::Missing,
        // What a sensor learned only counts while the profile is in
        // discover: an upload racing a switch to monitor or protect must not
        // widen the allowlist.
        (ProfileUpdate::Learned { .. }, Some(cur)) if cur.mode != "discover" => {
            ProfileOutcome::Unchanged {
                version: cur.version,
            }
        }
        (ProfileUpdate::Learned { executables, .. }, Some(cur))
        | (ProfileUpdate::Allow { executables, .. }, Some(cur)) => {
            let mut list = executables_of(&tx, &key, cur.version)?;
            match merge(&mut list, executables.clone()) {
                None => ProfileOutcome::Full {
                    limit: MAX_PROFILE_EXECUTABLES,
                },
                Some(0) => ProfileOutcome::Unchanged {
                    version: cur.version,
                },
                Some(added) => {
                    let reason = match &ch.update {
                        ProfileUpdate::Learned { .. } => format!("learned upload: {added} new"),
                        _ => format!("manual allow: {added} new"),
                    };
                    let reason = with_note(reason, &ch.note);
                    let v = cur.version + 1;
                    write_version(&tx, &key, v, &ch, &reason, &cur.mode, &list)?;
                    if let Some(r) = reference_of(&ch.update) {
                        if cur.reference.is_empty() && !r.is_empty() {
                            tx.execute(
                                "UPDATE profiles SET reference = ?2 WHERE key = ?1",
                                params![key, r],
                            )
                            .map_err(backend("update profile reference"))?;
                        }
                    }
                    ProfileOutcome::Changed {
                        version: v,
                        reason,
                        added,
                    }
                }
            }
        }
        (
            ProfileUpdate::SetMode {
                mode,
                learning_until_ms,
                ..
            },
            Some(cur),
        ) => {
            if *mode == cur.mode && *learning_until_ms == cur.learning_until_ms {
                ProfileOutcome::Unchanged {
                    version: cur.version,
                }
            } else {
                let list = executables_of(&tx, &key, cur.version)?;
                let reason = with_note(format!("mode {} -> {mode}", cur.mode), &ch.note);
                let v = cur.version + 1;
                write_version(&tx, &key, v, &ch, &reason, mode, &list)?;
                tx.execute(
                    "UPDATE profiles SET learning_until_ms = ?2 WHERE key = ?1",
                    params![key, learning_until_ms],
                )
                .map_err(backend("update profile learning window"))?;
                ProfileOutcome::Changed {
                    version: v,
                    reason,
                    added: 0,
                }
            }
        }
        (ProfileUpdate::EndLearning { now_ms, .. }, Some(cur)) => {
            let over =
                cur.mode == "discover" && cur.learning_until_ms.is_some_and(|t| t <= *now_ms);
            if !over {
                ProfileOutcome::Unchanged {
                    version: cur.version,
                }
            } else {
                let list = executables_of(&tx, &key, cur.version)?;
                let reason = "learning window over: mode discover -> monitor".to_string();
                let v = cur.version + 1;
                write_version(&tx, &key, v, &ch, &reason, "monitor", &list)?;
                tx.execute(
                    "UPDATE profiles SET learning_until_ms = NULL WHERE key = ?1",
                    params![key],
                )
                .map_err(backend("update profile learning window"))?;
                ProfileOutcome::Changed {
                    version: v,
                    reason,
                    added: 0,
                }
            }
        }
    };
    tx.commit().map_err(backend("commit profile change"))?;
    Ok(outcome)
}

fn reference_of(u: &ProfileUpdate) -> Option<&str> {
    match u {
        ProfileUpdate::Learned { reference, .. } => Some(reference),
        _ => None,
    }
}

pub(super) fn list(c: &mut Connection) -> Result<Vec<ProfileSummary>> {
    let mut st = c
        .prepare(&format!(
            "SELECT {SUMMARY_COLUMNS} FROM profiles ORDER BY key"
        ))
        .map_err(backend("list profiles"))?;
    let rows = st
        .query_map([], summary_row)
        .map_err(backend("list profiles"))?
        .collect::<rusqlite::Result<Vec<_>>>()
        .map_err(backend("list profiles"))?;
    Ok(rows)
}

fn version_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<ProfileVersion> {
    Ok(ProfileVersion {
        version: to_u64(r.get(0)?),
        time_ms: r.get(1)?,
        actor: r.get(2)?,
        reason: r.get(3)?,
        mode: r.get(4)?,
        executables: to_u64(r.get(5)?),
    })
}

pub(super) fn one(
    c: &mut Connection,
    key: &str,
    version: Option<u64>,
) -> Result<Option<StoredProfile>> {
    let Some(current) = summary(c, key)? else {
        return Ok(None);
    };
    let v = version.unwrap_or(current.version);
    let at = c
        .query_row(
            "SELECT version, time_ms, actor, reason, mode, count FROM profile_versions
             WHERE key = ?1 AND version = ?2",
            params![key, to_i64(v)],
            version_row,
        )
        .optional()
        .map_err(backend("read profile version"))?;
    let Some(at) = at else { return Ok(None) };
    let executables = executables_of(c, key, v)?;
    Ok(Some(StoredProfile {
        current,
        at,
        executables,
    }))
}

pub(super) fn versions(c: &mut Connection, key: &str) -> Result<Vec<ProfileVersion>> {
    let mut st = c
        .prepare(
            "SELECT version, time_ms, actor, reason, mode, count FROM profile_versions
             WHERE key = ?1 ORDER BY version DESC",
        )
        .map_err(backend("list profile versions"))?;
    let rows = st
        .query_map(params![key], version_row)
        .map_err(backend("list profile versions"))?
        .collect::<rusqlite::Result<Vec<_>>>()
        .map_err(backend("list profile versions"))?;
    Ok(rows)
}

impl ProfileStore for super::SqliteMetaStore {
    async fn list_profiles(&self) -> Result<Vec<ProfileSummary>> {
        self.run("list profiles", list).await
    }
    async fn profile_summary(&self, key: &str) -> Result<Option<ProfileSummary>> {
        let k = key.to_string();
        self.run("read profile", move |c| summary(c, &k)).await
    }
    async fn profile(&self, key: &str, version: Option<u64>) -> Result<Option<StoredProfile>> {
        let k = key.to_string();
        self.run("read profile", move |c| one(c, &k, version)).await
    }
    async fn profile_versions(&self, key: &str) -> Result<Vec<ProfileVersion>> {
        let k = key.to_string();
        self.run("list profile versions", move |c| versions(c, &k))
            .await
    }
}
