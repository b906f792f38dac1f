//! Concurrent audited requests share commits (group commit) without losing,
//! duplicating or misordering records: every pull is in the log once and
//! the hash chain verifies.

mod common;

use std::sync::Arc;

use caisson_audit::AuditRecord;
use reqwest::Method;

#[test]
fn concurrent_pulls_are_each_audited_once_and_the_chain_verifies() {
    const THREADS: usize = 8;
    const PULLS: usize = 25;
    let s = Arc::new(common::start());
    let (_, digest) = s.push_image("audit/app", "v1", b"layer");
    let handles: Vec<_> = (0..THREADS)
        .map(|t| {
            let s = s.clone();
            std::thread::spawn(move || {
                for i in 0..PULLS {
                    let tag = if i % 2 == 0 {
                        "v1".to_string()
                    } else {
                        format!("v1-{t}")
                    };
                    let r = s
                        .admin(Method::GET, &format!("/v2/audit/app/manifests/{tag}"))
                        .header("accept", "application/vnd.oci.image.manifest.v1+json")
                        .send()
                        .expect("pull");
                    // Unknown tags are 404 and not audited as pulls.
                    assert!(r.status() == 200 || r.status() == 404, "{}", r.status());
                }
            })
        })
        .collect();
    for h in handles {
        h.join().expect("puller");
    }
    let recs: Vec<AuditRecord> = serde_json::from_slice(
        &s.admin(Method::GET, "/api/v1/audit?limit=10000")
            .send()
            .expect("audit")
            .bytes()
            .expect("body"),
    )
    .expect("records");
    let pulls = recs
        .iter()
        .filter(|r| r.event.action == "pull" && r.event.target == "audit/app:v1")
        .count();
    assert_eq!(pulls, THREADS * PULLS.div_ceil(2), "one record per pull");
    assert!(recs
        .iter()
        .filter(|r| r.event.action == "pull")
        .all(|r| r.event.detail == digest));
    let seqs: Vec<i64> = recs.iter().map(|r| r.seq).collect();
    let expected: Vec<i64> = (1..=recs.len() as i64).collect();
    assert_eq!(seqs, expected, "no gap, no duplicate");
    caisson_audit::verify(recs.iter()).expect("hash chain verifies");
}
