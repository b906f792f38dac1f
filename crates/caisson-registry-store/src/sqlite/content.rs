//! SQL for repositories, blob links, manifests, tags and upload sessions.

use std::collections::HashSet;

use caisson_oci::Digest;
use rusqlite::{params, Connection, OptionalExtension};

use super::{backend, begin, parse_digest};
use crate::{
    now_ms, ManifestRecord, ManifestRef, PutManifestOutcome, RefKind, Result, StoreError,
    UploadRecord,
};

pub fn link_blob(c: &mut Connection, repo: &str, digest: &str, size: u64) -> Result<()> {
    c.execute(
        "INSERT OR IGNORE INTO repo_blobs(repo, digest, size, created_ms) VALUES (?1, ?2, ?3, ?4)",
        params![
            repo,
            digest,
            i64::try_from(size).unwrap_or(i64::MAX),
            now_ms()
        ],
    )
    .map_err(backend("link blob"))?;
    Ok(())
}

pub fn blob_linked(c: &mut Connection, repo: &str, digest: &str) -> Result<bool> {
    c.query_row(
        "SELECT 1 FROM repo_blobs WHERE repo = ?1 AND digest = ?2",
        params![repo, digest],
        |_| Ok(()),
    )
    .optional()
    .map(|o| o.is_some())
    .map_err(backend("check blob link"))
}

pub fn unlink_blob(c: &mut Connection, repo: &str, digest: &str) -> Result<bool> {
    c.execute(
        "DELETE FROM repo_blobs WHERE repo = ?1 AND digest = ?2",
        params![repo, digest],
    )
    .map(|n| n > 0)
    .map_err(backend("unlink blob"))
}

fn kind_str(k: RefKind) -> &'static str {
    match k {
        RefKind::Blob => "blob",
        RefKind::Manifest => "manifest",
    }
}

pub fn put_manifest(
    c: &mut Connection,
    rec: &ManifestRecord,
    tag: Option<&str>,
    immutable_tags: bool,
) -> Result<PutManifestOutcome> {
    let tx = begin(c).map_err(backend("begin manifest transaction"))?;
    let digest = rec.digest.to_string();
    let mut outcome = PutManifestOutcome::default();
    if let Some(tag) = tag {
        let current: Option<String> = tx
            .query_row(
                "SELECT digest FROM tags WHERE repo = ?1 AND tag = ?2",
                params![rec.repo, tag],
                |r| r.get(0),
            )
            .optional()
            .map_err(backend("read tag"))?;
        if let Some(cur) = current {
            if cur != digest {
                let cur = parse_digest(&cur)?;
                if immutable_tags {
                    return Err(StoreError::TagImmutable {
                        repo: rec.repo.clone(),
                        tag: tag.to_string(),
                        current: cur,
                    });
                }
                outcome.previous_tag_target = Some(cur);
            }
        }
    }
    tx.execute(
        "INSERT OR IGNORE INTO manifests(repo, digest, media_type, artifact_type, size, subject,
           annotations, created_ms) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
        params![
            rec.repo,
            digest,
            rec.media_type,
            rec.artifact_type,
            i64::try_from(rec.size).unwrap_or(i64::MAX),
            rec.subject.as_ref().map(|d| d.to_string()),
            rec.annotations_json,
            rec.created_ms
        ],
    )
    .map_err(backend("insert manifest"))?;
    for r in &rec.refs {
        tx.execute(
            "INSERT OR IGNORE INTO manifest_refs(repo, digest, child, kind) VALUES (?1, ?2, ?3, ?4)",
            params![rec.repo, digest, r.digest.to_string(), kind_str(r.kind)],
        )
        .map_err(backend("insert manifest reference"))?;
    }
    if let Some(tag) = tag {
        tx.execute(
            "INSERT INTO tags(repo, tag, digest, updated_ms) VALUES (?1, ?2, ?3, ?4)
             ON CONFLICT(repo, tag) DO UPDATE SET digest = excluded.digest,
               updated_ms = excluded.updated_ms",
            params![rec.repo, tag, digest, now_ms()],
        )
        .map_err(backend("set tag"))?;
    }
    tx.commit().map_err(backend("commit manifest"))?;
    Ok(outcome)
}

fn manifest_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<Row> {
    Ok((
        r.get(0)?,
        r.get(1)?,
        r.get(2)?,
        r.get(3)?,
        r.get(4)?,
        r.get(5)?,
        r.get(6)?,
        r.get(7)?,
    ))
}

type Row = (
    String,
    String,
    String,
    Option<String>,
    i64,
    Option<String>,
    Option<String>,
    i64,
);

fn to_record(c: &Connection, row: Row) -> Result<ManifestRecord> {
    let (repo, digest, media_type, artifact_type, size, subject, annotations_json, created_ms) =
        row;
    let mut stmt = c
        .prepare_cached("SELECT child, kind FROM manifest_refs WHERE repo = ?1 AND digest = ?2")
        .map_err(backend("read manifest references"))?;
    let refs = stmt
        .query_map(params![repo, digest], |r| {
            Ok((r.get::<_, String>(0)?, r.get::<_, String>(1)?))
        })
        .map_err(backend("read manifest references"))?
        .collect::<rusqlite::Result<Vec<_>>>()
        .map_err(backend("read manifest references"))?;
    let refs = refs
        .into_iter()
        .map(|(d, k)| {
            Ok(ManifestRef {
                digest: parse_digest(&d)?,
                kind: if k == "manifest" {
                    RefKind::Manifest
                } else {
                    RefKind::Blob
                },
            })
        })
        .collect::<Result<Vec<_>>>()?;
    Ok(ManifestRecord {
        repo,
        digest: parse_digest(&digest)?,
        media_type,
        artifact_type,
        size: u64::try_from(size).unwrap_or(0),
        subject: subject.as_deref().map(parse_digest).transpose()?,
        annotations_json,
        created_ms,
        refs,
    })
}

const MANIFEST_COLS: &str =
    "repo, digest, media_type, artifact_type, size, subject, annotations, created_ms";

pub fn get_manifest(
    c: &mut Connection,
    repo: &str,
    digest: &str,
) -> Result<Option<ManifestRecord>> {
    let row = c
        .query_row(
            &format!("SELECT {MANIFEST_COLS} FROM manifests WHERE repo = ?1 AND digest = ?2"),
            params![repo, digest],
            manifest_row,
        )
        .optional()
        .map_err(backend("read manifest"))?;
    row.map(|r| to_record(c, r)).transpose()
}

pub fn resolve_tag(c: &mut Connection, repo: &str, tag: &str) -> Result<Option<Digest>> {
    let d: Option<String> = c
        .query_row(
            "SELECT digest FROM tags WHERE repo = ?1 AND tag = ?2",
            params![repo, tag],
            |r| r.get(0),
        )
        .optional()
        .map_err(backend("resolve tag"))?;
    d.as_deref().map(parse_digest).transpose()
}

pub fn delete_manifest(
    c: &mut Connection,
    repo: &str,
    digest: &str,
    immutable_tags: bool,
) -> Result<Option<Vec<String>>> {
    let tx = begin(c).map_err(backend("begin delete"))?;
    if immutable_tags {
        let tag: Option<String> = tx
            .query_row(
                "SELECT tag FROM tags WHERE repo = ?1 AND digest = ?2 ORDER BY tag LIMIT 1",
                params![repo, digest],
                |r| r.get(0),
            )
            .optional()
            .map_err(backend("read tags of manifest"))?;
        if let Some(tag) = tag {
            return Err(StoreError::TagImmutable {
                repo: repo.to_string(),
                tag,
                current: parse_digest(digest)?,
            });
        }
    }
    let n = tx
        .execute(
            "DELETE FROM manifests WHERE repo = ?1 AND digest = ?2",
            params![repo, digest],
        )
        .map_err(backend("delete manifest"))?;
    if n == 0 {
        return Ok(None);
    }
    let tags = {
        let mut stmt = tx
            .prepare("SELECT tag FROM tags WHERE repo = ?1 AND digest = ?2 ORDER BY tag")
            .map_err(backend("list tags of manifest"))?;
        let v = stmt
            .query_map(params![repo, digest], |r| r.get::<_, String>(0))
            .map_err(backend("list tags of manifest"))?
            .collect::<rusqlite::Result<Vec<_>>>()
            .map_err(backend("list tags of manifest"))?;
        v
    };
    tx.execute(
        "DELETE FROM tags WHERE repo = ?1 AND digest = ?2",
        params![repo, digest],
    )
    .map_err(backend("delete tags of manifest"))?;
    tx.execute(
        "DELETE FROM manifest_refs WHERE repo = ?1 AND digest = ?2",
        params![repo, digest],
    )
    .map_err(backend("delete manifest references"))?;
    tx.commit().map_err(backend("commit delete"))?;
    Ok(Some(tags))
}

pub fn delete_tag(c: &mut Connection, repo: &str, tag: &str) -> Result<bool> {
    c.execute(
        "DELETE FROM tags WHERE repo = ?1 AND tag = ?2",
        params![repo, tag],
    )
    .map(|n| n > 0)
    .map_err(backend("delete tag"))
}

fn strings(
    c: &Connection,
    op: &'static str,
    sql: &str,
    p: &[&dyn rusqlite::ToSql],
) -> Result<Vec<String>> {
    let mut stmt = c.prepare_cached(sql).map_err(backend(op))?;
    let v = stmt
        .query_map(p, |r| r.get::<_, String>(0))
        .map_err(backend(op))?
        .collect::<rusqlite::Result<Vec<_>>>()
        .map_err(backend(op))?;
    Ok(v)
}

pub fn list_tags(
    c: &mut Connection,
    repo: &str,
    last: Option<&str>,
    limit: u32,
) -> Result<Vec<String>> {
    strings(
        c,
        "list tags",
        "SELECT tag FROM tags WHERE repo = ?1 AND tag > ?2 ORDER BY tag LIMIT ?3",
        &[&repo, &last.unwrap_or(""), &limit],
    )
}

pub fn repo_exists(c: &mut Connection, repo: &str) -> Result<bool> {
    c.query_row(
        "SELECT 1 WHERE EXISTS (SELECT 1 FROM manifests WHERE repo = ?1)
            OR EXISTS (SELECT 1 FROM repo_blobs WHERE repo = ?1)",
        params![repo],
        |_| Ok(()),
    )
    .optional()
    .map(|o| o.is_some())
    .map_err(backend("check repository"))
}

pub fn list_repos(c: &mut Connection, last: Option<&str>, limit: u32) -> Result<Vec<String>> {
    strings(
        c,
        "list repositories",
        "SELECT DISTINCT repo FROM manifests WHERE repo > ?1 ORDER BY repo LIMIT ?2",
        &[&last.unwrap_or(""), &limit],
    )
}

pub fn referrers(c: &mut Connection, repo: &str, subject: &str) -> Result<Vec<ManifestRecord>> {
    let rows = {
        let mut stmt = c
            .prepare_cached(&format!(
                "SELECT {MANIFEST_COLS} FROM manifests WHERE repo = ?1 AND subject = ?2 ORDER BY digest"
            ))
            .map_err(backend("list referrers"))?;
        let v = stmt
            .query_map(params![repo, subject], manifest_row)
            .map_err(backend("list referrers"))?
            .collect::<rusqlite::Result<Vec<_>>>()
            .map_err(backend("list referrers"))?;
        v
    };
    rows.into_iter().map(|r| to_record(c, r)).collect()
}

pub fn manifest_parents(c: &mut Connection, repo: &str, child: &str) -> Result<Vec<Digest>> {
    let all = strings(
        c,
        "list parent manifests",
        "SELECT digest FROM manifest_refs WHERE repo = ?1 AND child = ?2 AND kind = 'manifest'
         ORDER BY digest",
        &[&repo, &child],
    )?;
    all.iter().map(|s| parse_digest(s)).collect()
}

pub fn referenced_digests(c: &mut Connection) -> Result<HashSet<Digest>> {
    let all = strings(
        c,
        "collect referenced digests",
        "SELECT child FROM manifest_refs UNION SELECT digest FROM manifests",
        &[],
    )?;
    all.iter().map(|s| parse_digest(s)).collect()
}

pub fn forget_blob(c: &mut Connection, digest: &str) -> Result<()> {
    c.execute("DELETE FROM repo_blobs WHERE digest = ?1", params![digest])
        .map_err(backend("forget blob"))?;
    Ok(())
}

pub fn namespace_usage(c: &mut Connection, ns: &str) -> Result<u64> {
    let prefix = format!("{ns}/");
    let total: i64 = c
        .query_row(
            "SELECT COALESCE(SUM(size), 0) FROM (SELECT digest, MAX(size) AS size FROM repo_blobs
               WHERE repo = ?1 OR substr(repo, 1, length(?2)) = ?2 GROUP BY digest)",
            params![ns, prefix],
            |r| r.get(0),
        )
        .map_err(backend("compute namespace usage"))?;
    Ok(u64::try_from(total).unwrap_or(0))
}

pub fn create_upload(c: &mut Connection, u: &UploadRecord) -> Result<()> {
    c.execute(
        "INSERT INTO uploads(id, repo, created_ms) VALUES (?1, ?2, ?3)",
        params![u.id, u.repo, u.created_ms],
    )
    .map_err(backend("create upload"))?;
    Ok(())
}

fn upload_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<UploadRecord> {
    Ok(UploadRecord {
        id: r.get(0)?,
        repo: r.get(1)?,
        created_ms: r.get(2)?,
    })
}

pub fn get_upload(c: &mut Connection, id: &str) -> Result<Option<UploadRecord>> {
    c.query_row(
        "SELECT id, repo, created_ms FROM uploads WHERE id = ?1",
        params![id],
        upload_row,
    )
    .optional()
    .map_err(backend("read upload"))
}

pub fn delete_upload(c: &mut Connection, id: &str) -> Result<bool> {
    c.execute("DELETE FROM uploads WHERE id = ?1", params![id])
        .map(|n| n > 0)
        .map_err(backend("delete upload"))
}

pub fn list_uploads(c: &mut Connection) -> Result<Vec<UploadRecord>> {
    let mut stmt = c
        .prepare("SELECT id, repo, created_ms FROM uploads ORDER BY created_ms")
        .map_err(backend("list uploads"))?;
    let v = stmt
        .query_map([], upload_row)
        .map_err(backend("list uploads"))?
        .collect::<rusqlite::Result<Vec<_>>>()
        .map_err(backend("list uploads"))?;
    Ok(v)
}
