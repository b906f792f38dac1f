//! The SQLite [`MetaStore`]: one database file in WAL mode, one connection
//! behind a mutex, every call on the blocking pool. The trait impl below only
//! delegates; the SQL lives in `content.rs` (repositories, manifests, tags,
//! uploads), `access.rs` (identity, namespaces, audit), `scan.rs` (scan
//! records, packages, lookups, history) and `scan_queue.rs` (the scan queue
//! and retention).

use std::collections::HashSet;
use std::path::Path;
use std::sync::{Arc, Mutex};

use caisson_audit::{AuditEvent, AuditRecord};
use caisson_oci::Digest;
use rusqlite::Connection;

use crate::{
    AuditFor, Change, Changed, ManifestRecord, Membership, MetaStore, Namespace, PullPolicy,
    PutManifestOutcome, Result, Robot, StoreError, UploadRecord, User,
};

mod access;
mod alerts;
mod audited;
mod content;
mod hosts;
mod profiles;
mod scan;
mod scan_impl;
mod scan_queue;

const SCHEMA: &str = r#"
CREATE TABLE IF NOT EXISTS repo_blobs (
  repo TEXT NOT NULL, digest TEXT NOT NULL, size INTEGER NOT NULL, created_ms INTEGER NOT NULL,
  PRIMARY KEY (repo, digest));
CREATE INDEX IF NOT EXISTS repo_blobs_digest ON repo_blobs(digest);
CREATE TABLE IF NOT EXISTS manifests (
  repo TEXT NOT NULL, digest TEXT NOT NULL, media_type TEXT NOT NULL, artifact_type TEXT,
  size INTEGER NOT NULL, subject TEXT, annotations TEXT, created_ms INTEGER NOT NULL,
  PRIMARY KEY (repo, digest));
CREATE INDEX IF NOT EXISTS manifests_subject ON manifests(repo, subject);
CREATE TABLE IF NOT EXISTS manifest_refs (
  repo TEXT NOT NULL, digest TEXT NOT NULL, child TEXT NOT NULL, kind TEXT NOT NULL,
  PRIMARY KEY (repo, digest, child));
CREATE INDEX IF NOT EXISTS manifest_refs_child ON manifest_refs(child);
CREATE TABLE IF NOT EXISTS tags (
  repo TEXT NOT NULL, tag TEXT NOT NULL, digest TEXT NOT NULL, updated_ms INTEGER NOT NULL,
  PRIMARY KEY (repo, tag));
CREATE TABLE IF NOT EXISTS uploads (
  id TEXT PRIMARY KEY, repo TEXT NOT NULL, created_ms INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS users (
  name TEXT PRIMARY KEY, password_hash TEXT NOT NULL, system_admin INTEGER NOT NULL,
  created_ms INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS robots (
  name TEXT PRIMARY KEY, secret_hash TEXT NOT NULL, scopes TEXT NOT NULL, expires_ms INTEGER,
  created_by TEXT NOT NULL, created_ms INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS namespaces (
  name TEXT PRIMARY KEY, public INTEGER NOT NULL, immutable_tags INTEGER NOT NULL,
  quota_bytes INTEGER);
CREATE TABLE IF NOT EXISTS pull_policies (
  namespace TEXT PRIMARY KEY, policy TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS memberships (
  namespace TEXT NOT NULL, user TEXT NOT NULL, role TEXT NOT NULL,
  PRIMARY KEY (namespace, user));
CREATE TABLE IF NOT EXISTS audit (
  seq INTEGER PRIMARY KEY, time_ms INTEGER NOT NULL, actor TEXT NOT NULL, source TEXT NOT NULL,
  action TEXT NOT NULL, target TEXT NOT NULL, outcome TEXT NOT NULL, detail TEXT NOT NULL,
  prev_hash TEXT NOT NULL, hash TEXT NOT NULL);
"#;

#[derive(Clone)]
pub struct SqliteMetaStore {
    conn: Arc<Mutex<Connection>>,
}

pub(crate) fn backend(op: &'static str) -> impl FnOnce(rusqlite::Error) -> StoreError {
    move |e| StoreError::Backend {
        op,
        source: Box::new(e),
    }
}

/// A transaction, or a savepoint when the connection is already inside one
/// (an audited change, [`audited::apply`]): functions that need atomicity
/// take one and stay composable.
pub(crate) enum Tx<'c> {
    Top(rusqlite::Transaction<'c>),
    Nested(rusqlite::Savepoint<'c>),
}

impl std::ops::Deref for Tx<'_> {
    type Target = Connection;
    fn deref(&self) -> &Connection {
        match self {
            Tx::Top(t) => t,
            Tx::Nested(s) => s,
        }
    }
}

impl Tx<'_> {
    pub(crate) fn commit(self) -> rusqlite::Result<()> {
        match self {
            Tx::Top(t) => t.commit(),
            Tx::Nested(s) => s.commit(),
        }
    }
}

/// `BEGIN IMMEDIATE`, or a savepoint inside an open transaction.
pub(crate) fn begin(c: &mut Connection) -> rusqlite::Result<Tx<'_>> {
    if c.is_autocommit() {
        c.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)
            .map(Tx::Top)
    } else {
        c.savepoint().map(Tx::Nested)
    }
}

pub(crate) fn parse_digest(s: &str) -> Result<Digest> {
    s.parse()
        .map_err(|_| StoreError::Corrupt(format!("stored digest {s:?} is invalid")))
}

impl SqliteMetaStore {
    /// Opens (creating and migrating) the database at `path`.
    pub fn open(path: &Path) -> Result<Self> {
        let conn = Connection::open(path).map_err(backend("open metadata database"))?;
        conn.execute_batch(
            "PRAGMA journal_mode=WAL; PRAGMA synchronous=FULL; PRAGMA foreign_keys=ON;
             PRAGMA busy_timeout=5000;",
        )
        .map_err(backend("configure metadata database"))?;
        conn.execute_batch(SCHEMA)
            .map_err(backend("create metadata schema"))?;
        conn.execute_batch(scan::SCHEMA)
            .map_err(backend("create scanning schema"))?;
        conn.execute_batch(hosts::SCHEMA)
            .map_err(backend("create hosts schema"))?;
        conn.execute_batch(profiles::SCHEMA)
            .map_err(backend("create profiles schema"))?;
        conn.execute_batch(alerts::SCHEMA)
            .map_err(backend("create alerts schema"))?;
        Ok(SqliteMetaStore {
            conn: Arc::new(Mutex::new(conn)),
        })
    }

    async fn run<T, F>(&self, op: &'static str, f: F) -> Result<T>
    where
        T: Send + 'static,
        F: FnOnce(&mut Connection) -> Result<T> + Send + 'static,
    {
        let conn = self.conn.clone();
        tokio::task::spawn_blocking(move || {
            let mut guard = conn.lock().map_err(|_| StoreError::Backend {
                op,
                source: "metadata connection mutex poisoned".into(),
            })?;
            // A call that panicked inside an audited change left it open.
            if !guard.is_autocommit() {
                guard
                    .execute_batch("ROLLBACK")
                    .map_err(backend("roll back an interrupted transaction"))?;
            }
            f(&mut guard)
        })
        .await
        .map_err(|e| StoreError::Backend {
            op,
            source: Box::new(e),
        })?
    }
}

impl MetaStore for SqliteMetaStore {
    async fn link_blob(&self, repo: &str, digest: &Digest, size: u64) -> Result<()> {
        let (r, d) = (repo.to_string(), digest.to_string());
        self.run("link blob", move |c| content::link_blob(c, &r, &d, size))
            .await
    }
    async fn blob_linked(&self, repo: &str, digest: &Digest) -> Result<bool> {
        let (r, d) = (repo.to_string(), digest.to_string());
        self.run("check blob link", move |c| content::blob_linked(c, &r, &d))
            .await
    }
    async fn unlink_blob(&self, repo: &str, digest: &Digest) -> Result<bool> {
        let (r, d) = (repo.to_string(), digest.to_string());
        self.run("unlink blob", move |c| content::unlink_blob(c, &r, &d))
            .await
    }
    async fn put_manifest(
        &self,
        record: ManifestRecord,
        tag: Option<String>,
        immutable_tags: bool,
    ) -> Result<PutManifestOutcome> {
        self.run("store manifest", move |c| {
            content::put_manifest(c, &record, tag.as_deref(), immutable_tags)
        })
        .await
    }
    async fn get_manifest(&self, repo: &str, digest: &Digest) -> Result<Option<ManifestRecord>> {
        let (r, d) = (repo.to_string(), digest.to_string());
        self.run("read manifest", move |c| content::get_manifest(c, &r, &d))
            .await
    }
    async fn resolve_tag(&self, repo: &str, tag: &str) -> Result<Option<Digest>> {
        let (r, t) = (repo.to_string(), tag.to_string());
        self.run("resolve tag", move |c| content::resolve_tag(c, &r, &t))
            .await
    }
    async fn delete_manifest(
        &self,
        repo: &str,
        digest: &Digest,
        immutable_tags: bool,
    ) -> Result<Option<Vec<String>>> {
        let (r, d) = (repo.to_string(), digest.to_string());
        self.run("delete manifest", move |c| {
            content::delete_manifest(c, &r, &d, immutable_tags)
        })
        .await
    }
    async fn delete_tag(&self, repo: &str, tag: &str) -> Result<bool> {
        let (r, t) = (repo.to_string(), tag.to_string());
        self.run("delete tag", move |c| content::delete_tag(c, &r, &t))
            .await
    }
    async fn list_tags(&self, repo: &str, last: Option<String>, limit: u32) -> Result<Vec<String>> {
        let r = repo.to_string();
        self.run("list tags", move |c| {
            content::list_tags(c, &r, last.as_deref(), limit)
        })
        .await
    }
    async fn repo_exists(&self, repo: &str) -> Result<bool> {
        let r = repo.to_string();
        self.run("check repository", move |c| content::repo_exists(c, &r))
            .await
    }
    async fn list_repos(&self, last: Option<String>, limit: u32) -> Result<Vec<String>> {
        self.run("list repositories", move |c| {
            content::list_repos(c, last.as_deref(), limit)
        })
        .await
    }
    async fn referrers(&self, repo: &str, subject: &Digest) -> Result<Vec<ManifestRecord>> {
        let (r, d) = (repo.to_string(), subject.to_string());
        self.run("list referrers", move |c| content::referrers(c, &r, &d))
            .await
    }
    async fn manifest_parents(&self, repo: &str, child: &Digest) -> Result<Vec<Digest>> {
        let (r, d) = (repo.to_string(), child.to_string());
        self.run("list parent manifests", move |c| {
            content::manifest_parents(c, &r, &d)
        })
        .await
    }
    async fn referenced_digests(&self) -> Result<HashSet<Digest>> {
        self.run("collect referenced digests", content::referenced_digests)
            .await
    }
    async fn forget_blob(&self, digest: &Digest) -> Result<()> {
        let d = digest.to_string();
        self.run("forget blob", move |c| content::forget_blob(c, &d))
            .await
    }
    async fn namespace_usage(&self, namespace: &str) -> Result<u64> {
        let n = namespace.to_string();
        self.run("compute namespace usage", move |c| {
            content::namespace_usage(c, &n)
        })
        .await
    }
    async fn create_upload(&self, upload: UploadRecord) -> Result<()> {
        self.run("create upload", move |c| content::create_upload(c, &upload))
            .await
    }
    async fn get_upload(&self, id: &str) -> Result<Option<UploadRecord>> {
        let i = id.to_string();
        self.run("read upload", move |c| content::get_upload(c, &i))
            .await
    }
    async fn delete_upload(&self, id: &str) -> Result<bool> {
        let i = id.to_string();
        self.run("delete upload", move |c| content::delete_upload(c, &i))
            .await
    }
    async fn list_uploads(&self) -> Result<Vec<UploadRecord>> {
        self.run("list uploads", content::list_uploads).await
    }

    async fn create_user(&self, user: User) -> Result<()> {
        self.run("create user", move |c| access::create_user(c, &user))
            .await
    }
    async fn get_user(&self, name: &str) -> Result<Option<User>> {
        let n = name.to_string();
        self.run("read user", move |c| access::get_user(c, &n))
            .await
    }
    async fn list_users(&self) -> Result<Vec<User>> {
        self.run("list users", access::list_users).await
    }
    async fn update_user(&self, user: User) -> Result<()> {
        self.run("update user", move |c| access::update_user(c, &user))
            .await
    }
    async fn delete_user(&self, name: &str) -> Result<bool> {
        let n = name.to_string();
        self.run("delete user", move |c| access::delete_user(c, &n))
            .await
    }
    async fn create_robot(&self, robot: Robot) -> Result<()> {
        self.run("create robot", move |c| access::create_robot(c, &robot))
            .await
    }
    async fn get_robot(&self, name: &str) -> Result<Option<Robot>> {
        let n = name.to_string();
        self.run("read robot", move |c| access::get_robot(c, &n))
            .await
    }
    async fn list_robots(&self) -> Result<Vec<Robot>> {
        self.run("list robots", access::list_robots).await
    }
    async fn delete_robot(&self, name: &str) -> Result<bool> {
        let n = name.to_string();
        self.run("delete robot", move |c| access::delete_robot(c, &n))
            .await
    }
    async fn put_namespace(&self, ns: Namespace) -> Result<()> {
        self.run("store namespace", move |c| access::put_namespace(c, &ns))
            .await
    }
    async fn get_namespace(&self, name: &str) -> Result<Option<Namespace>> {
        let n = name.to_string();
        self.run("read namespace", move |c| access::get_namespace(c, &n))
            .await
    }
    async fn list_namespaces(&self) -> Result<Vec<Namespace>> {
        self.run("list namespaces", access::list_namespaces).await
    }
    async fn delete_namespace(&self, name: &str) -> Result<bool> {
        let n = name.to_string();
        self.run("delete namespace", move |c| access::delete_namespace(c, &n))
            .await
    }
    async fn pull_policy(&self, namespace: &str) -> Result<Option<PullPolicy>> {
        let n = namespace.to_string();
        self.run("read pull policy", move |c| access::pull_policy(c, &n))
            .await
    }
    async fn set_pull_policy(&self, namespace: &str, policy: Option<PullPolicy>) -> Result<()> {
        let n = namespace.to_string();
        self.run("store pull policy", move |c| {
            access::set_pull_policy(c, &n, policy.as_ref())
        })
        .await
    }
    async fn set_membership(&self, m: Membership) -> Result<()> {
        self.run("set membership", move |c| access::set_membership(c, &m))
            .await
    }
    async fn remove_membership(&self, namespace: &str, user: &str) -> Result<bool> {
        let (n, u) = (namespace.to_string(), user.to_string());
        self.run("remove membership", move |c| {
            access::remove_membership(c, &n, &u)
        })
        .await
    }
    async fn memberships_of_user(&self, user: &str) -> Result<Vec<Membership>> {
        let u = user.to_string();
        self.run("list memberships", move |c| {
            access::memberships(c, "user", &u)
        })
        .await
    }
    async fn memberships_of_namespace(&self, namespace: &str) -> Result<Vec<Membership>> {
        let n = namespace.to_string();
        self.run("list memberships", move |c| {
            access::memberships(c, "namespace", &n)
        })
        .await
    }
    async fn append_audit(&self, event: AuditEvent) -> Result<AuditRecord> {
        self.run("append audit record", move |c| {
            access::append_audit(c, event)
        })
        .await
    }
    async fn append_audit_batch(&self, events: Vec<AuditEvent>) -> Result<Vec<AuditRecord>> {
        self.run("append audit records", move |c| {
            access::append_audit_batch(c, events)
        })
        .await
    }
    async fn audit_records(&self, after: i64, limit: u32) -> Result<Vec<AuditRecord>> {
        self.run("read audit records", move |c| {
            access::audit_records(c, after, limit)
        })
        .await
    }
    async fn audit_head(&self) -> Result<Option<AuditRecord>> {
        self.run("read the audit chain head", access::audit_head)
            .await
    }
    async fn apply_audited(
        &self,
        change: Change,
        audit: AuditFor,
    ) -> Result<(Changed, Option<AuditRecord>)> {
        self.run(change.op(), move |c| audited::apply(c, change, audit))
            .await
    }
}
