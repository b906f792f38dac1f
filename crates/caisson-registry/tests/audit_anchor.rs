//! Issue 24 item 4: the hash chain alone verifies after its last records
//! are deleted or after it is rebuilt with recomputed hashes. Signed
//! checkpoints of the head, kept outside the database, show both; forged
//! checkpoints are refused; an untouched chain verifies.

use std::path::Path;

use caisson_audit::{seal, AnchorError, AuditRecord, Outcome};
use caisson_registry::anchor::{self, VerifyError, VerifyOptions};
use caisson_registry::store::sqlite::SqliteMetaStore;
use caisson_registry::{open_embedded, Config};

/// A data directory whose chain has `n` records beyond the bootstrap, all
/// covered by a signed checkpoint.
async fn anchored_registry(dir: &Path, n: usize) {
    let reg = open_embedded(dir, Config::default()).expect("open registry");
    reg.bootstrap_admin(Some("admin-password-1".into()))
        .await
        .expect("bootstrap");
    for i in 0..n {
        reg.audit(
            "user:alice",
            "127.0.0.1:1",
            "pull",
            &format!("team/app:v{i}"),
            Outcome::Success,
            "",
        )
        .await
        .expect("audit");
    }
    let cp = reg
        .checkpoint_audit()
        .await
        .expect("checkpoint")
        .expect("head moved");
    assert_eq!(cp.seq, n as i64 + 1);
    assert!(
        reg.checkpoint_audit().await.expect("checkpoint").is_none(),
        "an unmoved head is not signed again"
    );
}

async fn verify(dir: &Path, expect_head: Option<(i64, String)>) -> Result<u64, VerifyError> {
    let store = SqliteMetaStore::open(&dir.join("meta.sqlite")).expect("open store");
    let key = anchor::load_verifying_key(&dir.join(anchor::KEY_FILE)).expect("key");
    let opts = VerifyOptions {
        checkpoints: Some(dir.join(anchor::CHECKPOINT_FILE)),
        key: Some(key),
        expect_head,
    };
    anchor::verify(&store, &opts).await.map(|v| v.records)
}

fn db(dir: &Path) -> rusqlite::Connection {
    rusqlite::Connection::open(dir.join("meta.sqlite")).expect("open db")
}

fn records(dir: &Path) -> Vec<AuditRecord> {
    let conn = db(dir);
    let mut stmt = conn
        .prepare("SELECT seq, time_ms, actor, source, action, target, outcome, detail, prev_hash, hash FROM audit ORDER BY seq")
        .expect("select");
    let rows = stmt
        .query_map([], |r| {
            Ok(AuditRecord {
                seq: r.get(0)?,
                event: caisson_audit::AuditEvent {
                    time_ms: r.get(1)?,
                    actor: r.get(2)?,
                    source: r.get(3)?,
                    action: r.get(4)?,
                    target: r.get(5)?,
                    outcome: Outcome::parse(&r.get::<_, String>(6)?).expect("outcome"),
                    detail: r.get(7)?,
                },
                prev_hash: r.get(8)?,
                hash: r.get(9)?,
            })
        })
        .expect("query");
    rows.collect::<Result<_, _>>().expect("rows")
}

#[tokio::test]
async fn untouched_chain_verifies_against_its_checkpoints() {
    let dir = tempfile::tempdir().expect("tempdir");
    anchored_registry(dir.path(), 5).await;
    assert_eq!(verify(dir.path(), None).await.expect("intact"), 6);
    let meta = std::fs::metadata(dir.path().join(anchor::KEY_FILE)).expect("key file");
    use std::os::unix::fs::PermissionsExt;
    assert_eq!(
        meta.permissions().mode() & 0o777,
        0o600,
        "audit key is 0600"
    );
}

#[tokio::test]
async fn truncated_chain_is_detected() {
    let dir = tempfile::tempdir().expect("tempdir");
    anchored_registry(dir.path(), 5).await;
    db(dir.path())
        .execute("DELETE FROM audit WHERE seq > 4", [])
        .expect("truncate");
    // The links alone still verify: this is what the issue found.
    caisson_audit::verify(&records(dir.path())).expect("links verify");
    match verify(dir.path(), None).await {
        Err(VerifyError::Anchor(AnchorError::Truncated { records, seq, .. })) => {
            assert_eq!((records, seq), (4, 6));
        }
        other => panic!("truncation not detected: {other:?}"),
    }
}

#[tokio::test]
async fn recomputed_chain_is_detected() {
    let dir = tempfile::tempdir().expect("tempdir");
    anchored_registry(dir.path(), 5).await;
    // Remove record 3 and reseal everything after it (no secret needed),
    // then add one record so the chain is as long as before.
    let old = records(dir.path());
    let mut forged: Vec<AuditRecord> = Vec::new();
    for r in old.iter().filter(|r| r.seq != 3) {
        let s = seal(forged.last(), r.event.clone());
        forged.push(s);
    }
    let extra = seal(forged.last(), old[0].event.clone());
    forged.push(extra);
    caisson_audit::verify(&forged).expect("the forged chain links verify");
    let conn = db(dir.path());
    conn.execute("DELETE FROM audit", []).expect("clear");
    for r in &forged {
        conn.execute(
            "INSERT INTO audit(seq, time_ms, actor, source, action, target, outcome, detail, prev_hash, hash) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)",
            rusqlite::params![r.seq, r.event.time_ms, r.event.actor, r.event.source, r.event.action, r.event.target, r.event.outcome.as_str(), r.event.detail, r.prev_hash, r.hash],
        )
        .expect("insert forged");
    }
    drop(conn);
    match verify(dir.path(), None).await {
        Err(VerifyError::Anchor(AnchorError::Rewritten { seq, .. })) => assert_eq!(seq, 6),
        other => panic!("recomputed chain not detected: {other:?}"),
    }
}

#[tokio::test]
async fn forged_checkpoints_are_refused() {
    let dir = tempfile::tempdir().expect("tempdir");
    anchored_registry(dir.path(), 2).await;
    let path = dir.path().join(anchor::CHECKPOINT_FILE);
    let good = std::fs::read_to_string(&path).expect("checkpoints");
    // An attacker who shortened the chain edits the checkpoint to match.
    let mut cp: caisson_audit::Checkpoint =
        serde_json::from_str(good.lines().last().expect("a checkpoint")).expect("parse");
    cp.seq -= 1;
    std::fs::write(
        &path,
        format!("{}\n", serde_json::to_string(&cp).expect("json")),
    )
    .expect("write");
    assert!(
        matches!(
            verify(dir.path(), None).await,
            Err(VerifyError::Checkpoint { index: 1, .. })
        ),
        "edited checkpoint accepted"
    );
    // Or signs a new one with a key of their own.
    let other = p256::ecdsa::SigningKey::random(&mut rand::rngs::OsRng);
    let forged = caisson_audit::Checkpoint::sign(&other, cp.seq, &cp.hash, cp.time_ms);
    std::fs::write(
        &path,
        format!("{good}{}\n", serde_json::to_string(&forged).expect("json")),
    )
    .expect("write");
    match verify(dir.path(), None).await {
        Err(VerifyError::Checkpoint { index, source, .. }) => {
            assert_eq!(index, good.lines().count() + 1);
            assert!(matches!(
                source,
                caisson_audit::CheckpointError::OtherKey { .. }
            ));
        }
        other => panic!("checkpoint of another key accepted: {other:?}"),
    }
    std::fs::write(&path, format!("{good}not a checkpoint\n")).expect("write");
    assert!(matches!(
        verify(dir.path(), None).await,
        Err(VerifyError::File(anchor::AnchorFileError::Parse { .. }))
    ));
}

#[tokio::test]
async fn expected_head_catches_what_the_checkpoint_file_cannot() {
    let dir = tempfile::tempdir().expect("tempdir");
    anchored_registry(dir.path(), 3).await;
    let head = records(dir.path()).last().expect("records").clone();
    // The operator noted the head; the attacker deletes the last record
    // and the checkpoint file with it.
    std::fs::write(dir.path().join(anchor::CHECKPOINT_FILE), "").expect("empty file");
    db(dir.path())
        .execute("DELETE FROM audit WHERE seq = ?1", [head.seq])
        .expect("truncate");
    assert!(
        verify(dir.path(), None).await.is_ok(),
        "without checkpoints the truncation is invisible"
    );
    match verify(dir.path(), Some((head.seq, head.hash.clone()))).await {
        Err(VerifyError::Anchor(AnchorError::Truncated { origin, .. })) => {
            assert_eq!(origin, "--expect-head");
        }
        other => panic!("--expect-head not enforced: {other:?}"),
    }
}

/// The checkpointer signs at start and again once `checkpoint_every`
/// records were appended, and publishes each checkpoint as an event.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn checkpoints_follow_every_n_records_and_are_published() {
    let dir = tempfile::tempdir().expect("tempdir");
    let config = Config {
        checkpoint_every: 3,
        checkpoint_interval: std::time::Duration::from_secs(3600),
        ..Config::default()
    };
    let reg = std::sync::Arc::new(open_embedded(dir.path(), config).expect("open registry"));
    reg.bootstrap_admin(Some("admin-password-1".into()))
        .await
        .expect("bootstrap");
    let mut events = reg.subscribe();
    reg.start_anchoring(std::time::Duration::from_secs(3600));
    let path = dir.path().join(anchor::CHECKPOINT_FILE);
    let head_of_file = || {
        anchor::read_checkpoints(&path)
            .expect("checkpoints")
            .last()
            .map(|c| c.seq)
    };
    let wait_for = |seq: i64| async move {
        for _ in 0..200 {
            if head_of_file() == Some(seq) {
                return;
            }
            tokio::time::sleep(std::time::Duration::from_millis(25)).await;
        }
        panic!("no checkpoint at {seq}: {:?}", head_of_file());
    };
    wait_for(1).await;
    for i in 0..3 {
        reg.audit(
            "system",
            "",
            "pull",
            &format!("r:{i}"),
            Outcome::Success,
            "",
        )
        .await
        .expect("audit");
    }
    wait_for(4).await;
    // The checkpoint is appended to the file, then published: collect the
    // events until the one for record 4 has arrived (or 5 s passed), then
    // anything already queued after it.
    let mut seen = Vec::new();
    let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(5);
    while !seen.contains(&4) {
        match tokio::time::timeout_at(deadline, events.recv()).await {
            Ok(Ok(caisson_registry::scan::RegistryEvent::AuditCheckpoint(cp))) => seen.push(cp.seq),
            Ok(Ok(_)) => {}
            Ok(Err(e)) => panic!("event stream: {e}"),
            Err(_) => break,
        }
    }
    while let Ok(ev) = events.try_recv() {
        if let caisson_registry::scan::RegistryEvent::AuditCheckpoint(cp) = ev {
            seen.push(cp.seq);
        }
    }
    assert_eq!(seen, vec![1, 4], "each checkpoint is published once");
    assert_eq!(verify(dir.path(), None).await.expect("intact"), 4);
}
