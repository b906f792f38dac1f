//! SQL for users, robots, namespaces, memberships and the audit chain.

use caisson_audit::{AuditEvent, AuditRecord, Outcome};
use rusqlite::{params, Connection, OptionalExtension};

use super::{backend, begin};
use crate::{Membership, Namespace, PullPolicy, Result, Robot, RobotScope, Role, StoreError, User};

fn is_unique_violation(e: &rusqlite::Error) -> bool {
    matches!(
        e,
        rusqlite::Error::SqliteFailure(f, _) if f.code == rusqlite::ErrorCode::ConstraintViolation
    )
}

pub fn create_user(c: &mut Connection, u: &User) -> Result<()> {
    c.execute(
        "INSERT INTO users(name, password_hash, system_admin, created_ms) VALUES (?1, ?2, ?3, ?4)",
        params![u.name, u.password_hash, u.system_admin, u.created_ms],
    )
    .map_err(|e| {
        if is_unique_violation(&e) {
            StoreError::Exists {
                what: "user",
                name: u.name.clone(),
            }
        } else {
            backend("create user")(e)
        }
    })?;
    Ok(())
}

fn user_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<User> {
    Ok(User {
        name: r.get(0)?,
        password_hash: r.get(1)?,
        system_admin: r.get(2)?,
        created_ms: r.get(3)?,
    })
}

pub fn get_user(c: &mut Connection, name: &str) -> Result<Option<User>> {
    c.query_row(
        "SELECT name, password_hash, system_admin, created_ms FROM users WHERE name = ?1",
        params![name],
        user_row,
    )
    .optional()
    .map_err(backend("read user"))
}

pub fn list_users(c: &mut Connection) -> Result<Vec<User>> {
    let mut stmt = c
        .prepare("SELECT name, password_hash, system_admin, created_ms FROM users ORDER BY name")
        .map_err(backend("list users"))?;
    let v = stmt
        .query_map([], user_row)
        .map_err(backend("list users"))?
        .collect::<rusqlite::Result<Vec<_>>>()
        .map_err(backend("list users"))?;
    Ok(v)
}

pub fn update_user(c: &mut Connection, u: &User) -> Result<()> {
    let n = c
        .execute(
            "UPDATE users SET password_hash = ?2, system_admin = ?3 WHERE name = ?1",
            params![u.name, u.password_hash, u.system_admin],
        )
        .map_err(backend("update user"))?;
    if n == 0 {
        return Err(StoreError::NotFound {
            what: "user",
            name: u.name.clone(),
        });
    }
    Ok(())
}

pub fn delete_user(c: &mut Connection, name: &str) -> Result<bool> {
    c.execute("DELETE FROM memberships WHERE user = ?1", params![name])
        .map_err(backend("delete user memberships"))?;
    c.execute("DELETE FROM users WHERE name = ?1", params![name])
        .map(|n| n > 0)
        .map_err(backend("delete user"))
}

pub fn create_robot(c: &mut Connection, r: &Robot) -> Result<()> {
    let scopes = serde_json::to_string(&r.scopes).map_err(|e| StoreError::Backend {
        op: "encode robot scopes",
        source: Box::new(e),
    })?;
    c.execute(
        "INSERT INTO robots(name, secret_hash, scopes, expires_ms, created_by, created_ms)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
        params![
            r.name,
            r.secret_hash,
            scopes,
            r.expires_ms,
            r.created_by,
            r.created_ms
        ],
    )
    .map_err(|e| {
        if is_unique_violation(&e) {
            StoreError::Exists {
                what: "robot",
                name: r.name.clone(),
            }
        } else {
            backend("create robot")(e)
        }
    })?;
    Ok(())
}

type RobotRow = (String, String, String, Option<i64>, String, i64);

fn robot_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<RobotRow> {
    Ok((
        r.get(0)?,
        r.get(1)?,
        r.get(2)?,
        r.get(3)?,
        r.get(4)?,
        r.get(5)?,
    ))
}

fn to_robot(row: RobotRow) -> Result<Robot> {
    let (name, secret_hash, scopes, expires_ms, created_by, created_ms) = row;
    let scopes: Vec<RobotScope> = serde_json::from_str(&scopes)
        .map_err(|_| StoreError::Corrupt(format!("robot {name}: scopes are not valid JSON")))?;
    Ok(Robot {
        name,
        secret_hash,
        scopes,
        expires_ms,
        created_by,
        created_ms,
    })
}

const ROBOT_COLS: &str = "name, secret_hash, scopes, expires_ms, created_by, created_ms";

pub fn get_robot(c: &mut Connection, name: &str) -> Result<Option<Robot>> {
    c.query_row(
        &format!("SELECT {ROBOT_COLS} FROM robots WHERE name = ?1"),
        params![name],
        robot_row,
    )
    .optional()
    .map_err(backend("read robot"))?
    .map(to_robot)
    .transpose()
}

pub fn list_robots(c: &mut Connection) -> Result<Vec<Robot>> {
    let mut stmt = c
        .prepare(&format!("SELECT {ROBOT_COLS} FROM robots ORDER BY name"))
        .map_err(backend("list robots"))?;
    let rows = stmt
        .query_map([], robot_row)
        .map_err(backend("list robots"))?
        .collect::<rusqlite::Result<Vec<_>>>()
        .map_err(backend("list robots"))?;
    rows.into_iter().map(to_robot).collect()
}

pub fn delete_robot(c: &mut Connection, name: &str) -> Result<bool> {
    c.execute("DELETE FROM robots WHERE name = ?1", params![name])
        .map(|n| n > 0)
        .map_err(backend("delete robot"))
}

pub fn put_namespace(c: &mut Connection, ns: &Namespace) -> Result<()> {
    c.execute(
        "INSERT INTO namespaces(name, public, immutable_tags, quota_bytes) VALUES (?1, ?2, ?3, ?4)
         ON CONFLICT(name) DO UPDATE SET public = excluded.public,
           immutable_tags = excluded.immutable_tags, quota_bytes = excluded.quota_bytes",
        params![
            ns.name,
            ns.public,
            ns.immutable_tags,
            ns.quota_bytes.map(|q| i64::try_from(q).unwrap_or(i64::MAX))
        ],
    )
    .map_err(backend("store namespace"))?;
    Ok(())
}

/// Inserts `ns` unless a namespace of that name exists; true when inserted.
pub fn create_namespace(c: &mut Connection, ns: &Namespace) -> Result<bool> {
    let n = c
        .execute(
            "INSERT INTO namespaces(name, public, immutable_tags, quota_bytes) VALUES (?1, ?2, ?3, ?4)
             ON CONFLICT(name) DO NOTHING",
            params![
                ns.name,
                ns.public,
                ns.immutable_tags,
                ns.quota_bytes.map(|q| i64::try_from(q).unwrap_or(i64::MAX))
            ],
        )
        .map_err(backend("create namespace"))?;
    Ok(n == 1)
}

fn ns_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<Namespace> {
    Ok(Namespace {
        name: r.get(0)?,
        public: r.get(1)?,
        immutable_tags: r.get(2)?,
        quota_bytes: r
            .get::<_, Option<i64>>(3)?
            .map(|q| u64::try_from(q).unwrap_or(0)),
    })
}

pub fn get_namespace(c: &mut Connection, name: &str) -> Result<Option<Namespace>> {
    c.query_row(
        "SELECT name, public, immutable_tags, quota_bytes FROM namespaces WHERE name = ?1",
        params![name],
        ns_row,
    )
    .optional()
    .map_err(backend("read namespace"))
}

pub fn list_namespaces(c: &mut Connection) -> Result<Vec<Namespace>> {
    let mut stmt = c
        .prepare("SELECT name, public, immutable_tags, quota_bytes FROM namespaces ORDER BY name")
        .map_err(backend("list namespaces"))?;
    let v = stmt
        .query_map([], ns_row)
        .map_err(backend("list namespaces"))?
        .collect::<rusqlite::Result<Vec<_>>>()
        .map_err(backend("list namespaces"))?;
    Ok(v)
}

pub fn delete_namespace(c: &mut Connection, name: &str) -> Result<bool> {
    c.execute(
        "DELETE FROM memberships WHERE namespace = ?1",
        params![name],
    )
    .map_err(backend("delete namespace memberships"))?;
    c.execute(
        "DELETE FROM pull_policies WHERE namespace = ?1",
        params![name],
    )
    .map_err(backend("delete namespace pull policy"))?;
    c.execute("DELETE FROM namespaces WHERE name = ?1", params![name])
        .map(|n| n > 0)
        .map_err(backend("delete namespace"))
}

pub fn pull_policy(c: &mut Connection, ns: &str) -> Result<Option<PullPolicy>> {
    let text: Option<String> = c
        .query_row(
            "SELECT policy FROM pull_policies WHERE namespace = ?1",
            params![ns],
            |r| r.get(0),
        )
        .optional()
        .map_err(backend("read pull policy"))?;
    text.map(|t| {
        serde_json::from_str(&t)
            .map_err(|e| StoreError::Corrupt(format!("pull policy of namespace {ns}: {e}")))
    })
    .transpose()
}

pub fn set_pull_policy(c: &mut Connection, ns: &str, p: Option<&PullPolicy>) -> Result<()> {
    match p {
        Some(p) => {
            let text = serde_json::to_string(p)
                .map_err(|e| StoreError::Corrupt(format!("pull policy of namespace {ns}: {e}")))?;
            c.execute(
                "INSERT INTO pull_policies(namespace, policy) VALUES (?1, ?2)
                 ON CONFLICT(namespace) DO UPDATE SET policy = excluded.policy",
                params![ns, text],
            )
        }
        None => c.execute(
            "DELETE FROM pull_policies WHERE namespace = ?1",
            params![ns],
        ),
    }
    .map_err(backend("store pull policy"))?;
    Ok(())
}

pub fn set_membership(c: &mut Connection, m: &Membership) -> Result<()> {
    c.execute(
        "INSERT INTO memberships(namespace, user, role) VALUES (?1, ?2, ?3)
         ON CONFLICT(namespace, user) DO UPDATE SET role = excluded.role",
        params![m.namespace, m.user, m.role.as_str()],
    )
    .map_err(backend("set membership"))?;
    Ok(())
}

pub fn remove_membership(c: &mut Connection, ns: &str, user: &str) -> Result<bool> {
    c.execute(
        "DELETE FROM memberships WHERE namespace = ?1 AND user = ?2",
        params![ns, user],
    )
    .map(|n| n > 0)
    .map_err(backend("remove membership"))
}

/// `by` is the column to filter on: `user` or `namespace`.
pub fn memberships(c: &mut Connection, by: &'static str, value: &str) -> Result<Vec<Membership>> {
    let sql = if by == "user" {
        "SELECT namespace, user, role FROM memberships WHERE user = ?1 ORDER BY namespace"
    } else {
        "SELECT namespace, user, role FROM memberships WHERE namespace = ?1 ORDER BY user"
    };
    let mut stmt = c.prepare(sql).map_err(backend("list memberships"))?;
    let rows = stmt
        .query_map(params![value], |r| {
            Ok((
                r.get::<_, String>(0)?,
                r.get::<_, String>(1)?,
                r.get::<_, String>(2)?,
            ))
        })
        .map_err(backend("list memberships"))?
        .collect::<rusqlite::Result<Vec<_>>>()
        .map_err(backend("list memberships"))?;
    rows.into_iter()
        .map(|(namespace, user, role)| {
            let role = Role::parse(&role)
                .ok_or_else(|| StoreError::Corrupt(format!("unknown role {role:?}")))?;
            Ok(Membership {
                namespace,
                user,
                role,
            })
        })
        .collect()
}

type AuditRow = (
    i64,
    i64,
    String,
    String,
    String,
    String,
    String,
    String,
    String,
    String,
);

fn audit_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<AuditRow> {
    Ok((
        r.get(0)?,
        r.get(1)?,
        r.get(2)?,
        r.get(3)?,
        r.get(4)?,
        r.get(5)?,
        r.get(6)?,
        r.get(7)?,
        r.get(8)?,
        r.get(9)?,
    ))
}

fn to_audit(row: AuditRow) -> Result<AuditRecord> {
    let (seq, time_ms, actor, source, action, target, outcome, detail, prev_hash, hash) = row;
    // An unknown outcome string is kept verifiable: it fails the hash check
    // rather than aborting the read.
    let outcome = Outcome::parse(&outcome).unwrap_or(Outcome::Failure);
    Ok(AuditRecord {
        seq,
        event: AuditEvent {
            time_ms,
            actor,
            source,
            action,
            target,
            outcome,
            detail,
        },
        prev_hash,
        hash,
    })
}

const AUDIT_COLS: &str =
    "seq, time_ms, actor, source, action, target, outcome, detail, prev_hash, hash";

pub fn append_audit(c: &mut Connection, event: AuditEvent) -> Result<AuditRecord> {
    append_audit_batch(c, vec![event])?
        .pop()
        .ok_or_else(|| StoreError::Corrupt("audit append sealed no record".into()))
}

/// Seals `events` in order onto the chain in one transaction.
pub fn append_audit_batch(c: &mut Connection, events: Vec<AuditEvent>) -> Result<Vec<AuditRecord>> {
    let tx = begin(c).map_err(backend("begin audit append"))?;
    let mut last = tx
        .query_row(
            &format!("SELECT {AUDIT_COLS} FROM audit ORDER BY seq DESC LIMIT 1"),
            [],
            audit_row,
        )
        .optional()
        .map_err(backend("read last audit record"))?
        .map(to_audit)
        .transpose()?;
    let mut out = Vec::with_capacity(events.len());
    for event in events {
        let rec = caisson_audit::seal(last.as_ref(), event);
        tx.execute(
            &format!(
                "INSERT INTO audit({AUDIT_COLS}) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)"
            ),
            params![
                rec.seq,
                rec.event.time_ms,
                rec.event.actor,
                rec.event.source,
                rec.event.action,
                rec.event.target,
                rec.event.outcome.as_str(),
                rec.event.detail,
                rec.prev_hash,
                rec.hash
            ],
        )
        .map_err(backend("insert audit record"))?;
        last = Some(rec.clone());
        out.push(rec);
    }
    tx.commit().map_err(backend("commit audit record"))?;
    Ok(out)
}

pub fn audit_head(c: &mut Connection) -> Result<Option<AuditRecord>> {
    c.query_row(
        &format!("SELECT {AUDIT_COLS} FROM audit ORDER BY seq DESC LIMIT 1"),
        [],
        audit_row,
    )
    .optional()
    .map_err(backend("read last audit record"))?
    .map(to_audit)
    .transpose()
}

pub fn audit_records(c: &mut Connection, after: i64, limit: u32) -> Result<Vec<AuditRecord>> {
    let mut stmt = c
        .prepare_cached(&format!(
            "SELECT {AUDIT_COLS} FROM audit WHERE seq > ?1 ORDER BY seq LIMIT ?2"
        ))
        .map_err(backend("read audit records"))?;
    let rows = stmt
        .query_map(params![after, limit], audit_row)
        .map_err(backend("read audit records"))?
        .collect::<rusqlite::Result<Vec<_>>>()
        .map_err(backend("read audit records"))?;
    rows.into_iter().map(to_audit).collect()
}
