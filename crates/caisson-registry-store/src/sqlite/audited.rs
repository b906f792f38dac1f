//! [`crate::MetaStore::apply_audited`] on SQLite: `BEGIN IMMEDIATE`, the
//! change (its own transactions become savepoints, see [`super::begin`]),
//! the audit record sealed onto the chain, one `COMMIT`. Any failure rolls
//! back the change and the record together.

use caisson_audit::AuditRecord;
use rusqlite::Connection;

use super::{access, backend, content, scan};
use crate::{AuditFor, Change, Changed, Result, StoreError};

pub fn apply(
    c: &mut Connection,
    change: Change,
    audit: AuditFor,
) -> Result<(Changed, Option<AuditRecord>)> {
    let op = change.op();
    c.execute_batch("BEGIN IMMEDIATE")
        .map_err(backend("begin audited change"))?;
    let result = apply_in_transaction(c, op, change, audit);
    if result.is_err() && !c.is_autocommit() {
        if let Err(e) = c.execute_batch("ROLLBACK") {
            tracing::error!("rolling back {op}: {e}");
        }
    }
    result
}

fn apply_in_transaction(
    c: &mut Connection,
    op: &'static str,
    change: Change,
    audit: AuditFor,
) -> Result<(Changed, Option<AuditRecord>)> {
    let audit_failed = |source: StoreError| StoreError::AuditFailed {
        op,
        source: Box::new(source),
    };
    let changed = change_in(c, change)?;
    let record = match audit(&changed) {
        Some(event) => Some(access::append_audit(c, event).map_err(audit_failed)?),
        None => None,
    };
    c.execute_batch("COMMIT")
        .map_err(|e| audit_failed(backend("commit change and audit record")(e)))?;
    Ok((changed, record))
}

fn change_in(c: &mut Connection, change: Change) -> Result<Changed> {
    Ok(match change {
        Change::PutManifest {
            record,
            tag,
            immutable_tags,
        } => Changed::Manifest(content::put_manifest(
            c,
            &record,
            tag.as_deref(),
            immutable_tags,
        )?),
        Change::DeleteManifest {
            repo,
            digest,
            immutable_tags,
        } => Changed::Untagged(content::delete_manifest(
            c,
            &repo,
            &digest.to_string(),
            immutable_tags,
        )?),
        Change::DeleteTag { repo, tag } => Changed::Removed(content::delete_tag(c, &repo, &tag)?),
        Change::LinkBlob { repo, digest, size } => {
            content::link_blob(c, &repo, &digest.to_string(), size)?;
            Changed::Done
        }
        Change::UnlinkBlob { repo, digest } => {
            Changed::Removed(content::unlink_blob(c, &repo, &digest.to_string())?)
        }
        Change::CreateUser(u) => {
            access::create_user(c, &u)?;
            Changed::Done
        }
        Change::UpdateUser(u) => {
            access::update_user(c, &u)?;
            Changed::Done
        }
        Change::DeleteUser(name) => Changed::Removed(access::delete_user(c, &name)?),
        Change::CreateRobot(r) => {
            access::create_robot(c, &r)?;
            Changed::Done
        }
        Change::DeleteRobot(name) => Changed::Removed(access::delete_robot(c, &name)?),
        Change::PutNamespace(ns) => {
            access::put_namespace(c, &ns)?;
            Changed::Done
        }
        Change::HostReport(u) => Changed::HostReport(super::hosts::store(c, *u)?),
        Change::Profile(p) => Changed::Profile(super::profiles::apply(c, *p)?),
        Change::AckAlert { id, ack } => Changed::AlertAck(super::alerts::ack(c, &id, &ack)?),
        Change::CreateNamespace(ns) => Changed::Created(access::create_namespace(c, &ns)?),
        Change::DeleteNamespace(name) => Changed::Removed(access::delete_namespace(c, &name)?),
        Change::SetPullPolicy { namespace, policy } => {
            access::set_pull_policy(c, &namespace, policy.as_ref())?;
            Changed::Done
        }
        Change::SetMembership(m) => {
            access::set_membership(c, &m)?;
            Changed::Done
        }
        Change::RemoveMembership { namespace, user } => {
            Changed::Removed(access::remove_membership(c, &namespace, &user)?)
        }
        Change::SetScanThreshold {
            namespace,
            threshold,
        } => {
            scan::set_threshold(c, &namespace, threshold.as_deref())?;
            Changed::Done
        }
    })
}
